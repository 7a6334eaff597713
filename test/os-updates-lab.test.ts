// The boards' own OS on lab nodes over real sshd (issue 31): plan lists the
// unattended-upgrades configuration, install writes it and a second run
// changes nothing, apt on the node reads it as meant; preflight and status
// report a pending reboot and a kernel mismatch; status warns about kured's
// lock held past the drain timeout. kured itself does not run here
// (docs/testing.md): its lock is the annotation it would write.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brambleAsync, tempDir } from './helpers.ts';
import { labInventory, startLab } from './lab-helpers.ts';
import { UNATTENDED_FILE, unattendedConfig } from '../src/site/reboots.ts';

const lab = await startLab([{ name: 'patchy', board: 'rk1' }]);
const url = await lab.serveInstallScript();
const knownHosts = join(tempDir(), 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts());
const kubeconfig = join(tempDir(), 'config');

function inventory(osUpdates: string[]): string {
  const f = join(tempDir(), 'inventory.yaml');
  const text = labInventory(lab, [{ name: 'patched', nodes: [{ node: 'patchy', role: 'server' }] }]).replace('    version: v1.35.6+k3s1', `    version: v1.35.6+k3s1\n    installScriptUrl: ${url}`);
  writeFileSync(f, text.replace('vlans:\n', [...osUpdates, 'vlans:', ''].join('\n')));
  return f;
}
const ON = inventory(['  osUpdates:', '    packages: security', '    reboot:', '      days: [sa, su]', '      start: "03:00"', '      end: "06:00"', '      drainTimeout: 20m']);
const run = (cmd: string, inv: string, extra: string[] = []) =>
  brambleAsync([cmd, '-i', inv, '--known-hosts', knownHosts, ...(['install', 'status'].includes(cmd) ? ['--kubeconfig', kubeconfig] : []), ...extra], { BRAMBLE_SUDO_PASSWORD: lab.password });

