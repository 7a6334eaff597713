// Built-in pins and defaults. Every one of them can be overridden in the
// inventory (site `defaults.platform`, then each cluster's `platform`).

/** Chart and Flux versions bramble renders unless told otherwise. */
export const PINNED = {
  flux: '2.9.5',
  longhorn: '1.12.1',
  traefik: '41.3.0',
  kubePrometheusStack: '88.5.3',
  csiDriverNfs: '4.13.4',
  /** Its Git tag: Flux applies the release's own manifests from the project's repository. */
  systemUpgradeController: 'v0.20.1',
  /** The image tag of kube-vip, which holds an HA cluster's API address. */
  kubeVip: 'v1.2.3',
  certManager: '1.21.1',
  trivyOperator: '0.34.0',
  /** kured's chart (kured 1.23.0). */
  kured: '6.1.0',
  /** cloudflared's image tag (Cloudflare's multi-arch image). */
  cloudflared: '2025.11.1',
} as const;

/** The charts' names as their projects write them, for `bramble --version`. */
export const CHART_VERSIONS_LABEL = {
  longhorn: 'Longhorn',
  traefik: 'Traefik',
  kubePrometheusStack: 'kube-prometheus-stack',
  csiDriverNfs: 'csi-driver-nfs',
  certManager: 'cert-manager',
  trivyOperator: 'trivy-operator',
  kured: 'kured',
} as const;

/** The k3s release `bramble init` suggests: the newest one this release of bramble was tested with. */
export const RECOMMENDED_K3S = 'v1.35.6+k3s1';

/** Where each chart comes from. */
export const CHART_REPOS = {
  longhorn: 'https://charts.longhorn.io',
  traefik: 'https://traefik.github.io/charts',
  prometheusCommunity: 'https://prometheus-community.github.io/helm-charts',
  // The project's own README points here; its charts are published in-tree.
  csiDriverNfs: 'https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts',
  jetstack: 'https://charts.jetstack.io',
  aqua: 'https://aquasecurity.github.io/helm-charts',
  kubereboot: 'https://kubereboot.github.io/charts',
} as const;

/**
 * The oldest Kubernetes each Flux minor release supports, from the Flux
 * release notes' compatibility table (Flux 2.9: 1.34.1, 1.35, 1.36).
 */
export const FLUX_MIN_KUBERNETES: Record<string, [number, number, number]> = {
  '2.9': [1, 34, 1],
};

export interface HardwareProfile {
  arch: 'arm64' | 'amd64';
  description: string;
  cores?: number;
  memoryGiB?: number;
  /** Prometheus sizing when this is the smallest server of a cluster. */
  prometheus: { retention: string; retentionSize: string; storage: string; cpu: string; memory: string; memoryLimit: string };
}

export const PROFILES: Record<'pi5' | 'rk1' | 'x86', HardwareProfile> = {
  pi5: {
    arch: 'arm64',
    description: 'Raspberry Pi 5 (BCM2712, 4x Cortex-A76, 8 GB)',
    cores: 4,
    memoryGiB: 8,
    prometheus: { retention: '7d', retentionSize: '8GB', storage: '10Gi', cpu: '250m', memory: '768Mi', memoryLimit: '1536Mi' },
  },
  rk1: {
    arch: 'arm64',
    description: 'Turing RK1 (RK3588, 8x ARM64, 16 GB)',
    cores: 8,
    memoryGiB: 16,
    prometheus: { retention: '15d', retentionSize: '25GB', storage: '30Gi', cpu: '500m', memory: '1536Mi', memoryLimit: '3Gi' },
  },
  x86: {
    arch: 'amd64',
    description: 'any amd64 machine',
    prometheus: { retention: '15d', retentionSize: '25GB', storage: '30Gi', cpu: '500m', memory: '1536Mi', memoryLimit: '3Gi' },
  },
};

export const DEFAULTS = {
  domain: 'home.arpa',
  ssh: { user: 'bramble', port: 22, auth: 'key' as const },
  git: { branch: 'main' },
  fluxInstallUrl: 'https://github.com/fluxcd/flux2/releases/download/v{version}/install.yaml',
  /** Flux's release manifests as a signed OCI artifact, tagged v{version}: what Flux applies to upgrade itself. */
  fluxManifestsUrl: 'oci://ghcr.io/fluxcd/flux-manifests',
  /** Saturday before 6 am, UTC: one batch of updates a week, on a day the owner is around. */
  renovateSchedule: '* 0-5 * * 6',
  nfsMountOptions: ['nfsvers=4.1', 'hard', 'rsize=1048576', 'wsize=1048576'],
  nfsSubDir: '${pvc.metadata.namespace}/${pvc.metadata.name}',
  longhornDataPath: '/var/lib/longhorn',
  alerts: { nfsLatencyMs: 500, volumeUsagePercent: 80, temperatureCelsius: 80 },
  upgrade: { image: 'rancher/k3s-upgrade', controllerRepository: 'https://github.com/rancher/system-upgrade-controller', drainTimeout: '10m' },
  kubeVip: { image: 'ghcr.io/kube-vip/kube-vip' },
  s3: { port: 9000, tls: false, region: 'us-east-1' },
  nasMetricsPort: 9100,
  // Off the nodes: etcd every 6 hours for 5 days; volumes snapshotted hourly on the nodes for a day, backed up nightly for two weeks.
  backup: {
    etcd: { schedule: '0 */6 * * *', retention: 20 },
    snapshot: { schedule: '0 * * * *', retain: 24 },
    backup: { schedule: '0 3 * * *', retain: 14 },
    // The site's RPO of under 5 minutes on the nodes, an hour's snapshots kept there; hourly off the nodes for two days.
    critical: { snapshot: { schedule: '*/5 * * * *', retain: 12 }, backup: { schedule: '0 * * * *', retain: 48 } },
  },
  acmeServer: 'https://acme-v02.api.letsencrypt.org/directory',
  // Security updates only; reboots any night between 2 and 5 am UTC. A reboot waits while any alert fires but these two:
  // Watchdog always fires (it proves the alert pipeline), InfoInhibitor fires whenever an info alert does.
  osUpdates: {
    packages: 'security',
    reboot: { days: ['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su'], start: '02:00', end: '05:00', timeZone: 'UTC', drainTimeout: '30m', ignoreAlerts: ['Watchdog', 'InfoInhibitor'] },
  },
} as const;
