// The resolved inventory: every default filled in, every reference followed.
// Everything after loading (planning, rendering, nodes) reads only this.
import ipaddr from 'ipaddr.js';
import { BrambleError } from '../errors.ts';
import { PINNED, PROFILES, DEFAULTS } from './defaults.ts';
import type { Problem } from './problems.ts';
import type { RawCluster, RawInventory, RawNode, RawPlatform, RawSsh, RawVlan } from './schema.ts';

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

function ssh(...layers: Array<RawSsh | undefined>): SshSettings {
  return deepMerge<SshSettings>(DEFAULTS.ssh as SshSettings, ...layers);
}

export function activeNodes(cluster: RawCluster): RawNode[] {
  return cluster.nodes.filter((n) => !n.planned);
}

export function defaultReplicas(activeCount: number): number {
  return activeCount >= 3 ? 3 : activeCount >= 1 ? activeCount : 1;
}

function toVlan(v: RawVlan): Vlan {
  return { ...v };
}

/** Assumes the inventory passed schema and meaning checks. */
/** kube-vip runs for an IPv4 apiEndpoint and for an ingress address, unless the owner says the site answers there itself. */
function kubeVipFor(endpoint: string | undefined, ingress: string | undefined, o: { enabled?: boolean; image?: string; version?: string; interface?: string }): ClusterSpec['kubeVip'] {
  const address = endpoint && ipaddr.IPv4.isValidFourPartDecimal(endpoint) ? endpoint : undefined;
  if ((!address && !ingress) || o.enabled === false) return undefined;
  return {
    ...(address ? { address } : {}),
    ...(ingress ? { ingress } : {}),
    image: o.image ?? DEFAULTS.kubeVip.image,
    version: o.version ?? PINNED.kubeVip,
    ...(o.interface ? { interface: o.interface } : {}),
  };
}

function backupSpec(b: NonNullable<RawInventory['clusters'][number]['backup']>, nas: Nas, etcd: boolean): BackupSpec {
  const d = DEFAULTS.backup;
  const target: BackupTarget =
    b.target === 's3'
      ? { kind: 's3', endpoint: `${nas.address}:${nas.s3!.port}`, url: `${nas.s3!.tls ? 'https' : 'http'}://${nas.address}:${nas.s3!.port}`, tls: nas.s3!.tls, region: nas.s3!.region, bucket: b.bucket! }
      : { kind: 'nfs', server: nas.address, export: b.export! };
  return {
    target,
    etcd: etcd ? { schedule: b.etcd?.schedule ?? d.etcd.schedule, retention: b.etcd?.retention ?? d.etcd.retention } : undefined,
    snapshot: { schedule: b.volumes?.snapshot?.schedule ?? d.snapshot.schedule, retain: b.volumes?.snapshot?.retain ?? d.snapshot.retain },
    backup: { schedule: b.volumes?.backup?.schedule ?? d.backup.schedule, retain: b.volumes?.backup?.retain ?? d.backup.retain },
    critical: b.critical && {
      snapshot: { schedule: b.critical.snapshot?.schedule ?? d.critical.snapshot.schedule, retain: b.critical.snapshot?.retain ?? d.critical.snapshot.retain },
      backup: { schedule: b.critical.backup?.schedule ?? d.critical.backup.schedule, retain: b.critical.backup?.retain ?? d.critical.backup.retain },
    },
  };
}

function tlsSpec(t: RawPlatform['tls']): TlsSpec {
  const version = t?.version ?? PINNED.certManager;
  return t?.issuer === 'letsencrypt' ? { version, issuer: 'letsencrypt', email: t.email!, acmeServer: t.acmeServer ?? DEFAULTS.acmeServer } : { version, issuer: 'private-ca' };
}

