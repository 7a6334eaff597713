// The boards' own OS kept patched (issue 31): the inventory's osUpdates read
// and refused at its fields, kured rendered against its chart's real keys and
// its flags' meaning, the reboot alerts proven by promtool, and
// unattended-upgrades' configuration read back by apt's own parser. prepare,
// preflight and status on real sshd are in os-updates-lab.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseDocument, stringify, type Document } from 'yaml';
import { loadInventory, parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { alertFilter, overdueHours, UNATTENDED_FILE, unattendedConfig } from '../src/site/reboots.ts';
import { compareKernels, osLine, osState } from '../src/nodes/os-state.ts';
import { goDurationMs, lockLine } from '../src/k3s/reboots.ts';
import { HOMELAB, homelabWithEverything, problemsOf, SECOND, tempDir, UPSTREAM } from './helpers.ts';

const homelab = await loadInventory(HOMELAB);

async function errors(edit: (doc: Document) => void): Promise<string[]> {
  return (await problemsOf(edit)).map((p) => `${p.path.join('.')}: ${p.message}`);
}

test('osUpdates: the site sets it, a cluster reads its own over the site\'s, and off is off', async () => {
  for (const c of homelab.clusters) {
    assert.deepEqual(c.osUpdates, {
      packages: 'security',
      reboot: { days: ['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su'], start: '02:00', end: '05:00', timeZone: 'UTC', drainTimeout: '30m', ignoreAlerts: ['Watchdog', 'InfoInhibitor'] },
      version: '6.1.0',
    });
  }
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['clusters', 1, 'osUpdates'], doc.createNode({ packages: 'all', reboot: { days: ['sa', 'su'], timeZone: 'Europe/London' } }));
  doc.setIn(['clusters', 0, 'osUpdates'], doc.createNode({ enabled: false }));
  const inv = parseInventory(doc.toString(), 'site.yaml');
  assert.equal(inv.clusters[0]!.osUpdates, undefined, 'staging turned off under the site');
  assert.deepEqual(inv.clusters[1]!.osUpdates!.reboot, { days: ['sa', 'su'], start: '02:00', end: '05:00', timeZone: 'Europe/London', drainTimeout: '30m', ignoreAlerts: ['Watchdog', 'InfoInhibitor'] });
  assert.equal(inv.clusters[1]!.osUpdates!.packages, 'all');
  // Without osUpdates anywhere, bramble leaves the OS alone, and validate says so as a warning.
  const second = await loadInventory(SECOND);
  assert.ok(second.clusters.every((c) => c.osUpdates === undefined));
  assert.deepEqual(second.warnings.map((w) => w.message).filter((m) => /osUpdates/.test(m)).length, 1);
  assert.deepEqual(homelab.warnings.filter((w) => /osUpdates/.test(w.message)), []);
});

