// `bramble install` and `bramble reset` on the lab: real sshd, sudo, SFTP and
// reboots; the k3s install script and binary are the lab's stand-ins, fetched
// through bramble's ordinary installScriptUrl.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { Lab } from '../scripts/lab/lab.ts';
import { bramble, brambleAsync, tempDir } from './helpers.ts';
import { labInventory, startLab } from './lab-helpers.ts';

const lab = await startLab([
  // Its sshd answers for 1.5 s after `reboot`, as a board's may while it stops its services: the session after the reboot must be the new boot's.
  { name: 'pi', board: 'pi5', shutdownDelay: 1.5 },
  { name: 'rk-a', board: 'rk1' },
  { name: 'rk-b', board: 'rk1', sudo: 'password' },
  { name: 'rk-c', board: 'rk1' },
  { name: 'tower', board: 'x86' },
  { name: 'slow-pi', board: 'pi5', bootDelay: 30 },
  // A reboot that never comes: everything keeps running (a shutdown held up).
  { name: 'stuck-pi', board: 'pi5', shutdownDelay: 60 },
  { name: 'air', board: 'rk1' },
  { name: 'blank', board: 'x86' },
]);
const url = await lab.serveInstallScript();
const knownHosts = join(tempDir(), 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts());
const kubeconfig = join(tempDir(), 'config');

function inventory(text: string): string {
  const f = join(tempDir(), 'inventory.yaml');
  writeFileSync(f, text.replace('    version: v1.35.6+k3s1', `    version: v1.35.6+k3s1\n    installScriptUrl: ${url}`));
  return f;
}

function install(inv: string, extra: string[] = []) {
  return brambleAsync(['install', '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', kubeconfig, '--timeout', '20', ...extra], { BRAMBLE_SUDO_PASSWORD: lab.password });
}

function nodeLog(node: string, file: string): string[] {
  return (lab.readNodeFile(node, `/var/lib/bramble-lab/${file}`) ?? '').split('\n').filter(Boolean);
}

const STAGING = labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server' }] }]);
const PRODUCTION = labInventory(lab, [{ name: 'production', nodes: [{ node: 'rk-a', role: 'server' }, { node: 'rk-b', role: 'server' }, { node: 'rk-c', role: 'server' }, { node: 'tower', role: 'agent' }] }]);

test('staging: a fresh Pi 5 gets the memory cgroup (one reboot), k3s from the install URL, and a kubeconfig', { timeout: 120_000 }, async () => {
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: other\n  user: {token: x}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\ncurrent-context: other\n', { mode: 0o644 });
  const r = await install(inventory(STAGING));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /pi: added cgroup_enable=memory to \/boot\/firmware\/cmdline\.txt \(backup: \/boot\/firmware\/cmdline\.txt\.bramble-bak\)/);
  assert.match(r.stdout, /^ {2}pi +server installed \(/m);
  assert.match(r.stdout, /cluster staging: ready/);
  assert.equal(lab.reboots('pi'), 1);
  assert.match(lab.readNodeFile('pi', '/boot/firmware/cmdline.txt')!, /^console=serial0,115200 .* rootwait cgroup_enable=memory\n$/);
  assert.doesNotMatch(lab.readNodeFile('pi', '/boot/firmware/cmdline.txt.bramble-bak')!, /cgroup_enable/);

  const installs = nodeLog('pi', 'k3s-install.log');
  assert.equal(installs.length, 1);
  assert.match(installs[0]!, /INSTALL_K3S_VERSION=v1\.35\.6\+k3s1 INSTALL_K3S_EXEC=server INSTALL_K3S_SKIP_DOWNLOAD= INSTALL_K3S_FORCE_RESTART= K3S_TOKEN= K3S_URL= args=$/);
  // The real install script wrote the unit and enabled it by its path, as it does on a board.
  assert.match(lab.readNodeFile('pi', '/etc/systemd/system/k3s.service')!, /^Description=Lightweight Kubernetes$/m);
  assert.ok(nodeLog('pi', 'systemctl.log').some((l) => / enable \/etc\/systemd\/system\/k3s\.service$/.test(l)));
  assert.ok(lab.downloads.includes('/install.sh'));

  const config = parse(lab.readNodeFile('pi', '/etc/rancher/k3s/config.yaml')!);
  assert.equal(config['cluster-init'], undefined, 'one server on SQLite: no cluster-init');
  assert.deepEqual(config.disable, ['traefik', 'local-storage']);
  assert.equal(config['token-file'], '/etc/rancher/k3s/bramble-token');
  assert.deepEqual(config['node-label'], ['bramble.dev/hardware=pi5', 'bramble.dev/cluster=staging']);
  for (const f of ['/etc/rancher/k3s/config.yaml', '/etc/rancher/k3s/bramble-token']) {
    assert.equal(statSync(join(lab.node('pi').dir, 'upper', 'etc', f.slice('/etc/'.length))).mode & 0o777, 0o600, f);
  }

  const kc = parse(readFileSync(kubeconfig, 'utf8'));
  assert.equal(statSync(kubeconfig).mode & 0o777, 0o600);
  assert.deepEqual(kc.contexts.map((c: { name: string }) => c.name), ['other', 'staging']);
  assert.equal(kc['current-context'], 'other', 'the owner\'s current context is kept');
  assert.equal(kc.clusters.find((c: { name: string }) => c.name === 'staging').cluster.server, `https://${lab.node('pi').address}:6443`);
  assert.doesNotMatch(r.stdout + r.stderr, /K10[0-9a-f]{20}/, 'the token is never printed');
});

