// One GitOps work tree without --repo (docs/getting-started.md): render,
// plan, publish and apply agree on it. Beside the inventory, named after the
// repository, when you are not inside a clone of it; the clone you are in, or
// the one the inventory is in, when there is one. render makes it a
// repository for the remote, so publish takes it; a plain folder is refused
// with the way out.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultWorkTree, repositoryName } from '../src/git/repo.ts';
import { bramble, git, HOMELAB, tempDir } from './helpers.ts';

const URL_ = 'ssh://git@git.home.arpa/tinyhome/homelab-gitops.git';

/**
 * A site folder holding the reference inventory with its Git server on the
 * LAN. git never reaches it: url.insteadOf (in the environment) sends it to a
 * local bare repository, as a mirror setting would.
 */
function site() {
  const dir = tempDir();
  const bare = join(dir, 'remote.git');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  mkdirSync(join(dir, 'site'));
  const inventory = join(dir, 'site', 'inventory.yaml');
  writeFileSync(inventory, readFileSync(HOMELAB, 'utf8').replace('url: ssh://git@github.com/tinyhome/homelab-gitops.git', `url: ${URL_}`));
  const env = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.${bare}.insteadOf`, GIT_CONFIG_VALUE_0: URL_, GIT_SSH_COMMAND: 'false' };
  return { dir, bare, remote: URL_, env, inventory, tree: join(dir, 'site', 'homelab-gitops') };
}

test('the repository name a clone gets, from every kind of Git URL', () => {
  assert.equal(repositoryName('ssh://git@github.com/tinyhome/homelab-gitops.git'), 'homelab-gitops');
  assert.equal(repositoryName('git@github.com:tinyhome/homelab-gitops.git'), 'homelab-gitops');
  assert.equal(repositoryName('/srv/git/homelab.git/'), 'homelab');
  assert.equal(repositoryName('https://forge.home.arpa/me/gitops'), 'gitops');
});

test('without --repo: render makes the work tree beside the inventory, publish pushes from it, and from inside the clone the clone is used', async () => {
  const s = site();
  assert.equal(await defaultWorkTree(s.inventory, s.remote), s.tree);
  const rendered = bramble(['render', '-i', s.inventory], s.dir, s.env);
  assert.equal(rendered.code, 0, rendered.stdout + rendered.stderr);
  assert.ok(rendered.stdout.includes(`created ${s.tree}: a repository for ${s.remote} (branch main); publish and apply take it from here`), rendered.stdout);
  assert.ok(existsSync(join(s.tree, 'clusters/production/flux-system/flux.yaml')));
  assert.equal(git(s.tree, 'remote', 'get-url', 'origin'), s.remote);

  const published = bramble(['publish', '-i', s.inventory], s.dir, s.env);
  assert.equal(published.code, 0, published.stdout + published.stderr);
  assert.match(published.stdout, new RegExp(`work tree: ${s.tree.replaceAll('/', '\\/')}$`, 'm'));
  assert.ok(git(s.bare, 'ls-tree', '-r', '--name-only', 'main').split('\n').includes('clusters/staging/flux-system/flux.yaml'));

  // Inside the clone (or with the inventory kept in it), that clone is the work tree.
  const inside = bramble(['render', '-i', s.inventory, '--check'], s.tree, s.env);
  assert.equal(inside.code, 0, inside.stdout + inside.stderr);
  assert.match(inside.stdout, /^up to date: /);
  const kept = join(s.tree, 'inventory.yaml');
  writeFileSync(kept, readFileSync(s.inventory, 'utf8'));
  assert.equal(await defaultWorkTree(kept, s.remote), s.tree);
  // Another project's clone is not taken for it: from there, the folder beside the inventory still is.
  const other = join(s.dir, 'other');
  git(s.dir, 'init', '-q', other);
  git(other, 'remote', 'add', 'origin', 'ssh://git@example.invalid/other.git');
  const from = bramble(['render', '-i', s.inventory, '--check'], other, s.env);
  assert.equal(from.code, 0, from.stdout + from.stderr);
});

test('a plain folder given as --repo is refused by publish with the way out; render into it is plain rendering', () => {
  const s = site();
  const plain = join(s.dir, 'plain');
  mkdirSync(plain);
  assert.equal(bramble(['render', '-i', s.inventory, '--repo', plain], s.dir, s.env).code, 0);
  const r = bramble(['publish', '-i', s.inventory, '--repo', plain], s.dir, s.env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /plain exists but is not a Git repository; point --repo at a clone of ssh:\/\/git@git\.home\.arpa\/tinyhome\/homelab-gitops\.git or at a folder that does not exist yet/);
});
