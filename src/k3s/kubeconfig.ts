// A cluster's kubeconfig, read from its first server and merged into the
// owner's: entries named after the inventory's cluster, the server pointed
// at a reachable address, every other context kept, written atomically and
// readable by the owner only.
import { BrambleError } from '../base/errors.ts';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { writeAtomic } from '../base/files.ts';
import type { ClusterSpec } from '../inventory/model.ts';
import type { Session } from '../ssh/session.ts';
import { apiUrl, KUBECONFIG } from './config.ts';

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

interface KubeConfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Array<Named<Record<string, unknown>>>;
  users?: Array<Named<Record<string, unknown>>>;
  contexts?: Array<Named<Record<string, unknown>>>;
  'current-context'?: string;
  [k: string]: unknown;
}

export function defaultKubeconfig(): string {
  return process.env.KUBECONFIG?.split(':')[0] || join(homedir(), '.kube', 'config');
}

export class KubeconfigError extends BrambleError {}

/** The k3s kubeconfig rewritten for `name` at `server`, merged into `existing`. */
export function mergeKubeconfig(existingText: string | undefined, k3sText: string, name: string, server: string): string {
  const k3s = parse(k3sText) as KubeConfig;
  const cluster = k3s.clusters?.[0]?.cluster;
  const user = k3s.users?.[0]?.user;
  if (!cluster || !user) throw new KubeconfigError('the node\'s kubeconfig has no cluster or user');
  const existing: KubeConfig = existingText?.trim() ? (parse(existingText) as KubeConfig) : {};
  if (typeof existing !== 'object' || existing === null) throw new KubeconfigError('the existing kubeconfig is not a YAML mapping; not touching it');
  const replace = <T extends Named<unknown>>(list: T[] | undefined, entry: T): T[] => [...(list ?? []).filter((e) => e.name !== name), entry];
  const merged: KubeConfig = {
    ...existing,
    apiVersion: existing.apiVersion ?? 'v1',
    kind: existing.kind ?? 'Config',
    clusters: replace(existing.clusters, { name, cluster: { ...cluster, server } }),
    users: replace(existing.users, { name, user }),
    contexts: replace(existing.contexts, { name, context: { cluster: name, user: name } }),
    'current-context': existing['current-context'] || name,
  };
  return stringify(merged);
}

export async function writeKubeconfig(file: string, k3sText: string, name: string, server: string): Promise<void> {
  let existing: string | undefined;
  try {
    existing = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const merged = mergeKubeconfig(existing, k3sText, name, server);
  // A re-run that changes nothing leaves the file (and its timestamps) alone.
  if (merged !== existing) await writeAtomic(file, merged, 0o600);
}

/** The context names a kubeconfig holds; none when it is missing or not a kubeconfig. */
export async function kubeconfigContexts(file: string): Promise<string[]> {
  try {
    const k = parse(await readFile(file, 'utf8')) as KubeConfig | null;
    return (k?.contexts ?? []).map((c) => c.name).filter((n): n is string => typeof n === 'string');
  } catch {
    return [];
  }
}

/** The cluster's admin kubeconfig from its first server, merged into `file` as context <cluster>. */
export async function fetchKubeconfig(cluster: ClusterSpec, first: Session, file: string): Promise<{ file: string; context: string; server: string } | undefined> {
  const text = await first.readFile(KUBECONFIG, { sudo: true, step: 'read kubeconfig' });
  if (!text) return undefined;
  const server = apiUrl(cluster);
  await writeKubeconfig(file, text, cluster.name, server);
  return { file, context: cluster.name, server };
}
