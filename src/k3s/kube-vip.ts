// kube-vip holds an HA cluster's API address (apiEndpoint) on one server at a
// time and moves it when that server stops; with an ingressAddress it also
// holds Traefik's one address (its services mode, for Services of its class). It has to answer before a second
// server joins, long before Flux exists, so it is not in Git: like the k3s
// documentation's own recipe, its manifest goes into every server's
// auto-deploy folder, which k3s applies at start and on every change.
//
// The objects are built with kubernetes-models and validated against the
// Kubernetes API schemas before anything is written. The environment names
// and the RBAC rules are those of kube-vip's `kube-vip manifest daemonset`
// generator at the pinned release (pkg/kubevip/config_envvar.go and
// config_generator.go at v1.2.3).
import { stringify } from 'yaml';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { ClusterSpec } from '../inventory/model.ts';
import { BrambleError } from '../base/errors.ts';
import { shQuote, type Session } from '../ssh/session.ts';
import { apiUrl, MANIFESTS_DIR } from './config.ts';
import { ensureFile } from './files.ts';

export const KUBE_VIP_MANIFEST = `${MANIFESTS_DIR}/bramble-kube-vip.yaml`;
export const KUBE_VIP_NAMESPACE = 'kube-system';
/** The names kube-vip's own generator gives these objects, so its documentation applies as written. */
export const KUBE_VIP_OBJECTS = [
  { kind: 'daemonset', name: 'kube-vip-ds', namespaced: true },
  { kind: 'serviceaccount', name: 'kube-vip', namespaced: true },
  { kind: 'clusterrolebinding', name: 'system:kube-vip-binding', namespaced: false },
  { kind: 'clusterrole', name: 'system:kube-vip-role', namespaced: false },
] as const;

type KubeVip = NonNullable<ClusterSpec['kubeVip']>;

function objects(vip: KubeVip) {
  const labels = { 'app.kubernetes.io/name': 'kube-vip-ds', 'app.kubernetes.io/version': vip.version, 'app.kubernetes.io/managed-by': 'bramble' };
  const cp = vip.address !== undefined;
  const env: Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }> = [
    { name: 'vip_arp', value: 'true' },
    ...(cp ? [{ name: 'port', value: '6443' }] : []),
    { name: 'vip_nodename', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    // Without an interface kube-vip takes the one of the default route.
    ...(vip.interface ? [{ name: 'vip_interface', value: vip.interface }] : []),
    { name: 'vip_subnet', value: '32' },
    { name: 'cp_enable', value: String(cp) },
    ...(cp ? [{ name: 'cp_namespace', value: KUBE_VIP_NAMESPACE }] : []),
    { name: 'svc_enable', value: String(vip.ingress !== undefined) },
    ...(vip.ingress
      ? [
          // A holder per Service, chosen among nodes with a local endpoint when the
          // Service keeps traffic local; only Services of kube-vip's class, the rest
          // are ServiceLB's.
          { name: 'svc_election', value: 'true' },
          { name: 'lb_class_only', value: 'true' },
        ]
      : []),
    ...(cp
      ? [
          // One holder at a time: without the election every server would answer ARP for the address.
          { name: 'vip_leaderelection', value: 'true' },
          { name: 'vip_leasename', value: 'plndr-cp-lock' },
          // The generator's defaults, not the 5/3/1 of some guides: a Pi's etcd under load
          // can miss a 3 s renewal, and a lost lease moves the address for nothing.
          { name: 'vip_leaseduration', value: '15' },
          { name: 'vip_renewdeadline', value: '10' },
          { name: 'vip_retryperiod', value: '2' },
          { name: 'address', value: vip.address },
        ]
      : []),
  ];
  return [
    new ServiceAccount({ metadata: { name: 'kube-vip', namespace: KUBE_VIP_NAMESPACE } }),
    new ClusterRole({
      metadata: { name: 'system:kube-vip-role' },
      rules: [
        { apiGroups: [''], resources: ['services/status'], verbs: ['update'] },
        { apiGroups: [''], resources: ['services', 'endpoints'], verbs: ['list', 'get', 'watch', 'update'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'get', 'watch', 'update', 'patch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['list', 'get', 'watch', 'update', 'create'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'get', 'watch', 'update'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      ],
    }),
    new ClusterRoleBinding({
      metadata: { name: 'system:kube-vip-binding' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kube-vip-role' },
      subjects: [{ kind: 'ServiceAccount', name: 'kube-vip', namespace: KUBE_VIP_NAMESPACE }],
    }),
    new DaemonSet({
      metadata: { name: 'kube-vip-ds', namespace: KUBE_VIP_NAMESPACE, labels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'kube-vip-ds' } },
        template: {
          metadata: { labels },
          spec: {
            // Servers only: the address is the API server's, and they may carry taints.
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] }],
                },
              },
            },
            tolerations: [
              { effect: 'NoSchedule', operator: 'Exists' },
              { effect: 'NoExecute', operator: 'Exists' },
            ],
            hostNetwork: true,
            priorityClassName: 'system-node-critical',
            serviceAccountName: 'kube-vip',
            containers: [
              {
                name: 'kube-vip',
                image: `${vip.image}:${vip.version}`,
                imagePullPolicy: 'IfNotPresent',
                args: ['manager'],
                env,
                securityContext: { capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } },
                resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
              },
            ],
          },
        },
      },
    }),
  ];
}

