// `bramble promote` on the lab: a staging cluster run by the k3s and Flux
// stand-ins, its repository on the lab's real SSH Git server with the
// inventory committed in it, a chart version changed in Git as Renovate
// would, and the promotion pushed as a branch (plain SSH host) and proposed
// as a pull request (the GitHub API stand-in, whose pull requests check the
// branches in the same bare repository).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { brambleAsync, CLI, git, type Run } from './helpers.ts';
import { FakeGitHub } from './github-standin.ts';
import { gitopsInventory, startGitopsLab } from './lab-helpers.ts';

const { lab, scriptUrl, gitServer, repoUrl, work, knownHosts } = await startGitopsLab([{ name: 'pi', board: 'pi5' }], 'gitops.git');
const net = lab.gateway.replace(/\.1$/, '');
const clusters = [
  { name: 'staging', nodes: [{ node: 'pi', role: 'server' as const }] },
  // Production is never reached by promote: its board need not answer.
  { name: 'production', nodes: [{ node: 'rk1', role: 'server' as const, hardware: 'rk1', address: `${net}.60` }] },
];
const site = gitopsInventory(lab, clusters, { installScriptUrl: scriptUrl, repoUrl, hostKey: gitServer.fingerprint });
const repo = join(work, 'repo');
const inv = join(repo, 'inventory', 'site.yaml');
const bare = join(gitServer.dir, 'gitops.git');
const env = { ...gitServer.ownerEnv, KUBECONFIG: join(work, 'kubeconfig') };
const owner = (cwd: string, ...args: string[]) => spawnSync('git', ['-c', 'user.name=owner', '-c', 'user.email=owner@example.invalid', ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
const run = (args: string[], file = inv, extra: NodeJS.ProcessEnv = {}): Promise<Run> => brambleAsync([...args, '-i', file, '--known-hosts', knownHosts, '--repo', repo], { ...env, ...extra }, 240_000);
const remoteBranches = () => owner(work, 'ls-remote', '--heads', repoUrl).stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t')[1]!.replace('refs/heads/', ''));
const remoteHead = (branch = 'main') => owner(work, 'ls-remote', repoUrl, `refs/heads/${branch}`).stdout.split(/\s+/)[0]!;
const atRemote = (ref: string, path: string) => spawnSync('git', ['--git-dir', bare, 'show', `${ref}:${path}`], { encoding: 'utf8' }).stdout;

// The owner's repository: the inventory committed and pushed, as promote requires.
mkdirSync(join(repo, 'inventory'), { recursive: true });
git(work, 'init', '-q', '-b', 'main', repo);
writeFileSync(inv, site);
// A second inventory for the same site with its repository on GitHub (the API stand-in), pushed to the lab server.
const gh = new FakeGitHub('lab');
const apiUrl = await gh.start();
const onGitHub = join(repo, 'inventory', 'github.yaml');
writeFileSync(onGitHub, site.replace(/git:\n {2}url: .*\n {2}hostKey: .*\n/, `git:\n  url: ssh://git@github.com/lab/gitops.git\n  apiUrl: ${apiUrl}\n`));
// Both clusters' files as the owner first published them (production's board is never reached here).
const rendered = spawnSync(process.execPath, [CLI, 'render', '-i', inv, '--repo', repo], { encoding: 'utf8' });
assert.equal(rendered.status, 0, rendered.stderr);
owner(repo, 'add', '-A');
owner(repo, 'commit', '-q', '-m', 'the site inventory and its first render');
assert.equal(owner(repo, 'push', '-q', repoUrl, 'main').status, 0);
gh.repos.set('lab/gitops', { private: true, default_branch: 'main', keys: [], gitDir: bare });
const { after } = await import('node:test');
after(() => gh.stop());

test('promote with nothing to promote says so and changes nothing', async () => {
  const r = await run(['promote', '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /nothing to promote: production already runs staging's versions/);
  assert.deepEqual(remoteBranches(), ['main']);
});

test('staging runs the platform after apply (the deploy key added by the owner)', async () => {
  const first = await run(['apply', '-c', 'staging', '--timeout', '60', '--yes']);
  assert.equal(first.code, 1, first.stdout + first.stderr);
  const m = /\s(ssh-ed25519 \S+ flux-staging)$/m.exec(first.stdout);
  assert.ok(m, first.stdout + first.stderr);
  const key = m[1]!;
  lab.addDeployKey(key);
  const r = await run(['apply', '-c', 'staging', '--timeout', '90', '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /flux: reconciled at main@sha1:/);
});

let renovated = '';
test('a version Renovate changed in Git is promoted only once staging runs that commit', async () => {
  // Renovate's pull request on staging, merged: one line of the staging HelmRelease.
  const clone = join(work, 'renovate');
  assert.equal(owner(work, 'clone', '-q', repoUrl, clone).status, 0);
  const file = join(clone, 'clusters/staging/infrastructure/controllers/longhorn.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('version: "1.12.1"', 'version: "1.12.2"'));
  owner(clone, 'commit', '-q', '-am', 'chore(deps): update helm release longhorn to v1.12.2');
  assert.equal(owner(clone, 'push', '-q', 'origin', 'main').status, 0);
  renovated = remoteHead();

  // Staging has not fetched it yet: refused, nothing pushed; the work tree was brought up to the remote.
  const early = await run(['promote', '--yes']);
  assert.equal(early.code, 1, early.stdout + early.stderr);
  assert.match(early.stdout, /brought .* up to/);
  assert.match(early.stdout, /staging: Longhorn 1\.12\.1 -> 1\.12\.2 \(changed in Git in clusters\/staging\/infrastructure\/controllers\/longhorn\.yaml/);
  assert.match(early.stderr, new RegExp(`promote refused: staging is not Ready at ${renovated.slice(0, 12)}`));
  assert.match(early.stderr, /GitRepository flux-system\/flux-system/);
  assert.deepEqual(remoteBranches(), ['main']);
  assert.equal(owner(repo, 'rev-parse', 'HEAD').stdout.trim(), renovated);

  // Flux on staging takes the commit.
  const flux = await brambleAsync(['flux', '-c', 'staging', '--timeout', '60', '-i', inv, '--known-hosts', knownHosts], env, 240_000);
  assert.equal(flux.code, 0, flux.stdout + flux.stderr);
  assert.match(flux.stdout, /ready {4}HelmRelease longhorn-system\/longhorn \(1\.12\.2\)/);

  // Without a terminal and without --yes: the plan, and nothing pushed.
  const plan = await run(['promote']);
  assert.equal(plan.code, 1, plan.stdout + plan.stderr);
  assert.match(plan.stdout, new RegExp(`promote staging to production, at staging's commit ${renovated.slice(0, 12)}:\\n {2}Longhorn {2}1\\.12\\.1 -> 1\\.12\\.2\\n`));
  assert.match(plan.stdout, /branch bramble\/promote-staging-to-production-[0-9a-f]{12}, with:\n {2}inventory\/site\.yaml\n {2}clusters\/production\/infrastructure\/controllers\/longhorn\.yaml\n/);
  assert.match(plan.stdout, /staging is Ready at [0-9a-f]{12}: 1 node\(s\), \d+ Flux object\(s\)/);
  assert.match(plan.stderr, /this is the plan; nothing was pushed/);
  assert.deepEqual(remoteBranches(), ['main']);
  assert.equal(owner(repo, 'status', '--porcelain').stdout, '', "the owner's work tree is untouched");
});

test('on GitHub: the branch is pushed without force and a pull request lists each change and links the staging commit', async () => {
  const r = await run(['promote', '--yes', '--remote', repoUrl], onGitHub, { GITHUB_TOKEN: gh.token });
  // --remote: the lab's server holds the repository GitHub's API stand-in checks branches in.
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const branch = `bramble/promote-staging-to-production-${renovated.slice(0, 12)}`;
  assert.deepEqual(remoteBranches().sort(), [branch, 'main'].sort());
  assert.equal(remoteHead(), renovated, 'main is not touched');
  assert.equal(spawnSync('git', ['--git-dir', bare, 'rev-parse', `${branch}^`], { encoding: 'utf8' }).stdout.trim(), renovated, 'the branch is one commit on top of main');
  const pulls = gh.repos.get('lab/gitops')!.pulls!;
  assert.equal(pulls.length, 1);
  const pr = pulls[0]!;
  assert.deepEqual([pr.head, pr.base], [branch, 'main']);
  assert.match(pr.title, /^bramble: promote staging to production \(Longhorn 1\.12\.2\)$/);
  assert.match(pr.body, /\| Longhorn \| 1\.12\.1 \| 1\.12\.2 \|/);
  assert.ok(pr.body.includes(`/lab/gitops/commit/${renovated}`), pr.body);
  assert.match(r.stdout, /opened pull request #1: https:\/\/github\.com\/lab\/gitops\/pull\/1/);
  // On the branch: production's chart and the inventory, staging's version taken into it too.
  const invOnBranch = parse(atRemote(branch, 'inventory/github.yaml'));
  assert.deepEqual(invOnBranch.clusters.map((c: { platform?: { longhorn?: { version?: string } } }) => c.platform?.longhorn?.version), ['1.12.2', '1.12.2']);
  assert.match(atRemote(branch, 'clusters/production/infrastructure/controllers/longhorn.yaml'), /version: "1\.12\.2"/);
  // A second run opens no second pull request.
  const again = await run(['promote', '--yes', '--remote', repoUrl], onGitHub, { GITHUB_TOKEN: gh.token });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /is already on .* with these changes/);
  assert.match(again.stdout, /pull request #1 is already open/);
  assert.equal(pulls.length, 1);
  assert.ok(!(r.stdout + r.stderr + again.stdout + again.stderr).includes(gh.token), 'the token is never printed');
  // The owner closes it; its branch goes.
  pr.state = 'closed';
  const gone = owner(repo, 'push', '-q', repoUrl, `:refs/heads/${branch}`);
  assert.equal(gone.status, 0, gone.stderr);
});

test('on a plain SSH server: the branch is pushed and what to merge is printed; a branch with other changes is never overwritten', async () => {
  const r = await run(['promote', '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const branch = `bramble/promote-staging-to-production-${renovated.slice(0, 12)}`;
  assert.match(r.stdout, new RegExp(`pushed ${branch.replace(/\//g, '\\/')} \\([0-9a-f]{12}\\) to ssh://`));
  assert.match(r.stdout, /has no pull requests bramble can open: review branch bramble\/promote-staging-to-production-/);
  assert.match(r.stdout, /git merge --ff-only origin\/bramble\/promote-staging-to-production-/);
  const diff = spawnSync('git', ['--git-dir', bare, 'diff', '--name-only', `main..${branch}`], { encoding: 'utf8' }).stdout.trim().split('\n');
  assert.deepEqual(diff.sort(), ['clusters/production/infrastructure/controllers/longhorn.yaml', 'inventory/site.yaml']);
  const trailer = spawnSync('git', ['--git-dir', bare, 'log', '-1', '--format=%(trailers:key=Generated-By,valueonly)', branch], { encoding: 'utf8' }).stdout.trim();
  assert.equal(trailer, 'bramble');
  assert.equal(remoteHead(), renovated);

  // Someone pushed a review fix to the branch: a re-run refuses instead of replacing it.
  const clone = join(work, 'reviewer');
  assert.equal(owner(work, 'clone', '-q', '-b', branch, repoUrl, clone).status, 0);
  writeFileSync(join(clone, 'NOTES.md'), 'reviewed\n');
  owner(clone, 'add', 'NOTES.md');
  owner(clone, 'commit', '-q', '-m', 'review note');
  assert.equal(owner(clone, 'push', '-q', 'origin', branch).status, 0);
  const reviewed = remoteHead(branch);
  const refused = await run(['promote', '--yes']);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /is already on .* with other changes; bramble does not overwrite it/);
  assert.equal(remoteHead(branch), reviewed);
});

test('promote refuses an inventory outside the repository, or with uncommitted changes, before anything else', async () => {
  const outside = join(work, 'outside.yaml');
  writeFileSync(outside, site);
  const r = await run(['promote', '--yes'], outside);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /is not in the work tree .*promote commits the inventory's change together with the files it renders/);
  const text = readFileSync(inv, 'utf8');
  writeFileSync(inv, `${text}# a note\n`);
  try {
    const dirty = await run(['promote', '--yes']);
    assert.equal(dirty.code, 1);
    assert.match(dirty.stderr, /inventory\/site\.yaml has uncommitted changes/);
  } finally {
    writeFileSync(inv, text);
  }
});
