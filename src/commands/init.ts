import { resolve } from 'node:path';
import type { Command } from './command.ts';
import { isInteractive } from './shared.ts';

export const init: Command = {
  name: 'init',
  synopsis: '[-i FILE]',
  summary: 'write (or edit) an inventory with a guided set of questions',
  description:
    'asks about the site and writes the inventory (`-i FILE`, default `inventory.yaml`); pointed at an existing file it offers its values as defaults and keeps its comments; offers to run `plan` and `apply` afterwards. Needs a terminal',
  options: ['inventory'],
  inventoryOptional: true,
  async run(opts, io, ctx) {
    const { runWizard } = await import('../wizard.ts');
    const file = opts.inventory ?? 'inventory.yaml';
    return runWizard(resolve(file), { interactive: isInteractive(), io, next: (command) => ctx.run(command, { inventory: file }) });
  },
};
