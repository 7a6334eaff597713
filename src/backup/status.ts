// What the cluster says about its backups, read on a server over SSH: k3s's
// ETCDSnapshotFile objects (snapshots on each server and in S3) and Longhorn's
// Backup objects; judged against the schedules in the inventory.
import type { ClusterSpec } from '../inventory/model.ts';
import type { Session } from '../ssh/session.ts';
import { longhornTarget, RECURRING_JOBS, staleAfterMinutes } from '../site/backup.ts';

export interface EtcdSnapshot {
  name: string;
  /** The server that took it, or "s3" for the copy in the bucket. */
  node: string;
  location: string;
  created?: Date;
  ready: boolean;
  error?: string;
}

export interface VolumeBackup {
  name: string;
  volume: string;
  state: string;
  created?: Date;
  recurringJob?: string;
  error?: string;
}

function date(v: unknown): Date | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

async function getJson(s: Session, what: string, step: string): Promise<{ items: Array<Record<string, any>> } | { error: string }> {
  const r = await s.exec(`k3s kubectl get ${what} -A -o json`, { sudo: true, check: false, step });
  if (r.code !== 0) return { error: r.stderr.trim().split('\n').pop() || `exit ${r.code}` };
  try {
    return JSON.parse(r.stdout) as { items: Array<Record<string, any>> };
  } catch {
    return { error: 'the API answered with something that is not JSON' };
  }
}

export async function readEtcdSnapshots(s: Session): Promise<EtcdSnapshot[] | { error: string }> {
  const r = await getJson(s, 'etcdsnapshotfiles.k3s.cattle.io', 'read etcd snapshots');
  if ('error' in r) return r;
  return r.items.map((i) => ({
    name: String(i.spec?.snapshotName ?? i.metadata?.name),
    node: String(i.spec?.nodeName ?? '?'),
    location: String(i.spec?.location ?? ''),
    created: date(i.status?.creationTime),
    ready: i.status?.readyToUse === true,
    error: typeof i.status?.error?.message === 'string' ? i.status.error.message : undefined,
  }));
}

/** Longhorn's backups; `missing` when Longhorn is not installed (its CRD is not there yet). */
export async function readVolumeBackups(s: Session): Promise<VolumeBackup[] | { missing: true } | { error: string }> {
  const r = await getJson(s, 'backups.longhorn.io', 'read Longhorn backups');
  if ('error' in r) return /doesn't have a resource type/.test(r.error) ? { missing: true } : r;
  return r.items.map((i) => ({
    name: String(i.metadata?.name),
    volume: String(i.status?.volumeName || i.metadata?.labels?.['longhorn.io/backup-volume'] || '?'),
    state: String(i.status?.state || 'New'),
    created: date(i.status?.backupCreatedAt) ?? date(i.status?.snapshotCreatedAt),
    // Longhorn labels a backup with the recurring job that took it (the RecurringJob label its metrics read too).
    recurringJob: i.status?.labels?.RecurringJob ?? i.spec?.labels?.RecurringJob,
    error: typeof i.status?.error === 'string' && i.status.error ? i.status.error : undefined,
  }));
}

