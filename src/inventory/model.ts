// The resolved inventory's shape: every default filled in, every reference
// followed (resolve.ts makes it). Everything after loading (planning,
// rendering, nodes) reads only this.
import { BrambleError } from '../base/errors.ts';
import type { Problem } from './problems.ts';
import type { RawCluster, RawInventory, RawNode, RawPlatform } from './schema.ts';

export type Hardware = RawNode['hardware'];

export interface SshSettings {
  user: string;
  port: number;
  auth: 'key' | 'agent' | 'password';
  privateKey?: string;
}

export interface Vlan {
  id: number;
  name: string;
  subnet: string;
  gateway: string;
  dhcp?: { start: string; end: string };
  internet: boolean;
  purpose?: string;
}

export interface NodeSpec {
  name: string;
  hardware: Hardware;
  arch: 'arm64' | 'amd64';
  address: string;
  role: 'server' | 'agent';
  planned: boolean;
  memoryGiB?: number;
  labels: Record<string, string>;
  taints: string[];
  ssh: SshSettings;
  hostKey?: string;
}

export interface NfsExport {
  path: string;
  storageClass: string;
  mountOptions: string[];
  reclaimPolicy: 'Retain' | 'Delete';
  onDelete: 'retain' | 'delete' | 'archive';
  subDir: string;
  owner?: { uid: number; gid: number };
}

export interface Nas {
  name: string;
  model?: string;
  address: string;
  vlan: number;
  filesystem?: string;
  nfsVersion: string;
  exports: NfsExport[];
  /** An S3 service (MinIO) on the NAS's address. */
  s3?: { port: number; tls: boolean; region: string };
  /** node_exporter on the NAS, host:port. */
  metrics?: { target: string };
}

/** Where a cluster's backups go, resolved from the inventory. */
export type BackupTarget =
  | { kind: 's3'; /** host:port, as k3s takes it */ endpoint: string; url: string; tls: boolean; region: string; bucket: string }
  | { kind: 'nfs'; server: string; export: string };

export interface BackupSpec {
  target: BackupTarget;
  /** k3s's etcd snapshots: only clusters with etcd take them. */
  etcd?: { schedule: string; retention: number };
  snapshot: { schedule: string; retain: number };
  backup: { schedule: string; retain: number };
  /** The critical class: volumes of StorageClass longhorn-critical, on tighter schedules. */
  critical?: { snapshot: { schedule: string; retain: number }; backup: { schedule: string; retain: number } };
}

/** Who signs the certificates of what bramble exposes. */
export type TlsSpec =
  | { version: string; issuer: 'private-ca' }
  | { version: string; issuer: 'letsencrypt'; email: string; acmeServer: string };

/** Alertmanager's e-mail receiver; the SMTP password is a secret. */
export interface EmailSpec {
  smarthost: string;
  from: string;
  to: string[];
  username?: string;
  requireTls: boolean;
}

export interface GitSettings {
  url: string;
  branch: string;
  /** github: repository and deploy key through the API; ssh: the owner adds the key by hand. */
  provider: 'github' | 'ssh';
  /** GitHub's API base URL (GitHub Enterprise: https://HOST/api/v3). */
  apiUrl: string;
  /** Create the repository private when it does not exist (github). */
  private: boolean;
  /** A pinned host key fingerprint for a plain SSH Git server. */
  hostKey?: string;
  /** renovate.json5 at the repository's root, updating the staging clusters on this cron schedule; undefined: none. */
  renovate?: { schedule: string };
}

export interface Platform {
  /** installUrl with {version} already filled in. */
  /**
   * installUrl (the first start, through k3s's auto-deploy folder) with
   * {version} filled in; manifestsUrl (without the tag) is where Flux, once
   * running, takes its own manifests from at v{version}.
   */
  flux: { version: string; installUrl: string; manifestsUrl: string; plainHttp: boolean };
  longhorn: { version: string; replicas: number; dataPath: string };
  /** `address`: the one address Traefik answers at (kube-vip holds it); without it, every node's (ServiceLB). */
  traefik: { version: string; dashboardHost: string; allowFrom: string[]; address?: string };
  monitoring: {
    version: string;
    retention: string;
    retentionSize: string;
    storage: string;
    prometheus: { cpu: string; memory: string; memoryLimit: string };
    grafanaHost: string;
  };
  /** Absent when the site has no NAS or the cluster uses none of its exports. */
  nfs?: { version: string; server: string; exports: NfsExport[] };
  tls: TlsSpec;
  /** Trivy Operator, with its database on a volume of this StorageClass. */
  scanning?: { version: string; cache: string };
}

export interface OsUpdatesSpec {
  packages: 'security' | 'all';
  /** kured's window (days as kured writes them; start and end HH:MM the same day), drain limit and the alerts that do not hold a reboot back. */
  reboot: { days: string[]; start: string; end: string; timeZone: string; drainTimeout: string; ignoreAlerts: string[] };
  /** kured's chart. */
  version: string;
}

