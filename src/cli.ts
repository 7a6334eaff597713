// The command line: parse, run one straight path per command, print, exit.
import { readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { selectClusters, type ClusterSpec, type Inventory } from './inventory/model.ts';
import type { NodeOutcome } from './k3s/install.ts';
import type { NodeLink } from './nodes/connect.ts';
import type { NodeReport } from './nodes/preflight.ts';
import type { TreePlan, FileChange } from './render/tree.ts';
import type { SessionOptions } from './ssh/session.ts';
import { packageRoot } from './paths.ts';

// Each command loads only the modules it uses: `bramble --help` should not
// pay for the Kubernetes schemas or the SSH library.
const load = {
  inventory: () => import('./inventory/load.ts'),
  render: () => import('./render/render.ts'),
  tree: () => import('./render/tree.ts'),
  git: () => import('./git.ts'),
  connect: () => import('./nodes/connect.ts'),
  preflight: () => import('./nodes/preflight.ts'),
  install: () => import('./k3s/install.ts'),
  kubeconfig: () => import('./kubeconfig.ts'),
};

/** Errors that carry a message meant for the owner: printed as they are, exit 1. */
const EXPLAINED = new Set(['InventoryError', 'SelectionError', 'RenderError', 'GitError', 'SshError', 'KubeconfigError']);

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

class UsageError extends Error {}

const USAGE = `bramble: bare ARM boards to k3s clusters that Flux keeps in sync with Git

Usage:
  bramble validate -i FILE                 check an inventory (structure and meaning)
  bramble render   -i FILE [options]       render clusters/<name>/ into a repository
  bramble publish  -i FILE [options]       render, commit and push to the Git remote
  bramble preflight -i FILE [options]      read-only checks of every node over SSH
  bramble install  -i FILE [options]       prepare the nodes and install k3s; merge the kubeconfig
  bramble reset    -i FILE -c NAME [--yes] uninstall k3s from a cluster's nodes (agents first)
  bramble help | --help                    this text
  bramble version | --version

Options:
  -i, --inventory FILE   the inventory (e.g. inventory/homelab.yaml)
  -c, --cluster NAME     only this cluster (repeatable); default: all
      --repo DIR         the Git work tree to render into (default: .);
                         publish clones the remote into DIR when it does not exist
      --remote URL       publish: push here instead of the inventory's git.url
                         (the rendered Flux sync still reads git.url)
      --check            render: write nothing; exit 1 listing what differs
      --force            replace or prune generated files that were edited by hand
      --known-hosts FILE SSH known_hosts to check node keys against (default ~/.ssh/known_hosts)
      --accept-new-host-keys  trust and record host keys never seen before (never a changed one)
  -v, --verbose          show every remote command (secrets blanked out)
      --kubeconfig FILE  install: merge the cluster's context here (default $KUBECONFIG or ~/.kube/config)
      --timeout SECONDS  install: how long a node may take to be Ready or to come back from a reboot (300)
      --yes              reset: do not ask for confirmation

Secrets come from the environment or, at a terminal, a prompt; never from the inventory:
  BRAMBLE_SSH_PASSWORD, BRAMBLE_SUDO_PASSWORD, BRAMBLE_SSH_KEY_PASSPHRASE

Exit codes: 0 done, 1 invalid inventory / differences / refused, 2 usage error.`;

const OPTIONS = {
  inventory: { type: 'string', short: 'i' },
  cluster: { type: 'string', short: 'c', multiple: true },
  repo: { type: 'string' },
  remote: { type: 'string' },
  check: { type: 'boolean' },
  force: { type: 'boolean' },
  'known-hosts': { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  kubeconfig: { type: 'string' },
  timeout: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

interface Options {
  inventory?: string;
  cluster?: string[];
  repo?: string;
  remote?: string;
  check?: boolean;
  force?: boolean;
  'known-hosts'?: string;
  'accept-new-host-keys'?: boolean;
  verbose?: boolean;
  kubeconfig?: string;
  timeout?: string;
  yes?: boolean;
  help?: boolean;
  version?: boolean;
}

const ALLOWED: Record<string, Array<keyof Options>> = {
  validate: ['inventory'],
  render: ['inventory', 'cluster', 'repo', 'check', 'force'],
  publish: ['inventory', 'cluster', 'repo', 'remote', 'force'],
  preflight: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  install: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout'],
  reset: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'yes'],
};

function parse(argv: string[]): { command: string; opts: Options } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const opts = parsed.values as Options;
  if (opts.help) return { command: 'help', opts };
  if (opts.version) return { command: 'version', opts };
  const [command = 'help', ...rest] = parsed.positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
  if (!['help', 'version', ...Object.keys(ALLOWED)].includes(command)) throw new UsageError(`unknown command: ${command}`);
  const allowed = ALLOWED[command];
  if (allowed) {
    for (const key of Object.keys(opts) as Array<keyof Options>) {
      if (opts[key] !== undefined && !allowed.includes(key)) throw new UsageError(`${command} does not take --${key}`);
    }
    if (!opts.inventory) throw new UsageError(`${command} needs an inventory: -i FILE`);
  }
  return { command, opts };
}

/** How a file change is marked, as in `git status --short`. */
const SIGN: Record<FileChange['action'], string> = { add: 'A', change: 'M', delete: 'D' };

function summarize(plan: TreePlan): string[] {
  return plan.changes.map((c) => `  ${SIGN[c.action]} ${c.path}`);
}

function conflictLines(plan: TreePlan): string[] {
  return plan.conflicts.map((c) => `  ! ${c.path} ${c.why}`);
}

function commitMessage(inv: Inventory, clusters: string[], plan: TreePlan): string {
  const lines = [`bramble: render ${clusters.join(', ')}`, '', `Rendered from ${inv.source}.`];
  for (const name of clusters) {
    const mine = plan.changes.filter((c) => c.path.startsWith(`clusters/${name}/`));
    if (mine.length === 0) continue;
    const count = (a: FileChange['action']) => mine.filter((c) => c.action === a).length;
    lines.push('', `${name}: ${count('add')} added, ${count('change')} changed, ${count('delete')} removed`);
    for (const c of mine.slice(0, 30)) lines.push(`  ${SIGN[c.action]} ${c.path}`);
    if (mine.length > 30) lines.push(`  ... and ${mine.length - 30} more`);
  }
  return lines.join('\n');
}

async function cmdValidate(opts: Options, io: Io): Promise<number> {
  const { loadInventory } = await load.inventory();
  const inv = await loadInventory(opts.inventory!);
  const nodes = inv.clusters.reduce((n, c) => n + c.nodes.length, 0);
  io.out(`${opts.inventory}: valid (${inv.clusters.length} cluster(s), ${nodes} node(s), ${inv.vlans.length} VLAN(s))`);
  return 0;
}

async function cmdRender(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { renderInventory }, { planTree, applyTree }] = await Promise.all([load.inventory(), load.render(), load.tree()]);
  const inv = await loadInventory(opts.inventory!);
  const repo = resolvePath(opts.repo ?? '.');
  const out = await renderInventory(inv, { clusters: opts.cluster });
  const plan = await planTree(repo, out.files, out.scopes, opts.force);
  if (opts.check) {
    const differs = plan.changes.length > 0 || plan.conflicts.length > 0;
    if (!differs) {
      io.out(`up to date: ${out.scopes.join(', ')} (${plan.unchanged.length} generated files)`);
      return 0;
    }
    io.out(`out of date in ${repo}:`);
    for (const l of [...summarize(plan), ...conflictLines(plan)]) io.out(l);
    return 1;
  }
  if (plan.conflicts.length > 0) {
    io.err(`render refused; nothing was written:`);
    for (const l of conflictLines(plan)) io.err(l);
    return 1;
  }
  await applyTree(repo, plan, out.scopes);
  for (const l of summarize(plan)) io.out(l);
  io.out(`rendered ${out.scopes.join(', ')} into ${repo}: ${plan.changes.length} change(s), ${plan.unchanged.length} unchanged`);
  return 0;
}

