// Before a publish: every Kubernetes Secret under a cluster's folder is
// SOPS-encrypted, to that cluster's age key, with its kind and name left
// plain; where the owner holds the key, the file also decrypts and its MAC
// holds. A Secret in plain text never goes out with bramble's commit.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ClusterSpec } from '../inventory/model.ts';
import { s3Secrets } from '../backup/credentials.ts';
import { NOTIFY_REF, NOTIFY_SECRET, notifyKey } from '../render/context.ts';
import { secretFile } from './store.ts';

/** Every YAML file under `dir`, links neither followed nor read. */
export async function yamlFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile() && /\.ya?ml$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

const ENCRYPTED = /^ENC\[AES256_GCM,/;

/** Problems, one line each, naming the file: empty when every secret is fit to push. */
export async function checkSecrets(repo: string, clusters: ClusterSpec[], identityFor: (recipient: string) => Promise<string | undefined>): Promise<string[]> {
  const problems: string[] = [];
  for (const cluster of clusters) {
    const files = await yamlFiles(join(repo, 'clusters', cluster.name));
    const present = new Set(files.map((f) => relative(repo, f)));
    // Alertmanager mounts the webhook's secret: without it its pod never starts.
    const notify = secretFile(cluster, NOTIFY_REF);
    if (cluster.notifications && cluster.sops && !present.has(notify)) {
      const key = notifyKey(cluster.notifications.type);
      problems.push(`${notify}: missing; cluster ${cluster.name} sends notifications to a ${cluster.notifications.type === 'telegram' ? "Telegram bot whose token" : 'webhook whose URL'} goes here first: bramble secret set -c ${cluster.name} monitoring/${NOTIFY_SECRET} ${key}`);
    }
    // An S3 backup target without its keys: Longhorn's target and k3s's uploads would fail quietly on the cluster.
    for (const ref of s3Secrets(cluster)) {
      const path = secretFile(cluster, ref);
      if (cluster.sops && !present.has(path)) {
        problems.push(`${path}: missing; cluster ${cluster.name} backs up to the NAS's S3 service, whose access keys go here first: bramble backup credentials -c ${cluster.name}`);
      }
    }
    // The owner's copy of the cluster's key, looked up once, and only when an encrypted Secret needs it.
    let identity: Promise<string | undefined> | undefined;
    for (const file of files) {
      const path = relative(repo, file);
      const text = await readFile(file, 'utf8');
      let docs: unknown[];
      try {
        docs = parseAllDocuments(text).flatMap((d) => (Array.isArray(d) ? [] : [d.toJS() as unknown]));
      } catch {
        continue;
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
        const recipients = (o.sops.age ?? []).map((a) => a.recipient);
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
