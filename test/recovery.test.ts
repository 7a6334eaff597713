// Installs cut short and completed by the next run, on the lab: the install
// script failing after it placed the binary (a joining server and an agent),
// and a power cut at that moment (the first server). Then reset of a partial
// install. The k3s binary answering `--version` is never taken for an install.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brambleAsync, CLI, tempDir } from './helpers.ts';
import { Lab } from '../scripts/lab/lab.ts';
import { labInventory, startLab } from './lab-helpers.ts';

const lab = await startLab([
  { name: 's1', board: 'rk1' },
  { name: 's2', board: 'rk1' },
  { name: 's3', board: 'rk1' },
  { name: 'a1', board: 'x86' },
  { name: 'solo', board: 'pi5' },
]);
const base = await lab.serveInstallScript();
const script = (name: string) => base.replace(/\/install\.sh$/, `/${name}`);
const work = tempDir();
const knownHosts = join(work, 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts());

function inventory(name: string, text: string, url: string): string {
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, text.replace('    version: v1.35.6+k3s1', `    version: v1.35.6+k3s1\n    installScriptUrl: ${url}`));
  return f;
}

const HA = labInventory(lab, [{ name: 'ha', nodes: [{ node: 's1', role: 'server' }, { node: 's2', role: 'server' }, { node: 's3', role: 'server' }, { node: 'a1', role: 'agent' }] }]);
const SOLO = labInventory(lab, [{ name: 'solo', nodes: [{ node: 'solo', role: 'server' }] }]);

function run(command: string, inv: string, extra: string[] = [], timeoutMs = 120_000) {
  return brambleAsync([command, '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '20', ...extra].filter((a, i, all) => command !== 'preflight' || !['--kubeconfig', '--timeout'].includes(a) && !['--kubeconfig', '--timeout'].includes(all[i - 1]!)), {}, timeoutMs);
}

/** The API server's node list, as the lab's k3s keeps it: name -> state. */
function apiNodes(): Record<string, string> {
  const dir = join(lab.root, 'cluster');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { name: string; state: string })
      .map((e) => [e.name, e.state]),
  );
}

function installRuns(node: string): number {
  return (lab.readNodeFile(node, '/var/lib/bramble-lab/k3s-install.log') ?? '').split('\n').filter(Boolean).length;
}

