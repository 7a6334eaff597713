// What `apply` would do, found by the very checks apply makes with every
// change held back: each node's preparation and k3s step (a dry run of the
// install path), the files the commit would add, change and delete, and the
// Flux objects the hand-over would create. Nothing here writes anywhere.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSpec, Inventory } from '../inventory/model.ts';
import { firstServer } from '../k3s/config.ts';
import { installCluster } from '../k3s/install.ts';
import type { NodeOutcome } from '../k3s/outcome.ts';
import { upgradeLine } from '../k3s/upgrade.ts';
import type { NodeLink } from '../nodes/connect.ts';
import { preflightNode, readNodeLooks } from '../nodes/preflight.ts';
import { planTree, type Conflict, type FileChange } from '../render/tree.ts';
import type { RenderOutput } from '../render/render.ts';
import { installedFlux } from '../flux/install.ts';
import { readFluxSecrets } from '../flux/secret.ts';
import type { EarlierRead } from '../flux/handover.ts';
import { readFluxObjects, refText, type ObjectRef } from '../flux/watch.ts';
import type { Session } from '../ssh/session.ts';
import { ahead } from '../base/wait.ts';
import { ensureRepoAt, redactUrl, remoteTree } from '../git/repo.ts';
import { SIGN } from './steps.ts';

export type NodeAction = 'install' | 'join' | 'restart' | 'prepare' | 'unchanged' | 'blocked' | 'unreachable';

export interface NodePlan {
  node: string;
  role: 'server' | 'agent';
  action: NodeAction;
  /** What would change on the node, in order. */
  changes: string[];
  /** The changes that interrupt the node (a reboot, a k3s restart). */
  disruptive: string[];
  /** Why the node is blocked or unreachable. */
  detail?: string;
  /** The k3s upgrade the Plans will bring it (not a change bramble makes on the node). */
  upgrade?: string;
}

export interface FluxPlan {
  /** "install 2.4.0", "upgrade 2.3.0 -> 2.4.0", "unchanged (2.4.0)", or why it is unknown. */
  flux: string;
  deployKey: 'create' | 'in place' | 'unknown';
  /** Rendered Flux objects that the cluster does not hold yet. */
  create: ObjectRef[];
  /** How many rendered Flux objects already exist. */
  existing: number;
}

export interface ClusterPlan {
  cluster: string;
  nodes: NodePlan[];
  flux: FluxPlan;
  /** Preflight findings that are not a pass: a FAIL stops apply before it changes anything. */
  preflight: Array<{ node: string; verdict: 'warn' | 'fail'; check: string; detail: string }>;
  /** Where a k3s version change stands; undefined when the cluster's API could not be read (a new cluster). */
  upgrade?: string;
}

export interface RepoPlan {
  /** What the files were compared with: the work tree, the remote branch, or nothing yet. */
  basis: string;
  changes: Array<Pick<FileChange, 'path' | 'action'>>;
  conflicts: Conflict[];
  unchanged: number;
  /** Secrets under the clusters' folders that publish would refuse (plain, for another key, broken). */
  secrets: string[];
}

export interface Plan {
  clusters: ClusterPlan[];
  repo: RepoPlan;
}

function nodePlan(o: NodeOutcome, cluster: ClusterSpec, unreachable: Set<string>): NodePlan {
  const base = { node: o.node, role: o.role, changes: o.changes, disruptive: o.disruptive ?? [], ...(o.upgrade ? { upgrade: o.upgrade } : {}) };
  if (unreachable.has(o.node)) return { ...base, action: 'unreachable', detail: o.detail };
  switch (o.status) {
    case 'installed':
      return { ...base, action: o.node === firstServer(cluster).name ? 'install' : 'join' };
    case 'restarted':
      return { ...base, action: 'restart' };
    case 'failed':
      return { ...base, action: 'blocked', detail: `${o.step}: ${o.detail}` };
    case 'skipped':
      return { ...base, action: 'blocked', detail: o.detail };
    default:
      return { ...base, action: o.changes.length > 0 ? 'prepare' : 'unchanged' };
  }
}

/**
 * What the plan read of Flux on the first server is kept for the same run's
 * hand-over (flux/handover.ts), never put in the plan that is shown: it holds
 * the deploy key.
 */
export type FluxRead = EarlierRead;

/**
 * The nodes and Flux of one cluster, through its open links: preflight first, then a dry run of the install.
 * `keep` is given what was read of Flux, when it was read.
 */
