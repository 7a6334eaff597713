// The command line: parse against the command table, run the one command,
// turn what went wrong into one clear line and an exit code.
import { getSystemErrorMessage, parseArgs } from 'node:util';
import { OPTIONS, UsageError, type Io, type Options } from './commands/command.ts';
import { COMMANDS, commandNamed } from './commands/index.ts';
import { commandUsage } from './commands/help.ts';
import { BrambleError, unexpectedLines } from './base/errors.ts';
import { parse as parseYaml } from 'yaml';

export type { Io };

const defaultIo: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };

function parse(argv: string[]): { command: string; opts: Options } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const opts = parsed.values as Options;
  const [first, ...rest] = parsed.positionals;
  if (opts.version && first === undefined) return { command: 'version', opts: {} };
  if (first === undefined) return { command: 'help', opts: {} };
  const command = commandNamed(first);
  if (!command) throw new UsageError(`unknown command: ${first}`);
  // `bramble COMMAND --help` is `bramble help COMMAND`.
  if (opts.help) return { command: 'help', opts: { args: [first] } };
  for (const key of Object.keys(opts) as Array<keyof Options>) {
    if (opts[key] !== undefined && !(command.options as string[]).includes(key)) throw new UsageError(`${first} does not take --${key}`);
  }
  const takes = command.args ?? [];
  if (rest.length > takes.length) throw new UsageError(`unexpected argument: ${rest[takes.length]}`);
  const missing = takes.slice(rest.length).find((a) => a.required);
  if (missing) throw new UsageError(`${first} needs ${takes.filter((a) => a.required).map((a) => a.name.toUpperCase()).join(' and ')}: bramble ${first} ${command.synopsis}`);
  if (command.options.includes('inventory') && !command.inventoryOptional && !opts.inventory) throw new UsageError(`${first} needs an inventory: -i FILE`);
  return { command: first, opts: { ...opts, args: rest } };
}

/**
 * One default GitOps work tree for every command that takes --repo (git.ts
 * defaultWorkTree), decided here once so render, plan, publish and apply
 * agree. An inventory that cannot be read is left to the command to report.
 */
async function withWorkTree(cmd: string, o: Options): Promise<Options> {
  if (o.repo !== undefined || !o.inventory || !(commandNamed(cmd)!.options as string[]).includes('repo')) return o;
  const { readFile } = await import('node:fs/promises');
  let url: unknown;
  try {
    url = (parseYaml(await readFile(o.inventory, 'utf8')) as { git?: { url?: unknown } } | null)?.git?.url;
  } catch {
    return o;
  }
  if (typeof url !== 'string') return o;
  const { defaultWorkTree } = await import('./git/repo.ts');
  return { ...o, repo: await defaultWorkTree(o.inventory, url, o.remote ?? url) };
}

function isSystemError(e: unknown): e is NodeJS.ErrnoException & { errno: number } {
  const x = e as NodeJS.ErrnoException;
  return e instanceof Error && typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code) && typeof x.errno === 'number';
}

const ACTIONS: Record<string, string> = { open: 'open', read: 'read', write: 'write', mkdir: 'create the folder', rename: 'rename', unlink: 'remove', rmdir: 'remove the folder', rm: 'remove', scandir: 'list', stat: 'read', lstat: 'read', access: 'read', copyfile: 'copy to', chmod: 'change the mode of' };

/** "cannot write PATH: no space left on device (ENOSPC)": what was tried, where, and why. */
function systemErrorLine(e: NodeJS.ErrnoException & { errno: number }): string {
  const full = e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.code === 'EROFS';
  const action = full ? 'write' : (ACTIONS[e.syscall ?? ''] ?? e.syscall ?? 'use');
  return `cannot ${action}${e.path ? ` ${e.path}` : ''}: ${getSystemErrorMessage(e.errno)} (${e.code})`;
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let name: string | undefined;
  try {
    const { command, opts } = parse(argv);
    name = command;
    const run = async (cmd: string, o: Options): Promise<number> => commandNamed(cmd)!.run(await withWorkTree(cmd, o), io, { run });
    return await run(command, opts);
  } catch (e) {
    if (e instanceof UsageError) {
      const c = name === undefined ? undefined : commandNamed(name);
      io.err(`bramble: ${e.message}\nRun "bramble ${c && c.name !== 'help' ? `${c.name} --help` : '--help'}" for usage.`);
      return e.exitCode;
    }
    if (e instanceof BrambleError) {
      for (const l of [e.message, ...e.lines]) io.err(l);
      return e.exitCode;
    }
    const verbose = argv.includes('-v') || argv.includes('--verbose');
    if (isSystemError(e)) {
      // A file bramble could not read or write: one line; the stack is for -v.
      io.err(`bramble: ${systemErrorLine(e)}`);
      if (verbose) io.err(e.stack ?? '');
      return 1;
    }
    for (const l of unexpectedLines(e, verbose)) io.err(l);
    return 1;
  }
}

export { COMMANDS, commandUsage };
