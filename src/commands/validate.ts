import type { Command } from './command.ts';

export const validate: Command = {
  name: 'validate',
  synopsis: '-i FILE',
  summary: 'check an inventory (structure and meaning) and that its platform fits the boards',
  description:
    "structure and meaning of the inventory, one `file:line:col: path: reason` line per problem; then the warnings (valid, but worth a look, such as Grafana published through the tunnel), and per cluster the memory the rendered platform requests against its smallest node (an over-commit is refused)",
  options: ['inventory', 'verbose'],
  async run(opts, io) {
    const [{ loadInventory }, { formatProblem }, { renderInventory }, { budgetLine }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/problems.ts'),
      import('../render/render.ts'),
      import('../render/budget.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    for (const w of inv.warnings) io.err(formatProblem({ ...w, message: `warning: ${w.message}` }));
    // In memory only, for the memory budget: render, plan and apply check the manifests against their schemas.
    const out = await renderInventory(inv, { schemas: false });
    const nodes = inv.clusters.reduce((n, c) => n + c.nodes.length, 0);
    io.out(`${opts.inventory}: valid (${inv.clusters.length} cluster(s), ${nodes} node(s), ${inv.vlans.length} VLAN(s))`);
    for (const b of out.budgets) io.out(`  ${budgetLine(b)}`);
    return 0;
  },
};
