// The client's address reaches Traefik, where the allow-list in front of
// Grafana and the dashboard checks it: the Service keeps external traffic on
// the node it arrives at, and Traefik runs on every node. With an ingress
// address, kube-vip holds one stable address for Traefik instead of every
// node's. The Service the chart would make from the rendered values passes the
// Kubernetes Service API's schema.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Service } from 'kubernetes-models/v1/Service';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { loadInventory, parseInventory } from '../src/inventory/load.ts';
import { formatPath, InventoryError } from '../src/inventory/problems.ts';
import { kubeVipManifest } from '../src/k3s/kube-vip.ts';
import { renderInventory } from '../src/render/render.ts';
import { HOMELAB } from './helpers.ts';

const TEXT = readFileSync(HOMELAB, 'utf8');

function traefikValues(out: Awaited<ReturnType<typeof renderInventory>>, cluster: string): Record<string, any> {
  const d = out.docs.find((x) => x.file === `clusters/${cluster}/infrastructure/controllers/traefik.yaml` && x.object.kind === 'HelmRelease')!;
  return (d.object.spec as { values: Record<string, any> }).values;
}

/** The Service the Traefik chart makes: type LoadBalancer, its ports, and `service.spec` merged in (as its template does). */
function chartService(values: Record<string, any>): Service {
  return new Service({
    metadata: { name: 'traefik', namespace: 'traefik', annotations: values.service?.annotations },
    spec: {
      type: 'LoadBalancer',
      selector: { 'app.kubernetes.io/name': 'traefik' },
      ports: [
        { name: 'web', port: 80, targetPort: 'web' as never, protocol: 'TCP' },
        { name: 'websecure', port: 443, targetPort: 'websecure' as never, protocol: 'TCP' },
      ],
      ...values.service?.spec,
    },
  });
}

function edited(edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(TEXT);
  edit(doc);
  return doc.toString();
}

function problems(text: string): string[] {
  try {
    parseInventory(text, 'edited.yaml');
  } catch (e) {
    if (e instanceof InventoryError) return e.problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
    throw e;
  }
  return [];
}

test('the Service keeps the client address wherever the allow-list checks it: Local traffic policy, Traefik on every node, no forwarded-header trust', async () => {
  const out = await renderInventory(await loadInventory(HOMELAB));
  for (const cluster of ['staging', 'production']) {
    const values = traefikValues(out, cluster);
    const service = chartService(values);
    service.validate();
    const allowLists = out.docs.filter((d) => d.file.startsWith(`clusters/${cluster}/`) && d.object.kind === 'Middleware' && (d.object.spec as any)?.ipAllowList);
    assert.equal(allowLists.length, 2, `${cluster}: the dashboard's and Grafana's`);
    for (const m of allowLists) {
      const allow = (m.object.spec as any).ipAllowList;
      // Traefik would then take the address from X-Forwarded-For, which any client can write.
      assert.equal(allow.ipStrategy, undefined, `${cluster} ${m.object.metadata?.namespace}: the allow-list checks the connection's own address`);
      assert.deepEqual(allow.sourceRange, ['192.168.30.0/24', '192.168.100.0/24']);
    }
    // What makes that address the client's: through ServiceLB with Cluster, it would be a node's or svclb's.
    assert.equal(service.spec!.externalTrafficPolicy, 'Local', `${cluster}: external traffic stays on its node`);
    assert.equal(values.deployment.kind, 'DaemonSet', `${cluster}: a Traefik on every node ServiceLB advertises`);
    assert.equal(values.deployment.replicas, undefined);
    assert.equal(service.spec!.loadBalancerClass, undefined, `${cluster}: without an ingress address, ServiceLB's`);
  }
});

