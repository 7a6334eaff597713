// What the templates see for one cluster. Templates only place values; every
// decision (sizes, which components, which endpoints) is made here from the
// inventory, so two clusters differ by data, never by copied templates.
import { CHART_REPOS } from '../inventory/defaults.ts';
import { sshUrl, type ClusterSpec, type Inventory } from '../inventory/model.ts';

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
  alerts: Inventory['alerts'] & { nfsLatencySeconds: number };
  k3s: { version: string };
  /** Whether the cluster keeps SOPS-encrypted secrets: its Kustomizations decrypt with sops-age. */
  sops: boolean;
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
    alerts: { ...inv.alerts, nfsLatencySeconds: inv.alerts.nfsLatencyMs / 1000 },
    k3s: { version: cluster.k3sVersion },
    sops: cluster.sops !== undefined,
    upgrade: { ...cluster.upgrade, drainServers: cluster.active.length > 1 },
  };
}
