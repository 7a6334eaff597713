// The versions a cluster runs, as the inventory says and as the repository
// says. Renovate (or a person) may change a version in a file bramble
// generated; when that is the file's only change, render takes the version
// into the inventory instead of calling the file edited by hand, so the
// inventory stays the one place every version is read from.
import { parseAllDocuments } from 'yaml';
import { setKeepingText } from '../inventory/edit.ts';
import { join } from 'node:path';
import type { ClusterSpec, Inventory } from '../inventory/model.ts';
import { fluxChangeProblem } from '../site/flux-releases.ts';
import { BrambleError } from '../base/errors.ts';
import { bodyOf, editedFiles, ownership, planTree } from './tree.ts';
import { readIfExists, writeAtomic } from '../base/files.ts';
import { renderInventory } from './render.ts';
import { selectClusters } from '../inventory/model.ts';
import { InventoryError } from '../inventory/problems.ts';

export const COMPONENTS = {
  k3s: { label: 'k3s', path: ['k3s', 'version'] },
  flux: { label: 'Flux', path: ['platform', 'flux', 'version'] },
  longhorn: { label: 'Longhorn', chart: 'longhorn', path: ['platform', 'longhorn', 'version'] },
  traefik: { label: 'Traefik', chart: 'traefik', path: ['platform', 'traefik', 'version'] },
  monitoring: { label: 'kube-prometheus-stack', chart: 'kube-prometheus-stack', path: ['platform', 'monitoring', 'version'] },
  nfs: { label: 'csi-driver-nfs', chart: 'csi-driver-nfs', path: ['platform', 'nfs', 'version'] },
} as const;

export type Component = keyof typeof COMPONENTS;
export type Versions = Partial<Record<Component, string>>;
export const COMPONENT_ORDER = Object.keys(COMPONENTS) as Component[];

/** What the inventory says the cluster runs (csi-driver-nfs only where it is installed). */
export function clusterVersions(c: ClusterSpec): Versions {
  const p = c.platform;
  return {
    k3s: c.k3sVersion,
    flux: p.flux.version,
    longhorn: p.longhorn.version,
    traefik: p.traefik.version,
    monitoring: p.monitoring.version,
    ...(p.nfs ? { nfs: p.nfs.version } : {}),
  };
}

/** The cluster with other versions: the same spec otherwise. */
export function withVersions(c: ClusterSpec, v: Versions): ClusterSpec {
  const p = c.platform;
  return {
    ...c,
    k3sVersion: v.k3s ?? c.k3sVersion,
    platform: {
      ...p,
      flux: { ...p.flux, version: v.flux ?? p.flux.version },
      longhorn: { ...p.longhorn, version: v.longhorn ?? p.longhorn.version },
      traefik: { ...p.traefik, version: v.traefik ?? p.traefik.version },
      monitoring: { ...p.monitoring, version: v.monitoring ?? p.monitoring.version },
      nfs: p.nfs && { ...p.nfs, version: v.nfs ?? p.nfs.version },
    },
  };
}

const BY_CHART = new Map(COMPONENT_ORDER.flatMap((k) => ('chart' in COMPONENTS[k] ? [[(COMPONENTS[k] as { chart: string }).chart, k] as const] : [])));

/** The versions one generated file's objects carry: chart versions, Flux's manifests tag, the k3s Plans' version. */
export function versionsInText(text: string): Versions {
  const out: Versions = {};
  for (const doc of parseAllDocuments(text)) {
    if (!('toJS' in doc) || doc.errors.length > 0) continue;
    const o = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: Record<string, any> } | null;
    if (!o || typeof o !== 'object') continue;
    if (o.kind === 'HelmRelease') {
      const spec = o.spec?.chart?.spec;
      const component = BY_CHART.get(spec?.chart);
      if (component && typeof spec?.version === 'string') out[component] = spec.version;
    } else if (o.kind === 'OCIRepository' && o.metadata?.name === 'flux-manifests' && typeof o.spec?.ref?.tag === 'string') {
      out.flux = o.spec.ref.tag.replace(/^v/, '');
    } else if (o.kind === 'Plan' && typeof o.spec?.version === 'string') {
      out.k3s = o.spec.version;
    }
  }
  return out;
}

/** A version found changed in a generated file, which render takes into the inventory. */
export interface TakenVersion {
  cluster: string;
  component: Component;
  from: string;
  to: string;
  file: string;
}

/** A version change in Git that bramble will not take, with the reason. */
export class VersionRefused extends BrambleError {}

type RenderOne = (cluster: ClusterSpec) => Promise<Map<string, string>>;

/**
 * Versions changed in Git in the cluster's generated files, where the version
 * is the file's only change: rendering with the found version gives the
 * file's body exactly. `render` gives each generated file's body by path.
 */
