// Reading an inventory: YAML with positions, then shape (JSON Schema), then
// meaning. Whatever is wrong comes back as located problems, never a stack
// trace; all problems of a stage are reported together.
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, visit } from 'yaml';
import { checkMeaning } from './check.ts';
import { BrambleError } from '../base/errors.ts';
import { inventoryAjv } from './ajv.ts';
import { FORMATS } from './formats.ts';
import type { Inventory } from './model.ts';
import { resolve } from './resolve.ts';
import { InventoryError, Locator, type FieldPath, type Problem } from './problems.ts';
import type { RawInventory } from './schema.ts';

// `npm run build` writes this module next to the built load.js (scripts/gen-validator.ts):
// the same schema and formats, compiled ahead of time, which saves every run the compile.
// Its name is spelt out in the import so that the bundle (scripts/bundle.ts) carries it.
// Run from the sources (the tests), the schema is compiled here instead; only
// then are TypeBox and ajv loaded at all. A built bramble without its
// generated validator is broken, and says so rather than quietly compiling.
const fromSources = import.meta.url.endsWith('.ts');
const compiled: ValidateFunction = fromSources
  ? inventoryAjv().compile((await import('./schema.ts')).InventorySchema)
  : await import('./validator.generated.js').then(
      (m: { default: unknown }) => {
        if (typeof m.default !== 'function') throw brokenValidator('it exports no validator function');
        return m.default as ValidateFunction;
      },
      (e: Error) => {
        throw brokenValidator(e.message.split('\n')[0]!);
      },
    );

function brokenValidator(why: string): BrambleError {
  return new BrambleError(`bramble's inventory validator (validator.generated.js, made by npm run build) is missing or broken: ${why}. Rebuild bramble (npm run build) or reinstall it.`);
}

function validator(): ValidateFunction {
  return compiled;
}

