// GitHub as bramble's Git host, through Octokit: make sure the repository
// exists (private unless told otherwise) and that Flux's read-only deploy key
// is registered. API errors are explained in words; 5xx answers are retried
// with backoff and rate limits are waited out (within a bound).
import { BrambleError } from '../base/errors.ts';
import { spawnSync } from 'node:child_process';
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck/light.js';
import { apiUrlProblem } from '../inventory/rules.ts';

export class GitHostError extends BrambleError {}

export interface RepoRef {
  owner: string;
  repo: string;
}

/** owner/repo from an ssh://, https:// or scp-like (git@host:owner/repo) URL. */
export function repoFromUrl(url: string): RepoRef | undefined {
  let path: string | undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  } else {
    path = /^[^/:]+:(.+)$/.exec(url)?.[1];
  }
  const m = /^\/?([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(path ?? '');
  return m ? { owner: m[1]!, repo: m[2]! } : undefined;
}

/** GITHUB_TOKEN, else the gh CLI's stored login when gh is installed. Never written anywhere. */
export function githubToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_TOKEN) return env.GITHUB_TOKEN;
  const gh = spawnSync('gh', ['auth', 'token'], { encoding: 'utf8', env, timeout: 10_000 });
  return gh.status === 0 && gh.stdout.trim() ? gh.stdout.trim() : undefined;
}

export interface GitHubOptions {
  token: string;
  /** https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise. */
  baseUrl?: string;
  /** Retries of a 5xx answer. */
  retries?: number;
  /** Milliseconds of the first retry's wait; later ones grow. */
  retryBaseMs?: number;
  /** The longest rate-limit wait bramble sits out before giving up. */
  maxRateLimitWaitSeconds?: number;
  /**
   * Milliseconds between the starts of two writes (POST, PATCH, PUT, DELETE).
   * GitHub asks for at least a second, and more before a write that notifies
   * people (a pull request); Octokit keeps to 1 s and 3 s by default. Tests
   * of GitHub's answers rather than of pacing set less.
   */
  writeSpacingMs?: number;
  log?: (line: string) => void;
}

export interface Repository {
  created: boolean;
  defaultBranch: string;
  private: boolean;
  sshUrl: string;
}

export type KeyResult = 'exists' | 'added' | 'replaced';

const ThrottledOctokit = Octokit.plugin(retry, throttling);

interface ApiError {
  status?: number;
  message?: string;
  response?: { data?: { message?: string; errors?: Array<{ message?: string; code?: string; field?: string }> }; headers?: Record<string, string | undefined> };
}

function detail(e: ApiError): string {
  const data = e.response?.data;
  const inner = data?.errors?.map((x) => x.message ?? `${x.field} ${x.code}`).join('; ');
  return [data?.message ?? e.message, inner].filter(Boolean).join(': ');
}

/** What an API failure means for the owner. */
export function explain(e: unknown, what: string): GitHostError {
  const err = e as ApiError;
  const status = err.status;
  const headers = err.response?.headers ?? {};
  if (status === 401) return new GitHostError(`${what}: GitHub rejected the token (401 ${detail(err)}); check GITHUB_TOKEN or \`gh auth login\``);
  if ((status === 403 || status === 429) && headers['x-ratelimit-remaining'] === '0') {
    const reset = Number(headers['x-ratelimit-reset']);
    const when = Number.isFinite(reset) ? new Date(reset * 1000).toISOString() : 'later';
    return new GitHostError(`${what}: GitHub's rate limit is used up until ${when}; run again then`);
  }
  if (status === 403 || status === 404) {
    return new GitHostError(
      `${what}: GitHub answered ${status} (${detail(err)}); the token cannot do this: it needs the repo scope (classic token) or Administration and Contents write access to this repository (fine-grained token)`,
    );
  }
  if (status === 422) return new GitHostError(`${what}: GitHub refused it (422 ${detail(err)})`);
  if (status !== undefined && status >= 500) return new GitHostError(`${what}: GitHub kept failing (${status} ${detail(err)}) after retries; try again later`);
  return new GitHostError(`${what}: ${detail(err) || String(e)}`);
}

function sameKey(a: string, b: string): boolean {
  // Compare type and key material; the comment after them is not part of the key.
  const norm = (k: string) => k.trim().split(/\s+/).slice(0, 2).join(' ');
  return norm(a) === norm(b);
}

/** Octokit's two write queues (plain and notifying), at `minTime` ms apart. */
function paced(minTime: number) {
  return {
    write: new Bottleneck.Group({ id: 'bramble-write', maxConcurrent: 1, minTime }),
    notifications: new Bottleneck.Group({ id: 'bramble-notifications', maxConcurrent: 1, minTime }),
  };
}

export class GitHub {
  private readonly api: InstanceType<typeof ThrottledOctokit>;
  private readonly log: (line: string) => void;

  constructor(o: GitHubOptions) {
    const refused = apiUrlProblem(o.baseUrl ?? 'https://api.github.com');
    if (refused) throw new GitHostError(refused);
    this.log = o.log ?? (() => undefined);
    const maxWait = o.maxRateLimitWaitSeconds ?? 120;
    this.api = new ThrottledOctokit({
      auth: o.token,
      baseUrl: o.baseUrl ?? 'https://api.github.com',
      userAgent: 'bramble',
      // Octokit's own logging could print request details; bramble reports instead.
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      retry: { retries: o.retries ?? 3, retryAfterBaseValue: o.retryBaseMs ?? 1000 },
      throttle: {
        ...(o.writeSpacingMs === undefined ? {} : paced(o.writeSpacingMs)),
        onRateLimit: (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
          if (retryCount >= 2 || retryAfter > maxWait) return false;
          this.log(`GitHub rate limit reached; waiting ${retryAfter} s before ${options.method} ${options.url}`);
          return true;
        },
        onSecondaryRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2 && retryAfter <= maxWait,
      },
    });
  }

