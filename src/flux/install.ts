// Flux onto the cluster, through the first server over SSH. The controllers'
// manifest goes into k3s's auto-deploying manifests folder for the first
// start (docs/flux.md says why); the sync objects are applied once with
// `k3s kubectl apply` on stdin. From then on Flux manages both from Git: the
// sync objects, and its own controllers from the manifests artifact that
// clusters/<cluster>/flux-system/flux.yaml names, after which the
// auto-deploy file is taken away so k3s never applies an older Flux again.
import type { Session } from '../ssh/session.ts';
import { shQuote, SshError } from '../ssh/session.ts';
import { pollPause } from '../base/wait.ts';
import { MANIFESTS_DIR } from '../k3s/config.ts';

export const FLUX_MANIFEST = `${MANIFESTS_DIR}/bramble-flux.yaml`;

/** The first line bramble writes above the upstream manifest: what it holds and where it came from. */
export function manifestHeader(version: string, url: string): string {
  return `# bramble: flux v${version} from ${url}`;
}

/**
 * The Flux the cluster has: from the auto-deploy file's header while bramble's
 * first-start manifest is there (`url` set), else from the version label of
 * the running source-controller, once Flux manages itself from Git.
 * Undefined when there is neither.
 */
export async function installedFlux(first: Session): Promise<{ version: string; url?: string; firstStartFile: boolean } | undefined> {
  // Both at once: once Flux upgrades itself from Git the file is gone and the Deployments are what answers.
  const [r, d] = await Promise.all([
    first.exec(`if [ -e ${FLUX_MANIFEST} ]; then echo present; head -n 1 ${FLUX_MANIFEST}; fi`, { sudo: true, step: 'read the Flux manifest' }),
    first.exec('k3s kubectl get deployments -n flux-system -o json', { sudo: true, check: false, step: 'read the running Flux version' }),
  ]);
  const [there, header = ''] = r.stdout.split('\n');
  const firstStartFile = there === 'present';
  const m = /^# bramble: flux v(\S+) from (\S+)/.exec(header.trim());
  if (m) return { version: m[1]!, url: m[2]!, firstStartFile };
  if (d.code !== 0) return undefined;
  const items = (JSON.parse(d.stdout) as { items?: Array<{ metadata?: { name?: string; labels?: Record<string, string> } }> }).items ?? [];
  const label = items.find((i) => i.metadata?.name === 'source-controller')?.metadata?.labels?.['app.kubernetes.io/version'];
  const v = /^v?(\d+\.\d+\.\d+\S*)$/.exec(label ?? '');
  return v ? { version: v[1]!, firstStartFile } : undefined;
}

/** Whether Flux applies its own manifests from Git now: the flux-components Kustomization is Ready. */
async function fluxFromGit(first: Session): Promise<boolean> {
  const { readFluxObjects } = await import('./watch.ts');
  const objects = await readFluxObjects(first).catch(() => []);
  return objects.some((o) => o.kind === 'Kustomization' && o.namespace === 'flux-system' && o.name === FLUX_COMPONENTS && o.ready === 'True');
}

/** The Kustomization that applies Flux's own manifests (templates/cluster/flux-system/flux.yaml.hbs). */
export const FLUX_COMPONENTS = 'flux-components';

/**
 * Once Flux applies its own manifests from Git, take the first-start file
 * out of the auto-deploy folder: left there, k3s would apply that older
 * manifest again at its next start. Deleting the file deletes nothing of
 * what k3s applied from it.
 */
export async function leaveFluxToGit(first: Session): Promise<'removed' | 'gone' | 'kept'> {
  const there = await first.exec(`test -e ${FLUX_MANIFEST}`, { sudo: true, check: false, step: 'look for the first-start Flux manifest' });
  if (there.code !== 0) return 'gone';
  if (!(await fluxFromGit(first))) return 'kept';
  await first.exec(`rm -f ${FLUX_MANIFEST}`, { sudo: true, step: 'remove the first-start Flux manifest' });
  return 'removed';
}

/**
 * Download the manifest on the node and place it in the auto-deploy folder
 * when the version or URL differs. The download lands beside it under a name
 * k3s ignores, is checked to be Flux, and is renamed into place at once.
 */
