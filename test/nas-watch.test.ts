// The NAS watched: with nas.metrics, every cluster that uses the NAS scrapes
// its node_exporter through a ScrapeConfig (validated against
// prometheus-operator's model), Prometheus selects ScrapeConfigs, and the
// alerts use only metric names node_exporter exports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { applyTree, planTree } from '../src/render/tree.ts';
import { validateObjects } from '../src/render/validate.ts';
import { HOMELAB, tempDir } from './helpers.ts';

function site(edit: (doc: ReturnType<typeof parseDocument>) => void = () => {}) {
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['nas', 'metrics'], doc.createNode({ port: 9100 }));
  edit(doc);
  return parseInventory(doc.toString(), 'nas.yaml');
}

// node_exporter's names (collector/zfs_linux.go, the filesystem collector) and Prometheus's own `up`.
const EXPORTED = new Set(['up', 'node_zfs_zpool_state', 'node_filesystem_avail_bytes', 'node_filesystem_size_bytes']);

test('with nas.metrics both clusters scrape the NAS and alert on it down, a pool not online, and its filesystems too full', async () => {
  const out = await renderInventory(site());
  for (const cluster of ['staging', 'production']) {
    const scrape = out.docs.filter((d) => d.file === `clusters/${cluster}/infrastructure/configs/nas.yaml`).map((d) => d.object);
    assert.equal(scrape.length, 1);
    assert.equal(scrape[0]!.kind, 'ScrapeConfig');
    assert.deepEqual((scrape[0]!.spec as any).staticConfigs, [{ targets: ['192.168.100.20:9100'], labels: { nas: 'qnap' } }]);

    const rules = (out.docs.find((d) => d.file === `clusters/${cluster}/infrastructure/configs/alerts.yaml`)!.object.spec as any).groups.find((g: any) => g.name === 'bramble.nas').rules as Array<{ alert: string; expr: string }>;
    assert.deepEqual(rules.map((r) => r.alert), ['NASDown', 'NASPoolDegraded', 'NASPoolFull']);
    for (const r of rules) {
      assert.match(r.expr, /nas=~"qnap"/, `${r.alert} is about this NAS`);
      const names = [...r.expr.matchAll(/\b([a-z_][a-z0-9_]*)(?=\{)/g)].map((m) => m[1]!);
      assert.ok(names.length > 0);
      for (const n of names) assert.ok(EXPORTED.has(n), `${r.alert}: ${n} is a metric node_exporter or Prometheus exports`);
    }
    assert.match(rules[2]!.expr, /> 80$/, "the site's usage threshold");
    const values = (out.docs.find((d) => d.file === `clusters/${cluster}/infrastructure/controllers/kube-prometheus-stack.yaml` && d.object.kind === 'HelmRelease')!.object.spec as any).values;
    assert.equal(values.prometheus.prometheusSpec.scrapeConfigSelectorNilUsesHelmValues, false, 'Prometheus selects every ScrapeConfig');
  }

  // The configs layer builds with kustomize, the ScrapeConfig in it.
  const dir = tempDir();
  await applyTree(dir, await planTree(dir, out.files, out.scopes), out.scopes);
  const built = spawnSync('kubectl', ['kustomize', join(dir, 'clusters', 'production', 'infrastructure', 'configs')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  assert.match(built.stdout, /kind: ScrapeConfig/);
});

test('a cluster that uses neither the NAS\'s exports nor its backups does not watch it; without nas.metrics nothing is rendered', async () => {
  const out = await renderInventory(site((d) => d.setIn(['clusters', 0, 'platform', 'nfs'], d.createNode({ exports: [] }))));
  assert.ok(!out.files.some((f) => f.path === 'clusters/staging/infrastructure/configs/nas.yaml'));
  assert.ok(out.files.some((f) => f.path === 'clusters/production/infrastructure/configs/nas.yaml'));
  const plain = await renderInventory(parseInventory(readFileSync(HOMELAB, 'utf8'), 'homelab.yaml'));
  assert.ok(!plain.files.some((f) => f.path.endsWith('/nas.yaml') || f.content.includes('bramble.nas')));
});

test("the ScrapeConfig model refuses a wrong type where the API server would", async () => {
  const check = async (spec: unknown) => {
    const problems: string[] = [];
    await validateObjects([{ file: 'nas.yaml', index: 0, object: { apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'ScrapeConfig', metadata: { name: 'nas', namespace: 'monitoring' }, spec: spec as never } }], problems);
    return problems;
  };
  assert.deepEqual(await check({ staticConfigs: [{ targets: ['x:9100'], labels: { nas: 'qnap' } }] }), []);
  assert.match((await check({ staticConfigs: [{ targets: 'x:9100' }] })).join('\n'), /targets/, 'targets is a list');
  assert.match((await check({ staticConfigs: [{ targets: ['x:9100'], labels: { nas: 5 } }] })).join('\n'), /labels/, 'label values are strings');
});