function show(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function pathOf(instancePath: string): Array<string | number> {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

interface Located {
  path: FieldPath;
  message: string;
  onKey?: boolean;
}

function describeError(e: ErrorObject, siblings: ErrorObject[]): Located {
  const path = pathOf(e.instancePath);
  const data = e.data;
  switch (e.keyword) {
    case 'required':
      return { path: [...path, (e.params as { missingProperty: string }).missingProperty], message: `required field is missing` };
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      return { path: [...path, extra], message: `unknown field "${extra}"; expected one of: ${allowed.join(', ')}`, onKey: true };
    }
    case 'type': {
      // A version typed as 1.35 parses as a number: say what was meant.
      const f = FORMATS[(e.parentSchema as { format?: string }).format ?? ''];
      if (f && (e.params as { type: string }).type === 'string') return { path, message: `expected ${f.describe}, got ${show(data)}` };
      return { path, message: `must be ${TYPE_WORDS[(e.params as { type: string }).type] ?? (e.params as { type: string }).type}, got ${show(data)}` };
    }
    case 'const':
      return { path, message: `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, got ${show(data)}` };
    case 'anyOf': {
      const options = ((e.schema as Array<{ const?: unknown }>) ?? []).map((s) => s.const).filter((v) => v !== undefined);
      if (options.length > 0) return { path, message: `must be one of ${options.map((o) => String(o)).join(', ')}; got ${show(data)}` };
      return { path, message: siblings[0]?.message ?? 'does not match any allowed form' };
    }
    case 'format': {
      const f = FORMATS[(e.params as { format: string }).format];
      return { path, message: `expected ${f?.describe ?? e.params.format}, got ${show(data)}` };
    }
    case 'pattern': {
      const d = (e.parentSchema as { description?: string }).description;
      return { path, message: d ? `expected ${d}, got ${show(data)}` : `${show(data)} must match ${(e.params as { pattern: string }).pattern}` };
    }
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${(e.params as { limit: number }).limit}, got ${show(data)}` };
    case 'minItems':
      return { path, message: `must list at least ${(e.params as { limit: number }).limit} item(s)` };
    case 'minLength':
      return { path, message: `must not be empty` };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/** One message per field: the union's own error wins over its branches'. */
function shapeProblems(errors: ErrorObject[]): Located[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    // Branch errors of an anyOf are explained by the anyOf itself.
    if (/\/anyOf\/\d+\//.test(e.schemaPath) && errors.some((o) => o.keyword === 'anyOf' && o.instancePath === e.instancePath)) continue;
    const key = e.keyword === 'required' || e.keyword === 'additionalProperties' ? `${e.instancePath}#${JSON.stringify(e.params)}` : e.instancePath;
    byPath.set(key, [...(byPath.get(key) ?? []), e]);
  }
  const out: Located[] = [];
  for (const group of byPath.values()) {
    const primary = group.find((e) => e.keyword === 'anyOf') ?? group[0]!;
    out.push(describeError(primary, group));
  }
  return out;
}

/**
 * Line breaks of any kind (U+2028, U+2029 and U+0085 included, which YAML 1.1
 * readers such as kustomize's treat as line ends) and other control
 * characters: no inventory value is more than one line of text, and one that
 * looks like one line here must not become two in a rendered file.
 */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

function controlName(c: string): string {
  const names: Record<string, string> = { '\n': 'a line feed', '\r': 'a carriage return', '\u0085': 'U+0085 (next line)', '\u2028': 'U+2028 (line separator)', '\u2029': 'U+2029 (paragraph separator)' };
  return names[c] ?? `the control character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Refuses a file larger than this before reading it: a real site's inventory is a few KB. */
export const MAX_INVENTORY_BYTES = 1024 * 1024;

function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * Parse and check an inventory. `label` is how errors name the file (the
 * path the owner typed).
 */
export function parseInventory(text: string, label: string): Inventory {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2' });
  const where = new Locator(label, doc, lines);

  // After the first error on a line the parser mostly reports its own confusion.
  const lineOf = (e: { pos: [number, number] }) => lines.linePos(e.pos[0]).line;
  const syntax = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')].filter(
    (e, i, all) => all.findIndex((o) => lineOf(o) === lineOf(e)) === i,
  );
  if (syntax.length > 0) {
    throw new InventoryError(
      sortProblems(
        syntax.map((e) => {
          const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
          return where.at(e.pos[0], where.pathAt(e.pos[0]), `invalid YAML: ${message}`);
        }),
      ),
    );
  }

  const control: Problem[] = [];
  visit(doc, {
    Scalar(_key, node) {
      const bad = typeof node.value === 'string' ? CONTROL.exec(node.value) : null;
      if (bad && node.range) control.push(where.at(node.range[0], where.pathAt(node.range[0]), `contains ${controlName(bad[0])}; inventory values are one line of plain text`));
    },
  });
  if (control.length > 0) throw new InventoryError(sortProblems(control));

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // Aliases are resolved only here: one that names no anchor, or a bomb of them.
    let offset = 0;
    visit(doc, {
      Alias(_key, node) {
        if (node.range && (offset === 0 || !node.resolve(doc))) offset = node.range[0];
        if (!node.resolve(doc)) return visit.BREAK;
      },
    });
    throw new InventoryError([where.at(offset, where.pathAt(offset), `invalid YAML: ${(e as Error).message.split('\n')[0]}`)]);
  }
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    throw new InventoryError([where.problem([], `the inventory must be a mapping with apiVersion, site, vlans, git and clusters; got ${show(data ?? null)}`)]);
  }

  const validate = validator();
  if (!validate(data)) {
    throw new InventoryError(sortProblems(shapeProblems(validate.errors ?? []).map((l) => where.problem(l.path, l.message, l.onKey))));
  }

  const raw = data as RawInventory;
  const findings = checkMeaning(raw);
  const errors = findings.filter((f) => !f.warning);
  if (errors.length > 0) {
    throw new InventoryError(sortProblems(errors.map((f) => where.problem(f.path, f.message, f.onKey))));
  }
  const inv = resolve(raw, basename(label));
  inv.warnings = sortProblems(findings.filter((f) => f.warning).map((f) => where.problem(f.path, f.message, f.onKey)));
  return inv;
}

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    const st = await stat(file);
    // A pipe, a FIFO or a device has no size to trust (and a FIFO with no writer never ends): files only.
    if (!st.isFile() && !st.isDirectory()) {
      throw new InventoryError([{ file, line: 1, col: 1, path: [], message: `not a regular file (a ${st.isFIFO() ? 'pipe or FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'device' : st.isSocket() ? 'socket' : 'special file'}); give the inventory as a file` }]);
    }
    const tooBig = (what: string) => new InventoryError([{ file, line: 1, col: 1, path: [], message: `the file ${what}; an inventory may be at most ${MAX_INVENTORY_BYTES / 1024 / 1024} MiB (a real site's is a few KB): is this the right file?` }]);
    if (st.size > MAX_INVENTORY_BYTES) throw tooBig(`is ${(st.size / 1024 / 1024).toFixed(1)} MiB`);
    // Read at most one byte past the cap: a file that grows while it is read stops there.
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_INVENTORY_BYTES + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got > MAX_INVENTORY_BYTES) throw tooBig(`grew past ${MAX_INVENTORY_BYTES / 1024 / 1024} MiB while it was read`);
      }
      text = buf.subarray(0, got).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof InventoryError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'permission denied' : String((e as Error).message);
    throw new InventoryError([{ file, line: 1, col: 1, path: [], message: `cannot read the inventory: ${why}` }]);
  }
  return parseInventory(text, file);
}
