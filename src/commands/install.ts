import type { NodeOutcome } from '../k3s/outcome.ts';
import type { Command } from './command.ts';
import { indented, nodeOptions, runOptions } from './shared.ts';

export const install: Command = {
  name: 'install',
  synopsis: '-i FILE [options]',
  summary: 'prepare the nodes and install k3s; merge the kubeconfig',
  description: 'prepares the nodes and installs k3s (first server, other servers one at a time, agents in parallel); merges the kubeconfig; re-runs change only what differs',
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout'],
  notes: { timeout: 'how long each node may take to be Ready, or to come back from a reboot (default 300)' },
  async run(opts, io) {
    const [{ loadInventory }, { selectClusters }, { linkCluster, installStep, outcomeLines }] = await Promise.all([import('../inventory/load.ts'), import('../inventory/model.ts'), import('../run/steps.ts')]);
    const inv = await loadInventory(opts.inventory!);
    const sessionOpts = await nodeOptions(opts, io);
    const o = runOptions(opts);
    let ok = true;
    // What this run finished and what it was in the middle of, for the summary a Ctrl-C prints.
    const finished: NodeOutcome[] = [];
    const running = new Set<string>();
    process.once('SIGINT', () => {
      io.err(`\ninterrupted: ${finished.length} node(s) finished${running.size ? `, stopped in the middle of ${[...running].join(', ')}` : ''}; run install again to complete them (a cut install is found and completed, finished nodes are kept)`);
      for (const l of outcomeLines(finished)) io.err(l);
      for (const n of running) io.err(`  ${n.padEnd(16)} ${''.padEnd(6)} interrupted`);
      process.exit(130);
    });
    const track = (node: string, event: 'start' | NodeOutcome) => {
      if (event === 'start') running.add(node);
      else {
        running.delete(node);
        finished.push(event);
      }
    };
    for (const cluster of selectClusters(inv, opts.cluster)) {
      io.out(`cluster ${cluster.name}: ${cluster.servers.length} server(s), ${cluster.agents.length} agent(s), k3s ${cluster.k3sVersion}`);
      sessionOpts.log?.(`phase: connect (${cluster.name})`);
      const linked = await linkCluster(cluster, sessionOpts);
      sessionOpts.log?.(`phase: k3s (${cluster.name})`);
      try {
        const result = await installStep(cluster, linked, o, indented(io), track);
        for (const l of outcomeLines(result.nodes)) io.out(l);
        if (result.kubeconfig) io.out(`  kubeconfig: context "${result.kubeconfig.context}" (${result.kubeconfig.server}) in ${result.kubeconfig.file}`);
        io.out(result.ok ? `cluster ${cluster.name}: ready` : `cluster ${cluster.name}: not complete; fix the failures above and run again (finished nodes are kept)`);
        ok &&= result.ok;
      } finally {
        for (const l of linked.links) l.session.close();
      }
    }
    sessionOpts.log?.('phase: summary');
    return ok ? 0 : 1;
  },
};