test('a second run changes nothing: no reboot, no install, no restart', { timeout: 120_000 }, async () => {
  const before = { reboots: lab.reboots('pi'), installs: nodeLog('pi', 'k3s-install.log').length, systemctl: nodeLog('pi', 'systemctl.log').length };
  const r = await install(inventory(STAGING));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}pi +server unchanged$/m);
  // The lab's kernel has no iSCSI: iscsid dies either just after its start or, under load, before it is through.
  assert.match(r.stdout, /pi: WARNING iscsid (?:does not stay running|did not start \(Job for iscsid\.service failed)/);
  assert.equal(lab.reboots('pi'), before.reboots);
  assert.equal(nodeLog('pi', 'k3s-install.log').length, before.installs);
  assert.deepEqual(nodeLog('pi', 'systemctl.log').slice(before.systemctl).filter((l) => !/iscsid/.test(l)), []);
});

test('production: three servers join one at a time, the agent after them, all Ready', { timeout: 120_000 }, async () => {
  const r = await install(inventory(PRODUCTION), ['-v']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // The first server's turn follows the survey at once: what of k3s it has is read once, not again for its turn.
  assert.equal(r.stderr.split('\n').filter((l) => l.includes('rk-a: $ v=; [ -x /usr/local/bin/k3s ]')).length, 1, r.stderr);
  for (const n of ['rk-a', 'rk-b', 'rk-c']) assert.match(r.stdout, new RegExp(`^ {2}${n} +server installed`, 'm'));
  assert.match(r.stdout, /^ {2}tower +agent +installed/m);
  const first = parse(lab.readNodeFile('rk-a', '/etc/rancher/k3s/config.yaml')!);
  assert.equal(first['cluster-init'], true);
  assert.equal(first['etcd-expose-metrics'], true);
  const second = parse(lab.readNodeFile('rk-b', '/etc/rancher/k3s/config.yaml')!);
  assert.equal(second.server, `https://${lab.node('rk-a').address}:6443`);
  assert.deepEqual(second['tls-san'], ['rk-a', 'rk-b', 'rk-c'].map((n) => lab.node(n).address));
  const agent = parse(lab.readNodeFile('tower', '/etc/rancher/k3s/config.yaml')!);
  assert.equal(agent.disable, undefined);
  assert.deepEqual(agent['node-label'], ['bramble.dev/hardware=x86', 'bramble.dev/cluster=production']);
  // Joins happened in order, as the cluster saw them: each server joined after the one before was running, the agent last.
  const events = readFileSync(join(lab.root, 'cluster', 'events.log'), 'utf8').split('\n').filter(Boolean);
  const at = (line: string) => {
    const i = events.indexOf(line);
    assert.ok(i >= 0, `${line} in ${events.join(', ')}`);
    return i;
  };
  assert.ok(at('rk-a running') < at('rk-b joining'));
  assert.ok(at('rk-b running') < at('rk-c joining'));
  assert.ok(at('rk-c running') < at('tower running'));
  // Preparing waits for no join: the agent, last to join, was prepared before the second server's install began.
  const written = (n: string, f: string) => statSync(join(lab.node(n).dir, 'upper', 'etc', f.slice('/etc/'.length))).mtimeMs;
  assert.ok(written('tower', '/etc/modules-load.d/bramble-longhorn.conf') < written('rk-b', '/etc/systemd/system/k3s.service'));
  // Its token and config were written while the servers joined, so its own turn was the install alone.
  assert.ok(written('tower', '/etc/rancher/k3s/config.yaml') < written('rk-c', '/etc/systemd/system/k3s.service'));
  // Joining nodes got the full token (K10<CA hash>::server:...), not only the secret.
  assert.match(lab.readNodeFile('tower', '/etc/rancher/k3s/bramble-token')!, /^K10[0-9a-f]{64}::server:[0-9a-f]{64}\n$/);
  assert.equal(lab.readNodeFile('tower', '/etc/rancher/k3s/bramble-token'), lab.readNodeFile('rk-b', '/etc/rancher/k3s/bramble-token'));
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(lab.password));
});

