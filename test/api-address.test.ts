// An HA cluster's one API address, on the lab: kube-vip's manifest goes into
// each server's auto-deploy folder, the address answers before any node
// joins, joins and the kubeconfig use it, the holder moves when its server
// stops, and the address is taken away again when the inventory drops it.
// The k3s stand-in plays kube-vip (see docs/testing.md): it answers for the
// address only while a DaemonSet that kube-vip could really run from is in the
// cluster and a server it may run on is up.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { brambleAsync, tempDir } from './helpers.ts';
import { labInventory, startLab } from './lab-helpers.ts';

const lab = await startLab([
  { name: 'va', board: 'rk1' },
  { name: 'vb', board: 'rk1' },
  { name: 'vc', board: 'rk1' },
  { name: 'vw', board: 'x86' },
]);
const url = await lab.serveInstallScript();
const knownHosts = join(tempDir(), 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts());
const kubeconfig = join(tempDir(), 'config');
const VIP = lab.gateway.replace(/\.1$/, '.100');
const MANIFEST = '/var/lib/rancher/k3s/server/manifests/bramble-kube-vip.yaml';
const SERVERS = ['va', 'vb', 'vc'];

const base = labInventory(lab, [{ name: 'ha', nodes: [{ node: 'va', role: 'server' }, { node: 'vb', role: 'server' }, { node: 'vc', role: 'server' }, { node: 'vw', role: 'agent' }] }]).replace(
  '    version: v1.35.6+k3s1',
  `    version: v1.35.6+k3s1\n    installScriptUrl: ${url}`,
);
const withAddress = (extra = '') => base.replace('  - name: ha\n    vlan: 100\n', `  - name: ha\n    vlan: 100\n    apiEndpoint: ${VIP}\n${extra}`);

function inventory(text: string): string {
  const f = join(tempDir(), 'inventory.yaml');
  writeFileSync(f, text);
  return f;
}
const run = (args: string[], inv: string) => brambleAsync([...args, '-i', inv, '--known-hosts', knownHosts], { BRAMBLE_SUDO_PASSWORD: lab.password });
const install = (inv: string) => run(['install', '--kubeconfig', kubeconfig, '--timeout', '8'], inv);
const events = () => readFileSync(join(lab.root, 'cluster', 'events.log'), 'utf8').split('\n').filter(Boolean);

test('an address nothing holds stops the install after the first server: no node joins through it', { timeout: 120_000 }, async () => {
  // The owner says the site answers there itself, and nothing does.
  const r = await install(inventory(withAddress('    k3s:\n      kubeVip:\n        enabled: false\n')));
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`^ {2}va +server FAILED at wait for the API address: https://${VIP.replaceAll('.', '\\.')}:6443 does not answer after 8 s: nothing answers at ${VIP.replaceAll('.', '\\.')} \\(k3s\\.kubeVip\\.enabled is false: the site provides this address\\); last: .*i/o timeout\\. No other node joins until it does$`, 'm'),
  );
  for (const n of ['vb', 'vc', 'vw']) assert.match(r.stdout, new RegExp(`^ {2}${n} +\\w+ +skipped`, 'm'));
  assert.deepEqual(events().filter((e) => !e.startsWith('va ')), [], 'no other node tried to join');
  assert.equal(lab.readNodeFile('va', MANIFEST), undefined, 'no kube-vip when the site holds the address');
  assert.ok(parse(lab.readNodeFile('va', '/etc/rancher/k3s/config.yaml')!)['tls-san'].includes(VIP), "the address is in the first server's certificate");
});

