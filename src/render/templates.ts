// Loading and running the Handlebars templates under templates/.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';

// Handlebars' types keep it global, not exported.
type TemplateSpecification = Parameters<typeof Handlebars.template>[0];
import { packageRoot } from '../base/paths.ts';
import { yamlQuote } from './tree.ts';

export function defaultTemplatesDir(): string {
  return join(packageRoot(), 'templates');
}

export interface Template {
  /** Output path relative to the cluster folder, e.g. infrastructure/controllers/longhorn.yaml */
  path: string;
  run: (context: object) => string;
}

export interface TemplateSet {
  /** Generated files: bramble owns them and rewrites them on every render. */
  cluster: Template[];
  /** Seed files: written once when missing, then the owner's. */
  seed: Template[];
}

function engine(): typeof Handlebars {
  const hb = Handlebars.create();
  // A JSON string is a valid double-quoted YAML scalar: whatever the owner
  // typed lands as one value and cannot break out into structure.
  // (validate refuses line breaks of every kind before this; yamlQuote escapes them all the same.)
  hb.registerHelper('q', (value: unknown) => {
    if (value === undefined || value === null) throw new Error('q: value is missing');
    return new hb.SafeString(typeof value === 'object' ? JSON.stringify(value) : yamlQuote(String(value)));
  });
  // A PromQL label selector; PromQL strings take the same escapes as JSON.
  hb.registerHelper('promMatch', (label: unknown, regex: unknown) => new hb.SafeString(`{${String(label)}=~${JSON.stringify(String(regex))}}`));
  // Strict mode does not cover helper arguments: a misspelt one must not become "undefined".
  hb.registerHelper('concat', (...args: unknown[]) => {
    const parts = args.slice(0, -1);
    const missing = parts.findIndex((p) => p === undefined || p === null);
    if (missing >= 0) throw new Error(`concat: argument ${missing + 1} is missing (a misspelt variable?)`);
    return parts.map(String).join('');
  });
  return hb;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.name.endsWith('.hbs')) out.push(full);
  }
  return out.sort();
}

// strict: a misspelt variable is an error, not an empty string.
export const COMPILE_OPTIONS = { noEscape: true, strict: true } as const;

/**
 * The templates under templates/ compiled by `npm run build`
 * (scripts/gen-validator.ts), each with the SHA-256 of the text it was
 * compiled from: Handlebars' compile was a tenth of a second of every run
 * that renders. A template whose text differs from its entry, or has none, is
 * compiled here, as is every one when bramble runs from its sources.
 */
export type Precompiled = Record<string, { sha256: string; spec: TemplateSpecification }>;

async function precompiled(dir: string): Promise<Precompiled> {
  if (import.meta.url.endsWith('.ts') || dir !== defaultTemplatesDir()) return {};
  try {
    // Spelt out, so that the bundle (scripts/bundle.ts) carries it.
    return (await import('./templates.generated.js')).default;
  } catch {
    return {};
  }
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The template files under `dir`, each with its path relative to `dir` (forward slashes) and its text. */
export async function templateSources(dir: string): Promise<Array<{ key: string; source: string }>> {
  return Promise.all((await walk(dir)).map(async (file) => ({ key: relative(dir, file).split(sep).join('/'), source: await readFile(file, 'utf8') })));
}

async function load(hb: typeof Handlebars, dir: string, kind: 'cluster' | 'seed', built: Precompiled): Promise<Template[]> {
  return (await templateSources(join(dir, kind))).map(({ key, source }) => {
    const entry = built[`${kind}/${key}`];
    const compiled = entry && entry.sha256 === sha256(source) ? hb.template(entry.spec) : hb.compile(source, COMPILE_OPTIONS);
    return { path: key.replace(/\.hbs$/, ''), run: (context: object) => compiled(context) };
  });
}

const cache = new Map<string, Promise<TemplateSet>>();

export function loadTemplates(dir = defaultTemplatesDir()): Promise<TemplateSet> {
  let set = cache.get(dir);
  if (!set) {
    const hb = engine();
    set = (async () => {
      const built = await precompiled(dir);
      return { cluster: await load(hb, dir, 'cluster', built), seed: await load(hb, dir, 'seed', built) };
    })();
    cache.set(dir, set);
  }
  return set;
}