test('a node whose k3s is as it should be is prepared without waiting for a turn, and nothing of k3s is touched', { timeout: 120_000 }, async () => {
  for (const n of ['rk-c', 'tower']) assert.equal(lab.nodeExec(n, 'rm /etc/modules-load.d/bramble-longhorn.conf').code, 0);
  const before = Object.fromEntries(['rk-a', 'rk-b', 'rk-c', 'tower'].map((n) => [n, nodeLog(n, 'systemctl.log').length]));
  const r = await install(inventory(PRODUCTION), ['-v']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // No turn: the API's node list is read once, at the start, and no node waits to be listed Ready again.
  assert.equal((r.stdout + r.stderr).split('\n').filter((l) => /: \$ k3s kubectl get nodes -o json/.test(l)).length, 1, r.stdout + r.stderr);
  // Each node is looked at once: the survey's look, moments old with nothing changed since, is what the writing prepare starts from.
  const lines = (r.stdout + r.stderr).split('\n');
  for (const n of ['rk-c', 'tower']) {
    assert.equal(lines.filter((l) => l.includes(`${n}: $ h=; read -r h < /proc/sys/kernel/hostname`)).length, 1, `${n}: one look\n${r.stderr}`);
    assert.equal(lines.filter((l) => l.includes(`${n}: $ if [ -e '/etc/modules-load.d/bramble-longhorn.conf' ]`)).length, 1, `${n}: one read of its modules file`);
  }
  // The first server's token is read once: the read that tells its survey what is there also gives the token the others join with.
  // (rk-b's sudo takes a password: its first privileged command goes out twice, the first refused by sudo before it ran.)
  for (const n of ['rk-a', 'rk-c', 'tower']) {
    assert.equal(lines.filter((l) => l.includes(`${n}: $ if [ -e '/etc/rancher/k3s/bramble-token' ]`)).length, 1, `${n}: one read of its token\n${r.stderr}`);
  }
  assert.match(r.stdout, /^ {2}rk-c +server unchanged \(wrote \/etc\/modules-load\.d\/bramble-longhorn\.conf\)$/m);
  assert.match(r.stdout, /^ {2}tower +agent +unchanged \(wrote \/etc\/modules-load\.d\/bramble-longhorn\.conf\)$/m);
  for (const n of ['rk-a', 'rk-b']) assert.match(r.stdout, new RegExp(`^ {2}${n} +server unchanged$`, 'm'));
  for (const n of ['rk-c', 'tower']) assert.equal(lab.readNodeFile(n, '/etc/modules-load.d/bramble-longhorn.conf'), 'iscsi_tcp\ndm_crypt\n', n);
  for (const n of ['rk-a', 'rk-b', 'rk-c', 'tower']) assert.deepEqual(nodeLog(n, 'systemctl.log').slice(before[n]!).filter((l) => !/iscsid/.test(l)), [], n);
});

test('a changed setting rewrites that node\'s config and restarts only it', { timeout: 120_000 }, async () => {
  const changed = PRODUCTION.replace(/(      - name: tower\n(?:        .*\n)*?        role: agent\n)/, '$1        labels: { gpu: "none" }\n');
  assert.notEqual(changed, PRODUCTION);
  const before = Object.fromEntries(['rk-a', 'rk-b', 'rk-c', 'tower'].map((n) => [n, nodeLog(n, 'systemctl.log').length]));
  const r = await install(inventory(changed));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}tower +agent +restarted \(wrote \/etc\/rancher\/k3s\/config\.yaml \(node-label\)\)$/m);
  for (const n of ['rk-a', 'rk-b', 'rk-c']) assert.match(r.stdout, new RegExp(`^ {2}${n} +server unchanged$`, 'm'));
  // The lab's kernel has no iSCSI, so every run tries iscsid again (and warns).
  assert.deepEqual(nodeLog('tower', 'systemctl.log').slice(before.tower!).map((l) => l.split(' ').slice(1).join(' ')).filter((l) => !/iscsid/.test(l)), ['restart k3s-agent']);
  assert.deepEqual(parse(lab.readNodeFile('tower', '/etc/rancher/k3s/config.yaml')!)['node-label'], ['bramble.dev/hardware=x86', 'bramble.dev/cluster=production', 'gpu=none']);
});

