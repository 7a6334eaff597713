// Before a publish: every Kubernetes Secret under a cluster's folder is
// SOPS-encrypted, to that cluster's age key, with its kind and name left
// plain; where the owner holds the key, the file also decrypts and its MAC
// holds. A Secret in plain text never goes out with bramble's commit.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments, parseDocument } from 'yaml';
import type { ClusterSpec } from '../inventory/model.ts';
import { requiredSecrets, secretFile, secretsDir } from '../site/secrets.ts';
import { yamlFiles } from '../base/files.ts';


const ENCRYPTED = /^ENC\[AES256_GCM,/;
const MAYBE_SECRET = /Secret|\\/;

/** The owner's age key for a recipient; age and its curves (about a tenth of a second to load) only when an encrypted Secret asks. */
const ownersKey = async (recipient: string) => (await import('./keys.ts')).identityFor(recipient);

/** Problems, one line each, naming the file: empty when every secret is fit to push. */
export async function checkSecrets(repo: string, clusters: ClusterSpec[], identityFor: (recipient: string) => Promise<string | undefined> = ownersKey): Promise<string[]> {
  const problems: string[] = [];
  for (const cluster of clusters) {
    const files = await yamlFiles(join(repo, 'clusters', cluster.name));
    const present = new Set(files.map((f) => relative(repo, f)));
    // What the rendered files read: without it a pod never starts or a certificate is never issued.
    const reported = new Set<string>();
    for (const need of requiredSecrets(cluster)) {
      const path = secretFile(cluster, need.ref);
      if (!need.command || present.has(path) || reported.has(path)) continue;
      reported.add(path);
      problems.push(`${path}: missing; cluster ${cluster.name} ${need.need}: ${need.command}`);
    }
    problems.push(...(await strangersIn(repo, cluster)));
    // The owner's copy of the cluster's key, looked up once, and only when an encrypted Secret needs it.
    let identity: Promise<string | undefined> | undefined;
    for (const file of files) {
      const path = relative(repo, file);
      const text = await readFile(file, 'utf8');
      const sopsFile = secretsFolder(cluster, path) && path.endsWith('.sops.yaml');
      // Parsing is most of a no-op run's time here, and most files hold no Secret: a document can
      // only say `kind: Secret` with those letters in the text, or with an escape (a backslash).
      if (!sopsFile && !MAYBE_SECRET.test(text)) continue;
      let docs: unknown[];
      try {
        // Merge keys as kustomize reads them (go-yaml): `<<: *base` can carry the kind.
        docs = parseAllDocuments(text, { merge: true }).flatMap((d) => (Array.isArray(d) ? [] : [d.toJS() as unknown]));
      } catch {
        continue;
      }
      if (sopsFile && !docs.some((d) => (d as { kind?: unknown } | null)?.kind === 'Secret')) {
        problems.push(`${path}: not a SOPS-encrypted Secret; only Secrets (bramble secret set, or sops with the repository's .sops.yaml) and their namespaces belong in ${secretsDir(cluster)}/`);
      }
      for (const doc of docs) {
        const o = doc as { kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown }; sops?: { age?: Array<{ recipient?: string }> } } | null;
        if (!o || o.kind !== 'Secret') continue;
        const name = typeof o.metadata?.name === 'string' ? o.metadata.name : '?';
        if (!o.sops) {
          problems.push(`${path}: Secret ${name} is in plain text; encrypt it first (bramble secret set, or sops -e -i with the repository's .sops.yaml)`);
          continue;
        }
        if ([o.apiVersion, o.kind, o.metadata?.name].some((v) => typeof v === 'string' && ENCRYPTED.test(v))) {
          problems.push(`${path}: Secret ${name} has its apiVersion, kind or name encrypted; Flux and kustomize need them plain (encrypted_regex: ^(data|stringData)$)`);
          continue;
        }
        const age: unknown = o.sops.age;
        if (age !== undefined && age !== null && (!Array.isArray(age) || age.some((a) => !a || typeof a !== 'object' || typeof (a as { recipient?: unknown }).recipient !== 'string'))) {
          problems.push(`${path}: Secret ${name} has a malformed sops.age (${Array.isArray(age) ? 'an entry without a recipient' : `a ${age === null ? 'null' : typeof age === 'object' ? 'map' : typeof age}, not a list`}); re-encrypt it with bramble secret set or sops`);
          continue;
        }
        const recipients = ((age ?? []) as Array<{ recipient: string }>).map((a) => a.recipient);
        if (!cluster.sops) {
          problems.push(`${path}: Secret ${name} is encrypted, but cluster ${cluster.name} has no age key to decrypt it with (bramble secret init -c ${cluster.name})`);
          continue;
        }
        if (!recipients.includes(cluster.sops.recipient)) {
          problems.push(`${path}: Secret ${name} is not encrypted to cluster ${cluster.name}'s age key ${cluster.sops.recipient} (it is for ${recipients.join(', ') || 'no age recipient'}); Flux could not decrypt it`);
          continue;
        }
        identity ??= identityFor(cluster.sops.recipient);
        const key = await identity;
        if (key) {
          const { decryptSops } = await import('./sops.ts');
          await decryptSops(text, [key], path).catch((e: Error) => problems.push(e.message));
        }
      }
    }
  }
  return problems;
}

function secretsFolder(cluster: ClusterSpec, path: string): boolean {
  return path.startsWith(secretsDir(cluster) + '/');
}

/**
 * Files in a cluster's secrets folder that are none of what belongs there:
 * its kustomization.yaml, SOPS-encrypted Secrets (*.sops.yaml) and the
 * namespaces bramble wrote (namespace-NAME.yaml). Anything else (a note, a
 * file that is not YAML, a YAML list) would be pushed and break Flux's build
 * of the layer, or put something unencrypted in Git.
 */
async function strangersIn(repo: string, cluster: ClusterSpec): Promise<string[]> {
  const dir = join(repo, secretsDir(cluster));
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  const problems: string[] = [];
  for (const e of entries) {
    if (e.isDirectory()) continue;
    const path = relative(repo, join(e.parentPath, e.name));
    const inFolder = e.parentPath === dir;
    const text = e.isFile() ? await readFile(join(e.parentPath, e.name), 'utf8') : '';
    const doc = parseDocument(text);
    const value: unknown = doc.errors.length === 0 ? doc.toJS() : undefined;
    const map = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    let why: string | undefined;
    if (!e.isFile() || !inFolder) why = 'not a file of this folder';
    else if (!e.name.endsWith('.yaml') && !e.name.endsWith('.yml')) why = 'neither a *.sops.yaml Secret nor a namespace-NAME.yaml';
    else if (doc.errors.length > 0) why = `not YAML (${doc.errors[0]!.message.split('\n')[0]})`;
    else if (!map) why = `YAML but not one object (a ${Array.isArray(value) ? 'list' : value === null ? 'empty document' : typeof value})`;
    else if (e.name === 'kustomization.yaml') why = map.kind === 'Kustomization' ? undefined : 'a kustomization.yaml that is no Kustomization';
    else if (/^namespace-[a-z0-9-]+\.yaml$/.test(e.name)) why = map.kind === 'Namespace' ? undefined : 'named as a namespace, but no Namespace';
    else if (!e.name.endsWith('.sops.yaml')) why = 'neither a *.sops.yaml Secret nor a namespace-NAME.yaml';
    if (why) problems.push(`${path}: ${why}; only SOPS-encrypted Secrets (*.sops.yaml) and their namespaces belong in ${secretsDir(cluster)}/: move it out, or encrypt it with bramble secret set`);
  }
  return problems;
}
