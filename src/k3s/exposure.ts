// What the cluster's API says about how it is reached: the private CA to
// trust on the owner's devices, and the path of Flux's webhook Receiver that
// GitHub calls through the tunnel. Read on a server with k3s's kubectl.
import type { ClusterSpec } from '../inventory/model.ts';
import { PRIVATE_CA } from '../site/secrets.ts';
import type { Session } from '../ssh/session.ts';

/** The CA certificate (PEM) from its Secret, or why it is not there yet. */
export async function readCaCertificate(s: Session): Promise<{ pem: string } | { missing: string }> {
  const r = await s.exec(`k3s kubectl -n ${PRIVATE_CA.namespace} get secret ${PRIVATE_CA.name} -o 'jsonpath={.data.tls\\.crt}'`, { sudo: true, check: false, step: 'read the private CA' });
  if (r.code !== 0 || r.stdout.trim() === '') return { missing: r.stderr.trim().split('\n').pop() || 'cert-manager has not made it yet' };
  return { pem: Buffer.from(r.stdout.trim(), 'base64').toString('utf8') };
}

/** The Receiver's URL as GitHub must be given it, once Flux has made its path. */
export async function receiverUrl(s: Session, cluster: ClusterSpec): Promise<string | undefined> {
  if (!cluster.tunnel?.receiver) return undefined;
  const r = await s.exec("k3s kubectl -n flux-system get receivers.notification.toolkit.fluxcd.io github -o 'jsonpath={.status.webhookPath}'", { sudo: true, check: false, step: "read the webhook Receiver's path" });
  const path = r.code === 0 ? r.stdout.trim() : '';
  return path.startsWith('/hook/') ? `https://${cluster.tunnel.receiver}${path}` : undefined;
}
