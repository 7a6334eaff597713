// Committing bramble's files and pushing them, through the git CLI. Never a
// force-push: when the remote has moved on, bramble rebases its own commit on
// top, and when that conflicts it stops with the local commit intact.
import { BrambleError } from '../base/errors.ts';
import { ahead } from '../base/wait.ts';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
// zx/core: the process runner alone; zx's index also loads its vendored file and glob helpers, 65 ms a run.
import { $, type ProcessOutput } from 'zx/core';

export class GitError extends BrambleError {}

/**
 * Hide credentials in URLs: everything between `://` and the last `@` before
 * the host, so a password with a raw `@` in it is hidden whole. An ssh:// user
 * name with no password (git@) is not a secret and stays.
 */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi, (all, scheme: string, user: string) => (/^ssh:\/\/$/i.test(scheme) && !/[:@]/.test(user) ? all : `${scheme}***@`));
}

// No prompts: a run without a terminal must fail, not hang on a password.
const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' };

function git(cwd: string) {
  return $({ cwd, env, quiet: true, nothrow: true, verbose: false });
}

/** A line of ssh's or git's that names why a remote could not be reached, where git itself says only "Could not read from remote repository". */
const CAUSE = /Could not resolve hostname|Name or service not known|Temporary failure in name resolution|Connection refused|timed out|No route to host|Network is unreachable|Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key is known|Permission denied|Connection closed by|Connection reset|Could not resolve host/;
const BOILERPLATE = /^(Please make sure you have the correct access rights|and the repository exists\.)$/;

/**
 * What a failed git command said, in a few lines: the line that names the
 * cause first (ssh's "Could not resolve hostname", "Connection refused",
 * "Host key verification failed"...), then git's own last words, without
 * its hints and its "Please make sure you have the correct access rights".
 */
export function explainGit(stderr: string): string {
  const lines = stderr.trim().split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '' && !l.startsWith('hint:'));
  const cause = lines.find((l) => CAUSE.test(l));
  const rest = lines.filter((l) => l !== cause && !BOILERPLATE.test(l.trim()));
  return redactUrl((cause ? [cause, ...rest.slice(-2)] : rest.slice(-4)).join('\n'));
}

function explain(out: ProcessOutput): string {
  return explainGit(out.stderr || out.stdout);
}

async function must(cwd: string, args: string[], what: string): Promise<string> {
  const out = await git(cwd)`git ${args}`;
  if (out.exitCode !== 0) throw new GitError(`${what} failed: ${explain(out)}`);
  return out.stdout.trim();
}

/** The commit the remote branch points at, or undefined when it has none. */
export async function remoteHead(cwd: string, remote: string, branch: string): Promise<string | undefined> {
  const line = await must(cwd, ['ls-remote', '--', remote, `refs/heads/${branch}`], `reading ${redactUrl(remote)}`);
  return line === '' ? undefined : line.split(/\s+/)[0];
}

/**
 * Make `repo` a working clone for `branch`: clone the remote when the folder
 * does not exist (a new repository when the remote is empty), else check that
 * it is a Git work tree.
 */
export async function ensureRepo(repo: string, remote: string, branch: string): Promise<'cloned' | 'created' | 'existing'> {
  const dir = resolve(repo);
  if (existsSync(dir)) {
    await ensureRepoAt(dir, remote);
    return 'existing';
  }
  const head = await remoteHead(process.cwd(), remote, branch);
  if (head) {
    await must(process.cwd(), ['clone', '--quiet', '--branch', branch, '--', remote, dir], `cloning ${redactUrl(remote)}`);
    return 'cloned';
  }
  await must(process.cwd(), ['init', '--quiet', '--initial-branch', branch, '--', dir], `creating a repository in ${repo}`);
  // As a clone would have it: later runs can tell which remote this work tree belongs to.
  await must(dir, ['remote', 'add', 'origin', remote], 'recording the remote');
  return 'created';
}

/** The top of the Git work tree holding `dir` when it is a clone of `remote`. */
async function cloneTop(dir: string, remote: string): Promise<string | undefined> {
  // No .git in the folder or above it: not a work tree, and no git process to start.
  let up = dir;
  while (!existsSync(join(up, '.git')) && dirname(up) !== up) up = dirname(up);
  if (!existsSync(join(up, '.git'))) return undefined;
  const top = await git(dir)`git rev-parse --show-toplevel`;
  if (top.exitCode !== 0) return undefined;
  return (await remoteUrls(dir)).includes(remote) ? top.stdout.trim() : undefined;
}

