// Backups to the NAS, without a lab: what the inventory may say and where it
// is refused, what render makes of an S3 and an NFS target (Longhorn's values
// against the chart's, the RecurringJobs against their model, k3s's snapshot
// settings), the schedules behind the freshness limits, the report `backup
// status` prints, the restore plan, and the S3 keys kept encrypted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decryptSops as independent } from 'sops-age';
import { parse, parseDocument } from 'yaml';
import { followS3Settings, setS3Keys } from '../src/backup/credentials.ts';
import { restorePlan, type LocalSnapshot } from '../src/backup/restore.ts';
import { cronFires, longestGapMinutes } from '../src/site/backup.ts';
import { backupReport, type EtcdSnapshot, type VolumeBackup } from '../src/backup/status.ts';
import { isCron } from '../src/inventory/formats.ts';
import { parseInventory } from '../src/inventory/load.ts';
import { formatPath, InventoryError } from '../src/inventory/problems.ts';
import { k3sConfig } from '../src/k3s/config.ts';
import { RecurringJob } from '../src/render/longhorn-model.ts';
import { renderInventory } from '../src/render/render.ts';
import { checkSecrets } from '../src/secrets/check.ts';
import { newClusterKey } from '../src/secrets/keys.ts';
import { CLI, HOMELAB, homelabWithS3Backups, sopsCheck, tempDir, UPSTREAM } from './helpers.ts';

const key = await newClusterKey();
const S3_SITE = await homelabWithS3Backups(key.recipient);
const site = parseInventory(S3_SITE, 's3-site.yaml');
const production = site.clusters.find((c) => c.name === 'production')!;
const staging = site.clusters.find((c) => c.name === 'staging')!;

/** The problems validate reports for the S3 site with one change, as "path: message" (warnings marked). */
function problemsWith(edit: (doc: ReturnType<typeof parseDocument>) => void): string[] {
  const doc = parseDocument(S3_SITE);
  edit(doc);
  try {
    parseInventory(doc.toString(), 'edited.yaml');
  } catch (e) {
    if (e instanceof InventoryError) return e.problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
    throw e;
  }
  return [];
}

test('the S3 target: Longhorn backs up to the bucket with its credential secret, every volume on two schedules, and the servers snapshot etcd to S3 through a Secret', async () => {
  const out = await renderInventory(site);
  const longhorn = out.docs.find((d) => d.file === 'clusters/production/infrastructure/controllers/longhorn.yaml' && d.object.kind === 'HelmRelease')!;
  const values = (longhorn.object.spec as { values: Record<string, any> }).values;
  assert.deepEqual(values.defaultBackupStore, { backupTarget: 's3://homelab-backups@us-east-1/longhorn/production/', backupTargetCredentialSecret: 'backup-s3' });
  // Keys the chart really has (a misspelt one would be ignored by Helm).
  const chart = parse(readFileSync(join(UPSTREAM, 'charts', 'longhorn', 'values.yaml'), 'utf8'));
  assert.ok('backupTarget' in chart.defaultBackupStore && 'backupTargetCredentialSecret' in chart.defaultBackupStore);

  const jobs = out.docs.filter((d) => d.file === 'clusters/production/infrastructure/configs/backup.yaml').map((d) => d.object);
  assert.deepEqual(
    jobs.map((j) => [j.kind, j.metadata?.name, (j.spec as any).task, (j.spec as any).cron, (j.spec as any).retain, (j.spec as any).groups]),
    [
      ['RecurringJob', 'bramble-snapshot', 'snapshot', '0 * * * *', 24, ['default']],
      ['RecurringJob', 'bramble-backup', 'backup', '0 3 * * *', 14, ['default']],
    ],
  );

  const rules = out.docs.find((d) => d.file === 'clusters/production/infrastructure/configs/alerts.yaml')!.object.spec as { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string }> }> };
  const backupRules = rules.groups.find((g) => g.name === 'bramble.backup')!.rules;
  assert.deepEqual(backupRules.map((r) => r.alert), ['VolumeBackupFailed', 'VolumeBackupStale']);
  assert.match(backupRules[1]!.expr, /offset 48h\)\)$/, 'a nightly backup is too old after two days');

  const first = k3sConfig(production, production.servers[0]!);
  const config = parse(first);
  assert.equal(config['etcd-snapshot-schedule-cron'], '0 */6 * * *');
  assert.equal(config['etcd-snapshot-retention'], 20);
  assert.equal(config['etcd-s3'], true);
  assert.equal(config['etcd-s3-config-secret'], 'k3s-etcd-snapshot-s3-config');
  assert.ok(!/access|secret-key|9000/.test(first), 'no S3 setting or key in the node file');
  for (const s of production.servers) assert.equal(parse(k3sConfig(production, s))['etcd-s3-config-secret'], 'k3s-etcd-snapshot-s3-config', s.name);
  // A single sqlite server has no etcd: its volumes are backed up, nothing is snapshotted.
  assert.equal(staging.backup!.etcd, undefined);
  assert.ok(!/etcd-s3|etcd-snapshot/.test(k3sConfig(staging, staging.servers[0]!)));
  assert.equal(out.docs.filter((d) => d.file === 'clusters/staging/infrastructure/configs/backup.yaml').length, 2);
});

