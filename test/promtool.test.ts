// The site's alerts proven with Prometheus's own tool (Debian's prometheus
// package: promtool). Every rendered PrometheusRule passes `promtool check
// rules`; `promtool test rules` then evaluates each alert on synthetic series
// named as node_exporter, kubelet and longhorn-manager export them, and shows
// it firing where the site says it should and quiet where it should not.
// The unit tests run the rules with their annotations taken off (promtool
// would otherwise need each expanded annotation spelled out); the check runs
// on the files exactly as rendered.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument, stringify } from 'yaml';
import { loadInventory, parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { HOMELAB, homelabWithS3Backups, tempDir } from './helpers.ts';

const dir = tempDir();

/** The reference site with everything that adds alerts on: backups to the NAS's S3 and the NAS's own metrics. */
async function everything() {
  const doc = parseDocument(await homelabWithS3Backups('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'));
  doc.setIn(['nas', 'metrics'], doc.createNode({ port: 9100 }));
  return parseInventory(doc.toString(), 'everything.yaml');
}

function promtool(args: string[]) {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: dir });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

/** Each cluster's rendered rule groups, one file per PrometheusRule. */
async function ruleFiles(inv: Awaited<ReturnType<typeof everything>>, tag: string) {
  const files: Array<{ file: string; groups: any[] }> = [];
  for (const d of (await renderInventory(inv)).docs.filter((x) => x.object.kind === 'PrometheusRule')) {
    const file = join(dir, `${tag}-${d.file.replaceAll('/', '_')}-${d.object.metadata!.name}.rules.yaml`);
    const groups = (d.object as any).spec.groups;
    writeFileSync(file, stringify({ groups }));
    files.push({ file, groups });
  }
  return files;
}

test('every rendered PrometheusRule passes promtool check rules (reference site, and with backups and the NAS watched)', async () => {
  let n = 0;
  for (const [tag, inv] of [['reference', await loadInventory(HOMELAB)], ['everything', await everything()]] as const) {
    for (const { file } of await ruleFiles(inv, tag)) {
      const r = promtool(['check', 'rules', file]);
      assert.equal(r.code, 0, `${file}: ${r.out}`);
      assert.match(r.out, /SUCCESS: \d+ rules found/);
      n++;
    }
  }
  assert.ok(n >= 4, `${n} rule files checked`);
  // The check itself fails on a broken expression.
  const bad = join(dir, 'bad.rules.yaml');
  writeFileSync(bad, stringify({ groups: [{ name: 'x', rules: [{ alert: 'Broken', expr: 'sum by (instance (up)' }] }] }));
  assert.notEqual(promtool(['check', 'rules', bad]).code, 0);
});

const series = (s: string, values: string) => ({ series: s, values });
const NFS = 'export="192.168.100.20:/k8s"';

