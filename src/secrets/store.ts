// A cluster's secrets in its Git folder: one SOPS-encrypted Secret per file
// under clusters/<cluster>/secrets/, listed in that folder's kustomization.yaml,
// which the `secrets` Flux Kustomization applies with the cluster's age key.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Document, isSeq, parseDocument } from 'yaml';
import { setKeepingText } from '../inventory/edit.ts';
import { BrambleError } from '../base/errors.ts';
import type { ClusterSpec, Inventory } from '../inventory/model.ts';
import { readIfExists, writeAtomic, yamlFiles } from '../base/files.ts';
import { caCommonName, GRAFANA_ADMIN, PRIVATE_CA, RECEIVER_TOKEN, secretFile, secretsDir, type SecretRef } from '../site/secrets.ts';
import type { Decrypted } from './sops.ts';

// The cryptography (age and its curves, about a tenth of a second to load) is
// loaded where a secret is opened, sealed or made: a publish that finds every
// secret in place needs none of it.
const keys = () => import('./keys.ts');
const sops = () => import('./sops.ts');

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const KEY = /^[-._a-zA-Z0-9]{1,253}$/;

export type { SecretRef };

/** NAMESPACE/NAME, or NAME in the default namespace; checked as Kubernetes checks them. */
export function parseSecretRef(text: string): SecretRef {
  const [ns, name] = text.includes('/') ? text.split('/', 2) : ['default', text];
  if (!NAME.test(ns!) || !NAME.test(name!)) throw new BrambleError(`"${text}" is not a Secret name: NAMESPACE/NAME or NAME, lower-case letters, digits and '-'`);
  return { namespace: ns!, name: name! };
}

export function checkKeyName(key: string): void {
  if (!KEY.test(key)) throw new BrambleError(`"${key}" is not a Secret key: letters, digits, '-', '_' and '.' only`);
}

export function recipientOf(cluster: ClusterSpec): string {
  if (!cluster.sops) throw new BrambleError(`cluster ${cluster.name} keeps no secrets in Git yet: bramble secret init -c ${cluster.name} makes its age key`);
  return cluster.sops.recipient;
}

/** Open a cluster's secret file with the owner's copy of the cluster's key. */
export async function openSecret(repo: string, cluster: ClusterSpec, ref: SecretRef): Promise<Decrypted | undefined> {
  const recipient = recipientOf(cluster);
  const path = secretFile(cluster, ref);
  const text = await readIfExists(join(repo, path));
  if (text === undefined) return undefined;
  const { identityFor, ageKeysFile } = await keys();
  const identity = await identityFor(recipient);
  if (!identity) throw new BrambleError(`${path}: opening it needs cluster ${cluster.name}'s age key (${recipient}), which is not in ${ageKeysFile()} or SOPS_AGE_KEY (docs/secrets.md, "A lost key")`);
  return (await sops()).decryptSops(text, [identity], path);
}

export interface SetResult {
  file: string;
  action: 'added' | 'changed' | 'unchanged';
}

/**
 * Put one key's value into a cluster's Secret, encrypted; the file is created
 * and listed in the folder's kustomization.yaml when it is new. Values that
 * did not change keep their ciphertext.
 */
export async function setSecretValue(repo: string, cluster: ClusterSpec, ref: SecretRef, key: string, value: string): Promise<SetResult> {
  return setSecretValues(repo, cluster, ref, { [key]: value });
}

/** setSecretValue for several keys of one Secret, in one write. */
export async function setSecretValues(repo: string, cluster: ClusterSpec, ref: SecretRef, values: Record<string, string>): Promise<SetResult> {
  for (const key of Object.keys(values)) checkKeyName(key);
  const recipient = recipientOf(cluster);
  const path = secretFile(cluster, ref);
  const previous = await openSecret(repo, cluster, ref);
  const doc = previous?.doc ?? newSecret(ref, {});
  for (const [key, value] of Object.entries(values)) {
    // A key lives in one place: stringData wins over data in the API, so data's copy goes.
    if (doc.hasIn(['data', key])) doc.deleteIn(['data', key]);
    doc.setIn(['stringData', key], value);
  }
  const text = await (await sops()).encryptSops(doc, { recipients: [recipient], previous, file: path });
  if (previous && text === previous.text) return { file: path, action: 'unchanged' };
  await writeSecret(repo, cluster, ref, text);
  return { file: path, action: previous ? 'changed' : 'added' };
}

