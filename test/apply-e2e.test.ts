// `plan` and `apply` end to end on a two-node lab cluster (a server and an
// agent) with a real SSH Git server: the plan of a new cluster changes
// nothing; apply with --json is a stream of JSON events; apply at a terminal
// draws listr2's tree; a changed inventory plans exactly its changes, and
// apply asks before the restart it needs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseDocument } from 'yaml';
import { brambleAsync, type Run } from './helpers.ts';
import { Terminal } from './tty.ts';
import { gitopsInventory, startGitopsLab } from './lab-helpers.ts';

// Boards whose kernel has iSCSI, as real ones do: an unchanged node plans as unchanged.
const { lab, scriptUrl, gitServer, repoUrl, work, knownHosts } = await startGitopsLab([
  { name: 'srv', board: 'rk1', iscsi: true },
  { name: 'wrk', board: 'x86', iscsi: true },
], 'apply.git');

const base = gitopsInventory(
  lab,
  [
    {
      name: 'staging',
      nodes: [
        { node: 'srv', role: 'server' },
        { node: 'wrk', role: 'agent' },
      ],
    },
  ],
  { installScriptUrl: scriptUrl, repoUrl, hostKey: gitServer.fingerprint },
);
const inv = join(work, 'inventory.yaml');
writeFileSync(inv, base);
const repo = join(work, 'repo');
const env = { ...gitServer.ownerEnv, KUBECONFIG: join(work, 'kubeconfig') };
const common = ['-i', inv, '--known-hosts', knownHosts, '--repo', repo];
const run = (args: string[]): Promise<Run> => brambleAsync([...args, ...common], env, 240_000);

function remoteHead(): string {
  return spawnSync('git', ['ls-remote', repoUrl, 'refs/heads/main'], { encoding: 'utf8', env: { ...process.env, ...gitServer.ownerEnv } }).stdout.split(/\s+/)[0]!;
}

type Event = { time: string; event: string; task?: string[]; title?: string; message?: string; [k: string]: unknown };

/** Every stdout line is one JSON document with a time and an event name. */
function events(out: string): Event[] {
  return out
    .split('\n')
    .filter(Boolean)
    .map((l, i) => {
      let e: Event;
      try {
        e = JSON.parse(l) as Event;
      } catch {
        assert.fail(`line ${i + 1} of --json output is not JSON: ${l}`);
      }
      assert.ok(!Number.isNaN(Date.parse(e.time)) && typeof e.event === 'string', l);
      return e;
    });
}


type PlanJson = {
  plan: {
    clusters: Array<{ cluster: string; nodes: Array<{ node: string; action: string; changes: string[]; disruptive: string[] }>; flux: { flux: string; deployKey: string; create: unknown[]; existing: number } }>;
    repo: { basis: string; changes: Array<{ path: string; action: string }>; unchanged: number };
  };
  disruptive: string[];
};

