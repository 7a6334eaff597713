// The command table is the one source: --help, `help COMMAND`, the docs'
// and README's command lists, and bash and zsh completion all come from it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPTIONS, type Command, type OptionName } from '../src/commands/command.ts';
import { bashCompletion, zshCompletion } from '../src/commands/completion.ts';
import { commandsTable, DOCS_END, DOCS_START, readmeTable } from '../src/commands/help.ts';
import { COMMANDS } from '../src/commands/index.ts';
import { PINNED, RECOMMENDED_K3S } from '../src/inventory/defaults.ts';
import { bramble, ROOT, tempDir } from './helpers.ts';

function words(o: OptionName): string[] {
  const spec = OPTIONS[o];
  return ['short' in spec ? `-${spec.short}` : '', `--${o}`].filter(Boolean);
}

function generated(file: string): string {
  const text = readFileSync(file, 'utf8');
  return text.slice(text.indexOf(DOCS_START), text.indexOf(DOCS_END) + DOCS_END.length);
}

test('docs/commands.md and the README list exactly the command table (npm run docs)', () => {
  assert.equal(generated(join(ROOT, 'docs', 'commands.md')), commandsTable(COMMANDS));
  assert.equal(generated(join(ROOT, 'README.md')), readmeTable(COMMANDS));
  // The check fails when they disagree: a command the docs lack is noticed.
  const extra: Command = { ...COMMANDS[0]!, name: 'frobnicate' };
  assert.notEqual(commandsTable([...COMMANDS, extra]), generated(join(ROOT, 'docs', 'commands.md')));
  for (const c of COMMANDS) assert.ok(generated(join(ROOT, 'docs', 'commands.md')).includes(`| \`${c.name}\` |`), c.name);
});

test('--help lists every command; help COMMAND and COMMAND --help list exactly its options', () => {
  const help = bramble(['--help']);
  assert.equal(help.code, 0);
  for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`^  bramble ${c.name} +`, 'm'), c.name);
  for (const c of COMMANDS) {
    const r = bramble(['help', c.name]);
    assert.equal(r.code, 0, c.name);
    assert.equal(bramble([c.name, '--help']).stdout, r.stdout, `${c.name} --help`);
    assert.match(r.stdout, new RegExp(`^Usage: bramble ${c.name}`));
    const listed = [...r.stdout.matchAll(/^ {2}(?:-\w, )? *--([\w-]+)/gm)].map((m) => m[1]);
    assert.deepEqual(listed, c.options, c.name);
  }
  const unknown = bramble(['help', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^bramble: unknown command: frobnicate\n/);
});

test('--version and version: bramble, Flux and k3s versions, the charts', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const args of [['--version'], ['version']]) {
    const r = bramble(args);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `bramble ${pkg.version}`);
    assert.match(r.stdout, new RegExp(`Flux ${PINNED.flux.replace(/\./g, '\\.')} \\(pinned`));
    assert.match(r.stdout, new RegExp(`k3s ${RECOMMENDED_K3S.replace(/[.+]/g, '\\$&')} `));
    assert.match(r.stdout, new RegExp(`Longhorn ${PINNED.longhorn.replace(/\./g, '\\.')}.*Traefik ${PINNED.traefik.replace(/\./g, '\\.')}`));
  }
});

/** What bash completes for the words typed so far (the last one being completed). */
function bashComplete(script: string, typed: string[], cwd?: string): string[] {
  const file = join(tempDir(), 'bramble.bash');
  writeFileSync(file, script);
  const words = ['bramble', ...typed].map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words}); COMP_CWORD=${typed.length}; _bramble; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('bash completion: every command, and for each exactly its options; files and folders where a value is one', () => {
  const script = bramble(['completion', 'bash']).stdout;
  assert.equal(script.trim(), bashCompletion(COMMANDS).trim());
  assert.deepEqual(bashComplete(script, ['']), COMMANDS.map((c) => c.name).sort());
  assert.deepEqual(bashComplete(script, ['pre']), ['preflight']);
  for (const c of COMMANDS) {
    const expected = [...(c.args?.[0]?.values ?? []), ...c.options.flatMap(words)].sort();
    assert.deepEqual(bashComplete(script, [c.name, '']), expected, c.name);
    const dashes = c.options.flatMap(words).filter((w) => w.startsWith('--')).sort();
    assert.deepEqual(bashComplete(script, [c.name, '--']), dashes, c.name);
  }
  assert.deepEqual(bashComplete(script, ['completion', '']), ['bash', 'zsh']);
  const dir = tempDir();
  mkdirSync(join(dir, 'repo-folder'));
  writeFileSync(join(dir, 'inv.yaml'), '');
  assert.deepEqual(bashComplete(script, ['validate', '-i', ''], dir), ['inv.yaml', 'repo-folder']);
  assert.deepEqual(bashComplete(script, ['render', '--repo', ''], dir), ['repo-folder']);
  assert.deepEqual(bashComplete(script, ['render', '-c', ''], dir), []);
});

