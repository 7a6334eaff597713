// Handing a cluster to Flux, one step after another: the Git host's keys,
// the deploy key (registered, or added by the owner), the flux-system secret,
// Flux's controllers, the sync objects, then the wait for reconciliation.
import { GitHostError, type GitHost, type KeyState } from '../git/host.ts';
import type { ClusterSpec } from '../inventory/model.ts';
import type { Session } from '../ssh/session.ts';
import { FLUX_MANIFEST, installFlux, installedFlux, applySync, leaveFluxToGit, requestReconcile, syncInPlace, waitForFluxApi } from './install.ts';
import { applyFluxSecret, deleteFluxSecret, ensureSopsAgeSecret, deployKeyTitle, generateDeployKey, PENDING, readFluxSecrets, usableKey, type DeployKey, type StoredKey } from './secret.ts';
import { ahead } from '../base/wait.ts';
import { readFluxObjects, watchReconciliation, type FluxObject, type ObjectRef, type WatchResult } from './watch.ts';

export interface HandoverOptions {
  /** Replace the deploy key (and the cluster's secret with it). */
  rotate: boolean;
  /** Ask the owner to confirm a key added by hand; absent without a terminal. */
  confirm?: (message: string) => Promise<boolean>;
  timeoutMs: number;
  failAfterMs: number;
  pollMs: number;
  /** The commit just pushed, when known. */
  commit?: string;
  /** The cluster's age identity, for a cluster that keeps SOPS-encrypted secrets. */
  ageIdentity?: string;
  note: (line: string) => void;
  /**
   * What this run read of Flux seconds earlier (apply's plan), when nothing
   * on the cluster changed since: it is used instead of reading it again.
   */
  earlier?: EarlierRead;
}

export interface EarlierRead {
  installed: Awaited<ReturnType<typeof installedFlux>>;
  /** The deploy-key secrets (readFluxSecrets); absent when that read failed: they are read again. */
  key?: { value: StoredKey | undefined; pending: StoredKey | undefined };
  objects: FluxObject[] | undefined;
}

export interface HandoverResult {
  key: KeyState;
  flux: 'installed' | 'upgraded' | 'unchanged' | 'from Git';
  watch: WatchResult;
}

/** The rendered sync objects and the Flux objects they lead to. */
export interface Rendered {
  sync: unknown[];
  expected: ObjectRef[];
}

const same = (a: DeployKey | undefined, b: DeployKey | undefined) => Boolean(a && b && a.publicKey.split(/\s+/)[1] === b.publicKey.split(/\s+/)[1]);

/** Get a deploy key the Git host accepts, and the flux-system secret holding it. */
async function ensureKey(cluster: ClusterSpec, first: Session, host: GitHost, o: HandoverOptions): Promise<KeyState> {
  const title = deployKeyTitle(cluster.name, `clusters/${cluster.name}`);
  const { current, pending } = o.earlier?.key ? { current: o.earlier.key.value, pending: o.earlier.key.pending } : await readFluxSecrets(first);
  // A stored key ssh cannot parse is never offered again: a new one takes its place.
  const candidate: DeployKey = o.rotate ? generateDeployKey(`flux-${cluster.name}`) : (usableKey(pending) ?? usableKey(current) ?? generateDeployKey(`flux-${cluster.name}`));

  const before = host.knownHostsAfterKey ? undefined : await host.knownHosts();
  let state = await host.authorize(candidate, title, o.rotate);
  // A plain host's check has read the server's host key by now: no second connection for it.
  const knownHosts = before ?? (await host.knownHosts());
  if (state === 'needs-owner') {
    // The key waits on the cluster, not on this machine: a re-run picks it up.
    // Flux keeps reading with the current key until the new one is accepted.
    if (!current) await applyFluxSecret(first, candidate, knownHosts);
    else if (!same(candidate, current)) await applyFluxSecret(first, candidate, knownHosts, PENDING);
    const steps = host.instructions(candidate);
    for (const l of steps) o.note(l);
    while (state === 'needs-owner') {
      if (!o.confirm) {
        // The key goes with the error: at a terminal the progress tree has redrawn over the lines noted above.
        throw new GitHostError(`${host.label}: the deploy key for cluster ${cluster.name} is not accepted yet. Add it, then run again (the key waits on the cluster; nothing is lost):`, { lines: steps.map((l) => `  ${l}`) });
      }
      if (!(await o.confirm(`Added the deploy key on ${host.label}? Check again`))) throw new GitHostError(`${host.label}: the deploy key was not added; nothing was handed to Flux`);
      state = await host.authorize(candidate, title, false);
      if (state === 'needs-owner') o.note(`${host.label} still refuses the key`);
    }
    state = current && !same(candidate, current) ? 'replaced' : 'added';
  }
  if (!same(candidate, current) || current!.knownHosts !== knownHosts) await applyFluxSecret(first, candidate, knownHosts);
  if (pending) await deleteFluxSecret(first, PENDING);
  if (current && !same(candidate, current)) return 'replaced';
  return state;
}