async function cmdPreflight(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { connectCluster, closeAll }, { preflightNode, unreachable, formatReport }] = await Promise.all([load.inventory(), load.connect(), load.preflight()]);
  const inv = await loadInventory(opts.inventory!);
  const clusters = selectClusters(inv, opts.cluster);
  const sessionOpts = await nodeOptions(opts, io);
  const reports: NodeReport[] = [];
  // Clusters one after another, the nodes of each all at once.
  for (const cluster of clusters) {
    const connections = await connectCluster(cluster, sessionOpts);
    try {
      reports.push(
        ...(await Promise.all(
          connections.map((c) =>
            'error' in c
              ? unreachable(c.node, cluster, c.error.message.replace(/^[^:]+: /, ''))
              : preflightNode(c.session, c.node, cluster, inv).catch((e: Error) => unreachable(c.node, cluster, e.message.replace(/^[^:]+: /, ''))),
          ),
        )),
      );
    } finally {
      closeAll(connections);
    }
  }
  for (const l of formatReport(reports)) io.out(l);
  const failed = reports.filter((r) => r.verdict === 'fail');
  io.out(failed.length ? `preflight failed on ${failed.map((r) => r.node).join(', ')}: fix the FAIL lines before installing` : `preflight passed on ${reports.length} node(s)${reports.some((r) => r.verdict === 'warn') ? ' (with warnings)' : ''}`);
  return failed.length ? 1 : 0;
}