/** The remotes' URLs as the work tree records them (not rewritten by url.*.insteadOf, as `git remote -v` shows them). */
async function remoteUrls(dir: string): Promise<string[]> {
  const out = await git(dir)`git config --get-regexp ${'^remote\..*\.url$'}`;
  return out.stdout.split('\n').map((l) => l.split(/\s+/)[1]).filter((u): u is string => Boolean(u));
}

/** The folder name a clone of `url` gets, as `git clone` names it. */
export function repositoryName(url: string): string {
  return url.replace(/\/+$/, '').split(/[/:]/).pop()!.replace(/\.git$/, '') || 'gitops';
}

/**
 * The GitOps work tree when no --repo names one, the same for render, plan,
 * publish, apply, secret, backup and promote: the current folder when it is a
 * clone of the remote; else the clone the inventory file lives in; else a
 * folder beside the inventory named after the repository (inventory.yaml and
 * homelab-gitops/ side by side), which publish and apply clone into, and
 * render makes a repository for, when it does not exist yet.
 */
export async function defaultWorkTree(inventoryFile: string, gitUrl: string, remote = gitUrl): Promise<string> {
  const home = dirname(resolve(inventoryFile));
  return (await cloneTop(process.cwd(), remote)) ?? (await cloneTop(home, remote)) ?? join(home, repositoryName(gitUrl));
}

/**
 * A repository for `remote` in a folder that does not exist yet, made without
 * reaching the remote (render works offline): `git init` and `origin`, as a
 * clone records it, so that plan and publish accept the folder; publish
 * brings in the remote's history before it pushes.
 */
export async function initWorkTree(repo: string, remote: string, branch: string): Promise<void> {
  await must(process.cwd(), ['init', '--quiet', '--initial-branch', branch, '--', resolve(repo)], `creating a repository in ${repo}`);
  await must(resolve(repo), ['remote', 'add', 'origin', remote], 'recording the remote');
}

/** Check that an existing folder is a work tree bramble may commit to for `remote`. */
export async function ensureRepoAt(repo: string, remote: string): Promise<void> {
  const dir = resolve(repo);
  const top = await git(dir)`git rev-parse --show-toplevel`;
  if (top.exitCode !== 0) throw new GitError(`${repo} exists but is not a Git repository; point --repo at a clone of ${redactUrl(remote)} or at a folder that does not exist yet`);
  // A work tree cloned from elsewhere (another project, say) must not get bramble's commits.
  const urls = await remoteUrls(dir);
  if (urls.length > 0 && !urls.includes(remote)) {
    throw new GitError(`${dir} is a clone of ${redactUrl(urls[0]!)}, not of ${redactUrl(remote)}; point --repo at a clone of ${redactUrl(remote)} or at a folder that does not exist yet`);
  }
}

/** A throwaway shallow clone of the remote branch, for comparing; undefined when the branch does not exist. */
export async function remoteTree(remote: string, branch: string): Promise<{ dir: string; head: string; remove: () => void } | undefined> {
  const head = await remoteHead(process.cwd(), remote, branch);
  if (!head) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'bramble-remote-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await must(process.cwd(), ['clone', '--quiet', '--depth', '1', '--branch', branch, '--', remote, dir], `reading ${redactUrl(remote)}`);
  } catch (e) {
    remove();
    throw e;
  }
  return { dir, head, remove };
}

/** The trailer that marks a commit as bramble's own: the only kind it pushes. */
export const TRAILER = 'Generated-By: bramble';

/** A work tree checked by checkPublishable(): on the branch, with no local commit but bramble's. */
export interface Publishable {
  readonly repo: string;
  readonly remote: string;
  readonly branch: string;
  /** The remote branch's commit as the check read it (undefined: no such branch), when it read it. */
  readonly upstream?: { head: string | undefined };
}

/**
 * Before anything is written: the work tree must be on `branch`, and every
 * local commit the remote's branch lacks must be bramble's own (it carries
 * TRAILER). Otherwise a push would carry the owner's private work, or
 * another branch's, to the remote.
 */
