import type { Command } from './command.ts';
import { earlyConnections, inventoryWithGit, nodeOptions, runOptions } from './shared.ts';

export const plan: Command = {
  name: 'plan',
  synopsis: '-i FILE [options]',
  summary: 'what apply would do (nodes, files, Flux objects); changes nothing',
  description:
    "what `apply` would do, from the same checks it makes, changing nothing: preflight findings, each node's preparation and k3s step (install, join, restart, with the config settings that change), the files the commit would add, change and delete, the Flux objects to create",
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'repo', 'remote', 'force', 'json'],
  notes: { json: 'the whole plan as one JSON document on stdout' },
  async run(opts, io) {
    const [{ selectClusters }, { connectAndPlan, closeLinked }, { planLines, disruptiveSteps, unreadParts }, { EXIT }] = await Promise.all([
      import('../inventory/model.ts'),
      import('../run/apply.ts'),
      import('../run/plan.ts'),
      import('../run/steps.ts'),
    ]);
    const sessionOpts = await nodeOptions(opts, io);
    // The nodes are reached while the inventory and Git are read, as apply does.
    const early = await earlyConnections(opts, sessionOpts);
    let read: Awaited<ReturnType<typeof inventoryWithGit>>;
    let clusters: ReturnType<typeof selectClusters>;
    try {
      read = await inventoryWithGit(opts, io, { write: false, quiet: opts.json, whileSyncing: early.open });
      clusters = selectClusters(read.inv, opts.cluster);
    } catch (e) {
      early.close();
      throw e;
    }
    const { inv, taken } = read;
    const { plan, linked } = await connectAndPlan(inv, clusters, runOptions(opts), sessionOpts, early.opened);
    closeLinked(linked);
    // A plan that could not read a node or Flux is not a plan of everything apply would do: it says so and exits 5.
    const unread = unreadParts(plan);
    if (opts.json) {
      io.out(JSON.stringify({ plan, disruptive: disruptiveSteps(plan), versionsFromGit: taken, incomplete: unread }));
      return unread.length > 0 ? EXIT.planIncomplete : 0;
    }
    for (const l of planLines(plan, new Map(clusters.map((c) => [c.name, c.k3sVersion])))) io.out(l);
    const d = disruptiveSteps(plan);
    if (unread.length > 0) {
      io.out(`plan incomplete: ${unread.length} part(s) could not be read, so apply may do more than this shows:`);
      for (const u of unread) io.out(`  ${u}`);
      if (d.length) io.out(`apply would ask before ${d.length} disruptive step(s) seen so far (or pass --yes)`);
      return EXIT.planIncomplete;
    }
    io.out(d.length ? `apply would ask before ${d.length} disruptive step(s) (or pass --yes)` : 'nothing disruptive: apply would not ask');
    return 0;
  },
};