test('osUpdates is refused at its field: a window that never opens (kured reads one day), an unknown day or zone, a bad duration or alert name', async () => {
  const at = (path: Array<string | number>, value: unknown) => (doc: Document) => doc.setIn(path, doc.createNode(value));
  assert.deepEqual(await errors(at(['site', 'osUpdates', 'reboot', 'end'], '01:00')), [
    "site.osUpdates.reboot.end: the reboot window closes at 01:00, before it opens at 02:00: kured reads a window within one day (after start, before end, on the listed days), so it would never reboot; choose an end later than the start on the same day",
  ]);
  // Both ends given: the error stands at the end, which closes the window.
  assert.deepEqual(await errors(at(['site', 'osUpdates', 'reboot', 'start'], '05:00')), [
    "site.osUpdates.reboot.end: the reboot window closes at 05:00, when it opens at 05:00: kured reads a window within one day (after start, before end, on the listed days), so it would never reboot; choose an end later than the start on the same day",
  ]);
  // Whole at each level, broken once the cluster's start is read over the site's end.
  const merged = await errors(at(['clusters', 1, 'osUpdates'], { reboot: { start: '06:00' } }));
  assert.equal(merged.length, 1);
  assert.match(merged[0]!, /^clusters\.1\.osUpdates\.reboot\.start: the reboot window closes at 05:00, before it opens at 06:00/);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'days'], ['mon'])))[0]!, /^site\.osUpdates\.reboot\.days\.0: /);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'days'], ['mo', 'mo'])))[0]!, /^site\.osUpdates\.reboot\.days: /);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'timeZone'], 'Mars/Olympus')))[0]!, /^site\.osUpdates\.reboot\.timeZone: expected an IANA time zone such as Europe\/London or UTC/);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'start'], '2am')))[0]!, /^site\.osUpdates\.reboot\.start: expected a time of day such as 02:00/);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'drainTimeout'], '2d')))[0]!, /^site\.osUpdates\.reboot\.drainTimeout: expected a duration such as 30m/);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'ignoreAlerts'], ['Watch dog'])))[0]!, /^site\.osUpdates\.reboot\.ignoreAlerts\.0: expected a Prometheus alert name/);
  assert.match((await errors(at(['site', 'osUpdates', 'packages'], 'security-only')))[0]!, /^site\.osUpdates\.packages: /);
  // A canonical name, UTC, and an alias the database still knows (Go's runtime loads them all).
  for (const zone of ['Europe/London', 'UTC', 'Etc/UTC', 'Asia/Calcutta']) assert.deepEqual(await errors(at(['site', 'osUpdates', 'reboot', 'timeZone'], zone)), [], zone);
  assert.match((await errors(at(['site', 'osUpdates', 'reboot', 'timeZone'], 'Europe/Londn')))[0]!, /^site\.osUpdates\.reboot\.timeZone: expected an IANA time zone/);
});

test('kured is rendered for every cluster with the window, one node at a time, the alert filter and the upgrade pods it waits for; its values are its chart\'s keys', async () => {
  const out = await renderInventory(homelab);
  const chart = parse(readFileSync(join(UPSTREAM, 'charts', 'kured', 'Chart.yaml'), 'utf8'));
  const defaults = parse(readFileSync(join(UPSTREAM, 'charts', 'kured', 'values.yaml'), 'utf8'));
  for (const cluster of ['staging', 'production']) {
    const docs = out.docs.filter((d) => d.file === `clusters/${cluster}/infrastructure/controllers/kured.yaml`).map((d) => d.object as any);
    const release = docs.find((d) => d.kind === 'HelmRelease');
    const repo = docs.find((d) => d.kind === 'HelmRepository');
    assert.equal(release.metadata.namespace, 'kube-system', "kured's own --ds-namespace default, where status reads its lock");
    assert.equal(release.spec.chart.spec.version, chart.version);
    assert.equal(repo.spec.url, 'https://kubereboot.github.io/charts');
    const c = release.spec.values.configuration;
    for (const k of Object.keys(c)) assert.ok(k in defaults.configuration, `configuration.${k} is a key of the chart`);
    assert.equal(c.concurrency, 1);
    assert.deepEqual([c.rebootDays, c.startTime, c.endTime, c.timeZone], [['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su'], '02:00', '05:00', 'UTC']);
    assert.equal(c.drainTimeout, '30m');
    assert.equal(c.forceReboot, false);
    assert.equal(c.lockTtl, undefined, 'no lock TTL: a node that does not come back keeps the lock');
    assert.equal(c.alertFilterRegexp, '^(Watchdog|InfoInhibitor|NodeRebootOverdue)$');
    assert.equal(c.alertFiringOnly, true);
    assert.deepEqual(c.blockingPodSelector, ['upgrade.cattle.io/plan'], 'the label system-upgrade-controller puts on every upgrade job pod');
    // The URL is kube-prometheus-stack's Prometheus Service: its release name and namespace as rendered.
    const kps = out.docs.find((d) => d.file.startsWith(`clusters/${cluster}/`) && d.object.kind === 'HelmRelease' && d.object.metadata?.name === 'kube-prometheus-stack')!.object as any;
    assert.equal(c.prometheusUrl, `http://${kps.spec.releaseName ?? kps.metadata.name}-prometheus.${kps.metadata.namespace}.svc:9090`);
    assert.deepEqual(release.spec.dependsOn, [{ name: 'kube-prometheus-stack', namespace: 'monitoring' }]);
    const controllers = out.files.find((f) => f.path === `clusters/${cluster}/infrastructure/controllers/kustomization.yaml`)!.content;
    assert.match(controllers, /- kured\.yaml/);
    // Scraped for NodeRebootOverdue, and let through the monitoring fence to ask Prometheus.
    const monitor = out.docs.find((d) => d.file.startsWith(`clusters/${cluster}/`) && d.object.kind === 'PodMonitor' && d.object.metadata?.name === 'kured')!.object as any;
    assert.equal(monitor.metadata.namespace, 'kube-system');
    assert.deepEqual(monitor.spec.podMetricsEndpoints, [{ port: 'metrics' }]);
    const fence = out.docs.find((d) => d.file.startsWith(`clusters/${cluster}/`) && d.object.kind === 'NetworkPolicy' && d.object.metadata?.name === 'allow-kured-to-prometheus')!.object as any;
    assert.deepEqual(fence.spec.ingress[0].ports, [{ port: 9090, protocol: 'TCP' }]);
  }
  // Off: no kured, no fence, no alerts.
  const second = await renderInventory(await loadInventory(SECOND));
  assert.ok(!second.files.some((f) => /kured|NodeRebootOverdue/.test(f.content)));
});