export function resolve(raw: RawInventory, source: string): Inventory {
  const domain = raw.site.domain ?? DEFAULTS.domain;
  const siteSsh = ssh(raw.site.ssh);
  const vlans = raw.vlans.map(toVlan);
  const nas: Nas | undefined = raw.nas && {
    name: raw.nas.name,
    model: raw.nas.model,
    address: raw.nas.address,
    vlan: raw.nas.vlan,
    filesystem: raw.nas.filesystem,
    nfsVersion: raw.nas.nfs.version ?? '4.1',
    metrics: raw.nas.metrics && { target: `${raw.nas.address}:${raw.nas.metrics.port ?? DEFAULTS.nasMetricsPort}` },
    s3: raw.nas.s3 && { port: raw.nas.s3.port ?? DEFAULTS.s3.port, tls: raw.nas.s3.tls ?? DEFAULTS.s3.tls, region: raw.nas.s3.region ?? DEFAULTS.s3.region },
    exports: raw.nas.nfs.exports.map((e) => ({
      path: e.path,
      storageClass: e.storageClass,
      mountOptions: e.mountOptions ?? [...DEFAULTS.nfsMountOptions],
      reclaimPolicy: e.reclaimPolicy ?? 'Retain',
      onDelete: e.onDelete ?? 'retain',
      subDir: e.subDir ?? DEFAULTS.nfsSubDir,
      owner: e.owner,
    })),
  };

  const clusters = raw.clusters.map((c): ClusterSpec => {
    const nodes = c.nodes.map(
      (n): NodeSpec => ({
        name: n.name,
        hardware: n.hardware,
        arch: PROFILES[n.hardware].arch,
        address: n.address,
        role: n.role,
        planned: n.planned ?? false,
        memoryGiB: n.memoryGiB ?? PROFILES[n.hardware].memoryGiB,
        labels: n.labels ?? {},
        taints: n.taints ?? [],
        ssh: deepMerge<SshSettings>(siteSsh, n.ssh),
        hostKey: n.hostKey,
      }),
    );
    const active = nodes.filter((n) => !n.planned);
    const servers = active.filter((n) => n.role === 'server');
    const p = mergedPlatform(raw, c);
    // Size Prometheus for the smallest server: that is where it may land.
    const smallest = [...servers].sort((a, b) => (a.memoryGiB ?? 1e9) - (b.memoryGiB ?? 1e9))[0] ?? active[0]!;
    const sizing = PROFILES[smallest.hardware].prometheus;
    const vlan = vlans.find((v) => v.id === c.vlan)!;
    const used = p.nfs?.exports;
    const nfsExports = nas ? nas.exports.filter((e) => used === undefined || used.includes(e.storageClass)) : [];
    const datastore = c.datastore ?? (servers.length > 1 ? 'etcd' : 'sqlite');
    return {
      name: c.name,
      environment: c.environment ?? c.name,
      vlan,
      apiEndpoint: c.apiEndpoint,
      sops: c.secrets ? { recipient: c.secrets.ageRecipient } : undefined,
      backup: c.backup && nas ? backupSpec(c.backup, nas, datastore === 'etcd') : undefined,
      notifications: c.notifications
        ? {
            ...(c.notifications.type ? { type: c.notifications.type } : {}),
            severity: c.notifications.severity ?? 'error',
            ...(c.notifications.chatId !== undefined ? { chatId: c.notifications.chatId } : {}),
            ...(c.notifications.email ? { email: { ...c.notifications.email, to: [...c.notifications.email.to], requireTls: c.notifications.email.requireTls ?? true } } : {}),
          }
        : undefined,
      tunnel: c.tunnel && { hostnames: [...c.tunnel.hostnames], ...(c.tunnel.receiver ? { receiver: c.tunnel.receiver } : {}), version: c.tunnel.version ?? PINNED.cloudflared },
      kubeVip: kubeVipFor(c.apiEndpoint, c.ingressAddress, { ...raw.site.k3s.kubeVip, ...c.k3s?.kubeVip }),
      jumpHost: c.jumpHost && { address: c.jumpHost.address, ssh: deepMerge<SshSettings>(siteSsh, c.jumpHost.ssh), hostKey: c.jumpHost.hostKey },
      datastore,
      k3sVersion: c.k3s?.version ?? raw.site.k3s.version,
      k3sInstall: {
        scriptUrl: c.k3s?.installScriptUrl ?? raw.site.k3s.installScriptUrl ?? 'https://get.k3s.io',
        airgap: c.k3s?.airgap ?? raw.site.k3s.airgap,
      },
      upgrade: {
        image: c.k3s?.upgrade?.image ?? raw.site.k3s.upgrade?.image ?? DEFAULTS.upgrade.image,
        controllerRepository: c.k3s?.upgrade?.controllerRepository ?? raw.site.k3s.upgrade?.controllerRepository ?? DEFAULTS.upgrade.controllerRepository,
        controllerVersion: PINNED.systemUpgradeController,
        drainTimeout: c.k3s?.upgrade?.drainTimeout ?? raw.site.k3s.upgrade?.drainTimeout ?? DEFAULTS.upgrade.drainTimeout,
      },
      nodes,
      active,
      servers,
      agents: active.filter((n) => n.role === 'agent'),
      platform: {
        flux: {
          version: p.flux?.version ?? PINNED.flux,
          installUrl: (p.flux?.installUrl ?? DEFAULTS.fluxInstallUrl).replaceAll('{version}', p.flux?.version ?? PINNED.flux),
          manifestsUrl: p.flux?.manifestsUrl ?? DEFAULTS.fluxManifestsUrl,
          plainHttp: p.flux?.plainHttp ?? false,
        },
        longhorn: {
          version: p.longhorn?.version ?? PINNED.longhorn,
          replicas: p.longhorn?.replicas ?? defaultReplicas(active.length),
          dataPath: p.longhorn?.dataPath ?? DEFAULTS.longhornDataPath,
        },
        traefik: {
          version: p.traefik?.version ?? PINNED.traefik,
          dashboardHost: p.traefik?.dashboard?.host ?? `traefik.${c.name}.${domain}`,
          allowFrom: p.traefik?.dashboard?.allowFrom ?? [vlan.subnet],
          ...(c.ingressAddress ? { address: c.ingressAddress } : {}),
        },
        monitoring: {
          version: p.monitoring?.version ?? PINNED.kubePrometheusStack,
          retention: p.monitoring?.retention ?? sizing.retention,
          retentionSize: p.monitoring?.retentionSize ?? sizing.retentionSize,
          storage: p.monitoring?.storage ?? sizing.storage,
          prometheus: {
            cpu: p.monitoring?.prometheus?.cpu ?? sizing.cpu,
            memory: p.monitoring?.prometheus?.memory ?? sizing.memory,
            memoryLimit: p.monitoring?.prometheus?.memoryLimit ?? sizing.memoryLimit,
          },
          grafanaHost: p.monitoring?.grafanaHost ?? `grafana.${c.name}.${domain}`,
        },
        nfs:
          nas && nfsExports.length > 0
            ? { version: p.nfs?.version ?? PINNED.csiDriverNfs, server: nas.address, exports: nfsExports }
            : undefined,
        tls: tlsSpec(p.tls),
        ...(p.scanning?.enabled ? { scanning: { version: p.scanning.version ?? PINNED.trivyOperator, cache: p.scanning.cache ?? 'longhorn' } } : {}),
      },
    };
  });

  return {
    source,
    site: { name: raw.site.name, domain, ssh: siteSsh, k3sVersion: raw.site.k3s.version },
    vlans,
    nas,
    git: {
      url: raw.git.url,
      branch: raw.git.branch ?? DEFAULTS.git.branch,
      provider: raw.git.provider ?? (gitHostOf(raw.git.url) === 'github.com' ? 'github' : 'ssh'),
      apiUrl: raw.git.apiUrl ?? 'https://api.github.com',
      private: raw.git.private ?? true,
      hostKey: raw.git.hostKey,
      renovate: raw.git.renovate?.enabled === false ? undefined : { schedule: raw.git.renovate?.schedule ?? DEFAULTS.renovateSchedule },
    },
    alerts: { ...DEFAULTS.alerts, ...raw.alerts },
    clusters,
    warnings: [],
  };
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
