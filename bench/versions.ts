// What reading the repository for versions changed in Git adds to a render,
// as ratios to one render of the reference inventory, measured in one run
// (after a warm-up): with nothing changed, and with one HelmRelease's chart
// version changed as Renovate changes it.
// Usage: npm run build && node dist/bench/versions.js
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../src/inventory/load.ts';
import { packageRoot } from '../src/base/paths.ts';
import { renderInventory } from '../src/render/render.ts';
import { applyTree, planTree } from '../src/render/tree.ts';
import { takeVersionsFromGit } from '../src/render/versions.ts';

const runs = 20;
const dir = mkdtempSync(join(tmpdir(), 'bramble-bench-'));
try {
  const file = join(dir, 'homelab.yaml');
  cpSync(join(packageRoot(), 'inventory', 'homelab.yaml'), file);
  const inv = await loadInventory(file);
  const repo = join(dir, 'repo');
  const out = await renderInventory(inv);
  await applyTree(repo, await planTree(repo, out.files, out.scopes), out.scopes);

  const time = async (fn: () => Promise<unknown>) => {
    await fn();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await fn();
    return (performance.now() - t0) / runs;
  };
  const render = await time(() => renderInventory(inv));
  const clean = await time(() => takeVersionsFromGit(file, inv, repo, undefined, { write: false }));
  const path = join(repo, 'clusters/staging/infrastructure/controllers/longhorn.yaml');
  writeFileSync(path, readFileSync(path, 'utf8').replace('version: "1.12.1"', 'version: "1.12.2"'));
  const edited = await time(() => takeVersionsFromGit(file, inv, repo, undefined, { write: false }));
  console.log(`one render of the reference (2 clusters): ${render.toFixed(1)} ms (1.00)`);
  console.log(`reading the repository for versions, nothing changed: ${(clean / render).toFixed(2)} x a render`);
  console.log(`the same with one chart version changed in Git (taken): ${(edited / render).toFixed(2)} x a render`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