export async function handOver(cluster: ClusterSpec, first: Session, host: GitHost, rendered: Rendered, o: HandoverOptions): Promise<HandoverResult> {
  // Flux's version and objects are read while the key is checked; the objects
  // read is used only when neither the key nor Flux changed.
  const fluxRead = o.earlier ? Promise.resolve(o.earlier.installed) : ahead(installedFlux(first));
  const objectsRead = o.earlier ? Promise.resolve(o.earlier.objects) : ahead(readFluxObjects(first).catch(() => undefined));
  const key = await ensureKey(cluster, first, host, o);
  o.note(`deploy key: ${key === 'exists' ? `in place (${host.label} accepts it)` : key}`);
  if (o.ageIdentity) o.note(`age key (sops-age): ${await ensureSopsAgeSecret(first, o.ageIdentity)}`);

  const { version, installUrl } = cluster.platform.flux;
  const flux = await installFlux(first, version, installUrl, fluxRead);
  o.note(flux === 'from Git' ? `Flux: running, upgraded from Git (flux-system/flux.yaml names ${version})` : `Flux ${version}: ${flux}`);
  // Flux's objects read means its resource types are served: a Flux that was
  // already running is waited for only when they cannot be read.
  const running = flux === 'unchanged' || flux === 'from Git';
  let before = running ? await (key === 'exists' ? objectsRead : readFluxObjects(first).catch(() => undefined)) : undefined;
  if (!before) {
    await waitForFluxApi(first, o.timeoutMs);
    before = await readFluxObjects(first).catch(() => []);
  }
  // A re-run changes nothing that is already right: the sync objects are
  // applied when they differ, and Flux is asked to fetch only when its source
  // does not hold the pushed commit yet (or no commit is known: `bramble flux`).
  const inPlace = syncInPlace(rendered.sync, before);
  if (!inPlace) await applySync(first, rendered.sync);
  const source = before.find((x) => x.kind === 'GitRepository' && x.namespace === 'flux-system' && x.name === 'flux-system');
  const fetched = inPlace && o.commit !== undefined && (source?.revision ?? '').includes(o.commit);
  const token = fetched ? undefined : await requestReconcile(first);
  o.note(`sync objects ${inPlace ? 'in place' : 'applied'}; ${fetched ? 'Flux already has the commit' : 'asked Flux to fetch now'}; waiting for Flux to reconcile`);
  // Nothing applied and nothing asked: what was just read is the watch's first read.
  const seen = inPlace && fetched ? before : undefined;
  const watch = await watchReconciliation(first, { expected: rendered.expected, commit: o.commit, token, timeoutMs: o.timeoutMs, failAfterMs: o.failAfterMs, pollMs: o.pollMs, note: o.note, seen });
  // Only installFlux writes the file: when it wrote nothing, the read made for it says whether the file is there.
  const gone = (flux === 'unchanged' || flux === 'from Git') && (await fluxRead)?.firstStartFile === false;
  if (watch.outcome === 'reconciled' && !gone && (await leaveFluxToGit(first)) === 'removed') {
    o.note(`Flux now upgrades itself from Git; removed the first-start manifest ${FLUX_MANIFEST} (what k3s applied from it stays)`);
  }
  return { key, flux, watch };
}