test('an install script that fails after placing the binary, on a joining server and an agent: named, never "unchanged", and completed by the next run', { timeout: 240_000 }, async () => {
  const broken = inventory('ha-broken', HA, script('install-fail-after-binary-on-s2,a1.sh'));
  const first = await run('install', broken);
  assert.equal(first.code, 1, first.stdout + first.stderr);
  assert.match(first.stdout, /^ {2}s1 +server +installed/m);
  assert.match(first.stdout, /^ {2}s2 +server +FAILED at install k3s: exited 1: \[ERROR\] lab: the install fails after placing the binary$/m);
  // s3 never joins, but it was prepared beside the others (preparing waits for no join), and the line says what that changed.
  assert.match(first.stdout, /^ {2}s3 +server +skipped: server s2 failed to join; servers join one at a time; prepared \(wrote \/etc\/modules-load\.d\/bramble-longhorn\.conf\)$/m);
  assert.equal(lab.readNodeFile('s3', '/etc/rancher/k3s/config.yaml'), undefined, 'no k3s file on a node that did not join');
  assert.match(first.stdout, /^ {2}a1 +agent +FAILED at install k3s/m);
  // What such a cut leaves: a binary that answers, and no unit.
  for (const n of ['s2', 'a1']) {
    assert.match(lab.readNodeFile(n, '/usr/local/bin/k3s') ?? '', /VERSION = "v1\.35\.6\+k3s1"/, n);
    assert.equal(lab.readNodeFile(n, `/etc/systemd/system/${n === 'a1' ? 'k3s-agent' : 'k3s'}.service`), undefined, n);
  }
  assert.deepEqual(Object.keys(apiNodes()).sort(), ['s1']);

  // preflight names the half-installs; plan-like checks see them as installs to complete.
  const pre = await run('preflight', broken);
  assert.match(pre.stdout, /s2[\s\S]*WARN k3s +an install was cut short: the k3s v1\.35\.6\+k3s1 binary in place, but not the systemd unit; install and apply complete it/);
  assert.match(pre.stdout, /a1[\s\S]*WARN k3s +an install was cut short: the k3s v1\.35\.6\+k3s1 binary in place, but not the systemd unit/);

  // The next run with a working script completes both, joins s3, and every node is Ready in the API.
  const fixed = inventory('ha', HA, base);
  const second = await run('install', fixed);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.match(second.stdout, /^ {2}s1 +server +unchanged$/m);
  assert.match(second.stdout, /^ {2}s2 +server +installed \(completed the install: an install was cut short: the k3s v1\.35\.6\+k3s1 binary in place, but not the systemd unit\)$/m);
  assert.match(second.stdout, /^ {2}s3 +server +installed/m);
  assert.match(second.stdout, /^ {2}a1 +agent +installed \(completed the install: /m);
  assert.deepEqual(apiNodes(), { a1: 'running', s1: 'running', s2: 'running', s3: 'running' });

  const third = await run('install', fixed);
  assert.equal(third.code, 0, third.stdout + third.stderr);
  for (const n of ['s1', 's2', 's3']) assert.match(third.stdout, new RegExp(`^ {2}${n} +server +unchanged$`, 'm'));
  assert.match(third.stdout, /^ {2}a1 +agent +unchanged$/m);
});

test('installed units that are stopped or disabled are started: the real script would skip the start, so bramble starts them', { timeout: 240_000 }, async () => {
  const inv = inventory('ha', HA, base);
  const ok = await run('install', inv);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const scriptRuns = () => Object.fromEntries(['s1', 's2', 's3', 'a1'].map((n) => [n, installRuns(n)]));
  const before = scriptRuns();

  // The real script, run again over a stopped unit, changes nothing and skips the start (what bramble used to rely on).
  assert.equal(lab.nodeExec('a1', 'systemctl stop k3s-agent').code, 0);
  // (nodeExec blocks this process, which serves the lab's URL: the real script goes through the node's /tmp.)
  writeFileSync(join(lab.node('a1').dir, 'tmp', 'k3s-install.sh'), Lab.realInstallScript());
  const rerun = lab.nodeExec('a1', 'INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_EXEC=agent sh /tmp/k3s-install.sh');
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stdout, /No change detected so skipping service start/);
  assert.equal(apiNodes().a1, 'stopped');

  // An agent stopped by hand, a joining server disabled and stopped, and the first server stopped.
  assert.equal(lab.nodeExec('s2', 'systemctl disable k3s && systemctl stop k3s').code, 0);
  assert.equal(lab.nodeExec('s1', 'systemctl stop k3s').code, 0);
  assert.equal(lab.nodeExec('s2', 'systemctl is-enabled k3s').stdout.trim(), 'disabled');
  // A work tree of its own (no remote is read): the plan is about the nodes.
  const tree = join(work, 'plan-tree');
  spawnSync('git', ['init', '-q', tree]);
  const plan = await brambleAsync(['plan', '-i', inv, '--known-hosts', knownHosts, '--json', '--repo', tree], {}, 120_000);
  assert.match(plan.stdout, /"node":"a1"[^\n]*enable and start k3s-agent: k3s is installed but not running \(k3s-agent\)/);
  const fixed = await run('install', inv);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  assert.match(fixed.stdout, /^ {2}s1 +server +installed \(enabled and started k3s: k3s is installed but not running \(k3s\)\)$/m);
  assert.match(fixed.stdout, /^ {2}s2 +server +installed \(enabled and started k3s: k3s is installed but not enabled and not running \(k3s\)\)$/m);
  assert.match(fixed.stdout, /^ {2}a1 +agent +installed \(enabled and started k3s-agent: k3s is installed but not running \(k3s-agent\)\)$/m);
  assert.deepEqual(apiNodes(), { a1: 'running', s1: 'running', s2: 'running', s3: 'running' });
  assert.equal(lab.nodeExec('s2', 'systemctl is-enabled k3s').stdout.trim(), 'enabled');
  // Started through the unit: the lab's script URL was not fetched again (the run by hand above used the real script directly).
  assert.deepEqual(scriptRuns(), before);
  const again = await run('install', inv);
  for (const n of ['s1', 's2', 's3']) assert.match(again.stdout, new RegExp(`^ {2}${n} +server +unchanged$`, 'm'));
  assert.match(again.stdout, /^ {2}a1 +agent +unchanged$/m);
});