/** A new Opaque Secret of bramble's, plain, with these stringData values. */
function newSecret(ref: SecretRef, stringData: Record<string, string>, type = 'Opaque'): Document {
  return new Document({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: ref.name, namespace: ref.namespace, labels: { 'app.kubernetes.io/managed-by': 'bramble' } },
    type,
    stringData,
  });
}

/** An encrypted Secret into its file (0600), with its namespace, listed in the folder's kustomization.yaml. */
async function writeSecret(repo: string, cluster: ClusterSpec, ref: SecretRef, text: string): Promise<void> {
  const path = secretFile(cluster, ref);
  await writeAtomic(join(repo, path), text, 0o600);
  await ensureNamespace(repo, cluster, ref.namespace);
  await listInKustomization(repo, cluster, path);
}

/** Namespaces that exist on every cluster before any layer runs (flux-system comes with Flux). */
const PRESENT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'flux-system'];

/**
 * The secrets layer runs before the layer that creates, say, monitoring; so
 * a Secret there comes with its namespace, created only when absent and
 * never pruned (the layer that owns it keeps it).
 */
async function ensureNamespace(repo: string, cluster: ClusterSpec, namespace: string): Promise<void> {
  if (PRESENT_NAMESPACES.includes(namespace)) return;
  const path = `${secretsDir(cluster)}/namespace-${namespace}.yaml`;
  if ((await readIfExists(join(repo, path))) === undefined) {
    const text = [
      '# Written by bramble secret: the namespace of secrets in this folder, made before the',
      '# layer that owns it runs; created only when absent, never pruned from here.',
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      `  name: ${namespace}`,
      '  annotations:',
      '    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent',
      '    kustomize.toolkit.fluxcd.io/prune: disabled',
      '',
    ].join('\n');
    await writeAtomic(join(repo, path), text);
  }
  await listInKustomization(repo, cluster, path);
}

/** The folder's kustomization.yaml names the file (bramble seeds it; the owner may have added others). */
async function listInKustomization(repo: string, cluster: ClusterSpec, path: string): Promise<void> {
  const kfile = join(repo, secretsDir(cluster), 'kustomization.yaml');
  const text = (await readIfExists(kfile)) ?? 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n';
  const doc = parseDocument(text);
  const entry = path.slice(secretsDir(cluster).length + 1);
  const resources = doc.get('resources', true);
  const list = isSeq(resources) ? (resources.items as Array<{ value?: unknown }>).map((i) => String(i.value ?? i)) : [];
  if (list.includes(entry)) return;
  doc.set('resources', [...list, entry].sort());
  await writeAtomic(kfile, doc.toString({ lineWidth: 0, flowCollectionPadding: false }));
}

/**
 * The inventory text with clusters[index].secrets.ageRecipient added: two
 * lines inserted after the cluster's last line, so every comment and the
 * owner's layout stay as they were (a flow-style cluster is re-printed).
 */
export function withRecipient(text: string, index: number, recipient: string): string {
  return setKeepingText(text, ['clusters', index, 'secrets', 'ageRecipient'], recipient);
}

/**
 * A new age key for a cluster: the private half into the owner's keys file
 * first (so it cannot be lost to a failed inventory write), then the public
 * half into the inventory, with its comments and layout kept.
 */