test('with kube-vip the address answers before the joins, which go through it; the kubeconfig names it', { timeout: 180_000 }, async () => {
  const r = await install(inventory(withAddress()));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^ {2}va +server unchanged \\(wrote ${MANIFEST} \\(kube-vip v1\\.2\\.3 holding ${VIP.replaceAll('.', '\\.')}\\)\\)$`, 'm'));
  for (const n of ['vb', 'vc']) {
    assert.match(r.stdout, new RegExp(`^ {2}${n} +server installed`, 'm'));
    assert.equal(parse(lab.readNodeFile(n, '/etc/rancher/k3s/config.yaml')!).server, `https://${VIP}:6443`);
  }
  assert.equal(parse(lab.readNodeFile('vw', '/etc/rancher/k3s/config.yaml')!).server, `https://${VIP}:6443`);
  // The manifest is on every server, 0600, and on no agent.
  for (const n of SERVERS) {
    assert.match(lab.readNodeFile(n, MANIFEST) ?? '', new RegExp(`name: address\\n\\s+value: ${VIP.replaceAll('.', '\\.')}`), n);
    assert.equal(statSync(join(lab.node(n).dir, 'upper', 'var-lib', MANIFEST.slice('/var/lib/'.length))).mode & 0o777, 0o600, n);
  }
  assert.equal(lab.readNodeFile('vw', MANIFEST), undefined);
  assert.equal(parse(readFileSync(kubeconfig, 'utf8')).clusters.find((c: { name: string }) => c.name === 'ha').cluster.server, `https://${VIP}:6443`);
  const status = await run(['status', '-c', 'ha', '--kubeconfig', kubeconfig], inventory(withAddress()));
  assert.match(status.stdout, new RegExp(`^ {2}api: https://${VIP.replaceAll('.', '\\.')}:6443 answers \\(kube-vip on va\\)$`, 'm'));
  // Every node Ready and Flux not handed over yet: not a fault; the next step is named, and status exits 0.
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /^ {4}Flux not installed yet: bramble flux -i \S+ -c ha \(or bramble apply\) hands the cluster over$/m);
  assert.ok(status.stdout.includes(`  kubeconfig: context "ha" in ${kubeconfig}\n`), status.stdout);
  // A cluster none of whose servers answers: named once, each server with its own cause, exit 1.
  const away = await run(['status', '-c', 'ha'], inventory(withAddress().replace(/^( {2}ssh:\n)/m, '$1    port: 2299\n')));
  assert.equal(away.code, 1);
  assert.match(away.stdout, /^cluster ha: unreachable: no server answers: va: .+; vb: .+; vc: .+$/m);
  assert.doesNotMatch(away.stdout, /ha: connect: |va: connect: /);
  // A second run finds everything in place.
  const again = await install(inventory(withAddress()));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  for (const n of [...SERVERS, 'vw']) assert.match(again.stdout, new RegExp(`^ {2}${n} +\\w+ +unchanged$`, 'm'));
});

test('when the server holding the address stops, another takes it and the API still answers there', { timeout: 120_000 }, async () => {
  await lab.powerOff('va');
  lab.k3sDown('va');
  try {
    const status = await run(['status', '-c', 'ha'], inventory(withAddress()));
    assert.match(status.stdout, /^cluster ha \(via vb;/m);
    assert.match(status.stdout, new RegExp(`^ {2}api: https://${VIP.replaceAll('.', '\\.')}:6443 answers \\(kube-vip on vb\\)$`, 'm'));
    assert.match(status.stdout, /^ {4}va +server NotReady/m);
    assert.equal(status.code, 1, 'a node not Ready');
  } finally {
    await lab.powerOn('va');
    lab.k3sUp('va');
  }
});

test('dropping the address: plan names what goes, install deletes kube-vip and points the nodes back at the first server', { timeout: 180_000 }, async () => {
  const inv = inventory(base);
  const remote = join(tempDir(), 'remote.git');
  execFileSync('git', ['init', '-q', '--bare', remote]);
  const plan = await run(['plan', '--repo', join(tempDir(), 'work'), '--remote', remote], inv);
  assert.equal(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, new RegExp(`remove ${MANIFEST} and the kube-vip objects \\(the inventory no longer asks for kube-vip\\)`));
  assert.ok(lab.readNodeFile('va', MANIFEST), 'plan changed nothing');
  const r = await run(['install', '--kubeconfig', kubeconfig, '--timeout', '20'], inv);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const n of SERVERS) assert.equal(lab.readNodeFile(n, MANIFEST), undefined, n);
  assert.equal(parse(lab.readNodeFile('vb', '/etc/rancher/k3s/config.yaml')!).server, `https://${lab.node('va').address}:6443`);
  const status = await run(['status', '-c', 'ha'], inv);
  assert.match(status.stdout, new RegExp(`^ {2}api: https://${lab.node('va').address.replaceAll('.', '\\.')}:6443 answers \\(the first server's address; an apiEndpoint would outlive it\\)$`, 'm'));
  // The address is gone with the objects: nothing answers there any more.
  const held = await run(['status', '-c', 'ha'], inventory(withAddress('    k3s:\n      kubeVip:\n        enabled: false\n')));
  assert.match(held.stdout, new RegExp(`^ {2}api: https://${VIP.replaceAll('.', '\\.')}:6443 DOES NOT ANSWER \\(.*i/o timeout\\)`, 'm'));
});