/** A span of minutes as people read it: 42m, 5h07m, 3d4h. */
export function span(minutes: number): string {
  const m = Math.max(0, Math.round(minutes));
  if (m < 60) return `${m}m`;
  if (m < 48 * 60) return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(m / 1440)}d${Math.floor((m % 1440) / 60)}h`;
}

function age(from: Date, now: Date): string {
  return span((now.getTime() - from.getTime()) / 60_000);
}

/** The report `backup status` prints, and whether every backup is as fresh as its schedule says. */
export function backupReport(
  cluster: ClusterSpec,
  etcd: EtcdSnapshot[] | { error: string } | undefined,
  volumes: VolumeBackup[] | { missing: true } | { error: string },
  now: Date,
): { lines: string[]; healthy: boolean } {
  const b = cluster.backup!;
  const lines: string[] = [];
  let healthy = true;
  lines.push(`  target: ${longhornTarget(cluster, b)}${b.target.kind === 's3' ? ` (etcd snapshots: s3://${b.target.bucket}/etcd/${cluster.name}/)` : ''}`);

  if (b.etcd) {
    const limit = staleAfterMinutes(b.etcd.schedule);
    lines.push(`  etcd snapshots (${b.etcd.schedule}, keep ${b.etcd.retention}; too old after ${span(limit)}${b.target.kind === 'nfs' ? "; on the servers' disks only: k3s uploads them to S3, not NFS" : ''}):`);
    if (!etcd || 'error' in etcd) {
      lines.push(`    cannot read them: ${etcd && 'error' in etcd ? etcd.error : 'no server answered'}`);
      healthy = false;
    } else {
      const places = [...cluster.servers.map((x) => x.name), ...(b.target.kind === 's3' ? ['s3'] : [])];
      for (const place of places) {
        const mine = etcd.filter((x) => x.node === place && x.ready && x.created).sort((x, y) => y.created!.getTime() - x.created!.getTime());
        const newest = mine[0];
        const label = place === 's3' ? 'in S3' : `on ${place}`;
        if (!newest) {
          lines.push(`    ${label.padEnd(14)} NONE`);
          healthy = false;
          continue;
        }
        const stale = now.getTime() - newest.created!.getTime() > limit * 60_000;
        if (stale) healthy = false;
        lines.push(`    ${label.padEnd(14)} ${stale ? 'TOO OLD: ' : ''}newest ${newest.name}, ${age(newest.created!, now)} ago (${mine.length} kept)`);
      }
      for (const f of etcd.filter((x) => x.error)) {
        lines.push(`    FAILED ${f.name} on ${f.node}: ${f.error}`);
        healthy = false;
      }
    }
  } else {
    lines.push(`  etcd snapshots: none (a single server on sqlite has no etcd; set datastore: etcd to have them)`);
  }

  const limit = staleAfterMinutes(b.backup.schedule);
  lines.push(`  volume backups (${b.backup.schedule}, keep ${b.backup.retain}; too old after ${span(limit)}; snapshots ${b.snapshot.schedule}, keep ${b.snapshot.retain}):`);
  if ('missing' in volumes) {
    lines.push('    Longhorn is not installed yet (no backups.longhorn.io): Flux has not reconciled it');
    healthy = false;
  } else if ('error' in volumes) {
    lines.push(`    cannot read them: ${volumes.error}`);
    healthy = false;
  } else if (volumes.length === 0) {
    lines.push(`    none yet: the first runs at the next "${b.backup.schedule}" (Longhorn backs up volumes of the default group: the default StorageClass's)`);
  } else {
    for (const volume of [...new Set(volumes.map((v) => v.volume))].sort()) {
      const mine = volumes.filter((v) => v.volume === volume);
      const done = mine.filter((v) => v.state === 'Completed' && v.created).sort((x, y) => y.created!.getTime() - x.created!.getTime());
      const failed = mine.filter((v) => v.state === 'Error');
      const newest = done[0];
      const stale = !newest || now.getTime() - newest.created!.getTime() > limit * 60_000;
      if (stale || failed.length > 0) healthy = false;
      const head = newest ? `${stale ? 'TOO OLD: ' : ''}newest ${newest.name}, ${age(newest.created!, now)} ago (${done.length} kept${newest.recurringJob && newest.recurringJob !== RECURRING_JOBS.backup ? `, by ${newest.recurringJob}` : ''})` : 'NONE completed';
      lines.push(`    ${volume.padEnd(40)} ${head}`);
      for (const f of failed) lines.push(`      FAILED ${f.name}: ${f.error ?? 'no reason given'}`);
    }
  }
  return { lines, healthy };
}
