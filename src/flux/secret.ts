// Flux's access to the repository: a deploy key made by bramble, and the
// flux-system secret that carries it, sent to the cluster over SSH on
// standard input. The private key exists only in this process's memory and in
// the cluster's secret: never on this machine's disk, in Git or in a log.
import ssh2 from 'ssh2';

// ssh2 is CommonJS: its `utils` is not a named export under ESM.
const { utils } = ssh2;
import { SshError, type Session } from '../ssh/session.ts';
import type { DeployKey } from '../git/host.ts';
import { SOPS_AGE_KEY, SOPS_AGE_SECRET } from '../site/secrets.ts';

export type { DeployKey };

type KeyPair = { private: string; public: string };

const parses = (text: string) => !(utils.parseKey(text) instanceof Error);

/** `key` when ssh can use it; undefined for a malformed one (one an older bramble stored, made by ssh2's faulty keygen below). */
export function usableKey<K extends DeployKey>(key: K | undefined): K | undefined {
  return key && parses(key.privateKey) ? key : undefined;
}

/**
 * An ed25519 deploy key. ssh2's keygen drops the leading zero byte of a
 * public key that starts with one (mscdex/ssh2#1513): about 1 key in 256
 * comes out malformed, and its own parser, ssh and the Git host refuse it.
 * Such a pair is made again.
 */
export function generateDeployKey(comment: string, make: () => KeyPair = () => utils.generateKeyPairSync('ed25519', { comment })): DeployKey {
  for (let attempt = 1; attempt <= 16; attempt++) {
    const pair = make();
    if (parses(pair.private) && parses(pair.public)) return { privateKey: pair.private, publicKey: pair.public };
  }
  throw new Error('ssh2 made 16 malformed ed25519 keys in a row');
}

/** How GitHub titles the key: it names the cluster and its path, so several clusters can share one repository. */
export function deployKeyTitle(cluster: string, path: string): string {
  return `bramble flux ${cluster} (${path})`;
}

export const SECRET = 'flux-system';
/** A rotated key waiting for the owner to add it to a plain SSH Git host; Flux keeps the old one meanwhile. */
export const PENDING = 'flux-system-pending';

export function fluxSecret(key: DeployKey, knownHosts: string, name = SECRET): Record<string, unknown> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'flux-system', labels: { 'app.kubernetes.io/managed-by': 'bramble' } },
    type: 'Opaque',
    data: { identity: b64(key.privateKey), 'identity.pub': b64(key.publicKey), known_hosts: b64(knownHosts) },
  };
}

const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' } };

/** Create or replace the secret through the first server's k3s; the key goes on stdin only. */
export async function applyFluxSecret(first: Session, key: DeployKey, knownHosts: string, name = SECRET): Promise<void> {
  const list = { apiVersion: 'v1', kind: 'List', items: [NAMESPACE, fluxSecret(key, knownHosts, name)] };
  await first.exec('k3s kubectl apply -f -', { sudo: true, stdin: JSON.stringify(list), step: `write the ${name} secret` });
}

export interface StoredKey extends DeployKey {
  knownHosts: string;
}

type SecretObject = { metadata?: { name?: string }; data?: Record<string, string> };

function storedKey(secret: SecretObject | undefined): StoredKey | undefined {
  const data = secret?.data ?? {};
  const text = (k: string) => (data[k] ? Buffer.from(data[k], 'base64').toString('utf8') : '');
  if (!data.identity || !data['identity.pub']) return undefined;
  return { privateKey: text('identity'), publicKey: text('identity.pub').trim(), knownHosts: text('known_hosts') };
}

/** The key a secret on the cluster holds, read into memory only. */
export async function readFluxSecret(first: Session, name = SECRET): Promise<StoredKey | undefined> {
  const r = await first.exec(`k3s kubectl get secret ${name} -n flux-system -o json`, { sudo: true, check: false, step: `read the ${name} secret` });
  if (r.code !== 0) {
    if (/not ?found/i.test(r.stderr)) return undefined;
    throw new SshError(first.target.name, `read the ${name} secret`, r.stderr.trim() || `exit ${r.code}`);
  }
  return storedKey(JSON.parse(r.stdout) as SecretObject);
}

/** The deploy key Flux reads with, and the one waiting for its owner to add it (a rotation): one command for both. */
export async function readFluxSecrets(first: Session): Promise<{ current: StoredKey | undefined; pending: StoredKey | undefined }> {
  const step = 'read the deploy-key secrets';
  const r = await first.exec(`k3s kubectl get secret ${SECRET} ${PENDING} -n flux-system --ignore-not-found -o json`, { sudo: true, check: false, step });
  if (r.code !== 0) throw new SshError(first.target.name, step, r.stderr.trim() || `exit ${r.code}`);
  // Several names give a List of those found; none found prints nothing.
  const out = r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as SecretObject & { kind?: string; items?: SecretObject[] });
  const items = out.kind === 'List' ? (out.items ?? []) : 'data' in out ? [out] : [];
  const named = (name: string) => storedKey(items.find((i) => i.metadata?.name === name));
  return { current: named(SECRET), pending: named(PENDING) };
}

export async function deleteFluxSecret(first: Session, name: string): Promise<void> {
  await first.exec(`k3s kubectl delete secret ${name} -n flux-system --ignore-not-found`, { sudo: true, step: `delete the ${name} secret` });
}

/** The public half of the deploy key the cluster holds now, if any: re-runs reuse it. */
export async function clusterDeployKey(first: Session): Promise<string | undefined> {
  return (await readFluxSecret(first))?.publicKey;
}

/**
 * The cluster's age identity in flux-system/sops-age, which the Kustomizations
 * name for decryption; written on stdin only, and only when it differs. It
 * must exist before the sync objects are applied, or Flux stops at "sops-age
 * not found".
 */
export async function ensureSopsAgeSecret(first: Session, identity: string): Promise<'in place' | 'written'> {
  const r = await first.exec(`k3s kubectl get secret ${SOPS_AGE_SECRET} -n flux-system -o json`, { sudo: true, check: false, step: `read the ${SOPS_AGE_SECRET} secret` });
  if (r.code === 0) {
    const data = (JSON.parse(r.stdout) as { data?: Record<string, string> }).data ?? {};
    if (data[SOPS_AGE_KEY] && Buffer.from(data[SOPS_AGE_KEY], 'base64').toString('utf8').trim() === identity) return 'in place';
  } else if (!/not ?found/i.test(r.stderr)) {
    throw new SshError(first.target.name, `read the ${SOPS_AGE_SECRET} secret`, r.stderr.trim() || `exit ${r.code}`);
  }
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: SOPS_AGE_SECRET, namespace: 'flux-system', labels: { 'app.kubernetes.io/managed-by': 'bramble' } },
    type: 'Opaque',
    data: { [SOPS_AGE_KEY]: Buffer.from(identity + '\n').toString('base64') },
  };
  const list = { apiVersion: 'v1', kind: 'List', items: [NAMESPACE, secret] };
  await first.exec('k3s kubectl apply -f -', { sudo: true, stdin: JSON.stringify(list), step: `write the ${SOPS_AGE_SECRET} secret` });
  return 'written';
}