  /** GitHub's published SSH host keys as known_hosts lines for `host` (from the meta API, not a scan). */
  async knownHosts(host = 'github.com'): Promise<string> {
    try {
      const { data } = await this.api.rest.meta.get();
      const keys = (data as { ssh_keys?: string[] }).ssh_keys ?? [];
      if (keys.length === 0) throw new GitHostError('GitHub\'s meta API listed no SSH host keys');
      return keys.map((k) => `${host} ${k}\n`).join('');
    } catch (e) {
      if (e instanceof GitHostError) throw e;
      throw explain(e, 'reading GitHub\'s SSH host keys');
    }
  }

  /** Use the repository when it exists; otherwise create it (for a user or an organisation). */
  async ensureRepository(ref: RepoRef, o: { private?: boolean; description?: string } = {}): Promise<Repository> {
    const what = `repository ${ref.owner}/${ref.repo}`;
    try {
      const { data } = await this.api.rest.repos.get({ owner: ref.owner, repo: ref.repo });
      return { created: false, defaultBranch: data.default_branch, private: data.private, sshUrl: data.ssh_url };
    } catch (e) {
      if ((e as ApiError).status !== 404) throw explain(e, what);
    }
    const visibility = { private: o.private ?? true, description: o.description ?? 'Flux repository managed by bramble', auto_init: false };
    try {
      const { data: me } = await this.api.rest.users.getAuthenticated();
      const { data } =
        me.login.toLowerCase() === ref.owner.toLowerCase()
          ? await this.api.rest.repos.createForAuthenticatedUser({ name: ref.repo, ...visibility })
          : await this.api.rest.repos.createInOrg({ org: ref.owner, name: ref.repo, ...visibility });
      this.log(`created ${data.private ? 'private' : 'public'} repository ${data.full_name}`);
      return { created: true, defaultBranch: data.default_branch ?? 'main', private: data.private, sshUrl: data.ssh_url };
    } catch (e) {
      const err = e as ApiError;
      if (err.status === 422 && /already exists/i.test(detail(err))) {
        throw new GitHostError(`${what}: the name is taken, but this token cannot see that repository; use another name or a token with access to it`);
      }
      throw explain(e, `creating ${what}`);
    }
  }

  /**
   * Register Flux's public key as a read-only deploy key titled `title`.
   * A matching key is reused; a different key under the same title is replaced
   * only when `rotate` is set.
   */
  async ensureDeployKey(ref: RepoRef, o: { title: string; publicKey: string; rotate?: boolean }): Promise<KeyResult> {
    const what = `deploy key "${o.title}" on ${ref.owner}/${ref.repo}`;
    try {
      const keys = await this.api.paginate(this.api.rest.repos.listDeployKeys, { ...ref, per_page: 100 });
      const match = keys.find((k) => sameKey(k.key, o.publicKey));
      if (match && match.read_only) return 'exists';
      const stale = keys.filter((k) => k.title === o.title && (!sameKey(k.key, o.publicKey) || !k.read_only));
      if (stale.length > 0 && !o.rotate && !match) {
        throw new GitHostError(`${what}: a different key already has this title; run with --rotate-deploy-key to replace it (and the cluster's secret with it)`);
      }
      for (const k of stale) await this.api.rest.repos.deleteDeployKey({ ...ref, key_id: k.id });
      if (match && !match.read_only) await this.api.rest.repos.deleteDeployKey({ ...ref, key_id: match.id });
      await this.api.rest.repos.createDeployKey({ ...ref, title: o.title, key: o.publicKey.trim(), read_only: true });
      return stale.length > 0 ? 'replaced' : 'added';
    } catch (e) {
      if (e instanceof GitHostError) throw e;
      const err = e as ApiError;
      if (err.status === 422 && /already in use/i.test(detail(err))) {
        throw new GitHostError(`${what}: GitHub says this key is already in use, on another repository or account (a deploy key must be unique across GitHub); bramble generates one per cluster: remove the other use or rotate`);
      }
      throw explain(e, what);
    }
  }

  /**
   * Open a pull request from `head` into `base`; when one is already open for
   * that branch, it is the answer (a re-run opens no second one).
   */
  async openPullRequest(ref: RepoRef, o: { head: string; base: string; title: string; body: string }): Promise<{ number: number; url: string; opened: boolean }> {
    const what = `pull request ${o.head} -> ${o.base} on ${ref.owner}/${ref.repo}`;
    try {
      const { data } = await this.api.rest.pulls.create({ ...ref, head: o.head, base: o.base, title: o.title, body: o.body, maintainer_can_modify: false });
      return { number: data.number, url: data.html_url, opened: true };
    } catch (e) {
      const err = e as ApiError;
      if (err.status !== 422 || !/already exists/i.test(detail(err))) throw explain(e, what);
    }
    try {
      const { data } = await this.api.rest.pulls.list({ ...ref, head: `${ref.owner}:${o.head}`, base: o.base, state: 'open' });
      const open = data[0];
      if (!open) throw new GitHostError(`${what}: GitHub says one exists, but none is open for ${o.head}`);
      return { number: open.number, url: open.html_url, opened: false };
    } catch (e) {
      if (e instanceof GitHostError) throw e;
      throw explain(e, what);
    }
  }
}
