// The rendered repository: matches the committed golden tree, is
// deterministic, builds with kustomize, and every object passes the real
// upstream schemas (Flux CRDs, chart values) from ../shared/upstream.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { loadInventory, parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { applyTree, planTree } from '../src/render/tree.ts';
import { checkReferences, parseRendered, RenderError, validateObjects, type RenderedDoc } from '../src/render/validate.ts';
import { HOMELAB, homelabWithEverything, homelabWithS3Backups, ROOT, SECOND, tempDir, UPSTREAM, strictify } from './helpers.ts';

const homelab = await loadInventory(HOMELAB);
const second = await loadInventory(SECOND);
// The reference with its survey's MinIO backups: the Longhorn values and k3s settings an S3 target adds.
const everything = parseInventory(await homelabWithEverything('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'), 'everything.yaml');
const s3Site = parseInventory(await homelabWithS3Backups('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'), 's3-site.yaml');

async function renderTo(inv: typeof homelab): Promise<string> {
  const dir = tempDir();
  const out = await renderInventory(inv);
  await applyTree(dir, await planTree(dir, out.files, out.scopes), out.scopes);
  return dir;
}

function kustomizeDirs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === 'kustomization.yaml') out.push(e.parentPath);
  }
  return out.sort();
}

test('the committed clusters/ is exactly the render of inventory/homelab.yaml', async () => {
  const out = await renderInventory(homelab);
  const plan = await planTree(ROOT, out.files, out.scopes);
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.path}`), [], 'clusters/ has drifted: run `npm run build && node dist/bin/bramble.js render -i inventory/homelab.yaml`');
  assert.deepEqual(plan.conflicts, []);
  assert.equal(plan.unchanged.length, out.files.filter((f) => !f.seed).length);
});

test('rendering is deterministic: the same inventory gives byte-identical files', async () => {
  const a = await renderInventory(homelab);
  const b = await renderInventory(await loadInventory(HOMELAB));
  assert.deepEqual(a.files, b.files);
});

test('per-cluster settings come from the inventory', async () => {
  const out = await renderInventory(homelab);
  const values = (cluster: string, release: string) => {
    const d = out.docs.find((x) => x.file.startsWith(`clusters/${cluster}/`) && x.object.kind === 'HelmRelease' && x.object.metadata?.name === release)!;
    return (d.object.spec as { values: Record<string, any> }).values;
  };
  assert.equal(values('staging', 'longhorn').persistence.defaultClassReplicaCount, 1);
  assert.equal(values('production', 'longhorn').persistence.defaultClassReplicaCount, 3);
  assert.equal(values('staging', 'kube-prometheus-stack').prometheus.prometheusSpec.retention, '7d');
  assert.equal(values('production', 'kube-prometheus-stack').prometheus.prometheusSpec.retention, '15d');
  // Control-plane metrics point at the installed servers; the planned rk1-4 is not there.
  assert.deepEqual(values('production', 'kube-prometheus-stack').kubeControllerManager.endpoints, ['192.168.100.11', '192.168.100.12', '192.168.100.13']);
  assert.deepEqual(values('production', 'kube-prometheus-stack').kubeEtcd.endpoints, ['192.168.100.11', '192.168.100.12', '192.168.100.13']);
  // Staging runs SQLite: no etcd to scrape.
  assert.equal(values('staging', 'kube-prometheus-stack').kubeEtcd.enabled, false);
  const sync = out.docs.find((x) => x.file === 'clusters/production/flux-system/gotk-sync.yaml' && x.object.kind === 'Kustomization')!;
  assert.equal((sync.object.spec as { path: string }).path, './clusters/production');
  const sc = out.docs.find((x) => x.file === 'clusters/staging/infrastructure/configs/storageclasses.yaml')!.object as Record<string, any>;
  assert.deepEqual(sc.mountOptions, ['nfsvers=4.1', 'hard', 'rsize=1048576', 'wsize=1048576']);
  assert.equal(sc.reclaimPolicy, 'Retain');
  assert.equal(sc.parameters.server, '192.168.100.20');
});

test('chart versions are per cluster: staging can run ahead of production, and each HelmRelease carries its own', async () => {
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['clusters', 0, 'platform', 'longhorn', 'version'], '1.12.2');
  doc.setIn(['clusters', 0, 'platform', 'traefik'], doc.createNode({ version: '41.4.0' }));
  const out = await renderInventory(parseInventory(doc.toString(), 'ahead.yaml'));
  const version = (cluster: string, release: string) =>
    (out.docs.find((x) => x.file.startsWith(`clusters/${cluster}/`) && x.object.kind === 'HelmRelease' && x.object.metadata?.name === release)!.object.spec as any).chart.spec.version;
  assert.equal(version('staging', 'longhorn'), '1.12.2');
  assert.equal(version('production', 'longhorn'), homelab.clusters[1]!.platform.longhorn.version);
  assert.equal(version('staging', 'traefik'), '41.4.0');
  assert.equal(version('production', 'traefik'), homelab.clusters[1]!.platform.traefik.version);
  assert.notEqual(version('staging', 'longhorn'), version('production', 'longhorn'));
  // The values bramble renders for a version ahead still fit the chart: every key is in the chart's
  // values.yaml (the release shared/upstream holds; a patch or minor release keeps its keys).
  for (const d of out.docs.filter((x) => x.object.kind === 'HelmRelease')) {
    const chart = CHARTS[(d.object.spec as any).chart.spec.chart as string]!;
    const defaults = parse(readFileSync(join(UPSTREAM, 'charts', chart, 'values.yaml'), 'utf8'));
    assert.deepEqual(unknownKeys((d.object.spec as any).values, defaults).filter((k) => !KNOWN_ELSEWHERE.has(`${chart}:${k}`)), [], d.file);
  }
});

test('a second, different site renders: mixed arm64/amd64, other VLANs, another branch', async () => {
  const out = await renderInventory(second);
  assert.deepEqual(out.scopes, ['clusters/garage']);
  const find = (kind: string, name: string) => out.docs.find((d) => d.object.kind === kind && d.object.metadata?.name === name)!.object as Record<string, any>;
  assert.equal(find('GitRepository', 'flux-system').spec.ref.branch, 'fleet');
  assert.equal(find('HelmRelease', 'longhorn').spec.values.persistence.defaultClassReplicaCount, 2);
  assert.equal(find('StorageClass', 'nfs-kube').reclaimPolicy, 'Delete');
  assert.deepEqual(find('Middleware', 'allow-trusted').spec.ipAllowList.sourceRange, ['10.50.0.0/24']);
  // No image or node selector pins an architecture.
  for (const f of out.files) assert.doesNotMatch(f.content, /arm64|aarch64|kubernetes\.io\/arch/, f.path);
});

test('a cluster that keeps secrets gets the secrets layer first, decryption with sops-age on its own Kustomizations, and a .sops.yaml rule', async () => {
  const out = await renderInventory(second);
  const recipient = second.clusters[0]!.sops!.recipient;
  const ks = out.docs.filter((d) => d.object.kind === 'Kustomization' && d.object.apiVersion.startsWith('kustomize.toolkit'));
  const byName = new Map(ks.map((d) => [d.object.metadata!.name!, d.object.spec as Record<string, any>]));
  assert.equal(byName.get('secrets')!.path, './clusters/garage/secrets');
  assert.deepEqual(byName.get('infra-controllers')!.dependsOn, [{ name: 'secrets' }]);
  for (const [name, spec] of byName) {
    // Upstream releases (the upgrade controller's, Flux's own manifests) hold no secret of this site.
    if (name === 'system-upgrade-controller' || name === 'flux-components') assert.equal(spec.decryption, undefined, name);
    else assert.deepEqual(spec.decryption, { provider: 'sops', secretRef: { name: 'sops-age' } }, name);
  }
  assert.match(out.files.find((f) => f.path === 'clusters/garage/kustomization.yaml')!.content, /\n {2}- secrets\.yaml\n/);
  const seed = out.files.find((f) => f.path === 'clusters/garage/secrets/kustomization.yaml')!;
  assert.equal(seed.seed, true);
  const sops = parse(out.files.find((f) => f.path === '.sops.yaml')!.content);
  assert.deepEqual(sops.creation_rules, [{ path_regex: '^clusters/garage/.*\\.ya?ml$', encrypted_regex: '^(data|stringData)$', mac_only_encrypted: true, age: recipient }]);
  assert.ok(new RegExp(sops.creation_rules[0].path_regex).test('clusters/garage/secrets/grafana.sops.yaml'));
  const grafana = (o: typeof out) => (o.docs.find((d) => d.object.kind === 'HelmRelease' && d.object.metadata?.name === 'kube-prometheus-stack')!.object.spec as Record<string, any>).values.grafana;
  assert.deepEqual(grafana(out).admin, { existingSecret: 'grafana-admin', userKey: 'admin-user', passwordKey: 'admin-password' });
  // Without a key nothing of this is rendered: the reference keeps no secrets yet.
  const plain = await renderInventory(homelab);
  assert.equal(plain.files.some((f) => f.path === '.sops.yaml' || f.path.includes('/secrets')), false);
  assert.equal(plain.docs.some((d) => (d.object.spec as Record<string, unknown> | undefined)?.decryption !== undefined), false);
  assert.equal(grafana(plain).admin, undefined, 'the chart makes its own password');
});

test('notifications: a Flux Provider and Alert for every layer and release, and Alertmanager reading the same webhook from the mounted secret', async () => {
  const out = await renderInventory(second);
  const find = (kind: string, name: string) => out.docs.find((d) => d.object.kind === kind && d.object.metadata?.name === name)?.object as Record<string, any> | undefined;
  assert.deepEqual(find('Provider', 'owner')!.spec, { type: 'discord', secretRef: { name: 'notify' } });
  const alert = find('Alert', 'flux')!;
  assert.equal(alert.metadata.namespace, 'monitoring');
  assert.equal(alert.spec.eventSeverity, 'error');
  assert.deepEqual(
    alert.spec.eventSources.map((e: { kind: string; namespace: string }) => `${e.kind}/${e.namespace}`),
    ['GitRepository/flux-system', 'Kustomization/flux-system', 'HelmRelease/longhorn-system', 'HelmRelease/traefik', 'HelmRelease/monitoring', 'HelmRelease/kube-system', 'HelmRelease/cert-manager'],
  );
  // Every HelmRelease the cluster has is among the sources.
  for (const d of out.docs.filter((x) => x.object.kind === 'HelmRelease')) assert.ok(alert.spec.eventSources.some((e: { namespace: string }) => e.namespace === d.object.metadata!.namespace), d.object.metadata!.name);
  const am = find('HelmRelease', 'kube-prometheus-stack')!.spec.values.alertmanager;
  assert.deepEqual(am.alertmanagerSpec.secrets, ['notify']);
  assert.equal(am.config.route.receiver, 'owner');
  assert.deepEqual(am.config.receivers[1], { name: 'owner', discord_configs: [{ webhook_url_file: '/etc/alertmanager/secrets/notify/address', send_resolved: true }] });
  assert.ok(out.files.find((f) => f.path === 'clusters/garage/infrastructure/configs/kustomization.yaml')!.content.includes('- notifications.yaml'));
  const plain = await renderInventory(homelab);
  assert.equal(plain.docs.some((d) => d.object.kind === 'Provider' || d.object.kind === 'Alert'), false);
  // The webhook URL is a secret, so notifications need the cluster's key first.
  assert.throws(
    () => parseInventory(readFileSync(HOMELAB, 'utf8').replace('  - name: staging\n    environment: staging\n', '  - name: staging\n    environment: staging\n    notifications: { type: slack }\n'), 'h.yaml'),
    /h\.yaml:\d+:\d+: clusters\[0\]\.notifications: the webhook URL is a secret, kept in Git encrypted: cluster staging needs secrets\.ageRecipient first \(bramble secret init -c staging\)/,
  );
});

test('telegram: the bot token is the secret, the chat is the Provider channel and Alertmanager chat_id; both pass their schemas', async () => {
  const text = readFileSync(SECOND, 'utf8').replace('    notifications:\n      type: discord\n', '    notifications:\n      type: telegram\n      chatId: -1001234567890\n');
  assert.ok(text.includes('type: telegram'));
  const out = await renderInventory(parseInventory(text, 'second.yaml'));
  const provider = out.docs.find((d) => d.object.kind === 'Provider')!;
  assert.deepEqual(provider.object.spec, { type: 'telegram', channel: '-1001234567890', secretRef: { name: 'notify' } });
  assert.deepEqual(crdValidators().get('notification.toolkit.fluxcd.io/v1beta3/Provider')!(provider.object), []);
  const am = (out.docs.find((d) => d.object.kind === 'HelmRelease' && d.object.metadata?.name === 'kube-prometheus-stack')!.object.spec as Record<string, any>).values.alertmanager;
  assert.deepEqual(am.config.receivers[1], { name: 'owner', telegram_configs: [{ bot_token_file: '/etc/alertmanager/secrets/notify/token', chat_id: -1001234567890, send_resolved: true }] });
  const problems = (t: string) => {
    try {
      parseInventory(t, 'x.yaml');
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.match(problems(text.replace('      chatId: -1001234567890\n', '')), /clusters\[0\]\.notifications: a telegram bot needs the chat to write to: notifications\.chatId/);
  assert.match(problems(readFileSync(SECOND, 'utf8').replace('      type: discord\n', '      type: discord\n      chatId: 42\n')), /clusters\[0\]\.notifications\.chatId: chatId is for telegram; a discord webhook's URL names its destination/);
});

test('every folder with a kustomization.yaml builds with kubectl kustomize', async () => {
  for (const inv of [homelab, second, s3Site, everything]) {
    const dir = await renderTo(inv);
    const dirs = kustomizeDirs(join(dir, 'clusters'));
    assert.ok(dirs.length >= 5 * inv.clusters.length, `found ${dirs.length} kustomize folders`);
    for (const d of dirs) {
      const r = spawnSync('kubectl', ['kustomize', d], { encoding: 'utf8' });
      assert.equal(r.status, 0, `kubectl kustomize ${d}: ${r.stderr}`);
      // The owner's seeded folders start empty.
      if (!d.endsWith('/apps') && !d.endsWith('/secrets')) assert.ok(parseAllDocuments(r.stdout).length > 0, `${d} built nothing`);
    }
  }
});


function crdValidators(): Map<string, (o: unknown) => string[]> {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const map = new Map<string, (o: unknown) => string[]>();
  for (const f of readdirSync(join(UPSTREAM, 'crds'))) {
    const crd = parse(readFileSync(join(UPSTREAM, 'crds', f), 'utf8'));
    for (const v of crd.spec.versions) {
      const validate = ajv.compile(strictify(v.schema.openAPIV3Schema));
      map.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, (o) => (validate(o) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)));
    }
  }
  return map;
}

test('every rendered Flux object passes the real Flux 2.9 CRD schema, unknown fields included', async () => {
  const validators = crdValidators();
  let checked = 0;
  for (const inv of [homelab, second, s3Site, everything]) {
    for (const d of (await renderInventory(inv)).docs) {
      if (!d.object.apiVersion.includes('toolkit.fluxcd.io')) continue;
      const v = validators.get(`${d.object.apiVersion}/${d.object.kind}`);
      assert.ok(v, `no upstream CRD for ${d.object.apiVersion} ${d.object.kind}`);
      assert.deepEqual(v(d.object), [], `${d.file} ${d.object.kind} ${d.object.metadata?.name}`);
      checked++;
    }
  }
  assert.ok(checked >= 30, `checked ${checked} Flux objects`);
});

test('an scp-like git.url is rendered as ssh:// in the GitRepository, which the CRD accepts (it refuses the scp-like form)', async () => {
  const text = readFileSync(HOMELAB, 'utf8').replace('url: ssh://git@github.com/tinyhome/homelab-gitops.git', 'url: git@github.com:tinyhome/homelab-gitops.git');
  const scp = parseInventory(text, 'scp.yaml');
  assert.equal(scp.git.url, 'git@github.com:tinyhome/homelab-gitops.git', 'git itself still pushes to the URL as written');
  const repos = (await renderInventory(scp)).docs.filter((d) => d.object.kind === 'GitRepository' && d.object.metadata?.name === 'flux-system');
  assert.equal(repos.length, 2);
  const v = crdValidators().get('source.toolkit.fluxcd.io/v1/GitRepository')!;
  for (const r of repos) {
    assert.equal((r.object as any).spec.url, 'ssh://git@github.com/tinyhome/homelab-gitops.git');
    assert.deepEqual(v(r.object), []);
    assert.notDeepEqual(v({ ...r.object, spec: { ...(r.object as any).spec, url: 'git@github.com:tinyhome/homelab-gitops.git' } }), []);
  }
});

test('the CRD check itself rejects a misspelt field', () => {
  const v = crdValidators().get('helm.toolkit.fluxcd.io/v2/HelmRelease')!;
  const bad = { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'x' }, spec: { interval: '1m', chart: { spec: { chart: 'a', sourceRef: { kind: 'HelmRepository', name: 'r' } } }, valuez: {} } };
  assert.match(v(bad).join('\n'), /must NOT have additional properties.*valuez/);
});

const CHARTS: Record<string, string> = { longhorn: 'longhorn', traefik: 'traefik', 'kube-prometheus-stack': 'kube-prometheus-stack', 'csi-driver-nfs': 'csi-driver-nfs', 'cert-manager': 'cert-manager', 'trivy-operator': 'trivy-operator', kured: 'kured' };

/** Leaf paths of a values tree whose key is not in the chart's defaults. */
function unknownKeys(values: any, defaults: any, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(values ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults)) continue;
    // An empty map in the defaults is a free-form place (resources, endpoints, storageSpec).
    if (Object.keys(defaults).length === 0) continue;
    if (!(k in defaults)) {
      out.push(path);
      continue;
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...unknownKeys(v, defaults[k], path));
  }
  return out;
}

// Keys that are real but not spelled out in the parent chart's values.yaml,
// each checked by hand against the chart that owns it.
const KNOWN_ELSEWHERE = new Set([
  'kube-prometheus-stack:grafana.resources', // grafana subchart values
  // service.spec is merged into the Service's spec as it is ("Additional entries here will be added to the Service spec");
  // the fields are the Service API's, checked against it in test/traefik-address.test.ts.
  'traefik:service.spec.externalTrafficPolicy',
  'traefik:service.spec.loadBalancerClass',
  // values.yaml documents it as a commented-out +docs:property under webhook.podDisruptionBudget.
  'cert-manager:webhook.podDisruptionBudget.minAvailable',
]);

test('every HelmRelease value key exists in its chart\'s default values (typos are silent in Helm)', async () => {
  for (const inv of [homelab, second, s3Site, everything]) {
    for (const d of (await renderInventory(inv)).docs) {
      if (d.object.kind !== 'HelmRelease') continue;
      const chart = CHARTS[(d.object.spec as any).chart.spec.chart as string];
      assert.ok(chart, `no upstream values for chart of ${d.file}`);
      const defaults = parse(readFileSync(join(UPSTREAM, 'charts', chart, 'values.yaml'), 'utf8'));
      const unknown = unknownKeys((d.object.spec as any).values, defaults).filter((k) => !KNOWN_ELSEWHERE.has(`${chart}:${k}`));
      assert.deepEqual(unknown, [], `${d.file}: keys not in ${chart} values.yaml`);
      // cert-manager's Chart.yaml carries a release-time placeholder (v0.0.0); its upstream README names the tag, v1.21.1.
      const held = parse(readFileSync(join(UPSTREAM, 'charts', chart, 'Chart.yaml'), 'utf8')).version;
      const version = held === 'v0.0.0' ? /charts\/cert-manager\/.*?chart (v[0-9.]+)/.exec(readFileSync(join(UPSTREAM, 'README.md'), 'utf8'))![1] : held;
      assert.equal((d.object.spec as any).chart.spec.version, version, `${d.file} pins the chart version shared/upstream holds`);
    }
  }
  assert.deepEqual(unknownKeys({ ingressRoute: { dashbord: { enabled: true } } }, { ingressRoute: { dashboard: { enabled: false } } }), ['ingressRoute.dashbord']);
});

test('Traefik values pass the chart\'s own values.schema.json', async () => {
  const schema = JSON.parse(readFileSync(join(UPSTREAM, 'charts', 'traefik', 'values.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  const defaults = parse(readFileSync(join(UPSTREAM, 'charts', 'traefik', 'values.yaml'), 'utf8'));
  const { deepMerge } = await import('../src/inventory/model.ts');
  const d = (await renderInventory(homelab)).docs.find((x) => x.object.kind === 'HelmRelease' && x.object.metadata?.name === 'traefik')!;
  const merged = deepMerge(defaults, (d.object.spec as any).values);
  assert.equal(validate(merged), true, JSON.stringify(validate.errors));
  assert.equal(validate(deepMerge(merged, { deployment: { replicas: 'two' } })), false, 'the schema check can fail');
});

test('validation catches a wrong type, an unknown kind and broken references', async () => {
  const problems: string[] = [];
  const docs = parseRendered('x/infra.yaml', [
    'apiVersion: helm.toolkit.fluxcd.io/v2',
    'kind: HelmRelease',
    'metadata: { name: app, namespace: apps }',
    'spec:',
    '  interval: 5',
    '  chart: { spec: { chart: app, sourceRef: { kind: HelmRepository, name: missing } } }',
    '---',
    'apiVersion: example.com/v1',
    'kind: Widget',
    'metadata: { name: w }',
  ].join('\n'), problems);
  await validateObjects(docs, problems);
  const kust: RenderedDoc[] = parseRendered('x/kustomization.yaml', 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [gone.yaml]\n', problems);
  checkReferences(new Map([['x/infra.yaml', ''], ['x/kustomization.yaml', '']]), [...docs, ...kust], problems);
  assert.deepEqual(problems, [
    'x/infra.yaml: HelmRelease apps/app: /spec/interval must be string',
    'x/infra.yaml: Widget w: no schema is known for example.com/v1/Widget; bramble renders only kinds it can validate',
    'x/kustomization.yaml: resource gone.yaml is neither a rendered file nor a folder with a kustomization.yaml',
    'x/kustomization.yaml: infra.yaml is rendered in this folder but not listed in resources',
    'x/infra.yaml: HelmRelease apps/app: chart source HelmRepository apps/missing is not rendered',
  ]);
});

test('a template that renders broken YAML is stopped before anything is written', async () => {
  const dir = tempDir();
  cpSync(join(ROOT, 'templates'), dir, { recursive: true });
  const file = join(dir, 'cluster', 'infrastructure', 'controllers', 'longhorn.yaml.hbs');
  writeFileSync(file, readFileSync(file, 'utf8').replace('      jobEnabled: false', '      jobEnabled: false\n     broken: [unclosed'));
  await assert.rejects(renderInventory(homelab, { templatesDir: dir }), (e: unknown) => {
    assert.ok(e instanceof RenderError);
    assert.match(e.message, /clusters\/staging\/infrastructure\/controllers\/longhorn\.yaml: document 3: invalid YAML/);
    return true;
  });
});

test('a template naming a missing variable fails loudly instead of rendering an empty value', async () => {
  const dir = tempDir();
  cpSync(join(ROOT, 'templates'), dir, { recursive: true });
  const file = join(dir, 'cluster', 'apps.yaml.hbs');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{{q (concat "./" path "/apps")}}', '{{q (concat "./" pathh "/apps")}}'));
  await assert.rejects(renderInventory(homelab, { templatesDir: dir }), /templates apps\.yaml\.hbs for cluster staging: concat: argument 2 is missing/);
});

// system-upgrade-controller's real Plan CRD (../shared/upstream/platform-crds, from
// the release's pkg/crds/yaml/generated). No skip: a missing file fails here.
const SUC_CRD = join(UPSTREAM, 'platform-crds', 'upgrade.cattle.io_plans.yaml');

test('rendered upgrade Plans pass the real system-upgrade-controller CRD', async () => {
  const crd = parse(readFileSync(SUC_CRD, 'utf8'));
  const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(strictify(crd.spec.versions.find((v: { name: string }) => v.name === 'v1').schema.openAPIV3Schema));
  let checked = 0;
  for (const inv of [homelab, second, s3Site, everything]) {
    for (const d of (await renderInventory(inv)).docs.filter((x) => x.object.kind === 'Plan')) {
      assert.ok(validate(d.object), `${d.file} ${d.object.metadata?.name}: ${JSON.stringify(validate.errors)}`);
      checked++;
    }
  }
  // Two Plans (servers, agents) per cluster of each site checked.
  assert.equal(checked, 2 * (homelab.clusters.length + second.clusters.length + s3Site.clusters.length + everything.clusters.length));
  assert.equal(validate({ apiVersion: 'upgrade.cattle.io/v1', kind: 'Plan', metadata: { name: 'x' }, spec: { upgrade: { image: 'i' }, cordn: true } }), false, 'the CRD check refuses a misspelt field');
});

test('upgrade Plans: servers one at a time before agents, the inventory version, drained only where pods can move', async () => {
  const out = await renderInventory(homelab);
  const plan = (cluster: string, name: string) => out.docs.find((d) => d.file === `clusters/${cluster}/upgrades/plans.yaml` && d.object.metadata?.name === name)!.object.spec as any;
  for (const c of homelab.clusters) {
    const server = plan(c.name, 'k3s-server');
    const agent = plan(c.name, 'k3s-agent');
    assert.equal(server.version, c.k3sVersion);
    assert.equal(agent.version, c.k3sVersion);
    assert.equal(server.concurrency, 1);
    assert.deepEqual(server.nodeSelector.matchExpressions, [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }]);
    assert.deepEqual(agent.nodeSelector.matchExpressions, [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }]);
    assert.deepEqual(agent.prepare.args, ['prepare', 'k3s-server'], 'agents wait for the servers');
    assert.equal(server.upgrade.image, 'rancher/k3s-upgrade');
  }
  assert.equal(plan('staging', 'k3s-server').drain, undefined, 'the single node is not drained: its pods have nowhere to go');
  assert.equal(plan('staging', 'k3s-server').cordon, true);
  assert.equal(plan('production', 'k3s-server').drain.timeout, '10m');
  const suc = out.docs.find((d) => d.file === 'clusters/production/upgrades.yaml' && d.object.kind === 'GitRepository')!.object.spec as any;
  assert.deepEqual(suc.ref, { tag: 'v0.20.1' });
  assert.equal(suc.url, 'https://github.com/rancher/system-upgrade-controller');
  const ks = out.docs.find((d) => d.file === 'clusters/production/upgrades.yaml' && d.object.metadata?.name === 'system-upgrade-controller' && d.object.kind === 'Kustomization')!.object.spec as any;
  assert.deepEqual(ks.images, [{ name: 'rancher/system-upgrade-controller', newTag: 'v0.20.1' }]);

  // An air-gapped site's mirror of the upgrade image and of the controller's repository.
  const text = readFileSync(HOMELAB, 'utf8').replace('  k3s:\n    version: v1.35.6+k3s1\n', '  k3s:\n    version: v1.35.6+k3s1\n    upgrade:\n      image: registry.home.arpa/rancher/k3s-upgrade\n      controllerRepository: https://git.home.arpa/mirrors/system-upgrade-controller\n');
  const mirrored = await renderInventory(parseInventory(text, 'mirror.yaml'));
  for (const d of mirrored.docs.filter((x) => x.object.kind === 'Plan')) assert.equal((d.object.spec as any).upgrade.image, 'registry.home.arpa/rancher/k3s-upgrade');
  assert.ok(mirrored.docs.some((d) => d.object.kind === 'GitRepository' && (d.object.spec as any).url === 'https://git.home.arpa/mirrors/system-upgrade-controller'));
});

test('the Plan model refuses what the API server would: a misspelt field, a bad toleration, no upgrade container', async () => {
  const plan = (spec: object): RenderedDoc => ({ file: 'p.yaml', index: 0, object: { apiVersion: 'upgrade.cattle.io/v1', kind: 'Plan', metadata: { name: 'k3s-server', namespace: 'system-upgrade' }, spec: spec as any } });
  const problems = async (spec: object) => {
    const out: string[] = [];
    await validateObjects([plan(spec)], out);
    return out.join('\n');
  };
  assert.equal(await problems({ concurrency: 1, version: 'v1.36.4+k3s1', upgrade: { image: 'rancher/k3s-upgrade' }, cordon: true }), '');
  assert.match(await problems({ upgrade: { image: 'x' }, cordn: true }), /\/spec must NOT have additional properties \(cordn\)/);
  assert.match(await problems({ upgrade: { image: 'x' }, tolerations: [{ key: 'a', operator: 'Exists', effect: 3 }] }), /\/spec\/tolerations\/0\/effect/);
  assert.match(await problems({ concurrency: 1 }), /must have required property 'upgrade'/);
  assert.match(await problems({ upgrade: { image: 'x' }, nodeSelector: { matchExpressions: [{ key: 'a' }] } }), /\/spec\/nodeSelector\/matchExpressions\/0 must have required property '?operator'?/);
});

test("the built Plan and RecurringJob validators (compiled by npm run build) answer as ajv's own compile of the same schemas", async () => {
  const { PLAN_MODEL } = await import('../src/render/plan-model.ts');
  const { RECURRING_JOB_MODEL } = await import('../src/render/longhorn-model.ts');
  const plans = parseAllDocuments(readFileSync(join(ROOT, 'clusters/production/upgrades/plans.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
  const rendered = await renderInventory(parseInventory(await homelabWithS3Backups('age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'), 'backups.yaml'));
  const jobs = rendered.docs.filter((d) => d.object.kind === 'RecurringJob').map((d) => d.object as unknown as Record<string, unknown>);
  assert.ok(plans.length >= 2 && jobs.length >= 2, `${plans.length} Plans, ${jobs.length} RecurringJobs`);
  const spoilt = (o: Record<string, unknown>) => {
    const spec = o.spec as Record<string, unknown>;
    return [
      { ...o, spec: { ...spec, concurency: 1 } },
      { ...o, spec: { ...spec, concurrency: 'one' } },
      { ...o, metadata: { name: '' } },
      { ...o, kind: 'Other', extra: true },
      { ...o, spec: { cron: 5 } },
      {},
    ];
  };
  for (const [model, objects] of [[PLAN_MODEL, plans], [RECURRING_JOB_MODEL, jobs]] as const) {
    const builtCheck = ((await import(join(ROOT, 'dist', 'src', 'render', model.generated))) as { default: { (x: unknown): boolean; errors?: unknown } }).default;
    const fresh = new Ajv(model.options).compile(model.schema);
    for (const o of [...objects, ...objects.flatMap(spoilt)]) {
      const a = fresh(o);
      const b = builtCheck(o);
      assert.equal(b, a, JSON.stringify(o));
      assert.deepEqual(builtCheck.errors ?? null, fresh.errors ?? null, JSON.stringify(o));
    }
    assert.ok(objects.every((o) => fresh(o)), 'the rendered objects pass');
  }
});
