// k3s upgrades go through Git: the Plans rendered into the repository carry
// the inventory's k3s version, and system-upgrade-controller on the cluster
// does the rest. bramble's part is to refuse, before anything is pushed, a
// version change the cluster cannot take, and to show how far it has got.
import { compareVersions, versionTriple } from '../inventory/rules.ts';
import type { ClusterSpec } from '../inventory/model.ts';
import { BrambleError } from '../base/errors.ts';
import type { Session } from '../ssh/session.ts';
import type { ApiNode } from './cluster.ts';

/** The +k3sN build of a k3s release (0 when there is none). */
function k3sBuild(v: string): number {
  return Number(/\+k3s(\d+)$/.exec(v)?.[1] ?? 0);
}

/** <0, 0, >0 as k3s release `a` is older than, the same as, or newer than `b`. */
export function compareK3s(a: string, b: string): number {
  return compareVersions(a, b) || k3sBuild(a) - k3sBuild(b);
}

/** Whether going from k3s `from` to `to` skips a minor release (or changes the major): Kubernetes upgrades one minor at a time. */
export function skipsMinor(from: string, to: string): boolean {
  const [fromMajor, fromMinor] = versionTriple(from);
  const [toMajor, toMinor] = versionTriple(to);
  return fromMajor !== toMajor || toMinor > fromMinor + 1;
}

export interface UpgradeCheck {
  /** The version the inventory asks for. */
  to: string;
  /** Nodes running an older k3s: the Plans will upgrade them. */
  behind: Array<{ node: string; version: string }>;
  /** Why the change must not be pushed; undefined when it may. */
  problem?: string;
}

/**
 * The upgrade rules, checked against what the API server reports: no
 * downgrade; one minor release at a time (Kubernetes' version skew policy,
 * which k3s follows); and an HA cluster upgrades only with at least three
 * Ready servers, since the Plan takes them down one after another.
 */
export function checkUpgrade(cluster: ClusterSpec, nodes: ApiNode[]): UpgradeCheck {
  const to = cluster.k3sVersion;
  const known = nodes.filter((n): n is ApiNode & { version: string } => Boolean(n.version));
  const behind = known.filter((n) => compareK3s(n.version, to) < 0).map((n) => ({ node: n.name, version: n.version }));
  const check: UpgradeCheck = { to, behind };
  const ahead = known.filter((n) => compareK3s(n.version, to) > 0);
  if (ahead.length > 0) {
    check.problem = `${ahead.map((n) => `${n.name} runs k3s ${n.version}`).join(', ')}, newer than k3s.version ${to}: k3s is not downgraded; set k3s.version to ${ahead[0]!.version} or newer`;
    return check;
  }
  if (behind.length === 0) return check;
  const oldest = [...behind].sort((a, b) => compareK3s(a.version, b.version))[0]!;
  if (skipsMinor(oldest.version, to)) {
    const [fromMajor, fromMinor] = versionTriple(oldest.version);
    check.problem = `${oldest.node} runs k3s ${oldest.version}; going to ${to} skips a minor release, and Kubernetes upgrades one minor release at a time: set k3s.version to the newest v${fromMajor}.${fromMinor + 1} release first, publish, and let the Plans finish`;
    return check;
  }
  if (cluster.servers.length > 1) {
    const servers = nodes.filter((n) => n.role === 'server');
    const ready = servers.filter((n) => n.ready);
    if (ready.length < 3) {
      const down = servers.filter((n) => !n.ready).map((n) => n.name);
      check.problem = `an HA upgrade restarts the servers one at a time and needs at least 3 Ready servers so etcd keeps its quorum; ${ready.length} are Ready${down.length ? ` (${down.join(', ')} not)` : ''}: bring them back before changing k3s.version`;
    }
  }
  return check;
}

/** How far a Plan has got, as system-upgrade-controller reports it. */
export interface PlanProgress {
  name: string;
  version?: string;
  /** Nodes its jobs are working on now. */
  applying: string[];
  complete: boolean;
  /** The Complete condition's message, when it is not complete. */
  message?: string;
}

interface KubePlan {
  metadata: { name: string; namespace?: string };
  spec?: { version?: string };
  status?: { latestVersion?: string; applying?: string[]; conditions?: Array<{ type: string; status: string; message?: string; reason?: string }> };
}

/** The upgrade Plans on the cluster; an empty list when their type is not served yet (no controller). */
export async function readPlans(server: Session): Promise<PlanProgress[]> {
  const r = await server.exec('k3s kubectl get plans.upgrade.cattle.io -A -o json', { sudo: true, check: false, step: 'read upgrade plans' });
  if (r.code !== 0) {
    if (/the server doesn't have a resource type/.test(r.stderr)) return [];
    throw new BrambleError(`the upgrade Plans cannot be read: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`, { step: 'read upgrade plans' });
  }
  const items = (JSON.parse(r.stdout) as { items: KubePlan[] }).items;
  return items
    .filter((p) => (p.metadata.namespace ?? 'system-upgrade') === 'system-upgrade')
    .map((p) => {
      const complete = p.status?.conditions?.find((c) => c.type === 'Complete');
      return {
        name: p.metadata.name,
        version: p.spec?.version ?? p.status?.latestVersion,
        applying: p.status?.applying ?? [],
        complete: complete?.status === 'True',
        message: complete?.status === 'True' ? undefined : complete?.message || complete?.reason || (p.status ? undefined : 'not picked up by system-upgrade-controller yet'),
      };
    });
}

/** One line for `bramble status` and `bramble plan`: where the upgrade to `to` stands. */
export function upgradeLine(check: UpgradeCheck): string {
  if (check.problem) return `k3s upgrade to ${check.to} refused: ${check.problem}`;
  if (check.behind.length === 0) return `k3s ${check.to} on every node`;
  return `k3s upgrade to ${check.to} by the Plans: ${check.behind.map((b) => `${b.node} (${b.version})`).join(', ')} still to go`;
}
