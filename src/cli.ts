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
  githost: () => import('./githost.ts'),
  handover: () => import('./flux/handover.ts'),
  watch: () => import('./flux/watch.ts'),
  fluxInstall: () => import('./flux/install.ts'),
};

/** Errors that carry a message meant for the owner: printed as they are, exit 1. */
const EXPLAINED = new Set(['InventoryError', 'SelectionError', 'RenderError', 'GitError', 'SshError', 'KubeconfigError', 'GitHostError']);

/** Exit codes beyond 0 (done), 1 (refused or failed) and 2 (usage). */
const EXIT = { reconcileFailed: 3, reconcileTimeout: 4 } as const;

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
  bramble flux     -i FILE [options]       hand the cluster to Flux: deploy key, Flux, sync; wait until reconciled
  bramble apply    -i FILE [options]       the whole path: install, publish, flux
  bramble status   -i FILE [-c NAME]       nodes, Flux objects and the platform's URLs
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
      --timeout SECONDS  install: how long a node may take to be Ready or to come back from a reboot (300);
                         flux: how long to wait for Flux to reconcile (600)
      --rotate-deploy-key  flux: replace Flux's deploy key on the Git host and the cluster together
      --yes              reset: do not ask for confirmation

Secrets come from the environment or, at a terminal, a prompt; never from the inventory:
  BRAMBLE_SSH_PASSWORD, BRAMBLE_SUDO_PASSWORD, BRAMBLE_SSH_KEY_PASSPHRASE
  GITHUB_TOKEN (or the gh CLI's login) for a repository on GitHub

Exit codes: 0 done, 1 invalid inventory / differences / refused / failed, 2 usage error,
  3 Flux reported a failure, 4 Flux did not finish reconciling in time.`;

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
  'rotate-deploy-key': { type: 'boolean' },
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
  'rotate-deploy-key'?: boolean;
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
  flux: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'timeout', 'rotate-deploy-key'],
  status: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  apply: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout', 'repo', 'remote', 'force', 'rotate-deploy-key'],
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
  const { loadInventory } = await load.inventory();
  const inv = await loadInventory(opts.inventory!);
  return (await installClusters(selectClusters(inv, opts.cluster), opts, io, await nodeOptions(opts, io))) ? 0 : 1;
}

async function installClusters(clusters: ClusterSpec[], opts: Options, io: Io, sessionOpts: SessionOptions): Promise<boolean> {
  const [{ installCluster }, { defaultKubeconfig }] = await Promise.all([load.install(), load.kubeconfig()]);
  const timeout = seconds(opts.timeout, 300);
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
  return ok;
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
  const { loadInventory } = await load.inventory();
  const inv = await loadInventory(opts.inventory!);
  const sessionOpts = opts.remote ? undefined : await nodeOptions(opts, io);
  return (await publishClusters(inv, opts, io, sessionOpts)).code;
}

/** Render, commit and push; `head` is the commit the remote's branch now holds. */
async function publishClusters(inv: Inventory, opts: Options, io: Io, sessionOpts: SessionOptions | undefined): Promise<{ code: number; head?: string }> {
  const [{ renderInventory }, { planTree, applyTree }, { ensureRepo, publish, redactUrl }] = await Promise.all([load.render(), load.tree(), load.git()]);
  const remote = opts.remote ?? inv.git.url;
  if (!opts.remote && sessionOpts && inv.git.provider === 'github') {
    // Pushing to the inventory's own repository: on GitHub, create it first when it does not exist.
    const { gitHostFor } = await load.githost();
    io.out(await gitHostFor(inv.git, { policy: sessionOpts.policy, log: opts.verbose ? (l) => io.err(l) : undefined }).ensureRepository());
  }
  const repo = resolvePath(opts.repo ?? '.');
  const how = await ensureRepo(repo, remote, inv.git.branch);
  if (how !== 'existing') io.out(`${how === 'cloned' ? 'cloned' : 'created'} ${repo}`);

  const out = await renderInventory(inv, { clusters: opts.cluster });
  const plan = await planTree(repo, out.files, out.scopes, opts.force);
  if (plan.conflicts.length > 0) {
    io.err(`publish refused; nothing was written, committed or pushed:`);
    for (const l of conflictLines(plan)) io.err(l);
    return { code: 1 };
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
  return { code: 0, head: result.head };
}

/** What Flux needs from the render of one cluster: its sync objects and the objects to wait for. */
async function renderedFor(inv: Inventory, cluster: ClusterSpec) {
  const [{ renderInventory }, { expectedObjects }] = await Promise.all([load.render(), load.watch()]);
  const out = await renderInventory(inv, { clusters: [cluster.name] });
  const objects = out.docs.map((d) => d.object as unknown);
  return { sync: out.docs.filter((d) => d.file.endsWith('/flux-system/gotk-sync.yaml')).map((d) => d.object as unknown), expected: expectedObjects(objects) };
}

async function fluxClusters(inv: Inventory, clusters: ClusterSpec[], opts: Options, io: Io, sessionOpts: SessionOptions, commit?: string): Promise<number> {
  const [{ gitHostFor }, { handOver }, { connectServer }, { redactUrl }] = await Promise.all([load.githost(), load.handover(), load.connect(), load.git()]);
  const timeoutMs = seconds(opts.timeout, 600);
  const host = gitHostFor(inv.git, { policy: sessionOpts.policy, log: opts.verbose ? (l) => io.err(l) : undefined });
  let code = 0;
  for (const cluster of clusters) {
    io.out(`cluster ${cluster.name}: handing over to Flux (${redactUrl(inv.git.url)}, branch ${inv.git.branch}, path clusters/${cluster.name})`);
    const rendered = await renderedFor(inv, cluster);
    const first = await connectServer(cluster, sessionOpts);
    try {
      const confirm = isInteractive() ? async (message: string) => (await import('@inquirer/prompts')).confirm({ message, default: true }) : undefined;
      const r = await handOver(cluster, first.session, host, rendered, {
        rotate: Boolean(opts['rotate-deploy-key']),
        confirm,
        timeoutMs,
        failAfterMs: Math.min(timeoutMs / 2, 120_000),
        pollMs: 1000,
        commit,
        note: (l) => io.out(`  ${l}`),
      });
      if (r.watch.outcome === 'reconciled') {
        io.out(`cluster ${cluster.name}: reconciled (${r.watch.objects.find((o) => o.kind === 'GitRepository' && o.name === 'flux-system')?.revision ?? 'revision unknown'})`);
        continue;
      }
      const failedNow = r.watch.outcome === 'failed';
      io.err(failedNow ? `cluster ${cluster.name}: Flux reports a failure:` : `cluster ${cluster.name}: not reconciled after ${Math.round(timeoutMs / 1000)} s; still waiting on:`);
      for (const p of r.watch.problems) io.err(`  ${p}`);
      code = Math.max(code, failedNow ? EXIT.reconcileFailed : EXIT.reconcileTimeout);
    } finally {
      first.session.close();
    }
  }
  return code;
}

async function cmdFlux(opts: Options, io: Io): Promise<number> {
  const { loadInventory } = await load.inventory();
  const inv = await loadInventory(opts.inventory!);
  return fluxClusters(inv, selectClusters(inv, opts.cluster), opts, io, await nodeOptions(opts, io));
}

/** install, then publish, then flux: each step only when the one before it succeeded. */
async function cmdApply(opts: Options, io: Io): Promise<number> {
  const { loadInventory } = await load.inventory();
  const inv = await loadInventory(opts.inventory!);
  const clusters = selectClusters(inv, opts.cluster);
  const sessionOpts = await nodeOptions(opts, io);
  io.out(`== k3s on ${clusters.map((c) => c.name).join(', ')}`);
  if (!(await installClusters(clusters, { ...opts, timeout: undefined }, io, sessionOpts))) return 1;
  io.out('== the GitOps repository');
  const published = await publishClusters(inv, opts, io, sessionOpts);
  if (published.code !== 0) return published.code;
  io.out('== Flux');
  return fluxClusters(inv, clusters, opts, io, sessionOpts, published.head);
}

async function cmdStatus(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { connectServer }, { readFluxObjects, refText }, { installedFlux }] = await Promise.all([load.inventory(), load.connect(), load.watch(), load.fluxInstall()]);
  const inv = await loadInventory(opts.inventory!);
  const sessionOpts = await nodeOptions(opts, io);
  let healthy = true;
  for (const cluster of selectClusters(inv, opts.cluster)) {
    let first;
    try {
      first = await connectServer(cluster, sessionOpts);
    } catch (e) {
      io.out(`cluster ${cluster.name}: unreachable: ${(e as Error).message}`);
      healthy = false;
      continue;
    }
    try {
      const s = first.session;
      const flux = await installedFlux(s);
      io.out(`cluster ${cluster.name} (via ${first.node.name}; Flux ${flux ? flux.version : 'not installed'})`);
      io.out('  nodes:');
      const nodes = await s.exec('k3s kubectl get nodes -o json', { sudo: true, check: false, step: 'read nodes' });
      if (nodes.code !== 0) {
        io.out(`    the API does not answer: ${nodes.stderr.trim().split('\n').pop()}`);
        healthy = false;
      } else {
        type N = { metadata: { name: string; labels?: Record<string, string> }; status?: { conditions?: Array<{ type: string; status: string }>; nodeInfo?: { kubeletVersion?: string } } };
        const items = (JSON.parse(nodes.stdout) as { items: N[] }).items;
        for (const spec of cluster.nodes) {
          const n = items.find((i) => i.metadata.name === spec.name);
          const ready = n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
          const role = n?.metadata.labels?.['node-role.kubernetes.io/control-plane'] === 'true' ? 'server' : 'agent';
          const state = spec.planned && !n ? 'planned' : !n ? 'MISSING' : ready ? 'Ready' : 'NotReady';
          if (state === 'MISSING' || state === 'NotReady') healthy = false;
          io.out(`    ${spec.name.padEnd(16)} ${(n ? role : spec.role).padEnd(6)} ${state.padEnd(8)} ${n?.status?.nodeInfo?.kubeletVersion ?? ''}`.trimEnd());
        }
      }
      io.out('  flux:');
      if (!flux) {
        io.out('    not installed (bramble flux hands the cluster over)');
        healthy = false;
      } else {
        const objects = await readFluxObjects(s).catch(() => undefined);
        if (!objects) {
          io.out("    Flux's resource types are not served yet");
          healthy = false;
        }
        for (const o of objects ?? []) {
          if (o.ready !== 'True') healthy = false;
          const state = o.ready === 'True' ? 'Ready' : o.stalled ? 'Failed' : o.ready === 'False' ? 'NotReady' : 'Progressing';
          io.out(`    ${refText(o).padEnd(48)} ${state.padEnd(11)} ${o.revision ?? '-'}${o.ready === 'True' ? '' : `  ${[o.reason, o.message].filter(Boolean).join(': ')}`}`);
        }
      }
      const p = cluster.platform;
      io.out('  urls:');
      io.out(`    Traefik dashboard  https://${p.traefik.dashboardHost}/dashboard/`);
      io.out(`    Grafana            https://${p.monitoring.grafanaHost}/`);
    } finally {
      first.session.close();
    }
  }
  return healthy ? 0 : 1;
}

/** One straight path per command. */
const COMMANDS: Record<string, (opts: Options, io: Io) => Promise<number>> = {
  validate: cmdValidate,
  render: cmdRender,
  publish: cmdPublish,
  preflight: cmdPreflight,
  install: cmdInstall,
  reset: cmdReset,
  flux: cmdFlux,
  status: cmdStatus,
  apply: cmdApply,
};

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
    }
    return await COMMANDS[command]!(opts, io);
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
