// Day 2 on the nodes, on the lab: a planned node joins when it becomes
// active; `bramble node remove` takes a node out (plan first, quorum kept);
// `bramble node replace` puts a new board in a dead server's place. The k3s
// stand-in keeps etcd's member list, refuses joins without quorum and a new
// board under a registered name, as k3s does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brambleAsync, tempDir } from './helpers.ts';
import { labInventory, startLab } from './lab-helpers.ts';

const lab = await startLab([
  { name: 's1', board: 'rk1' },
  { name: 's2', board: 'rk1' },
  { name: 's3', board: 'rk1' },
  { name: 'a1', board: 'x86' },
  { name: 'p1', board: 'x86' },
]);
const url = await lab.serveInstallScript();
const work = tempDir();
const knownHosts = join(work, 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts());

function inventory(name: string, planned: boolean): string {
  const text = labInventory(lab, [
    {
      name: 'ha',
      nodes: [
        { node: 's1', role: 'server' },
        { node: 's2', role: 'server' },
        { node: 's3', role: 'server' },
        { node: 'a1', role: 'agent' },
        { node: 'p1', role: 'agent', planned },
      ],
    },
  ]);
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, text.replace('    version: v1.35.6+k3s1', `    version: v1.35.6+k3s1\n    installScriptUrl: ${url}`));
  return f;
}
const PLANNED = inventory('planned', true);
const ACTIVE = inventory('active', false);

function bramble(args: string[], extra: string[] = []) {
  return brambleAsync([...args, '--known-hosts', knownHosts, ...extra], {}, 180_000);
}

/** The API's node list as the lab's k3s keeps it: name -> [role, state, cordoned]. */
function api(): Record<string, string> {
  const dir = join(lab.root, 'cluster');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { name: string; role: string; state: string; unschedulable?: boolean; etcd?: boolean })
      .map((e) => [e.name, `${e.role}${e.etcd ? '+etcd' : ''} ${e.state}${e.unschedulable ? ' cordoned' : ''}`]),
  );
}

