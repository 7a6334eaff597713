// Watching Flux reconcile: the objects bramble rendered, read from the
// cluster over the existing SSH session until each reports Ready for the
// pushed revision, one of them fails, or time runs out.
import type { Session } from '../ssh/session.ts';
import { pollPause } from '../base/wait.ts';

/** The Flux kinds that report a Ready condition, and the resource names kubectl knows them by. */
export const FLUX_KINDS: Record<string, string> = {
  GitRepository: 'gitrepositories.source.toolkit.fluxcd.io',
  HelmRepository: 'helmrepositories.source.toolkit.fluxcd.io',
  OCIRepository: 'ocirepositories.source.toolkit.fluxcd.io',
  Kustomization: 'kustomizations.kustomize.toolkit.fluxcd.io',
  HelmRelease: 'helmreleases.helm.toolkit.fluxcd.io',
};

export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface FluxObject extends ObjectRef {
  ready: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  stalled: boolean;
  /** Source: the artifact's revision; Kustomization: last applied; HelmRelease: chart version. */
  revision?: string;
  /** The requestedAt token the controller last handled. */
  handled?: string;
  current: boolean;
  /** The object's spec as the API server holds it. */
  spec?: Record<string, unknown>;
}

export function refText(o: ObjectRef): string {
  return `${o.kind} ${o.namespace}/${o.name}`;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface RawObject {
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number };
  spec?: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    observedGeneration?: number;
    artifact?: { revision?: string };
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    lastHandledReconcileAt?: string;
    history?: Array<{ chartVersion?: string }>;
  };
}

export function toFluxObject(o: RawObject): FluxObject {
  const cond = (t: string) => o.status?.conditions?.find((c) => c.type === t);
  const ready = cond('Ready');
  const st = o.status ?? {};
  return {
    kind: o.kind,
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    ready: ready?.status === 'True' ? 'True' : ready?.status === 'False' ? 'False' : 'Unknown',
    reason: ready?.reason ?? '',
    message: (ready?.message ?? '').trim(),
    stalled: cond('Stalled')?.status === 'True',
    revision: st.artifact?.revision ?? st.lastAppliedRevision ?? st.history?.[0]?.chartVersion ?? st.lastAttemptedRevision,
    handled: st.lastHandledReconcileAt,
    current: o.metadata.generation === undefined || st.observedGeneration === undefined || st.observedGeneration >= o.metadata.generation,
    spec: o.spec,
  };
}

/** Every Flux object on the cluster, as the first server's API server has them. */
export async function readFluxObjects(first: Session): Promise<FluxObject[]> {
  const r = await first.exec(`k3s kubectl get ${Object.values(FLUX_KINDS).join(',')} -A -o json`, { sudo: true, step: 'read Flux objects' });
  const items = (JSON.parse(r.stdout) as { items?: RawObject[] }).items ?? [];
  return items.map(toFluxObject);
}

/** The Flux objects among rendered ones: what reconciliation must bring to Ready. */
export function expectedObjects(objects: unknown[]): ObjectRef[] {
  return (objects as RawObject[])
    .filter((o) => o && typeof o.kind === 'string' && FLUX_KINDS[o.kind] && o.metadata?.name)
    .map((o) => ({ kind: o.kind, namespace: o.metadata.namespace ?? 'flux-system', name: o.metadata.name }));
}

/** Reasons that mean "not yet", not "broken". */
const WAITING = new Set(['', 'Progressing', 'ProgressingWithRetry', 'DependencyNotReady', 'ReconciliationInProgress']);

export interface WatchOptions {
  expected: ObjectRef[];
  /** The commit pushed; the source must have fetched it. */
  commit?: string;
  /** The requestedAt token bramble set; the source must have handled it. */
  token?: string;
  timeoutMs: number;
  /** How long a failing object may stay failing before the wait ends (Flux retries on its own). */
  failAfterMs: number;
  /** The longest pause between two reads; they start at 200 ms (base/wait.ts). */
  pollMs: number;
  /** Objects read a moment ago with nothing changed since: the first read. */
  seen?: FluxObject[];
  note: (line: string) => void;
}