/**
 * What a commit of bramble's may change: the clusters' folders, `.sops.yaml`,
 * `renovate.json5`, and the inventory when it is kept in the repository (by
 * its file name). A commit carrying bramble's trailer that changes anything
 * else is treated as the owner's (a trailer is only text anyone can type).
 */
export function bramblePaths(inventoryName?: string): (path: string) => boolean {
  return (p) => p.startsWith('clusters/') || p === '.sops.yaml' || p === 'renovate.json5' || (inventoryName !== undefined && p.split('/').pop() === inventoryName);
}

export async function checkPublishable(
  repo: string,
  remote: string,
  branch: string,
  owned: (path: string) => boolean = bramblePaths(),
  /** remoteHead() of the branch, started by the caller beside its own checks: the round trip overlaps the local ones. */
  upstreamRead?: Promise<string | undefined>,
): Promise<Publishable> {
  const head = await git(repo)`git symbolic-ref -q HEAD`;
  const current = head.stdout.trim();
  if (head.exitCode !== 0 || current === '') {
    throw new GitError(`${repo} has no branch checked out (detached HEAD); bramble commits only on ${branch} (git.branch): run \`git switch ${branch}\` there, then run again`);
  }
  if (current !== `refs/heads/${branch}`) {
    throw new GitError(`${repo} is on branch ${current.replace(/^refs\/heads\//, '')}; bramble commits only on ${branch} (git.branch): run \`git switch ${branch}\` there, then run again`);
  }
  if ((await git(repo)`git rev-parse --verify --quiet HEAD`).exitCode !== 0) return { repo, remote, branch };
  const upstream = await (upstreamRead ?? remoteHead(repo, remote, branch));
  const range = ['HEAD'];
  if (upstream) {
    if ((await git(repo)`git cat-file -e ${upstream + '^{commit}'}`).exitCode !== 0) {
      await must(repo, ['fetch', '--quiet', '--', remote, `refs/heads/${branch}`], `fetching ${redactUrl(remote)}`);
    }
    range.push('--not', upstream);
  }
  const read = { head: upstream };
  const log = await must(repo, ['log', '--format=%h%x09%(trailers:key=Generated-By,valueonly,separator=%x2C)%x09%s', ...range], 'reading the local commits');
  const commits = log
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  const foreign = commits.filter(([, by]) => by !== 'bramble');
  for (const [h, , subject] of commits.filter(([, by]) => by === 'bramble')) {
    const changed = (await must(repo, ['diff-tree', '--no-commit-id', '--name-only', '-r', '-m', '--root', h!], 'reading a commit\'s files')).split('\n').filter(Boolean);
    const strangers = changed.filter((p) => !owned(p));
    if (strangers.length > 0) foreign.push([h!, 'bramble', `${subject} (carries bramble's trailer but changes ${strangers.slice(0, 3).join(', ')}${strangers.length > 3 ? ', ...' : ''}, which bramble never writes)`]);
  }
  if (foreign.length > 0) {
    const list = foreign.slice(0, 5).map(([h, , subject]) => `${h} ${subject}`);
    throw new GitError(
      `${repo} holds ${foreign.length} local commit(s) on ${branch} that are not bramble's and not on ${redactUrl(remote)}${upstream ? '' : ' (which has no such branch yet)'}: ${list.join('; ')}${foreign.length > 5 ? '; ...' : ''}.\n` +
        `bramble pushes only its own commits. Push them yourself (git push) or move them to another branch, then run again; nothing was written.`,
    );
  }
  return { repo, remote, branch, upstream: read };
}

export interface PublishOptions {
  /** From checkPublishable(), made before bramble wrote anything. */
  checked: Publishable;
  /** Files to stage (added, changed or deleted): bramble's own, nothing else. */
  paths: string[];
  /** Without the trailer: publish adds it. */
  message: string;
}

export interface PublishResult {
  /** The commit made by this run, if anything changed. */
  committed?: string;
  /** The commit the remote branch points at afterwards. */
  head: string;
  pushed: boolean;
  /** How many times the remote had moved on and bramble rebased onto it. */
  rebased: number;
}