test('a planned node stays out; marked active, it joins on the next run and the others are unchanged', { timeout: 240_000 }, async () => {
  const first = await bramble(['install', '-i', PLANNED, '--timeout', '30']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.deepEqual(api(), { a1: 'agent running', s1: 'server+etcd running', s2: 'server+etcd running', s3: 'server+etcd running' });
  const grown = await bramble(['install', '-i', ACTIVE, '--timeout', '30']);
  assert.equal(grown.code, 0, grown.stdout + grown.stderr);
  assert.match(grown.stdout, /^ {2}p1 +agent +installed/m);
  for (const n of ['s1', 's2', 's3']) assert.match(grown.stdout, new RegExp(`^ {2}${n} +server +unchanged$`, 'm'));
  assert.equal(api().p1, 'agent running');
});

test('node remove: the plan first, refused without a terminal or --yes; then cordon, drain, uninstall, delete', { timeout: 120_000 }, async () => {
  const asked = await bramble(['node', 'remove', '-i', ACTIVE, '-c', 'ha', 'p1']);
  assert.equal(asked.code, 1);
  assert.match(asked.stdout, /^remove p1 \(agent\) in cluster ha, through s1:\n {2}1\. cordon p1: no new pods go there\n {2}2\. drain p1: evict its pods \(up to 300 s; DaemonSet pods stay\)\n {2}3\. uninstall k3s on p1 and remove bramble's files there\n {2}4\. delete the Node p1\nAfterwards: Remove p1 from the inventory, or mark it "planned: true"; otherwise the next apply joins it again\.\n$/);
  assert.match(asked.stderr, /Run it at a terminal to confirm, or pass --yes\./);
  assert.equal(api().p1, 'agent running', 'nothing changed');

  const r = await bramble(['node', 'remove', '-i', ACTIVE, '-c', 'ha', 'p1', '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const done = r.stdout.split('\n').filter((l) => /^ {2}(cordoning|draining|deleting|p1: uninstalling)/.test(l)).map((l) => l.trim());
  assert.deepEqual(done, ['cordoning p1', 'draining p1', 'p1: uninstalling k3s', 'deleting the Node p1']);
  assert.equal(api().p1, undefined);
  assert.equal(lab.readNodeFile('p1', '/usr/local/bin/k3s'), undefined);
  assert.equal(lab.readNodeFile('p1', '/etc/rancher/k3s/config.yaml'), undefined);
});

test('node remove refuses what would cost etcd its quorum, and the first server; nothing changes', { timeout: 120_000 }, async () => {
  const before = api();
  const first = await bramble(['node', 'remove', '-i', PLANNED, '-c', 'ha', 's1', '--yes']);
  assert.equal(first.code, 1);
  assert.match(first.stdout, /refused: s1 is the first server in the inventory, the one every other node's k3s config names to join through/);

  lab.k3sDown('s2');
  const quorum = await bramble(['node', 'remove', '-i', PLANNED, '-c', 'ha', 's3', '--yes']);
  assert.equal(quorum.code, 1, quorum.stdout);
  assert.match(quorum.stdout, /^remove s3 \(server\) in cluster ha, through s1:\n {2}refused: removing s3 would leave 2 etcd member\(s\) with only 1 Ready, and etcd needs 2 for quorum: bring s2 back first\nNothing was changed\.$/m);
  assert.deepEqual(api(), { ...before, s2: 'server+etcd stopped' });

  const unknown = await bramble(['node', 'remove', '-i', PLANNED, '-c', 'ha', 'nope', '--yes']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /cluster ha has no node nope; its nodes: s1, s2, s3, a1/);
});

test('node replace: a new board for the dead s2 (new host key, nothing installed) takes its place; etcd keeps three members', { timeout: 240_000 }, async () => {
  // s2 died (it is down in the API since the last test) and its board is swapped for a new one.
  await lab.reimage('s2');
  const s2 = lab.node('s2');

  // Joining the new board as if nothing happened is refused by k3s: its name is still registered.
  const naive = await bramble(['install', '-i', PLANNED, '--timeout', '10'], ['--accept-new-host-keys']);
  assert.equal(naive.code, 1);
  assert.match(naive.stdout + naive.stderr, /s2.*THE HOST KEY OF .* HAS CHANGED/);

  // The owner confirms the new board's key, as for any reinstalled machine.
  spawnSync('ssh-keygen', ['-R', s2.address, '-f', knownHosts]);
  const stillRegistered = await bramble(['install', '-i', PLANNED, '--timeout', '10'], ['--accept-new-host-keys']);
  assert.equal(stillRegistered.code, 1);
  assert.match(stillRegistered.stdout, /^ {2}s2 +server +FAILED at install k3s: .*Node password rejected, duplicate hostname/m);
  assert.equal(api().s2, 'server+etcd stopped');

  const plan = await bramble(['node', 'replace', '-i', PLANNED, '-c', 'ha', 's2']);
  assert.equal(plan.code, 1);
  assert.match(plan.stdout, /^replace s2 \(server\) in cluster ha, through s1:\n {2}1\. delete the Node s2 \(the old board's registration and its etcd member\), so the new board can join under the same name\n {2}2\. remove the k3s found on the board \(partial install\), so it joins from scratch\n {2}3\. join s2 as a server \(install k3s v1\.35\.6\+k3s1\) and wait until it is Ready\n$/);

  const r = await bramble(['node', 'replace', '-i', PLANNED, '-c', 'ha', 's2', '--yes', '--timeout', '30']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /deleting the Node s2/);
  assert.match(r.stdout, /^ {2}s2 +server +installed/m);
  assert.match(r.stdout, /s2 joined cluster ha in the old board's place\./);
  assert.deepEqual(api(), { a1: 'agent running', s1: 'server+etcd running', s2: 'server+etcd running', s3: 'server+etcd running' });
});

test('with two of three servers down the API answers nothing (no etcd quorum), and node changes are refused', { timeout: 120_000 }, async () => {
  lab.k3sDown('s2');
  lab.k3sDown('s3');
  const r = await bramble(['node', 'remove', '-i', PLANNED, '-c', 'ha', 'a1', '--yes']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /refused: the cluster cannot be read through s1: the API does not answer \(Error from server: etcdserver: request timed out\)/);
  assert.equal(api().a1, 'agent running');
});
