// The HA API address: which clusters run kube-vip, the manifest bramble puts
// in the servers' auto-deploy folder (checked against the Kubernetes API
// schemas), and the address every joining node and the kubeconfig use. The
// lab runs it end to end in install.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { parseInventory } from '../src/inventory/load.ts';
import { InventoryError } from '../src/inventory/problems.ts';
import { apiUrl, k3sConfig } from '../src/k3s/config.ts';
import { kubeVipManifest } from '../src/k3s/kube-vip.ts';
import { HOMELAB } from './helpers.ts';

const reference = readFileSync(HOMELAB, 'utf8');
const load = (text = reference) => parseInventory(text, 'h.yaml');
const cluster = (name: string, text = reference) => load(text).clusters.find((c) => c.name === name)!;
const withProduction = (lines: string) => reference.replace('    apiEndpoint: 192.168.100.19\n', lines);

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: any };
  [k: string]: any;
}
const objectsOf = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj);

test('the HA production cluster runs kube-vip for its API address; staging keeps its server address', () => {
  const production = cluster('production');
  assert.deepEqual(production.kubeVip, { address: '192.168.100.19', image: 'ghcr.io/kube-vip/kube-vip', version: 'v1.2.3' });
  assert.equal(apiUrl(production), 'https://192.168.100.19:6443');
  const staging = cluster('staging');
  assert.equal(staging.kubeVip, undefined);
  assert.equal(kubeVipManifest(staging), undefined);
  assert.equal(apiUrl(staging), 'https://192.168.100.10:6443');
});

test('servers name the address in their certificate and every other node joins through it', () => {
  const production = cluster('production');
  const [first, second] = production.servers;
  const one = parseYaml(k3sConfig(production, first!));
  assert.equal(one.server, undefined, 'the first server starts the cluster');
  assert.deepEqual(one['tls-san'], ['192.168.100.11', '192.168.100.12', '192.168.100.13', '192.168.100.19']);
  assert.equal(parseYaml(k3sConfig(production, second!)).server, 'https://192.168.100.19:6443');
  const planned = { ...production.nodes.find((n) => n.name === 'rk1-4')!, planned: false };
  assert.equal(parseYaml(k3sConfig(production, planned)).server, 'https://192.168.100.19:6443', 'an agent joins through it too');
});

test('the manifest holds what kube-vip needs to take the address, and each object passes its API schema', () => {
  const text = kubeVipManifest(cluster('production'))!;
  assert.match(text, /^# Written by bramble for cluster production: kube-vip v1\.2\.3 holds the API address 192\.168\.100\.19\./);
  const objects = objectsOf(text);
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    ['ServiceAccount/kube-vip', 'ClusterRole/system:kube-vip-role', 'ClusterRoleBinding/system:kube-vip-binding', 'DaemonSet/kube-vip-ds'],
  );
  const ds = objects[3]!;
  // Parsed back from the file and validated again: what k3s will read is what passed.
  new DaemonSet(ds as never).validate();
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true, 'the address goes on the node, not in a pod');
  assert.equal(pod.serviceAccountName, objects[0]!.metadata.name);
  assert.deepEqual(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [
    { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] },
  ]);
  assert.deepEqual(pod.tolerations.map((t: { effect: string }) => t.effect), ['NoSchedule', 'NoExecute']);
  const container = pod.containers[0];
  assert.equal(container.image, 'ghcr.io/kube-vip/kube-vip:v1.2.3');
  assert.deepEqual(container.args, ['manager']);
  assert.deepEqual(container.securityContext.capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
  const env = Object.fromEntries(container.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
  assert.deepEqual(
    { address: env.address, port: env.port, vip_arp: env.vip_arp, cp_enable: env.cp_enable, svc_enable: env.svc_enable, vip_leaderelection: env.vip_leaderelection, cp_namespace: env.cp_namespace },
    { address: '192.168.100.19', port: '6443', vip_arp: 'true', cp_enable: 'true', svc_enable: 'false', vip_leaderelection: 'true', cp_namespace: 'kube-system' },
  );
  assert.equal(env.vip_interface, undefined, "without an interface kube-vip uses the default route's");
  // The service account may take the leader lease: without it no server ever holds the address.
  const binding = objects[2]!;
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'kube-vip', namespace: 'kube-system' }]);
  assert.equal(binding.roleRef.name, objects[1]!.metadata.name);
  const leases = objects[1]!.rules.find((r: { resources: string[] }) => r.resources.includes('leases'));
  assert.deepEqual(leases.apiGroups, ['coordination.k8s.io']);
  for (const verb of ['get', 'create', 'update']) assert.ok(leases.verbs.includes(verb), verb);
});

