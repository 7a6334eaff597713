// Shell completion scripts, made from the command table: every command, and
// for each the options it takes, with files or folders where a value is one.
import { OPTIONS, UsageError, type Command, type OptionName } from './command.ts';

const SHELLS = ['bash', 'zsh'] as const;

function words(o: OptionName): string[] {
  const spec = OPTIONS[o];
  return ['short' in spec ? `-${spec.short}` : undefined, `--${o}`].filter((w): w is string => w !== undefined);
}

/** What the first positional word completes to (a command's own sub-words, a shell's name). */
function positional(c: Command): string[] {
  return c.args?.[0]?.values ?? [];
}

export function bashCompletion(commands: Command[]): string {
  const byKind = (kind: string) =>
    (Object.keys(OPTIONS) as OptionName[])
      .filter((o) => 'kind' in OPTIONS[o] && (OPTIONS[o] as { kind: string }).kind === kind)
      .flatMap(words)
      .join('|');
  const cases = commands.map((c) => `    ${c.name}) words=${JSON.stringify([...positional(c), ...c.options.flatMap(words)].join(' '))} ;;`);
  return [
    '# bash completion for bramble, made by `bramble completion bash`. Load it with',
    '#   source <(bramble completion bash)',
    '# or save it as ~/.local/share/bash-completion/completions/bramble',
    '_bramble() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} words=',
    '  if [ "$COMP_CWORD" -eq 1 ]; then',
    `    COMPREPLY=($(compgen -W ${JSON.stringify(commands.map((c) => c.name).join(' '))} -- "$cur"))`,
    '    return',
    '  fi',
    '  case $prev in',
    `    ${byKind('file')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`,
    `    ${byKind('dir')}) COMPREPLY=($(compgen -d -- "$cur")); return ;;`,
    `    ${byKind('word')}) COMPREPLY=(); return ;;`,
    '  esac',
    '  case ${COMP_WORDS[1]} in',
    ...cases,
    '  esac',
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    '}',
    'complete -o filenames -F _bramble bramble',
    '',
  ].join('\n');
}

/** Text inside a zsh single-quoted _arguments description: no brackets, colons or quotes left to misread. */
function zshText(text: string): string {
  return text.replace(/\[/g, '(').replace(/\]/g, ')').replace(/:/g, ' -').replace(/'/g, "'\\''").replace(/`/g, '');
}

function zshOption(o: OptionName): string {
  const spec = OPTIONS[o];
  const all = words(o);
  const action = 'kind' in spec ? (spec.kind === 'file' ? '_files' : spec.kind === 'dir' ? '_files -/' : ' ') : '';
  const tail = `[${zshText(spec.help)}]${'value' in spec ? `:${spec.value}:${action}` : ''}`;
  const repeatable = 'multiple' in spec && spec.multiple;
  if (all.length > 1) return `${repeatable ? "'*'" : `'(${all.join(' ')})'`}{${all.join(',')}}'${tail}'`;
  return `'${repeatable ? '*' : ''}${all[0]}${tail}'`;
}

export function zshCompletion(commands: Command[]): string {
  const cases = commands.map((c) => {
    const specs = [...(c.args ?? []).map((a, i) => `'${i + 1}:${a.name}:${a.values.length ? `(${a.values.join(' ')})` : ' '}'`), ...c.options.map(zshOption)];
    return [`    (${c.name})`, specs.length ? `      _arguments -s \\\n        ${specs.join(' \\\n        ')}` : '      _message "no options"', '      ;;'].join('\n');
  });
  return [
    '#compdef bramble',
    '# zsh completion for bramble, made by `bramble completion zsh`. Load it with',
    '#   source <(bramble completion zsh)      (after compinit)',
    '# or save it as _bramble in a folder of your $fpath',
    '_bramble() {',
    '  local -a commands',
    '  commands=(',
    ...commands.map((c) => `    '${c.name}:${zshText(c.summary)}'`),
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe -t commands 'bramble command' commands",
    '    return',
    '  fi',
    '  local command=$words[2]',
    '  # The command\'s own words, as if it were the command: _arguments counts from there.',
    '  shift words; (( CURRENT-- ))',
    '  case $command in',
    ...cases,
    '  esac',
    '}',
    'if [[ ${funcstack[1]-} == _bramble ]]; then _bramble "$@"; else compdef _bramble bramble; fi',
    '',
  ].join('\n');
}

export function completionCommand(table: () => Command[]): Command {
  return {
    name: 'completion',
    synopsis: 'bash|zsh',
    summary: 'print a shell completion script for bash or zsh',
    description: 'prints a completion script for `bash` or `zsh`, made from the same command table as `--help`: `source <(bramble completion bash)`',
    options: [],
    args: [{ name: 'shell', values: [...SHELLS], required: true }],
    async run(opts, io) {
      const shell = opts.args?.[0];
      if (shell === 'bash') io.out(bashCompletion(table()).trimEnd());
      else if (shell === 'zsh') io.out(zshCompletion(table()).trimEnd());
      else throw new UsageError(`completion needs a shell: ${SHELLS.join(' or ')}${shell ? `, not "${shell}"` : ''}`);
      return 0;
    },
  };
}