test("promtool test rules: each site alert fires on series that break the site's figure and stays quiet on series that do not", async () => {
  const files = (await ruleFiles(await everything(), 'unit')).filter((f) => f.file.includes('production'));
  const stripped = files.map(({ file, groups }) => {
    const out = file.replace(/\.rules\.yaml$/, '.noannotations.yaml');
    writeFileSync(out, stringify({ groups: groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }: any) => r) })) }));
    return out;
  });
  const alerts = new Set(files.flatMap((f) => f.groups.flatMap((g) => g.rules.map((r: any) => r.alert))));
  for (const a of ['NFSServerUnreachable', 'NFSHighLatency', 'VolumeUsageHigh', 'NodeDiskUsageHigh', 'NodeThermalThrottling', 'NASDown', 'NASPoolDegraded', 'NASPoolFull', 'VolumeBackupFailed', 'VolumeBackupStale']) assert.ok(alerts.has(a), `rendered: ${a}`);

  const tests = [
    {
      // An NFS client's major timeouts against the NAS's export: unreachable. Another client without timeouts: quiet.
      interval: '1m',
      input_series: [
        series(`node_mountstats_nfs_operations_major_timeouts_total{instance="rk1-01:9100",${NFS},operation="READ"}`, '0+1x20'),
        series(`node_mountstats_nfs_operations_major_timeouts_total{instance="rk1-02:9100",${NFS},operation="READ"}`, '0+0x20'),
        series('node_nfs_rpc_retransmissions_total{instance="rk1-02:9100"}', '0+0x20'),
      ],
      alert_rule_test: [
        { eval_time: '10m', alertname: 'NFSServerUnreachable', exp_alerts: [{ exp_labels: { severity: 'critical', instance: 'rk1-01:9100', export: '192.168.100.20:/k8s' } }] },
      ],
    },
    {
      // 600 ms per NFS request fires, 400 ms does not: the site's figure is 500 ms.
      interval: '1m',
      input_series: [
        series(`node_mountstats_nfs_operations_requests_total{instance="slow:9100",${NFS},operation="READ"}`, '0+10x30'),
        series(`node_mountstats_nfs_operations_request_time_seconds_total{instance="slow:9100",${NFS},operation="READ"}`, '0+6x30'),
        series(`node_mountstats_nfs_operations_requests_total{instance="ok:9100",${NFS},operation="READ"}`, '0+10x30'),
        series(`node_mountstats_nfs_operations_request_time_seconds_total{instance="ok:9100",${NFS},operation="READ"}`, '0+4x30'),
      ],
      alert_rule_test: [
        { eval_time: '5m', alertname: 'NFSHighLatency', exp_alerts: [] },
        { eval_time: '20m', alertname: 'NFSHighLatency', exp_alerts: [{ exp_labels: { severity: 'warning', instance: 'slow:9100', export: '192.168.100.20:/k8s' } }] },
      ],
    },
    {
      // A volume 85 % full fires after 15 minutes; one at 70 % and a node disk at 50 % stay quiet; a tmpfs at 95 % is not a disk.
      interval: '1m',
      input_series: [
        series('kubelet_volume_stats_used_bytes{namespace="apps",persistentvolumeclaim="full"}', '85x30'),
        series('kubelet_volume_stats_capacity_bytes{namespace="apps",persistentvolumeclaim="full"}', '100x30'),
        series('kubelet_volume_stats_used_bytes{namespace="apps",persistentvolumeclaim="fine"}', '70x30'),
        series('kubelet_volume_stats_capacity_bytes{namespace="apps",persistentvolumeclaim="fine"}', '100x30'),
        series('node_filesystem_avail_bytes{instance="pi5-01:9100",fstype="ext4",mountpoint="/"}', '15x30'),
        series('node_filesystem_size_bytes{instance="pi5-01:9100",fstype="ext4",mountpoint="/"}', '100x30'),
        series('node_filesystem_avail_bytes{instance="rk1-01:9100",fstype="ext4",mountpoint="/"}', '50x30'),
        series('node_filesystem_size_bytes{instance="rk1-01:9100",fstype="ext4",mountpoint="/"}', '100x30'),
        series('node_filesystem_avail_bytes{instance="rk1-01:9100",fstype="tmpfs",mountpoint="/run"}', '5x30'),
        series('node_filesystem_size_bytes{instance="rk1-01:9100",fstype="tmpfs",mountpoint="/run"}', '100x30'),
      ],
      alert_rule_test: [
        { eval_time: '10m', alertname: 'VolumeUsageHigh', exp_alerts: [] },
        { eval_time: '20m', alertname: 'VolumeUsageHigh', exp_alerts: [{ exp_labels: { severity: 'warning', namespace: 'apps', persistentvolumeclaim: 'full' } }] },
        { eval_time: '20m', alertname: 'NodeDiskUsageHigh', exp_alerts: [{ exp_labels: { severity: 'warning', instance: 'pi5-01:9100', fstype: 'ext4', mountpoint: '/' } }] },
      ],
    },
    {
      // The Pi's SoC at 82 °C (the firmware throttles from 80): fires; the RK1 at 70 °C does not.
      interval: '1m',
      input_series: [
        series('node_thermal_zone_temp{instance="pi5-01:9100",type="cpu-thermal",zone="0"}', '82x10'),
        series('node_thermal_zone_temp{instance="rk1-01:9100",type="soc-thermal",zone="0"}', '70x10'),
      ],
      alert_rule_test: [{ eval_time: '6m', alertname: 'NodeThermalThrottling', exp_alerts: [{ exp_labels: { severity: 'warning', instance: 'pi5-01:9100' } }] }],
    },
    {
      // The NAS's node_exporter: down; a pool degraded beside a healthy one; a filesystem 90 % full.
      interval: '1m',
      input_series: [
        series('up{job="nas",nas="qnap",instance="192.168.100.20:9100"}', '0x10'),
        series('node_zfs_zpool_state{nas="qnap",instance="192.168.100.20:9100",zpool="tank",state="degraded"}', '1x10'),
        series('node_zfs_zpool_state{nas="qnap",instance="192.168.100.20:9100",zpool="tank",state="online"}', '0x10'),
        series('node_zfs_zpool_state{nas="qnap",instance="192.168.100.20:9100",zpool="fast",state="online"}', '1x10'),
        series('node_zfs_zpool_state{nas="qnap",instance="192.168.100.20:9100",zpool="fast",state="degraded"}', '0x10'),
        series('node_filesystem_avail_bytes{nas="qnap",instance="192.168.100.20:9100",mountpoint="/share/tank"}', '10x30'),
        series('node_filesystem_size_bytes{nas="qnap",instance="192.168.100.20:9100",mountpoint="/share/tank"}', '100x30'),
      ],
      alert_rule_test: [
        { eval_time: '6m', alertname: 'NASDown', exp_alerts: [{ exp_labels: { severity: 'critical', job: 'nas', nas: 'qnap', instance: '192.168.100.20:9100' } }] },
        { eval_time: '6m', alertname: 'NASPoolDegraded', exp_alerts: [{ exp_labels: { severity: 'critical', nas: 'qnap', instance: '192.168.100.20:9100', zpool: 'tank', state: 'degraded' } }] },
        { eval_time: '20m', alertname: 'NASPoolFull', exp_alerts: [{ exp_labels: { severity: 'warning', instance: '192.168.100.20:9100' } }] },
      ],
    },
    {
      // A backup in Longhorn's Error state (4) fires; a completed one (3) does not.
      interval: '1m',
      input_series: [
        series('longhorn_backup_state{volume="pvc-bad",backup="backup-1",recurring_job="bramble-backup"}', '4x30'),
        series('longhorn_backup_state{volume="pvc-good",backup="backup-2",recurring_job="bramble-backup"}', '3x30'),
      ],
      alert_rule_test: [{ eval_time: '20m', alertname: 'VolumeBackupFailed', exp_alerts: [{ exp_labels: { severity: 'warning', volume: 'pvc-bad', backup: 'backup-1' } }] }],
    },
    {
      // A volume whose newest completed backup is older than twice the schedule's longest gap: stale. One backed up again an hour ago: not.
      // (One sample a minute: Prometheus forgets a series 5 minutes after its last sample.)
      interval: '1m',
      input_series: [
        series('longhorn_backup_state{volume="pvc-old",backup="backup-a",recurring_job="bramble-backup"}', '3x3300'),
        series('longhorn_backup_state{volume="pvc-new",backup="backup-b",recurring_job="bramble-backup"}', '3x3300'),
        series('longhorn_backup_state{volume="pvc-new",backup="backup-c",recurring_job="bramble-backup"}', '_x3180 3x120'),
      ],
      alert_rule_test: [{ eval_time: '54h', alertname: 'VolumeBackupStale', exp_alerts: [{ exp_labels: { severity: 'warning', volume: 'pvc-old' } }] }],
    },
  ];
  const unit = join(dir, 'unit.test.yaml');
  writeFileSync(unit, stringify({ rule_files: stripped, evaluation_interval: '1m', tests }));
  const r = promtool(['test', 'rules', unit]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);

  // The unit tests can fail: an alert expected that the series do not raise.
  const wrong = join(dir, 'wrong.test.yaml');
  writeFileSync(wrong, stringify({ rule_files: stripped, evaluation_interval: '1m', tests: [{ ...tests[3], alert_rule_test: [{ eval_time: '6m', alertname: 'NodeThermalThrottling', exp_alerts: [{ exp_labels: { severity: 'warning', instance: 'rk1-01:9100' } }] }] }] }));
  assert.notEqual(promtool(['test', 'rules', wrong]).code, 0);
});

