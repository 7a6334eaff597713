// Flux's access to the repository: a deploy key made by bramble, and the
// flux-system secret that carries it, sent to the cluster over SSH on
// standard input. The private key exists only in this process's memory and in
// the cluster's secret: never on this machine's disk, in Git or in a log.
import ssh2 from 'ssh2';

// ssh2 is CommonJS: its `utils` is not a named export under ESM.
const { utils } = ssh2;
import type { Session } from './ssh/session.ts';

export interface DeployKey {
  /** OpenSSH private key. */
  privateKey: string;
  /** authorized_keys form: "ssh-ed25519 AAAA... comment" */
  publicKey: string;
}

export function generateDeployKey(comment: string): DeployKey {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public };
}

/** How GitHub titles the key: it names the cluster and its path, so several clusters can share one repository. */
export function deployKeyTitle(cluster: string, path: string): string {
  return `bramble flux ${cluster} (${path})`;
}

export function fluxSecret(key: DeployKey, knownHosts: string): Record<string, unknown> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'flux-system', namespace: 'flux-system', labels: { 'app.kubernetes.io/managed-by': 'bramble' } },
    type: 'Opaque',
    data: { identity: b64(key.privateKey), 'identity.pub': b64(key.publicKey), known_hosts: b64(knownHosts) },
  };
}

const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' } };

/** Create or replace the secret through the first server's k3s; the key goes on stdin only. */
export async function applyFluxSecret(first: Session, key: DeployKey, knownHosts: string): Promise<void> {
  const list = { apiVersion: 'v1', kind: 'List', items: [NAMESPACE, fluxSecret(key, knownHosts)] };
  await first.exec('k3s kubectl apply -f -', { sudo: true, stdin: JSON.stringify(list), step: 'create the flux-system secret' });
}

/** The public half of the deploy key the cluster holds now, if any: re-runs reuse it. */
export async function clusterDeployKey(first: Session): Promise<string | undefined> {
  const r = await first.exec('k3s kubectl get secret flux-system -n flux-system -o json', { sudo: true, check: false, step: 'read the flux-system secret' });
  if (r.code !== 0) {
    if (/not ?found/i.test(r.stderr)) return undefined;
    throw new Error(`reading the flux-system secret failed: ${r.stderr.trim()}`);
  }
  const pub = (JSON.parse(r.stdout) as { data?: Record<string, string> }).data?.['identity.pub'];
  return pub ? Buffer.from(pub, 'base64').toString('utf8').trim() : undefined;
}