function nodeOptions(opts: Options, io: Io) {
  return load.connect().then(({ sessionOptions }) =>
    sessionOptions({
      knownHosts: opts['known-hosts'],
      acceptNewHostKeys: opts['accept-new-host-keys'],
      interactive: isInteractive(),
      log: opts.verbose ? (l) => io.err(l) : undefined,
    }),
  );
}

function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/** Connect a cluster's nodes; the unreachable ones become failed outcomes. */
async function linkCluster(cluster: ClusterSpec, sessionOpts: SessionOptions): Promise<{ links: NodeLink[]; unreachable: NodeOutcome[] }> {
  const { connectCluster, NodeLink } = await load.connect();
  const connections = await connectCluster(cluster, sessionOpts);
  const links: NodeLink[] = [];
  const unreachable: NodeOutcome[] = [];
  for (const c of connections) {
    if ('session' in c) links.push(new NodeLink(c.node, c.session, sessionOpts, cluster));
    else unreachable.push({ node: c.node.name, role: c.node.role, status: 'failed', changes: [], step: c.error.step, detail: c.error.message.replace(/^[^:]+: [^:]+: /, '') });
  }
  return { links, unreachable };
}

function outcomeLines(nodes: NodeOutcome[]): string[] {
  return nodes.map((n) => {
    const head = `  ${n.node.padEnd(16)} ${n.role.padEnd(6)} `;
    if (n.status === 'failed') return `${head}FAILED at ${n.step}: ${n.detail}`;
    if (n.status === 'skipped') return `${head}skipped: ${n.detail}`;
    return `${head}${n.status}${n.changes.length ? ` (${n.changes.join('; ')})` : ''}${n.detail ? `: ${n.detail}` : ''}`;
  });
}

