// CLI start-up against bare Node, measured in one run: the median wall time,
// and the CPU of all the runs (user and system, the V8 threads beside the
// main one included) per run.
// Usage: npm run build && node dist/bench/startup.js
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/base/paths.ts';

const root = packageRoot();
const cli = join(root, 'dist', 'bin', 'bramble.js');

/** CPU seconds of this process's waited-for children so far (Linux: /proc/self/stat's cutime and cstime). */
function childrenCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ", cutime and cstime are the 14th and 15th fields; the kernel counts in 1/100 s.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function measure(args: string[], runs = 15): { ms: number; cpuMs: number } {
  const times: number[] = [];
  let cpu = 0;
  for (let i = 0; i < runs + 2; i++) {
    const before = childrenCpu();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    if (i >= 2) {
      times.push(performance.now() - t0);
      cpu += childrenCpu() - before;
    }
  }
  return { ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!, cpuMs: (cpu / runs) * 1000 };
}

const bare = measure(['-e', '0']);
const show = (label: string, m: { ms: number; cpuMs: number }) =>
  console.log(
    `${label.padEnd(30)} ${m.ms.toFixed(0).padStart(5)} ms   ${(m.ms / bare.ms).toFixed(2)}x bare node, +${(m.ms - bare.ms).toFixed(0)} ms   CPU ${m.cpuMs.toFixed(0).padStart(4)} ms a run`,
  );
console.log(`${'node -e 0'.padEnd(30)} ${bare.ms.toFixed(0).padStart(5)} ms   CPU ${bare.cpuMs.toFixed(0).padStart(4)} ms a run`);
show('bramble --help', measure([cli, '--help']));
show('bramble validate (reference)', measure([cli, 'validate', '-i', 'inventory/homelab.yaml']));
