// The rest of the site's platform (issue 28): TLS on by default, the tunnel
// and its Receiver, e-mail, scanning, the critical class of volumes, the
// drain and memory checks. Rendered objects are checked against their real
// CRDs and chart values in render.test.ts and upstream-parts.test.ts, their
// alerts by promtool in promtool.test.ts, and the whole lot reconciled by the
// lab's Flux stand-in in secrets-scan.test.ts; here, what each part decides.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseDocument, type Document } from 'yaml';
import { loadInventory, parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { RenderError } from '../src/render/validate.ts';
import { newClusterKey } from '../src/secrets/keys.ts';
import { checkSecrets } from '../src/secrets/check.ts';
import { ensurePlatformSecrets } from '../src/secrets/store.ts';
import { bramble, HOMELAB, homelabWithEverything, problemsOf, sopsCheck, tempDir } from './helpers.ts';

const RECIPIENT = 'age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr';
const homelab = await loadInventory(HOMELAB);
const everything = parseInventory(await homelabWithEverything(RECIPIENT), 'everything.yaml');

function objectsOf(out: Awaited<ReturnType<typeof renderInventory>>, cluster: string, kind: string) {
  return out.docs.filter((d) => d.file.startsWith(`clusters/${cluster}/`) && d.object.kind === kind).map((d) => d.object as any);
}

/** The located errors of an inventory changed by `edit`. */
async function errors(edit: (doc: Document) => void, base?: string): Promise<string[]> {
  return (await problemsOf(edit, base)).map((p) => `${p.line}:${p.col} ${p.path.join('.')}: ${p.message}`);
}

test('TLS is on by default: cert-manager with its CRDs before the configs layer, a private CA made in the cluster, and https with a redirect for every route', async () => {
  const out = await renderInventory(homelab);
  for (const cluster of ['staging', 'production']) {
    const [release] = objectsOf(out, cluster, 'HelmRelease').filter((r) => r.metadata.name === 'cert-manager');
    assert.ok(release, `${cluster}: cert-manager is rendered`);
    assert.deepEqual(release.spec.values.crds, { enabled: true, keep: true }, 'the chart installs the CRDs and keeps them');
    const controllers = out.files.find((f) => f.path === `clusters/${cluster}/infrastructure/controllers/kustomization.yaml`)!.content;
    assert.match(controllers, /- cert-manager\.yaml/, 'in the controllers layer, which configs depends on');
    // Without secrets in Git: a self-signed issuer makes the CA certificate, the CA issuer signs from it.
    const issuers = objectsOf(out, cluster, 'ClusterIssuer');
    assert.deepEqual(issuers.map((i) => [i.metadata.name, Object.keys(i.spec)[0]]), [['bramble-selfsigned', 'selfSigned'], ['bramble-ca', 'ca']]);
    const certs = objectsOf(out, cluster, 'Certificate');
    const ca = certs.find((c) => c.spec.isCA)!;
    assert.equal(ca.metadata.namespace, 'cert-manager', "where the CA issuer reads its secret (the cluster resource namespace)");
    assert.equal(ca.spec.commonName, `bramble tinyhome ${cluster} CA`);
    assert.equal(issuers[1].spec.ca.secretName, ca.spec.secretName);
    // Every route is served over https with its own certificate, issued by the cluster's issuer for the route's host.
    for (const route of objectsOf(out, cluster, 'IngressRoute')) {
      assert.deepEqual(route.spec.entryPoints, ['websecure']);
      const cert = certs.find((c) => c.spec.secretName === route.spec.tls.secretName && c.metadata.namespace === route.metadata.namespace);
      assert.ok(cert, `${route.metadata.name}: its tls.secretName is a Certificate's`);
      assert.equal(route.spec.routes[0].match, `Host(\`${cert.spec.dnsNames[0]}\`)`);
      assert.equal(cert.spec.issuerRef.name, 'bramble-ca');
    }
    // The allow-lists stay.
    assert.ok(objectsOf(out, cluster, 'IngressRoute').every((r) => r.spec.routes[0].middlewares[0].name === 'allow-trusted'));
    const traefik = objectsOf(out, cluster, 'HelmRelease').find((r) => r.metadata.name === 'traefik');
    assert.deepEqual(traefik.spec.values.ports.web.http.redirections.entryPoint, { to: 'websecure', scheme: 'https', permanent: true });
  }
});

test("with the cluster's secrets in Git, bramble makes the CA once: a real CA certificate, encrypted, that the independent reader opens; no self-signed issuer is rendered", async () => {
  const key = await newClusterKey();
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['clusters', 0, 'secrets'], doc.createNode({ ageRecipient: key.recipient }));
  const inv = parseInventory(doc.toString(), 'site.yaml');
  const staging = inv.clusters[0]!;
  const out = await renderInventory(inv, { clusters: ['staging'] });
  assert.deepEqual(objectsOf(out, 'staging', 'ClusterIssuer').map((i) => i.metadata.name), ['bramble-ca']);
  assert.equal(objectsOf(out, 'staging', 'Certificate').some((c) => c.spec.isCA), false);

  const repo = tempDir();
  // Before publish makes it, the check does not ask the owner for it: bramble makes it.
  assert.deepEqual((await checkSecrets(repo, [staging], async () => undefined)).filter((l) => l.includes('bramble-ca')), []);
  const made = await ensurePlatformSecrets(repo, staging, inv.site.name);
  assert.deepEqual(made.map((m) => m.file), ['clusters/staging/secrets/monitoring-grafana-admin.sops.yaml', 'clusters/staging/secrets/cert-manager-bramble-ca.sops.yaml']);
  const file = join(repo, made[1]!.file);
  const text = readFileSync(file, 'utf8');
  assert.doesNotMatch(text, /BEGIN (PRIVATE KEY|CERTIFICATE)/, 'nothing of the CA is in plain text');
  assert.equal(parse(text).type, 'kubernetes.io/tls');
  const plain = sopsCheck(file, [key.identity]) as { stringData: Record<string, string> };
  // openssl, not bramble, reads the certificate and checks the key is its own.
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.crt'), plain.stringData['tls.crt']!);
  writeFileSync(join(dir, 'ca.key'), plain.stringData['tls.key']!, { mode: 0o600 });
  const text509 = spawnSync('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-text'], { encoding: 'utf8' }).stdout;
  assert.match(text509, /Subject: CN\s?=\s?bramble tinyhome staging CA, O\s?=\s?bramble/);
  assert.match(text509, /CA:TRUE/);
  assert.match(text509, /Certificate Sign, CRL Sign/);
  const pub = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' }).stdout;
  assert.equal(pub(['x509', '-in', join(dir, 'ca.crt'), '-noout', '-pubkey']), pub(['pkey', '-in', join(dir, 'ca.key'), '-pubout']));
  assert.equal(spawnSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'ca.crt')], { encoding: 'utf8' }).status, 0, 'self-signed and valid');
  // Made once: a second publish keeps it, so devices that trust it keep working.
  assert.deepEqual(await ensurePlatformSecrets(repo, staging, inv.site.name), []);
  assert.equal(readFileSync(file, 'utf8'), text);
});