test('an agent deleted from the API while its k3s runs is restarted, and registers again; a server is named with the command', { timeout: 120_000 }, async () => {
  const inv = inventory('ha', HA, base);
  assert.equal((await run('install', inv)).code, 0);
  const del = lab.nodeExec('s1', 'k3s kubectl delete node a1');
  assert.equal(del.code, 0, del.stderr);
  assert.equal(apiNodes().a1, undefined);
  const r = await run('install', inv);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}a1 +agent +restarted \(restarted k3s-agent: the API had no Node for it \(deleted while its k3s ran\), and k3s registers it again when it starts\)$/m);
  assert.equal(apiNodes().a1, 'running');

  // A server deleted from the API took its etcd member with it: not restarted behind etcd's back, named with the way back.
  assert.equal(lab.nodeExec('s1', 'k3s kubectl delete node s3').code, 0);
  const server = await run('install', inv, ['--timeout', '3']);
  assert.equal(server.code, 1, server.stdout);
  assert.match(server.stdout, /^ {2}s3 +server +FAILED at wait for Ready: not Ready after 3 s: not registered yet; the API has no Node s3 although its k3s runs: its etcd member was removed with it; join it again with: bramble node replace -i INVENTORY -c ha s3$/m);
  assert.match(server.stdout, /cluster ha: not complete/);
});

test('a power cut right after the binary is placed, on the first server: the next run completes the install', { timeout: 180_000 }, async () => {
  const stalling = inventory('solo-stall', SOLO, script('install-stall-after-binary-30.sh'));
  const cut = run('install', stalling, [], 150_000);
  // Wait until the script has placed the binary and stalls; then the power goes.
  for (let i = 0; i < 600 && !(lab.readNodeFile('solo', '/usr/local/bin/k3s') ?? '').includes('VERSION'); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(lab.readNodeFile('solo', '/usr/local/bin/k3s'), 'the binary was placed');
  await lab.powerOff('solo');
  const first = await cut;
  assert.equal(first.code, 1);
  assert.match(first.stdout + first.stderr, /solo.*install k3s/);
  await lab.powerOn('solo');
  assert.equal(lab.readNodeFile('solo', '/etc/systemd/system/k3s.service'), undefined);

  const again = await run('install', inventory('solo', SOLO, base));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^ {2}solo +server +installed \(completed the install: an install was cut short: the k3s v1\.35\.6\+k3s1 binary in place, but not the systemd unit\)$/m);
  assert.equal(installRuns('solo'), 2, 'the stalled run and the one that completed');
  assert.equal(apiNodes().solo, 'running');
  // The Pi's command line was rewritten with the mode it had.
  assert.equal(statSync(join(lab.node('solo').dir, 'upper', 'boot', 'firmware', 'cmdline.txt')).mode & 0o777, statSync(join(lab.node('solo').dir, 'upper', 'boot', 'firmware', 'cmdline.txt.bramble-bak')).mode & 0o777);
  assert.equal(statSync(join(lab.node('solo').dir, 'upper', 'boot', 'firmware', 'cmdline.txt')).mode & 0o777, 0o644);
});

