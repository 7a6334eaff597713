// k3s's /etc/rancher/k3s/config.yaml for each node. Values that must be the
// same on every server (disabled components, metrics bindings) come from one
// place here, so a join never fails on "critical configuration value mismatch".
import { parse as parseYaml, stringify } from 'yaml';
import { ETCD_S3_SECRET } from '../site/secrets.ts';
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';

export const CONFIG_FILE = '/etc/rancher/k3s/config.yaml';
/** The join token, 0600 root; config.yaml names it instead of holding the secret. */
export const TOKEN_FILE = '/etc/rancher/k3s/bramble-token';
export const SERVER_TOKEN = '/var/lib/rancher/k3s/server/token';
export const KUBECONFIG = '/etc/rancher/k3s/k3s.yaml';
/** k3s applies every manifest here at start and on each change; deleting a file leaves its objects. */
export const MANIFESTS_DIR = '/var/lib/rancher/k3s/server/manifests';

/** Git owns ingress and storage: k3s's bundled Traefik and local-path are off. */
const DISABLED = ['traefik', 'local-storage'];

export function firstServer(cluster: ClusterSpec): NodeSpec {
  return cluster.servers[0]!;
}

/** The cluster's API: its apiEndpoint when it has one (kube-vip's address or the site's name), else the first server. */
export function apiUrl(cluster: ClusterSpec): string {
  return `https://${cluster.apiEndpoint ?? firstServer(cluster).address}:6443`;
}

function labels(cluster: ClusterSpec, node: NodeSpec): string[] {
  const own = Object.entries(node.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
  return [`bramble.dev/hardware=${node.hardware}`, `bramble.dev/cluster=${cluster.name}`, ...own];
}

export function k3sConfig(cluster: ClusterSpec, node: NodeSpec): string {
  const first = firstServer(cluster);
  const isFirst = node.name === first.name;
  const etcd = cluster.datastore === 'etcd';
  const config: Record<string, unknown> = {
    'node-name': node.name,
    'node-ip': node.address,
    'token-file': TOKEN_FILE,
  };
  if (!isFirst) config.server = apiUrl(cluster);
  if (node.role === 'server') {
    if (isFirst && etcd) config['cluster-init'] = true;
    config['tls-san'] = [...cluster.servers.map((s) => s.address), ...(cluster.apiEndpoint ? [cluster.apiEndpoint] : [])];
    config.disable = DISABLED;
    config['write-kubeconfig-mode'] = '0600';
    // The monitoring stack scrapes these from the node address.
    config['kube-controller-manager-arg'] = ['bind-address=0.0.0.0'];
    config['kube-scheduler-arg'] = ['bind-address=0.0.0.0'];
    if (etcd) config['etcd-expose-metrics'] = true;
    const snapshots = cluster.backup?.etcd;
    if (etcd && snapshots) {
      config['etcd-snapshot-schedule-cron'] = snapshots.schedule;
      config['etcd-snapshot-retention'] = snapshots.retention;
      // Every etcd-s3 setting, the keys included, comes from this Secret (Flux brings it, SOPS-encrypted in Git): no node file holds the keys.
      if (cluster.backup!.target.kind === 's3') {
        config['etcd-s3'] = true;
        config['etcd-s3-config-secret'] = ETCD_S3_SECRET.name;
      }
    }
  }
  config['kube-proxy-arg'] = ['metrics-bind-address=0.0.0.0'];
  config['node-label'] = labels(cluster, node);
  if (node.taints.length > 0) config['node-taint'] = node.taints;
  return `# Written by bramble for node ${node.name} of cluster ${cluster.name}; bramble rewrites it.\n${stringify(config)}`;
}

export function unitName(node: NodeSpec): 'k3s' | 'k3s-agent' {
  return node.role === 'server' ? 'k3s' : 'k3s-agent';
}

/** The top-level settings of a k3s config.yaml that differ between two versions. */
export function changedSettings(before: string, after: string): string[] {
  const read = (text: string): Record<string, unknown> => {
    try {
      const v = parseYaml(text) as unknown;
      return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };
  const a = read(before);
  const b = read(after);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}
