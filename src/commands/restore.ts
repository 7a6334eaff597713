import { UsageError, type Command } from './command.ts';
import { nodeOptions, seconds, typedConfirmation } from './shared.ts';

export const restore: Command = {
  name: 'restore',
  synopsis: '-i FILE -c NAME --etcd SNAPSHOT [--yes]',
  summary: "put a cluster's etcd back to a snapshot (k3s's cluster-reset path)",
  description:
    "restores an etcd cluster to one of its servers' snapshots, as k3s documents it: stops k3s on every server, resets the first server onto the snapshot (copied there first when another server holds it), starts it alone, then moves each other server's old etcd data aside and starts it, one at a time, waiting for Ready. Shows the plan first, then asks for the cluster name to be typed (or `--yes`); without a terminal and without `--yes` it shows the plan and changes nothing. Objects created after the snapshot are gone afterwards, volumes' data is not touched (docs/backup.md)",
  options: ['inventory', 'cluster', 'etcd', 'known-hosts', 'accept-new-host-keys', 'verbose', 'timeout', 'yes'],
  notes: { cluster: 'the cluster (exactly one)', yes: 'no typed confirmation', timeout: 'how long each server may take to be Ready (default 300)' },
  async run(opts, io) {
    if (!opts.cluster || opts.cluster.length !== 1) throw new UsageError('restore needs exactly one --cluster NAME');
    if (!opts.etcd) throw new UsageError('restore needs --etcd SNAPSHOT: the snapshot to restore (bramble backup status lists them)');
    const readyTimeoutMs = seconds(opts.timeout, 300);
    const [{ loadInventory }, { selectClusters }, { connectCluster, closeAll }, r] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../nodes/connect.ts'),
      import('../backup/restore.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    const [cluster] = selectClusters(inv, opts.cluster);
    if (cluster!.datastore !== 'etcd') throw new UsageError(`cluster ${cluster!.name} runs sqlite on one server: there is no etcd snapshot to restore (docs/backup.md)`);
    const connections = await connectCluster(cluster!, await nodeOptions(opts, io));
    try {
      // Every server takes part: one that does not answer would come back with the old etcd member.
      const down = connections.filter((c) => 'error' in c && c.node.role === 'server');
      if (down.length > 0) {
        io.err(`restore refused; nothing was changed: every server takes part, and ${down.map((c) => `${c.node.name} (${'error' in c ? c.error.message : ''})`).join(', ')} does not answer`);
        return 1;
      }
      const sessions = new Map(connections.flatMap((c) => ('session' in c && c.node.role === 'server' ? [[c.node.name, c.session] as const] : [])));
      const found = (await Promise.all(cluster!.servers.map((n) => r.listLocalSnapshots(sessions.get(n.name)!, n)))).flat();
      const plan = r.restorePlan(cluster!, found, opts.etcd);
      io.out(`restore cluster ${cluster!.name} to ${plan.snapshot.name} (taken ${plan.snapshot.created.toISOString()} on ${plan.snapshot.node}):`);
      plan.steps.forEach((s, i) => io.out(`  ${i + 1}. ${s}`));
      io.out('  afterwards: objects made since the snapshot are gone, and Flux puts back what Git holds; volumes keep their data');
      if (!(await typedConfirmation(opts.yes, io, { expected: cluster!.name, prompt: `Type the cluster name (${cluster!.name}) to restore it:`, refusal: 'this is the plan; nothing was changed.' }))) return 1;
      io.out('restoring:');
      await r.runRestore(plan, sessions, io, readyTimeoutMs);
      io.out(`cluster ${cluster!.name}: restored to ${plan.snapshot.name}; every server is Ready`);
      return 0;
    } finally {
      closeAll(connections);
    }
  },
};