test('promtool test rules: the critical class, scanning and Flux-by-e-mail alerts fire where their figure breaks and stay quiet where it holds', async () => {
  const { homelabWithEverything } = await import('./helpers.ts');
  const inv = parseInventory(await homelabWithEverything('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'), 'platform.yaml');
  const files = (await ruleFiles(inv, 'platform')).filter((f) => f.file.includes('production'));
  for (const { file } of files) assert.equal(promtool(['check', 'rules', file]).code, 0, file);
  const stripped = files.map(({ file, groups }) => {
    const out = file.replace(/\.rules\.yaml$/, '.noannotations.yaml');
    writeFileSync(out, stringify({ groups: groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }: any) => r) })) }));
    return out;
  });
  const alerts = new Set(files.flatMap((f) => f.groups.flatMap((g) => g.rules.map((r: any) => r.alert))));
  for (const a of ['CriticalVolumeSnapshotStale', 'CriticalVolumeBackupStale', 'CriticalVulnerability', 'FluxReconcileErrors']) assert.ok(alerts.has(a), `rendered: ${a}`);

  // Critical volumes are the PVCs of StorageClass longhorn-critical, named by their PV as Longhorn names its volume.
  const pvc = (name: string, sc: string) => series(`kube_persistentvolumeclaim_info{namespace="db",persistentvolumeclaim="${name}",storageclass="${sc}",volumename="pvc-${name}"}`, '1x240');
  // A new snapshot of pvc-fresh every 5 minutes (a new series each time, as Longhorn names each snapshot); pvc-stuck's last is its first.
  const fresh = Array.from({ length: 12 }, (_, k) => series(`longhorn_snapshot_actual_size_bytes{volume="pvc-fresh",snapshot="s${k}",user_created="true"}`, k === 0 ? '1x60' : `_x${5 * k - 1} 1x${60 - 5 * k}`));
  // Hourly backups of pvc-fresh; pvc-stuck's only backup is at the start.
  const backups = [0, 60, 120, 180].map((m, k) => series(`longhorn_backup_state{volume="pvc-fresh",backup="b${k}",recurring_job="bramble-critical-backup"}`, m === 0 ? '3x240' : `_x${m - 1} 3x${240 - m}`));
  const tests = [
    {
      interval: '1m',
      input_series: [pvc('fresh', 'longhorn-critical'), pvc('stuck', 'longhorn-critical'), pvc('plain', 'longhorn'), ...fresh, series('longhorn_snapshot_actual_size_bytes{volume="pvc-stuck",snapshot="old",user_created="true"}', '1x60')],
      alert_rule_test: [
        { eval_time: '12m', alertname: 'CriticalVolumeSnapshotStale', exp_alerts: [] },
        // Older than 10 minutes (two runs missed), for 5 minutes: only the stuck critical volume; the plain one is no critical volume.
        { eval_time: '20m', alertname: 'CriticalVolumeSnapshotStale', exp_alerts: [{ exp_labels: { severity: 'critical', volume: 'pvc-stuck', volumename: 'pvc-stuck' } }] },
        { eval_time: '55m', alertname: 'CriticalVolumeSnapshotStale', exp_alerts: [{ exp_labels: { severity: 'critical', volume: 'pvc-stuck', volumename: 'pvc-stuck' } }] },
      ],
    },
    {
      interval: '1m',
      input_series: [pvc('fresh', 'longhorn-critical'), pvc('stuck', 'longhorn-critical'), ...backups, series('longhorn_backup_state{volume="pvc-stuck",backup="old",recurring_job="bramble-critical-backup"}', '3x240')],
      alert_rule_test: [
        { eval_time: '100m', alertname: 'CriticalVolumeBackupStale', exp_alerts: [] },
        { eval_time: '200m', alertname: 'CriticalVolumeBackupStale', exp_alerts: [{ exp_labels: { severity: 'critical', volume: 'pvc-stuck', volumename: 'pvc-stuck' } }] },
      ],
    },
    {
      // Critical vulnerabilities in a running workload fire; only high ones elsewhere do not.
      interval: '1m',
      input_series: [
        series('trivy_image_vulnerabilities{namespace="apps",resource_kind="Deployment",resource_name="web",image_repository="library/nginx",severity="Critical"}', '2x60'),
        series('trivy_image_vulnerabilities{namespace="apps",resource_kind="Deployment",resource_name="api",image_repository="library/api",severity="Critical"}', '0x60'),
        series('trivy_image_vulnerabilities{namespace="apps",resource_kind="Deployment",resource_name="api",image_repository="library/api",severity="High"}', '7x60'),
      ],
      alert_rule_test: [
        { eval_time: '20m', alertname: 'CriticalVulnerability', exp_alerts: [] },
        { eval_time: '40m', alertname: 'CriticalVulnerability', exp_alerts: [{ exp_labels: { severity: 'warning', namespace: 'apps', resource_kind: 'Deployment', resource_name: 'web' } }] },
      ],
    },
    {
      // A controller failing every minute for half an hour fires; one that failed once an hour ago does not.
      interval: '1m',
      input_series: [
        series('controller_runtime_reconcile_errors_total{namespace="flux-system",controller="helmrelease",pod="helm-controller-1"}', '0+1x60'),
        series('controller_runtime_reconcile_errors_total{namespace="flux-system",controller="kustomization",pod="kustomize-controller-1"}', '1x60'),
      ],
      alert_rule_test: [{ eval_time: '40m', alertname: 'FluxReconcileErrors', exp_alerts: [{ exp_labels: { severity: 'warning', controller: 'helmrelease' } }] }],
    },
  ];
  const unit = join(dir, 'platform.test.yaml');
  writeFileSync(unit, stringify({ rule_files: stripped, evaluation_interval: '1m', tests }));
  const r = promtool(['test', 'rules', unit]);
  assert.equal(r.code, 0, r.out);
  // And it can fail: the fresh volume is not stale.
  const wrong = join(dir, 'platform-wrong.test.yaml');
  writeFileSync(wrong, stringify({ rule_files: stripped, evaluation_interval: '1m', tests: [{ ...tests[0], alert_rule_test: [{ eval_time: '20m', alertname: 'CriticalVolumeSnapshotStale', exp_alerts: [{ exp_labels: { severity: 'critical', volume: 'pvc-fresh', volumename: 'pvc-fresh' } }] }] }] }));
  assert.notEqual(promtool(['test', 'rules', wrong]).code, 0);
});