test('plan of a new cluster: every node to install, every file to add, every Flux object to create; nothing changes', async () => {
  const r = await run(['plan', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const { plan, disruptive } = JSON.parse(r.stdout) as PlanJson;
  const [c] = plan.clusters;
  assert.deepEqual(
    c!.nodes.map((n) => [n.node, n.action]),
    [
      ['srv', 'install'],
      ['wrk', 'join'],
    ],
  );
  assert.ok(c!.nodes[1]!.changes.includes('write /etc/rancher/k3s/config.yaml'));
  assert.equal(c!.flux.flux, 'install 2.9.5');
  assert.equal(c!.flux.deployKey, 'create');
  assert.equal(c!.flux.create.length, 18);
  assert.match(plan.repo.basis, /^nothing yet: .* has no branch main$/);
  assert.equal(plan.repo.changes.length, 24);
  assert.ok(plan.repo.changes.every((f) => f.action === 'add'));
  assert.deepEqual(disruptive, []);
  // Read-only: no k3s, no config, no branch, no work tree.
  assert.equal(lab.readNodeFile('srv', '/etc/rancher/k3s/config.yaml'), undefined);
  assert.equal(lab.readNodeFile('wrk', '/usr/local/bin/k3s'), undefined);
  assert.equal(remoteHead(), '');
  assert.equal(spawnSync('test', ['-e', repo]).status, 1, 'plan makes no work tree');
});

let deployKey = '';

test('apply --json: one JSON event per line, node tasks under the cluster, a summary at the end', async () => {
  const r = await run(['apply', '--json', '--timeout', '60']);
  // A plain SSH host: the run stops for the owner to add the deploy key.
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const ev = events(r.stdout);
  const line = ev.find((e) => e.event === 'output' && /ssh-ed25519 \S+ flux-staging/.test(e.message ?? ''));
  deployKey = /(ssh-ed25519 \S+ flux-staging)/.exec(line?.message ?? '')?.[1] ?? '';
  assert.ok(deployKey, 'the deploy key to add is an output event');
  assert.equal(ev[0]!.event, 'plan');
  const done = (path: string[]) => ev.find((e) => e.event === 'done' && JSON.stringify(e.task) === JSON.stringify(path));
  assert.ok(done(['staging: k3s v1.35.6+k3s1', 'srv (server)']), 'the server has its own task under the cluster');
  assert.ok(done(['staging: k3s v1.35.6+k3s1', 'wrk (agent)']));
  assert.match(ev.find((e) => e.event === 'title' && e.task?.[1] === 'wrk (agent)' && /installed/.test(e.title ?? ''))!.title!, /^wrk \(agent\): installed \(/);
  assert.ok(done(['repository ' + repoUrl + ' (branch main)']));
  const failed = ev.find((e) => e.event === 'failed');
  assert.deepEqual(failed?.task, ['staging: Flux']);
  assert.match(failed!.message!, /the deploy key for cluster staging is not accepted yet/);
  const summary = ev.at(-1)!;
  assert.equal(summary.event, 'summary');
  const cl = (summary.clusters as Array<{ name: string; nodes: Array<{ name: string; status: string }>; flux: string; urls: Record<string, string> }>)[0]!;
  assert.deepEqual(
    cl.nodes.map((n) => [n.name, n.status]),
    [
      ['srv', 'installed'],
      ['wrk', 'installed'],
    ],
  );
  assert.match(cl.flux, /^not reconciled: git@198\.18\.\d+\.4: the deploy key for cluster staging is not accepted yet/);
  assert.equal(cl.urls.Grafana, 'https://grafana.staging.home.arpa/');
  assert.equal((summary.git as { head: string }).head, remoteHead());
  assert.equal(r.stderr, '', 'with --json, nothing is printed outside the stream');
});

test('apply at a terminal shows the plan, asks before the restart, draws the task tree, and ends reconciled', async () => {
  lab.addDeployKey(deployKey);
  const doc = parseDocument(readFileSync(inv, 'utf8'));
  doc.setIn(['clusters', 0, 'nodes', 1, 'labels'], doc.createNode({ zone: 'a' }));
  writeFileSync(inv, doc.toString());
  const t = new Terminal('apply', ['apply', ...common, '--timeout', '90'], { ...env, TERM: 'xterm-256color' });
  const asked = await t.until((s) => /\? Go ahead\?/.test(s), 'the question', 60_000);
  assert.match(asked, /These steps interrupt what runs now:\n {2}staging\/wrk: restart k3s-agent\n/);
  assert.match(asked, /wrk +agent +restart k3s\n {8}- write \/etc\/rancher\/k3s\/config\.yaml \(node-label\)/);
  t.text('y');
  t.keys('Enter');
  const { code, screen } = await t.exit(120_000);
  assert.equal(code, 0, screen);
  // listr2's tree: the cluster's node tasks indented under it, each ticked.
  assert.match(screen, /✔ staging: k3s v1\.35\.6\+k3s1\n {2}✔ srv \(server\): unchanged\n {2}✔ wrk \(agent\): restarted \(wrote \/etc\/rancher\/k3s\/config\.yaml \(node-label\)\)/);
  assert.match(screen, /✔ staging: Flux reconciled \(main@sha1:[0-9a-f]{40}\)/);
  assert.match(screen, /summary:\n {2}cluster staging: k3s v1\.35\.6\+k3s1\n/);
  assert.ok(screen.includes(`flux: reconciled at main@sha1:${remoteHead()}`), screen);
  assert.deepEqual(parse(lab.readNodeFile('wrk', '/etc/rancher/k3s/config.yaml')!)['node-label'], ['bramble.dev/hardware=x86', 'bramble.dev/cluster=staging', 'zone=a']);
});

test('plan against a changed inventory lists exactly the changes, and apply asks before the restart', async () => {
  const doc = parseDocument(readFileSync(inv, 'utf8'));
  doc.setIn(['clusters', 0, 'nodes', 1, 'labels'], doc.createNode({ disk: 'ssd' }));
  doc.setIn(['clusters', 0, 'platform'], doc.createNode({ monitoring: { retention: '9d' } }));
  writeFileSync(inv, doc.toString());
  const head = remoteHead();
  const agentConfig = lab.readNodeFile('wrk', '/etc/rancher/k3s/config.yaml');

  const r = await run(['plan', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const { plan, disruptive } = JSON.parse(r.stdout) as PlanJson;
  const nodes = plan.clusters[0]!.nodes.map((n) => ({ node: n.node, action: n.action, changes: n.changes }));
  assert.deepEqual(nodes, [
    { node: 'srv', action: 'unchanged', changes: [] },
    { node: 'wrk', action: 'restart', changes: ['write /etc/rancher/k3s/config.yaml (node-label)'] },
  ]);
  assert.deepEqual(disruptive, ['staging/wrk: restart k3s-agent']);
  assert.deepEqual(plan.repo.changes, [{ path: 'clusters/staging/infrastructure/controllers/kube-prometheus-stack.yaml', action: 'change' }]);
  assert.equal(plan.repo.basis, `the work tree ${repo}`);
  assert.deepEqual(plan.clusters[0]!.flux, { flux: 'unchanged (2.9.5, from Git)', deployKey: 'in place', create: [], existing: 18 });

  // The text form says the same.
  const text = await run(['plan']);
  assert.match(text.stdout, /\n {4}wrk +agent +restart k3s\n {6}- write \/etc\/rancher\/k3s\/config\.yaml \(node-label\)\n {6}- restart k3s-agent {2}\(disruptive\)\n/);
  assert.match(text.stdout, /\n {2}0 to add, 1 to change, 0 to delete, 20 unchanged\n {2}M clusters\/staging\/infrastructure\/controllers\/kube-prometheus-stack\.yaml\n/);
  assert.match(text.stdout, /apply would ask before 1 disruptive step\(s\)/);

  // No terminal and no --yes: apply refuses before changing anything.
  const refused = await run(['apply', '--timeout', '60']);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /apply would interrupt running things and asks first:\n {2}staging\/wrk: restart k3s-agent\nRun it at a terminal to confirm, or pass --yes\./);
  assert.equal(remoteHead(), head, 'nothing pushed');
  assert.equal(lab.readNodeFile('wrk', '/etc/rancher/k3s/config.yaml'), agentConfig, 'nothing written on the node');

  const yes = await run(['apply', '--yes', '--timeout', '90']);
  assert.equal(yes.code, 0, yes.stdout + yes.stderr);
  assert.match(yes.stdout, /✔ \[[\d:]+\] wrk \(agent\): restarted \(wrote \/etc\/rancher\/k3s\/config\.yaml \(node-label\)\)/);
  assert.deepEqual(parse(lab.readNodeFile('wrk', '/etc/rancher/k3s/config.yaml')!)['node-label'], ['bramble.dev/hardware=x86', 'bramble.dev/cluster=staging', 'disk=ssd']);
  assert.notEqual(remoteHead(), head);

  // And now there is nothing left to do.
  const after = JSON.parse((await run(['plan', '--json'])).stdout) as PlanJson;
  assert.deepEqual(after.plan.clusters[0]!.nodes.map((n) => [n.action, n.changes]), [
    ['unchanged', []],
    ['unchanged', []],
  ]);
  assert.deepEqual(after.plan.repo.changes, []);
  assert.deepEqual(after.disruptive, []);
});

test('a preflight FAIL stops apply before anything changes, and plan shows it under its node', async () => {
  // The agent is an amd64 box; an inventory that calls it a Pi 5 is wrong about it.
  const wrong = readFileSync(inv, 'utf8').replace(/(- name: wrk\n\s+hardware:) x86/, '$1 pi5');
  assert.notEqual(wrong, readFileSync(inv, 'utf8'));
  const file = join(work, 'wrong-board.yaml');
  writeFileSync(file, wrong);
  const head = remoteHead();
  const args = ['-i', file, '--known-hosts', knownHosts, '--repo', repo];
  const plan = await brambleAsync(['plan', ...args], env, 120_000);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /\n {4}wrk +agent .*\n(?: {6}.*\n)* {6}FAIL board: the inventory says pi5 \(an aarch64 Raspberry Pi 5\) but the node is /);
  const r = await brambleAsync(['apply', '--yes', ...args], env, 120_000);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /apply stopped before changing anything: \d problem\(s\) on the nodes\n(?: {2}.*\n)* {2}staging\/wrk: preflight board: the inventory says pi5/);
  assert.equal(remoteHead(), head);
});

test('a k3s version change the cluster cannot take is refused before anything is pushed: a skipped minor release, a downgrade', async () => {
  for (const [version, why] of [
    ['v1.37.1+k3s1', /srv runs k3s v1\.35\.6\+k3s1; going to v1\.37\.1\+k3s1 skips a minor release.*set k3s\.version to the newest v1\.36 release first/],
    ['v1.35.5+k3s1', /srv runs k3s v1\.35\.6\+k3s1, wrk runs k3s v1\.35\.6\+k3s1, newer than k3s\.version v1\.35\.5\+k3s1: k3s is not downgraded/],
  ] as const) {
    const file = join(work, `k3s-${version}.yaml`);
    writeFileSync(file, readFileSync(inv, 'utf8').replace(/version: v1\.35\.6\+k3s1/, `version: ${version}`));
    const head = remoteHead();
    const args = ['-i', file, '--known-hosts', knownHosts, '--repo', repo];
    const plan = await brambleAsync(['plan', ...args], env, 120_000);
    assert.match(plan.stdout, new RegExp(`\n  k3s upgrade to ${version.replace(/[.+]/g, '\\$&')} refused: `), plan.stdout + plan.stderr);
    const r = await brambleAsync(['apply', '--yes', ...args], env, 120_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /apply stopped before changing anything: \d problem\(s\) on the nodes\n {2}staging\/srv: k3s upgrade: /);
    assert.match(r.stderr, why);
    assert.equal(remoteHead(), head, 'nothing was pushed');
    // publish alone makes the same check before it writes anything.
    const plansBefore = readFileSync(join(repo, 'clusters/staging/upgrades/plans.yaml'), 'utf8');
    const pub = await brambleAsync(['publish', ...args], env, 120_000);
    assert.equal(pub.code, 1, pub.stdout + pub.stderr);
    assert.match(pub.stderr, /^publish refused; nothing was written, committed or pushed:\n {2}staging: k3s upgrade: /m);
    assert.match(pub.stderr, why);
    assert.equal(readFileSync(join(repo, 'clusters/staging/upgrades/plans.yaml'), 'utf8'), plansBefore);
    assert.equal(remoteHead(), head, 'nothing was pushed');
  }
  // A version change nobody can check (no server answers) is not published either.
  const unreachable = join(work, 'k3s-unreachable.yaml');
  writeFileSync(unreachable, readFileSync(inv, 'utf8').replace(/version: v1\.35\.6\+k3s1/, 'version: v1.36.4+k3s1').replace(/^( {2}ssh:\n)/m, '$1    port: 2299\n'));
  const head = remoteHead();
  const pub = await brambleAsync(['publish', '-i', unreachable, '--known-hosts', knownHosts, '--repo', repo], env, 120_000);
  assert.equal(pub.code, 1, pub.stdout + pub.stderr);
  assert.match(pub.stderr, /\n {2}staging: k3s v1\.35\.6\+k3s1 -> v1\.36\.4\+k3s1 in the upgrade Plans, but no server answers to check it against: /);
  assert.equal(remoteHead(), head, 'nothing was pushed');

  // A plan that read no node is no plan of everything: it says so at the end, names each part, and exits 5.
  const blind = await brambleAsync(['plan', '-i', unreachable, '--known-hosts', knownHosts, '--repo', repo], env, 120_000);
  assert.equal(blind.code, 5, blind.stdout + blind.stderr);
  assert.doesNotMatch(blind.stdout, /nothing disruptive/);
  assert.match(blind.stdout, /\nplan incomplete: 3 part\(s\) could not be read, so apply may do more than this shows:\n {2}staging\/srv: not read \(.+\)\n {2}staging\/wrk: not read \(.+\)\n {2}staging: Flux not read \(the first server srv cannot be read\)\n$/);
  const json = await brambleAsync(['plan', '--json', '-i', unreachable, '--known-hosts', knownHosts, '--repo', repo], env, 120_000);
  assert.equal(json.code, 5);
  assert.equal((JSON.parse(json.stdout) as { incomplete: string[] }).incomplete.length, 3);
});

test('the next minor k3s release goes out through Git as upgrade Plans; bramble leaves k3s on the nodes alone, and status follows', async () => {
  const file = join(work, 'k3s-next.yaml');
  writeFileSync(file, readFileSync(inv, 'utf8').replace(/version: v1\.35\.6\+k3s1/, 'version: v1.36.4+k3s1'));
  const args = ['-i', file, '--known-hosts', knownHosts, '--repo', repo];
  const plan = await brambleAsync(['plan', ...args], env, 120_000);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /\n  k3s upgrade to v1\.36\.4\+k3s1 by the Plans: srv \(v1\.35\.6\+k3s1\), wrk \(v1\.35\.6\+k3s1\) still to go\n/);
  assert.match(plan.stdout, /\n {6}- k3s v1\.35\.6\+k3s1 -> v1\.36\.4\+k3s1, by the k3s-server Plan once published\n/);
  assert.match(plan.stdout, /\n  M clusters\/staging\/upgrades\/plans\.yaml\n/);

  const r = await brambleAsync(['apply', '--yes', ...args], env, 240_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // In Git: both Plans carry the new version.
  const plans = spawnSync('git', ['-C', repo, 'show', 'HEAD:clusters/staging/upgrades/plans.yaml'], { encoding: 'utf8' }).stdout;
  assert.equal([...plans.matchAll(/version: "v1\.36\.4\+k3s1"/g)].length, 2);
  // On the nodes: still the old k3s; the Plans' jobs change it, not bramble's SSH.
  for (const node of ['srv', 'wrk']) assert.match(lab.readNodeFile(node, '/usr/local/bin/k3s') ?? '', /^k3s_standin\.VERSION = "v1\.35\.6\+k3s1"$/m);

  const status = await brambleAsync(['status', '-i', file, '--known-hosts', knownHosts], env, 120_000);
  assert.match(status.stdout, /\n {4}srv +server Ready +v1\.35\.6\+k3s1\n/);
  assert.match(status.stdout, /\n  upgrades:\n {4}k3s upgrade to v1\.36\.4\+k3s1 by the Plans: srv \(v1\.35\.6\+k3s1\), wrk \(v1\.35\.6\+k3s1\) still to go\n/);
  assert.match(status.stdout, /\n {4}Plan k3s-server +v1\.36\.4\+k3s1 +waiting: not picked up by system-upgrade-controller yet\n/);
  assert.match(status.stdout, /\n {4}Kustomization flux-system\/system-upgrade-controller +Ready /);
  assert.match(status.stdout, /\n {4}Kustomization flux-system\/k3s-upgrade +Ready /);
});

test('the lab owner\'s git goes through the tests\' SSH guard: the lab\'s repository answers, a host outside the lab is refused', () => {
  const ownerGit = (url: string) => spawnSync('git', ['ls-remote', url], { encoding: 'utf8', env: { ...process.env, ...gitServer.ownerEnv } });
  assert.equal(ownerGit(repoUrl).status, 0);
  const away = ownerGit('ssh://git@github.com/tinyhome/homelab-gitops.git');
  assert.notEqual(away.status, 0);
  assert.match(away.stderr, /^test ssh guard: refused github\.com/m);
});