export async function versionsChangedInGit(repo: string, cluster: ClusterSpec, render: RenderOne): Promise<TakenVersion[]> {
  const mine = clusterVersions(cluster);
  // Most runs find nothing edited: no render is needed to say so.
  const edited = await editedFiles(repo, [`clusters/${cluster.name}`]);
  if (edited.length === 0) return [];
  const found: TakenVersion[] = [];
  for (const path of edited) {
    const text = await readIfExists(join(repo, path));
    if (text === undefined) continue;
    const body = bodyOf(text);
    const inFile = versionsInText(body);
    const changed = COMPONENT_ORDER.filter((k) => inFile[k] !== undefined && mine[k] !== undefined && inFile[k] !== mine[k]);
    if (changed.length === 0) continue;
    const trial = await render(withVersions(cluster, Object.fromEntries(changed.map((k) => [k, inFile[k]]))));
    if (trial.get(path) !== body) continue;
    for (const k of changed) found.push({ cluster: cluster.name, component: k, from: mine[k]!, to: inFile[k]!, file: path });
  }
  // One component may be found in several files (the two k3s Plans): they must agree.
  const byComponent = new Map<Component, TakenVersion>();
  for (const t of found) {
    const seen = byComponent.get(t.component);
    if (seen && seen.to !== t.to) {
      throw new VersionRefused(`${t.file} carries ${COMPONENTS[t.component].label} ${t.to} but ${seen.file} carries ${seen.to}: make them agree in Git, or re-run with --force to put the inventory's ${t.from} back`);
    }
    if (!seen) byComponent.set(t.component, t);
  }
  const taken = [...byComponent.values()];
  for (const t of taken) {
    const why = t.component === 'flux' ? fluxChangeProblem(t.from, t.to) : undefined;
    if (why) throw new VersionRefused(`${t.file} moves cluster ${t.cluster} to Flux ${t.to} (changed in Git); bramble does not take it: ${why}. Put ${t.from} back in Git, or re-run with --force to render ${t.from} again`);
  }
  return taken;
}

/**
 * The inventory text with the versions set on their clusters. Only the
 * version lines change: the owner's comments and layout stay.
 */
export function inventoryWithVersions(text: string, inv: Inventory, changes: Array<{ cluster: string; component: Component; to: string }>): string {
  let out = text;
  for (const ch of changes) {
    const index = inv.clusters.findIndex((c) => c.name === ch.cluster);
    if (index < 0) throw new Error(`no cluster ${ch.cluster}`);
    out = setKeepingText(out, ['clusters', index, ...COMPONENTS[ch.component].path], ch.to);
  }
  return out;
}

export function takenLines(taken: TakenVersion[]): string[] {
  return taken.map((t) => `  ${t.cluster}: ${COMPONENTS[t.component].label} ${t.from} -> ${t.to} (changed in Git in ${t.file}; taken into the inventory)`);
}

/** The generated files' bodies for one cluster, rendered with this spec of it. */
async function bodiesOf(inv: Inventory, cluster: ClusterSpec): Promise<Map<string, string>> {
  const out = await renderInventory({ ...inv, clusters: inv.clusters.map((c) => (c.name === cluster.name ? cluster : c)) }, { clusters: [cluster.name] });
  return new Map(out.files.filter((f) => !f.seed && f.path.startsWith(`clusters/${cluster.name}/`)).map((f) => [f.path, bodyOf(f.content)]));
}

/**
 * Take the versions changed in Git (in the selected clusters' generated
 * files) into the inventory: written to `file` when `write`, and in the
 * inventory returned either way. `force` means the inventory's versions win
 * and nothing is taken.
 */
export async function takeVersionsFromGit(
  file: string,
  inv: Inventory,
  repo: string,
  names: string[] | undefined,
  o: { write: boolean; force?: boolean },
): Promise<{ inv: Inventory; taken: TakenVersion[]; written: boolean }> {
  const { existsSync } = await import('node:fs');
  if (o.force || !existsSync(repo)) return { inv, taken: [], written: false };
  const taken: TakenVersion[] = [];
  for (const c of selectClusters(inv, names)) {
    const found = await versionsChangedInGit(repo, c, (x) => bodiesOf(inv, x));
    taken.push(...found);
    // The inventory may not move a cluster's Flux where Flux cannot go from the version Git names now.
    const file = `clusters/${c.name}/flux-system/flux.yaml`;
    const text = await readIfExists(join(repo, file));
    const inGit = text !== undefined && ownership(text).kind === 'generated' ? versionsInText(bodyOf(text)).flux : undefined;
    const wanted = found.find((t) => t.component === 'flux')?.to ?? c.platform.flux.version;
    const why = inGit === undefined ? undefined : fluxChangeProblem(inGit, wanted);
    if (why) throw new VersionRefused(`${file} names Flux ${inGit} and the inventory asks cluster ${c.name} for ${wanted}: ${why}. Re-run with --force to render it anyway`);
  }
  if (taken.length === 0) return { inv, taken, written: false };
  const { readFile, stat } = await import('node:fs/promises');
  const { parseInventory } = await import('../inventory/load.ts');
  const next = inventoryWithVersions(await readFile(file, 'utf8'), inv, taken);
  let nextInv: Inventory;
  try {
    nextInv = parseInventory(next, file);
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    const lines = e.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    throw new VersionRefused(`the versions changed in Git do not fit the inventory (${taken.map((t) => `${t.cluster} ${COMPONENTS[t.component].label} ${t.to}`).join(', ')}): ${lines.join('; ')}. Put the versions back in Git, or re-run with --force to render the inventory's`);
  }
  // Written only when the render it leads to would be accepted: a run refused for another reason leaves the inventory as it was.
  let written = false;
  if (o.write) {
    const out = await renderInventory(nextInv, { clusters: names });
    if ((await planTree(repo, out.files, out.scopes)).conflicts.length === 0) {
      await writeAtomic(file, next, (await stat(file)).mode & 0o777);
      written = true;
    }
  }
  return { inv: nextInv, taken, written };
}
