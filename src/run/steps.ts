// The phases a run goes through, each usable alone (install, publish, flux)
// or one after another (apply): k3s on a cluster's nodes, the rendered
// repository committed and pushed, the cluster handed to Flux. Each reports
// through an Io, so a command prints lines and apply feeds its progress tree.
import { BrambleError } from '../base/errors.ts';
import { resolve as resolvePath } from 'node:path';
import type { ClusterSpec, Inventory, NodeSpec } from '../inventory/model.ts';
import type { ClusterOutcome, NodeOutcome } from '../k3s/outcome.ts';
import type { Connection, NodeLink } from '../nodes/connect.ts';
import type { RenderOutput } from '../render/render.ts';
import type { TreePlan, FileChange } from '../render/tree.ts';
import type { Session, SessionOptions } from '../ssh/session.ts';
import type { WatchResult } from '../flux/watch.ts';
import type { EarlierRead } from '../flux/handover.ts';
import type { Publishable } from '../git/repo.ts';
import { verboseLog, type Io } from '../base/io.ts';
import { ahead } from '../base/wait.ts';
import { parseAllDocuments } from 'yaml';

export type { Io };

/** What the phases take from the command line. */
export interface RunOptions {
  cluster?: string[];
  /** The Git work tree (default: the current folder). */
  repo?: string;
  /** Push here instead of the inventory's git.url. */
  remote?: string;
  force?: boolean;
  verbose?: boolean;
  kubeconfig?: string;
  /** How long a node may take to be Ready or to come back from a reboot. */
  nodeTimeoutMs: number;
  /** How long Flux may take to reconcile. */
  fluxTimeoutMs: number;
  rotateDeployKey?: boolean;
  /**
   * The inventory, when this run wrote versions taken from Git into it: kept
   * inside the work tree, it is committed with the render it led to.
   */
  inventoryWritten?: string;
  /** Ask the owner (a terminal is attached and no progress display owns it). */
  confirm?: (message: string) => Promise<boolean>;
  /**
   * The work tree's check made as this run began (the versions from Git):
   * publish takes the remote's head from it rather than asking the remote
   * again. A remote that moved since refuses the push, and publish looks again.
   */
  checked?: Publishable;
}

/** The check made as the run began (RunOptions.checked), when it was of this work tree, remote and branch. */
export function checkedFor(o: RunOptions, repo: string, remote: string, branch: string): Publishable | undefined {
  return o.checked && o.checked.repo === repo && o.checked.remote === remote && o.checked.branch === branch ? o.checked : undefined;
}

/** A phase that ended short of done: its message, the lines under it, and the exit code. */
export class PhaseError extends BrambleError {
  constructor(message: string, exitCode: number, lines: string[] = []) {
    super(message, { exitCode, lines });
  }
}

/** Errors whose message is meant for the owner: printed as they are, with their exit code. */
export function isExplained(e: unknown): e is BrambleError {
  return e instanceof BrambleError;
}

/** Exit codes beyond 0 (done), 1 (refused or failed) and 2 (usage). */
export const EXIT = { reconcileFailed: 3, reconcileTimeout: 4, planIncomplete: 5 } as const;

/** How a file change is marked, as in `git status --short`. */
export const SIGN: Record<FileChange['action'], string> = { add: 'A', change: 'M', delete: 'D' };

export function changeLines(plan: Pick<TreePlan, 'changes'>): string[] {
  return plan.changes.map((c) => `  ${SIGN[c.action]} ${c.path}`);
}

