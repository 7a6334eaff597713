// Where the GitOps repository lives, behind one interface: GitHub (through
// its API) or any plain SSH Git server (Gitea, Forgejo, a NAS), where the
// owner adds the deploy key by hand. Either way bramble ends up with the
// known_hosts lines Flux needs and a deploy key that can read the repository.
import ssh2 from 'ssh2';
import { GitHostError, GitHub, githubToken, repoFromUrl } from './github.ts';
import type { GitSettings } from '../inventory/model.ts';
import { fingerprint, hostPattern, keyType } from '../ssh/known-hosts.ts';
import { shQuote } from '../ssh/session.ts';
import { scanHostKey, verifyHostKey, type HostKeyPolicy } from '../ssh/host-key.ts';

/** A key Flux reads the repository with; the Git host is told its public half. */
export interface DeployKey {
  /** OpenSSH private key. */
  privateKey: string;
  /** authorized_keys form: "ssh-ed25519 AAAA... comment" */
  publicKey: string;
}

export { GitHostError };

/** An SSH Git URL taken apart: what Flux and bramble connect to. */
export interface SshEndpoint {
  user: string;
  host: string;
  port: number;
  /** The repository path as the server's git-upload-pack takes it. */
  path: string;
}

export function sshEndpoint(url: string): SshEndpoint | undefined {
  if (url.startsWith('ssh://')) {
    try {
      const u = new URL(url);
      return { user: decodeURIComponent(u.username) || 'git', host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 22), path: decodeURIComponent(u.pathname) };
    } catch {
      return undefined;
    }
  }
  const m = /^(?:([^@/:]+)@)?([^/:]+):(?!\/\/)(.+)$/.exec(url);
  return m ? { user: m[1] ?? 'git', host: m[2]!, port: 22, path: m[3]! } : undefined;
}

export type KeyState = 'exists' | 'added' | 'replaced' | 'needs-owner';

export interface GitHost {
  /** For messages: "GitHub tinyhome/homelab-gitops" or "git@nas:22". */
  readonly label: string;
  /** Make sure the repository exists before anything is pushed; says what it did. */
  ensureRepository(): Promise<string>;
  /** The known_hosts lines Flux checks the server with. */
  knownHosts(): Promise<string>;
  /**
   * knownHosts() is best asked after authorize(): a plain SSH server's key is
   * read on the connection that tries the deploy key. GitHub's come from its
   * API and are asked first, so a failed read registers no key.
   */
  readonly knownHostsAfterKey: boolean;
  /**
   * Make `key` able to read the repository. GitHub registers it; a plain
   * host can only be checked, and answers 'needs-owner' until the owner adds it.
   */
  authorize(key: DeployKey, title: string, rotate: boolean): Promise<KeyState>;
  /** What the owner must do by hand for 'needs-owner'. */
  instructions(key: DeployKey): string[];
  /**
   * Ask for `branch` (already pushed) to be merged into `base` after review:
   * a pull request on GitHub; on a plain server, what to merge. Lines to print.
   */
  propose(o: { branch: string; base: string; title: string; body: string }): Promise<string[]>;
  /** A link to a commit, where the host has web pages; else the commit itself. */
  commitLink(sha: string): string;
}

export interface GitHostOptions {
  policy: HostKeyPolicy;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** For tests of retries: GitHub's backoff base. */
  retryBaseMs?: number;
}

export function gitHostFor(git: GitSettings, o: GitHostOptions): GitHost {
  const ep = sshEndpoint(git.url);
  if (!ep) throw new GitHostError(`git.url ${git.url} is not an SSH URL; Flux reads the repository with an SSH deploy key (ssh://user@host/path or user@host:path)`);
  return git.provider === 'github' ? new GitHubHost(git, ep, o) : new SshGitHost(git, ep, o);
}