test("Let's Encrypt by DNS-01 through Cloudflare: the issuer reads the token secret, cert-manager checks on public resolvers, and the token is asked for before a push", async () => {
  const out = await renderInventory(everything, { clusters: ['production'] });
  const [issuer] = objectsOf(out, 'production', 'ClusterIssuer');
  assert.equal(issuer.metadata.name, 'letsencrypt');
  assert.equal(issuer.spec.acme.server, 'https://acme-v02.api.letsencrypt.org/directory');
  assert.deepEqual(issuer.spec.acme.solvers, [{ dns01: { cloudflare: { apiTokenSecretRef: { name: 'cloudflare-api-token', key: 'api-token' } } } }]);
  assert.ok(objectsOf(out, 'production', 'Certificate').every((c) => c.spec.issuerRef.name === 'letsencrypt' && !c.spec.isCA));
  const values = objectsOf(out, 'production', 'HelmRelease').find((r) => r.metadata.name === 'cert-manager').spec.values;
  assert.equal(values.dns01RecursiveNameserversOnly, true);
  const missing = await checkSecrets(tempDir(), [everything.clusters[1]!], async () => undefined);
  assert.ok(missing.includes("clusters/production/secrets/cert-manager-cloudflare-api-token.sops.yaml: missing; cluster production answers Let's Encrypt's DNS-01 challenges with a Cloudflare API token (Zone:DNS:Edit), which goes here first: bramble secret set -c production cert-manager/cloudflare-api-token api-token"), missing.join('\n'));
  assert.ok(missing.some((l) => l.startsWith('clusters/production/secrets/cloudflared-tunnel.sops.yaml: missing; cluster production runs a Cloudflare Tunnel')), missing.join('\n'));
  assert.ok(missing.some((l) => l.includes('monitoring-notify.sops.yaml: missing')));
  assert.equal(missing.filter((l) => l.includes('monitoring-notify.sops.yaml')).length, 1, 'one line for one file, whatever it lacks');
  assert.equal(missing.some((l) => l.includes('github-receiver') || l.includes('bramble-ca')), false, 'bramble makes those itself');
});

