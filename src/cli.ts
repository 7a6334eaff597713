// The command line: parse, run one straight path per command, print, exit.
import { readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { getSystemErrorMessage, parseArgs, type ParseArgsConfig } from 'node:util';
import { selectClusters } from './inventory/model.ts';
import type { NodeReport } from './nodes/preflight.ts';
import { isExplained, type Io, type RunOptions } from './steps.ts';
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
  steps: () => import('./steps.ts'),
  apply: () => import('./apply.ts'),
  plan: () => import('./plan.ts'),
  wizard: () => import('./wizard.ts'),
};


export type { Io };

const defaultIo: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

class UsageError extends Error {}

const USAGE = `bramble: bare ARM boards to k3s clusters that Flux keeps in sync with Git

Usage:
  bramble init     [-i FILE]               write (or edit) an inventory with a guided set of questions
  bramble validate -i FILE                 check an inventory (structure and meaning)
  bramble render   -i FILE [options]       render clusters/<name>/ into a repository
  bramble publish  -i FILE [options]       render, commit and push to the Git remote
  bramble preflight -i FILE [options]      read-only checks of every node over SSH
  bramble install  -i FILE [options]       prepare the nodes and install k3s; merge the kubeconfig
  bramble flux     -i FILE [options]       hand the cluster to Flux: deploy key, Flux, sync; wait until reconciled
  bramble plan     -i FILE [options]       what apply would do (nodes, files, Flux objects); changes nothing
  bramble apply    -i FILE [options]       the whole path: plan, install, publish, flux, with a summary
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
  -v, --verbose          show every remote command (secrets blanked out); after an
                         unexpected file error, its stack trace
      --kubeconfig FILE  install: merge the cluster's context here (default $KUBECONFIG or ~/.kube/config)
      --timeout SECONDS  install: how long a node may take to be Ready or to come back from a reboot (300);
                         flux: how long to wait for Flux to reconcile (600)
      --rotate-deploy-key  flux: replace Flux's deploy key on the Git host and the cluster together
      --json             plan, apply: one JSON object per line on stdout (progress events, the plan, a summary)
  -y, --yes              apply, reset: do not ask before disruptive steps (reboots, restarts, deletions)

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
  json: { type: 'boolean' },
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
  json?: boolean;
  help?: boolean;
  version?: boolean;
}

const ALLOWED: Record<string, Array<keyof Options>> = {
  validate: ['inventory', 'verbose'],
  render: ['inventory', 'cluster', 'repo', 'check', 'force', 'verbose'],
  publish: ['inventory', 'cluster', 'repo', 'remote', 'force', 'verbose'],
  preflight: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  install: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout'],
  reset: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'yes'],
  flux: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'timeout', 'rotate-deploy-key'],
  status: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  plan: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'repo', 'remote', 'force', 'json'],
  apply: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout', 'repo', 'remote', 'force', 'rotate-deploy-key', 'yes', 'json'],
  init: ['inventory'],
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
    if (!opts.inventory && command !== 'init') throw new UsageError(`${command} needs an inventory: -i FILE`);
  }
  return { command, opts };
}

async function cmdValidate(opts: Options, io: Io): Promise<number> {
  const { loadInventory } = await load.inventory();
  const inv = await loadInventory(opts.inventory!);
  const nodes = inv.clusters.reduce((n, c) => n + c.nodes.length, 0);
  io.out(`${opts.inventory}: valid (${inv.clusters.length} cluster(s), ${nodes} node(s), ${inv.vlans.length} VLAN(s))`);
  return 0;
}

async function cmdRender(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { renderInventory }, { planTree, applyTree }, { changeLines: summarize, conflictLines }] = await Promise.all([load.inventory(), load.render(), load.tree(), load.steps()]);
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

function seconds(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout takes a number of seconds, not "${value}"`);
  return n * 1000;
}

function runOptions(opts: Options): RunOptions {
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

async function cmdInstall(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { linkCluster, installStep, outcomeLines }] = await Promise.all([load.inventory(), load.steps()]);
  const inv = await loadInventory(opts.inventory!);
  const sessionOpts = await nodeOptions(opts, io);
  const o = runOptions(opts);
  let ok = true;
  for (const cluster of selectClusters(inv, opts.cluster)) {
    io.out(`cluster ${cluster.name}: ${cluster.servers.length} server(s), ${cluster.agents.length} agent(s), k3s ${cluster.k3sVersion}`);
    const linked = await linkCluster(cluster, sessionOpts);
    try {
      const result = await installStep(cluster, linked, o, { out: (l) => io.out(`  ${l}`), err: (l) => io.err(`  ${l}`) });
      for (const l of outcomeLines(result.nodes)) io.out(l);
      if (result.kubeconfig) io.out(`  kubeconfig: context "${result.kubeconfig.context}" (${result.kubeconfig.server}) in ${result.kubeconfig.file}`);
      io.out(result.ok ? `cluster ${cluster.name}: ready` : `cluster ${cluster.name}: not complete; fix the failures above and run again (finished nodes are kept)`);
      ok &&= result.ok;
    } finally {
      for (const l of linked.links) l.session.close();
    }
  }
  return ok ? 0 : 1;
}