class GitHubHost implements GitHost {
  readonly knownHostsAfterKey = false;
  readonly label: string;
  private readonly api: GitHub;
  private readonly ref: { owner: string; repo: string };
  private readonly git: GitSettings;
  private readonly ep: SshEndpoint;

  constructor(git: GitSettings, ep: SshEndpoint, o: GitHostOptions) {
    this.git = git;
    this.ep = ep;
    const ref = repoFromUrl(git.url);
    if (!ref) throw new GitHostError(`git.url ${git.url} does not name OWNER/REPO on GitHub`);
    this.ref = ref;
    this.label = `GitHub ${ref.owner}/${ref.repo}`;
    const token = githubToken(o.env);
    if (!token) throw new GitHostError(`${this.label}: no GitHub token; set GITHUB_TOKEN (repo scope, or a fine-grained token with Administration and Contents write) or log in with \`gh auth login\``);
    this.api = new GitHub({ token, baseUrl: git.apiUrl, log: o.log, retryBaseMs: o.retryBaseMs });
  }

  async ensureRepository(): Promise<string> {
    const r = await this.api.ensureRepository(this.ref, { private: this.git.private });
    if (r.defaultBranch !== this.git.branch && !r.created) {
      // Flux follows the inventory's branch; a different default is allowed but worth saying.
      return `${this.label}: using branch ${this.git.branch} (the repository's default is ${r.defaultBranch})`;
    }
    return r.created ? `${this.label}: created (${r.private ? 'private' : 'public'})` : `${this.label}: exists`;
  }

  async knownHosts(): Promise<string> {
    return this.api.knownHosts(hostPattern(this.ep.host, this.ep.port));
  }

  async authorize(key: DeployKey, title: string, rotate: boolean): Promise<KeyState> {
    return this.api.ensureDeployKey(this.ref, { title, publicKey: key.publicKey, rotate });
  }

  instructions(): string[] {
    return [];
  }

  async propose(o: { branch: string; base: string; title: string; body: string }): Promise<string[]> {
    const pr = await this.api.openPullRequest(this.ref, { head: o.branch, base: o.base, title: o.title, body: o.body });
    return [pr.opened ? `opened pull request #${pr.number}: ${pr.url}` : `pull request #${pr.number} is already open for ${o.branch}: ${pr.url}`];
  }

  commitLink(sha: string): string {
    // GitHub Enterprise serves its pages where its API lives, without /api/v3.
    const web = this.git.apiUrl === 'https://api.github.com' ? 'https://github.com' : this.git.apiUrl.replace(/\/api\/v3\/?$/, '');
    return `${web}/${this.ref.owner}/${this.ref.repo}/commit/${sha}`;
  }
}

class SshGitHost implements GitHost {
  readonly knownHostsAfterKey = true;
  readonly label: string;
  private hostKey: Buffer | undefined;
  private readonly git: GitSettings;
  private readonly ep: SshEndpoint;
  private readonly o: GitHostOptions;

  constructor(git: GitSettings, ep: SshEndpoint, o: GitHostOptions) {
    this.git = git;
    this.ep = ep;
    this.o = o;
    this.label = `${ep.user}@${ep.host}${ep.port === 22 ? '' : `:${ep.port}`}`;
  }

  async ensureRepository(): Promise<string> {
    // A plain server has no API to create repositories with; the push says whether it exists.
    return `${this.label}: plain SSH Git server (the repository must exist)`;
  }

  /** The host key checked against known_hosts, the pin and the owner's policy; kept for this run once accepted. */
  private async accept(key: Buffer): Promise<void> {
    const refused = await verifyHostKey({ name: `Git server ${this.ep.host}`, host: this.ep.host, port: this.ep.port, user: this.ep.user, auth: 'key', hostKey: this.git.hostKey }, key, this.o.policy);
    if (refused) throw new GitHostError(`Git server ${this.label}: ${refused.replace('ssh.hostKey', 'git.hostKey')}`);
    this.hostKey = key;
  }

