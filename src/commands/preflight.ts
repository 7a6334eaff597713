import { withoutNode } from '../base/errors.ts';
import type { NodeReport } from '../nodes/preflight.ts';
import type { Command } from './command.ts';
import { nodeOptions } from './shared.ts';

export const preflight: Command = {
  name: 'preflight',
  synopsis: '-i FILE [options]',
  summary: 'read-only checks of every node over SSH',
  description: 'read-only checks of every node over SSH: board, sudo, memory cgroup, disk, clock, packages, the NAS\'s NFS; exit 1 on any FAIL',
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  async run(opts, io) {
    const [{ loadInventory }, { selectClusters }, { connectCluster, closeAll }, { preflightNode, unreachable, formatReport }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../nodes/connect.ts'),
      import('../nodes/preflight.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    const sessionOpts = await nodeOptions(opts, io);
    const reports: NodeReport[] = [];
    // Clusters one after another, the nodes of each all at once.
    for (const cluster of selectClusters(inv, opts.cluster)) {
      const connections = await connectCluster(cluster, sessionOpts);
      try {
        reports.push(
          ...(await Promise.all(
            connections.map((c) =>
              'error' in c
                ? unreachable(c.node, cluster, withoutNode(c.error))
                : preflightNode(c.session, c.node, cluster, inv).catch((e: unknown) => unreachable(c.node, cluster, withoutNode(e))),
            ),
          )),
        );
      } finally {
        closeAll(connections);
      }
    }
    for (const l of formatReport(reports)) io.out(l);
    const failed = reports.filter((r) => r.verdict === 'fail');
    io.out(
      failed.length
        ? `preflight failed on ${failed.map((r) => r.node).join(', ')}: fix the FAIL lines before installing`
        : `preflight passed on ${reports.length} node(s)${reports.some((r) => r.verdict === 'warn') ? ' (with warnings)' : ''}`,
    );
    return failed.length ? 1 : 0;
  },
};
