// Installs cut short and completed by the next run, on the lab: the install
// script failing after it placed the binary (a joining server and an agent),
// and a power cut at that moment (the first server). Then reset of a partial
// install. The k3s binary answering `--version` is never taken for an install.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brambleAsync, tempDir } from './helpers.ts';
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
  assert.match(first.stdout, /^ {2}s3 +server +skipped: server s2 failed to join; servers join one at a time$/m);
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

test('an agent whose k3s is gone from the API is never reported ready: the run waits for it and fails by name', { timeout: 120_000 }, async () => {
  // The agent's k3s stops (as after a crash) with everything still installed.
  const stopped = await brambleAsync(['install', '-i', inventory('ha', HA, base), '--known-hosts', knownHosts, '--timeout', '5'], {}, 60_000);
  assert.equal(stopped.code, 0, stopped.stdout);
  const dir = lab.node('a1').dir;
  const state = join(dir, 'upper', 'var-lib', 'bramble-lab', 'k3s-state.json');
  const entry = join(lab.root, 'cluster', 'a1.json');
  const saved = readFileSync(entry, 'utf8');
  writeFileSync(entry, JSON.stringify({ ...JSON.parse(saved), state: 'stopped' }));
  const before = readFileSync(state, 'utf8');
  writeFileSync(state, JSON.stringify({ ...JSON.parse(before), running: false }));
  // Not running is not installed: the run completes it by running the script again.
  const r = await brambleAsync(['install', '-i', inventory('ha', HA, base), '--known-hosts', knownHosts, '--timeout', '5'], {}, 60_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}a1 +agent +installed \(completed the install: an install was cut short: the k3s v1\.35\.6\+k3s1 binary, k3s-agent-uninstall\.sh, the k3s-agent unit in place, but not k3s-agent running\)$/m);
  assert.equal(apiNodes().a1, 'running');

  // Registered nowhere although installed and running: the run waits and says so.
  const registered = readFileSync(entry, 'utf8');
  writeFileSync(entry, JSON.stringify({ ...JSON.parse(registered), name: 'a1-gone' }));
  const missing = await brambleAsync(['install', '-i', inventory('ha', HA, base), '--known-hosts', knownHosts, '--timeout', '3'], {}, 60_000);
  writeFileSync(entry, registered);
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(missing.stdout, /^ {2}a1 +agent +FAILED at wait for Ready: not Ready after 3 s: not registered yet$/m);
  assert.match(missing.stdout, /cluster ha: not complete/);
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
  assert.match(full.stdout, /^ {2}solo +server +removed \(ran k3s-uninstall\.sh; removed \/etc\/modules-load\.d\/bramble-longhorn\.conf\): kept on purpose: cgroup_enable=memory in \/boot\/firmware\/cmdline\.txt \(k3s needs it; the original is \/boot\/firmware\/cmdline\.txt\.bramble-bak\)$/m);

  // Cut short again, right after the binary: no uninstall script was written yet (the real script writes it next).
  const broken = inventory('solo-broken', SOLO, script('install-fail-after-binary.sh'));
  assert.equal((await run('install', broken)).code, 1);
  for (const f of ['/usr/local/bin/k3s', '/etc/rancher/k3s/config.yaml', '/etc/rancher/k3s/bramble-token']) assert.ok(lab.readNodeFile('solo', f), f);
  assert.equal(lab.readNodeFile('solo', '/usr/local/bin/k3s-uninstall.sh'), undefined);
  const partial = await brambleAsync(['reset', '-i', inv, '-c', 'solo', '--known-hosts', knownHosts, '--yes'], {}, 120_000);
  assert.equal(partial.code, 0, partial.stdout + partial.stderr);
  assert.match(partial.stdout, /^ {2}solo: removing a partial k3s install \(no uninstall script was written\)$/m);
  assert.match(partial.stdout, /^ {2}solo +server +removed \(removed \/usr\/local\/bin\/k3s, \/etc\/rancher\/k3s; removed \/etc\/modules-load\.d\/bramble-longhorn\.conf\): kept on purpose/m);
  for (const f of ['/usr/local/bin/k3s', '/etc/rancher/k3s/config.yaml', '/etc/rancher/k3s/bramble-token', '/etc/modules-load.d/bramble-longhorn.conf']) assert.equal(lab.readNodeFile('solo', f), undefined, f);
  assert.ok(lab.readNodeFile('solo', '/boot/firmware/cmdline.txt.bramble-bak'));
  assert.match(lab.readNodeFile('solo', '/boot/firmware/cmdline.txt')!, /cgroup_enable=memory/);
  const nothing = await brambleAsync(['reset', '-i', inv, '-c', 'solo', '--known-hosts', knownHosts, '--yes'], {}, 120_000);
  assert.match(nothing.stdout, /^ {2}solo +server +unchanged: k3s is not installed; kept on purpose/m);
});
