// `bramble preflight` on lab nodes: verdicts per node, reasons, exit codes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { judge, parseFacts } from '../src/nodes/preflight.ts';
import { parseInventory } from '../src/inventory/load.ts';
import { bramble, tempDir } from './helpers.ts';
import { labInventory, startLab } from './lab-helpers.ts';

const lab = await startLab([
  { name: 'pi', board: 'pi5' },
  { name: 'rk-a', board: 'rk1' },
  { name: 'rk-b', board: 'rk1', sudo: 'password' },
  { name: 'rk-c', board: 'rk1' },
  { name: 'tower', board: 'x86' },
]);

function write(text: string): string {
  const f = join(tempDir(), 'inventory.yaml');
  writeFileSync(f, text);
  return f;
}

function knownHosts(): string {
  const f = join(tempDir(), 'known_hosts');
  writeFileSync(f, lab.knownHosts());
  return f;
}

function preflight(inventory: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return bramble(['preflight', '-i', inventory, '--known-hosts', knownHosts(), ...extra], undefined, { BRAMBLE_SUDO_PASSWORD: lab.password, ...env });
}

function lineOf(out: string, node: string, check: string): string {
  const block = out.split(/\n(?=\S)/).find((b) => b.includes(`/${node} (`)) ?? '';
  return block.split('\n').find((l) => l.trim().split(/\s+/)[1] === check.split(' ')[0]) ?? `(no ${check} line for ${node})`;
}

test('a fresh Pi 5: passes, with the fixable things as warnings', () => {
  const r = preflight(write(labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server' }] }])));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^staging\/pi \(198\.18\.\d+\.10\): WARN$/m);
  assert.match(lineOf(r.stdout, 'pi', 'board'), /ok +board +Raspberry Pi 5 Model B Rev 1\.0 \(aarch64\)/);
  assert.match(lineOf(r.stdout, 'pi', 'sudo'), /ok +sudo +works without a password/);
  assert.match(lineOf(r.stdout, 'pi', 'memory cgroup'), /WARN memory cgroup +disabled; prepare adds cgroup_enable=memory/);
  assert.match(lineOf(r.stdout, 'pi', 'k3s'), /ok +k3s +not installed/);
  assert.match(r.stdout, /preflight passed on 1 node\(s\) \(with warnings\)\n$/);
});

test('an HA cluster with an x86 agent: boards, sudo with a password, all nodes at once', () => {
  const inv = labInventory(lab, [{ name: 'production', nodes: [{ node: 'rk-a', role: 'server' }, { node: 'rk-b', role: 'server' }, { node: 'rk-c', role: 'server' }, { node: 'tower', role: 'agent' }] }]);
  const r = preflight(write(inv));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(lineOf(r.stdout, 'rk-b', 'sudo'), /ok +sudo +works with the password given/);
  assert.match(lineOf(r.stdout, 'rk-a', 'board'), /ok +board +Turing Machines RK1 \(aarch64\)/);
  assert.match(lineOf(r.stdout, 'tower', 'board'), /ok +board +x86_64/);
  assert.match(lineOf(r.stdout, 'rk-a', 'memory cgroup'), /ok +memory cgroup +enabled/);
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(lab.password));
});

test('a board that does not match its profile fails, with what the node really is', () => {
  const inv = labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server', hardware: 'rk1' }] }]);
  const r = preflight(write(inv));
  assert.equal(r.code, 1);
  assert.match(lineOf(r.stdout, 'pi', 'board'), /FAIL board +the inventory says rk1 \(an aarch64 RK3588\) but the node is Raspberry Pi 5 Model B Rev 1\.0 \(aarch64\), compatible raspberrypi,5-model-b,brcm,bcm2712/);
  assert.match(r.stdout, /preflight failed on pi: fix the FAIL lines before installing/);
});

test('an unreachable node is named while the others are still checked', async () => {
  await lab.powerOff('rk-c');
  try {
    const inv = labInventory(lab, [{ name: 'production', nodes: [{ node: 'rk-a', role: 'server' }, { node: 'rk-b', role: 'server' }, { node: 'rk-c', role: 'server' }] }]);
    const r = preflight(write(inv));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /production\/rk-c \(198\.18\.\d+\.13\): FAIL\n {2}FAIL ssh +connect: 198\.18\.\d+\.13:22: connect ECONNREFUSED|production\/rk-c .*FAIL\n {2}FAIL ssh +connect: /);
    assert.match(r.stdout, /production\/rk-a \(198\.18\.\d+\.11\): WARN/);
    assert.match(r.stdout, /preflight failed on rk-c:/);
  } finally {
    await lab.powerOn('rk-c');
  }
});

