// Symbolic links inside the target repository, pushed by someone else to a
// real bare remote: render and publish refuse them by path, and nothing
// outside the repository is written, read or pruned.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseInventory } from '../src/inventory/load.ts';
import { renderInventory } from '../src/render/render.ts';
import { applyTree, planTree, withHeader } from '../src/render/tree.ts';
import { bramble, git, HOMELAB, tempDir } from './helpers.ts';

/** A folder outside the repository holding one stale generated file, as prune would find it. */
function outsideFolder(dir: string, name: string): { path: string; snapshot: () => string } {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'stale.yaml'), withHeader('a: 1\n', 'site tinyhome, cluster staging'));
  writeFileSync(join(path, 'precious.txt'), 'the owner keeps this here\n');
  const snapshot = () =>
    readdirSync(path, { recursive: true })
      .map(String)
      .sort()
      .map((f) => `${f}\n${(() => { try { return readFileSync(join(path, f), 'utf8'); } catch { return '(folder)'; } })()}`)
      .join('\n');
  return { path, snapshot };
}

/** A remote whose main branch carries `link` -> `to`, and a clone of it to publish from. */
function repoWithLink(dir: string, link: string, to: string): { remote: string; work: string; head: string } {
  const remote = join(dir, 'remote.git');
  git(dir, 'init', '--quiet', '--bare', '--initial-branch', 'main', remote);
  const seed = join(dir, 'seed');
  git(dir, 'clone', '--quiet', remote, seed);
  mkdirSync(join(seed, link, '..'), { recursive: true });
  symlinkSync(to, join(seed, link));
  writeFileSync(join(seed, 'README.md'), 'the owner\'s repository\n');
  git(seed, 'add', '-A');
  git(seed, 'commit', '--quiet', '-m', 'a link someone pushed');
  git(seed, 'push', '--quiet', 'origin', 'main');
  const work = join(dir, 'work');
  git(dir, 'clone', '--quiet', remote, work);
  return { remote, work, head: git(remote, 'rev-parse', 'main') };
}

for (const [what, link] of [
  ['a cluster folder', 'clusters/staging'],
  ['a folder deeper down', 'clusters/production/infrastructure'],
] as const) {
  test(`publish refuses ${what} that is a link out of the repository; nothing outside is written or pruned, nothing is pushed`, () => {
    const dir = tempDir();
    const outside = outsideFolder(dir, 'outside');
    const before = outside.snapshot();
    const { remote, work, head } = repoWithLink(dir, link, outside.path);
    const r = bramble(['publish', '-i', HOMELAB, '--repo', work, '--remote', remote]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`publish refused; nothing was written, committed or pushed:[\\s\\S]*${link.replace(/\//g, '\\/')} is a symbolic link`));
    assert.equal(outside.snapshot(), before, 'the folder outside the repository is untouched');
    assert.equal(git(remote, 'rev-parse', 'main'), head, 'nothing was pushed');
    assert.equal(git(work, 'status', '--porcelain'), '', 'the work tree is as it was cloned');

    // render and render --check say the same, and write nothing either.
    const check = bramble(['render', '-i', HOMELAB, '--repo', work, '--check']);
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`${link.replace(/\//g, '\\/')} is a symbolic link`));
    const render = bramble(['render', '-i', HOMELAB, '--repo', work]);
    assert.equal(render.code, 1);
    assert.match(render.stderr, /render refused; nothing was written:/);
    assert.equal(outside.snapshot(), before);
  });
}

test('a generated file that is a link to a file outside is neither read nor replaced', () => {
  const dir = tempDir();
  const target = join(dir, 'outside.yaml');
  const content = withHeader('kind: Secret\n', 'site tinyhome, cluster staging');
  writeFileSync(target, content);
  const { remote, work } = repoWithLink(dir, 'clusters/staging/flux-system/gotk-sync.yaml', target);
  const r = bramble(['publish', '-i', HOMELAB, '--repo', work, '--remote', remote]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /clusters\/staging\/flux-system\/gotk-sync\.yaml is a symbolic link/);
  assert.equal(readFileSync(target, 'utf8'), content);
});

test('a link that appears between plan and write stops the write before anything goes through it', async () => {
  const dir = tempDir();
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const outside = outsideFolder(dir, 'outside');
  const before = outside.snapshot();
  const out = await renderInventory(parseInventory(readFileSync(HOMELAB, 'utf8'), 'homelab.yaml'));
  const plan = await planTree(repo, out.files, out.scopes);
  assert.deepEqual(plan.conflicts, []);
  mkdirSync(join(repo, 'clusters'));
  symlinkSync(outside.path, join(repo, 'clusters', 'production'));
  await assert.rejects(applyTree(repo, plan, out.scopes), (e: Error) => e.name === 'TreeError' && /clusters\/production is a symbolic link/.test(e.message));
  assert.equal(outside.snapshot(), before);
  assert.deepEqual(readdirSync(join(repo, 'clusters')), ['production'], 'nothing was written before the check');
});