test('the gates go nowhere: Alertmanager routes them to null, while the owner still hears of an overdue reboot', async () => {
  const inv = parseInventory(await homelabWithEverything('age1c7padz34vlzcfnnxvxwqk8sc9z2v6sfqzzv5gp8ewwxhly3ahyxsfzm6xr'), 'everything.yaml');
  const out = await renderInventory(inv);
  const kps = out.docs.find((d) => d.file.startsWith('clusters/production/') && d.object.kind === 'HelmRelease' && d.object.metadata?.name === 'kube-prometheus-stack')!.object as any;
  const routes = kps.spec.values.alertmanager.config.route.routes;
  assert.ok(routes.some((r: any) => r.receiver === 'null' && r.matchers.includes('bramble_gate = "reboot"')));
  const rules = (out.docs.find((d) => d.file === 'clusters/production/infrastructure/configs/alerts.yaml')!.object as any).spec.groups.find((g: any) => g.name === 'bramble.reboots').rules;
  assert.deepEqual(rules.map((r: any) => [r.alert, r.labels.bramble_gate ?? '-', r.labels.severity]), [
    ['NodeRebootOverdue', '-', 'warning'],
    ['RebootGateUpgradeRunning', 'reboot', 'none'],
    ['RebootGateNodeNotReady', 'reboot', 'none'],
  ]);
});

test('two windows: the longest stretch over two gaps between window days', () => {
  assert.equal(overdueHours(['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su']), 48);
  assert.equal(overdueHours(['sa', 'su']), 7 * 24, 'needed on a Sunday after the window: Saturday, then Sunday');
  assert.equal(overdueHours(['we']), 14 * 24);
  assert.equal(overdueHours(['mo', 'we', 'fr']), 5 * 24);
  assert.equal(alertFilter(['Watchdog', 'NodeRebootOverdue']), '^(Watchdog|NodeRebootOverdue)$');
});

const promtool = (args: string[], cwd: string) => {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
};

