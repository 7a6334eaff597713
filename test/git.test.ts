// Publishing to real bare repositories: commit, push, re-run, a remote that
// moved on (with and without conflicts), and a push that fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { checkPublishable, explainGit, publish, redactUrl } from '../src/git/repo.ts';
import { bramble, git, HOMELAB, tempDir } from './helpers.ts';

function bare(dir: string): string {
  const remote = join(dir, 'remote.git');
  git(dir, 'init', '--quiet', '--bare', '--initial-branch', 'main', remote);
  return remote;
}

function publishRun(work: string, remote: string, inventory = HOMELAB) {
  return bramble(['publish', '-i', inventory, '--repo', work, '--remote', remote]);
}

/** Someone else clones the remote, changes one file and pushes; returns their commit. */
function pushFromElsewhere(dir: string, remote: string, file: string, edit: (old: string) => string, message: string): string {
  const other = join(dir, 'other');
  git(dir, 'clone', '--quiet', remote, other);
  const path = join(other, file);
  writeFileSync(path, edit(existsSync(path) ? readFileSync(path, 'utf8') : ''));
  git(other, 'add', file);
  git(other, 'commit', '--quiet', '-m', message);
  git(other, 'push', '--quiet', 'origin', 'main');
  return git(other, 'rev-parse', 'HEAD');
}

/** The reference inventory with one setting changed, written into `dir`. */
function changedInventory(dir: string, from: string, to: string): string {
  const file = join(dir, 'homelab.yaml');
  const text = readFileSync(HOMELAB, 'utf8');
  assert.ok(text.includes(from), from);
  writeFileSync(file, text.replace(from, to));
  return file;
}

test('publish renders, commits and pushes to an empty remote, then a re-run changes nothing', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  const first = publishRun(work, remote);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /created .*work/);
  assert.match(first.stdout, /pushed [0-9a-f]{12} to .*remote\.git \(branch main\)/);
  const files = git(remote, 'ls-tree', '-r', '--name-only', 'main').split('\n');
  assert.ok(files.includes('clusters/production/infrastructure/controllers/longhorn.yaml'));
  assert.ok(files.includes('clusters/staging/apps/kustomization.yaml'));
  assert.match(git(remote, 'log', '-1', '--format=%B', 'main'), /^bramble: render staging, production\n\nRendered from homelab\.yaml\.\n\nstaging: 26 added, 0 changed, 0 removed/);

  const second = publishRun(work, remote);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /nothing changed in staging, production/);
  assert.match(second.stdout, /is already at/);
  assert.equal(git(remote, 'rev-list', '--count', 'main'), '1');
});

test('publish clones an existing remote and commits only what changed', () => {
  const dir = tempDir();
  const remote = bare(dir);
  assert.equal(publishRun(join(dir, 'a'), remote).code, 0);
  const inv = changedInventory(dir, 'retention: 15d', 'retention: 30d');
  const r = publishRun(join(dir, 'b'), remote, inv);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cloned/);
  assert.match(r.stdout, /M clusters\/production\/infrastructure\/controllers\/kube-prometheus-stack\.yaml/);
  assert.equal(git(remote, 'diff', '--name-only', 'main~1', 'main'), 'clusters/production/infrastructure/controllers/kube-prometheus-stack.yaml');
});

/** A bramble commit left in `work` unpushed: the remote refused it once (a protected branch for a moment). */
function unpushedCommit(work: string, remote: string, inv: string): void {
  const hook = join(remote, 'hooks', 'pre-receive');
  writeFileSync(hook, '#!/bin/sh\nexit 1\n');
  chmodSync(hook, 0o755);
  assert.equal(publishRun(work, remote, inv).code, 1);
  rmSync(hook);
}

test('a remote that moved on is brought into the work tree first (a fast-forward), and the render goes on top', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const theirs = pushFromElsewhere(dir, remote, 'README.md', () => '# our homelab\n', 'docs: readme');

  const inv = changedInventory(dir, 'retention: 15d', 'retention: 30d');
  const r = publishRun(work, remote, inv);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /brought .*work up to .*remote\.git \(branch main\)/);
  git(remote, 'merge-base', '--is-ancestor', theirs, 'main');
  assert.equal(git(remote, 'rev-list', '--count', 'main'), '3');
  assert.match(git(remote, 'log', '-1', '--format=%s', 'main'), /^bramble: render/);
});

test('a local commit waiting to be pushed is rebased onto a remote that moved on without losing anyone\'s commit, and never force-pushed', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const inv = changedInventory(dir, 'retention: 15d', 'retention: 30d');
  unpushedCommit(work, remote, inv);
  const theirs = pushFromElsewhere(dir, remote, 'README.md', () => '# our homelab\n', 'docs: readme');

  const r = publishRun(work, remote, inv);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /rebased onto it 1 time/);
  git(remote, 'merge-base', '--is-ancestor', theirs, 'main');
  assert.equal(git(remote, 'rev-list', '--count', 'main'), '3');
  assert.match(git(remote, 'log', '-1', '--format=%s', 'main'), /^bramble: render/);
});