test('an ingress address: kube-vip holds it for a Service of its class (which ServiceLB leaves alone), beside the API address or alone', async () => {
  const text = edited((d) => {
    d.setIn(['clusters', 0, 'ingressAddress'], '192.168.100.18');
    d.setIn(['clusters', 1, 'ingressAddress'], '192.168.100.17');
  });
  const inv = parseInventory(text, 'ingress.yaml');
  const out = await renderInventory(inv);
  for (const [cluster, address] of [['staging', '192.168.100.18'], ['production', '192.168.100.17']] as const) {
    const service = chartService(traefikValues(out, cluster));
    service.validate();
    assert.equal(service.spec!.loadBalancerClass, 'kube-vip.io/kube-vip-class');
    assert.deepEqual(service.metadata!.annotations, { 'kube-vip.io/loadbalancerIPs': address });
    assert.equal(service.spec!.externalTrafficPolicy, 'Local', 'kube-vip then elects a node with a Traefik pod');
  }
  const env = (cluster: string) => {
    const c = inv.clusters.find((x) => x.name === cluster)!;
    const docs = parseAllDocuments(kubeVipManifest(c)!).map((d) => d.toJS());
    const ds = docs.find((d) => d.kind === 'DaemonSet');
    return Object.fromEntries((ds.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
  };
  // Production: the API address and Traefik's.
  const production = env('production');
  assert.equal(production.cp_enable, 'true');
  assert.equal(production.address, '192.168.100.19');
  assert.equal(production.svc_enable, 'true');
  assert.equal(production.svc_election, 'true');
  assert.equal(production.lb_class_only, 'true');
  // Staging's one server: Traefik's address only; no API address to hold.
  const staging = env('staging');
  assert.equal(staging.cp_enable, 'false');
  assert.equal(staging.address, undefined);
  assert.equal(staging.vip_leaderelection, undefined);
  assert.equal(staging.svc_enable, 'true');
  assert.match(kubeVipManifest(inv.clusters[0]!)!, /^# Written by bramble for cluster staging: kube-vip v[\d.]+ holds Traefik's address 192\.168\.100\.18\./);
  // Without an ingress address, kube-vip stays out of services.
  const plain = await loadInventory(HOMELAB);
  assert.equal(kubeVipManifest(plain.clusters[0]!), undefined, 'staging runs no kube-vip');
  assert.match(kubeVipManifest(plain.clusters[1]!)!, /name: svc_enable\n\s+value: "false"/);
});

test('validate keeps the ingress address static, on the VLAN, unused, and refuses it without kube-vip; the old replicas field is gone', () => {
  const at = (path: string, re: RegExp, got: string[]) => assert.ok(got.some((p) => p.startsWith(`${path}: `) && re.test(p)), `${path} ${re}: ${got.join(' | ')}`);
  const ingress = (v: string) => edited((d) => d.setIn(['clusters', 1, 'ingressAddress'], v));
  at('clusters[1].ingressAddress', /inside the DHCP pool/, problems(ingress('192.168.100.160')));
  at('clusters[1].ingressAddress', /outside VLAN 100/, problems(ingress('192.168.30.5')));
  at('clusters[1].ingressAddress', /already used by node rk1-2/, problems(ingress('192.168.100.12')));
  at('clusters[1].ingressAddress', /already used by the API address of cluster production/, problems(ingress('192.168.100.19')));
  at('clusters[1].ingressAddress', /already used by the NAS|already used by nas/i, problems(ingress('192.168.100.20')));
  at('clusters[1].ingressAddress', /kube-vip holds the ingress address, and k3s\.kubeVip\.enabled is false/, problems(edited((d) => {
    d.setIn(['clusters', 1, 'ingressAddress'], '192.168.100.17');
    d.setIn(['clusters', 1, 'k3s'], d.createNode({ kubeVip: { enabled: false } }));
  })));
  at('clusters[0].ingressAddress', /IPv4 address/, problems(edited((d) => d.setIn(['clusters', 0, 'ingressAddress'], 'traefik.home.arpa'))));
  at('clusters[1].platform.traefik.replicas', /unknown field "replicas"/, problems(edited((d) => d.setIn(['clusters', 1, 'platform', 'traefik'], d.createNode({ replicas: 2 })))));
  assert.deepEqual(problems(ingress('192.168.100.17')), []);
  assert.equal(parse(ingress('192.168.100.17')).clusters[1].ingressAddress, '192.168.100.17');
});
