import { join, resolve } from 'node:path';
import type { Command } from './command.ts';
import { inventoryWithGit } from './shared.ts';

export const render: Command = {
  name: 'render',
  synopsis: '-i FILE [options]',
  summary: 'render clusters/CLUSTER/ into a repository',
  description: 'writes `clusters/<cluster>/` into a work tree',
  options: ['inventory', 'cluster', 'repo', 'check', 'force', 'verbose'],
  notes: { repo: 'default `.`' },
  async run(opts, io) {
    const [{ renderInventory }, { planTree, applyTree, readIfExists, lineDelta, ownerFiles, bodyOf }, { changeLines, conflictLines }] = await Promise.all([
      import('../render/render.ts'),
      import('../render/tree.ts'),
      import('../steps.ts'),
    ]);
    const { inv, taken } = await inventoryWithGit(opts, io, { write: !opts.check });
    const repo = resolve(opts.repo ?? '.');
    const out = await renderInventory(inv, { clusters: opts.cluster });
    const plan = await planTree(repo, out.files, out.scopes, opts.force);
    if (opts.check) {
      if (plan.changes.length === 0 && plan.conflicts.length === 0 && taken.length === 0) {
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
    // Read before writing: the summary says how much of each changed file moved.
    const deltas = new Map<string, string>();
    for (const c of plan.changes.filter((x) => x.action === 'change')) {
      const d = lineDelta(bodyOf((await readIfExists(join(repo, c.path))) ?? ''), bodyOf(c.content!));
      deltas.set(c.path, d.added + d.removed === 0 ? ' (header only)' : ` (+${d.added} -${d.removed} lines)`);
    }
    await applyTree(repo, plan, out.scopes);
    for (const [i, l] of changeLines(plan).entries()) io.out(`${l}${deltas.get(plan.changes[i]!.path) ?? ''}`);
    const count = (a: string) => plan.changes.filter((c) => c.action === a).length;
    const owners = await ownerFiles(repo, out.scopes);
    io.out(`rendered ${out.scopes.join(', ')} into ${repo}: ${count('add')} added, ${count('change')} changed, ${count('delete')} removed, ${plan.unchanged.length} unchanged`);
    if (owners.length > 0) io.out(`left as they are: ${owners.length} file(s) of yours under ${out.scopes.join(', ')} (no bramble header)`);
    return 0;
  },
};
