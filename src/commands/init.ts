import { resolve } from 'node:path';
import type { Command } from './command.ts';
import { isInteractive } from './shared.ts';

export const init: Command = {
  name: 'init',
  synopsis: '[-i FILE]',
  summary: 'write (or edit) an inventory with a guided set of questions',
  description:
    "asks about the site and writes the inventory (`-i FILE`, default `inventory.yaml`); pointed at an existing file it offers its values as defaults and keeps its comments. A cluster's notification target (Discord, Slack, a generic webhook such as ntfy, Telegram) is typed hidden and written encrypted with the cluster's age key into the work tree (`--repo`), never into the inventory; a cluster without a key gets one (its private key into your age keys file). Offers to run `plan` and `apply` afterwards. Needs a terminal",
  options: ['inventory', 'repo'],
  notes: { repo: 'the Git work tree where a notification target is written, encrypted (default: as render)' },
  inventoryOptional: true,
  async run(opts, io, ctx) {
    const { runWizard } = await import('../wizard/run.ts');
    const file = opts.inventory ?? 'inventory.yaml';
    return runWizard(resolve(file), { interactive: isInteractive(), io, repo: opts.repo, next: (command) => ctx.run(command, { inventory: file }) });
  },
};