async function identityArgs(repo: string): Promise<string[]> {
  const name = await git(repo)`git config user.name`;
  const email = await git(repo)`git config user.email`;
  // Use the owner's identity when git has one; otherwise say who made the commit.
  return [
    ...(name.exitCode === 0 && name.stdout.trim() ? [] : ['-c', 'user.name=bramble']),
    ...(email.exitCode === 0 && email.stdout.trim() ? [] : ['-c', 'user.email=bramble@localhost']),
  ];
}

/** Stage `paths`, commit them when they changed, then push without force. */
export async function publish(opts: PublishOptions): Promise<PublishResult> {
  const { repo, remote, branch } = opts.checked;
  const committed = opts.paths.length > 0 ? await commitPaths(repo, opts.paths, opts.message) : undefined;

  const first = await git(repo)`git rev-parse --verify --quiet HEAD`;
  if (first.exitCode !== 0) throw new GitError(`nothing to push: ${repo} has no commit yet`);

  let rebased = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const local = attempt === 0 ? first.stdout.trim() : await must(repo, ['rev-parse', 'HEAD'], 'reading HEAD');
    // The check has just read the remote; if it moved since, the push is refused and the next attempt reads it again.
    const upstream = attempt === 0 && opts.checked.upstream ? opts.checked.upstream.head : await remoteHead(repo, remote, branch);
    if (upstream === local) return { committed, head: local, pushed: false, rebased };
    if (upstream) {
      const known = (await git(repo)`git cat-file -e ${upstream + '^{commit}'}`).exitCode === 0;
      const contains = known && (await git(repo)`git merge-base --is-ancestor ${upstream} HEAD`).exitCode === 0;
      if (!contains) {
        await integrate(repo, remote, branch);
        rebased++;
        continue;
      }
    }
    const push = await git(repo)`git push --porcelain -- ${remote} ${'HEAD:refs/heads/' + branch}`;
    if (push.exitCode === 0) return { committed, head: await must(repo, ['rev-parse', 'HEAD'], 'reading HEAD'), pushed: true, rebased };
    const why = explain(push);
    // Someone pushed between our look and our push: look again.
    if (/\[rejected\]|non-fast-forward|fetch first|stale info/.test(push.stdout + push.stderr)) continue;
    throw new GitError(`pushing to ${redactUrl(remote)} (${branch}) failed: ${why}\nThe commit is kept in ${repo}; the next run pushes it.`);
  }
  throw new GitError(`the remote ${redactUrl(remote)} kept moving while bramble pushed; the commit is kept in ${repo}; run again`);
}

/** Replay local commits on top of the remote branch; on conflict, undo the attempt. */
async function integrate(repo: string, remote: string, branch: string): Promise<void> {
  await must(repo, ['fetch', '--quiet', '--', remote, `refs/heads/${branch}`], `fetching ${redactUrl(remote)}`);
  const rebase = await git(repo)`git ${await identityArgs(repo)} rebase --autostash --quiet FETCH_HEAD`;
  if (rebase.exitCode === 0) return;
  const conflicted = (await git(repo)`git diff --name-only --diff-filter=U`).stdout.trim().split('\n').filter(Boolean);
  await git(repo)`git rebase --abort`;
  throw new GitError(
    `the remote ${redactUrl(remote)} (${branch}) has moved on and its changes conflict with bramble's` +
      (conflicted.length ? `: ${conflicted.join(', ')}` : '') +
      `.\nNothing was pushed and the local commit is kept in ${repo}. Merge the remote by hand (git pull), then run bramble again.`,
  );
}

/**
 * Bring the work tree's branch up to the remote's when it only lacks the
 * remote's newer commits (a Renovate pull request merged there): a
 * fast-forward, never a merge. 'ahead' means local commits wait to be pushed
 * (publish rebases them); 'blocked' means the owner's uncommitted changes are
 * in the way, and nothing was changed.
 */