test('reset removes a partial install and bramble\'s files, and says what it keeps on purpose', { timeout: 180_000 }, async () => {
  const inv = inventory('solo', SOLO, base);
  const full = await brambleAsync(['reset', '-i', inv, '-c', 'solo', '--known-hosts', knownHosts, '--yes'], {}, 120_000);
  assert.equal(full.code, 0, full.stdout + full.stderr);
  assert.match(full.stdout, /^ {2}solo +server +removed \(ran k3s-uninstall\.sh; removed \/etc\/modules-load\.d\/bramble-longhorn\.conf\): kept on purpose: cgroup_enable=memory in \/boot\/firmware\/cmdline\.txt \(k3s needs it; the original is \/boot\/firmware\/cmdline\.txt\.bramble-bak\); the packages open-iscsi and nfs-common \(Longhorn's iSCSI and NFS clients; apt-get remove them if nothing else uses them\)$/m);

  // Cut short again, right after the binary: no uninstall script was written yet (the real script writes it next).
  const broken = inventory('solo-broken', SOLO, script('install-fail-after-binary.sh'));
  assert.equal((await run('install', broken)).code, 1);
  for (const f of ['/usr/local/bin/k3s', '/etc/rancher/k3s/config.yaml', '/etc/rancher/k3s/bramble-token']) assert.ok(lab.readNodeFile('solo', f), f);
  assert.equal(lab.readNodeFile('solo', '/usr/local/bin/k3s-uninstall.sh'), undefined);
  const partial = await brambleAsync(['reset', '-i', inv, '-c', 'solo', '--known-hosts', knownHosts, '--yes'], {}, 120_000);
  assert.equal(partial.code, 0, partial.stdout + partial.stderr);
  assert.match(partial.stdout, /^ {2}solo: removing a partial k3s install \(no uninstall script was written\)$/m);
  assert.match(partial.stdout, /^ {2}solo +server +removed \(removed \/usr\/local\/bin\/k3s, \/etc\/rancher\/k3s, \/etc\/rancher\/node; removed \/etc\/modules-load\.d\/bramble-longhorn\.conf\): kept on purpose/m);
  for (const f of ['/usr/local/bin/k3s', '/etc/rancher/k3s/config.yaml', '/etc/rancher/k3s/bramble-token', '/etc/modules-load.d/bramble-longhorn.conf']) assert.equal(lab.readNodeFile('solo', f), undefined, f);
  assert.ok(lab.readNodeFile('solo', '/boot/firmware/cmdline.txt.bramble-bak'));
  assert.match(lab.readNodeFile('solo', '/boot/firmware/cmdline.txt')!, /cgroup_enable=memory/);
  const nothing = await brambleAsync(['reset', '-i', inv, '-c', 'solo', '--known-hosts', knownHosts, '--yes'], {}, 120_000);
  assert.match(nothing.stdout, /^ {2}solo +server +unchanged: k3s is not installed; kept on purpose/m);

  // Cut by the real script after its kubectl/crictl/ctr links: reset removes the links it made, and nothing else of that name.
  const links = inventory('solo-links', SOLO, script('install-fail-after-links.sh'));
  const cut = await run('install', links);
  assert.equal(cut.code, 1, cut.stdout);
  assert.match(cut.stdout, /FAILED at install k3s/);
  const linked = lab.nodeExec('solo', 'for c in kubectl crictl ctr; do [ -L /usr/local/bin/$c ] && echo "$c -> $(readlink /usr/local/bin/$c)"; done; true').stdout;
  assert.match(linked, /^crictl -> k3s$/m);
  assert.match(linked, /^ctr -> k3s$/m);
  assert.equal(lab.readNodeFile('solo', '/usr/local/bin/k3s-uninstall.sh'), undefined);
  const mine = lab.nodeExec('solo', 'ln -s /usr/bin/true /usr/local/bin/kubectl');
  assert.equal(mine.code, 0, mine.stderr);
  const cleared = await brambleAsync(['reset', '-i', inv, '-c', 'solo', '--known-hosts', knownHosts, '--yes'], {}, 120_000);
  assert.equal(cleared.code, 0, cleared.stdout + cleared.stderr);
  assert.match(cleared.stdout, /removed \/usr\/local\/bin\/k3s, [^)]*\/usr\/local\/bin\/crictl, \/usr\/local\/bin\/ctr/);
  assert.equal(lab.nodeExec('solo', 'ls /usr/local/bin').stdout.split('\n').filter((f) => /^(k3s|crictl|ctr)$/.test(f)).length, 0);
  assert.equal(lab.nodeExec('solo', 'readlink /usr/local/bin/kubectl').stdout.trim(), '/usr/bin/true', "the owner's own kubectl link stays");
});

test('Ctrl-C during install: an "interrupted" line, what finished and what was cut, exit 130; the next run completes it', { timeout: 180_000 }, async () => {
  const { spawn } = await import('node:child_process');
  const inv = inventory('solo-stall', SOLO, script('install-stall-after-binary-30.sh'));
  const child = spawn(process.execPath, [CLI, 'install', '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  for (let i = 0; i < 600 && !(lab.readNodeFile('solo', '/usr/local/bin/k3s') ?? '').includes('VERSION'); i++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  assert.equal(await closed, 130, out + err);
  assert.match(err, /^interrupted: 0 node\(s\) finished, stopped in the middle of solo; run install again to complete them/m);
  assert.match(err, /^ {2}solo +interrupted$/m);
  const again = await run('install', inventory('solo', SOLO, base));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /^ {2}solo +server +installed \(completed the install: /m);
});
