// A test reporter that prints nothing while the suite runs and, at its end,
// the ten slowest tests with their files, and the ten files whose tests take
// longest in all: the next regression in the suite's time is seen in every
// run's log (docs/testing.md keeps the budget). Last, a file that failed
// outside any test (a lab that would not start) gets the end of what it
// wrote to stderr: the spec reporter says only "test failed" there, and
// prints the cause minutes earlier, where a log's tail no longer reaches.
// And the machine the run had: machines of this class differ by more than
// any change to the suite does.
import { relative, resolve } from 'node:path';
import { cpuTimes, machineLine } from '../scripts/machine.ts';

interface Finished {
  name: string;
  nesting: number;
  file?: string;
  details: { duration_ms: number; type?: string };
}

/** How many of a failed file's last stderr lines are printed. */
const TAIL = 25;

/** A file as the runner names it (as given, or absolute), relative to where the suite runs. */
const where = (file: string) => relative(process.cwd(), resolve(file));

export default async function* slowest(source: AsyncIterable<{ type: string; data: unknown }>): AsyncGenerator<string> {
  const done: Array<{ name: string; file: string; ms: number }> = [];
  const stderr = new Map<string, string[]>();
  const brokenFiles: string[] = [];
  const started = cpuTimes();
  for await (const event of source) {
    if (event.type === 'test:stderr') {
      const d = event.data as { file?: string; message: string };
      if (!d.file) continue;
      const file = where(d.file);
      const lines = stderr.get(file) ?? [];
      lines.push(...d.message.replace(/\n$/, '').split('\n'));
      stderr.set(file, lines.slice(-TAIL));
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data as Finished;
    // A file run in its own process is reported as a test named by its path (as given, or absolute) when it fails outside its tests: not a test.
    if (d.file && resolve(d.name) === resolve(d.file)) {
      if (event.type === 'test:fail') brokenFiles.push(where(d.file));
      continue;
    }
    if (d.nesting !== 0 || d.details.type === 'suite') continue;
    done.push({ name: d.name, file: d.file ? where(d.file) : '?', ms: d.details.duration_ms });
  }
  done.sort((a, b) => b.ms - a.ms);
  const total = done.reduce((s, t) => s + t.ms, 0);
  const files = new Set(done.map((t) => t.file)).size;
  const lines = [`\nthe ten slowest of ${done.length} tests in ${files} files (${(total / 1000).toFixed(0)} s of test time in all):`];
  for (const t of done.slice(0, 10)) {
    const name = t.name.length > 90 ? `${t.name.slice(0, 89)}…` : t.name;
    lines.push(`  ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${t.file}: ${name}`);
  }
  const byFile = new Map<string, { ms: number; tests: number }>();
  for (const t of done) {
    const f = byFile.get(t.file) ?? { ms: 0, tests: 0 };
    f.ms += t.ms;
    f.tests += 1;
    byFile.set(t.file, f);
  }
  lines.push('the ten files whose tests take longest in all:');
  for (const [file, f] of [...byFile].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10)) {
    lines.push(`  ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${file} (${f.tests} tests)`);
  }
  lines.push(`the machine: ${machineLine(started)}`);
  for (const file of brokenFiles) {
    const said = stderr.get(file) ?? [];
    lines.push(`${file} failed outside its tests; the last ${said.length} lines of its stderr:`, ...said.map((l) => `  | ${l}`));
  }
  yield `${lines.join('\n')}\n`;
}
