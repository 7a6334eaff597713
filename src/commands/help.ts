// Everything bramble says about its commands, made from the command table:
// --help, `bramble help COMMAND`, and docs/commands.md's table.
import { OPTIONS, SSH_OPTIONS, type Command, type OptionName } from './command.ts';

const TITLE = 'bramble: bare ARM boards to k3s clusters that Flux keeps in sync with Git';

const SECRETS = `Secrets come from the environment or, at a terminal, a prompt; never from the inventory:
  BRAMBLE_SSH_PASSWORD, BRAMBLE_SUDO_PASSWORD, BRAMBLE_SSH_KEY_PASSPHRASE
  GITHUB_TOKEN (or the gh CLI's login) for a repository on GitHub`;

const EXITS = `Exit codes: 0 done, 1 invalid inventory / differences / refused / failed, 2 usage error,
  3 Flux reported a failure, 4 Flux did not finish reconciling in time.`;

/** "-i, --inventory FILE" */
export function flag(name: OptionName): string {
  const o = OPTIONS[name];
  return `${'short' in o ? `-${o.short}, ` : '    '}--${name}${'value' in o ? ` ${o.value}` : ''}`;
}

function optionLines(names: OptionName[], notes: Partial<Record<OptionName, string>> = {}): string[] {
  const width = Math.max(...names.map((n) => flag(n).length)) + 2;
  // A command's note is how that command uses the option: it replaces the shared text, never trails it.
  return names.map((n) => `  ${flag(n).padEnd(width)}${notes[n] ?? OPTIONS[n].help}`);
}

export function usage(commands: Command[]): string {
  const heads = commands.map((c) => `bramble ${c.name.padEnd(10)} ${c.synopsis}`);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  const used = new Set(commands.flatMap((c) => c.options));
  const all = (Object.keys(OPTIONS) as OptionName[]).filter((o) => used.has(o));
  return [
    TITLE,
    '',
    'Usage:',
    ...commands.map((c, i) => `  ${heads[i]!.padEnd(width)}${c.summary}`),
    '',
    'Options (bramble help COMMAND lists what each command takes):',
    ...optionLines(all),
    '',
    SECRETS,
    '',
    EXITS,
  ].join('\n');
}

export function commandUsage(c: Command): string {
  return [`Usage: bramble ${c.name} ${c.synopsis}`.trimEnd(), '', `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`, ...(c.options.length ? ['', 'Options:', ...optionLines(c.options, c.notes)] : [])].join('\n');
}

/** The options column of docs/commands.md: SSH options named together, each other one with its note. */
function optionsCell(c: Command): string {
  const ssh = SSH_OPTIONS.every((o) => c.options.includes(o));
  const rest = c.options.filter((o) => o !== 'inventory' && !(ssh && SSH_OPTIONS.includes(o)));
  const parts = rest.map((o) => {
    const spec = OPTIONS[o];
    const text = `\`--${o}${'value' in spec ? ` ${spec.value}` : ''}\``;
    return c.notes?.[o] ? `${text} (${c.notes[o]})` : text;
  });
  return [...(ssh ? ['SSH options'] : []), ...parts].join(', ');
}

/** A Markdown table row; a | inside a cell (code spans included) is escaped. */
function row(...cells: string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
}

export const DOCS_START = '<!-- commands: generated from src/commands/ (npm run docs); do not edit -->';
export const DOCS_END = '<!-- end of commands -->';

/** The README's short list: each command's usage line and summary. */
export function readmeTable(commands: Command[]): string {
  return [
    DOCS_START,
    '| command | what it does |',
    '|---|---|',
    ...commands.map((c) => row(`\`bramble ${`${c.name} ${c.synopsis}`.trim()}\``, c.summary)),
    '',
    'Every command, option and exit code: [docs/commands.md](docs/commands.md).',
    DOCS_END,
  ].join('\n');
}

/** The command table of docs/commands.md, between its markers. */
export function commandsTable(commands: Command[]): string {
  return [
    DOCS_START,
    '| command | what it does | options |',
    '|---|---|---|',
    ...commands.map((c) => row(`\`${c.name}\``, c.description, optionsCell(c))),
    '',
    `SSH options, for every command that reaches nodes or the Git host over SSH: ${SSH_OPTIONS.map((o) => `\`${flag(o).trim()}\`: ${OPTIONS[o].help}`).join('; ')}.`,
    DOCS_END,
  ].join('\n');
}

/** `text` with the part between the markers replaced by `table`. */
export function withCommandsTable(text: string, table: string): string {
  const start = text.indexOf(DOCS_START);
  const end = text.indexOf(DOCS_END);
  if (start < 0 || end < start) throw new Error('docs/commands.md has no generated command table markers');
  return text.slice(0, start) + table + text.slice(end + DOCS_END.length);
}
