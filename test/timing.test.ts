// What the suite and -v report about time: the pause between reads of a
// condition, the stamped -v lines, and the reporter of the ten slowest tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pauseMs } from '../src/base/wait.ts';
import { verboseLog } from '../src/base/io.ts';
import slowest from './slowest-reporter.ts';
import { cpuTimes, shares } from '../scripts/machine.ts';

test('the pause between reads starts at 200 ms, grows by half and stops at its ceiling', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => pauseMs(a)), [200, 300, 450, 675, 1000, 1000]);
  assert.equal(pauseMs(0), 200);
  assert.equal(pauseMs(9, 400), 400);
});

test('-v lines are stamped with the seconds since the process started, in order', () => {
  const lines: string[] = [];
  const log = verboseLog({ out: () => assert.fail('-v goes to stderr'), err: (l) => lines.push(l) });
  log('s1: $ hostname');
  log('phase: publish');
  assert.equal(lines.length, 2);
  const stamps = lines.map((l) => /^\[\s*(\d+\.\d{3})\] (.*)$/.exec(l));
  assert.ok(stamps.every(Boolean), lines.join('\n'));
  assert.equal(stamps[1]![2], 'phase: publish');
  const [a, b] = stamps.map((m) => Number(m![1]));
  assert.ok(a! > 0 && b! >= a! && b! <= performance.now() / 1000 + 0.001, `${a} then ${b}`);
});

test('the reporter prints the ten slowest top-level tests with their files, then the files by their tests\' time, leaving out suites, subtests and file entries; a file that failed outside its tests gets its stderr\'s tail', async () => {
  const cwd = process.cwd();
  const pass = (name: string, ms: number, extra: Record<string, unknown> = {}) => ({ type: 'test:pass', data: { name, nesting: 0, file: `${cwd}/test/f${ms % 3}.test.ts`, details: { duration_ms: ms }, ...extra } });
  const events = [
    ...Array.from({ length: 12 }, (_, i) => pass(`t${i}`, (i + 1) * 1000)),
    { type: 'test:fail', data: { name: 'broken', nesting: 0, file: `${cwd}/test/f9.test.ts`, details: { duration_ms: 99_000 } } },
    pass('a suite', 500_000, { details: { duration_ms: 500_000, type: 'suite' } }),
    pass('a subtest', 400_000, { nesting: 1 }),
    { type: 'test:pass', data: { name: `${cwd}/test/whole.test.ts`, nesting: 0, file: `${cwd}/test/whole.test.ts`, details: { duration_ms: 300_000 } } },
    { type: 'test:diagnostic', data: { message: 'ignored' } },
    // A file whose lab would not start, as the runner reports it: its stderr (file as given), then a failure named by that path.
    { type: 'test:stderr', data: { file: 'test/f1.test.ts', message: 'noise from a passing file\n' } },
    ...Array.from({ length: 30 }, (_, i) => ({ type: 'test:stderr', data: { file: 'test/lab.test.ts', message: `line ${i}\n` } })),
    { type: 'test:stderr', data: { file: 'test/lab.test.ts', message: 'Error: lab: ip netns add bl211n0 failed: File exists\n\nNode.js v24\n' } },
    { type: 'test:fail', data: { name: 'test/lab.test.ts', nesting: 0, file: `${cwd}/test/lab.test.ts`, details: { duration_ms: 964 } } },
  ];
  async function* source() {
    yield* events;
  }
  let text = '';
  for await (const chunk of slowest(source())) text += chunk;
  const lines = text.trim().split('\n');
  assert.equal(lines[0], 'the ten slowest of 13 tests in 4 files (177 s of test time in all):');
  assert.equal(lines.length, 16 + 1 + 1 + 25);
  assert.match(lines[1]!, /^\s+99\.0 s {2}test\/f9\.test\.ts: broken$/);
  assert.match(lines[2]!, /^\s+12\.0 s {2}test\/f0\.test\.ts: t11$/);
  assert.match(lines[10]!, /^\s+4\.0 s {2}test\/f1\.test\.ts: t3$/);
  assert.equal(lines[11], 'the ten files whose tests take longest in all:');
  assert.deepEqual(lines.slice(12, 16).map((l) => l.trim()), [
    '99.0 s  test/f9.test.ts (1 tests)',
    '30.0 s  test/f0.test.ts (4 tests)',
    '26.0 s  test/f2.test.ts (4 tests)',
    '22.0 s  test/f1.test.ts (4 tests)',
  ]);
  assert.doesNotMatch(lines.slice(0, 16).join('\n'), /suite|subtest|whole|lab\.test/);
  assert.match(lines[16]!, /^the machine: .+, \d+ CPUs; (\d+ % busy and \d+ % stolen by the host over the run; )?200 program starts \d+ ms; the script workload \d+ ms$/);
  assert.equal(lines[17], 'test/lab.test.ts failed outside its tests; the last 25 lines of its stderr:');
  assert.equal(lines[18], '  | line 8');
  assert.deepEqual(lines.slice(-3), ['  | Error: lab: ip netns add bl211n0 failed: File exists', '  | ', '  | Node.js v24']);
  assert.doesNotMatch(text, /noise from a passing file/);
});

test('the machine\'s shares between two readings of its CPU counters; none without two readings apart', () => {
  assert.equal(shares({ busy: 1000, steal: 10, total: 2000 }, { busy: 1800, steal: 60, total: 3000 }), '80 % busy and 5 % stolen by the host over the run');
  assert.equal(shares(undefined, { busy: 5, steal: 0, total: 10 }), undefined);
  assert.equal(shares({ busy: 5, steal: 0, total: 10 }, { busy: 5, steal: 0, total: 10 }), undefined);
  const now = cpuTimes();
  assert.ok(now && now.total > 0 && now.busy <= now.total && now.steal <= now.total, JSON.stringify(now));
});