test('promtool: NodeRebootOverdue fires after two windows and not before; the gates fire while an upgrade job runs or a node is NotReady, and only then', async () => {
  const dir = tempDir();
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['clusters', 1, 'osUpdates'], doc.createNode({ reboot: { days: ['sa', 'su'] } }));
  const out = await renderInventory(parseInventory(doc.toString(), 'site.yaml'));
  const files: string[] = [];
  for (const cluster of ['staging', 'production']) {
    const groups = (out.docs.find((d) => d.file === `clusters/${cluster}/infrastructure/configs/alerts.yaml`)!.object as any).spec.groups;
    const file = join(dir, `${cluster}.rules.yaml`);
    writeFileSync(file, stringify({ groups }));
    assert.equal(promtool(['check', 'rules', file], dir).code, 0);
    const bare = join(dir, `${cluster}.bare.yaml`);
    // Only the groups holding the alerts under test, whole: promtool evaluates every rule it is given
    // at every step of two to seven simulated days, and the site's other groups made that 10 s of CPU.
    const tested = groups.filter((g: any) => g.rules.some((r: any) => /^(NodeRebootOverdue|RebootGate\w+)$/.test(r.alert ?? '')));
    assert.ok(tested.length > 0 && tested.length < groups.length, `${tested.length} of ${groups.length} groups`);
    writeFileSync(bare, stringify({ groups: tested.map((g: any) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }: any) => r) })) }));
    files.push(bare);
  }
  const series = (s: string, values: string) => ({ series: s, values });
  const gate = { severity: 'none', bramble_gate: 'reboot' };
  const unit = (rules: string, tests: unknown[], every = '1m') => {
    const f = join(dir, `${rules.replace(/\W/g, '')}-${Math.random().toString(36).slice(2)}.test.yaml`);
    writeFileSync(f, stringify({ rule_files: [rules], evaluation_interval: every, tests }));
    return promtool(['test', 'rules', f], dir);
  };
  // Staging reboots every night: overdue after 48 hours of kured_reboot_required at 1.
  const nightly = [
    {
      // Every 5 minutes, within Prometheus's 5-minute look-back, as kured's gauge is scraped.
      interval: '5m',
      input_series: [series('kured_reboot_required{node="pi5-staging",instance="10.42.0.9:8080"}', '1x700'), series('kured_reboot_required{node="other",instance="10.42.0.8:8080"}', '1x360 0x340')],
      alert_rule_test: [
        { eval_time: '47h', alertname: 'NodeRebootOverdue', exp_alerts: [] },
        { eval_time: '50h', alertname: 'NodeRebootOverdue', exp_alerts: [{ exp_labels: { severity: 'warning', node: 'pi5-staging' } }] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        series('kube_job_status_active{namespace="system-upgrade",job_name="apply-server-plan-on-rk1-1"}', '0x5 1x10 0x5'),
        series('kube_job_status_active{namespace="media",job_name="transcode"}', '1x20'),
        series('kube_node_status_condition{node="rk1-2",condition="Ready",status="true"}', '1x5 0x5 1x10'),
        series('kube_node_status_condition{node="rk1-3",condition="Ready",status="true"}', '1x20'),
      ],
      alert_rule_test: [
        { eval_time: '3m', alertname: 'RebootGateUpgradeRunning', exp_alerts: [] },
        { eval_time: '8m', alertname: 'RebootGateUpgradeRunning', exp_alerts: [{ exp_labels: gate }] },
        { eval_time: '18m', alertname: 'RebootGateUpgradeRunning', exp_alerts: [] },
        { eval_time: '3m', alertname: 'RebootGateNodeNotReady', exp_alerts: [] },
        { eval_time: '7m', alertname: 'RebootGateNodeNotReady', exp_alerts: [{ exp_labels: { ...gate, node: 'rk1-2', condition: 'Ready', status: 'true' } }] },
        { eval_time: '15m', alertname: 'RebootGateNodeNotReady', exp_alerts: [] },
      ],
    },
  ];
  const r = unit(files[0]!, nightly);
  assert.equal(r.code, 0, r.out);
  // Production reboots at weekends only: 48 hours is not overdue there, a week is.
  const weekend = [
    {
      interval: '5m',
      input_series: [series('kured_reboot_required{node="rk1-2"}', '1x2100')],
      alert_rule_test: [
        { eval_time: '50h', alertname: 'NodeRebootOverdue', exp_alerts: [] },
        { eval_time: '170h', alertname: 'NodeRebootOverdue', exp_alerts: [{ exp_labels: { severity: 'warning', node: 'rk1-2' } }] },
      ],
    },
  ];
  // Evaluated every 5 minutes, as the series is scraped: a week at every minute is 10,000 steps.
  const w = unit(files[1]!, weekend, '5m');
  assert.equal(w.code, 0, w.out);
  // And the test can fail: staging's rule does not fire at 47 hours.
  assert.notEqual(unit(files[0]!, [{ ...nightly[0], alert_rule_test: [{ eval_time: '47h', alertname: 'NodeRebootOverdue', exp_alerts: [{ exp_labels: { severity: 'warning', node: 'pi5-staging' } }] }] }]).code, 0);
});

