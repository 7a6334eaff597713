import { join, resolve } from 'node:path';
import type { Command } from './command.ts';
import { inventoryWithGit } from './shared.ts';

export const render: Command = {
  name: 'render',
  synopsis: '-i FILE [options]',
  summary: 'render clusters/CLUSTER/ into a repository',
  description: 'writes `clusters/<cluster>/` into a work tree',
  options: ['inventory', 'cluster', 'repo', 'check', 'force', 'verbose'],
  notes: { repo: 'the Git work tree to render into (default: the clone you are in, else <repository name>/ beside the inventory; docs/getting-started.md)' },
  async run(opts, io) {
    const [{ renderInventory }, { planTree, applyTree, lineDelta, ownerFiles, bodyOf }, { changeLines, conflictLines }, { readIfExists }] = await Promise.all([
      import('../render/render.ts'),
      import('../render/tree.ts'),
      import('../run/steps.ts'),
      import('../base/files.ts'),
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
    // A new folder becomes a repository for the inventory's remote (offline: nothing is fetched), so plan and publish take it as the work tree.
    const { existsSync } = await import('node:fs');
    if (!existsSync(repo)) {
      const { initWorkTree, redactUrl } = await import('../git/repo.ts');
      await initWorkTree(repo, inv.git.url, inv.git.branch);
      io.out(`created ${repo}: a repository for ${redactUrl(inv.git.url)} (branch ${inv.git.branch}); publish and apply take it from here`);
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
    // Seeds are written once, for the owner to edit: new ones are named as such, not counted as files found.
    const seeds = new Set(out.files.filter((f) => f.seed).map((f) => f.path));
    const seeded = plan.changes.filter((c) => c.action === 'add' && seeds.has(c.path)).map((c) => c.path);
    const owners = (await ownerFiles(repo, out.scopes)).filter((f) => !seeded.includes(f));
    io.out(`rendered ${out.scopes.join(', ')} into ${repo}: ${count('add')} added, ${count('change')} changed, ${count('delete')} removed, ${plan.unchanged.length} unchanged`);
    if (seeded.length > 0) io.out(`seeded ${seeded.length} file(s) for you to edit (${seeded.map((f) => f.split('/').slice(2).join('/')).join(', ')}): they are yours from now on, and bramble never overwrites them`);
    if (owners.length > 0) io.out(`left as they are: ${owners.length} file(s) of yours under ${out.scopes.join(', ')} (no bramble header)`);
    return 0;
  },
};