export async function initClusterKey(inv: Inventory, cluster: ClusterSpec, inventoryFile: string): Promise<{ recipient: string; keysFile: string }> {
  if (cluster.sops) throw new BrambleError(`cluster ${cluster.name} already has an age key (${cluster.sops.recipient})`);
  const { newClusterKey, keepInKeysFile } = await keys();
  const key = await newClusterKey();
  const keysFile = await keepInKeysFile(key, `bramble: cluster ${cluster.name} of site ${inv.site.name}`);
  const text = await readFile(inventoryFile, 'utf8');
  const index = inv.clusters.findIndex((c) => c.name === cluster.name);
  await writeAtomic(inventoryFile, withRecipient(text, index, key.recipient), (await stat(inventoryFile)).mode & 0o777);
  return { recipient: key.recipient, keysFile };
}

/** The files of a cluster's secrets folder that bramble commits: its kustomization.yaml, the SOPS files and their namespaces. */
export async function secretFiles(repo: string, cluster: ClusterSpec): Promise<string[]> {
  if (!cluster.sops) return [];
  let names: string[];
  try {
    names = await readdir(join(repo, secretsDir(cluster)));
  } catch {
    return [];
  }
  return names.filter((n) => n === 'kustomization.yaml' || n.endsWith('.sops.yaml') || /^namespace-[a-z0-9-]+\.yaml$/.test(n)).sort().map((n) => `${secretsDir(cluster)}/${n}`);
}

export { GRAFANA_ADMIN };

/**
 * Secrets the platform needs that bramble makes itself, once, encrypted to
 * the cluster's key (no private key is needed to write them): the Grafana
 * admin password, the private CA, and the webhook Receiver's token. Returns
 * the files it created, each with what it holds.
 */
export async function ensurePlatformSecrets(repo: string, cluster: ClusterSpec, site: string): Promise<Array<{ file: string; what: string }>> {
  if (!cluster.sops) return [];
  const made: Array<{ file: string; what: string }> = [];
  const make = async (ref: SecretRef, what: string, values: () => Record<string, string>, type = 'Opaque') => {
    const path = secretFile(cluster, ref);
    if ((await readIfExists(join(repo, path))) !== undefined) return;
    const doc = newSecret(ref, values(), type);
    await writeSecret(repo, cluster, ref, await (await sops()).encryptSops(doc, { recipients: [cluster.sops!.recipient] }));
    made.push({ file: path, what });
  };
  await make(GRAFANA_ADMIN, `the Grafana admin password; bramble secret show -c ${cluster.name} ${GRAFANA_ADMIN.namespace}/${GRAFANA_ADMIN.name} admin-password`, () => ({ 'admin-user': 'admin', 'admin-password': randomBytes(24).toString('base64url') }));
  if (cluster.platform.tls.issuer === 'private-ca') {
    const { makeCa } = await import('./ca.ts');
    await make(PRIVATE_CA, `the cluster's private CA; bramble status prints its certificate to trust on your devices`, () => {
      const ca = makeCa(caCommonName(site, cluster.name));
      return { 'tls.crt': ca.cert, 'tls.key': ca.key, 'ca.crt': ca.cert };
    }, 'kubernetes.io/tls');
  }
  if (cluster.tunnel?.receiver) {
    await make(RECEIVER_TOKEN, `the webhook Receiver's token, GitHub's webhook secret; bramble status prints the URL`, () => ({ token: randomBytes(32).toString('hex') }));
  }
  return made;
}

/**
 * Edit a cluster's Secret as plain YAML in the owner's editor, then encrypt it
 * again (values that did not change keep their ciphertext). The plain text
 * lives only in a private 0600 file under a 0700 folder, removed afterwards
 * whatever happens; an editor that fails, or a result that is not the same
 * Secret, leaves the encrypted file as it was.
 */