async function cmdReset(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { resetCluster }, { linkCluster, outcomeLines }] = await Promise.all([load.inventory(), load.install(), load.steps()]);
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
  const [{ loadInventory }, { publishStep }] = await Promise.all([load.inventory(), load.steps()]);
  const inv = await loadInventory(opts.inventory!);
  const sessionOpts = opts.remote ? undefined : await nodeOptions(opts, io);
  await publishStep(inv, runOptions(opts), io, sessionOpts);
  return 0;
}

async function cmdFlux(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { connectServer }, { fluxStep, reconciledRevision, PhaseError }] = await Promise.all([load.inventory(), load.connect(), load.steps()]);
  const inv = await loadInventory(opts.inventory!);
  const sessionOpts = await nodeOptions(opts, io);
  const o = runOptions(opts);
  let code = 0;
  for (const cluster of selectClusters(inv, opts.cluster)) {
    io.out(`cluster ${cluster.name}:`);
    const first = await connectServer(cluster, sessionOpts);
    try {
      const w = await fluxStep(inv, cluster, first.session, o, { out: (l) => io.out(`  ${l}`), err: (l) => io.err(`  ${l}`) }, sessionOpts);
      io.out(`cluster ${cluster.name}: reconciled (${reconciledRevision(w)})`);
    } catch (e) {
      if (!(e instanceof PhaseError)) throw e;
      for (const l of [e.message, ...e.lines]) io.err(l);
      code = Math.max(code, e.code);
    } finally {
      first.session.close();
    }
  }
  return code;
}

/** Everything apply would do, from the same checks it makes; changes nothing. */
async function cmdPlan(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { connectAndPlan, closeLinked }, { planLines, disruptiveSteps }] = await Promise.all([load.inventory(), load.apply(), load.plan()]);
  const inv = await loadInventory(opts.inventory!);
  const clusters = selectClusters(inv, opts.cluster);
  const { plan, linked } = await connectAndPlan(inv, clusters, runOptions(opts), await nodeOptions(opts, io));
  closeLinked(linked);
  if (opts.json) {
    io.out(JSON.stringify({ plan, disruptive: disruptiveSteps(plan) }));
    return 0;
  }
  for (const l of planLines(plan, new Map(clusters.map((c) => [c.name, c.k3sVersion])))) io.out(l);
  const d = disruptiveSteps(plan);
  io.out(d.length ? `apply would ask before ${d.length} disruptive step(s) (or pass --yes)` : 'nothing disruptive: apply would not ask');
  return 0;
}

/** install, then publish, then flux, under a progress display; asks before anything disruptive. */
async function cmdApply(opts: Options, io: Io): Promise<number> {
  const [{ loadInventory }, { apply }] = await Promise.all([load.inventory(), load.apply()]);
  const inv = await loadInventory(opts.inventory!);
  const clusters = selectClusters(inv, opts.cluster);
  const sessionOpts = await nodeOptions(opts, io);
  // Files bramble writes are replaced atomically, so an interrupted run leaves each whole; say so.
  process.once('SIGINT', () => {
    io.err('\ninterrupted: every file written so far is complete (atomic writes); run apply again to resume where this run stopped');
    process.exit(130);
  });
  return apply(inv, clusters, { ...runOptions(opts), nodeTimeoutMs: 300_000, yes: opts.yes, json: opts.json, tty: isInteractive(), tree: Boolean(process.stdout.isTTY && process.stdout.columns > 0), ask: async (message) => (await import('@inquirer/prompts')).confirm({ message, default: false }) }, sessionOpts, io);
}

async function cmdInit(opts: Options, io: Io): Promise<number> {
  const { runWizard } = await load.wizard();
  const file = opts.inventory ?? 'inventory.yaml';
  return runWizard(resolvePath(file), { interactive: isInteractive(), io, next: (command) => COMMANDS[command]!({ inventory: file }, io) });
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

function isSystemError(e: unknown): e is NodeJS.ErrnoException & { errno: number } {
  const x = e as NodeJS.ErrnoException;
  return e instanceof Error && typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code) && typeof x.errno === 'number';
}

const ACTIONS: Record<string, string> = { open: 'open', read: 'read', write: 'write', mkdir: 'create the folder', rename: 'rename', unlink: 'remove', rmdir: 'remove the folder', rm: 'remove', scandir: 'list', stat: 'read', lstat: 'read', access: 'read', copyfile: 'copy to', chmod: 'change the mode of' };

/** "cannot write PATH: no space left on device (ENOSPC)": what was tried, where, and why. */
function systemErrorLine(e: NodeJS.ErrnoException & { errno: number }): string {
  const full = e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.code === 'EROFS';
  const action = full ? 'write' : ACTIONS[e.syscall ?? ''] ?? e.syscall ?? 'use';
  return `cannot ${action}${e.path ? ` ${e.path}` : ''}: ${getSystemErrorMessage(e.errno)} (${e.code})`;
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
  plan: cmdPlan,
  apply: cmdApply,
  init: cmdInit,
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
    if (e instanceof Error && e.name === 'PhaseError') {
      const p = e as Error & { code: number; lines: string[] };
      for (const l of [p.message, ...p.lines]) io.err(l);
      return p.code;
    }
    if (isExplained(e)) {
      io.err(e.message);
      return 1;
    }
    if (isSystemError(e)) {
      // A file bramble could not read or write: one line; the stack is for -v.
      io.err(`bramble: ${systemErrorLine(e)}`);
      if (argv.includes('-v') || argv.includes('--verbose')) io.err(e.stack ?? '');
      return 1;
    }
    throw e;
  }
}
