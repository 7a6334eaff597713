// Does the platform fit the boards? The memory every rendered workload
// requests, summed per cluster, against its smallest node: k3s and the OS
// take their share first, and the owner's apps keep at least a quarter.
// Counted from the rendered files themselves, so a new component or a larger
// request is counted the day it is rendered.
import type { ClusterSpec } from '../inventory/model.ts';
import type { RenderedDoc } from './validate.ts';

const MI = 1024 * 1024;

/** Bytes of a Kubernetes memory quantity (binary and decimal suffixes). */
export function quantityBytes(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) throw new Error(`not a memory quantity: ${q}`);
  const unit = { '': 1, Ki: 1024, Mi: MI, Gi: 1024 * MI, Ti: 1024 * 1024 * MI, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? '']!;
  return Number(m[1]) * unit;
}

/**
 * What bramble installs without a memory request in its files, with the
 * figure counted for it: Flux's own manifests request 64Mi per controller;
 * Longhorn's chart and the Prometheus stack's exporters request none, so
 * these are allowances measured on the reference boards' idle clusters.
 */
export const UNREQUESTED: Array<{ what: string; mib: number; when: (c: ClusterSpec) => boolean }> = [
  { what: 'Flux controllers (4 x 64Mi, Flux\'s own requests)', mib: 256, when: () => true },
  { what: 'Longhorn manager, CSI and instance managers (allowance)', mib: 512, when: () => true },
  { what: 'prometheus-operator, kube-state-metrics, node-exporter (allowance)', mib: 192, when: () => true },
  { what: 'csi-driver-nfs (allowance)', mib: 96, when: (c) => c.platform.nfs !== undefined },
];

/** k3s and the OS on a node: a server runs the API, the controllers and its datastore. */
export const SYSTEM_MIB = { server: 2048, agent: 1024 } as const;
/** The share of a node's memory the owner's apps keep, at the least. */
export const APPS_SHARE = 0.25;

export interface Budget {
  cluster: string;
  node?: { name: string; mib: number };
  platformMib: number;
  systemMib: number;
  appsMinMib: number;
  /** What is left for the owner's apps: node memory minus platform and system. */
  appsMib?: number;
  items: Array<{ what: string; mib: number }>;
  fits: boolean;
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every resources.requests.memory in a HelmRelease's values, times the replicas beside it. */
function valueRequests(values: unknown, path: string[], out: Array<{ what: string; mib: number }>, release: string): void {
  if (!isPlain(values)) return;
  const requests = isPlain(values.resources) && isPlain(values.resources.requests) ? values.resources.requests : undefined;
  if (requests && (typeof requests.memory === 'string' || typeof requests.memory === 'number')) {
    const replicas = typeof values.replicas === 'number' ? values.replicas : typeof values.replicaCount === 'number' ? values.replicaCount : 1;
    out.push({ what: `${release}${path.length ? ` ${path.join('.')}` : ''}${replicas > 1 ? ` x${replicas}` : ''}`, mib: (replicas * quantityBytes(requests.memory)) / MI });
  }
  for (const [k, v] of Object.entries(values)) if (k !== 'resources') valueRequests(v, [...path, k], out, release);
}

export function memoryBudget(cluster: ClusterSpec, docs: RenderedDoc[]): Budget {
  const items: Array<{ what: string; mib: number }> = [];
  for (const d of docs) {
    const o = d.object as { kind: string; metadata?: { name?: string; namespace?: string }; spec?: Plain };
    if (o.kind === 'HelmRelease') valueRequests(o.spec?.values, [], items, o.metadata?.name ?? '?');
    if (o.kind === 'Deployment') {
      const spec = o.spec as { replicas?: number; template?: { spec?: { containers?: Array<{ resources?: { requests?: { memory?: string } } }> } } };
      const per = (spec.template?.spec?.containers ?? []).reduce((n, c) => n + (c.resources?.requests?.memory ? quantityBytes(c.resources.requests.memory) : 0), 0);
      if (per > 0) items.push({ what: `${o.metadata?.namespace}/${o.metadata?.name}${(spec.replicas ?? 1) > 1 ? ` x${spec.replicas}` : ''}`, mib: ((spec.replicas ?? 1) * per) / MI });
    }
  }
  for (const u of UNREQUESTED) if (u.when(cluster)) items.push({ what: u.what, mib: u.mib });
  const platformMib = Math.round(items.reduce((n, i) => n + i.mib, 0));
  // The node everything would have to fit on when the others are drained: the smallest.
  const sized = cluster.active.filter((n) => n.memoryGiB !== undefined).sort((a, b) => a.memoryGiB! - b.memoryGiB!);
  const smallest = sized[0];
  if (!smallest) return { cluster: cluster.name, platformMib, systemMib: 0, appsMinMib: 0, items, fits: true };
  const mib = smallest.memoryGiB! * 1024;
  const systemMib = SYSTEM_MIB[smallest.role];
  const appsMinMib = Math.round(mib * APPS_SHARE);
  const appsMib = mib - systemMib - platformMib;
  return { cluster: cluster.name, node: { name: smallest.name, mib }, platformMib, systemMib, appsMinMib, appsMib, items, fits: appsMib >= appsMinMib };
}

const gib = (mib: number) => `${(mib / 1024).toFixed(1)} GiB`;

/** One line for validate and the refusal alike. */
export function budgetLine(b: Budget): string {
  if (!b.node) return `cluster ${b.cluster}: the platform requests ${gib(b.platformMib)}; no node's memory is known (an x86 node needs memoryGiB), so it is not checked`;
  return `cluster ${b.cluster}: the platform requests ${gib(b.platformMib)} of ${b.node.name}'s ${gib(b.node.mib)}, k3s and the OS take ${gib(b.systemMib)}, leaving ${gib(b.appsMib!)} for apps (at least ${gib(b.appsMinMib)}, a quarter, is kept)`;
}
