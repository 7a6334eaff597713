// What the templates see for one cluster. Templates only place values; every
// decision (sizes, which components, which endpoints) is made here from the
// inventory, so two clusters differ by data, never by copied templates.
import { createHash } from 'node:crypto';
import { LONGHORN_S3_SECRET, longhornTarget, promDuration, RECURRING_JOBS, staleAfterMinutes } from '../site/backup.ts';
import { CHART_REPOS, DEFAULTS } from '../inventory/defaults.ts';
import { sshUrl, type ClusterSpec, type Inventory } from '../inventory/model.ts';
import { CLOUDFLARE_TOKEN, NOTIFY_REF, notifyKey, PRIVATE_CA, RECEIVER_TOKEN, TUNNEL_TOKEN } from '../site/secrets.ts';
import { critical, platformTls, type CriticalContext, type TlsContext } from './platform.ts';
import { alertFilter, GATE_LABEL, LOCK_RELEASE_DELAY, OVERDUE_ALERT, overdueHours, UPGRADE_POD_SELECTOR } from '../site/reboots.ts';

export const CLUSTERS_DIR = 'clusters';

export interface ClusterContext {
  cluster: { name: string; environment: string };
  /** The cluster's folder in the repository, e.g. clusters/staging. */
  path: string;
  git: { url: string; branch: string };
  repos: typeof CHART_REPOS;
  servers: Array<{ name: string; address: string }>;
  nodes: Array<{ name: string; address: string }>;
  etcd: boolean;
  longhorn: ClusterSpec['platform']['longhorn'];
  traefik: ClusterSpec['platform']['traefik'];
  monitoring: ClusterSpec['platform']['monitoring'];
  nfs: ClusterSpec['platform']['nfs'];
  nas: { name: string } | undefined;
  /** The NAS's node_exporter, scraped by a cluster that uses the NAS (its NFS exports or its backups). */
  nasMetrics?: { name: string; target: string };
  alerts: Inventory['alerts'] & { nfsLatencySeconds: number };
  k3s: { version: string };
  /** Flux's own manifests, which Flux applies from here on: the OCI repository and the tag. */
  flux: { version: string; manifestsUrl: string; tag: string; plainHttp: boolean; verify: boolean };
  /** Whether the cluster keeps SOPS-encrypted secrets: its Kustomizations decrypt with sops-age. */
  sops: boolean;
  /** The webhook the owner is told through: Flux's Provider type and Alertmanager's receiver config. */
  notifications?: { providerType: string; severity: string; secret: string; alertmanager: string; urlFileKey: string; urlFile: string; channel?: string; chatId?: number };
  /** Longhorn's backup target and recurring jobs, and the limits of the backup alerts. */
  backup?: {
    longhornTarget: string;
    credentialSecret?: string;
    snapshot: { name: string; schedule: string; retain: number };
    backup: { name: string; schedule: string; retain: number };
    staleAfter: string;
  };
  /** Alertmanager's receiver: the webhook (notifications) and e-mail, either or both. */
  alerting: { on: boolean; email: undefined | { smarthost: string; from: string; to: string; username: string | undefined; passwordFile: string | undefined; requireTls: boolean } };
  /** The secret monitoring/notify exists: Alertmanager mounts it. */
  notifySecret: string | undefined;
  tls: TlsContext;
  tunnel?: { hostnames: string[]; receiver: string | undefined; image: string; secret: string; traefik: string; receiverSecret: string; configHash: string };
  scanning?: { version: string; cache: string };
  /** kured: the window, the drain limit, what holds a reboot back, and when a waiting reboot is overdue. */
  osUpdates?: {
    version: string;
    days: string[];
    start: string;
    end: string;
    timeZone: string;
    drainTimeout: string;
    lockReleaseDelay: string;
    alertFilter: string;
    prometheusUrl: string;
    blockingPodSelector: string;
    overdueAlert: string;
    overdueAfter: string;
    gate: { name: string; value: string };
  };
  critical?: CriticalContext;
  /** More than one node: what can run twice does, with a PodDisruptionBudget, so a drain never takes it down. */
  multiNode: boolean;
  secrets: { cloudflare: string; ca: string };
  upgrade: ClusterSpec['upgrade'] & {
    /** Drain a server before its upgrade: only where another node can take its pods. */
    drainServers: boolean;
  };
}

