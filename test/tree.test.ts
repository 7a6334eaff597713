// Bramble's files and the owner's: re-renders replace and prune only
// generated files, stop on hand edits, and never touch the owner's files.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadInventory, parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { applyTree, ownership, planTree, withHeader } from '../src/render/tree.ts';
import { writeAtomic } from '../src/base/files.ts';
import { HOMELAB, tempDir } from './helpers.ts';

const homelabText = readFileSync(HOMELAB, 'utf8');

async function renderInto(dir: string, text = homelabText, force = false) {
  const out = await renderInventory(parseInventory(text, 'homelab.yaml'));
  const plan = await planTree(dir, out.files, out.scopes, force);
  if (plan.conflicts.length === 0) await applyTree(dir, plan, out.scopes);
  return plan;
}

test('the header records a hash of the body; an edit is detected', () => {
  const text = withHeader('a: 1\n', 'site lab, cluster staging');
  assert.deepEqual(ownership(text), { kind: 'generated', edited: false });
  assert.deepEqual(ownership(text.replace('a: 1', 'a: 2')), { kind: 'generated', edited: true });
  assert.deepEqual(ownership('a: 1\n'), { kind: 'owner' });
});

test('a second render changes nothing', async () => {
  const dir = tempDir();
  const first = await renderInto(dir);
  assert.ok(first.changes.length > 30);
  const again = await renderInto(dir);
  assert.deepEqual(again.changes, []);
  assert.deepEqual(again.conflicts, []);
});

test('the owner\'s files survive a re-render, seeds included', async () => {
  const dir = tempDir();
  await renderInto(dir);
  const mine = join(dir, 'clusters/staging/apps/podinfo.yaml');
  writeFileSync(mine, 'apiVersion: v1\nkind: Namespace\nmetadata: { name: podinfo }\n');
  const seed = join(dir, 'clusters/staging/apps/kustomization.yaml');
  writeFileSync(seed, readFileSync(seed, 'utf8').replace('resources: []', 'resources:\n  - podinfo.yaml'));
  const notes = join(dir, 'clusters/staging/infrastructure/NOTES.md');
  writeFileSync(notes, 'my notes\n');
  // A change that prunes files in the same folders.
  const plan = await renderInto(dir, homelabText.replace(/\nnas:[\s\S]*?\ngit:/, '\ngit:'));
  assert.ok(plan.changes.some((c) => c.action === 'delete' && c.path === 'clusters/staging/infrastructure/configs/storageclasses.yaml'));
  assert.ok(plan.changes.every((c) => !c.path.includes('/apps/') && !c.path.endsWith('NOTES.md')));
  assert.match(readFileSync(mine, 'utf8'), /podinfo/);
  assert.match(readFileSync(seed, 'utf8'), /- podinfo\.yaml/);
  assert.equal(readFileSync(notes, 'utf8'), 'my notes\n');
});

test('components that go away are pruned, and empty folders with them', async () => {
  const dir = tempDir();
  await renderInto(dir);
  assert.ok(existsSync(join(dir, 'clusters/production/infrastructure/controllers/csi-driver-nfs.yaml')));
  const plan = await renderInto(dir, homelabText.replace(/\nnas:[\s\S]*?\ngit:/, '\ngit:'));
  assert.deepEqual(plan.changes.filter((c) => c.action === 'delete').map((c) => c.path), [
    'clusters/production/infrastructure/configs/storageclasses.yaml',
    'clusters/production/infrastructure/controllers/csi-driver-nfs.yaml',
    'clusters/staging/infrastructure/configs/storageclasses.yaml',
    'clusters/staging/infrastructure/controllers/csi-driver-nfs.yaml',
  ]);
  assert.equal(existsSync(join(dir, 'clusters/staging/infrastructure/controllers/csi-driver-nfs.yaml')), false);
  assert.doesNotMatch(readFileSync(join(dir, 'clusters/staging/infrastructure/controllers/kustomization.yaml'), 'utf8'), /csi-driver-nfs/);
});

test('a hand-edited generated file stops the render, names the file, and nothing is written', async () => {
  const dir = tempDir();
  await renderInto(dir);
  const edited = join(dir, 'clusters/production/infrastructure/controllers/longhorn.yaml');
  writeFileSync(edited, readFileSync(edited, 'utf8').replace('defaultClassReplicaCount: 3', 'defaultClassReplicaCount: 2'));
  const other = join(dir, 'clusters/staging/infrastructure/controllers/kube-prometheus-stack.yaml');
  const before = readFileSync(other, 'utf8');
  const plan = await renderInto(dir, homelabText.replace('retention: 7d', 'retention: 9d'));
  assert.deepEqual(plan.conflicts.map((c) => c.path), ['clusters/production/infrastructure/controllers/longhorn.yaml']);
  assert.match(plan.conflicts[0]!.why, /edited by hand.*--force/);
  assert.equal(readFileSync(other, 'utf8'), before, 'nothing is written while a conflict stands');
  assert.match(readFileSync(edited, 'utf8'), /defaultClassReplicaCount: 2/);

  const forced = await renderInto(dir, homelabText, true);
  assert.deepEqual(forced.conflicts, []);
  assert.match(readFileSync(edited, 'utf8'), /defaultClassReplicaCount: 3/);
});

test('an owner file where bramble wants to write is a conflict even with --force', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'clusters/staging'), { recursive: true });
  writeFileSync(join(dir, 'clusters/staging/apps.yaml'), '# mine\n');
  const plan = await renderInto(dir, homelabText, true);
  assert.deepEqual(plan.conflicts.map((c) => c.path), ['clusters/staging/apps.yaml']);
  assert.match(plan.conflicts[0]!.why, /not generated by bramble/);
  assert.equal(readFileSync(join(dir, 'clusters/staging/apps.yaml'), 'utf8'), '# mine\n');
});

test('a generated file removed from the render but edited by hand is not pruned without --force', async () => {
  const dir = tempDir();
  await renderInto(dir);
  const f = join(dir, 'clusters/staging/infrastructure/configs/storageclasses.yaml');
  writeFileSync(f, readFileSync(f, 'utf8') + '# note\n');
  const plan = await renderInto(dir, homelabText.replace(/\nnas:[\s\S]*?\ngit:/, '\ngit:'));
  assert.deepEqual(plan.conflicts.map((c) => c.path), ['clusters/staging/infrastructure/configs/storageclasses.yaml']);
  assert.ok(existsSync(f));
});

test('--cluster renders and prunes only that cluster', async () => {
  const dir = tempDir();
  const inv = await loadInventory(HOMELAB);
  const out = await renderInventory(inv, { clusters: ['staging'] });
  assert.deepEqual(out.scopes, ['clusters/staging']);
  await applyTree(dir, await planTree(dir, out.files, out.scopes), out.scopes);
  assert.deepEqual(readdirSync(join(dir, 'clusters')), ['staging']);
  await assert.rejects(renderInventory(inv, { clusters: ['prod'] }), /no cluster named "prod" in homelab\.yaml; it has: staging, production/);
});

test('atomic writes leave the old file whole when the write fails', async () => {
  const dir = tempDir();
  const f = join(dir, 'a.yaml');
  await writeAtomic(f, 'old: 1\n');
  // Writing over a folder fails at rename; the temporary file is cleaned up.
  mkdirSync(join(dir, 'b.yaml'));
  await assert.rejects(writeAtomic(join(dir, 'b.yaml'), 'x'));
  assert.deepEqual(readdirSync(dir).sort(), ['a.yaml', 'b.yaml']);
  assert.equal(readFileSync(f, 'utf8'), 'old: 1\n');
});