export function conflictLines(plan: Pick<TreePlan, 'conflicts'>): string[] {
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

export function outcomeLine(n: NodeOutcome): string {
  if (n.status === 'failed') return `FAILED at ${n.step}: ${n.detail}`;
  if (n.status === 'skipped') return `skipped: ${n.detail}${n.changes.length ? `; prepared (${n.changes.join('; ')})` : ''}`;
  return `${n.status}${n.changes.length ? ` (${n.changes.join('; ')})` : ''}${n.detail ? `: ${n.detail}` : ''}${n.upgrade ? `; k3s ${n.upgrade}` : ''}`;
}

export function outcomeLines(nodes: NodeOutcome[]): string[] {
  return nodes.map((n) => `  ${n.node.padEnd(16)} ${n.role.padEnd(6)} ${outcomeLine(n)}`);
}

/**
 * Connect a cluster's nodes; the unreachable ones become failed outcomes. `opened`: connections started
 * earlier from the same inventory file (apply opens them while Git is read);
 * they are used only when they are to the same nodes at the same addresses,
 * and closed otherwise.
 */
export async function linkCluster(cluster: ClusterSpec, sessionOpts: SessionOptions, opened?: Promise<Connection[]>): Promise<{ links: NodeLink[]; unreachable: NodeOutcome[] }> {
  const { connectCluster, NodeLink, targetOf } = await import('../nodes/connect.ts');
  const early = await opened;
  const key = (n: NodeSpec) => JSON.stringify(targetOf(n, cluster));
  const same = early !== undefined && early.length === cluster.active.length && early.every((c, i) => c.node.name === cluster.active[i]!.name && key(c.node) === key(cluster.active[i]!));
  if (early && !same) for (const c of early) if ('session' in c) c.session.close();
  const connections = same ? early : await connectCluster(cluster, sessionOpts);
  const links: NodeLink[] = [];
  const unreachable: NodeOutcome[] = [];
  connections.forEach((c, i) => {
    // The node as this inventory has it (an early connection was made from the file before Git's versions were taken).
    const node = cluster.active[i]!;
    if ('session' in c) links.push(new NodeLink(node, c.session, sessionOpts, cluster));
    else unreachable.push({ node: node.name, role: node.role, status: 'failed', changes: [], step: c.error.step, detail: c.error.detail });
  });
  return { links, unreachable };
}

/** k3s on one cluster's connected nodes, then its kubeconfig merged. */
export async function installStep(
  cluster: ClusterSpec,
  linked: { links: NodeLink[]; unreachable: NodeOutcome[] },
  o: RunOptions,
  io: Io,
  onNode?: (node: string, event: 'start' | NodeOutcome) => void,
  /** Where a line about one node goes instead of `io` (apply shows it under that node's task). */
  onLine?: (node: string, line: string) => void,
): Promise<ClusterOutcome> {
  const [{ installCluster }, { defaultKubeconfig }] = await Promise.all([import('../k3s/install.ts'), import('../k3s/kubeconfig.ts')]);
  return installCluster(cluster, linked.links, linked.unreachable, {
    readyTimeoutMs: o.nodeTimeoutMs,
    rebootTimeoutMs: o.nodeTimeoutMs,
    // Agents join together (each downloads k3s itself); the cap keeps a large site's uplink sane.
    agentConcurrency: 16,
    kubeconfig: o.kubeconfig ?? defaultKubeconfig(),
    note: (node, what) => (onLine ? onLine(node, `${node}: ${what}`) : io.out(`${node}: ${what}`)),
    onNode,
  });
}

/** The Git work tree to render into and the remote to push to (--remote, else the inventory's). */
export function repoOf(inv: Inventory, o: RunOptions): { repo: string; remote: string } {
  return { repo: resolvePath(o.repo ?? '.'), remote: o.remote ?? inv.git.url };
}

/**
 * Publishing Plans with another k3s version is the upgrade itself. apply and
 * install check the change against the running cluster before they get here;
 * `publish` alone checks it here, before anything is written.
 */
async function upgradeProblems(inv: Inventory, repo: string, plan: TreePlan, sessionOpts: SessionOptions): Promise<string[]> {
  const [{ readFile }, { join }, { connectServer }, { readApiNodes }, { checkUpgrade }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('../nodes/connect.ts'),
    import('../k3s/cluster.ts'),
    import('../k3s/upgrade.ts'),
  ]);
  const versionIn = (text: string) =>
    parseAllDocuments(text)
      .flatMap((d) => (Array.isArray(d) ? [] : [d.toJS() as { kind?: string; spec?: { version?: string } } | null]))
      .find((o) => o?.kind === 'Plan')?.spec?.version;
  const problems: string[] = [];
  for (const cluster of inv.clusters) {
    const path = `clusters/${cluster.name}/upgrades/plans.yaml`;
    if (!plan.changes.some((c) => c.path === path && c.action === 'change')) continue;
    const before = versionIn(await readFile(join(repo, path), 'utf8').catch(() => ''));
    if (!before || before === cluster.k3sVersion) continue;
    const change = `k3s ${before} -> ${cluster.k3sVersion} in the upgrade Plans`;
    let first;
    try {
      first = await connectServer(cluster, sessionOpts);
    } catch (e) {
      problems.push(`${cluster.name}: ${change}, but no server answers to check it against: ${(e as Error).message}`);
      continue;
    }
    try {
      const read = await readApiNodes(first.session, 'check the k3s version');
      if ('error' in read) problems.push(`${cluster.name}: ${change}, but the cluster's API does not answer to check it: ${read.error}`);
      else {
        const checked = checkUpgrade(cluster, read.nodes);
        if (checked.problem) problems.push(`${cluster.name}: k3s upgrade: ${checked.problem}`);
      }
    } finally {
      first.session.close();
    }
  }
  return problems;
}

