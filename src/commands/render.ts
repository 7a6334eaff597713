import { resolve } from 'node:path';
import type { Command } from './command.ts';

export const render: Command = {
  name: 'render',
  synopsis: '-i FILE [options]',
  summary: 'render clusters/CLUSTER/ into a repository',
  description: 'writes `clusters/<cluster>/` into a work tree',
  options: ['inventory', 'cluster', 'repo', 'check', 'force', 'verbose'],
  notes: { repo: 'default `.`' },
  async run(opts, io) {
    const [{ loadInventory }, { renderInventory }, { planTree, applyTree }, { changeLines, conflictLines }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../render/render.ts'),
      import('../render/tree.ts'),
      import('../steps.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    const repo = resolve(opts.repo ?? '.');
    const out = await renderInventory(inv, { clusters: opts.cluster });
    const plan = await planTree(repo, out.files, out.scopes, opts.force);
    if (opts.check) {
      if (plan.changes.length === 0 && plan.conflicts.length === 0) {
        io.out(`up to date: ${out.scopes.join(', ')} (${plan.unchanged.length} generated files)`);
        return 0;
      }
      io.out(`out of date in ${repo}:`);
      for (const l of [...changeLines(plan), ...conflictLines(plan)]) io.out(l);
      return 1;
    }
    if (plan.conflicts.length > 0) {
      io.err(`render refused; nothing was written:`);
      for (const l of conflictLines(plan)) io.err(l);
      return 1;
    }
    await applyTree(repo, plan, out.scopes);
    for (const l of changeLines(plan)) io.out(l);
    io.out(`rendered ${out.scopes.join(', ')} into ${repo}: ${plan.changes.length} change(s), ${plan.unchanged.length} unchanged`);
    return 0;
  },
};
