// No import cycles in bramble's own code (issue 29, part 2): every relative
// import of src/ and bootstrap.ts, static (`from '...'`) and dynamic
// (`import('...')`), read from the sources and checked for strongly connected
// components. A cycle is named with every file on it. And the layers written
// down in src/layers.json: no import runs up a layer, no two folders import
// each other in a circle, and each exception that stays is named with its reason.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.ts';

/** file -> the files of the tree it imports. */
export function importGraph(files: string[], read: (f: string) => string, withTypes = false): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    // Type-only imports leave nothing at run time: they cannot make a cycle of loading.
    const text = withTypes ? read(f) : read(f).replace(/^import type [^;]*;$/gm, '');
    const specs = [...text.matchAll(/\bfrom\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
    graph.set(f, [...new Set(specs.map((s) => resolve(dirname(f), s)).filter((t) => known.has(t)))]);
  }
  return graph;
}

/** Every cycle, as the strongly connected components of more than one file (or a file importing itself): Tarjan's algorithm. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

function sources(): string[] {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
  return [join(ROOT, 'bootstrap.ts'), ...walk(join(ROOT, 'src'))];
}

test('bramble\'s own code has no import cycle', () => {
  const files = sources();
  const graph = importGraph(files, (f) => readFileSync(f, 'utf8'));
  assert.ok([...graph.values()].reduce((n, t) => n + t.length, 0) > 100, 'the imports were read');
  const found = cycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(' <-> '));
  assert.deepEqual(found, [], `import cycles:\n${found.join('\n')}`);
});

test('the cycle check finds a cycle, through a dynamic import too, and ignores type-only imports', () => {
  const text: Record<string, string> = {
    '/x/a.ts': "import { b } from './b.ts';\n",
    '/x/b.ts': "export const b = 1;\nconst c = await import('./c.ts');\n",
    '/x/c.ts': "import { a } from './a.ts';\n",
    '/x/d.ts': "import type { A } from './e.ts';\n",
    '/x/e.ts': "import { d } from './d.ts';\n",
  };
  const graph = importGraph(Object.keys(text), (f) => text[f]!);
  assert.deepEqual(cycles(graph), [['/x/a.ts', '/x/b.ts', '/x/c.ts']]);
});

interface Layers {
  layers: Array<{ name: string; members: string[] }>;
  exceptions: Array<{ from: string; to: string; why: string }>;
}

/** The member of the rules a file belongs to ("k3s/", "cli.ts"), from its path under src/. */
function memberOf(rules: Layers, rel: string): string | undefined {
  const all = rules.layers.flatMap((l) => l.members);
  return all.find((m) => (m.endsWith('/') ? rel.startsWith(m) : rel === m));
}

/** Every import that breaks the rules: one up a layer, a circle of folders, a file in no layer, an exception unused or without a reason. */
export function layerProblems(rules: Layers, graph: Map<string, string[]>, srcDir: string): string[] {
  const rank = new Map<string, number>();
  rules.layers.forEach((l, i) => l.members.forEach((m) => rank.set(m, rules.layers.length - i)));
  const layerName = (m: string) => rules.layers.find((l) => l.members.includes(m))!.name;
  const out: string[] = [];
  const used = new Set<string>();
  const folders = new Map<string, Set<string>>();
  for (const [from, tos] of graph) {
    const rf = relative(srcDir, from);
    if (rf.startsWith('..')) continue;
    const mf = memberOf(rules, rf);
    if (!mf) {
      out.push(`${rf}: in no layer of src/layers.json`);
      continue;
    }
    for (const to of tos) {
      const rt = relative(srcDir, to);
      const mt = memberOf(rules, rt);
      if (!mt || mt === mf) continue;
      if (!folders.has(mf)) folders.set(mf, new Set());
      folders.get(mf)!.add(mt);
      if (rank.get(mt)! <= rank.get(mf)!) continue;
      const exception = rules.exceptions.find((e) => e.from === rf && e.to === rt);
      if (exception && exception.why.trim().length > 0) {
        used.add(`${rf} -> ${rt}`);
        continue;
      }
      out.push(`${rf} (${layerName(mf)}) imports ${rt} (${layerName(mt)}), a layer above it`);
    }
  }
  for (const e of rules.exceptions) {
    if (!e.why?.trim()) out.push(`exception ${e.from} -> ${e.to} gives no reason`);
    else if (!used.has(`${e.from} -> ${e.to}`)) out.push(`exception ${e.from} -> ${e.to} is no longer needed: take it out of src/layers.json`);
  }
  const folderGraph = new Map([...folders].map(([k, v]) => [k, [...v]]));
  for (const c of cycles(folderGraph)) out.push(`folders import each other in a circle: ${c.join(' <-> ')}`);
  return out;
}

const RULES = JSON.parse(readFileSync(join(ROOT, 'src', 'layers.json'), 'utf8')) as Layers;

test('no import runs up a layer of src/layers.json, and no folders import each other in a circle', () => {
  const graph = importGraph(sources().filter((f) => f.startsWith(join(ROOT, 'src'))), (f) => readFileSync(f, 'utf8'), true);
  assert.ok(RULES.layers.length >= 5 && RULES.layers.every((l) => l.members.length > 0), 'the rules were read');
  const problems = layerProblems(RULES, graph, join(ROOT, 'src'));
  assert.deepEqual(problems, [], `layer rules broken:\n${problems.join('\n')}`);
});

test('the layer check finds an import up a layer, a circle of folders, a file in no layer, and a stale or unexplained exception', () => {
  const rules: Layers = {
    layers: [
      { name: 'top', members: ['cli.ts'] },
      { name: 'mid', members: ['a/', 'b/'] },
      { name: 'low', members: ['c/'] },
    ],
    exceptions: [
      { from: 'c/kept.ts', to: 'a/x.ts', why: 'named on purpose' },
      { from: 'c/gone.ts', to: 'a/x.ts', why: 'once needed' },
      { from: 'c/bare.ts', to: 'b/y.ts', why: ' ' },
    ],
  };
  const g = new Map<string, string[]>([
    ['/s/cli.ts', ['/s/a/x.ts']],
    ['/s/a/x.ts', ['/s/b/y.ts', '/s/c/z.ts']],
    ['/s/b/y.ts', ['/s/a/x.ts']],
    ['/s/c/z.ts', ['/s/cli.ts']],
    ['/s/c/kept.ts', ['/s/a/x.ts']],
    ['/s/c/bare.ts', ['/s/b/y.ts']],
    ['/s/loose.ts', []],
  ]);
  const found = layerProblems(rules, g, '/s');
  assert.deepEqual(found.sort(), [
    'c/bare.ts (low) imports b/y.ts (mid), a layer above it',
    'c/z.ts (low) imports cli.ts (top), a layer above it',
    'exception c/bare.ts -> b/y.ts gives no reason',
    'exception c/gone.ts -> a/x.ts is no longer needed: take it out of src/layers.json',
    'folders import each other in a circle: a/ <-> b/ <-> c/ <-> cli.ts',
    'loose.ts: in no layer of src/layers.json',
  ].sort());
});

test('no file of src/ is over 400 lines: a room a person can hold in their head', () => {
  const files = sources().filter((f) => f.startsWith(join(ROOT, 'src')));
  const long = files.map((f) => [relative(ROOT, f), readFileSync(f, 'utf8').split('\n').length - 1] as const).filter(([, n]) => n > 400);
  assert.ok(files.length > 50, 'the sources were found');
  assert.deepEqual(long, [], `over 400 lines: ${long.map(([f, n]) => `${f} (${n})`).join(', ')}`);
});