test("TLS settings that cannot work are refused at their field: Let's Encrypt for a LAN-only name, without an e-mail or without secrets; an e-mail for the private CA", async () => {
  assert.deepEqual(
    await errors((d) => d.setIn(['clusters', 0, 'platform', 'tls'], d.createNode({ issuer: 'letsencrypt' }))),
    [
      "120:17 clusters.0.platform.tls.issuer: letsencrypt needs the ACME account's e-mail address: tls.email",
      '120:17 clusters.0.platform.tls.issuer: the Cloudflare API token for DNS-01 is a secret, kept in Git encrypted: cluster staging needs secrets.ageRecipient first (bramble secret init -c staging)',
      "120:17 clusters.0.platform.tls.issuer: grafana.staging.home.arpa ends in .arpa, a name only the LAN knows: Let's Encrypt cannot issue for it; use issuer private-ca, or a name under a domain you hold (monitoring.grafanaHost, or site.domain)",
      "120:17 clusters.0.platform.tls.issuer: traefik.staging.home.arpa ends in .arpa, a name only the LAN knows: Let's Encrypt cannot issue for it; use issuer private-ca, or a name under a domain you hold (traefik.dashboard.host, or site.domain)",
    ],
  );
  assert.deepEqual(await errors((d) => d.setIn(['defaults', 'platform', 'tls'], d.createNode({ email: 'owner@example.com' })), undefined), [
    '103:7 defaults.platform.tls.email: email is the ACME account of issuer letsencrypt; the private CA has none',
  ]);
  assert.match((await errors((d) => d.setIn(['clusters', 0, 'platform', 'tls'], d.createNode({ issuer: 'acme' }))))[0]!, /clusters\.0\.platform\.tls\.issuer: .*private-ca.*letsencrypt/);
  assert.match((await errors((d) => d.setIn(['clusters', 0, 'platform', 'tls'], d.createNode({ issuer: 'letsencrypt', email: 'not an address' }))))[0]!, /clusters\.0\.platform\.tls\.email: .*e-mail address/);
});