/** apt's own reading of a configuration folder: the package's defaults, then bramble's file after them. */
function aptConfig(parts: string): Record<string, string[]> {
  const main = join(parts, '..', 'apt.conf');
  writeFileSync(main, `Dir::Etc::Parts "${parts}";\n`);
  const r = spawnSync('apt-config', ['dump'], { encoding: 'utf8', env: { ...process.env, APT_CONFIG: main } });
  assert.equal(r.status, 0, r.stderr);
  const out: Record<string, string[]> = {};
  for (const m of r.stdout.matchAll(/^(Unattended-Upgrade::[\w-]+|APT::Periodic::[\w-]+)(?:::)? "(.*)";$/gm)) (out[m[1]!] ??= []).push(m[2]!);
  return out;
}

test("unattended-upgrades' configuration as apt reads it: bramble's origins replace the package's list, and the package never reboots", () => {
  // The package's own defaults, as Debian ships them (installed by scripts/test-deps.sh).
  const shipped = '/etc/apt/apt.conf.d/50unattended-upgrades';
  assert.ok(existsSync(shipped), 'Debian\'s unattended-upgrades is installed (scripts/test-deps.sh)');
  for (const packages of ['security', 'all'] as const) {
    const parts = join(tempDir(), 'apt.conf.d');
    mkdirSync(parts);
    copyFileSync(shipped, join(parts, '50unattended-upgrades'));
    const before = aptConfig(parts);
    assert.ok(before['Unattended-Upgrade::Origins-Pattern']!.some((o) => o.includes('label=Debian"') || o.endsWith('label=Debian')), "the package's list has Debian's point releases");
    writeFileSync(join(parts, UNATTENDED_FILE.split('/').pop()!), unattendedConfig(packages));
    const after = aptConfig(parts);
    const origins = after['Unattended-Upgrade::Origins-Pattern']!.filter(Boolean);
    if (packages === 'security') {
      assert.deepEqual(origins, ['origin=Debian,codename=${distro_codename}-security,label=Debian-Security', 'origin=Debian,codename=${distro_codename},label=Debian-Security', 'origin=Ubuntu,archive=${distro_codename}-security']);
    } else {
      assert.ok(origins.includes('origin=Raspberry Pi Foundation,codename=${distro_codename}') && origins.includes('origin=Armbian') && origins.length === 9, origins.join('\n'));
    }
    assert.deepEqual(after['Unattended-Upgrade::Automatic-Reboot'], ['false']);
    assert.deepEqual(after['APT::Periodic::Unattended-Upgrade'], ['1']);
  }
});

test('a node\'s OS state: the sentinel and since when, a newer kernel of its own flavour, and the boot time', () => {
  const facts = { os_kernel: '6.6.51+rpt-rpi-2712', os_kernels: '6.6.51+rpt-rpi-2712 6.6.62+rpt-rpi-2712 6.6.70+rpt-rpi-v8', os_reboot_since: '1764806400', os_reboot_pkgs: 'linux-image-rpi-2712 libssl3', os_booted: '1764547200' };
  const s = osState(facts);
  assert.deepEqual(s, { kernel: '6.6.51+rpt-rpi-2712', newerKernel: '6.6.62+rpt-rpi-2712', rebootSince: 1764806400, rebootPackages: ['linux-image-rpi-2712', 'libssl3'], bootedAt: 1764547200, pending: true });
  assert.equal(osLine(s), 'booted 2025-12-01 00:00Z, kernel 6.6.51+rpt-rpi-2712 running, 6.6.62+rpt-rpi-2712 installed, reboot pending since 2025-12-04 00:00Z (linux-image-rpi-2712, libssl3)');
  const calm = osState({ os_kernel: '6.8.0-1013-raspi', os_kernels: '6.8.0-1013-raspi 6.8.0-1012-raspi', os_reboot_since: '', os_reboot_pkgs: '', os_booted: '1764547200' });
  assert.equal(calm.pending, false);
  assert.equal(osLine(calm), 'booted 2025-12-01 00:00Z, kernel 6.8.0-1013-raspi, no reboot pending');
  assert.ok(compareKernels('6.6.9', '6.6.10') < 0, 'by number, not by text');
});

