import { UsageError, type Command } from './command.ts';
import { nodeOptions, typedConfirmation } from './shared.ts';

export const reset: Command = {
  name: 'reset',
  synopsis: '-i FILE -c NAME [--yes]',
  summary: "uninstall k3s from a cluster's nodes (agents first)",
  description: 'uninstalls k3s from one cluster, agents first; asks for the cluster name first',
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'yes'],
  notes: { cluster: 'the cluster (exactly one)', yes: 'no confirmation' },
  async run(opts, io) {
    const [{ loadInventory }, { selectClusters }, { resetCluster }, { linkCluster, outcomeLines }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../k3s/reset.ts'),
      import('../run/steps.ts'),
    ]);
    if (!opts.cluster || opts.cluster.length !== 1) throw new UsageError('reset needs exactly one --cluster NAME');
    const inv = await loadInventory(opts.inventory!);
    const [cluster] = selectClusters(inv, opts.cluster);
    const what = `uninstall k3s, and every workload and volume on it, from ${cluster!.active.length} node(s) of cluster ${cluster!.name}`;
    if (!(await typedConfirmation(opts.yes, io, { expected: cluster!.name, prompt: `This will ${what}. Type the cluster name to confirm:`, refusal: `reset would ${what}.` }))) return 1;
    const sessionOpts = await nodeOptions(opts, io);
    const { links, unreachable } = await linkCluster(cluster!, sessionOpts);
    try {
      const results = await resetCluster(cluster!, links, (l) => io.out(`  ${l}`));
      const merged = results.map((r) => (r.status === 'skipped' ? (unreachable.find((u) => u.node === r.node) ?? r) : r));
      for (const l of outcomeLines(merged)) io.out(l);
      const bad = merged.filter((r) => r.status === 'failed' || r.status === 'skipped');
      io.out(bad.length ? `reset incomplete on ${bad.map((r) => r.node).join(', ')}` : `cluster ${cluster!.name}: k3s removed`);
      return bad.length ? 1 : 0;
    } finally {
      for (const l of links) l.session.close();
    }
  },
};