test('a generated file edited on the remote is brought in and stops publish by name; nothing is pushed', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const f = 'clusters/production/infrastructure/controllers/kube-prometheus-stack.yaml';
  const theirs = pushFromElsewhere(dir, remote, f, (old) => old.replace('retention: "15d"', 'retention: "60d"'), 'hand edit on the remote');
  const r = publishRun(work, remote, changedInventory(dir, 'retention: 15d', 'retention: 30d'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /publish refused; nothing was written, committed or pushed:\n {2}! clusters\/production\/infrastructure\/controllers\/kube-prometheus-stack\.yaml was edited by hand/);
  assert.equal(git(remote, 'rev-parse', 'main'), theirs, 'nothing was pushed');
  assert.equal(git(work, 'status', '--porcelain'), '');
});

test('a conflicting remote change stops publish with the local commit intact, and nothing is pushed', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const inv = changedInventory(dir, 'retention: 15d', 'retention: 30d');
  unpushedCommit(work, remote, inv);
  const f = 'clusters/production/infrastructure/controllers/kube-prometheus-stack.yaml';
  pushFromElsewhere(dir, remote, f, (old) => old.replace('retention: "15d"', 'retention: "60d"'), 'hand edit on the remote');
  const remoteBefore = git(remote, 'rev-parse', 'main');

  const r = publishRun(work, remote, inv);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has moved on and its changes conflict with bramble's: clusters\/production\/infrastructure\/controllers\/kube-prometheus-stack\.yaml/);
  assert.match(r.stderr, /local commit is kept/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(git(remote, 'rev-parse', 'main'), remoteBefore, 'nothing was pushed');
  assert.match(git(work, 'log', '-1', '--format=%s'), /^bramble: render/, 'the local commit is kept');
  assert.equal(git(work, 'status', '--porcelain'), '', 'the rebase was undone cleanly');
});

test('a failed push keeps the local commit and the next run pushes it', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const inv = changedInventory(dir, 'retention: 15d', 'retention: 30d');

  // The remote refuses every update, as a protected branch would.
  const hook = join(remote, 'hooks', 'pre-receive');
  writeFileSync(hook, '#!/bin/sh\necho "protected branch: no pushes today" >&2\nexit 1\n');
  chmodSync(hook, 0o755);
  const refused = publishRun(work, remote, inv);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /pushing to .*remote\.git \(main\) failed: .*protected branch: no pushes today/s);
  assert.match(refused.stderr, /The commit is kept in .*; the next run pushes it/);
  const local = git(work, 'rev-parse', 'HEAD');
  assert.notEqual(git(remote, 'rev-parse', 'main'), local);

  writeFileSync(hook, '#!/bin/sh\nexit 0\n');
  const retry = publishRun(work, remote, inv);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /nothing changed/);
  assert.match(retry.stdout, /pushed/);
  assert.equal(git(remote, 'rev-parse', 'main'), local);
});

test('an unreachable remote is a clear error, not a hang or a stack trace', () => {
  const dir = tempDir();
  const r = publishRun(join(dir, 'work'), join(dir, 'no-such-remote.git'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^reading .*no-such-remote\.git failed: .*Could not read from remote repository/s);
  // Over SSH, the cause comes first: real ssh to a loopback port where nothing listens.
  const refused = publishRun(join(dir, 'work2'), 'ssh://git@127.0.0.1:1/homelab.git');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^reading ssh:\/\/git@127\.0\.0\.1:1\/homelab\.git failed: ssh: connect to host 127\.0\.0\.1 port 1: Connection refused\nfatal: Could not read from remote repository\.\n/);
  assert.doesNotMatch(refused.stderr, /Please make sure you have the correct access rights/);
});

test("a Git failure's cause is the line shown first: DNS, a refused connection, a timeout, a host key", () => {
  const tail = 'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';
  const cases: Array<[string, string]> = [
    ['ssh: Could not resolve hostname github.com: Name or service not known', 'DNS'],
    ['ssh: connect to host 198.18.0.4 port 22: Connection timed out', 'timeout'],
    ['ssh: connect to host 198.18.0.4 port 22: Connection refused', 'refused'],
    ['No ED25519 host key is known for github.com and you have requested strict checking.\nHost key verification failed.', 'host key'],
  ];
  for (const [ssh, what] of cases) {
    const shown = explainGit(`${ssh}\n${tail}`);
    assert.equal(shown.split('\n')[0], ssh.split('\n')[0], what);
    assert.match(shown, /fatal: Could not read from remote repository\./, what);
    assert.doesNotMatch(shown, /Please make sure/, what);
  }
  assert.equal(explainGit('hint: something\nerror: failed to push some refs to x'), 'error: failed to push some refs to x');
});