test('a version change is left to the upgrade Plans: the next minor changes nothing on the node, a skipped minor is refused', { timeout: 120_000 }, async () => {
  const before = nodeLog('pi', 'k3s-install.log').length;
  const next = await install(inventory(STAGING.replace('v1.35.6+k3s1', 'v1.36.1+k3s1')));
  assert.equal(next.code, 0, next.stdout + next.stderr);
  assert.match(next.stdout, /^ {2}pi +server unchanged; k3s v1\.35\.6\+k3s1 -> v1\.36\.1\+k3s1, by the k3s-server Plan once published$/m);
  const skip = await install(inventory(STAGING.replace('v1.35.6+k3s1', 'v1.37.0+k3s1')));
  assert.equal(skip.code, 1);
  assert.match(skip.stdout, /^ {2}pi +server FAILED at k3s upgrade: pi runs k3s v1\.35\.6\+k3s1; going to v1\.37\.0\+k3s1 skips a minor release/m);
  assert.equal(nodeLog('pi', 'k3s-install.log').length, before, 'the install script never ran');
  assert.match(lab.readNodeFile('pi', '/usr/local/bin/k3s') ?? '', /^k3s_standin\.VERSION = "v1\.35\.6\+k3s1"$/m);
});

test('an unreachable node is named with its step, and the others finish', { timeout: 120_000 }, async () => {
  await lab.powerOff('tower');
  try {
    const r = await install(inventory(PRODUCTION));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ {2}tower +agent +FAILED at connect: 198\.18\.\d+\.14:22: .*$/m);
    for (const n of ['rk-a', 'rk-b', 'rk-c']) assert.match(r.stdout, new RegExp(`^ {2}${n} +server unchanged$`, 'm'));
    assert.match(r.stdout, /cluster production: not complete; fix the failures above and run again \(finished nodes are kept\)/);
  } finally {
    await lab.powerOn('tower');
  }
});

test('air-gapped: the binary and script are uploaded over SFTP and run with INSTALL_K3S_SKIP_DOWNLOAD', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'k3s'), Lab.k3sBinary('v1.35.6+k3s1'));
  // Air-gapped, bramble uploads k3s's real install script itself: no lab wrapper in between.
  writeFileSync(join(dir, 'install.sh'), Lab.realInstallScript());
  const text = labInventory(lab, [{ name: 'offline', nodes: [{ node: 'air', role: 'server' }] }]).replace(
    '    version: v1.35.6+k3s1',
    `    version: v1.35.6+k3s1\n    installScriptUrl: http://198.18.255.254/unreachable.sh\n    airgap:\n      binary: ${join(dir, 'k3s')}\n      installScript: ${join(dir, 'install.sh')}`,
  );
  const downloads = lab.downloads.length;
  const f = join(tempDir(), 'inventory.yaml');
  writeFileSync(f, text);
  const r = await install(f);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(lab.readNodeFile('air', '/usr/local/lib/bramble/k3s-install.sh'), Lab.realInstallScript(), 'the real script was uploaded');
  assert.equal(lab.readNodeFile('air', '/usr/local/bin/k3s'), Lab.k3sBinary('v1.35.6+k3s1'), 'the uploaded binary, kept: the script skipped its download');
  assert.match(lab.readNodeFile('air', '/etc/systemd/system/k3s.service')!, /^ExecStart=\/usr\/local\/bin\/k3s \\\n\s+server \\$/m);
  assert.equal(nodeLog('air', 'k3s-install.log').length, 0, 'the lab wrapper never ran');
  assert.equal(lab.downloads.length, downloads, 'nothing was downloaded');
});