export async function planCluster(inv: Inventory, cluster: ClusterSpec, links: NodeLink[], unreachable: NodeOutcome[], expected: ObjectRef[], keep?: (read: FluxRead) => void): Promise<ClusterPlan> {
  const first = links.find((l) => l.node.name === firstServer(cluster).name);
  // Flux is read on the first server beside the nodes' reads, not after them; its answer is
  // used only when the dry run finds k3s running there (a node to install has no Flux to read).
  const fluxRead = first ? ahead(readFlux(first.session)) : undefined;
  // Preflight's facts, what of k3s each node has and prepare's look: one command per node serves both.
  const looks = new Map(links.map((l) => [l.node.name, ahead(readNodeLooks(l.session, cluster, inv))]));
  // All of these are only reads, so they are made at once.
  const [reports, dry] = await Promise.all([
    Promise.all(links.map((l) => preflightNode(l.session, l.node, cluster, inv, looks.get(l.node.name)))),
    installCluster(cluster, links, unreachable, { dryRun: true, readyTimeoutMs: 0, rebootTimeoutMs: 0, agentConcurrency: 8, note: () => undefined, looks }),
  ]);
  const preflight = reports.flatMap((r) => r.checks.filter((c) => c.verdict !== 'pass').map((c) => ({ node: r.node, verdict: c.verdict as 'warn' | 'fail', check: c.name, detail: c.detail })));
  const away = new Set(unreachable.map((u) => u.node));
  const nodes = dry.nodes.map((n) => nodePlan(n, cluster, away));
  const upgrade = dry.upgrade && (dry.upgrade.problem || dry.upgrade.behind.length > 0) ? upgradeLine(dry.upgrade) : undefined;
  const version = cluster.platform.flux.version;
  const fresh: FluxPlan = { flux: `install ${version}`, deployKey: 'create', create: expected, existing: 0 };

  const firstPlan = nodes.find((n) => n.node === firstServer(cluster).name);
  if (!fluxRead || firstPlan?.action === 'blocked') return { cluster: cluster.name, nodes, preflight, upgrade, flux: { ...fresh, flux: `unknown: the first server ${firstServer(cluster).name} cannot be read`, deployKey: 'unknown' } };
  if (firstPlan?.action === 'install') return { cluster: cluster.name, nodes, preflight, upgrade, flux: fresh };

  const read = await fluxRead;
  keep?.(read);
  const { installed } = read;
  const key = read.key?.value;
  // Before Flux's resource types exist, nothing of Flux's can exist either.
  const objects = installed ? (read.objects ?? []) : [];
  const flux = !installed
    ? `install ${version}`
    : installed.url === undefined
      ? installed.version === version
        ? `unchanged (${version}, from Git)`
        : `upgrade ${installed.version} -> ${version} through Git (flux-system/flux.yaml)`
      : installed.version !== version ? `upgrade ${installed.version} -> ${version}` : installed.url !== cluster.platform.flux.installUrl ? `reinstall ${version} from ${cluster.platform.flux.installUrl}` : `unchanged (${version})`;
  const has = (r: ObjectRef) => objects.some((x) => x.kind === r.kind && x.namespace === r.namespace && x.name === r.name);
  return { cluster: cluster.name, nodes, preflight, upgrade, flux: { flux, deployKey: key ? 'in place' : 'create', create: expected.filter((r) => !has(r)), existing: expected.filter(has).length } };
}

/** What the plan needs of Flux on the first server: its version, the deploy-key secret, and the Flux objects, read at once. */
async function readFlux(s: Session): Promise<FluxRead> {
  const [installed, key, objects] = await Promise.all([
    installedFlux(s),
    readFluxSecrets(s).then(({ current, pending }) => ({ value: current, pending }), () => undefined),
    readFluxObjects(s).catch(() => undefined),
  ]);
  return { installed, key, objects };
}

/**
 * The files a publish would commit, compared with the work tree when it
 * exists, else with the remote branch (a throwaway shallow clone), else with
 * nothing (a new repository).
 */
