// From the checked inventory to the model: every default filled in, every
// reference followed (a cluster's NAS, its VLAN, its datastore and API address).
import ipaddr from 'ipaddr.js';
import { PINNED, PROFILES, DEFAULTS } from './defaults.ts';
import { type SshSettings, type Vlan, type NodeSpec, type Nas, type BackupTarget, type BackupSpec, type TlsSpec, type OsUpdatesSpec, type ClusterSpec, type Inventory, gitHostOf, deepMerge, mergedPlatform, defaultReplicas } from './model.ts';
import type { RawInventory, RawOsUpdates, RawPlatform, RawSsh, RawVlan } from './schema.ts';

function ssh(...layers: Array<RawSsh | undefined>): SshSettings {
  return deepMerge<SshSettings>(DEFAULTS.ssh as SshSettings, ...layers);
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
      osUpdates: osUpdatesSpec(raw.site.osUpdates, c.osUpdates),
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

/** A cluster's own osUpdates over the site's; off unless one of them turns it on. */
function osUpdatesSpec(site: RawOsUpdates | undefined, own: RawOsUpdates | undefined): OsUpdatesSpec | undefined {
  if (!site && !own) return undefined;
  const o = deepMerge<RawOsUpdates>(site, own);
  if (o.enabled === false) return undefined;
  const d = DEFAULTS.osUpdates;
  return {
    packages: o.packages ?? d.packages,
    reboot: {
      days: [...(o.reboot?.days ?? d.reboot.days)],
      start: o.reboot?.start ?? d.reboot.start,
      end: o.reboot?.end ?? d.reboot.end,
      timeZone: o.reboot?.timeZone ?? d.reboot.timeZone,
      drainTimeout: o.reboot?.drainTimeout ?? d.reboot.drainTimeout,
      ignoreAlerts: [...(o.reboot?.ignoreAlerts ?? d.reboot.ignoreAlerts)],
    },
    version: o.version ?? PINNED.kured,
  };
}
