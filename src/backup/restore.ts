// Restoring an HA cluster's etcd from a snapshot, k3s's documented way,
// driven over SSH: every server stopped; the first server reset onto the
// snapshot (`k3s server --cluster-reset --cluster-reset-restore-path`) and
// started alone; then each other server, its old etcd data removed, started
// and waited for one at a time. The plan is shown before anything is done.
import { firstServer } from '../k3s/config.ts';
import { waitReady } from '../k3s/ready.ts';
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import { shQuote, type Session } from '../ssh/session.ts';
import type { Io } from '../base/io.ts';
import { BrambleError } from '../base/errors.ts';

/** Where k3s keeps a server's snapshots unless etcd-snapshot-dir says otherwise (bramble does not). */
export const SNAPSHOT_DIR = '/var/lib/rancher/k3s/server/db/snapshots';
const DB_DIR = '/var/lib/rancher/k3s/server/db';

export class RestoreError extends BrambleError {}

export interface LocalSnapshot {
  node: string;
  name: string;
  path: string;
  bytes: number;
  created: Date;
}

/** The snapshot files on one server's disk, newest first. */
export async function listLocalSnapshots(s: Session, node: NodeSpec): Promise<LocalSnapshot[]> {
  const r = await s.exec(`[ -d ${SNAPSHOT_DIR} ] || exit 0; find ${SNAPSHOT_DIR} -maxdepth 1 -type f -printf '%f\\t%s\\t%T@\\n'`, { sudo: true, check: false, step: 'list etcd snapshots' });
  if (r.code !== 0) throw new RestoreError(`${node.name}: cannot list ${SNAPSHOT_DIR}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'))
    .map(([name, bytes, at]) => ({ node: node.name, name: name!, path: `${SNAPSHOT_DIR}/${name}`, bytes: Number(bytes), created: new Date(Number(at) * 1000) }))
    .sort((a, b) => b.created.getTime() - a.created.getTime());
}

export interface RestorePlan {
  snapshot: LocalSnapshot;
  /** The server reset onto the snapshot: the cluster's first server, which starts the cluster alone. */
  first: NodeSpec;
  /** The snapshot is copied there first when another server holds it. */
  copy: boolean;
  others: NodeSpec[];
  /** Where each other server's old etcd data is moved. */
  aside: string;
  steps: string[];
}

/** The plan for restoring `name`, found among the servers' snapshots; refused with the names there are when it is not found. */
export function restorePlan(cluster: ClusterSpec, found: LocalSnapshot[], name: string, now = new Date()): RestorePlan {
  if (cluster.datastore !== 'etcd') throw new RestoreError(`cluster ${cluster.name} runs sqlite on one server: there is no etcd snapshot to restore (docs/backup.md)`);
  const first = firstServer(cluster);
  const matches = found.filter((f) => f.name === name);
  if (matches.length === 0) {
    const names = [...new Set(found.map((f) => f.name))].slice(0, 10);
    throw new RestoreError(`no snapshot ${name} on the servers of cluster ${cluster.name}; ${names.length ? `newest there: ${names.join(', ')}` : 'they hold none'} (bramble backup status lists them; a snapshot only in S3 is restored by hand, docs/backup.md)`);
  }
  const snapshot = matches.find((m) => m.node === first.name) ?? matches[0]!;
  const others = cluster.servers.filter((s) => s.name !== first.name);
  const copy = snapshot.node !== first.name;
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const steps = [
    `stop k3s on every server: ${cluster.servers.map((s) => s.name).join(', ')} (the API is down until step ${copy ? 4 : 3}; agents keep their pods and reconnect)`,
    ...(copy ? [`copy ${snapshot.name} (${snapshot.bytes} bytes) from ${snapshot.node} to ${first.name}:${SNAPSHOT_DIR}`] : []),
    `on ${first.name}: k3s server --cluster-reset --cluster-reset-restore-path=${SNAPSHOT_DIR}/${snapshot.name} (etcd becomes the snapshot, ${first.name} its only member; k3s keeps the old data in ${DB_DIR}/etcd-old)`,
    `start k3s on ${first.name} and wait until it is Ready`,
    // k3s's docs delete the folder; moving it aside does the same for etcd and keeps that server's own snapshots.
    ...others.map((o) => `on ${o.name}: move ${DB_DIR} (its old etcd member and snapshots) aside to ${DB_DIR}-before-restore-${stamp}, start k3s, wait until it is Ready`),
  ];
  return { snapshot, first, copy, others, aside: `${DB_DIR}-before-restore-${stamp}`, steps };
}

/**
 * Run a restore plan. Sessions are by node name, one for every server. Each
 * step is printed as it starts; a failed step stops the restore there, and
 * says which steps are done.
 */
export async function runRestore(plan: RestorePlan, sessions: Map<string, Session>, io: Pick<Io, 'out'>, readyTimeoutMs: number): Promise<void> {
  const on = (n: NodeSpec) => sessions.get(n.name)!;
  const servers = [plan.first, ...plan.others];
  let step = 0;
  const next = () => io.out(`  ${++step}. ${plan.steps[step - 1]}`);

  next();
  for (const n of servers) await on(n).exec('systemctl stop k3s', { sudo: true, step: 'stop k3s' });
  if (plan.copy) {
    next();
    const from = sessions.get(plan.snapshot.node)!;
    const data = Buffer.from((await from.exec(`base64 -w0 ${shQuote(plan.snapshot.path)}`, { sudo: true, step: 'read the snapshot' })).stdout.trim(), 'base64');
    if (data.length !== plan.snapshot.bytes) throw new RestoreError(`${plan.snapshot.node}: read ${data.length} bytes of ${plan.snapshot.name}, expected ${plan.snapshot.bytes}`);
    await on(plan.first).writeFile(`${SNAPSHOT_DIR}/${plan.snapshot.name}`, data, { mode: 0o600, sudo: true, step: 'copy the snapshot' });
  }
  next();
  // Needs the cluster's token, which config.yaml's token-file gives this run too.
  const reset = await on(plan.first).exec(`k3s server --cluster-reset --cluster-reset-restore-path=${shQuote(`${SNAPSHOT_DIR}/${plan.snapshot.name}`)}`, { sudo: true, check: false, step: 'cluster reset', timeoutMs: 10 * 60_000 });
  if (reset.code !== 0) {
    // Nothing was reset: the servers go back to the cluster as it was.
    const why = (reset.stderr.trim() || reset.stdout.trim()).split('\n').pop();
    // Not one at a time: a member alone has no quorum and would not come up before the others. --no-block queues each start.
    for (const n of servers) await on(n).exec('systemctl start --no-block k3s', { sudo: true, check: false, step: 'start k3s' });
    const failed: string[] = [];
    for (const n of servers) await waitReady(on(plan.first), n.name, readyTimeoutMs).catch(() => failed.push(n.name));
    throw new RestoreError(`${plan.first.name}: the cluster reset failed: ${why}. The restore stopped there; ${failed.length ? `k3s was started again on every server, but ${failed.join(', ')} did not become Ready` : 'k3s was started again on every server, with the data it had, and each is Ready'}`);
  }
  next();
  await on(plan.first).exec('systemctl start k3s', { sudo: true, step: 'start k3s' });
  await waitReady(on(plan.first), plan.first.name, readyTimeoutMs);
  for (const o of plan.others) {
    next();
    await on(o).exec(`if [ -d ${DB_DIR} ]; then mv ${DB_DIR} ${plan.aside}; fi`, { sudo: true, step: 'move the old etcd member aside' });
    await on(o).exec('systemctl start k3s', { sudo: true, step: 'start k3s' });
    await waitReady(on(plan.first), o.name, readyTimeoutMs);
  }
}