export function clusterContext(inv: Inventory, cluster: ClusterSpec): ClusterContext {
  const pick = (n: { name: string; address: string }) => ({ name: n.name, address: n.address });
  return {
    cluster: { name: cluster.name, environment: cluster.environment },
    path: `${CLUSTERS_DIR}/${cluster.name}`,
    git: { url: sshUrl(inv.git.url), branch: inv.git.branch },
    repos: CHART_REPOS,
    servers: cluster.servers.map(pick),
    nodes: cluster.active.map(pick),
    etcd: cluster.datastore === 'etcd',
    longhorn: cluster.platform.longhorn,
    traefik: cluster.platform.traefik,
    monitoring: cluster.platform.monitoring,
    nfs: cluster.platform.nfs,
    nas: inv.nas && { name: inv.nas.name },
    ...(inv.nas?.metrics && (cluster.platform.nfs || cluster.backup) ? { nasMetrics: { name: inv.nas.name, target: inv.nas.metrics.target } } : {}),
    alerts: { ...inv.alerts, nfsLatencySeconds: inv.alerts.nfsLatencyMs / 1000 },
    k3s: { version: cluster.k3sVersion },
    flux: {
      version: cluster.platform.flux.version,
      manifestsUrl: cluster.platform.flux.manifestsUrl,
      tag: `v${cluster.platform.flux.version}`,
      plainHttp: cluster.platform.flux.plainHttp,
      // Flux's release workflow signs its artifact keylessly; a mirror may not carry the signature.
      verify: cluster.platform.flux.manifestsUrl === DEFAULTS.fluxManifestsUrl,
    },
    sops: cluster.sops !== undefined,
    notifications: cluster.notifications?.type && {
      providerType: cluster.notifications.type,
      severity: cluster.notifications.severity,
      secret: NOTIFY_REF.name,
      // Alertmanager reads the URL from the mounted secret, never from its config.
      alertmanager: { discord: 'discord_configs', slack: 'slack_configs', generic: 'webhook_configs', telegram: 'telegram_configs' }[cluster.notifications.type],
      urlFileKey: { discord: 'webhook_url_file', slack: 'api_url_file', generic: 'url_file', telegram: 'bot_token_file' }[cluster.notifications.type],
      // Where the prometheus-operator mounts alertmanagerSpec.secrets.
      urlFile: `/etc/alertmanager/secrets/${NOTIFY_REF.name}/${notifyKey(cluster.notifications.type)}`,
      // Telegram: the bot token is the secret, the chat is not.
      ...(cluster.notifications.chatId !== undefined ? { channel: String(cluster.notifications.chatId), chatId: cluster.notifications.chatId } : {}),
    },
    backup: cluster.backup && {
      longhornTarget: longhornTarget(cluster, cluster.backup),
      ...(cluster.backup.target.kind === 's3' ? { credentialSecret: LONGHORN_S3_SECRET.name } : {}),
      snapshot: { name: RECURRING_JOBS.snapshot, ...cluster.backup.snapshot },
      backup: { name: RECURRING_JOBS.backup, ...cluster.backup.backup },
      staleAfter: promDuration(staleAfterMinutes(cluster.backup.backup.schedule)),
    },
    alerting: alerting(cluster.notifications),
    notifySecret: cluster.notifications?.type || cluster.notifications?.email?.username ? NOTIFY_REF.name : undefined,
    tls: platformTls(inv, cluster),
    tunnel: cluster.tunnel && {
      hostnames: cluster.tunnel.hostnames,
      receiver: cluster.tunnel.receiver,
      image: `cloudflare/cloudflared:${cluster.tunnel.version}`,
      secret: TUNNEL_TOKEN.name,
      // Traefik's https entry point inside the cluster: the hop from cloudflared never leaves the cluster network.
      traefik: 'https://traefik.traefik.svc.cluster.local:443',
      receiverSecret: RECEIVER_TOKEN.name,
      configHash: createHash('sha256').update(JSON.stringify([cluster.tunnel.hostnames, cluster.tunnel.receiver ?? null])).digest('hex').slice(0, 16),
    },
    scanning: cluster.platform.scanning,
    osUpdates: cluster.osUpdates && {
      version: cluster.osUpdates.version,
      ...cluster.osUpdates.reboot,
      lockReleaseDelay: LOCK_RELEASE_DELAY,
      alertFilter: alertFilter(cluster.osUpdates.reboot.ignoreAlerts),
      // kube-prometheus-stack's Prometheus Service (release kube-prometheus-stack in monitoring).
      prometheusUrl: 'http://kube-prometheus-stack-prometheus.monitoring.svc:9090',
      blockingPodSelector: UPGRADE_POD_SELECTOR,
      overdueAlert: OVERDUE_ALERT,
      overdueAfter: `${overdueHours(cluster.osUpdates.reboot.days)}h`,
      gate: { ...GATE_LABEL },
    },
    critical: critical(cluster),
    multiNode: cluster.active.length > 1,
    secrets: { cloudflare: CLOUDFLARE_TOKEN.name, ca: PRIVATE_CA.name },
    upgrade: { ...cluster.upgrade, drainServers: cluster.active.length > 1 },
  };
}

function alerting(n: ClusterSpec['notifications']): ClusterContext['alerting'] {
  const e = n?.email;
  return {
    on: n !== undefined,
    email: e && {
      smarthost: e.smarthost,
      from: e.from,
      to: e.to.join(', '),
      username: e.username,
      passwordFile: e.username ? `/etc/alertmanager/secrets/${NOTIFY_REF.name}/smtp-password` : undefined,
      requireTls: e.requireTls,
    },
  };
}