test('prepare gives a node the hostname the inventory names it by; an iscsid that will not start is a warning, and k3s is installed', { timeout: 120_000 }, async () => {
  // The owner masked iscsid: systemd refuses to enable or start it, as iscsid itself can fail its start on a kernel without iSCSI.
  assert.equal(lab.nodeExec('blank', 'ln -s /dev/null /etc/systemd/system/iscsid.service').code, 0);
  const text = labInventory(lab, [{ name: 'edge', nodes: [{ node: 'worker-1', role: 'server', hardware: 'x86', address: lab.node('blank').address }] }]);
  const r = await install(inventory(text));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}worker-1: WARNING iscsid did not start \(Failed to enable unit: Unit file \/etc\/systemd\/system\/iscsid\.service is masked\.\); Longhorn needs it$/m);
  assert.match(r.stdout, /^ {2}worker-1 +server installed \(/m);
  assert.match(r.stdout, /worker-1: hostname blank -> worker-1/);
  assert.equal(lab.readNodeFile('blank', '/etc/hostname'), 'worker-1\n');
  assert.match(lab.readNodeFile('blank', '/etc/hosts')!, /^127\.0\.1\.1 worker-1$/m);
  assert.equal(parse(lab.readNodeFile('blank', '/etc/rancher/k3s/config.yaml')!)['node-name'], 'worker-1');
});

test('a node that does not come back from its reboot in time fails with that reason, and so does one that never goes down', { timeout: 120_000 }, async () => {
  const alone = (name: string, node: string) => install(inventory(labInventory(lab, [{ name, nodes: [{ node, role: 'server' }] }])), ['--timeout', '4']);
  const [r, stuck] = await Promise.all([alone('slow', 'slow-pi'), alone('stuck', 'stuck-pi')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^ {2}slow-pi +server +FAILED at wait for reboot: did not come back within 4 s/m);
  // Its sshd answered all along, so every session was the old boot's: none was taken for the new one.
  assert.equal(stuck.code, 1);
  assert.match(stuck.stdout, /^ {2}stuck-pi +server +FAILED at wait for reboot: did not come back within 4 s \(last: it still runs the boot from before the reboot\)$/m);
  assert.equal(lab.reboots('stuck-pi'), 0);
});

test('reset asks first; with --yes it uninstalls agents, then servers', { timeout: 120_000 }, async () => {
  const inv = inventory(PRODUCTION);
  const refused = bramble(['reset', '-i', inv, '-c', 'production', '--known-hosts', knownHosts]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /reset would uninstall k3s, and every workload and volume on it, from 4 node\(s\) of cluster production\. Run it at a terminal to confirm, or pass --yes\./);
  assert.ok(lab.readNodeFile('tower', '/etc/rancher/k3s/config.yaml'));

  const r = await brambleAsync(['reset', '-i', inv, '-c', 'production', '--known-hosts', knownHosts, '--yes'], { BRAMBLE_SUDO_PASSWORD: lab.password });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const order = [...r.stdout.matchAll(/^ {2}(\S+): uninstalling k3s$/gm)].map((m) => m[1]);
  assert.deepEqual(order, ['tower', 'rk-c', 'rk-b', 'rk-a']);
  for (const n of ['rk-a', 'rk-b', 'rk-c', 'tower']) {
    assert.equal(lab.readNodeFile(n, '/etc/rancher/k3s/config.yaml'), undefined, n);
    assert.equal(lab.readNodeFile(n, '/usr/local/bin/k3s'), undefined, n);
  }
  const again = await brambleAsync(['reset', '-i', inv, '-c', 'production', '--known-hosts', knownHosts, '--yes'], { BRAMBLE_SUDO_PASSWORD: lab.password });
  assert.equal(again.code, 0);
  assert.match(again.stdout, /^ {2}tower +agent +unchanged: k3s is not installed; kept on purpose: the packages open-iscsi and nfs-common \(Longhorn's iSCSI and NFS clients; apt-get remove them if nothing else uses them\)$/m);
});
