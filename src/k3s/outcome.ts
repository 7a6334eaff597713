// What a k3s run did to each node and cluster: the install's answer, which
// plan, apply, reset and node changes report from.
import { BrambleError, detailOf } from '../base/errors.ts';
import type { NodeSpec } from '../inventory/model.ts';
import type { UpgradeCheck } from './upgrade.ts';

export type Status = 'installed' | 'restarted' | 'unchanged' | 'removed' | 'failed' | 'skipped';

export interface NodeOutcome {
  node: string;
  role: 'server' | 'agent';
  status: Status;
  /** What was prepared or changed on the node (in a dry run: what would be). */
  changes: string[];
  /** The changes that interrupt what runs on the node: a reboot, a k3s restart. */
  disruptive?: string[];
  step?: string;
  detail?: string;
  /** The k3s upgrade the Plans will bring this node, e.g. "v1.35.6+k3s1 -> v1.36.4+k3s1". */
  upgrade?: string;
}

export interface ClusterOutcome {
  cluster: string;
  nodes: NodeOutcome[];
  /** The version change the inventory asks for, as checked against the running cluster. */
  upgrade?: UpgradeCheck;
  kubeconfig?: { file: string; context: string; server: string };
  ok: boolean;
}

export function failed(node: NodeSpec, e: unknown): NodeOutcome {
  return { node: node.name, role: node.role, status: 'failed', changes: [], step: (e instanceof BrambleError && e.step) || 'install', detail: detailOf(e) };
}

export function skipped(node: NodeSpec, why: string): NodeOutcome {
  return { node: node.name, role: node.role, status: 'skipped', changes: [], detail: why };
}
