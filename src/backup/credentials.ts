// The S3 target's access keys: set once by the owner (`bramble backup
// credentials`), kept SOPS-encrypted in the cluster's secrets folder, in the
// two Secrets their readers expect. The settings beside the keys (endpoint,
// bucket, folder) follow the inventory at every publish.
import { join } from 'node:path';
import { BrambleError } from '../base/errors.ts';
import type { ClusterSpec } from '../inventory/model.ts';
import { readIfExists } from '../base/files.ts';
import { setSecretValues, type SetResult } from '../secrets/store.ts';
import { secretFile } from '../site/secrets.ts';
import { ETCD_S3_SECRET, etcdS3Settings, LONGHORN_S3_SECRET } from '../site/backup.ts';

export interface S3Keys {
  accessKey: string;
  secretKey: string;
}

function values(cluster: ClusterSpec, keys?: S3Keys): Array<[typeof LONGHORN_S3_SECRET, Record<string, string>]> {
  const b = cluster.backup!;
  if (b.target.kind !== 's3') return [];
  const out: Array<[typeof LONGHORN_S3_SECRET, Record<string, string>]> = [
    [LONGHORN_S3_SECRET, { AWS_ENDPOINTS: b.target.url, ...(keys ? { AWS_ACCESS_KEY_ID: keys.accessKey, AWS_SECRET_ACCESS_KEY: keys.secretKey } : {}) }],
  ];
  if (b.etcd) out.push([ETCD_S3_SECRET, { ...etcdS3Settings(cluster, b), ...(keys ? { 'etcd-s3-access-key': keys.accessKey, 'etcd-s3-secret-key': keys.secretKey } : {}) }]);
  return out;
}

/** Refuse keys no S3 service issues, before anything is written. */
export function checkS3Keys(keys: S3Keys): void {
  for (const [what, v] of [['access key', keys.accessKey], ['secret key', keys.secretKey]] as const) {
    if (!/^[\x21-\x7e]+$/.test(v)) throw new BrambleError(`the ${what} is empty or has spaces or control characters; give it as MinIO shows it`);
  }
}

/** Write the keys, with the target's current settings, into the cluster's Secrets. */
export async function setS3Keys(repo: string, cluster: ClusterSpec, keys: S3Keys): Promise<SetResult[]> {
  if (cluster.backup?.target.kind !== 's3') throw new BrambleError(`cluster ${cluster.name} has no S3 backup target (backup.target: s3)`);
  checkS3Keys(keys);
  const out: SetResult[] = [];
  for (const [ref, v] of values(cluster, keys)) out.push(await setSecretValues(repo, cluster, ref, v));
  return out;
}

/**
 * At publish: the settings beside the keys follow the inventory (a new bucket
 * or port reaches both readers). Needs the owner's copy of the cluster's key;
 * without it, or before the keys are set, nothing is changed.
 */
export async function followS3Settings(repo: string, cluster: ClusterSpec): Promise<SetResult[]> {
  if (cluster.backup?.target.kind !== 's3' || !cluster.sops) return [];
  const { identityFor } = await import('../secrets/keys.ts');
  if (!(await identityFor(cluster.sops.recipient))) return [];
  const out: SetResult[] = [];
  for (const [ref, v] of values(cluster)) {
    if ((await readIfExists(join(repo, secretFile(cluster, ref)))) === undefined) continue;
    out.push(await setSecretValues(repo, cluster, ref, v));
  }
  return out.filter((r) => r.action !== 'unchanged');
}