  private async trustedKey(): Promise<Buffer> {
    if (this.hostKey) return this.hostKey;
    const scanned = await scanHostKey(this.ep.host, this.ep.port).catch((e: Error) => {
      throw new GitHostError(`Git server ${this.label}: ${e.message}`);
    });
    const key = Buffer.from(scanned.line.trim().split(/\s+/)[2]!, 'base64');
    await this.accept(key);
    return key;
  }

  async knownHosts(): Promise<string> {
    const key = await this.trustedKey();
    return `${hostPattern(this.ep.host, this.ep.port)} ${keyType(key)} ${key.toString('base64')}\n`;
  }

  async authorize(key: DeployKey): Promise<KeyState> {
    const why = await this.canRead(key);
    if (why === undefined) return 'exists';
    this.o.log?.(`${this.label}: the deploy key cannot read ${this.ep.path} yet (${why})`);
    return 'needs-owner';
  }

  async propose(o: { branch: string; base: string }): Promise<string[]> {
    return [
      `${this.label} has no pull requests bramble can open: review branch ${o.branch} there (or with git log -p ${o.base}..origin/${o.branch}),`,
      `then merge it into ${o.base}: git fetch origin && git switch ${o.base} && git merge --ff-only origin/${o.branch} && git push origin ${o.base}`,
    ];
  }

  commitLink(sha: string): string {
    return `commit ${sha} on ${this.label}:${this.ep.path}`;
  }

  instructions(key: DeployKey): string[] {
    return [
      `Add this read-only deploy key for ${this.ep.path} on ${this.label}:`,
      `  ${key.publicKey}`,
      `Flux will trust the server's host key ${this.hostKey ? fingerprint(this.hostKey) : '(not read yet)'}.`,
    ];
  }

  /**
   * undefined when `key` can fetch the repository; otherwise why not. Only a
   * read is tried. The server's host key is checked on this same connection
   * (one connection to the Git host, not a key scan and then a login), except
   * where a person may be asked about it: a question must not race the
   * handshake's timeout, so the key is scanned and settled first.
   */
  async canRead(key: DeployKey): Promise<string | undefined> {
    if (!this.hostKey && this.o.policy.ask) await this.trustedKey();
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let settled = false;
      let hostChecked = false;
      let refused: Error | undefined;
      const end = (f: () => void) => {
        if (settled) return;
        settled = true;
        client.end();
        f();
      };
      const finish = (why: string | undefined) => end(() => resolve(why));
      client.on('error', (e: Error & { level?: string }) => {
        if (refused) return end(() => reject(refused));
        // Before the host key was seen there is no server to judge the deploy key by: reported as the key scan reports it.
        if (!hostChecked) return end(() => reject(new GitHostError(`Git server ${this.label}: cannot read the host key of ${this.ep.host}:${this.ep.port}: ${e.message}`)));
        finish(e.level === 'client-authentication' ? 'the server refused the key' : e.message);
      });
      client.on('ready', () => {
        client.exec(`git-upload-pack ${shQuote(this.ep.path)}`, (err, stream) => {
          if (err) return finish(err.message);
          let stderr = '';
          stream.on('data', () => finish(undefined));
          stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          stream.on('close', (code: number) => finish(code === 0 ? undefined : stderr.trim().split('\n').pop() || `git-upload-pack exited ${code}`));
        });
      });
      client.connect({
        host: this.ep.host,
        port: this.ep.port,
        username: this.ep.user,
        privateKey: key.privateKey,
        readyTimeout: 15_000,
        hostVerifier: (k: Buffer, verify: (ok: boolean) => void) => {
          hostChecked = true;
          if (this.hostKey) return verify(k.equals(this.hostKey));
          this.accept(k).then(
            () => verify(true),
            (e: Error) => {
              refused = e;
              verify(false);
            },
          );
        },
      });
      client.setNoDelay(true); // as in Session.connect: no wait for a delayed ACK between packets
    });
  }
}