test('zsh completion: valid zsh, every command described, and for each exactly its options', () => {
  const script = bramble(['completion', 'zsh']).stdout;
  assert.equal(script.trim(), zshCompletion(COMMANDS).trim());
  const file = join(tempDir(), '_bramble');
  writeFileSync(file, script);
  const syntax = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // zsh's completion functions replaced by ones that print what they were given.
  const run = (typed: string[]) => {
    const words = ['bramble', ...typed].map((w) => `'${w}'`).join(' ');
    const r = spawnSync(
      'zsh',
      ['-f', '-c', `_describe() { print -rl -- "\${(@P)4}" }; _arguments() { print -rl -- "$@" }; _message() { print -r -- "$*" }; compdef() { }; source ${file}; words=(${words}); CURRENT=${typed.length + 1}; _bramble`],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(
    run(['']).map((l) => l.split(':')[0]),
    COMMANDS.map((c) => c.name),
  );
  for (const c of COMMANDS) {
    const specs = run([c.name, '']).filter((l) => l !== '-s');
    if (c.options.length === 0 && !c.args) {
      assert.deepEqual(specs, ['no options'], c.name);
      continue;
    }
    // One spec per option word (brace expansion gives -i and --inventory each their own), and the positional.
    const named = specs.map((s) => /^(?:\([^)]*\)|\*)?(--?[\w-]+|\d+)/.exec(s)?.[1]);
    assert.deepEqual(named.sort(), [...(c.args ?? []).map((_, i) => String(i + 1)), ...c.options.flatMap(words)].sort(), c.name);
    for (const s of specs) assert.match(s, /^(?:\([^)]*\)|\*)?(--?[\w-]+\[[^[\]]*\](:[A-Z]+:.*)?|\d:\w+:(\(.*\)| ))$/, `${c.name}: ${s}`);
  }
  const value = run(['render', '']).find((s) => s.includes('--repo'));
  assert.match(value!, /:DIR:_files -\/$/);
});

test('completion without a shell, or an unknown one, is a usage error', () => {
  const none = bramble(['completion']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^bramble: completion needs SHELL: bramble completion bash\|zsh\n/);
  const fish = bramble(['completion', 'fish']);
  assert.equal(fish.code, 2);
  assert.match(fish.stderr, /^bramble: completion needs a shell: bash or zsh, not "fish"\nRun "bramble completion --help" for usage\.\n$/);
});

test("each command's help describes an option once, as that command uses it: a command's note replaces the shared text", () => {
  for (const c of COMMANDS) {
    const help = bramble(["help", c.name]).stdout;
    for (const [name, note] of Object.entries(c.notes ?? {}) as Array<[OptionName, string]>) {
      const line = help.split('\n').find((l) => new RegExp(`^\\s+(-\\w, )?--${name}\\b`).test(l));
      assert.ok(line, `${c.name}: --${name} is listed`);
      assert.ok(line.trimEnd().endsWith(note), `${c.name} --${name}: ${line}`);
      assert.ok(!line.includes(OPTIONS[name].help), `${c.name} --${name}: the shared text and the note both: ${line}`);
    }
    // No option text with a second parenthetical glued on, as "(600) (Flux's wait; default 600)" was.
    assert.doesNotMatch(help, /\) \(/, c.name);
  }
  // The cases that were wrong.
  assert.match(bramble(["help", "plan"]).stdout, /--json +the whole plan as one JSON document on stdout$/m);
  assert.match(bramble(["help", "apply"]).stdout, /--timeout SECONDS +how long to wait for Flux to reconcile \(default 600\)$/m);
});
