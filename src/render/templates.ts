// Loading and running the Handlebars templates under templates/.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import Handlebars from 'handlebars';
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

async function load(hb: typeof Handlebars, root: string): Promise<Template[]> {
  const files = await walk(root);
  return Promise.all(
    files.map(async (file) => {
      const source = await readFile(file, 'utf8');
      // strict: a misspelt variable is an error, not an empty string.
      const compiled = hb.compile(source, { noEscape: true, strict: true });
      const path = relative(root, file).split(sep).join('/').replace(/\.hbs$/, '');
      return { path, run: (context: object) => compiled(context) };
    }),
  );
}

const cache = new Map<string, Promise<TemplateSet>>();

export function loadTemplates(dir = defaultTemplatesDir()): Promise<TemplateSet> {
  let set = cache.get(dir);
  if (!set) {
    const hb = engine();
    set = (async () => ({ cluster: await load(hb, join(dir, 'cluster')), seed: await load(hb, join(dir, 'seed')) }))();
    cache.set(dir, set);
  }
  return set;
}