/** Render, commit and push; `head` is the commit the remote's branch now holds. */
export async function publishStep(
  inv: Inventory,
  o: RunOptions,
  io: Io,
  sessionOpts: SessionOptions | undefined,
  rendered?: RenderOutput,
  /** Check a k3s version change against the clusters first (publish alone; apply has checked already). */
  upgradeCheck?: SessionOptions,
): Promise<{ head: string; committed?: string; changes: number }> {
  const [{ renderInventory }, { planTree, applyTree }, { bramblePaths, checkPublishable, ensureRepo, publish, redactUrl }] = await Promise.all([import('../render/render.ts'), import('../render/tree.ts'), import('../git/repo.ts')]);
  const { repo, remote } = repoOf(inv, o);
  if (!o.remote && sessionOpts && inv.git.provider === 'github') {
    // Pushing to the inventory's own repository: on GitHub, create it first when it does not exist.
    const { gitHostFor } = await import('../git/host.ts');
    io.out(await gitHostFor(inv.git, { policy: sessionOpts.policy, log: o.verbose ? verboseLog(io) : undefined }).ensureRepository());
  }
  const earlier = checkedFor(o, repo, remote, inv.git.branch);
  const how = earlier ? 'existing' : await ensureRepo(repo, remote, inv.git.branch);
  if (how !== 'existing') io.out(`${how === 'cloned' ? 'cloned' : 'created'} ${repo}`);
  // The remote's branch is read while the work tree is compared: the read is a
  // round trip to the Git host, the comparison is local, and neither writes.
  const checking = earlier ? Promise.resolve(earlier) : ahead(checkPublishable(repo, remote, inv.git.branch, bramblePaths(inv.source)));

  // apply passes the render its plan made: one render per run.
  const out = rendered ?? (await renderInventory(inv, { clusters: o.cluster }));
  const { checkSecrets } = await import('../secrets/check.ts');
  const selected = inv.clusters.filter((c) => out.scopes.includes(`clusters/${c.name}`));
  const [plan, secretProblems] = await Promise.all([planTree(repo, out.files, out.scopes, o.force), checkSecrets(repo, selected)]);
  const checked = await checking;
  if (plan.conflicts.length > 0) throw new PhaseError('publish refused; nothing was written, committed or pushed:', 1, conflictLines(plan));
  const refused = [...secretProblems, ...(upgradeCheck ? await upgradeProblems(inv, repo, plan, upgradeCheck) : [])];
  if (refused.length > 0) throw new PhaseError('publish refused; nothing was written, committed or pushed:', 1, refused.map((l) => `  ${l}`));
  await applyTree(repo, plan, out.scopes);
  for (const l of changeLines(plan)) io.out(l);
  const { ensurePlatformSecrets } = await import('../secrets/store.ts');
  const { followS3Settings } = await import('../backup/credentials.ts');
  for (const c of selected) {
    for (const f of await ensurePlatformSecrets(repo, c, inv.site.name)) io.out(`  + ${f.file} (generated: ${f.what})`);
    for (const r of await followS3Settings(repo, c)) io.out(`  ~ ${r.file} (the S3 target's settings, from the inventory)`);
  }

  // Stage bramble's own files only: generated ones, pruned ones, and seeds it just created.
  const added = new Set(plan.changes.map((c) => c.path));
  const paths = [...out.files.filter((f) => !f.seed || added.has(f.path)).map((f) => f.path), ...plan.changes.filter((c) => c.action === 'delete').map((c) => c.path)];
  // The secrets `bramble secret set` wrote are bramble's too: checked above, committed with the render.
  const { secretFiles } = await import('../secrets/store.ts');
  for (const c of selected) paths.push(...(await secretFiles(repo, c)));
  if (o.inventoryWritten) {
    const { relative, isAbsolute } = await import('node:path');
    const rel = relative(repo, resolvePath(o.inventoryWritten));
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) paths.push(rel);
  }
  const names = out.scopes.map((s) => s.slice('clusters/'.length));
  const result = await publish({ checked, paths, message: commitMessage(inv, names, plan) });

  if (result.committed) io.out(`committed ${result.committed.slice(0, 12)}: ${plan.changes.length} file change(s) in ${names.join(', ')}`);
  else io.out(`nothing changed in ${names.join(', ')}`);
  if (result.rebased > 0) io.out(`the remote had moved on; rebased onto it ${result.rebased} time(s)`);
  io.out(result.pushed ? `pushed ${result.head.slice(0, 12)} to ${redactUrl(remote)} (branch ${inv.git.branch})` : `remote ${redactUrl(remote)} (branch ${inv.git.branch}) is already at ${result.head.slice(0, 12)}`);
  io.out(`work tree: ${repo}`);
  return { head: result.head, committed: result.committed, changes: plan.changes.length };
}

