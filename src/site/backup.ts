// Where a cluster's backups go and what each consumer of the target needs:
// Longhorn's backup-target URL and credential secret, k3s's etcd S3 settings
// (held in a Secret k3s reads, so no node file holds the keys), and the
// freshness limits the alerts and `backup status` use.
import type { BackupSpec, ClusterSpec } from '../inventory/model.ts';
import { ETCD_S3_SECRET, LONGHORN_S3_SECRET } from './secrets.ts';
import { cronFires, longestGapMinutes } from '../inventory/formats.ts';

// Longhorn reads an S3 target's keys from LONGHORN_S3_SECRET; k3s reads every etcd-s3 setting from ETCD_S3_SECRET (etcd-s3-config-secret).
export { ETCD_S3_SECRET, LONGHORN_S3_SECRET };
// Cron schedules are read the way cron reads them (parsed where validate checks them), so "older than twice its schedule" has a number behind it.
export { cronFires, longestGapMinutes };

/** The recurring jobs bramble renders, by task. */
export const RECURRING_JOBS = { snapshot: 'bramble-snapshot', backup: 'bramble-backup' } as const;

export function longhornTarget(cluster: ClusterSpec, b: BackupSpec): string {
  const t = b.target;
  // Clusters sharing an NFS export share its backupstore: volumes are named by their unique PV, and a volume of one cluster can be restored into another.
  return t.kind === 's3' ? `s3://${t.bucket}@${t.region}/longhorn/${cluster.name}/` : `nfs://${t.server}:${t.export}`;
}

export function etcdFolder(cluster: ClusterSpec): string {
  return `etcd/${cluster.name}`;
}

/** The non-secret etcd-s3 settings, as k3s's config secret keys. */
export function etcdS3Settings(cluster: ClusterSpec, b: BackupSpec): Record<string, string> {
  if (b.target.kind !== 's3') return {};
  return {
    'etcd-s3-endpoint': b.target.endpoint,
    'etcd-s3-bucket': b.target.bucket,
    'etcd-s3-folder': etcdFolder(cluster),
    'etcd-s3-region': b.target.region,
    'etcd-s3-insecure': String(!b.target.tls),
  };
}

/** How old the newest backup of a kind may be before something is wrong: twice the longest gap of its schedule. */
export function staleAfterMinutes(schedule: string): number {
  return 2 * longestGapMinutes(schedule);
}

/** A Prometheus duration for minutes: whole hours where it can. */
export function promDuration(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`;
}