test("kured's lock: free, held while a node reboots, and a warning once held past the drain timeout", () => {
  const now = new Date('2026-12-04T03:00:00Z');
  assert.equal(goDurationMs('1h30m'), 90 * 60_000);
  assert.deepEqual(lockLine({ free: true }, '30m', now), { line: 'reboot lock: free', stuck: false });
  assert.equal(lockLine({ holder: 'rk1-2', since: new Date('2026-12-04T02:50:00Z') }, '30m', now).stuck, false);
  const stuck = lockLine({ holder: 'rk1-2', since: new Date('2026-12-04T02:10:00Z') }, '30m', now);
  assert.equal(stuck.stuck, true);
  assert.match(stuck.line, /^WARNING reboot lock: held by rk1-2 since 2026-12-04T02:10:00Z, 50 minutes, past the drain timeout of 30m/);
  assert.match(stuck.line, /annotate daemonset kured weave\.works\/kured-node-lock-$/);
});

test("bramble init asks about the boards' OS: no is written down (validate stops reminding), yes takes the updates and the window, each checked as validate checks it", async () => {
  const { runWizard } = await import('../src/wizard/run.ts');
  const file = join(tempDir(), 'homelab.yaml');
  copyFileSync(HOMELAB, file);
  const wizard = async (answers: { on: boolean; packages?: 'security' | 'all'; days?: string[]; end?: string[] }) => {
    const refused: string[] = [];
    const code = await runWizard(file, {
      interactive: true,
      io: { out: () => {}, err: () => {} },
      ask: {
        async text(message, o = {}) {
          // Each scripted answer in turn until the check takes one, as a person retyping would.
          const tries = /^Reboot days/.test(message) ? answers.days : /^Reboot window closes/.test(message) ? answers.end : undefined;
          for (const t of tries ?? []) {
            const why = o.check?.(t);
            if (!why) return t;
            refused.push(why);
          }
          return o.default ?? '';
        },
        async choose(message, choices, def) {
          return (/^Which updates/.test(message) && answers.packages ? answers.packages : def ?? choices[0]!) as never;
        },
        async secret(message) {
          throw new Error(`asked for a secret: ${message}`);
        },
        async yes(message, def) {
          if (/^Keep the boards' OS patched/.test(message)) return answers.on;
          return def && !/^Run /.test(message);
        },
      },
    });
    assert.equal(code, 0);
    return refused;
  };
  await wizard({ on: false });
  const off = parseInventory(readFileSync(file, 'utf8'), 'homelab.yaml');
  assert.deepEqual(parse(readFileSync(file, 'utf8')).site.osUpdates, { enabled: false });
  assert.ok(off.clusters.every((c) => c.osUpdates === undefined));
  assert.deepEqual(off.warnings.filter((w) => /osUpdates/.test(w.message)), [], 'said no on purpose: no warning');

  const refused = await wizard({ on: true, packages: 'all', days: ['sat,sun', 'sa,su'], end: ['01:00', '04:30'] });
  assert.deepEqual(refused, [
    'expected days as kured writes them, such as mo,we,fr (from mo, tu, we, th, fr, sa, su); not sat, sun',
    "the reboot window closes at 01:00, before it opens at 02:00: kured reads a window within one day (after start, before end, on the listed days), so it would never reboot; choose an end later than the start on the same day",
  ]);
  const on = parseInventory(readFileSync(file, 'utf8'), 'homelab.yaml');
  assert.deepEqual(on.clusters[1]!.osUpdates!.reboot.days, ['sa', 'su']);
  assert.equal(on.clusters[1]!.osUpdates!.reboot.end, '04:30');
  assert.equal(on.clusters[1]!.osUpdates!.packages, 'all');
});
