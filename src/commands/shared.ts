// What several commands need from the command line: SSH session options,
// the phases' run options, whether a person is at the terminal.
import type { ClusterSpec, Inventory, NodeSpec } from '../inventory/model.ts';
import type { Session, SessionOptions } from '../ssh/session.ts';
import type { Connection } from '../nodes/connect.ts';
import type { RunOptions } from '../run/steps.ts';
import type { Publishable } from '../git/repo.ts';
import { UsageError, type Io, type Options } from './command.ts';
import { BrambleError } from '../base/errors.ts';
import { verboseLog } from '../base/io.ts';

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

export function seconds(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout takes a number of seconds, not "${value}"`);
  return n * 1000;
}

/** Host-key policy, secrets and logging for the SSH sessions of a run. */
export async function nodeOptions(opts: Options, io: Io) {
  const { sessionOptions } = await import('../nodes/connect.ts');
  return sessionOptions({
    knownHosts: opts['known-hosts'],
    acceptNewHostKeys: opts['accept-new-host-keys'],
    interactive: isInteractive(),
    log: opts.verbose ? verboseLog(io) : undefined,
  });
}

export function runOptions(opts: Options): RunOptions {
  return {
    cluster: opts.cluster,
    repo: opts.repo,
    remote: opts.remote,
    force: opts.force,
    verbose: opts.verbose,
    kubeconfig: opts.kubeconfig,
    nodeTimeoutMs: seconds(opts.timeout, 300),
    fluxTimeoutMs: seconds(opts.timeout, 600),
    rotateDeployKey: opts['rotate-deploy-key'],
    confirm: isInteractive() ? async (message: string) => (await import('@inquirer/prompts')).confirm({ message, default: true }) : undefined,
  };
}

/** Prefix every line a phase prints, under its cluster's heading. */
export function indented(io: Io): Io {
  return { out: (l) => io.out(`  ${l}`), err: (l) => io.err(`  ${l}`) };
}

/**
 * A command that writes into the work tree (secret set, backup credentials)
 * makes it the way publish does when it does not exist yet: a clone of the
 * inventory's remote, or a new repository for it. A plain folder there would
 * stop the next publish.
 */
export async function ensureWorkTree(repo: string, gitUrl: string, branch: string, io: Io): Promise<void> {
  const { existsSync } = await import('node:fs');
  if (existsSync(repo)) return;
  const { ensureRepo, redactUrl } = await import('../git/repo.ts');
  const how = await ensureRepo(repo, gitUrl, branch);
  io.out(`${how === 'cloned' ? `cloned ${redactUrl(gitUrl)} into` : `created a repository for ${redactUrl(gitUrl)} in`} ${repo}`);
}

/**
 * Read-only commands that look at each cluster through one server (status,
 * backup status): a session on the first server that answers, closed after
 * `visit`; a cluster with none is reported unreachable. True when every
 * cluster was reached and `visit` found it healthy.
 */
export async function visitClusters(
  clusters: ClusterSpec[],
  opts: Options,
  io: Io,
  visit: (cluster: ClusterSpec, first: { node: NodeSpec; session: Session }) => Promise<boolean>,
): Promise<boolean> {
  const { connectServer } = await import('../nodes/connect.ts');
  const sessionOpts = await nodeOptions(opts, io);
  let healthy = true;
  for (const cluster of clusters) {
    let first;
    try {
      first = await connectServer(cluster, sessionOpts);
    } catch (e) {
      io.out(`cluster ${cluster.name}: unreachable: ${e instanceof BrambleError ? e.detail : (e as Error).message}`);
      healthy = false;
      continue;
    }
    try {
      if (!(await visit(cluster, first))) healthy = false;
    } finally {
      first.session.close();
    }
  }
  return healthy;
}

/**
 * A destructive step's confirmation: `--yes`, or the name typed at a terminal.
 * Without a terminal it refuses with `refusal` (which ends by saying how to
 * confirm); a wrong name changes nothing.
 */
export async function typedConfirmation(yes: boolean | undefined, io: Io, o: { expected: string; prompt: string; refusal: string }): Promise<boolean> {
  if (yes) return true;
  if (!isInteractive()) {
    io.err([o.refusal, 'Run it at a terminal to confirm, or pass --yes.'].filter(Boolean).join(' '));
    return false;
  }
  const { input } = await import('@inquirer/prompts');
  if ((await input({ message: o.prompt })).trim() === o.expected) return true;
  io.err('not confirmed; nothing was changed');
  return false;
}

/**
 * Secrets reach bramble on standard input or typed hidden at a terminal, never
 * as arguments (which other users and the shell's history see). The whole of
 * standard input when it is not a terminal; undefined when it is one.
 */
export async function pipedInput(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A secret typed at the terminal, shown as asterisks. */
export async function hiddenPrompt(message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  return password({ message, mask: '*' });
}

/**
 * The inventory, with the versions Renovate (or a person) changed in the
 * repository's generated files taken into it (render/versions.ts). `write`:
 * the inventory file is updated too; otherwise the change is only shown.
 */
export async function inventoryWithGit(
  opts: Options,
  io: Io,
  {
    write,
    quiet = false,
    fastForward = 'no',
    whileSyncing,
  }: {
    write: boolean;
    quiet?: boolean;
    fastForward?: 'no' | 'strict' | 'best effort';
    /** Called with the inventory as the file has it, before the work tree is brought up to date. */
    whileSyncing?: (loaded: Inventory) => void;
  },
) {
  const [{ loadInventory }, { takeVersionsFromGit, takenLines }, { resolve }] = await Promise.all([import('../inventory/load.ts'), import('../render/versions.ts'), import('node:path')]);
  if (opts.verbose) verboseLog(io)('phase: the inventory and the versions in Git');
  const loaded = await loadInventory(opts.inventory!);
  whileSyncing?.(loaded);
  const repo = resolve(opts.repo ?? '.');
  let checked: Publishable | undefined;
  if (fastForward !== 'no') {
    // Commands that push: a Renovate change merged on the remote is read before anything is rendered.
    const { existsSync } = await import('node:fs');
    if (existsSync(repo)) {
      const git = await import('../git/repo.ts');
      const remote = opts.remote ?? loaded.git.url;
      try {
        const synced = await git.syncWorkTree(repo, remote, loaded.git.branch, git.bramblePaths(loaded.source));
        checked = synced.checked;
        if (synced.state === 'updated' && !quiet) io.out(`brought ${repo} up to ${git.redactUrl(remote)} (branch ${loaded.git.branch})`);
      } catch (e) {
        // apply's plan and publish check the same things again and report them in their own stream.
        if (!(fastForward === 'best effort' && e instanceof git.GitError)) throw e;
      }
    }
  }
  const { inv, taken, written } = await takeVersionsFromGit(opts.inventory!, loaded, repo, opts.cluster, { write, force: opts.force });
  if (taken.length > 0 && !quiet) {
    io.out(written ? `versions changed in Git, taken into ${opts.inventory}:` : `versions changed in Git, which ${opts.inventory} would take:`);
    for (const l of takenLines(taken)) io.out(l);
  }
  return { inv, taken, written, checked };
}

/**
 * The nodes reached while Git is read (apply, plan): their addresses are the
 * file's, whatever versions Git brings (a node the versions change is
 * connected again when the plan links it). `open` goes to inventoryWithGit's
 * whileSyncing; `close` ends them when the run stops before the plan takes them.
 */
export async function earlyConnections(opts: Options, sessionOpts: SessionOptions) {
  const [{ selectClusters }, { connectCluster }, { closeConnections }] = await Promise.all([import('../inventory/model.ts'), import('../nodes/connect.ts'), import('../run/apply.ts')]);
  const opened = new Map<string, Promise<Connection[]>>();
  return {
    opened,
    open: (loaded: Inventory) => {
      let selected: ClusterSpec[];
      try {
        selected = selectClusters(loaded, opts.cluster);
      } catch {
        return; // the same selection fails again later, where it is reported
      }
      for (const c of selected) opened.set(c.name, connectCluster(c, sessionOpts));
    },
    close: () => {
      for (const early of opened.values()) void early.then(closeConnections);
    },
  };
}
