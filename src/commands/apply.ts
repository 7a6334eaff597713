import type { Command } from './command.ts';
import type { Inventory } from '../inventory/model.ts';
import { earlyConnections, inventoryWithGit, isInteractive, nodeOptions, runOptions } from './shared.ts';

export const apply: Command = {
  name: 'apply',
  synopsis: '-i FILE [options]',
  summary: 'the whole path: plan, install, publish, flux, with a summary',
  description:
    'the whole path: plan, ask before disruptive steps (reboots, restarts, deletions), install, publish, flux, with live progress (a tree at a terminal, timestamped lines in a log, JSON events with `--json`) and a summary',
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout', 'repo', 'remote', 'force', 'rotate-deploy-key', 'yes', 'json'],
  notes: { timeout: 'how long to wait for Flux to reconcile (default 600)', json: 'one JSON event per line on stdout, nothing on stderr' },
  async run(opts, io) {
    const [{ selectClusters }, { apply: run }] = await Promise.all([import('../inventory/model.ts'), import('../run/apply.ts')]);
    const sessionOpts = await nodeOptions(opts, io);
    const early = await earlyConnections(opts, sessionOpts);
    let inv: Inventory;
    let written: boolean;
    let checked: Awaited<ReturnType<typeof inventoryWithGit>>['checked'];
    try {
      ({ inv, written, checked } = await inventoryWithGit(opts, io, { write: true, quiet: opts.json, fastForward: 'best effort', whileSyncing: early.open }));
    } catch (e) {
      early.close();
      throw e;
    }
    const clusters = selectClusters(inv, opts.cluster);
    // Files bramble writes are replaced atomically, so an interrupted run leaves each whole; say so.
    process.once('SIGINT', () => {
      io.err('\ninterrupted: every file written so far is complete (atomic writes); run apply again to resume where this run stopped');
      process.exit(130);
    });
    return run(
      inv,
      clusters,
      {
        ...runOptions(opts),
        inventoryWritten: written ? opts.inventory : undefined,
        checked,
        nodeTimeoutMs: 300_000,
        yes: opts.yes,
        json: opts.json,
        tty: isInteractive(),
        tree: Boolean(process.stdout.isTTY && process.stdout.columns > 0),
        ask: async (message) => (await import('@inquirer/prompts')).confirm({ message, default: false }),
      },
      sessionOpts,
      io,
      early.opened,
    );
  },
};