export async function fastForward(repo: string, remote: string, branch: string, read?: { head: string | undefined }): Promise<'current' | 'updated' | 'ahead' | 'blocked'> {
  // `read`: the remote's branch as a check made a moment before read it; one `ls-remote` fewer.
  const upstream = read ? read.head : await remoteHead(repo, remote, branch);
  const local = await git(repo)`git rev-parse --verify --quiet HEAD`;
  if (!upstream || local.exitCode !== 0 || local.stdout.trim() === upstream) return 'current';
  await must(repo, ['fetch', '--quiet', '--', remote, `refs/heads/${branch}`], `fetching ${redactUrl(remote)}`);
  if ((await git(repo)`git merge-base --is-ancestor HEAD FETCH_HEAD`).exitCode !== 0) return 'ahead';
  const ff = await git(repo)`git merge --ff-only --quiet FETCH_HEAD`;
  return ff.exitCode === 0 ? 'updated' : 'blocked';
}

/**
 * A work tree bramble may publish from (a clone of `remote`, on `branch`,
 * holding no one else's unpushed commits), fast-forwarded to the remote.
 */
export async function syncWorkTree(
  repo: string,
  remote: string,
  branch: string,
  owned: (path: string) => boolean = bramblePaths(),
): Promise<{ state: Awaited<ReturnType<typeof fastForward>>; checked: Publishable }> {
  // The remote is asked while the work tree is checked; a failed check is reported before a failed read.
  const upstreamRead = ahead(remoteHead(repo, remote, branch));
  await ensureRepoAt(repo, remote);
  const checked = await checkPublishable(repo, remote, branch, owned, upstreamRead);
  return { state: await fastForward(repo, remote, branch, checked.upstream), checked };
}

/** A second work tree of `repo` at `commit`, detached, for a branch that must not touch the owner's checkout. */
export async function scratchTree(repo: string, commit: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'bramble-branch-'));
  await must(repo, ['worktree', 'add', '--quiet', '--detach', dir, commit], 'making a work tree for the branch');
  return {
    dir,
    remove: async () => {
      await git(repo)`git worktree remove --force ${dir}`;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Commit `paths` in `dir` with bramble's trailer; the new commit, or undefined when nothing changed. */
export async function commitPaths(dir: string, paths: string[], message: string): Promise<string | undefined> {
  await must(dir, ['add', '--all', '--', ...paths], 'staging files');
  if ((await git(dir)`git diff --cached --quiet -- ${paths}`).exitCode === 0) return undefined;
  await must(dir, [...(await identityArgs(dir)), 'commit', '--quiet', '--no-verify', '-m', `${message}\n\n${TRAILER}`, '--', ...paths], 'committing');
  return must(dir, ['rev-parse', 'HEAD'], 'reading the commit');
}

/**
 * Push HEAD of `dir` as a new branch, never forced. A branch already on the
 * remote with the same files (a re-run) is left as it is; one with other
 * files is refused: it may hold someone's review.
 */
export async function pushBranch(dir: string, remote: string, branch: string): Promise<'pushed' | 'exists'> {
  const there = await remoteHead(dir, remote, branch);
  if (there) {
    await must(dir, ['fetch', '--quiet', '--', remote, `refs/heads/${branch}`], `fetching ${redactUrl(remote)} (${branch})`);
    const same = (await must(dir, ['rev-parse', 'FETCH_HEAD^{tree}'], 'reading the branch')) === (await must(dir, ['rev-parse', 'HEAD^{tree}'], 'reading the commit'));
    if (same) return 'exists';
    throw new GitError(`branch ${branch} is already on ${redactUrl(remote)} with other changes; bramble does not overwrite it (it may be under review). Merge or close it, delete the branch, then run again`);
  }
  const push = await git(dir)`git push --porcelain -- ${remote} ${'HEAD:refs/heads/' + branch}`;
  if (push.exitCode !== 0) throw new GitError(`pushing branch ${branch} to ${redactUrl(remote)} failed: ${explain(push)}`);
  return 'pushed';
}

/** The commit a work tree's HEAD is at, and whether tracked files differ from it. */
export async function headState(repo: string, path?: string): Promise<{ head: string; dirty: boolean }> {
  const head = await must(repo, ['rev-parse', 'HEAD'], 'reading HEAD');
  const diff = await git(repo)`git status --porcelain --untracked-files=no -- ${path ?? '.'}`;
  return { head, dirty: diff.stdout.trim() !== '' };
}

/** Whether `path` (inside `repo`) is tracked at HEAD. */
export async function tracked(repo: string, path: string): Promise<boolean> {
  return (await git(repo)`git ls-files --error-unmatch -- ${path}`).exitCode === 0;
}