export interface ClusterSpec {
  name: string;
  environment: string;
  vlan: Vlan;
  apiEndpoint?: string;
  /** The cluster's age recipient: its secrets in Git are SOPS-encrypted to it. */
  sops?: { recipient: string };
  /** Backups to the NAS: etcd snapshots, Longhorn's backup target and recurring jobs. */
  backup?: BackupSpec;
  /** Flux events and Alertmanager to a webhook whose URL is the SOPS secret monitoring/notify. */
  notifications?: { type?: 'discord' | 'slack' | 'generic' | 'telegram'; severity: 'error' | 'info'; chatId?: number; email?: EmailSpec };
  /** The boards' OS kept patched: unattended-upgrades on the nodes, kured's reboots in Git. Absent: bramble leaves the OS alone. */
  osUpdates?: OsUpdatesSpec;
  /** Cloudflare Tunnel: the public names sent to Traefik, and the webhook Receiver's. */
  tunnel?: { hostnames: string[]; receiver?: string; version: string };
  /**
   * kube-vip on the servers: `address` is the API's (apiEndpoint, unless it is a
   * name or the site answers there itself), `ingress` Traefik's (ingressAddress).
   */
  kubeVip?: { address?: string; ingress?: string; image: string; version: string; interface?: string };
  jumpHost?: { address: string; ssh: SshSettings; hostKey?: string };
  datastore: 'etcd' | 'sqlite';
  k3sVersion: string;
  k3sInstall: { scriptUrl: string; airgap?: { binary: string; installScript: string } };
  /** How the upgrade Plans run (see templates/cluster/upgrades). */
  upgrade: { image: string; controllerRepository: string; controllerVersion: string; drainTimeout: string };
  /** Every node, planned ones included. */
  nodes: NodeSpec[];
  /** Nodes to install, in inventory order: servers first is not assumed. */
  active: NodeSpec[];
  servers: NodeSpec[];
  agents: NodeSpec[];
  platform: Platform;
}

export interface Inventory {
  /** The file's name without folders: generated files name it in their header. */
  source: string;
  site: { name: string; domain: string; ssh: SshSettings; k3sVersion: string };
  vlans: Vlan[];
  nas?: Nas;
  git: GitSettings;
  alerts: { nfsLatencyMs: number; volumeUsagePercent: number; temperatureCelsius: number };
  clusters: ClusterSpec[];
  /** What validate says without refusing: located, like its errors. */
  warnings: Problem[];
}

/**
 * The ssh:// form of an SSH Git URL, as Flux's GitRepository takes it:
 * scp-like user@host:path becomes ssh://user@host/path. The path is read from
 * the server's root, as forges (GitHub, Gitea, Forgejo) serve it.
 */
export function sshUrl(url: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  const m = /^(?:([^@/:]+)@)?([^/:]+):(.*)$/.exec(url);
  if (!m) return url;
  return `ssh://${m[1] ? `${m[1]}@` : ''}${m[2]}/${m[3]!.replace(/^\/+/, '')}`;
}

/** The host part of an ssh://, https:// or scp-like Git URL. */
export function gitHostOf(url: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      return new URL(url).hostname.toLowerCase();
    } catch {
      return undefined;
    }
  }
  return /^(?:[^@/:]+@)?([^/:]+):/.exec(url)?.[1]?.toLowerCase();
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Later layers win; arrays are replaced, not concatenated. */
export function deepMerge<T>(...layers: unknown[]): T {
  const out: Plain = {};
  for (const layer of layers) {
    if (!isPlain(layer)) continue;
    for (const [k, v] of Object.entries(layer)) {
      out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k], v) : isPlain(v) ? deepMerge(v) : v;
    }
  }
  return out as T;
}

/** The platform a cluster gets: built-in pins, then site defaults, then its own. */
export function mergedPlatform(raw: RawInventory, cluster: RawCluster): RawPlatform {
  return deepMerge<RawPlatform>(raw.defaults?.platform, cluster.platform);
}

export function activeNodes(cluster: RawCluster): RawNode[] {
  return cluster.nodes.filter((n) => !n.planned);
}

export function defaultReplicas(activeCount: number): number {
  return activeCount >= 3 ? 3 : activeCount >= 1 ? activeCount : 1;
}

export class SelectionError extends BrambleError {}

/** The clusters named on the command line, or all of them. */
export function selectClusters(inv: Inventory, names?: string[]): ClusterSpec[] {
  if (!names || names.length === 0) return inv.clusters;
  return names.map((n) => {
    const c = inv.clusters.find((x) => x.name === n);
    if (!c) throw new SelectionError(`no cluster named "${n}" in ${inv.source}; it has: ${inv.clusters.map((x) => x.name).join(', ')}`);
    return c;
  });
}
