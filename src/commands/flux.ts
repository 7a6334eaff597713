import type { Command } from './command.ts';
import { indented, nodeOptions, runOptions } from './shared.ts';

export const flux: Command = {
  name: 'flux',
  synopsis: '-i FILE [options]',
  summary: 'hand the cluster to Flux: deploy key, Flux, sync; wait until reconciled',
  description:
    'hands the cluster to Flux: the deploy key (registered on GitHub, or added by you on a plain SSH Git server), the flux-system secret, Flux itself, the sync objects; then waits until every layer and release is Ready. Exit 3 when Flux reports a failure, 4 when time runs out',
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'timeout', 'rotate-deploy-key'],
  notes: { timeout: 'how long to wait for Flux to reconcile (default 600)' },
  async run(opts, io) {
    const [{ loadInventory }, { selectClusters }, { connectServer }, { fluxStep, reconciledRevision, PhaseError }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../nodes/connect.ts'),
      import('../run/steps.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    const sessionOpts = await nodeOptions(opts, io);
    const o = runOptions(opts);
    let code = 0;
    for (const cluster of selectClusters(inv, opts.cluster)) {
      io.out(`cluster ${cluster.name}:`);
      const first = await connectServer(cluster, sessionOpts);
      try {
        const w = await fluxStep(inv, cluster, first.session, o, indented(io), sessionOpts);
        io.out(`cluster ${cluster.name}: reconciled (${reconciledRevision(w)})`);
      } catch (e) {
        if (!(e instanceof PhaseError)) throw e;
        for (const l of [e.message, ...e.lines]) io.err(l);
        code = Math.max(code, e.exitCode);
      } finally {
        first.session.close();
      }
    }
    return code;
  },
};
