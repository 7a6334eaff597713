import type { Command } from './command.ts';

export const validate: Command = {
  name: 'validate',
  synopsis: '-i FILE',
  summary: 'check an inventory (structure and meaning)',
  description: 'structure and meaning of the inventory; one `file:line:col: path: reason` line per problem',
  options: ['inventory', 'verbose'],
  async run(opts, io) {
    const { loadInventory } = await import('../inventory/load.ts');
    const inv = await loadInventory(opts.inventory!);
    const nodes = inv.clusters.reduce((n, c) => n + c.nodes.length, 0);
    io.out(`${opts.inventory}: valid (${inv.clusters.length} cluster(s), ${nodes} node(s), ${inv.vlans.length} VLAN(s))`);
    return 0;
  },
};
