// The platform's fences: every rendered NetworkPolicy passes the Kubernetes
// API schema, and, read with NetworkPolicy's own rules (a pod selected by
// any ingress policy takes only what some policy allows; policies add up),
// each component gets exactly the flows it needs and no other namespace gets
// in. Longhorn's namespace is fenced by its chart's own policies for k3s.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parse, parseAllDocuments } from 'yaml';
import { loadInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { HOMELAB, ROOT, UPSTREAM } from './helpers.ts';

interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string; except?: string[] };
}
interface Policy {
  metadata: { name: string; namespace: string };
  spec: { podSelector: { matchLabels?: Record<string, string> }; policyTypes?: string[]; ingress?: Array<{ from?: Peer[]; ports?: Array<{ port: number; protocol?: string }> }> };
}

/** Who tries to connect: a pod (its namespace and labels) or an address outside the cluster's pods. */
type Source = { namespace: string; labels?: Record<string, string> } | { ip: string };
interface Target {
  namespace: string;
  labels: Record<string, string>;
  port: number;
}

const matches = (sel: { matchLabels?: Record<string, string> } | undefined, labels: Record<string, string>) => Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/') as [string, string];
  const n = (a: string) => a.split('.').reduce((x, o) => (x << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (n(ip) & mask) === (n(net) & mask);
}

function peerAdmits(peer: Peer, from: Source, policyNamespace: string): boolean {
  if ('ip' in from) return peer.ipBlock !== undefined && inCidr(from.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(from.ip, c));
  if (peer.ipBlock) return false;
  const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, { 'kubernetes.io/metadata.name': from.namespace }) : from.namespace === policyNamespace;
  return nsOk && (peer.podSelector ? matches(peer.podSelector, from.labels ?? {}) : true);
}

/** NetworkPolicy's ingress semantics, for the fields bramble renders. */
function allowed(policies: Policy[], from: Source, to: Target): boolean {
  const selecting = policies.filter((p) => p.metadata.namespace === to.namespace && (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') && matches(p.spec.podSelector, to.labels));
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec.ingress ?? []).some((rule) => {
      const portOk = !rule.ports || rule.ports.some((x) => x.port === to.port && (x.protocol ?? 'TCP') === 'TCP');
      const fromOk = !rule.from || rule.from.length === 0 || rule.from.some((peer) => peerAdmits(peer, from, p.metadata.namespace));
      return portOk && fromOk;
    }),
  );
}

const out = await renderInventory(await loadInventory(HOMELAB));
const policies = (cluster: string) => out.docs.filter((d) => d.file.startsWith(`clusters/${cluster}/`) && d.object.kind === 'NetworkPolicy').map((d) => d.object as unknown as Policy);

// The pods, by the labels their charts give them.
const GRAFANA = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'grafana' } };
const PROMETHEUS = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };
const OPERATOR = { namespace: 'monitoring', labels: { app: 'kube-prometheus-stack-operator' } };
const TRAEFIK = { namespace: 'traefik', labels: { 'app.kubernetes.io/name': 'traefik' } };
const KURED = { namespace: 'kube-system', labels: { 'app.kubernetes.io/name': 'kured', 'app.kubernetes.io/instance': 'kured' } };
const APP = { namespace: 'media', labels: { app: 'jellyfin' } };
const LAPTOP = { ip: '192.168.30.57' };
const SERVER = { ip: '192.168.100.11' };

test('every rendered NetworkPolicy passes the Kubernetes NetworkPolicy schema', () => {
  const all = out.docs.filter((d) => d.object.kind === 'NetworkPolicy');
  // Eight fences per cluster, and kured's way to Prometheus where OS updates are on (both clusters of the reference site).
  assert.equal(all.length, 2 * 9);
  for (const d of all) new NetworkPolicy(d.object as never).validate();
});