export async function editSecret(repo: string, cluster: ClusterSpec, ref: SecretRef, editor: string): Promise<SetResult> {
  const previous = await openSecret(repo, cluster, ref);
  const path = secretFile(cluster, ref);
  if (!previous) throw new BrambleError(`no ${path} in ${repo}; bramble secret set makes it`);
  const { mkdtemp, rm, writeFile: write } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const dir = await mkdtemp(join(tmpdir(), 'bramble-edit-'));
  try {
    const file = join(dir, `${ref.namespace}-${ref.name}.yaml`);
    await write(file, previous.doc.toString({ lineWidth: 0 }), { mode: 0o600 });
    const r = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
    if (r.status !== 0) throw new BrambleError(`the editor (${editor}) ended with ${r.status ?? r.signal}; ${path} is as it was`);
    const edited = parseDocument(await readFile(file, 'utf8'));
    if (edited.errors.length > 0) throw new BrambleError(`the edited Secret is not YAML (${edited.errors[0]!.message.split('\n')[0]}); ${path} is as it was`);
    const same = (k: string[]) => edited.getIn(k) === previous.doc.getIn(k);
    if (!same(['kind']) || !same(['metadata', 'name']) || !same(['metadata', 'namespace'])) {
      throw new BrambleError(`the edited file must stay Secret ${ref.namespace}/${ref.name} (kind, name and namespace unchanged); ${path} is as it was`);
    }
    const text = await (await sops()).encryptSops(edited, { recipients: [recipientOf(cluster)], previous, file: path });
    if (text === previous.text) return { file: path, action: 'unchanged' };
    await writeAtomic(join(repo, path), text, 0o600);
    return { file: path, action: 'changed' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The SOPS files under a cluster's folder (bramble's and the owner's), repository-relative. */
export async function sopsFilesOf(repo: string, cluster: ClusterSpec): Promise<string[]> {
  const { isSopsText } = await import('./sops.ts');
  const out: string[] = [];
  // A file named as SOPS counts even when it does not parse: rotation must stop on it, not pass it by.
  for (const f of await yamlFiles(join(repo, 'clusters', cluster.name))) if (/\.sops\.ya?ml$/.test(f) || isSopsText(await readFile(f, 'utf8'))) out.push(relative(repo, f));
  return out.sort();
}

/**
 * A new age key for a cluster that has one: every SOPS file under its folder,
 * bramble's and the owner's, is re-keyed as `sops updatekeys` does (rekeySops:
 * values, MAC, rules and comments untouched, the same data key encrypted for
 * the new recipient), all in memory first, so a file that cannot be carried
 * over stops the rotation before anything is written. The new private key
 * joins the old one in the keys file; the inventory's recipient is replaced in place.
 */
export async function rotateClusterKey(inv: Inventory, cluster: ClusterSpec, inventoryFile: string, repo: string): Promise<{ recipient: string; files: string[]; keysFile: string }> {
  const old = recipientOf(cluster);
  const [{ identityFor, ageKeysFile, newClusterKey, keepInKeysFile }, { rekeySops }] = await Promise.all([keys(), import('./rekey.ts')]);
  const identity = await identityFor(old);
  if (!identity) throw new BrambleError(`rotating cluster ${cluster.name}'s key needs the current one (${old}) to open its files, and it is not in ${ageKeysFile()} or SOPS_AGE_KEY`);
  const files = await sopsFilesOf(repo, cluster);
  const key = await newClusterKey();
  const rewritten: Array<[string, string]> = [];
  // Every file re-keyed in memory first: one that cannot be carried over exactly stops the rotation before any write.
  for (const f of files) rewritten.push([f, await rekeySops(await readFile(join(repo, f), 'utf8'), [identity], { from: old, to: key, file: f })]);
  const text = await readFile(inventoryFile, 'utf8');
  if (text.split(old).length !== 2) throw new BrambleError(`${inventoryFile}: the recipient ${old} is not there exactly once; change it by hand`);
  const keysFile = await keepInKeysFile(key, `bramble: cluster ${cluster.name} of site ${inv.site.name} (replaces ${old})`);
  for (const [f, t] of rewritten) await writeAtomic(join(repo, f), t, 0o600);
  await writeAtomic(inventoryFile, text.replace(old, key.recipient), (await stat(inventoryFile)).mode & 0o777);
  return { recipient: key.recipient, files, keysFile };
}