/** The manifest for a cluster's servers' auto-deploy folder, validated; undefined when the cluster runs no kube-vip. */
export function kubeVipManifest(cluster: ClusterSpec): string | undefined {
  if (!cluster.kubeVip) return undefined;
  const docs = objects(cluster.kubeVip);
  for (const d of docs) {
    try {
      d.validate();
    } catch (e) {
      throw new BrambleError(`kube-vip manifest for cluster ${cluster.name}: ${d.kind} ${d.metadata?.name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const holds = [cluster.kubeVip.address && `the API address ${cluster.kubeVip.address}`, cluster.kubeVip.ingress && `Traefik's address ${cluster.kubeVip.ingress}`].filter(Boolean).join(' and ');
  const head = `# Written by bramble for cluster ${cluster.name}: kube-vip ${cluster.kubeVip.version} holds ${holds}.\n# k3s applies this folder; bramble rewrites this file from the inventory (k3s.kubeVip).\n`;
  return head + docs.map((d) => stringify(d.toJSON(), { lineWidth: 0 })).join('---\n');
}

export interface ApiAddressProbe {
  url: string;
  answers: boolean;
  /** kubectl's last line when it does not answer. */
  detail: string;
}

/**
 * Ask the API at the cluster's address, from a server with its admin
 * credentials: it answers once kube-vip has taken the address (or the site's
 * name leads to a server) and the serving certificate names it.
 */
export async function probeApiAddress(server: Session, cluster: ClusterSpec): Promise<ApiAddressProbe> {
  const url = apiUrl(cluster);
  const r = await server.exec(`k3s kubectl --server ${shQuote(url)} --request-timeout=5s get --raw=/readyz`, { sudo: true, check: false, step: 'ask the API address' });
  return { url, answers: r.code === 0, detail: r.stderr.trim().split('\n').pop() ?? '' };
}

/** The server kube-vip's leader lease names, when it holds one. */
export async function kubeVipHolder(server: Session): Promise<string | undefined> {
  const lease = await server.exec(`k3s kubectl get lease plndr-cp-lock -n ${KUBE_VIP_NAMESPACE} -o json`, { sudo: true, check: false, step: 'read the kube-vip lease' });
  if (lease.code !== 0) return undefined;
  try {
    return (JSON.parse(lease.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;
  } catch {
    return undefined;
  }
}

/**
 * kube-vip's manifest in a server's auto-deploy folder when the cluster runs
 * it, and gone when it no longer does, with its objects (k3s leaves them when
 * the file goes).
 */
export async function placeKubeVip(s: Session, cluster: ClusterSpec, isFirst: boolean, dryRun: boolean | undefined, read = s.readFile(KUBE_VIP_MANIFEST, { sudo: true, step: 'read the kube-vip manifest' })): Promise<string[]> {
  const manifest = kubeVipManifest(cluster);
  const verb = dryRun ? 'write' : 'wrote';
  if (manifest) {
    const before = await ensureFile(s, KUBE_VIP_MANIFEST, manifest, 0o600, 'write the kube-vip manifest', { dryRun, read });
    return before === false ? [] : [`${verb} ${KUBE_VIP_MANIFEST} (kube-vip ${cluster.kubeVip!.version} holding ${[cluster.kubeVip!.address, cluster.kubeVip!.ingress].filter(Boolean).join(' and ')})`];
  }
  const old = await read;
  if (old === undefined) return [];
  if (dryRun) return [`remove ${KUBE_VIP_MANIFEST}${isFirst ? ' and the kube-vip objects' : ''} (the inventory no longer asks for kube-vip)`];
  // The objects go first, while the file is still there to retry from if this fails.
  if (isFirst) await retireKubeVip(s);
  await s.exec(`rm -f ${KUBE_VIP_MANIFEST}`, { sudo: true, step: 'remove the kube-vip manifest' });
  return [`removed ${KUBE_VIP_MANIFEST}${isFirst ? ' and the kube-vip objects' : ''} (the inventory no longer asks for kube-vip)`];
}

/** Delete the kube-vip objects a former manifest created; k3s does not when the file goes. */
async function retireKubeVip(first: Session): Promise<void> {
  const names = KUBE_VIP_OBJECTS.map((o) => `${o.kind}/${o.name}`);
  const namespaced = KUBE_VIP_OBJECTS.filter((o) => o.namespaced).map((o) => `${o.kind}/${o.name}`);
  const cluster = names.filter((n) => !namespaced.includes(n));
  await first.exec(`k3s kubectl delete -n ${KUBE_VIP_NAMESPACE} --ignore-not-found ${namespaced.join(' ')} && k3s kubectl delete --ignore-not-found ${cluster.map(shQuote).join(' ')}`, { sudo: true, step: 'delete kube-vip' });
}