export interface WatchResult {
  outcome: 'reconciled' | 'failed' | 'timeout';
  objects: FluxObject[];
  /** The objects that are not Ready, each with its own message. */
  problems: string[];
}

type State = 'ready' | 'waiting' | 'failing';

function describe(o: FluxObject | undefined, ref: ObjectRef): string {
  if (!o) return `${refText(ref)}: not created yet`;
  const why = [o.reason, o.message].filter(Boolean).join(': ');
  return `${refText(ref)}: ${why || 'not reconciled yet'}`;
}

export async function watchReconciliation(first: Session, o: WatchOptions): Promise<WatchResult> {
  const start = Date.now();
  const failingSince = new Map<string, number>();
  const said = new Map<string, string>();
  const key = (r: ObjectRef) => `${r.kind}/${r.namespace}/${r.name}`;
  let objects: FluxObject[] = [];
  let reads = 0;
  for (;;) {
    objects = reads === 0 && o.seen ? o.seen : await readFluxObjects(first);
    const byKey = new Map(objects.map((x) => [key(x), x]));
    const source = byKey.get('GitRepository/flux-system/flux-system');
    // The source counts only once it holds the pushed commit, or has handled bramble's request.
    const sourceCurrent =
      source !== undefined && source.ready === 'True' && (!o.commit || (source.revision ?? '').includes(o.commit)) && (!o.token || source.handled === o.token);
    const states = o.expected.map((ref): { ref: ObjectRef; state: State; obj?: FluxObject } => {
      const obj = byKey.get(key(ref));
      if (!obj) return { ref, state: 'waiting' };
      let ready = obj.ready === 'True' && obj.current;
      if (ready && ref.kind === 'GitRepository' && ref.name === 'flux-system') ready = sourceCurrent;
      // A layer read from this repository is done only at the pushed revision; one read from
      // another source (an upstream release) only at that source's current artifact.
      if (ready && ref.kind === 'Kustomization') {
        const from = (obj.spec?.sourceRef as { kind?: string; name?: string; namespace?: string } | undefined) ?? {};
        const own = (from.kind ?? 'GitRepository') === 'GitRepository' && (from.name ?? 'flux-system') === 'flux-system';
        const other = own ? undefined : byKey.get(`${from.kind ?? 'GitRepository'}/${from.namespace ?? obj.namespace}/${from.name}`);
        ready = own ? sourceCurrent && obj.revision === source!.revision : other?.ready === 'True' && obj.revision === other.revision;
      }
      if (ready) return { ref, state: 'ready', obj };
      const failing = obj.stalled || (obj.ready === 'False' && !WAITING.has(obj.reason));
      return { ref, state: failing ? 'failing' : 'waiting', obj };
    });

    for (const s of states) {
      const k = key(s.ref);
      const line = s.state === 'ready' ? `ready    ${refText(s.ref)}${s.obj?.revision ? ` (${s.obj.revision})` : ''}` : `${s.state.padEnd(8)} ${describe(s.obj, s.ref)}`;
      if (said.get(k) !== line && !(s.state === 'waiting' && !s.obj)) {
        said.set(k, line);
        o.note(line);
      }
      if (s.state === 'failing') {
        if (!failingSince.has(k)) failingSince.set(k, Date.now());
      } else failingSince.delete(k);
    }
    const problems = states.filter((s) => s.state !== 'ready').map((s) => describe(s.obj, s.ref));
    if (problems.length === 0) return { outcome: 'reconciled', objects, problems };
    const broken = states.filter((s) => s.state === 'failing' && (s.obj!.stalled || Date.now() - failingSince.get(key(s.ref))! >= o.failAfterMs));
    if (broken.length > 0) return { outcome: 'failed', objects, problems: broken.map((s) => describe(s.obj, s.ref)) };
    if (Date.now() - start >= o.timeoutMs) return { outcome: 'timeout', objects, problems };
    await pollPause(++reads, o.pollMs);
  }
}
