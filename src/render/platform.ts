// The parts of a cluster's context that the round-3 platform adds: who signs
// its certificates and for which names, and the critical class of volumes.
// Decided here from the inventory, placed by the templates.
import { promDuration } from '../site/backup.ts';
import { longestGapMinutes } from '../inventory/formats.ts';
import type { ClusterSpec, Inventory } from '../inventory/model.ts';
import { caCommonName, CLOUDFLARE_TOKEN, PRIVATE_CA } from '../site/secrets.ts';

export interface CertificateContext {
  name: string;
  namespace: string;
  host: string;
  secretName: string;
}

export interface TlsContext {
  version: string;
  /** The ClusterIssuer every Certificate names. */
  issuer: string;
  /** The cluster's own CA: made in the cluster by a self-signed issuer, or (with secrets in Git) by bramble once. */
  privateCa: { inCluster: boolean; commonName: string; secret: string } | undefined;
  letsencrypt: { email: string; server: string; secret: string } | undefined;
  certificates: CertificateContext[];
}

export const CA_ISSUER = 'bramble-ca';
export const ACME_ISSUER = 'letsencrypt';

/** The names bramble serves through Traefik, each with its certificate. */
export function certificates(cluster: ClusterSpec): CertificateContext[] {
  return [
    { name: 'grafana', namespace: 'monitoring', host: cluster.platform.monitoring.grafanaHost, secretName: 'grafana-tls' },
    { name: 'traefik-dashboard', namespace: 'traefik', host: cluster.platform.traefik.dashboardHost, secretName: 'traefik-dashboard-tls' },
  ];
}

export function platformTls(inv: Inventory, cluster: ClusterSpec): TlsContext {
  const t = cluster.platform.tls;
  const base = { version: t.version, certificates: certificates(cluster) };
  if (t.issuer === 'letsencrypt') return { ...base, issuer: ACME_ISSUER, privateCa: undefined, letsencrypt: { email: t.email, server: t.acmeServer, secret: CLOUDFLARE_TOKEN.name } };
  return { ...base, issuer: CA_ISSUER, privateCa: { inCluster: !cluster.sops, commonName: caCommonName(inv.site.name, cluster.name), secret: PRIVATE_CA.name }, letsencrypt: undefined };
}

export const CRITICAL_CLASS = 'longhorn-critical';
export const CRITICAL_GROUP = 'critical';
export const CRITICAL_JOBS = { snapshot: 'bramble-critical-snapshot', backup: 'bramble-critical-backup' } as const;

export interface CriticalContext {
  storageClass: string;
  group: string;
  replicas: number;
  /** Longhorn's StorageClass parameter: the volumes join the critical group's recurring jobs. */
  selector: string;
  snapshot: { name: string; schedule: string; retain: number; staleAfter: string };
  backup: { name: string; schedule: string; retain: number; staleAfter: string };
}

/** The critical class, when the cluster has one: its schedules and how old its newest copy may be before an alert. */
export function critical(cluster: ClusterSpec): CriticalContext | undefined {
  const c = cluster.backup?.critical;
  if (!c) return undefined;
  // One missed run is jitter; two are a fault.
  const stale = (schedule: string) => promDuration(2 * longestGapMinutes(schedule));
  return {
    storageClass: CRITICAL_CLASS,
    group: CRITICAL_GROUP,
    replicas: cluster.platform.longhorn.replicas,
    selector: JSON.stringify([{ name: CRITICAL_GROUP, isGroup: true }]),
    snapshot: { name: CRITICAL_JOBS.snapshot, ...c.snapshot, staleAfter: stale(c.snapshot.schedule) },
    backup: { name: CRITICAL_JOBS.backup, ...c.backup, staleAfter: stale(c.backup.schedule) },
  };
}