/** `read`: installedFlux() started by the caller beside its other reads. */
export async function installFlux(first: Session, version: string, url: string, read = installedFlux(first)): Promise<'installed' | 'upgraded' | 'unchanged' | 'from Git'> {
  const now = await read;
  // Flux already runs without bramble's file: its version is Git's (flux-system/flux.yaml).
  if (now && now.url === undefined) return 'from Git';
  if (now && now.version === version && now.url === url) return 'unchanged';
  const tmp = `${MANIFESTS_DIR}/.bramble-flux.download`;
  const script = [
    `mkdir -p ${MANIFESTS_DIR}`,
    `trap 'rm -f ${tmp}' EXIT`,
    `{ printf '%s\\n' ${shQuote(manifestHeader(version, url))}; curl -sfL --retry 3 ${shQuote(url)}; } > ${tmp} || { echo ${shQuote(`cannot download ${url}`)} >&2; exit 1; }`,
    `grep -q 'name: source-controller' ${tmp} || { echo "the download is not Flux's install manifest (no source-controller in it)" >&2; exit 1; }`,
    `chmod 0600 ${tmp}`,
    `mv -f ${tmp} ${FLUX_MANIFEST}`,
  ].join('\n');
  await first.exec(`sh -c ${shQuote(script)}`, { sudo: true, step: `install Flux ${version}`, timeoutMs: 5 * 60_000 });
  return now ? 'upgraded' : 'installed';
}

const CRDS = ['gitrepositories.source.toolkit.fluxcd.io', 'kustomizations.kustomize.toolkit.fluxcd.io', 'helmreleases.helm.toolkit.fluxcd.io', 'helmrepositories.source.toolkit.fluxcd.io'];

/** Wait until k3s has applied the manifest: Flux's resource types are served. */
export async function waitForFluxApi(first: Session, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reads = 0;
  let last = '';
  for (;;) {
    const r = await first.exec(`k3s kubectl wait --for condition=established --timeout=10s ${CRDS.map((c) => `crd/${c}`).join(' ')}`, { sudo: true, check: false, step: 'wait for the Flux API' });
    if (r.code === 0) return;
    last = r.stderr.trim().split('\n').pop() ?? '';
    if (Date.now() > deadline) throw new SshError(first.target.name, 'wait for the Flux API', `Flux's resource types are not served after ${Math.round(timeoutMs / 1000)} s (k3s applies ${FLUX_MANIFEST}); last: ${last}`);
    await pollPause(++reads);
  }
}

/** Apply the sync objects (the GitRepository and root Kustomization rendered into Git). */
export async function applySync(first: Session, objects: unknown[]): Promise<void> {
  const list = { apiVersion: 'v1', kind: 'List', items: objects };
  await first.exec('k3s kubectl apply -f -', { sudo: true, stdin: JSON.stringify(list), step: 'apply the Flux sync objects' });
}

/** `part` is found in `whole`: every field it sets has the same value there (the API server may add defaults). */
function within(part: unknown, whole: unknown): boolean {
  if (part === null || typeof part !== 'object') return part === whole;
  if (whole === null || typeof whole !== 'object' || Array.isArray(part) !== Array.isArray(whole)) return false;
  if (Array.isArray(part)) return part.length === (whole as unknown[]).length && part.every((x, i) => within(x, (whole as unknown[])[i]));
  return Object.entries(part).every(([k, v]) => within(v, (whole as Record<string, unknown>)[k]));
}

/** True when the cluster already holds every sync object with the rendered spec: applying again would change nothing. */
export function syncInPlace(objects: unknown[], existing: Array<{ kind: string; namespace: string; name: string; spec?: Record<string, unknown> }>): boolean {
  return (objects as Array<{ kind: string; metadata: { name: string; namespace?: string }; spec?: unknown }>).every((o) => {
    const have = existing.find((e) => e.kind === o.kind && e.name === o.metadata.name && e.namespace === (o.metadata.namespace ?? 'default'));
    return have !== undefined && within(o.spec, have.spec);
  });
}

/** What `flux reconcile` does: the requestedAt annotation, which the controllers answer. */
export async function requestReconcile(first: Session): Promise<string> {
  const token = new Date().toISOString();
  await first.exec(`k3s kubectl annotate --overwrite -n flux-system gitrepository/flux-system kustomization/flux-system reconcile.fluxcd.io/requestedAt=${shQuote(token)}`, {
    sudo: true,
    step: 'ask Flux to reconcile',
  });
  return token;
}