test('publish stages only bramble\'s files: the owner\'s uncommitted work stays uncommitted', () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  writeFileSync(join(work, 'clusters/staging/apps/draft.yaml'), 'kind: Draft\n');
  writeFileSync(join(work, 'notes.txt'), 'todo\n');
  const inv = changedInventory(dir, 'retention: 7d', 'retention: 5d');
  assert.equal(publishRun(work, remote, inv).code, 0);
  assert.equal(git(remote, 'diff', '--name-only', 'main~1', 'main'), 'clusters/staging/infrastructure/controllers/kube-prometheus-stack.yaml');
  assert.match(git(work, 'status', '--porcelain'), /\?\? clusters\/staging\/apps\/draft\.yaml/);
});

test('credentials in URLs are redacted from messages', () => {
  assert.equal(redactUrl('push to https://x-access-token:ghp_secret@github.com/a/b.git failed'), 'push to https://***@github.com/a/b.git failed');
});

test('publish refuses to push a repository with no commit', async () => {
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'w');
  git(dir, 'init', '--quiet', '--initial-branch', 'main', work);
  await assert.rejects(publish({ checked: await checkPublishable(work, remote, 'main'), paths: [], message: 'x' }), /nothing to push: .* has no commit yet/);
});

/** A published work tree, plus the remote's branch list, to compare after a refused run. */
function published(dir: string) {
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const refs = () => git(remote, 'for-each-ref', '--format=%(refname) %(objectname)');
  return { remote, work, refs, before: refs() };
}

/** The owner's own commit in the work tree, never pushed. */
function privateCommit(work: string, file = 'notes/private.md'): string {
  mkdirSync(join(work, dirname(file)), { recursive: true });
  writeFileSync(join(work, file), 'my own work in progress\n');
  git(work, 'add', file);
  git(work, 'commit', '--quiet', '-m', 'private: work in progress');
  return git(work, 'rev-parse', '--short', 'HEAD');
}

test('publish commits only on the configured branch: a work tree on another branch is refused before anything is written', () => {
  const dir = tempDir();
  const { remote, work, refs, before } = published(dir);
  git(work, 'switch', '--quiet', '-c', 'feature');
  privateCommit(work);
  const changed = changedInventory(dir, 'retention: 15d', 'retention: 20d');
  const r = publishRun(work, remote, changed);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /is on branch feature; bramble commits only on main \(git\.branch\): run `git switch main` there/);
  assert.equal(refs(), before, 'nothing reached the remote');
  assert.equal(git(work, 'status', '--porcelain'), '', 'nothing was written');

  git(work, 'switch', '--quiet', '--detach', 'HEAD');
  const detached = publishRun(work, remote, changed);
  assert.equal(detached.code, 1);
  assert.match(detached.stderr, /has no branch checked out \(detached HEAD\)/);
  assert.equal(refs(), before);
});

test("publish refuses local commits that are not bramble's, and pushes its own commit alone", () => {
  const dir = tempDir();
  const { remote, work, refs, before } = published(dir);
  const mine = privateCommit(work);
  const changed = changedInventory(dir, 'retention: 15d', 'retention: 20d');
  const r = publishRun(work, remote, changed);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`holds 1 local commit\\(s\\) on main that are not bramble's and not on .*remote\\.git: ${mine} private: work in progress\\.`));
  assert.match(r.stderr, /nothing was written/);
  assert.equal(refs(), before, 'the private commit did not reach the remote');
  assert.equal(git(work, 'status', '--porcelain'), '');

  // Once the owner moves it aside, bramble's commit is pushed, and only it.
  git(work, 'branch', 'wip');
  git(work, 'reset', '--quiet', '--hard', 'HEAD~1');
  const ok = publishRun(work, remote, changed);
  assert.equal(ok.code, 0, ok.stderr);
  const pushed = git(remote, 'log', '--format=%s%n%(trailers:key=Generated-By,valueonly)', `${before.split(' ')[1]!.trim()}..main`).split('\n').filter(Boolean);
  assert.deepEqual(pushed, ['bramble: render staging, production', 'bramble']);
  assert.equal(git(remote, 'for-each-ref', '--format=%(refname)', 'refs/heads/'), 'refs/heads/main', 'no other branch was pushed');
  assert.throws(() => git(remote, 'cat-file', '-e', `${mine}^{commit}`));
});