test('an interface, a mirrored image and another release reach the manifest', () => {
  const text = withProduction('    apiEndpoint: 192.168.100.19\n    k3s:\n      kubeVip:\n        interface: end0\n        image: registry.home.arpa/kube-vip/kube-vip\n        version: v1.2.2\n');
  const ds = objectsOf(kubeVipManifest(cluster('production', text))!)[3]!;
  const container = ds.spec.template.spec.containers[0];
  assert.equal(container.image, 'registry.home.arpa/kube-vip/kube-vip:v1.2.2');
  assert.ok(container.env.some((e: { name: string; value: string }) => e.name === 'vip_interface' && e.value === 'end0'));
  assert.equal(ds.metadata.labels['app.kubernetes.io/version'], 'v1.2.2');
});

test('a DNS name, or an address the site answers at itself, is used by the nodes without kube-vip', () => {
  const named = cluster('production', withProduction('    apiEndpoint: k8s.home.arpa\n'));
  assert.equal(named.kubeVip, undefined);
  assert.equal(apiUrl(named), 'https://k8s.home.arpa:6443');
  assert.equal(parseYaml(k3sConfig(named, named.servers[1]!)).server, 'https://k8s.home.arpa:6443');
  const theirs = cluster('production', withProduction('    apiEndpoint: 192.168.100.19\n    k3s:\n      kubeVip:\n        enabled: false\n'));
  assert.equal(theirs.kubeVip, undefined);
  assert.equal(kubeVipManifest(theirs), undefined);
  assert.equal(apiUrl(theirs), 'https://192.168.100.19:6443');
});

test('validate refuses an API address that is taken, in a DHCP pool or off the VLAN, and a bad interface, each at its field', () => {
  const problems = (text: string) => {
    try {
      load(text);
    } catch (e) {
      if (e instanceof InventoryError) return e.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
      throw e;
    }
    return [];
  };
  assert.deepEqual(problems(withProduction('    apiEndpoint: 192.168.100.20\n')), ['clusters.1.apiEndpoint: address 192.168.100.20 is already used by the NAS']);
  assert.deepEqual(problems(withProduction('    apiEndpoint: 192.168.100.13\n')), ['clusters.1.apiEndpoint: address 192.168.100.13 is already used by node rk1-3']);
  assert.deepEqual(problems(withProduction('    apiEndpoint: 192.168.100.200\n')), [
    'clusters.1.apiEndpoint: 192.168.100.200 is inside the DHCP pool of VLAN 100 (ServerLAN) 192.168.100.150-192.168.100.254; use a static address outside it',
  ]);
  assert.deepEqual(problems(withProduction('    apiEndpoint: 192.168.30.19\n')), ['clusters.1.apiEndpoint: 192.168.30.19 is outside VLAN 100 (ServerLAN) subnet 192.168.100.0/24']);
  const bad = problems(withProduction('    apiEndpoint: 192.168.100.19\n    k3s:\n      kubeVip:\n        interface: "eth0; reboot"\n'));
  assert.equal(bad.length, 1, bad.join('\n'));
  assert.match(bad[0]!, /^clusters\.1\.k3s\.kubeVip\.interface: /);
});