test('a cluster without a backup section renders none of it', async () => {
  const plain = parseInventory(readFileSync(HOMELAB, 'utf8'), 'homelab.yaml');
  const out = await renderInventory(plain);
  assert.ok(!out.files.some((f) => f.path.endsWith('/backup.yaml')));
  assert.ok(!out.files.some((f) => f.content.includes('defaultBackupStore') || f.content.includes('bramble.backup')));
  assert.ok(!/etcd-snapshot/.test(k3sConfig(plain.clusters[1]!, plain.clusters[1]!.servers[0]!)), "k3s's own defaults hold");
});

test('validate refuses a target the cluster cannot use, at its field', () => {
  const at = (path: string, re: RegExp, problems: string[]) => assert.ok(problems.some((p) => p.startsWith(`${path}: `) && re.test(p)), `${path} ${re}: got ${problems.join(' | ')}`);
  at('clusters[1].backup.target', /needs the NAS's S3 service declared: nas\.s3/, problemsWith((d) => d.deleteIn(['nas', 's3'])));
  at('clusters[1].backup', /target s3 needs the bucket/, problemsWith((d) => d.deleteIn(['clusters', 1, 'backup', 'bucket'])));
  at('clusters[1].backup.target', /S3 access keys are secrets.*bramble secret init -c production/, problemsWith((d) => d.deleteIn(['clusters', 1, 'secrets'])));
  at('clusters[1].backup.export', /export is for target nfs/, problemsWith((d) => d.setIn(['clusters', 1, 'backup', 'export'], '/k8s')));
  at('clusters[1].backup.export', /\/backups is not an export of qnap; declared: \/k8s/, problemsWith((d) => d.setIn(['clusters', 1, 'backup'], d.createNode({ target: 'nfs', export: '/backups' }))));
  at('clusters[1].backup', /target nfs needs the export: backup\.export, one of \/k8s/, problemsWith((d) => d.setIn(['clusters', 1, 'backup'], d.createNode({ target: 'nfs' }))));
  at('clusters[1].backup.bucket', /bucket is for target s3/, problemsWith((d) => d.setIn(['clusters', 1, 'backup'], d.createNode({ target: 'nfs', export: '/k8s', bucket: 'x-y-z' }))));
  at('clusters[1].backup.bucket', /S3 bucket name/, problemsWith((d) => d.setIn(['clusters', 1, 'backup', 'bucket'], 'Homelab_Backups')));
  at('clusters[1].backup.etcd.schedule', /five-field cron schedule/, problemsWith((d) => d.setIn(['clusters', 1, 'backup', 'etcd'], d.createNode({ schedule: '0 25 * * *' }))));
  at('nas.s3.port', /65535|maximum/, problemsWith((d) => d.setIn(['nas', 's3', 'port'], 70000)));
  at('clusters[1].backup.target', /NAS is on VLAN 100: backups would cross the router/, problemsWith((d) => d.setIn(['clusters', 1, 'vlan'], 30)));

  at('clusters[0].backup.etcd', /one server on sqlite, which has no etcd to snapshot: set datastore: etcd/, problemsWith((d) => d.setIn(['clusters', 0, 'backup', 'etcd'], d.createNode({ retention: 3 }))));
  // An NFS target on an etcd cluster is allowed: its snapshots stay on the servers, which backup status says.
  assert.deepEqual(problemsWith((d) => d.setIn(['clusters', 1, 'backup'], d.createNode({ target: 'nfs', export: '/k8s' }))), []);
});

test('cron schedules: what cron takes, when it fires, and the longest wait between runs', () => {
  for (const ok of ['0 3 * * *', '*/15 * * * *', '0 */6 * * *', '30 2 * * 1,4', '0 0 1 * *', '0 9-17/2 * * 1-5', '0 0 * * 7']) assert.ok(isCron(ok), ok);
  for (const bad of ['0 3 * *', '60 * * * *', '0 24 * * *', '* * 0 * *', '* * * 13 *', '*/0 * * * *', '5-1 * * * *', '@daily', 'a b c d e']) assert.ok(!isCron(bad), bad);
  assert.ok(cronFires('0 3 * * *', new Date('2026-03-04T03:00:00Z')));
  assert.ok(!cronFires('0 3 * * *', new Date('2026-03-04T03:01:00Z')));
  // Both day fields restricted: either matches, as cron has it.
  assert.ok(cronFires('0 0 1 * 1', new Date('2026-06-01T00:00:00Z')), 'the 1st');
  assert.ok(cronFires('0 0 1 * 1', new Date('2026-06-08T00:00:00Z')), 'a Monday');
  assert.ok(cronFires('0 0 * * 7', new Date('2026-06-07T00:00:00Z')), '7 is Sunday');
  assert.equal(longestGapMinutes('0 3 * * *'), 24 * 60);
  assert.equal(longestGapMinutes('0 */6 * * *'), 6 * 60);
  assert.equal(longestGapMinutes('30 2 * * 1,4'), 4 * 24 * 60, 'Thursday to Monday');
  assert.equal(longestGapMinutes('0 0 1 * *'), 31 * 24 * 60);
  assert.equal(longestGapMinutes('0 9-17/2 * * 1-5'), (24 + 24 + 16) * 60, 'Friday 17:00 to Monday 09:00');
});

test('the RecurringJob model refuses what the API server would: an unknown task, a misspelt field, a bad schedule', () => {
  const job = (spec: Record<string, unknown>) => () => new RecurringJob({ apiVersion: 'longhorn.io/v1beta2', kind: 'RecurringJob', metadata: { name: 'x', namespace: 'longhorn-system' }, spec } as never).validate();
  job({ task: 'backup', cron: '0 3 * * *', retain: 3, concurrency: 1, groups: ['default'] })();
  assert.throws(job({ task: 'copy', cron: '0 3 * * *' }), /\/spec\/task must be equal to one of the allowed values/);
  assert.throws(job({ task: 'backup', cron: '0 3 * * *', retian: 3 }), /must NOT have additional properties \(retian\)/);
  assert.throws(job({ task: 'backup', cron: '0 3 * *' }), /\/spec\/cron must be a five-field cron schedule/);
  assert.throws(job({ task: 'backup', cron: '0 3 * * *', concurrency: 0 }), /\/spec\/concurrency must be >= 1/);
});

const NOW = new Date('2026-11-23T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);
const snap = (node: string, h: number, extra: Partial<EtcdSnapshot> = {}): EtcdSnapshot => ({ name: `etcd-snapshot-${node}-${h}`, node, location: '', created: hoursAgo(h), ready: true, ...extra });
const vb = (volume: string, h: number, state = 'Completed', extra: Partial<VolumeBackup> = {}): VolumeBackup => ({ name: `backup-${volume}-${h}`, volume, state, created: hoursAgo(h), ...extra });

test('backup status: fresh backups everywhere is healthy; a missing, stale or failed one is named and unhealthy', () => {
  const fresh = [...production.servers.map((s) => snap(s.name, 2)), snap('s3', 2), snap('rk1-1', 8)];
  const good = backupReport(production, fresh, [vb('pvc-a', 5), vb('pvc-a', 29), vb('pvc-b', 30)], NOW);
  assert.equal(good.healthy, true, good.lines.join('\n'));
  assert.match(good.lines.join('\n'), /on rk1-1\s+newest etcd-snapshot-rk1-1-2, 2h00m ago \(2 kept\)/);
  assert.match(good.lines.join('\n'), /in S3\s+newest etcd-snapshot-s3-2, 2h00m ago/);
  assert.match(good.lines.join('\n'), /pvc-a\s+newest backup-pvc-a-5, 5h00m ago \(2 kept\)/);
  assert.match(good.lines.join('\n'), /too old after 12h00m/, 'etcd every 6 hours');

  const cases: Array<[string, EtcdSnapshot[], VolumeBackup[] | { missing: true }, RegExp]> = [
    ['no copy in S3', production.servers.map((s) => snap(s.name, 2)), [vb('pvc-a', 5)], /in S3\s+NONE/],
    ['a server with old snapshots', [...production.servers.map((s) => snap(s.name, s.name === 'rk1-2' ? 13 : 2)), snap('s3', 2)], [vb('pvc-a', 5)], /on rk1-2\s+TOO OLD: newest etcd-snapshot-rk1-2-13, 13h00m ago/],
    ['a failed snapshot', [...production.servers.map((s) => snap(s.name, 2)), snap('s3', 2), snap('s3', 1, { ready: false, error: 'Access Denied' })], [vb('pvc-a', 5)], /FAILED etcd-snapshot-s3-1 on s3: Access Denied/],
    ['a stale volume', fresh, [vb('pvc-a', 5), vb('pvc-b', 49)], /pvc-b\s+TOO OLD: newest backup-pvc-b-49, 2d1h ago/],
    ['a failed volume backup', fresh, [vb('pvc-a', 5), vb('pvc-a', 1, 'Error', { error: 'NFS: permission denied' })], /FAILED backup-pvc-a-1: NFS: permission denied/],
    ['Longhorn not there', fresh, { missing: true }, /Longhorn is not installed yet/],
  ];
  for (const [what, etcd, volumes, re] of cases) {
    const r = backupReport(production, etcd, volumes, NOW);
    assert.equal(r.healthy, false, what);
    assert.match(r.lines.join('\n'), re, what);
  }
  const unread = backupReport(production, { error: 'the connection to the server was refused' }, [vb('pvc-a', 5)], NOW);
  assert.equal(unread.healthy, false);
  assert.match(unread.lines.join('\n'), /cannot read them: the connection to the server was refused/);
  // No volume has been backed up yet: said, and not a failure.
  const none = backupReport(staging, undefined, [], NOW);
  assert.equal(none.healthy, true);
  assert.match(none.lines.join('\n'), /etcd snapshots: none \(a single server on sqlite has no etcd/);
  assert.match(none.lines.join('\n'), /none yet: the first runs at the next "0 3 \* \* \*"/);
});

test('the restore plan: every server stopped, the first reset onto the snapshot (copied there when another server holds it), the others rejoin one by one', () => {
  const at = new Date('2026-11-20T06:00:00Z');
  const found: LocalSnapshot[] = [
    { node: 'rk1-2', name: 'on-demand-rk1-2-1763618400', path: '/var/lib/rancher/k3s/server/db/snapshots/on-demand-rk1-2-1763618400', bytes: 4096, created: at },
    { node: 'rk1-1', name: 'etcd-snapshot-rk1-1-1763596800', path: '/var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-rk1-1-1763596800', bytes: 4000, created: at },
  ];
  const plan = restorePlan(production, found, 'on-demand-rk1-2-1763618400', NOW);
  assert.equal(plan.first.name, 'rk1-1');
  assert.equal(plan.copy, true);
  assert.deepEqual(plan.others.map((o) => o.name), ['rk1-2', 'rk1-3']);
  assert.match(plan.steps[0]!, /^stop k3s on every server: rk1-1, rk1-2, rk1-3 \(the API is down until step 4;/);
  assert.match(plan.steps[1]!, /^copy on-demand-rk1-2-1763618400 \(4096 bytes\) from rk1-2 to rk1-1/);
  assert.match(plan.steps[2]!, /^on rk1-1: k3s server --cluster-reset --cluster-reset-restore-path=\/var\/lib\/rancher\/k3s\/server\/db\/snapshots\/on-demand-rk1-2-1763618400/);
  assert.match(plan.steps[3]!, /^start k3s on rk1-1 and wait until it is Ready/);
  assert.match(plan.steps[4]!, /^on rk1-2: move \/var\/lib\/rancher\/k3s\/server\/db .* aside to \/var\/lib\/rancher\/k3s\/server\/db-before-restore-20261123T120000Z, start k3s/);
  assert.equal(plan.steps.length, 6);
  const local = restorePlan(production, found, 'etcd-snapshot-rk1-1-1763596800', NOW);
  assert.equal(local.copy, false, 'on the first server already');
  assert.match(local.steps[0]!, /the API is down until step 3;/);
  assert.match(local.steps[2]!, /^start k3s on rk1-1/);

  assert.throws(() => restorePlan(production, found, 'nope', NOW), /no snapshot nope on the servers of cluster production; newest there: on-demand-rk1-2-1763618400, etcd-snapshot-rk1-1-1763596800/);
  assert.throws(() => restorePlan(production, [], 'nope', NOW), /they hold none/);
  assert.throws(() => restorePlan(staging, found, 'x', NOW), /cluster staging runs sqlite on one server: there is no etcd snapshot to restore/);
});

test("backup credentials: the keys go encrypted into Longhorn's and k3s's Secrets with the target's settings; publish refuses until they are there; settings follow the inventory", async () => {
  const repo = tempDir('bramble-backup-keys-');
  process.env.SOPS_AGE_KEY = key.identity;
  const identity = async (r: string) => (r === key.recipient ? key.identity : undefined);
  const missing = await checkSecrets(repo, [production], identity);
  assert.ok(missing.includes('clusters/production/secrets/longhorn-system-backup-s3.sops.yaml: missing; cluster production backs up to the NAS\'s S3 service, whose access keys go here first: bramble backup credentials -c production'), missing.join('\n'));
  assert.ok(missing.some((m) => m.startsWith('clusters/production/secrets/kube-system-k3s-etcd-snapshot-s3-config.sops.yaml: missing')));
  const stagingMissing = await checkSecrets(repo, [staging], identity);
  assert.ok(!stagingMissing.some((m) => m.includes('k3s-etcd-snapshot')), 'a sqlite cluster needs no etcd upload secret');

  await assert.rejects(setS3Keys(repo, production, { accessKey: 'minio user', secretKey: 'x' }), /the access key is empty or has spaces/);
  const results = await setS3Keys(repo, production, { accessKey: 'bramble-production', secretKey: 'S3cr3t/Key+With=Signs' });
  assert.deepEqual(results.map((r) => `${r.action} ${r.file}`), ['added clusters/production/secrets/longhorn-system-backup-s3.sops.yaml', 'added clusters/production/secrets/kube-system-k3s-etcd-snapshot-s3-config.sops.yaml']);
  const open = async (f: string) => {
    const file = join(repo, 'clusters/production/secrets', f);
    const values = (await independent(readFileSync(file, 'utf8'), { secretKey: key.identity, fileType: 'yaml' })).stringData;
    // And the reader that checks the MAC as sops does agrees.
    assert.deepEqual((sopsCheck(file, [key.identity]) as { stringData: unknown }).stringData, values, f);
    return values;
  };
  assert.deepEqual(await open('longhorn-system-backup-s3.sops.yaml'), { AWS_ENDPOINTS: 'http://192.168.100.20:9000', AWS_ACCESS_KEY_ID: 'bramble-production', AWS_SECRET_ACCESS_KEY: 'S3cr3t/Key+With=Signs' });
  assert.deepEqual(await open('kube-system-k3s-etcd-snapshot-s3-config.sops.yaml'), {
    'etcd-s3-endpoint': '192.168.100.20:9000',
    'etcd-s3-bucket': 'homelab-backups',
    'etcd-s3-folder': 'etcd/production',
    'etcd-s3-region': 'us-east-1',
    'etcd-s3-insecure': 'true',
    'etcd-s3-access-key': 'bramble-production',
    'etcd-s3-secret-key': 'S3cr3t/Key+With=Signs',
  });
  for (const f of ['longhorn-system-backup-s3.sops.yaml', 'kube-system-k3s-etcd-snapshot-s3-config.sops.yaml']) assert.ok(!readFileSync(join(repo, 'clusters/production/secrets', f), 'utf8').includes('S3cr3t'), f);
  assert.deepEqual(await checkSecrets(repo, [production], identity), []);
  assert.match(readFileSync(join(repo, 'clusters/production/secrets/namespace-longhorn-system.yaml'), 'utf8'), /name: longhorn-system/);

  // The same keys again change nothing; the NAS's S3 moving to another port reaches both Secrets at the next publish, the keys kept.
  assert.deepEqual((await setS3Keys(repo, production, { accessKey: 'bramble-production', secretKey: 'S3cr3t/Key+With=Signs' })).map((r) => r.action), ['unchanged', 'unchanged']);
  assert.deepEqual(await followS3Settings(repo, production), []);
  const moved = parseInventory(S3_SITE.replace('port: 9000', 'port: 9100'), 's3-site.yaml').clusters.find((c) => c.name === 'production')!;
  assert.deepEqual((await followS3Settings(repo, moved)).map((r) => r.file), ['clusters/production/secrets/longhorn-system-backup-s3.sops.yaml', 'clusters/production/secrets/kube-system-k3s-etcd-snapshot-s3-config.sops.yaml']);
  assert.equal((await open('longhorn-system-backup-s3.sops.yaml')).AWS_ENDPOINTS, 'http://192.168.100.20:9100');
  assert.equal((await open('kube-system-k3s-etcd-snapshot-s3-config.sops.yaml'))['etcd-s3-access-key'], 'bramble-production');
});

test('the backup and restore commands refuse what they cannot do, saying why, before touching anything', () => {
  const dir = tempDir('bramble-backup-cli-');
  const inv = join(dir, 'site.yaml');
  writeFileSync(inv, S3_SITE);
  const plainInv = join(dir, 'plain.yaml');
  writeFileSync(plainInv, readFileSync(HOMELAB, 'utf8'));
  // A work tree already there: these inventories' remote is GitHub, which tests never reach.
  spawnSync('git', ['init', '-q', join(dir, 'repo')]);
  const run = (args: string[], input = '') => {
    const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', env: { ...process.env, SOPS_AGE_KEY: key.identity } });
    return { code: r.status, out: r.stdout + r.stderr };
  };
  const cases: Array<[string[], RegExp, string?]> = [
    [['backup', 'credentials', '-i', inv, '--repo', join(dir, 'repo')], /backup credentials needs exactly one --cluster NAME/],
    [['backup', 'credentials', '-i', plainInv, '-c', 'production', '--repo', join(dir, 'repo')], /cluster production has no S3 backup target \(backup\.target: s3\); an NFS target needs no keys/],
    [['backup', 'credentials', '-i', inv, '-c', 'production', '--repo', join(dir, 'repo')], /the secret key is empty or has spaces or control characters/, 'only-an-access-key\n'],
    [['backup', 'verify', '-i', inv], /backup takes status or credentials, not "verify"/],
    [['restore', '-i', inv, '-c', 'production'], /restore needs --etcd SNAPSHOT/],
    [['restore', '-i', inv, '--etcd', 'x'], /restore needs exactly one --cluster NAME/],
    [['restore', '-i', inv, '-c', 'staging', '--etcd', 'x'], /cluster staging runs sqlite on one server: there is no etcd snapshot to restore/],
  ];
  for (const [args, re, input] of cases) {
    const r = run(args, input);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.out, re, args.join(' '));
    assert.ok(!/\n\s+at /.test(r.out), `${args.join(' ')}: no stack trace`);
  }
  assert.ok(!existsSync(join(dir, 'repo', 'clusters')), 'no secret file was written');
});