export async function planRepo(
  inv: Inventory,
  repo: string,
  remote: string,
  rendered: Pick<RenderOutput, 'files' | 'scopes'>,
  force = false,
  /** The work tree was checked as this run began (apply): it is not checked again. */
  checked = false,
): Promise<RepoPlan> {
  const compare = async (dir: string, basis: string): Promise<RepoPlan> => {
    const t = await planTree(dir, rendered.files, rendered.scopes, force);
    const { checkSecrets } = await import('../secrets/check.ts');
    const secrets = await checkSecrets(dir, inv.clusters.filter((c) => rendered.scopes.includes(`clusters/${c.name}`)));
    return { basis, changes: t.changes.map((c) => ({ path: c.path, action: c.action })), conflicts: t.conflicts, unchanged: t.unchanged.length, secrets };
  };
  if (existsSync(repo)) {
    if (!checked) await ensureRepoAt(repo, remote);
    return compare(repo, `the work tree ${repo}`);
  }
  const tree = await remoteTree(remote, inv.git.branch);
  if (tree) {
    try {
      return await compare(tree.dir, `${redactUrl(remote)} (branch ${inv.git.branch}, ${tree.head.slice(0, 12)})`);
    } finally {
      tree.remove();
    }
  }
  const empty = mkdtempSync(join(tmpdir(), 'bramble-plan-'));
  try {
    return await compare(empty, `nothing yet: ${redactUrl(remote)} has no branch ${inv.git.branch}`);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

const WORD: Record<NodeAction, string> = {
  install: 'install k3s (first server)',
  join: 'install k3s and join',
  restart: 'restart k3s',
  prepare: 'prepare only',
  unchanged: 'unchanged',
  blocked: 'BLOCKED',
  unreachable: 'UNREACHABLE',
};

/** Everything the owner should agree to before it happens: reboots, restarts, deletions, overwritten edits. */
export function disruptiveSteps(plan: Plan): string[] {
  const out: string[] = [];
  for (const c of plan.clusters) for (const n of c.nodes) for (const d of n.disruptive) out.push(`${c.cluster}/${n.node}: ${d}`);
  for (const f of plan.repo.changes) if (f.action === 'delete') out.push(`delete ${f.path} (Flux then removes what it defined from the cluster)`);
  for (const f of plan.repo.conflicts) out.push(`overwrite ${f.path} (${f.why})`);
  return out;
}

/**
 * What a plan could not read, one line each: a node that did not answer, a
 * cluster whose Flux it could not see. Empty when the plan is whole; a plan
 * that is not says so instead of "nothing to do".
 */
export function unreadParts(plan: Plan): string[] {
  const out: string[] = [];
  for (const c of plan.clusters) {
    for (const n of c.nodes) if (n.action === 'unreachable') out.push(`${c.cluster}/${n.node}: not read (${n.detail ?? 'unreachable'})`);
    if (c.flux.flux.startsWith('unknown')) out.push(`${c.cluster}: Flux not read (${c.flux.flux.replace(/^unknown: /, '')})`);
  }
  return out;
}

/** True when applying would change nothing at all. */
export function planIsEmpty(plan: Plan): boolean {
  return plan.repo.changes.length === 0 && plan.clusters.every((c) => c.nodes.every((n) => n.action === 'unchanged') && c.flux.create.length === 0 && c.flux.flux.startsWith('unchanged') && c.flux.deployKey === 'in place');
}

export function planLines(plan: Plan, k3s: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const c of plan.clusters) {
    lines.push(`cluster ${c.cluster} (k3s ${k3s.get(c.cluster) ?? '?'}):`);
    if (c.upgrade) lines.push(`  ${c.upgrade}`);
    lines.push('  nodes:');
    for (const n of c.nodes) {
      lines.push(`    ${n.node.padEnd(16)} ${n.role.padEnd(6)} ${WORD[n.action]}${n.detail ? `: ${n.detail}` : ''}`);
      for (const ch of n.changes) lines.push(`      - ${ch}${n.disruptive.includes(ch) ? '  (disruptive)' : ''}`);
      for (const d of n.disruptive.filter((x) => !n.changes.includes(x))) lines.push(`      - ${d}  (disruptive)`);
      if (n.upgrade) lines.push(`      - k3s ${n.upgrade}`);
      for (const f of c.preflight.filter((x) => x.node === n.node)) lines.push(`      ${f.verdict === 'fail' ? 'FAIL' : 'WARN'} ${f.check}: ${f.detail}`);
    }
    lines.push('  flux:');
    lines.push(`    Flux: ${c.flux.flux}`);
    lines.push(`    deploy key: ${c.flux.deployKey}`);
    if (c.flux.create.length === 0) lines.push(`    objects: all ${c.flux.existing} exist`);
    else {
      lines.push(`    objects to create: ${c.flux.create.length}${c.flux.existing ? ` (${c.flux.existing} exist)` : ''}`);
      for (const r of c.flux.create) lines.push(`      + ${refText(r)}`);
    }
  }
  const count = (a: FileChange['action']) => plan.repo.changes.filter((c) => c.action === a).length;
  lines.push(`repository, compared with ${plan.repo.basis}:`);
  lines.push(`  ${count('add')} to add, ${count('change')} to change, ${count('delete')} to delete, ${plan.repo.unchanged} unchanged`);
  for (const ch of plan.repo.changes) lines.push(`  ${SIGN[ch.action]} ${ch.path}`);
  for (const cf of plan.repo.conflicts) lines.push(`  ! ${cf.path} ${cf.why}`);
  for (const problem of plan.repo.secrets) lines.push(`  ! ${problem}`);
  return lines;
}