/** What Flux needs from the render of one cluster: its sync objects and the objects to wait for. */
export async function renderedFor(inv: Inventory, cluster: ClusterSpec, rendered?: RenderOutput) {
  const [{ renderInventory }, { expectedObjects }] = await Promise.all([import('../render/render.ts'), import('../flux/watch.ts')]);
  const out = rendered ?? (await renderInventory(inv, { clusters: [cluster.name] }));
  const docs = out.docs.filter((d) => d.file.startsWith(`clusters/${cluster.name}/`));
  const objects = docs.map((d) => d.object as unknown);
  return { sync: docs.filter((d) => d.file.endsWith('/flux-system/gotk-sync.yaml')).map((d) => d.object as unknown), expected: expectedObjects(objects) };
}

/** The age identity of a cluster that keeps secrets, from the owner's keys; refused before anything reaches the cluster when it is not there. */
async function clusterIdentity(cluster: ClusterSpec): Promise<string> {
  const { identityFor, ageKeysFile } = await import('../secrets/keys.ts');
  const id = await identityFor(cluster.sops!.recipient);
  if (!id) {
    throw new PhaseError(
      `cluster ${cluster.name} keeps its secrets for age recipient ${cluster.sops!.recipient}, but neither ${ageKeysFile()} nor SOPS_AGE_KEY holds its key, so Flux could not decrypt them; put the key there (docs/secrets.md) and run again`,
      1,
    );
  }
  return id;
}

/**
 * Hand one cluster to Flux through a session on one of its servers and wait
 * for reconciliation. Throws PhaseError (exit 3 or 4) when Flux fails or is late.
 */
export async function fluxStep(
  inv: Inventory,
  cluster: ClusterSpec,
  first: Session,
  o: RunOptions,
  io: Io,
  sessionOpts: SessionOptions,
  commit?: string,
  rendered?: RenderOutput,
  /** apply's plan's read of Flux, when nothing on the cluster changed since. */
  earlier?: EarlierRead,
): Promise<WatchResult> {
  const [{ gitHostFor }, { handOver }, { redactUrl }] = await Promise.all([import('../git/host.ts'), import('../flux/handover.ts'), import('../git/repo.ts')]);
  const host = gitHostFor(inv.git, { policy: sessionOpts.policy, log: o.verbose ? verboseLog(io) : undefined });
  io.out(`handing over to Flux (${redactUrl(inv.git.url)}, branch ${inv.git.branch}, path clusters/${cluster.name})`);
  const ageIdentity = cluster.sops ? await clusterIdentity(cluster) : undefined;
  const r = await handOver(cluster, first, host, await renderedFor(inv, cluster, rendered), {
    ageIdentity,
    rotate: Boolean(o.rotateDeployKey),
    confirm: o.confirm,
    timeoutMs: o.fluxTimeoutMs,
    failAfterMs: Math.min(o.fluxTimeoutMs / 2, 120_000),
    pollMs: 1000,
    commit,
    earlier,
    note: (l) => io.out(l),
  });
  if (r.watch.outcome === 'reconciled') return r.watch;
  const failedNow = r.watch.outcome === 'failed';
  throw new PhaseError(
    failedNow ? `cluster ${cluster.name}: Flux reports a failure:` : `cluster ${cluster.name}: not reconciled after ${Math.round(o.fluxTimeoutMs / 1000)} s; still waiting on:`,
    failedNow ? EXIT.reconcileFailed : EXIT.reconcileTimeout,
    r.watch.problems.map((p) => `  ${p}`),
  );
}

/** The source's revision once reconciled, for the summary. */
export function reconciledRevision(watch: WatchResult): string {
  return watch.objects.find((x) => x.kind === 'GitRepository' && x.name === 'flux-system')?.revision ?? 'revision unknown';
}

/** The URLs an owner opens once a cluster is up. */
export function platformUrls(cluster: ClusterSpec): Array<[string, string]> {
  const p = cluster.platform;
  return [
    ['Traefik dashboard', `https://${p.traefik.dashboardHost}/dashboard/`],
    ['Grafana', `https://${p.monitoring.grafanaHost}/`],
  ];
}