function seconds(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout takes a number of seconds, not "${value}"`);
  return n * 1000;
}

async function cmdInstall(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { installCluster }, { defaultKubeconfig }] = await Promise.all([load.inventory(), load.install(), load.kubeconfig()]);
  const inv = await loadInventory(opts.inventory!);
  const clusters = selectClusters(inv, opts.cluster);
  const timeout = seconds(opts.timeout, 300);
  const sessionOpts = await nodeOptions(opts, io);
  let ok = true;
  for (const cluster of clusters) {
    io.out(`cluster ${cluster.name}: ${cluster.servers.length} server(s), ${cluster.agents.length} agent(s), k3s ${cluster.k3sVersion}`);
    const { links, unreachable } = await linkCluster(cluster, sessionOpts);
    try {
      const result = await installCluster(cluster, links, unreachable, {
        readyTimeoutMs: timeout,
        rebootTimeoutMs: timeout,
        agentConcurrency: 4,
        kubeconfig: opts.kubeconfig ?? defaultKubeconfig(),
        note: (l) => io.out(`  ${l}`),
      });
      for (const l of outcomeLines(result.nodes)) io.out(l);
      if (result.kubeconfig) io.out(`  kubeconfig: context "${result.kubeconfig.context}" (${result.kubeconfig.server}) in ${result.kubeconfig.file}`);
      io.out(result.ok ? `cluster ${cluster.name}: ready` : `cluster ${cluster.name}: not complete; fix the failures above and run again (finished nodes are kept)`);
      ok &&= result.ok;
    } finally {
      for (const l of links) l.session.close();
    }
  }
  return ok ? 0 : 1;
}

async function cmdReset(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { resetCluster }] = await Promise.all([load.inventory(), load.install()]);
  if (!opts.cluster || opts.cluster.length !== 1) throw new UsageError('reset needs exactly one --cluster NAME');
  const inv = await loadInventory(opts.inventory!);
  const [cluster] = selectClusters(inv, opts.cluster);
  const what = `uninstall k3s, and every workload and volume on it, from ${cluster!.active.length} node(s) of cluster ${cluster!.name}`;
  if (!opts.yes) {
    if (!isInteractive()) {
      io.err(`reset would ${what}. Run it at a terminal to confirm, or pass --yes.`);
      return 1;
    }
    const { input } = await import('@inquirer/prompts');
    const typed = await input({ message: `This will ${what}. Type the cluster name to confirm:` });
    if (typed.trim() !== cluster!.name) {
      io.err('not confirmed; nothing was changed');
      return 1;
    }
  }
  const sessionOpts = await nodeOptions(opts, io);
  const { links, unreachable } = await linkCluster(cluster!, sessionOpts);
  try {
    const results = await resetCluster(cluster!, links, (l) => io.out(`  ${l}`));
    const merged = results.map((r) => (r.status === 'skipped' ? unreachable.find((u) => u.node === r.node) ?? r : r));
    for (const l of outcomeLines(merged)) io.out(l);
    const bad = merged.filter((r) => r.status === 'failed' || r.status === 'skipped');
    io.out(bad.length ? `reset incomplete on ${bad.map((r) => r.node).join(', ')}` : `cluster ${cluster!.name}: k3s removed`);
    return bad.length ? 1 : 0;
  } finally {
    for (const l of links) l.session.close();
  }
}

async function cmdPublish(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { renderInventory }, { planTree, applyTree }, { ensureRepo, publish, redactUrl }] = await Promise.all([load.inventory(), load.render(), load.tree(), load.git()]);
  const inv = await loadInventory(opts.inventory!);
  const remote = opts.remote ?? inv.git.url;
  const repo = resolvePath(opts.repo ?? '.');
  const how = await ensureRepo(repo, remote, inv.git.branch);
  if (how !== 'existing') io.out(`${how === 'cloned' ? 'cloned' : 'created'} ${repo}`);

  const out = await renderInventory(inv, { clusters: opts.cluster });
  const plan = await planTree(repo, out.files, out.scopes, opts.force);
  if (plan.conflicts.length > 0) {
    io.err(`publish refused; nothing was written, committed or pushed:`);
    for (const l of conflictLines(plan)) io.err(l);
    return 1;
  }
  await applyTree(repo, plan, out.scopes);
  for (const l of summarize(plan)) io.out(l);

  // Stage bramble's own files only: generated ones, pruned ones, and seeds it just created.
  const added = new Set(plan.changes.map((c) => c.path));
  const paths = [...out.files.filter((f) => !f.seed || added.has(f.path)).map((f) => f.path), ...plan.changes.filter((c) => c.action === 'delete').map((c) => c.path)];
  const names = out.scopes.map((s) => s.slice('clusters/'.length));
  const result = await publish({ repo, remote, branch: inv.git.branch, paths, message: commitMessage(inv, names, plan) });

  if (result.committed) io.out(`committed ${result.committed.slice(0, 12)}: ${plan.changes.length} file change(s) in ${names.join(', ')}`);
  else io.out(`nothing changed in ${names.join(', ')}`);
  if (result.rebased > 0) io.out(`the remote had moved on; rebased onto it ${result.rebased} time(s)`);
  io.out(result.pushed ? `pushed ${result.head.slice(0, 12)} to ${redactUrl(remote)} (branch ${inv.git.branch})` : `remote ${redactUrl(remote)} (branch ${inv.git.branch}) is already at ${result.head.slice(0, 12)}`);
  io.out(`work tree: ${repo}`);
  return 0;
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    const { command, opts } = parse(argv);
    switch (command) {
      case 'help':
        io.out(USAGE);
        return 0;
      case 'version':
        io.out((JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version);
        return 0;
      case 'validate':
        return await cmdValidate(opts, io);
      case 'render':
        return await cmdRender(opts, io);
      case 'publish':
        return await cmdPublish(opts, io);
      case 'preflight':
        return await cmdPreflight(opts, io);
      case 'install':
        return await cmdInstall(opts, io);
      case 'reset':
        return await cmdReset(opts, io);
    }
    return 2;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`bramble: ${e.message}\nRun "bramble --help" for usage.`);
      return 2;
    }
    if (e instanceof Error && EXPLAINED.has(e.name)) {
      io.err(e.message);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT') {
      io.err(`bramble: cannot write: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}
