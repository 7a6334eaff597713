// What the cluster's API says about how it is reached: the private CA to
// trust on the owner's devices, and the path of Flux's webhook Receiver that
// GitHub calls through the tunnel. Read on a server with k3s's kubectl.
import type { ClusterSpec } from '../inventory/model.ts';
import { PRIVATE_CA } from '../site/secrets.ts';
import type { Session } from '../ssh/session.ts';

/** The CA certificate (PEM) from its Secret, or why it is not there yet. */
export async function readCaCertificate(s: Session): Promise<{ pem: string } | { missing: string }> {
  const r = await s.exec(`k3s kubectl get secret ${PRIVATE_CA.name} -n ${PRIVATE_CA.namespace} -o json`, { sudo: true, check: false, step: 'read the private CA' });
  if (r.code !== 0) return { missing: r.stderr.trim().split('\n').pop() || 'cert-manager has not made it yet' };
  let crt: unknown;
  try {
    crt = (JSON.parse(r.stdout) as { data?: Record<string, unknown> }).data?.['tls.crt'];
  } catch {
    return { missing: 'the API answered with something that is not a Secret' };
  }
  const pem = typeof crt === 'string' ? Buffer.from(crt, 'base64').toString('utf8') : '';
  return /^-----BEGIN CERTIFICATE-----/.test(pem) ? { pem } : { missing: 'its Secret holds no certificate yet' };
}

/** The Receiver's URL as GitHub must be given it, once Flux has made its path. */
export async function receiverUrl(s: Session, cluster: ClusterSpec): Promise<string | undefined> {
  if (!cluster.tunnel?.receiver) return undefined;
  const r = await s.exec('k3s kubectl get receivers.notification.toolkit.fluxcd.io github -n flux-system -o json', { sudo: true, check: false, step: "read the webhook Receiver's path" });
  let path: unknown;
  try {
    path = r.code === 0 ? (JSON.parse(r.stdout) as { status?: { webhookPath?: unknown } }).status?.webhookPath : undefined;
  } catch {
    path = undefined;
  }
  return typeof path === 'string' && path.startsWith('/hook/') ? `https://${cluster.tunnel.receiver}${path}` : undefined;
}
