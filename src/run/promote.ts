// Promotion: the versions a staging cluster runs, proven there, proposed for
// production as a reviewed change. One straight path: the work tree brought
// up to the remote, staging's versions read (with any Renovate changed in
// Git), staging checked Ready at the remote's head, the inventory and
// production's files changed on a branch in a scratch work tree, the branch
// pushed, and a pull request opened (GitHub) or the merge described (a plain
// SSH server). Nothing is committed on the owner's branch.
import { isAbsolute, relative } from 'node:path';
import { readFile } from 'node:fs/promises';
import { BrambleError } from '../base/errors.ts';
import type { ClusterSpec, Inventory } from '../inventory/model.ts';
import { compareVersions, versionTriple } from '../inventory/rules.ts';
import { compareK3s, skipsMinor } from '../k3s/upgrade.ts';
import { fluxChangeProblem } from '../site/flux-releases.ts';
import { clusterVersions, COMPONENT_ORDER, COMPONENTS, inventoryWithVersions, type Component, type TakenVersion } from '../render/versions.ts';
import type { Session } from '../ssh/session.ts';

export class PromoteError extends BrambleError {}

export interface VersionChange {
  component: Component;
  /** What the target cluster runs now. */
  from: string;
  /** What the source cluster runs, proposed for the target. */
  to: string;
}

/** Every version the source runs that the target does not (components both have). */
export function versionChanges(source: ClusterSpec, target: ClusterSpec): VersionChange[] {
  const s = clusterVersions(source);
  const t = clusterVersions(target);
  return COMPONENT_ORDER.filter((k) => s[k] !== undefined && t[k] !== undefined && s[k] !== t[k]).map((k) => ({ component: k, from: t[k]!, to: s[k]! }));
}

/** Why a change may not be proposed: a downgrade, a skipped k3s minor, a Flux move that needs a migration. */
export function changeProblems(changes: VersionChange[], source: string, target: string): string[] {
  const out: string[] = [];
  for (const c of changes) {
    const label = COMPONENTS[c.component].label;
    if (c.component === 'flux') {
      const why = fluxChangeProblem(c.from, c.to);
      if (why) out.push(`Flux: ${why}`);
    } else if (c.component === 'k3s') {
      const [fm, fn] = versionTriple(c.from);
      if (compareK3s(c.to, c.from) < 0) out.push(`k3s: ${target} runs ${c.from}, newer than ${source}'s ${c.to}; k3s is not downgraded, so promotion never moves a cluster back`);
      else if (skipsMinor(c.from, c.to)) out.push(`k3s: ${c.from} to ${c.to} skips a minor release, and Kubernetes upgrades one minor release at a time: take ${source} through v${fm}.${fn + 1} first and promote that`);
    } else if (compareVersions(c.to, c.from) < 0) {
      out.push(`${label}: ${target} runs ${c.from}, newer than ${source}'s ${c.to}; promotion never moves a cluster back (charts such as Longhorn refuse downgrades)`);
    }
  }
  return out;
}

/**
 * Whether the source cluster runs what Git holds at `head`: every active node
 * Ready on its k3s version, and every Flux object it renders Ready at that
 * commit. The problems, each in the cluster's own words; none when it does.
 */
export async function readiness(session: Session, cluster: ClusterSpec, expected: Array<{ kind: string; namespace: string; name: string }>, head: string): Promise<string[]> {
  const [{ readApiNodes }, { watchReconciliation }] = await Promise.all([import('../k3s/cluster.ts'), import('../flux/watch.ts')]);
  const out: string[] = [];
  const read = await readApiNodes(session, 'read the nodes');
  if ('error' in read) out.push(read.error);
  else {
    for (const n of cluster.active) {
      const api = read.nodes.find((x) => x.name === n.name);
      if (!api) out.push(`node ${n.name} is not in the cluster`);
      else if (!api.ready) out.push(`node ${n.name} is not Ready${api.why ? ` (${api.why})` : ''}`);
      else if (api.version !== cluster.k3sVersion) out.push(`node ${n.name} runs k3s ${api.version ?? 'unknown'}, not ${cluster.k3sVersion} yet`);
    }
  }
  // One look, no waiting: promotion is about what has already happened.
  const watch = await watchReconciliation(session, { expected, commit: head, timeoutMs: 0, failAfterMs: 0, pollMs: 0, note: () => undefined });
  if (watch.outcome !== 'reconciled') out.push(...watch.problems);
  return out;
}

export interface Proposal {
  branch: string;
  title: string;
  body: string;
}

/** The branch, commit title and pull request body for promoting at staging's commit `head`. */
export function proposal(source: string, target: string, changes: VersionChange[], head: string, link: string, files: string[], nodes: number, objects: number): Proposal {
  const list = changes.map((c) => `${COMPONENTS[c.component].label} ${c.to}`).join(', ');
  const rows = changes.map((c) => `| ${COMPONENTS[c.component].label} | ${c.from} | ${c.to} |`);
  const body = [
    `Promotes what \`${source}\` runs at ${link} to \`${target}\`.`,
    '',
    `| component | ${target} now | ${source} (proposed) |`,
    '|---|---|---|',
    ...rows,
    '',
    `\`${source}\` was Ready at that commit when this was proposed: ${nodes} node(s) Ready on the k3s version it names, ${objects} Flux object(s) Ready at the commit.`,
    '',
    'Files:',
    ...files.map((f) => `- \`${f}\``),
    '',
    `After the merge, Flux applies \`clusters/${target}\`; a k3s change is carried out by system-upgrade-controller, one server at a time (\`bramble status -c ${target}\` shows it).`,
    '',
    'Made by `bramble promote`; review it before merging.',
  ].join('\n');
  return { branch: `bramble/promote-${source}-to-${target}-${head.slice(0, 12)}`, title: `bramble: promote ${source} to ${target} (${list})`, body };
}

/** The inventory's path inside the work tree; a refusal when it lies outside. */
export function inventoryInRepo(repo: string, file: string): string {
  const rel = relative(repo, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new PromoteError(
      `the inventory ${file} is not in the work tree ${repo}. promote commits the inventory's change together with the files it renders, so both are reviewed and merged as one; keep the inventory in the repository (for example inventory/site.yaml) and commit it, or change the versions of the target cluster yourself and run publish`,
    );
  }
  return rel.split('\\').join('/');
}

/** The inventory text on the branch: the versions taken from Git, and the target's new ones. */
export async function branchInventory(file: string, inv: Inventory, taken: TakenVersion[], target: string, changes: VersionChange[]): Promise<string> {
  const text = await readFile(file, 'utf8');
  return inventoryWithVersions(text, inv, [...taken, ...changes.map((c) => ({ cluster: target, component: c.component, to: c.to }))]);
}

export function planLines(source: string, target: string, changes: VersionChange[], head: string, branch: string, files: string[]): string[] {
  const width = Math.max(...changes.map((c) => COMPONENTS[c.component].label.length));
  return [
    `promote ${source} to ${target}, at ${source}'s commit ${head.slice(0, 12)}:`,
    ...changes.map((c) => `  ${COMPONENTS[c.component].label.padEnd(width)}  ${c.from} -> ${c.to}`),
    `branch ${branch}, with:`,
    ...files.map((f) => `  ${f}`),
  ];
}