test('the tunnel publishes exactly the listed names through Traefik, the Receiver on its own name, everything else 404; two replicas that a drain takes one at a time', async () => {
  const out = await renderInventory(everything, { clusters: ['production'] });
  const [config] = objectsOf(out, 'production', 'ConfigMap');
  const cf = parse(config.data['config.yaml']);
  assert.deepEqual(cf.ingress, [
    { hostname: 'photos.example.com', service: 'https://traefik.traefik.svc.cluster.local:443', originRequest: { originServerName: 'photos.example.com', noTLSVerify: true } },
    { hostname: 'status.example.com', service: 'https://traefik.traefik.svc.cluster.local:443', originRequest: { originServerName: 'status.example.com', noTLSVerify: true } },
    { hostname: 'flux.example.com', path: '^/hook/', service: 'http://webhook-receiver.flux-system.svc.cluster.local:80' },
    { service: 'http_status:404' },
  ]);
  const [deploy] = objectsOf(out, 'production', 'Deployment');
  assert.equal(deploy.spec.replicas, 2);
  assert.equal(deploy.spec.template.spec.containers[0].image, 'cloudflare/cloudflared:2025.11.1');
  assert.deepEqual(deploy.spec.template.spec.containers[0].env, [{ name: 'TUNNEL_TOKEN', valueFrom: { secretKeyRef: { name: 'tunnel', key: 'token' } } }]);
  assert.ok(deploy.spec.template.spec.containers[0].resources.limits.memory, 'a memory limit');
  const [pdb] = objectsOf(out, 'production', 'PodDisruptionBudget');
  assert.deepEqual(pdb.spec, { minAvailable: 1, selector: { matchLabels: deploy.spec.selector.matchLabels } });
  assert.ok(pdb.spec.minAvailable < deploy.spec.replicas, 'a drain can always evict one');
  const [receiver] = objectsOf(out, 'production', 'Receiver');
  assert.deepEqual(receiver.spec.resources, [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system' }]);
  assert.equal(receiver.spec.secretRef.name, 'github-receiver');
  // A changed list restarts the pods, which read it only at start.
  const other = parseDocument(await homelabWithEverything(RECIPIENT));
  other.setIn(['clusters', 1, 'tunnel', 'hostnames'], other.createNode(['photos.example.com']));
  const again = objectsOf(await renderInventory(parseInventory(other.toString(), 'x.yaml'), { clusters: ['production'] }), 'production', 'Deployment')[0];
  assert.notEqual(again.spec.template.metadata.annotations['bramble.dev/config'], deploy.spec.template.metadata.annotations['bramble.dev/config']);
  // Staging has no tunnel: nothing of it is rendered there.
  const staging = await renderInventory(everything, { clusters: ['staging'] });
  assert.deepEqual(objectsOf(staging, 'staging', 'Deployment'), []);
});

test('tunnel names are checked: LAN-only names refused, the Receiver on a name of its own, secrets required; publishing Grafana or the dashboard is a warning that validate prints', async () => {
  const base = await homelabWithEverything(RECIPIENT);
  assert.deepEqual(await errors((d) => d.setIn(['clusters', 1, 'tunnel'], d.createNode({ hostnames: ['photos.home.arpa'], receiver: 'photos.home.arpa' })), base), [
    '193:11 clusters.1.tunnel.hostnames.0: photos.home.arpa ends in .arpa, a name only the LAN knows: Cloudflare publishes names of a zone you hold there',
    '194:17 clusters.1.tunnel.receiver: photos.home.arpa ends in .arpa, a name only the LAN knows: GitHub calls the Receiver from the internet',
    '194:17 clusters.1.tunnel.receiver: photos.home.arpa is also in tunnel.hostnames; the Receiver needs a name of its own',
  ]);
  assert.deepEqual(await errors((d) => d.setIn(['clusters', 0, 'tunnel'], d.createNode({ hostnames: ['a.example.com'] }))), [
    "120:7 clusters.0.tunnel: the tunnel's token is a secret, kept in Git encrypted: cluster staging needs secrets.ageRecipient first (bramble secret init -c staging)",
  ]);
  const doc = parseDocument(base);
  doc.setIn(['clusters', 1, 'tunnel', 'hostnames'], doc.createNode(['photos.example.com', 'grafana.lan.example.com']));
  const dir = tempDir();
  const file = join(dir, 'site.yaml');
  writeFileSync(file, doc.toString());
  const r = bramble(['validate', '-i', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(
    r.stderr.trim(),
    `${file}:194:11: clusters[1].tunnel.hostnames[1]: warning: grafana.lan.example.com publishes Grafana on the internet, where the allow-list of trusted VLANs sees Cloudflare's addresses instead of yours; leave it out unless that is what you want`,
  );
});

test('e-mail beside the webhook or instead of it: Alertmanager reads the SMTP password from the mounted secret, Flux failures reach e-mail as an alert', async () => {
  const out = await renderInventory(everything, { clusters: ['production'] });
  const am = objectsOf(out, 'production', 'HelmRelease').find((r) => r.metadata.name === 'kube-prometheus-stack').spec.values.alertmanager;
  const owner = am.config.receivers.find((r: any) => r.name === 'owner');
  assert.deepEqual(Object.keys(owner), ['name', 'discord_configs', 'email_configs']);
  assert.deepEqual(owner.email_configs, [{ to: 'owner@example.com', from: 'alerts@example.com', smarthost: 'smtp.example.com:587', auth_username: 'alerts@example.com', auth_password_file: '/etc/alertmanager/secrets/notify/smtp-password', require_tls: true, send_resolved: true }]);
  assert.deepEqual(am.alertmanagerSpec.secrets, ['notify']);
  assert.ok(objectsOf(out, 'production', 'PodMonitor').some((m) => m.metadata.namespace === 'flux-system'), "Flux's controllers are scraped");
  const rules = objectsOf(out, 'production', 'PrometheusRule').flatMap((r) => r.spec.groups.flatMap((g: any) => g.rules.map((x: any) => x.alert)));
  assert.ok(rules.includes('FluxReconcileErrors'));

  // E-mail alone, without a login: no Flux Provider (Flux has none for e-mail), no secret needed, so no age key either.
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['clusters', 0, 'notifications'], doc.createNode({ email: { smarthost: 'mail.lan.example.com:25', from: 'k3s@example.com', to: ['owner@example.com'], requireTls: false } }));
  const emailOnly = parseInventory(doc.toString(), 'email.yaml');
  const o = await renderInventory(emailOnly, { clusters: ['staging'] });
  assert.deepEqual(objectsOf(o, 'staging', 'Provider'), []);
  const am2 = objectsOf(o, 'staging', 'HelmRelease').find((r) => r.metadata.name === 'kube-prometheus-stack').spec.values.alertmanager;
  assert.deepEqual(am2.config.receivers[1], { name: 'owner', email_configs: [{ to: 'owner@example.com', from: 'k3s@example.com', smarthost: 'mail.lan.example.com:25', require_tls: false, send_resolved: true }] });
  assert.equal(am2.alertmanagerSpec.secrets, undefined);

  assert.deepEqual(await errors((d) => d.setIn(['clusters', 0, 'notifications'], d.createNode({ severity: 'info' }))), ['120:7 clusters.0.notifications: notifications need somewhere to go: a webhook type, an email, or both']);
  assert.deepEqual(await errors((d) => d.setIn(['clusters', 0, 'notifications'], d.createNode({ email: { smarthost: 'smtp.example.com:587', from: 'a@example.com', to: ['b@example.com'], username: 'a' } }))), [
    '125:19 clusters.0.notifications.email.username: the SMTP password is a secret, kept in Git encrypted: cluster staging needs secrets.ageRecipient first (bramble secret init -c staging)',
  ]);
  assert.match((await errors((d) => d.setIn(['clusters', 0, 'notifications'], d.createNode({ email: { smarthost: 'smtp.example.com', from: 'a@example.com', to: ['b@example.com'] } }))))[0]!, /notifications\.email\.smarthost: .*host and port/);
});

test('scanning: Trivy Operator one scan at a time, memory limits, its database on the chosen volume; a cache that is no StorageClass of the cluster is refused', async () => {
  const out = await renderInventory(everything, { clusters: ['staging'] });
  const trivy = objectsOf(out, 'staging', 'HelmRelease').find((r) => r.metadata.name === 'trivy-operator');
  assert.equal(trivy.spec.values.operator.scanJobsConcurrentLimit, 1);
  assert.equal(trivy.spec.values.operator.builtInTrivyServer, true, 'the database is kept once, by the server, not fetched by every scan job');
  assert.equal(trivy.spec.values.trivy.storageClassName, 'longhorn');
  for (const r of [trivy.spec.values.resources, trivy.spec.values.trivy.resources, trivy.spec.values.trivy.server.resources]) assert.ok(r.limits.memory, 'a memory limit');
  assert.equal(trivy.spec.values.serviceMonitor.enabled, true);
  assert.deepEqual(trivy.spec.dependsOn.map((d: any) => d.name), ['kube-prometheus-stack', 'longhorn'], 'its ServiceMonitor needs the Prometheus CRDs');
  const nfs = parseDocument(await homelabWithEverything(RECIPIENT));
  nfs.setIn(['defaults', 'platform', 'scanning', 'cache'], 'nfs-shared');
  const onNas = await renderInventory(parseInventory(nfs.toString(), 'nfs.yaml'), { clusters: ['staging'] });
  assert.equal(objectsOf(onNas, 'staging', 'HelmRelease').find((r) => r.metadata.name === 'trivy-operator').spec.values.trivy.storageClassName, 'nfs-shared');
  assert.deepEqual(await errors((d) => d.setIn(['defaults', 'platform', 'scanning'], d.createNode({ enabled: true, cache: 'ceph' }))), [
    '104:14 defaults.platform.scanning.cache: "ceph" is not a StorageClass of cluster "staging"; use longhorn or nfs-shared',
    '104:14 defaults.platform.scanning.cache: "ceph" is not a StorageClass of cluster "production"; use longhorn or nfs-shared',
  ]);
  // Off by default.
  assert.equal(objectsOf(await renderInventory(homelab), 'staging', 'HelmRelease').some((r) => r.metadata.name === 'trivy-operator'), false);
});

test('the critical class: a Longhorn StorageClass whose volumes are snapshotted every 5 minutes and backed up hourly, forced; a schedule slower than the RPO is a warning', async () => {
  const out = await renderInventory(everything, { clusters: ['production'] });
  const sc = objectsOf(out, 'production', 'StorageClass').find((s) => s.metadata.name === 'longhorn-critical');
  assert.equal(sc.provisioner, 'driver.longhorn.io');
  assert.equal(sc.reclaimPolicy, 'Retain');
  assert.equal(sc.parameters.numberOfReplicas, '3');
  assert.deepEqual(JSON.parse(sc.parameters.recurringJobSelector), [{ name: 'critical', isGroup: true }]);
  const jobs = objectsOf(out, 'production', 'RecurringJob').filter((j) => j.spec.groups.includes('critical'));
  assert.deepEqual(jobs.map((j) => [j.metadata.name, j.spec.task, j.spec.cron]), [
    ['bramble-critical-snapshot', 'snapshot-force-create', '*/5 * * * *'],
    ['bramble-critical-backup', 'backup-force-create', '0 * * * *'],
  ]);
  const doc = parseDocument(await homelabWithEverything(RECIPIENT));
  doc.setIn(['clusters', 0, 'backup', 'critical'], doc.createNode({ snapshot: { schedule: '*/15 * * * *' } }));
  const inv = parseInventory(doc.toString(), 'slow.yaml');
  assert.deepEqual(inv.warnings.map((w) => `${w.line}:${w.col} ${w.message}`), ["130:21 \"*/15 * * * *\" leaves up to 15 minutes between snapshots of the critical volumes: more than the site's RPO of 5 minutes"]);
});

test('zero-downtime updates: production refuses one Longhorn replica on several nodes; what runs twice has a budget that lets a drain through', async () => {
  assert.deepEqual(await errors((d) => d.setIn(['clusters', 1, 'platform', 'longhorn', 'replicas'], 1)), [
    '147:19 clusters.1.platform.longhorn.replicas: cluster "production" is production with 3 nodes, and one Longhorn replica per volume: draining any node for an upgrade or a reboot takes its volumes offline; use 2 or more',
  ]);
  for (const inv of [homelab, everything]) {
    const out = await renderInventory(inv);
    for (const cluster of inv.clusters) {
      const multi = cluster.active.length > 1;
      const webhook = objectsOf(out, cluster.name, 'HelmRelease').find((r) => r.metadata.name === 'cert-manager').spec.values.webhook;
      assert.equal(webhook.replicaCount ?? 1, multi ? 2 : 1, `${cluster.name}: cert-manager's webhook`);
      if (multi) assert.ok(webhook.podDisruptionBudget.minAvailable < webhook.replicaCount);
      // Every PDB leaves a drain something to evict; a single node gets none (its pods cannot move anyway).
      for (const pdb of objectsOf(out, cluster.name, 'PodDisruptionBudget')) {
        assert.ok(multi, `${cluster.name}: a PDB on a single node would block its drain`);
        const target = objectsOf(out, cluster.name, 'Deployment').find((d) => JSON.stringify(d.spec.selector.matchLabels) === JSON.stringify(pdb.spec.selector.matchLabels));
        assert.ok(target && pdb.spec.minAvailable < target.spec.replicas);
      }
      // The upgrade Plans drain servers where another node can take their pods, honouring the budgets (kubectl drain's eviction API).
      const plans = objectsOf(out, cluster.name, 'Plan');
      const server = plans.find((p) => p.metadata.name.includes('server'));
      assert.equal(server.spec.drain !== undefined, multi, `${cluster.name}: servers drained when they are several`);
    }
  }
});

test('the drain check refuses a budget that would block every drain, and one that selects nothing', async () => {
  const { drainProblems } = await import('../src/render/drain.ts');
  const out = await renderInventory(everything, { clusters: ['production'] });
  assert.deepEqual(drainProblems(out.docs), [], 'what bramble renders lets a drain through');
  const deploy = out.docs.find((d) => d.object.kind === 'Deployment')!;
  const pdb = out.docs.find((d) => d.object.kind === 'PodDisruptionBudget')!;
  const one = { ...deploy, object: { ...deploy.object, spec: { ...(deploy.object.spec as object), replicas: 1 } } };
  assert.deepEqual(drainProblems([one, pdb]), [
    'clusters/production/infrastructure/configs/tunnel.yaml: PodDisruptionBudget cloudflared/cloudflared leaves Deployment cloudflared (1 replica(s)) nothing a drain may evict: every drain of its node would wait for ever',
  ]);
  const elsewhere = { ...pdb, object: { ...pdb.object, spec: { minAvailable: 1, selector: { matchLabels: { app: 'other' } } } } };
  assert.deepEqual(drainProblems([deploy, elsewhere]), ['clusters/production/infrastructure/configs/tunnel.yaml: PodDisruptionBudget cloudflared/cloudflared selects no workload rendered beside it']);
});

test('the platform fits the boards: validate prints the memory budget per cluster, and a board too small is refused with the numbers', async () => {
  const dir = tempDir();
  const r = bramble(['validate', '-i', HOMELAB]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cluster staging: the platform requests \d\.\d GiB of pi5-staging's 8\.0 GiB, k3s and the OS take 2\.0 GiB, leaving \d\.\d GiB for apps \(at least 2\.0 GiB, a quarter, is kept\)/);
  assert.match(r.stdout, /cluster production: the platform requests \d\.\d GiB of rk1-1's 16\.0 GiB/);
  const out = await renderInventory(everything);
  const staging = out.budgets.find((b) => b.cluster === 'staging')!;
  // Counted from the rendered files: Prometheus's request, cert-manager's, Trivy's, cloudflared's two replicas.
  assert.ok(staging.items.some((i) => i.what === 'kube-prometheus-stack prometheus.prometheusSpec' && i.mib === 768));
  assert.ok(out.budgets.find((b) => b.cluster === 'production')!.items.some((i) => i.what === 'cloudflared/cloudflared x2' && i.mib === 96));
  assert.ok(staging.items.some((i) => i.what.startsWith('trivy-operator')));
  // A 4 GB board with scanning on: refused, saying how much is asked and what is left.
  const doc = parseDocument(await homelabWithEverything(RECIPIENT));
  doc.setIn(['clusters', 0, 'nodes', 0, 'memoryGiB'], 4);
  const small = parseInventory(doc.toString(), 'small.yaml');
  await assert.rejects(renderInventory(small), (e: unknown) => {
    assert.ok(e instanceof RenderError);
    assert.match(e.problems.join('\n'), /^cluster staging: the platform requests 2\.\d GiB of pi5-staging's 4\.0 GiB, k3s and the OS take 2\.0 GiB, leaving -?0\.\d GiB for apps \(at least 1\.0 GiB, a quarter, is kept\): the platform does not fit; give the node more memory \(memoryGiB\), or turn parts off \(platform\.scanning\) or down \(platform\.monitoring\.prometheus\.memory\)$/m);
    return true;
  });
  mkdirSync(join(dir, 'x'));
  const file = join(dir, 'x', 'small.yaml');
  writeFileSync(file, doc.toString());
  const refused = bramble(['validate', '-i', file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the platform does not fit/);
});

test('a push is live within the site\'s 5 minutes: the GitRepository interval plus a requeue per layer it waits on stays under it', async () => {
  // kustomize-controller reconciles a Kustomization as soon as its source has a new revision, and one
  // whose dependency is not ready yet again after --requeue-dependency (30s by default).
  const seconds = (d: string) => [...d.matchAll(/(\d+)(h|m|s)/g)].reduce((n, [, v, u]) => n + Number(v) * { h: 3600, m: 60, s: 1 }[u as 'h' | 'm' | 's'], 0);
  for (const inv of [homelab, everything]) {
    const out = await renderInventory(inv);
    for (const cluster of inv.clusters) {
      const repo = objectsOf(out, cluster.name, 'GitRepository').find((g) => g.metadata.name === 'flux-system');
      const ks = objectsOf(out, cluster.name, 'Kustomization').filter((k) => k.apiVersion.startsWith('kustomize.toolkit'));
      const depth = (name: string): number => {
        const k = ks.find((x) => x.metadata.name === name);
        return k?.spec.dependsOn ? 1 + Math.max(...k.spec.dependsOn.map((d: any) => depth(d.name))) : 0;
      };
      const worst = seconds(repo.spec.interval) + 30 * Math.max(...ks.map((k) => depth(k.metadata.name)));
      assert.ok(worst <= 300, `${cluster.name}: ${worst} s before the last layer starts applying`);
    }
  }
});
