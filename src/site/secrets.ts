// The secrets a cluster needs, derived once from the validated inventory:
// each one's name, keys, why it is needed and the command that sets it. The
// templates that read them, the publish check that refuses a push without
// them, and the commands that write them all take the names from here.
import type { ClusterSpec } from '../inventory/model.ts';

// What every part of bramble agrees on about secrets in Git, without loading
// the cryptography (render needs these names, not the ciphers).

/** What bramble encrypts in a Kubernetes object: the values under data and stringData, never its kind or name. */
export const ENCRYPTED_REGEX = '^(data|stringData)$';
/** The secret in flux-system holding a cluster's age identity; Flux reads keys whose names end in .agekey. */
export const SOPS_AGE_SECRET = 'sops-age';
export const SOPS_AGE_KEY = 'identity.agekey';

export interface SecretRef {
  namespace: string;
  name: string;
}

/** The webhook URL (or Telegram's bot token) and the SMTP password: mounted into Alertmanager, read by Flux's Provider. */
export const NOTIFY_REF: SecretRef = { namespace: 'monitoring', name: 'notify' };
export const GRAFANA_ADMIN: SecretRef = { namespace: 'monitoring', name: 'grafana-admin' };
export const LONGHORN_S3_SECRET: SecretRef = { namespace: 'longhorn-system', name: 'backup-s3' };
export const ETCD_S3_SECRET: SecretRef = { namespace: 'kube-system', name: 'k3s-etcd-snapshot-s3-config' };
/** cert-manager's DNS-01 solver: a Cloudflare API token with Zone:DNS:Edit on the domain. */
export const CLOUDFLARE_TOKEN: SecretRef = { namespace: 'cert-manager', name: 'cloudflare-api-token' };
/** The private CA's certificate and key, where the CA issuer reads them. */
export const PRIVATE_CA: SecretRef = { namespace: 'cert-manager', name: 'bramble-ca' };
export const TUNNEL_TOKEN: SecretRef = { namespace: 'cloudflared', name: 'tunnel' };
/** The token GitHub signs its webhook calls with, shared with Flux's Receiver. */
export const RECEIVER_TOKEN: SecretRef = { namespace: 'flux-system', name: 'github-receiver' };

/** Where a cluster's SOPS-encrypted Secrets live in the repository. */
export function secretsDir(cluster: { name: string }): string {
  return `clusters/${cluster.name}/secrets`;
}

export function secretFile(cluster: { name: string }, ref: SecretRef): string {
  return `${secretsDir(cluster)}/${ref.namespace}-${ref.name}.sops.yaml`;
}

/** The private CA's subject: names the site and the cluster, so a device that trusts it shows whose it is. */
export function caCommonName(site: string, cluster: string): string {
  return `bramble ${site} ${cluster} CA`;
}

/** The key of NOTIFY_REF that Flux's Provider of this type reads. */
export function notifyKey(type: string): 'address' | 'token' {
  return type === 'telegram' ? 'token' : 'address';
}

export interface RequiredSecret {
  ref: SecretRef;
  keys: string[];
  /** Completes "cluster NAME ...": why the cluster needs it, for the line that says it is missing. */
  need: string;
  /** The command that writes it; absent for the ones bramble generates at publish. */
  command?: string;
}

/**
 * Every Secret the cluster's rendered files read, when it keeps its secrets
 * in Git. Without them pods never start (Alertmanager, cloudflared) or
 * certificates are never issued, so a publish refuses to push without the
 * ones the owner sets, and makes the others itself.
 */
export function requiredSecrets(cluster: ClusterSpec): RequiredSecret[] {
  if (!cluster.sops) return [];
  const c = cluster.name;
  const set = (ref: SecretRef, key: string) => `bramble secret set -c ${c} ${ref.namespace}/${ref.name} ${key}`;
  const out: RequiredSecret[] = [{ ref: GRAFANA_ADMIN, keys: ['admin-user', 'admin-password'], need: "logs in to Grafana with the admin password made here by bramble publish" }];
  const n = cluster.notifications;
  if (n?.type) {
    const key = notifyKey(n.type);
    out.push({ ref: NOTIFY_REF, keys: [key], need: `sends notifications to a ${n.type === 'telegram' ? 'Telegram bot whose token' : 'webhook whose URL'} goes here first`, command: set(NOTIFY_REF, key) });
  }
  if (n?.email?.username) {
    out.push({ ref: NOTIFY_REF, keys: ['smtp-password'], need: `sends alerts by e-mail through ${n.email.smarthost} as ${n.email.username}, whose password goes here first`, command: set(NOTIFY_REF, 'smtp-password') });
  }
  if (cluster.backup?.target.kind === 's3') {
    const need = "backs up to the NAS's S3 service, whose access keys go here first";
    const command = `bramble backup credentials -c ${c}`;
    out.push({ ref: LONGHORN_S3_SECRET, keys: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], need, command });
    if (cluster.backup.etcd) out.push({ ref: ETCD_S3_SECRET, keys: ['etcd-s3-access-key', 'etcd-s3-secret-key'], need, command });
  }
  if (cluster.platform.tls.issuer === 'letsencrypt') {
    out.push({ ref: CLOUDFLARE_TOKEN, keys: ['api-token'], need: "answers Let's Encrypt's DNS-01 challenges with a Cloudflare API token (Zone:DNS:Edit), which goes here first", command: set(CLOUDFLARE_TOKEN, 'api-token') });
  } else {
    out.push({ ref: PRIVATE_CA, keys: ['tls.crt', 'tls.key'], need: 'signs its certificates with the private CA made here by bramble publish' });
  }
  if (cluster.tunnel) {
    out.push({ ref: TUNNEL_TOKEN, keys: ['token'], need: 'runs a Cloudflare Tunnel whose token (cloudflared tunnel token NAME) goes here first', command: set(TUNNEL_TOKEN, 'token') });
    if (cluster.tunnel.receiver) out.push({ ref: RECEIVER_TOKEN, keys: ['token'], need: "checks GitHub's webhook calls with the token made here by bramble publish" });
  }
  return out;
}