test('a node whose host key is unknown fails preflight unless keys may be accepted', () => {
  const inv = write(labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server' }] }]));
  const empty = join(tempDir(), 'known_hosts');
  const r = bramble(['preflight', '-i', inv, '--known-hosts', empty]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL ssh +host key: unknown host key SHA256:/);
  const ok = bramble(['preflight', '-i', inv, '--known-hosts', empty, '--accept-new-host-keys']);
  assert.equal(ok.code, 0, ok.stdout);
});

test('the NAS: a real NFS server answers from the node; when the NAS is down preflight fails with that reason', async () => {
  const nas = await lab.startNas(['/export/k8s']);
  const inv = write(labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server' }] }], { nasAddress: nas }));
  const up = preflight(inv);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.match(lineOf(up.stdout, 'pi', 'nas'), /ok +nas +NFS on labnas \(198\.18\.\d+\.5:2049\) answers/);
  // The lab's kernel has no NFS client, so the export itself is reported as not checked.
  assert.match(up.stdout, /WARN nfs export +labnas:\/export\/k8s not checked: this node's kernel has no NFS client/);
  await lab.stopNas();
  const down = preflight(inv);
  assert.equal(down.code, 1);
  assert.match(lineOf(down.stdout, 'pi', 'nas'), /FAIL nas +NFS on labnas \(198\.18\.\d+\.5:2049\) is not reachable from this node; is the NAS up and the port open to VLAN 100\?/);
});

test('judge: the rules that the lab cannot show', () => {
  const inv = parseInventory(labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server' }] }]), 'x.yaml');
  const cluster = inv.clusters[0]!;
  const node = cluster.nodes[0]!;
  const base = parseFacts('arch=aarch64\nmodel=Raspberry Pi 5 Model B Rev 1.0\ncores=4\nmem_kb=8000000\nswap_kb=0\ncgroup_controllers=cpu memory\npage_size=4096\ndisk_free_kb=100000000\nntp=yes\nepoch=1000\npkg_open-iscsi=install ok installed\npkg_nfs-common=install ok installed\niscsid=running\nk3s_version=\n');
  const verdicts = (f: Record<string, string>, now = 1000) => Object.fromEntries(judge(node, cluster, inv, f, now).map((c) => [c.name, `${c.verdict}: ${c.detail}`]));
  assert.deepEqual(Object.values(verdicts(base)).filter((v) => !v.startsWith('pass')), []);
  assert.match(verdicts({ ...base, page_size: '16384' })['page size']!, /^warn: 16K pages.*kernel=kernel8\.img/);
  assert.match(verdicts({ ...base, swap_kb: '2097152' }).swap!, /^warn: 2\.0 GiB of swap is on/);
  assert.match(verdicts({ ...base, disk_free_kb: String(5 * 1024 * 1024) }).disk!, /^fail: 5 GiB free on \/var\/lib: k3s and Longhorn need at least 10 GiB/);
  assert.match(verdicts(base, 1100).clock!, /^fail: the node's clock is 100 s off/);
  assert.match(verdicts({ ...base, ntp: 'no' }).clock!, /^warn: .*NTP synchronisation is off/);
  const installed = { k3s_unit: 'k3s', k3s_enabled: 'enabled', k3s_active: 'active', k3s_uninstall: 'k3s-uninstall.sh' };
  assert.match(verdicts({ ...base, ...installed, k3s_version: 'v1.34.2+k3s1' }).k3s!, /^pass: v1\.34\.2\+k3s1 is installed \(server\); the inventory says v1\.35\.6\+k3s1, which the upgrade Plans bring once published/);
  assert.match(verdicts({ ...base, ...installed, k3s_version: 'v1.35.6+k3s1' }).k3s!, /^pass: v1\.35\.6\+k3s1 installed \(server\)$/);
  // An install cut short (a binary alone), and an installed unit that is disabled and stopped, which the script would not start.
  assert.equal(verdicts({ ...base, k3s_version: 'v1.35.6+k3s1' }).k3s, 'warn: an install was cut short: the k3s v1.35.6+k3s1 binary in place, but not the systemd unit; install and apply complete it by running the install script again');
  assert.equal(
    verdicts({ ...base, ...installed, k3s_enabled: 'disabled', k3s_active: 'inactive', k3s_version: 'v1.35.6+k3s1' }).k3s,
    'warn: k3s is installed but not enabled and not running (k3s); install and apply enable and start it (the install script would skip the start: nothing it writes changed)',
  );
  assert.equal(
    verdicts({ ...base, ...installed, k3s_active: 'inactive', k3s_version: 'v1.35.6+k3s1' }).k3s,
    'warn: k3s is installed but not running (k3s); install and apply enable and start it (the install script would skip the start: nothing it writes changed)',
  );
  // Without its uninstall script, the unit is an install cut short (the script writes the unit after it).
  assert.match(verdicts({ ...base, ...installed, k3s_uninstall: '', k3s_active: 'inactive', k3s_version: 'v1.35.6+k3s1' }).k3s!, /^warn: an install was cut short: /);
  assert.match(verdicts({ ...base, 'pkg_open-iscsi': '' }).packages!, /^warn: missing open-iscsi/);
  const withNas = parseInventory(labInventory(lab, [{ name: 'staging', nodes: [{ node: 'pi', role: 'server' }] }], { nasAddress: `${lab.gateway.replace(/\.1$/, '')}.5` }), 'x.yaml');
  const nasChecks = (f: Record<string, string>) => judge(withNas.clusters[0]!.nodes[0]!, withNas.clusters[0]!, withNas, { ...base, nas_nfs: 'open', ...f }, 1000).filter((c) => c.name === 'nfs export').map((c) => `${c.verdict}: ${c.detail}`);
  assert.deepEqual(nasChecks({ 'export_nfs-lab': 'ok' }), ['pass: labnas:/export/k8s mounts (read-only test)']);
  assert.deepEqual(nasChecks({ 'export_nfs-lab': 'missing mount.nfs4: mounting 198.18.0.5:/export/k8s failed, reason given by server: No such file or directory' }), [
    'fail: labnas:/export/k8s cannot be mounted: mount.nfs4: mounting 198.18.0.5:/export/k8s failed, reason given by server: No such file or directory; is it exported to VLAN 100?',
  ]);
  assert.match(verdicts({ ...base, arch: 'x86_64', model: '' }).board!, /^fail: the inventory says pi5 .* but the node is no device-tree model \(x86_64\)/);
});
