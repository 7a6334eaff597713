// What bramble makes Flux and k3s apply, held against upstream's own files
// (../shared/upstream): system-upgrade-controller's v0.20.1 release tree built
// with the real `kubectl kustomize` and bramble's transforms, as
// kustomize-controller builds it; kube-vip's RBAC and the environment
// variables its code and docs know.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parseAllDocuments, stringify } from 'yaml';
import { loadInventory } from '../src/inventory/load.ts';
import { kubeVipManifest } from '../src/k3s/kube-vip.ts';
import { renderInventory } from '../src/render/render.ts';
import { HOMELAB, tempDir, UPSTREAM, strictify } from './helpers.ts';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: any;
}
const objects = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter(Boolean);

/** The release tree at `path` built as kustomize-controller builds a Kustomization's path: its spec's images, namespace and patches over the folder's own kustomization. */
function fluxBuild(tree: string, spec: { images?: unknown[]; targetNamespace?: string; patches?: unknown[] }): Obj[] {
  const dir = tempDir();
  cpSync(tree, join(dir, 'tree'), { recursive: true });
  mkdirSync(join(dir, 'flux'));
  const overlay = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['../tree'], ...(spec.images ? { images: spec.images } : {}), ...(spec.targetNamespace ? { namespace: spec.targetNamespace } : {}), ...(spec.patches ? { patches: spec.patches } : {}) };
  writeFileSync(join(dir, 'flux', 'kustomization.yaml'), stringify(overlay));
  const r = spawnSync('kubectl', ['kustomize', join(dir, 'flux')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return objects(r.stdout);
}

const SUC = join(UPSTREAM, 'system-upgrade-controller');

test("the upgrades layer built from system-upgrade-controller's own v0.20.1 files: the pinned image, one namespace, and the RBAC the Plans need", async () => {
  const inv = await loadInventory(HOMELAB);
  const out = await renderInventory(inv);
  for (const cluster of inv.clusters) {
    const file = `clusters/${cluster.name}/upgrades.yaml`;
    const ks = out.docs.find((d) => d.file === file && d.object.kind === 'Kustomization' && d.object.metadata?.name === 'system-upgrade-controller')!.object.spec as { images: unknown[]; path: string };
    assert.equal(ks.path, './', 'the release tree is built from its root, where its kustomization.yaml is');
    const built = fluxBuild(SUC, ks);
    const deployment = built.find((o) => o.kind === 'Deployment' && o.metadata.name === 'system-upgrade-controller')!;
    const image = deployment.spec.template.spec.containers[0].image as string;
    assert.equal(image, 'rancher/system-upgrade-controller:v0.20.1', 'the tag bramble pins, not the v0.14.0 of upstream\'s own kustomization');
    // Without bramble's transform the release's files name an older controller.
    assert.match(fluxBuild(SUC, {}).find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].image, /:v0\.14\.0$/);
    const namespaced = built.filter((o) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    assert.deepEqual([...new Set(namespaced.map((o) => o.metadata.namespace))], ['system-upgrade']);
    assert.ok(built.some((o) => o.kind === 'Namespace' && o.metadata.name === 'system-upgrade'));

    // The Plans run their jobs as a service account in that namespace, which the release's RBAC lets manage Plans and nodes.
    const plans = out.docs.filter((d) => d.file === `clusters/${cluster.name}/upgrades/plans.yaml` && d.object.kind === 'Plan').map((d) => d.object as Obj);
    assert.equal(plans.length, 2);
    for (const plan of plans) {
      assert.equal(plan.metadata.namespace, 'system-upgrade');
      const sa = plan.spec.serviceAccountName as string;
      assert.ok(built.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === sa && o.metadata.namespace === 'system-upgrade'), `ServiceAccount ${sa}`);
      const bindings = built.filter((o) => o.kind === 'ClusterRoleBinding' && (o.subjects as Array<{ kind: string; name: string; namespace?: string }>).some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === 'system-upgrade'));
      const rules = bindings.flatMap((b) => built.find((o) => o.kind === 'ClusterRole' && o.metadata.name === b.roleRef.name)?.rules ?? []) as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
      const grants = (group: string, resource: string, verb: string) => rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && (r.verbs.includes(verb) || r.verbs.includes('*')));
      for (const verb of ['get', 'list', 'watch', 'update', 'patch']) assert.ok(grants('upgrade.cattle.io', 'plans', verb), `plans ${verb}`);
      assert.ok(grants('upgrade.cattle.io', 'plans/status', 'update'), 'plans/status update');
      assert.ok(grants('', 'nodes', 'update'), 'nodes update (cordon, labels)');
      assert.ok(grants('batch', 'jobs', 'watch'), 'jobs watch');
    }
  }
});

