// A stand-in for the GitHub REST API (see docs/testing.md), on loopback,
// reached through Octokit's ordinary baseUrl option. It answers the few
// endpoints bramble uses with the shapes of GitHub's real responses (the
// repository body is @octokit/fixtures' recording of GET /repos/...), keeps
// repositories and deploy keys in memory, and can be told to fail the next
// requests (5xx, rate limit) to exercise retries.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);
const recorded = (JSON.parse(readFileSync(require.resolve('@octokit/fixtures/scenarios/api.github.com/get-repository/normalized-fixture.json'), 'utf8')) as Array<{ response: Record<string, unknown> }>)[0]!.response;

/** GitHub's published host keys (public facts, as its meta API lists them). */
export const GITHUB_SSH_KEYS = [
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=',
];

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Key {
  id: number;
  key: string;
  title: string;
  read_only: boolean;
}

export interface Pull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  state: 'open' | 'closed';
}

/** A branch's commit in a bare repository, or undefined. */
function branchAt(gitDir: string, branch: string): string | undefined {
  const r = spawnSync('git', ['--git-dir', gitDir, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export class FakeGitHub {
  readonly token: string;
  readonly user: string;
  readonly orgs = new Set<string>();
  readonly repos = new Map<string, { private: boolean; default_branch: string; keys: Key[]; hidden?: boolean; gitDir?: string; pulls?: Pull[] }>();
  /** Deploy keys in use anywhere on this "GitHub": a key may be used once. */
  readonly requests: string[] = [];
  /** When each of `requests` arrived (ms since the epoch). */
  readonly arrivals: number[] = [];
  faults: Fault[] = [];
  private nextId = 1000;
  private server = createServer((req, res) => void this.handle(req, res));
  baseUrl = '';

  constructor(user = 'tinyhome', token = 'ghp_' + 'x'.repeat(36)) {
    this.user = user;
    this.token = token;
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  stop(): Promise<void> {
    // Octokit's fetch keeps connections alive; closing waits for none of them.
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    return closed;
  }

  private repoBody(owner: string, name: string, r: { private: boolean; default_branch: string }) {
    return {
      ...recorded,
      name,
      full_name: `${owner}/${name}`,
      private: r.private,
      visibility: r.private ? 'private' : 'public',
      default_branch: r.default_branch,
      owner: { ...(recorded.owner as object), login: owner },
      ssh_url: `git@github.com:${owner}/${name}.git`,
      clone_url: `https://github.com/${owner}/${name}.git`,
    };
  }

  private pullBody(owner: string, name: string, p: Pull) {
    return {
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      html_url: `https://github.com/${owner}/${name}/pull/${p.number}`,
      url: `${this.baseUrl}/repos/${owner}/${name}/pulls/${p.number}`,
      head: { ref: p.head, label: `${owner}:${p.head}` },
      base: { ref: p.base, label: `${owner}:${p.base}` },
    };
  }

  private send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-remaining': '4999', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const path = (req.url ?? '').split('?')[0]!;
    this.requests.push(`${req.method} ${path}`);
    this.arrivals.push(Date.now());
    const fault = this.faults.shift();
    if (fault) return this.send(res, fault.status, fault.body ?? { message: 'Server Error' }, fault.headers);
    if (req.headers.authorization !== `token ${this.token}`) {
      return this.send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    const notFound = () => this.send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && path === '/meta') {
      return this.send(res, 200, { verifiable_password_authentication: false, ssh_key_fingerprints: { SHA256_ED25519: 'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU' }, ssh_keys: GITHUB_SSH_KEYS });
    }
    if (req.method === 'GET' && path === '/user') return this.send(res, 200, { login: this.user, id: 1, type: 'User' });
    const org = /^\/orgs\/([^/]+)\/repos$/.exec(path)?.[1];
    if (req.method === 'POST' && (path === '/user/repos' || org)) {
      const owner = org ?? this.user;
      if (owner !== this.user && !this.orgs.has(owner)) return notFound();
      const name = String(body.name);
      if (this.repos.has(`${owner}/${name}`)) {
        return this.send(res, 422, { message: 'Repository creation failed.', errors: [{ resource: 'Repository', code: 'custom', field: 'name', message: 'name already exists on this account' }] });
      }
      const r = { private: body.private !== false, default_branch: 'main', keys: [] as Key[] };
      this.repos.set(`${owner}/${name}`, r);
      return this.send(res, 201, this.repoBody(owner, name, r));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(path))) {
      const [, owner, name] = m;
      const r = this.repos.get(`${owner}/${name}`);
      if (!r || r.hidden) return notFound();
      const pulls = (r.pulls ??= []);
      const invalid = (errors: unknown[]) => this.send(res, 422, { message: 'Validation Failed', errors, documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request' });
      if (req.method === 'GET') {
        const q = new URL(req.url ?? '', 'http://x').searchParams;
        const head = q.get('head')?.replace(`${owner}:`, '');
        const list = pulls.filter((p) => (q.get('state') ?? 'open') === p.state && (!head || p.head === head) && (!q.get('base') || p.base === q.get('base')));
        return this.send(res, 200, list.map((p) => this.pullBody(owner!, name!, p)));
      }
      if (req.method === 'POST') {
        const head = String(body.head ?? '');
        const base = String(body.base ?? '');
        if (!body.title) return invalid([{ resource: 'PullRequest', field: 'title', code: 'missing_field' }]);
        // As GitHub does: both branches must exist in the repository, and head must hold commits base lacks.
        if (r.gitDir) {
          const h = branchAt(r.gitDir, head);
          const b = branchAt(r.gitDir, base);
          if (!h) return invalid([{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
          if (!b) return invalid([{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
          const ahead = spawnSync('git', ['--git-dir', r.gitDir, 'rev-list', '--count', `${b}..${h}`], { encoding: 'utf8' }).stdout.trim();
          if (ahead === '0') return invalid([{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }]);
        }
        if (pulls.some((p) => p.state === 'open' && p.head === head && p.base === base)) {
          return invalid([{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${head}.` }]);
        }
        const p: Pull = { number: pulls.length + 1, head, base, title: String(body.title), body: String(body.body ?? ''), state: 'open' };
        pulls.push(p);
        return this.send(res, 201, this.pullBody(owner!, name!, p));
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)(\/keys(?:\/(\d+))?)?$/.exec(path))) {
      const [, owner, name, keysPart, keyId] = m;
      const r = this.repos.get(`${owner}/${name}`);
      if (!r || r.hidden) return notFound();
      if (!keysPart && req.method === 'GET') return this.send(res, 200, this.repoBody(owner!, name!, r));
      if (keysPart && !keyId && req.method === 'GET') return this.send(res, 200, r.keys.map((k) => ({ ...k, url: `${this.baseUrl}${path}/${k.id}`, verified: true, created_at: '2026-11-22T00:00:00Z' })));
      if (keysPart && !keyId && req.method === 'POST') {
        const key = String(body.key).trim().split(/\s+/).slice(0, 2).join(' ');
        const inUse = [...this.repos.values()].some((o) => o.keys.some((k) => k.key === key));
        if (inUse) return this.send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'PublicKey', code: 'custom', field: 'key', message: 'key is already in use' }], documentation_url: 'https://docs.github.com/rest/deploy-keys/deploy-keys#create-a-deploy-key' });
        const k: Key = { id: this.nextId++, key, title: String(body.title), read_only: body.read_only === true };
        r.keys.push(k);
        return this.send(res, 201, { ...k, url: `${this.baseUrl}${path}/${k.id}`, verified: true, created_at: '2026-11-22T00:00:00Z' });
      }
      if (keyId && req.method === 'DELETE') {
        r.keys = r.keys.filter((k) => k.id !== Number(keyId));
        return this.send(res, 204);
      }
    }
    return notFound();
  }
}
