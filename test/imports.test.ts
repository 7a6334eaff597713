// No import cycles in bramble's own code (issue 29, part 2): every relative
// import of src/ and bootstrap.ts, static (`from '...'`) and dynamic
// (`import('...')`), read from the sources and checked for strongly connected
// components. A cycle is named with every file on it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.ts';

/** file -> the files of the tree it imports. */
export function importGraph(files: string[], read: (f: string) => string): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    // Type-only imports leave nothing at run time: they cannot make a cycle of loading.
    const text = read(f).replace(/^import type [^;]*;$/gm, '');
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