test('each platform component gets the flows it needs, and an app namespace none', () => {
  for (const cluster of ['staging', 'production']) {
    const p = policies(cluster);
    const flows: Array<[string, Source, Target, boolean]> = [
      // Traefik: its entry points from the client VLANs (ServiceLB keeps the address), its metrics from Prometheus only.
      ['a laptop to websecure', LAPTOP, { ...TRAEFIK, port: 8443 }, true],
      ['a laptop to web', LAPTOP, { ...TRAEFIK, port: 8000 }, true],
      ['Prometheus to Traefik metrics', PROMETHEUS, { ...TRAEFIK, port: 9100 }, true],
      ['an app to Traefik metrics', APP, { ...TRAEFIK, port: 9100 }, false],
      ['an app to the Traefik API port', APP, { ...TRAEFIK, port: 8080 }, false],
      // monitoring: Grafana through Traefik; the webhook from the API server; among themselves.
      ['Traefik to Grafana', TRAEFIK, { ...GRAFANA, port: 3000 }, true],
      ['Grafana to Prometheus', GRAFANA, { ...PROMETHEUS, port: 9090 }, true],
      ['the API server to the operator webhook', SERVER, { ...OPERATOR, port: 10250 }, true],
      ['an app to Grafana', APP, { ...GRAFANA, port: 3000 }, false],
      ['a laptop straight to Grafana', LAPTOP, { ...GRAFANA, port: 3000 }, false],
      ['an app to Prometheus', APP, { ...PROMETHEUS, port: 9090 }, false],
      ['Traefik to Prometheus', TRAEFIK, { ...PROMETHEUS, port: 9090 }, false],
      // kured asks Prometheus for firing alerts before a reboot; nothing else in kube-system gets in.
      ['kured to Prometheus', KURED, { ...PROMETHEUS, port: 9090 }, true],
      ['kured to Grafana', KURED, { ...GRAFANA, port: 3000 }, false],
      ['another kube-system pod to Prometheus', { namespace: 'kube-system', labels: { 'k8s-app': 'metrics-server' } }, { ...PROMETHEUS, port: 9090 }, false],
      // longhorn-system: bramble adds only Prometheus's scrape of longhorn-manager (the chart fences the rest).
      ['Prometheus to longhorn-manager metrics', PROMETHEUS, { namespace: 'longhorn-system', labels: { app: 'longhorn-manager' }, port: 9500 }, true],
    ];
    for (const [what, from, to, expected] of flows) assert.equal(allowed(p, from, to), expected, `${cluster}: ${what}`);
    // No namespace but the ones named gets into monitoring or traefik on any port of theirs.
    for (const ns of ['default', 'media', 'flux-system', 'kube-system', 'longhorn-system']) {
      for (const [target, ports] of [[GRAFANA, [3000]], [PROMETHEUS, [9090]], [TRAEFIK, [9100, 8080]]] as const) {
        for (const port of ports) assert.equal(allowed(p, { namespace: ns, labels: {} }, { ...target, port }), false, `${cluster}: ${ns} to ${target.namespace}:${port}`);
      }
    }
    // Every namespace bramble fences starts from a default-deny.
    for (const ns of ['traefik', 'monitoring']) assert.ok(p.some((x) => x.metadata.namespace === ns && x.metadata.name === 'default-deny-ingress' && !x.spec.ingress), ns);
  }
});

test("Longhorn's own fences are on, for k3s, with keys its chart has", () => {
  const longhorn = out.docs.find((d) => d.file === 'clusters/production/infrastructure/controllers/longhorn.yaml' && d.object.kind === 'HelmRelease')!;
  const values = (longhorn.object.spec as any).values;
  assert.deepEqual(values.networkPolicies, { enabled: true, type: 'k3s' });
  const chart = parse(readFileSync(join(UPSTREAM, 'charts', 'longhorn', 'values.yaml'), 'utf8'));
  assert.equal(chart.networkPolicies.enabled, false, "off unless asked (the chart's default)");
  assert.ok(String(readFileSync(join(UPSTREAM, 'charts', 'longhorn', 'values.yaml'), 'utf8')).includes('"k3s"'), 'k3s is one of its types');
});

test("the apps seed's example fences an app the same way, and its policies pass the schema", () => {
  const text = readFileSync(join(ROOT, 'clusters', 'staging', 'apps', 'example-app.yaml.example'), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.kind), ['Namespace', 'NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy']);
  const p = docs.filter((d) => d.kind === 'NetworkPolicy') as Policy[];
  for (const d of p) new NetworkPolicy(d as never).validate();
  const app = (port: number) => ({ namespace: 'example-app', labels: { app: 'x' }, port });
  assert.equal(allowed(p, TRAEFIK, app(8080)), true);
  assert.equal(allowed(p, PROMETHEUS, app(9090)), true);
  assert.equal(allowed(p, APP, app(8080)), false);
  assert.equal(allowed(p, { namespace: 'example-app' }, app(5432)), true, 'its own pods talk among themselves');
  assert.equal(allowed(p, LAPTOP, app(8080)), false);
});