test("kube-vip's RBAC grants what upstream's grants for leases, services, nodes and endpoints, and every variable bramble sets is one upstream reads", async () => {
  const inv = await loadInventory(HOMELAB);
  const production = inv.clusters.find((c) => c.name === 'production')!;
  const ours = objects(kubeVipManifest(production)!);
  const theirs = objects(readFileSync(join(UPSTREAM, 'kube-vip', 'rbac.yaml'), 'utf8'));
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const rulesOf = (objs: Obj[]) => objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').flatMap((o) => o.rules as Rule[]);
  const verbs = (rules: Rule[], group: string, resource: string) => new Set(rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs));
  const wanted: Array<[string, string]> = [['coordination.k8s.io', 'leases'], ['', 'services'], ['', 'services/status'], ['', 'nodes'], ['', 'endpoints']];
  for (const [group, resource] of wanted) {
    const need = verbs(rulesOf(theirs), group, resource);
    assert.ok(need.size > 0, `upstream grants something on ${resource}`);
    const have = verbs(rulesOf(ours), group, resource);
    for (const v of need) assert.ok(have.has(v) || have.has('*'), `${resource}: upstream grants ${v}, bramble's role does not`);
  }
  // The role reaches kube-vip's own service account.
  const ds = ours.find((o) => o.kind === 'DaemonSet')!;
  const sa = ds.spec.template.spec.serviceAccountName as string;
  assert.ok(ours.some((o) => o.kind === 'ClusterRoleBinding' && (o.subjects as Array<{ name: string }>).some((s) => s.name === sa)));

  // Every environment variable bramble sets is one kube-vip's code reads (its Go constants), its docs list, or its own manifests use.
  const known = new Set<string>([
    ...[...readFileSync(join(UPSTREAM, 'kube-vip', 'config_envvar.go'), 'utf8').matchAll(/=\s*"([A-Za-z0-9_]+)"/g)].map((m) => m[1]!),
    ...[...readFileSync(join(UPSTREAM, 'kube-vip', 'flags.md'), 'utf8').matchAll(/`([a-z][A-Za-z0-9_]+|[A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!),
    ...objects(readFileSync(join(UPSTREAM, 'kube-vip', 'daemonset-arp.yaml'), 'utf8')).flatMap((o) => (o.spec?.template?.spec?.containers ?? []).flatMap((c: { env?: Array<{ name: string }> }) => (c.env ?? []).map((e) => e.name))),
  ]);
  assert.ok(known.has('vip_arp') && known.has('vip_leaderelection'), 'the upstream files were read');
  const env = (ds.spec.template.spec.containers as Array<{ env: Array<{ name: string }> }>).flatMap((c) => c.env.map((e) => e.name));
  assert.ok(env.length > 5);
  for (const name of env) assert.ok(known.has(name), `kube-vip reads no variable named ${name}`);
  assert.equal(known.has('vip_leaderelektion'), false, 'a misspelt name is not among them');
});


/** Validators for every kind in ../shared/upstream/platform-crds, by apiVersion/kind. */
async function platformValidators(): Promise<Map<string, (o: unknown) => string[]>> {
  const { readdirSync } = await import('node:fs');
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    validateFormats: false,
    // Go's RE2 patterns: a (?i) group (prometheusrules has one after ^) is JavaScript's i flag.
    code: { regExp: (pattern: string, flags: string) => (pattern.includes('(?i)') ? new RegExp(pattern.replace('(?i)', ''), flags + 'i') : new RegExp(pattern, flags)) as any },
  } as any);
  const map = new Map<string, (o: unknown) => string[]>();
  const dir = join(UPSTREAM, 'platform-crds');
  for (const f of readdirSync(dir)) {
    for (const crd of objects(readFileSync(join(dir, f), 'utf8'))) {
      if (crd.kind !== 'CustomResourceDefinition') continue;
      for (const v of crd.spec.versions) {
        const validate = ajv.compile(strictify(v.schema.openAPIV3Schema));
        map.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, (o) => (validate(o) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string; params: unknown }) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)));
      }
    }
  }
  return map;
}

const PLATFORM_KINDS = ['Plan', 'IngressRoute', 'Middleware', 'PrometheusRule', 'PodMonitor', 'ScrapeConfig', 'ServiceMonitor', 'RecurringJob', 'BackupTarget', 'Setting', 'Certificate', 'ClusterIssuer'];

test('every rendered Plan, IngressRoute, Middleware, PrometheusRule, PodMonitor, ScrapeConfig, ServiceMonitor, Longhorn and cert-manager object passes its real CRD with unknown fields refused, on the reference site and ones with every option on', async () => {
  const { parseDocument } = await import('yaml');
  const { homelabWithS3Backups, homelabWithEverything } = await import('./helpers.ts');
  const { parseInventory } = await import('../src/inventory/load.ts');
  const validators = await platformValidators();
  // Every option on: S3 backups and secrets on both clusters, the NAS watched, ingress addresses held by kube-vip.
  const doc = parseDocument(await homelabWithS3Backups('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'));
  doc.setIn(['nas', 'metrics'], doc.createNode({ port: 9100 }));
  doc.setIn(['clusters', 0, 'ingressAddress'], '192.168.100.18');
  doc.setIn(['clusters', 1, 'ingressAddress'], '192.168.100.17');
  const everything = parseInventory(doc.toString(), 'everything.yaml');
  // And the round-3 platform: Let's Encrypt, the tunnel and its Receiver, e-mail, scanning, the critical class.
  const platform = parseInventory(await homelabWithEverything('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'), 'platform.yaml');
  const sites = [await loadInventory(HOMELAB), everything, platform];
  const seen = new Map<string, number>();
  for (const inv of sites) {
    for (const d of (await renderInventory(inv)).docs) {
      if (d.object.apiVersion.includes('toolkit.fluxcd.io') || !d.object.apiVersion.includes('/') || d.object.apiVersion.startsWith('apps/') || d.object.apiVersion.startsWith('rbac.')) continue;
      const v = validators.get(`${d.object.apiVersion}/${d.object.kind}`);
      if (!PLATFORM_KINDS.includes(d.object.kind)) continue;
      assert.ok(v, `no upstream CRD for ${d.object.apiVersion} ${d.object.kind} (${d.file})`);
      assert.deepEqual(v(d.object), [], `${d.file} ${d.object.kind} ${d.object.metadata?.name}`);
      seen.set(d.object.kind, (seen.get(d.object.kind) ?? 0) + 1);
    }
  }
  // Each kind bramble renders was met and checked (Setting and BackupTarget only with backups).
  for (const kind of ['Plan', 'IngressRoute', 'Middleware', 'PrometheusRule', 'ScrapeConfig', 'RecurringJob', 'PodMonitor', 'Certificate', 'ClusterIssuer']) assert.ok((seen.get(kind) ?? 0) > 0, `no ${kind} was checked: ${JSON.stringify([...seen])}`);
  // The check refuses a misspelt field and a wrong type.
  const rule = validators.get('monitoring.coreos.com/v1/PrometheusRule')!;
  assert.notDeepEqual(rule({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'x' }, spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', fo: '5m' }] }] } }), []);
  const cert = validators.get('cert-manager.io/v1/Certificate')!;
  assert.notDeepEqual(cert({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'x' }, spec: { secretName: 's', issuerRef: { name: 'i' }, dnsName: ['a'] } }), []);
  const job = validators.get('longhorn.io/v1beta2/RecurringJob')!;
  assert.notDeepEqual(job({ apiVersion: 'longhorn.io/v1beta2', kind: 'RecurringJob', metadata: { name: 'x' }, spec: { retain: 'three' } }), []);
});