test('a work tree cloned from another remote gets no commit: publish names both and stops', () => {
  const dir = tempDir();
  const mine = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, mine).code, 0);
  const before = git(work, 'rev-parse', 'HEAD');
  const other = join(dir, 'other.git');
  git(dir, 'init', '--quiet', '--bare', '--initial-branch', 'main', other);
  const r = publishRun(work, other);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal(r.stderr.trim(), `${work} is a clone of ${mine}, not of ${other}; point --repo at a clone of ${other} or at a folder that does not exist yet`);
  assert.equal(git(work, 'rev-parse', 'HEAD'), before, 'nothing committed');
  assert.equal(git(other, 'rev-list', '--all', '--count'), '0', 'nothing pushed');
});

test('an ssh:// user name stays in messages; passwords and tokens do not', () => {
  assert.equal(redactUrl('ssh://git@nas.home.arpa/srv/git/x.git'), 'ssh://git@nas.home.arpa/srv/git/x.git');
  assert.equal(redactUrl('ssh://git:secret@nas/x.git'), 'ssh://***@nas/x.git');
  assert.equal(redactUrl('https://ghp_token@github.com/a/b.git'), 'https://***@github.com/a/b.git');
});

test("publish commits the render it is given (apply's, made once for its plan), not a second one", async () => {
  const { publishStep } = await import('../src/run/steps.ts');
  const { loadInventory, parseInventory } = await import('../src/inventory/load.ts');
  const { renderInventory } = await import('../src/render/render.ts');
  const dir = tempDir();
  const remote = bare(dir);
  const planned = await renderInventory(await loadInventory(HOMELAB));
  // The inventory changed after the plan was made: what is published is still what was planned.
  const later = parseInventory(readFileSync(HOMELAB, 'utf8').replace('retention: 15d', 'retention: 99d'), 'homelab.yaml');
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  await publishStep(later, { repo: join(dir, 'work'), remote, nodeTimeoutMs: 1, fluxTimeoutMs: 1 }, io, undefined, planned);
  const pushed = git(remote, 'show', 'main:clusters/production/infrastructure/controllers/kube-prometheus-stack.yaml');
  assert.match(pushed, /"15d"/);
  assert.doesNotMatch(pushed, /"99d"/);
});

test("publish takes the remote's head from the check made as the run began: with nothing to commit the remote is not asked again; one that moved since refuses the push and publish rebases onto it", async () => {
  const { publishStep } = await import('../src/run/steps.ts');
  const { loadInventory, parseInventory } = await import('../src/inventory/load.ts');
  const { bramblePaths, syncWorkTree } = await import('../src/git/repo.ts');
  const { renameSync } = await import('node:fs');
  const dir = tempDir();
  const remote = bare(dir);
  const work = join(dir, 'work');
  assert.equal(publishRun(work, remote).code, 0);
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const o = { repo: work, remote, nodeTimeoutMs: 1, fluxTimeoutMs: 1 };

  // The check as apply and publish make it first; then the remote cannot be reached: nothing to push, so nothing is asked.
  const { checked } = await syncWorkTree(work, remote, 'main', bramblePaths('homelab.yaml'));
  const head = git(remote, 'rev-parse', 'main');
  renameSync(remote, `${remote}.away`);
  try {
    assert.deepEqual(await publishStep(await loadInventory(HOMELAB), { ...o, checked }, io, undefined), { head, committed: undefined, changes: 0 });
  } finally {
    renameSync(`${remote}.away`, remote);
  }

  // Someone pushes after the check; bramble has a change to commit: the push is refused, and publish rebases onto theirs.
  const theirs = pushFromElsewhere(dir, remote, 'README.md', () => 'ours too\n', 'docs: a readme');
  const later = parseInventory(readFileSync(HOMELAB, 'utf8').replace('retention: 15d', 'retention: 99d'), 'homelab.yaml');
  const r = await publishStep(later, { ...o, checked }, io, undefined);
  assert.ok(r.committed, lines.join('\n'));
  assert.match(lines.join('\n'), /the remote had moved on; rebased onto it 1 time\(s\)/);
  assert.equal(git(remote, 'rev-parse', 'main'), r.head);
  assert.equal(git(remote, 'rev-parse', 'main~1'), theirs, 'their commit is kept under bramble\'s');
});

test('git in the tests reaches no host but loopback and the lab: any other is refused loudly by the SSH guard', () => {
  const r = spawnSync('git', ['ls-remote', 'ssh://git@github.com/tinyhome/homelab-gitops.git'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^test ssh guard: refused github\.com: the tests reach only loopback and the lab's 198\.18\.0\.0\/15$/m);
  const site = spawnSync('git', ['ls-remote', 'git@192.168.100.20:homelab.git'], { encoding: 'utf8' });
  assert.match(site.stderr, /^test ssh guard: refused 192\.168\.100\.20/m);
});