test('plan lists the unattended-upgrades configuration; install writes it; a second run changes nothing; apt on the node reads it as meant', { timeout: 180_000 }, async () => {
  // A remote of its own on this machine: plan reads Git, and the inventory's URL is never dialled.
  const remote = join(tempDir(), 'remote.git');
  execFileSync('git', ['init', '-q', '--bare', remote]);
  const plan = await run('plan', ON, ['--repo', join(tempDir(), 'work'), '--remote', remote]);
  assert.match(plan.stdout, new RegExp(`write ${UNATTENDED_FILE} \\(security updates, no automatic reboot\\)`), plan.stdout + plan.stderr);
  assert.equal(lab.readNodeFile('patchy', UNATTENDED_FILE), undefined, 'plan changes nothing');

  const first = await run('install', ON, ['--timeout', '20']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, new RegExp(`patchy: wrote ${UNATTENDED_FILE} \\(security updates, no automatic reboot\\)`));
  assert.equal(lab.readNodeFile('patchy', UNATTENDED_FILE), unattendedConfig('security'));

  const again = await run('install', ON, ['--timeout', '20']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.doesNotMatch(again.stdout, /unattended-upgrades/);
  assert.match(again.stdout, /^ {2}patchy +server +unchanged/m);

  // The node's apt, over its own /etc: Debian's 50unattended-upgrades, then bramble's file.
  const dump = lab.nodeExec('patchy', 'apt-config dump Unattended-Upgrade');
  assert.equal(dump.code, 0, dump.stderr);
  assert.match(dump.stdout, /^Unattended-Upgrade::Automatic-Reboot "false";$/m);
  const origins = [...dump.stdout.matchAll(/^Unattended-Upgrade::Origins-Pattern:: "(.*)";$/gm)].map((m) => m[1]);
  assert.deepEqual(origins, ['origin=Debian,codename=${distro_codename}-security,label=Debian-Security', 'origin=Debian,codename=${distro_codename},label=Debian-Security', 'origin=Ubuntu,archive=${distro_codename}-security']);

  // Turned off in the inventory: bramble's file goes on the next run.
  const off = await run('install', inventory(['  osUpdates:', '    enabled: false']), ['--timeout', '20']);
  assert.equal(off.code, 0, off.stdout + off.stderr);
  assert.match(off.stdout, new RegExp(`patchy: removed ${UNATTENDED_FILE} \\(osUpdates is off\\)`));
  assert.equal(lab.readNodeFile('patchy', UNATTENDED_FILE), undefined);
  const back = await run('install', ON, ['--timeout', '20']);
  assert.equal(back.code, 0, back.stdout + back.stderr);
});

test('preflight and status report a pending reboot, since when, and a kernel newer than the running one; status names the boot time', { timeout: 120_000 }, async () => {
  const running = lab.nodeExec('patchy', 'uname -r').stdout.trim();
  assert.ok(running.length > 0);
  // Before: nothing pending.
  const calm = await run('preflight', ON);
  assert.match(calm.stdout, /ok +reboot +booted \d{4}-\d\d-\d\d \d\d:\d\dZ, kernel .+, no reboot pending/, calm.stdout);

  // The board's kernel package installed a newer release and asked for a reboot, as Debian's postinst does.
  const set = lab.nodeExec('patchy', [
    'mkdir -p /etc/bramble-lab && echo 6.1.75-rockchip > /etc/bramble-lab/kernel',
    'touch /boot/vmlinuz-6.1.75-rockchip /boot/vmlinuz-6.1.84-rockchip /boot/vmlinuz-6.1.99-generic',
    'echo "*** System restart required ***" > /var/run/reboot-required',
    'printf "linux-image-6.1.84-rockchip\\nlibssl3\\n" > /var/run/reboot-required.pkgs',
    'touch -d "2026-12-01 04:00:00 UTC" /var/run/reboot-required',
  ].join(' && '));
  assert.equal(set.code, 0, set.stderr);

  const pre = await run('preflight', ON);
  assert.equal(pre.code, 0, 'a pending reboot is a warning, not a failure: ' + pre.stdout + pre.stderr);
  assert.match(pre.stdout, /WARN reboot +booted \d{4}-\d\d-\d\d \d\d:\d\dZ, kernel 6\.1\.75-rockchip running, 6\.1\.84-rockchip installed, reboot pending since 2026-12-01 04:00Z \(libssl3, linux-image-6\.1\.84-rockchip\); kured reboots it in the window/);

  const status = await run('status', ON);
  assert.match(status.stdout, /^ {2}os: security updates by unattended-upgrades; kured reboots one node at a time, sa,su 03:00-06:00 UTC$/m, status.stdout + status.stderr);
  assert.match(status.stdout, /^ {4}patchy +booted \d{4}-\d\d-\d\d \d\d:\d\dZ, kernel 6\.1\.75-rockchip running, 6\.1\.84-rockchip installed, reboot pending since 2026-12-01 04:00Z/m);
  // The boot time is the node's own (the lab writes it at each of its boots), not this machine's.
  const booted = Number(lab.nodeExec('patchy', "awk '/^btime /{print $2}' /proc/stat").stdout.trim());
  assert.ok(Math.abs(booted - Date.now() / 1000) < 3600, `booted ${booted}: within the hour the lab has run`);
  assert.match(status.stdout, /^ {4}reboot lock: not known \(Error from server \(NotFound\): daemonsets\.apps "kured" not found\)$/m, 'before Flux has installed kured');

  // A newer kernel alone (no sentinel) is still a pending reboot.
  lab.nodeExec('patchy', 'rm -f /var/run/reboot-required /var/run/reboot-required.pkgs');
  const kernelOnly = await run('preflight', ON);
  assert.match(kernelOnly.stdout, /WARN reboot +.*6\.1\.84-rockchip installed, reboot pending \(a newer kernel is installed\)/);
  lab.nodeExec('patchy', 'rm -f /etc/bramble-lab/kernel /boot/vmlinuz-6.1.75-rockchip /boot/vmlinuz-6.1.84-rockchip /boot/vmlinuz-6.1.99-generic');
});

test("status: kured's lock free, held by a node while it reboots, and a warning with what to do once held past the drain timeout", { timeout: 120_000 }, async () => {
  const kured = (annotation: string | undefined) => {
    const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kured', namespace: 'kube-system', ...(annotation ? { annotations: { 'weave.works/kured-node-lock': annotation } } : {}) }, spec: {} };
    const r = lab.nodeExec('patchy', `echo '${JSON.stringify(ds)}' | k3s kubectl apply -f -`);
    assert.equal(r.code, 0, r.stderr);
  };
  kured(undefined);
  assert.match((await run('status', ON)).stdout, /^ {4}reboot lock: free$/m);
  const lock = (minutesAgo: number) => JSON.stringify({ nodeID: 'patchy', metadata: { unschedulable: false }, created: new Date(Date.now() - minutesAgo * 60_000).toISOString(), TTL: 0 });
  kured(lock(5));
  assert.match((await run('status', ON)).stdout, /^ {4}reboot lock: held by patchy since \S+ \(rebooting\)$/m);
  kured(lock(45));
  const stuck = await run('status', ON);
  assert.match(stuck.stdout, /^ {4}WARNING reboot lock: held by patchy since \S+, 45 minutes, past the drain timeout of 20m: patchy has not come back from its reboot, and no other node reboots until it does\./m, stuck.stdout);
});
