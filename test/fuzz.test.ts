// Hostile inventories: a property-based fuzz of the loader (fast-check),
// bounded in time. Every input must end in either a valid inventory or
// InventoryError problems that are each one located line; anything else
// (a TypeError, a RangeError, a hang) is a bug. Inputs it once crashed on are
// kept below as regressions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseInventory } from '../src/inventory/load.ts';
import { InventoryError } from '../src/inventory/problems.ts';
import { HOMELAB, ROOT } from './helpers.ts';

// The built loader, with the precompiled validator users run: it must agree on every input.
const built = (await import(pathToFileURL(join(ROOT, 'dist', 'src', 'inventory', 'load.js')).href)) as { parseInventory: typeof parseInventory };

function outcome(parse: typeof parseInventory, text: string): string {
  try {
    parse(text, 'fuzz.yaml');
    return 'valid';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

const reference = readFileSync(HOMELAB, 'utf8');
const LINE = /^fuzz\.yaml:\d+:\d+: \S.*: \S.*$/;

/** The loader's contract: a model, or located one-line problems. */
function check(text: string): void {
  try {
    parseInventory(text, 'fuzz.yaml');
  } catch (e) {
    if (!(e instanceof InventoryError)) throw new Error(`not an InventoryError for input:\n${text}\n---\n${(e as Error).stack}`);
    assert.ok(e.problems.length > 0, 'an InventoryError names at least one problem');
    for (const line of e.message.split('\n')) assert.match(line, LINE, `for input:\n${text}`);
  }
  assert.equal(outcome(built.parseInventory, text), outcome(parseInventory, text), `the built validator disagrees for input:\n${text}`);
}

/** Values that have broken YAML loaders and validators before. */
const nasty = fc.constantFrom(
  '',
  '~',
  'null',
  '[',
  '{a',
  '&a x',
  '*nope',
  '!!binary AAAA',
  '!!js/function x',
  '1e999',
  '-1',
  '0x1F',
  '1_000',
  'yes',
  '.nan',
  ':',
  '"unterminated',
  "'",
  '\t',
  '- - -',
  '? key',
  '<<: *a',
  '192.168.100.999',
  '192.168.100.0/33',
  'v1.35.6+k3s1; rm -rf /',
  '$(reboot)',
  '`id`',
  '../../etc/passwd',
  'a'.repeat(300),
  '\u0000',
  '\u2028',
  '🙂',
  '{ start: 192.168.100.10, end: 192.168.100.9 }',
  '[1, [2, [3, [4]]]]',
);

const mutation = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('value' as const), at: fc.nat(), value: fc.oneof(nasty, fc.string({ maxLength: 20 })) }),
  fc.record({ op: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.oneof(nasty, fc.string({ maxLength: 40 })) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, ms: Mutation[]): string {
  let lines = text.split('\n');
  for (const m of ms) {
    const i = m.at % Math.max(lines.length, 1);
    const l = lines[i] ?? '';
    switch (m.op) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, l);
        break;
      case 'value': {
        // Replace what follows "key:" (or a list dash) on that line.
        const c = /^(\s*(?:- )?[A-Za-z][\w-]*:\s?|\s*- )/.exec(l);
        lines[i] = c ? c[1] + m.value : m.value;
        break;
      }
      case 'indent':
        lines[i] = m.by >= 0 ? ' '.repeat(m.by) + l : l.replace(new RegExp(`^ {0,${-m.by}}`), '');
        break;
      case 'insert':
        lines.splice(i, 0, m.value);
        break;
      case 'truncate':
        lines = lines.slice(0, i);
        break;
    }
  }
  return lines.join('\n');
}

test('mutations of the reference inventory end in a model or located problems, never a crash', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => check(mutate(reference, ms))),
    { numRuns: 600, interruptAfterTimeLimit: 20_000 },
  );
});

test('arbitrary YAML documents end in located problems, never a crash', () => {
  const doc = fc.oneof(
    fc.jsonValue(),
    fc.record({ apiVersion: fc.constantFrom('bramble/v1alpha1', 'v2'), site: fc.jsonValue(), vlans: fc.jsonValue(), git: fc.jsonValue(), clusters: fc.jsonValue() }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(doc, (d) => check(stringify(d))),
    { numRuns: 600, interruptAfterTimeLimit: 20_000 },
  );
});

test('arbitrary text ends in located problems, never a crash', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (t) => check(t)),
    { numRuns: 400, interruptAfterTimeLimit: 10_000 },
  );
});

// Inputs the fuzz above once crashed on (kept so they never come back).
const REGRESSIONS: Array<[string, string]> = [
  // A merge key whose alias names no anchor: yaml throws a ReferenceError only when converting.
  ['an unresolved alias in a merge key', `<<: *a\n${reference}`],
  // An unterminated quote makes the rest of the file one multi-line key: the path must stay one line.
  ['a key spanning many lines', `"unterminated\n${reference}`],
  ['a key with control characters', 'site:\n  "a\\u0000b\\nc": 1\n'],
  // Nine levels of ten aliases each: refused, not expanded.
  ['an alias bomb', ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(', ')}]`), 'site: *i'].join('\n')],
];

test('regressions found by the fuzz', () => {
  for (const [why, text] of REGRESSIONS) {
    assert.doesNotThrow(() => check(text), why);
    assert.throws(() => parseInventory(text, 'fuzz.yaml'), InventoryError, why);
  }
});
