// The cluster as its API server sees it, read on a server over SSH: one
// reader for install (Ready waits), status, and the node commands (quorum).
import type { Session } from '../ssh/session.ts';

export interface ApiNode {
  name: string;
  role: 'server' | 'agent';
  ready: boolean;
  /** "Ready=False (message)" style text for messages, when not Ready. */
  why?: string;
  version?: string;
  unschedulable: boolean;
}

interface KubeNode {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { conditions?: Array<{ type: string; status: string; message?: string }>; nodeInfo?: { kubeletVersion?: string } };
}

/** The node list, or why the API did not give one. */
export async function readApiNodes(server: Session, step = 'read nodes'): Promise<{ nodes: ApiNode[] } | { error: string }> {
  const r = await server.exec('k3s kubectl get nodes -o json', { sudo: true, check: false, step });
  if (r.code !== 0) return { error: `the API does not answer (${r.stderr.trim().split('\n').pop() || `exit ${r.code}`})` };
  let items: KubeNode[];
  try {
    items = (JSON.parse(r.stdout) as { items: KubeNode[] }).items;
  } catch {
    return { error: 'the API answered with something that is not JSON' };
  }
  return {
    nodes: items.map((i) => {
      const ready = i.status?.conditions?.find((c) => c.type === 'Ready');
      return {
        name: i.metadata.name,
        role: i.metadata.labels?.['node-role.kubernetes.io/control-plane'] === 'true' ? 'server' : 'agent',
        ready: ready?.status === 'True',
        why: ready?.status === 'True' ? undefined : `Ready=${ready?.status ?? 'unknown'}${ready?.message ? ` (${ready.message})` : ''}`,
        version: i.status?.nodeInfo?.kubeletVersion,
        unschedulable: i.spec?.unschedulable === true,
      };
    }),
  };
}

/**
 * Why taking `name` out of the cluster's servers would cost etcd its quorum,
 * or undefined when it would not: the servers left must have a majority of
 * themselves Ready. The last server is never removed this way.
 */
export function quorumProblem(nodes: ApiNode[], name: string): string | undefined {
  const servers = nodes.filter((n) => n.role === 'server');
  const left = servers.filter((n) => n.name !== name);
  if (left.length === 0) return `${name} is the cluster's only server: without it there is no cluster (bramble reset removes a whole cluster)`;
  const ready = left.filter((n) => n.ready);
  const need = Math.floor(left.length / 2) + 1;
  if (ready.length >= need) return undefined;
  const down = left.filter((n) => !n.ready).map((n) => n.name);
  return `removing ${name} would leave ${left.length} etcd member(s) with only ${ready.length} Ready, and etcd needs ${need} for quorum: bring ${down.join(', ')} back first`;
}
