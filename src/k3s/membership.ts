// Taking a node out of a running cluster, and putting a new board in the
// place of a dead one, without losing etcd quorum. Each is planned first from
// what the cluster says (its node list, who is Ready), then carried out step
// by step through one of the cluster's other servers.
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import { shQuote, SshError, type Session } from '../ssh/session.ts';
import { quorumProblem, readApiNodes, type ApiNode } from './cluster.ts';
import { firstServer } from './config.ts';
import type { NodeOutcome } from './outcome.ts';
import { uninstallNode } from './reset.ts';

export type NodeAction = 'remove' | 'replace';

export interface NodePlan {
  action: NodeAction;
  cluster: string;
  node: string;
  role: 'server' | 'agent';
  /** The server the cluster is read and changed through. */
  via: string;
  /** What the node is in the API now: absent, or Ready or not. */
  inApi: 'absent' | 'ready' | 'not-ready';
  /** Each step, in order, as the owner reads it. */
  steps: string[];
  /** Why it cannot go ahead; nothing is changed then. */
  refused?: string;
  /** What the owner does afterwards. */
  after: string[];
}

export interface PlanInput {
  action: NodeAction;
  cluster: ClusterSpec;
  node: NodeSpec;
  via: { node: NodeSpec; session: Session };
  /** A session on the node's board when it answered; for replace, the new board. */
  board?: Session;
  /** Why the board could not be reached. */
  boardError?: string;
  /** What is installed on the board (from install's own reader). */
  boardK3s?: 'absent' | 'partial' | 'complete';
  drainTimeoutS: number;
}

export async function planNodeChange(i: PlanInput): Promise<NodePlan> {
  const { action, cluster, node } = i;
  const plan: NodePlan = { action, cluster: cluster.name, node: node.name, role: node.role, via: i.via.node.name, inApi: 'absent', steps: [], after: [] };
  const first = firstServer(cluster);
  if (node.name === first.name) {
    plan.refused =
      cluster.servers.length === 1
        ? `${node.name} is the cluster's only server: without it there is no cluster. ${action === 'replace' ? 'A new board there starts a new, empty cluster; restore it from a backup instead.' : 'bramble reset removes a whole cluster.'}`
        : `${node.name} is the first server in the inventory, the one every other node's k3s config names to join through (and a new board there would start a cluster of its own). Move another server to the top of the cluster's nodes in the inventory and run apply first, then ${action} ${node.name}.`;
    return plan;
  }
  const read = await readApiNodes(i.via.session);
  if ('error' in read) {
    plan.refused = `the cluster cannot be read through ${i.via.node.name}: ${read.error}`;
    return plan;
  }
  const current: ApiNode | undefined = read.nodes.find((n) => n.name === node.name);
  plan.inApi = !current ? 'absent' : current.ready ? 'ready' : 'not-ready';
  if (current && node.role === 'server') {
    const why = quorumProblem(read.nodes, node.name);
    if (why) {
      plan.refused = why;
      return plan;
    }
  }

  if (action === 'remove') {
    if (current?.ready) {
      plan.steps.push(`cordon ${node.name}: no new pods go there`);
      plan.steps.push(`drain ${node.name}: evict its pods (up to ${i.drainTimeoutS} s; DaemonSet pods stay)`);
    } else if (current) {
      plan.steps.push(`${node.name} is not Ready (${current.why}): its pods cannot be drained; Kubernetes moves them once the Node is deleted`);
    }
    // The board's k3s goes before its Node: a running kubelet would register the Node again.
    if (i.board && i.boardK3s !== 'absent') plan.steps.push(`uninstall k3s on ${node.name} and remove bramble's files there`);
    else if (i.board) plan.steps.push(`${node.name} has no k3s installed: nothing to uninstall`);
    else plan.steps.push(`${node.name} cannot be reached (${i.boardError ?? 'no answer'}): its board keeps k3s; wipe it or run its uninstall script before it is powered on again, or it registers again`);
    if (current) plan.steps.push(`delete the Node ${node.name}${node.role === 'server' ? ', and with it its etcd member' : ''}`);
    else plan.steps.push(`${node.name} is not in the cluster's node list: nothing to delete there`);
    plan.after.push(`Remove ${node.name} from the inventory, or mark it "planned: true"; otherwise the next apply joins it again.`);
    return plan;
  }

  // replace: the board at this name and address is new (or wiped).
  if (!i.board) {
    plan.refused = `the new board for ${node.name} cannot be reached: ${i.boardError ?? 'no answer'}`;
    return plan;
  }
  if (current) plan.steps.push(`delete the Node ${node.name} (the old board's registration${node.role === 'server' ? ' and its etcd member' : ''}), so the new board can join under the same name`);
  else plan.steps.push(`${node.name} is not in the cluster's node list: nothing of the old board to delete`);
  if (i.boardK3s !== 'absent') plan.steps.push(`remove the k3s found on the board (${i.boardK3s} install), so it joins from scratch`);
  plan.steps.push(`join ${node.name} as ${node.role === 'server' ? 'a server' : 'an agent'} (install k3s ${cluster.k3sVersion}) and wait until it is Ready`);
  return plan;
}

export function planLines(p: NodePlan): string[] {
  const head = `${p.action} ${p.node} (${p.role}) in cluster ${p.cluster}, through ${p.via}:`;
  if (p.refused) return [head, `  refused: ${p.refused}`, 'Nothing was changed.'];
  return [head, ...p.steps.map((s, n) => `  ${n + 1}. ${s}`), ...p.after.map((a) => `Afterwards: ${a}`)];
}

/** Cordon and drain the node through `via`, when it is Ready. */
async function cordonAndDrain(via: Session, p: NodePlan, drainTimeoutS: number, note: (l: string) => void): Promise<void> {
  if (p.inApi !== 'ready') return;
  const n = shQuote(p.node);
  note(`cordoning ${p.node}`);
  await via.exec(`k3s kubectl cordon ${n}`, { sudo: true, step: `cordon ${p.node}` });
  note(`draining ${p.node}`);
  const drained = await via.exec(`k3s kubectl drain ${n} --ignore-daemonsets --delete-emptydir-data --timeout=${drainTimeoutS}s`, {
    sudo: true,
    check: false,
    step: `drain ${p.node}`,
    timeoutMs: (drainTimeoutS + 30) * 1000,
  });
  if (drained.code !== 0) {
    throw new SshError(
      p.via,
      `drain ${p.node}`,
      `${drained.stderr.trim().split('\n').pop() || `exit ${drained.code}`}. ${p.node} stays cordoned and in the cluster; nothing else was changed. Find what blocks the drain (a PodDisruptionBudget, a pod without a controller) and run again, or uncordon it (k3s kubectl uncordon ${p.node}).`,
    );
  }
}

/** Delete the Node object (for a server, k3s takes its etcd member out with it). */
export async function deleteNode(via: Session, p: NodePlan, note: (l: string) => void): Promise<void> {
  if (p.inApi === 'absent') return;
  note(`deleting the Node ${p.node}`);
  await via.exec(`k3s kubectl delete node ${shQuote(p.node)}`, { sudo: true, step: `delete node ${p.node}` });
}

/** remove: cordon and drain, k3s off the board when it answers, then the Node. */
export async function removeNode(via: Session, board: Session | undefined, node: NodeSpec, p: NodePlan, drainTimeoutS: number, note: (l: string) => void): Promise<NodeOutcome | undefined> {
  await cordonAndDrain(via, p, drainTimeoutS, note);
  const uninstalled = board ? await uninstallNode(board, node, note) : undefined;
  await deleteNode(via, p, note);
  return uninstalled;
}
