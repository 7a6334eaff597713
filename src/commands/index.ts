// The command table: one entry per command, in the order --help lists them.
// Parsing, help, docs/commands.md and shell completion all read it.
import { apply } from './apply.ts';
import { backup } from './backup.ts';
import { UsageError, type Command } from './command.ts';
import { completionCommand } from './completion.ts';
import { flux } from './flux.ts';
import { commandUsage, usage } from './help.ts';
import { init } from './init.ts';
import { install } from './install.ts';
import { node } from './node.ts';
import { plan } from './plan.ts';
import { preflight } from './preflight.ts';
import { promote } from './promote.ts';
import { publish } from './publish.ts';
import { render } from './render.ts';
import { reset } from './reset.ts';
import { restore } from './restore.ts';
import { secret } from './secret.ts';
import { status } from './status.ts';
import { validate } from './validate.ts';
import { version } from './version.ts';

const help: Command = {
  name: 'help',
  synopsis: '[COMMAND]',
  summary: 'this text, or what one command takes (also --help)',
  description: 'lists the commands and options, or with a command name, that command\'s usage and options (also `--help`, `COMMAND --help`)',
  options: [],
  args: [{ name: 'command', values: [], required: false }],
  inventoryOptional: true,
  async run(opts, io) {
    const name = opts.args?.[0];
    if (name === undefined) {
      io.out(usage(COMMANDS));
      return 0;
    }
    const c = COMMANDS.find((x) => x.name === name);
    if (!c) throw new UsageError(`unknown command: ${name}`);
    io.out(commandUsage(c));
    return 0;
  },
};

export const COMMANDS: Command[] = [
  init,
  validate,
  render,
  publish,
  preflight,
  install,
  flux,
  plan,
  apply,
  status,
  promote,
  node,
  secret,
  backup,
  restore,
  reset,
  completionCommand(() => COMMANDS),
  help,
  version,
];

help.args![0]!.values.push(...COMMANDS.map((c) => c.name));

export function commandNamed(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
