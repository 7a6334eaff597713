// What machine a timing came from. Machines of the same class (2 cores,
// shared) differ: the same commit's fresh-clone CI took 592 s on one and
// 351 s on another, so a figure in docs/testing.md or bench/RESULTS.md means
// little without the machine beside it. This reads the CPU off /proc, the
// share of the CPUs that was busy or taken by the host (steal) between two
// readings, and times two fixed pieces of work: starting a program (what the
// suite does tens of thousands of times) and a JavaScript loop.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuTimes {
  busy: number;
  steal: number;
  total: number;
}

/** The whole machine's CPU counters (clock ticks) from /proc/stat, or undefined off Linux. */
export function cpuTimes(): CpuTimes | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return undefined;
  }
}

/** The CPU as /proc/cpuinfo names it: a VM often says only "AMD EPYC", so family and model are added. */
export function cpuName(): string {
  let info = '';
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return cpus()[0]?.model ?? 'unknown CPU';
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const family = field('cpu family');
  const model = field('model');
  return `${field('model name') ?? 'unknown CPU'}${family ? ` (family ${family}, model ${model})` : ''}`;
}

/** Milliseconds for `count` starts of `true`, one after another. */
export function programStartsMs(count = 200): number {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) spawnSync('true');
  return performance.now() - t0;
}

/** Milliseconds for a fixed JavaScript workload (objects, strings, JSON): about 0.2 s on a quick machine. */
export function scriptMs(): number {
  const t0 = performance.now();
  let sum = 0;
  for (let round = 0; round < 40; round++) {
    const items = Array.from({ length: 5000 }, (_, i) => ({ name: `node-${i}`, labels: { role: i % 3 ? 'agent' : 'server' }, n: i * round }));
    const back = JSON.parse(JSON.stringify(items)) as typeof items;
    sum += back.filter((x) => x.labels.role === 'server').reduce((s, x) => s + x.name.length + x.n, 0);
  }
  if (sum < 0) throw new Error('unreachable: keeps the work from being optimised away');
  return performance.now() - t0;
}

/** How busy the CPUs were between two readings and how much the host took; none without two readings apart (never a made-up 0 %). */
export function shares(since: CpuTimes | undefined, now: CpuTimes | undefined): string | undefined {
  if (!since || !now || now.total <= since.total) return undefined;
  const d = now.total - since.total;
  return `${Math.round((100 * (now.busy - since.busy)) / d)} % busy and ${Math.round((100 * (now.steal - since.steal)) / d)} % stolen by the host over the run`;
}

/**
 * One line naming the machine and its speed now; with `since` (an earlier
 * cpuTimes()), also how busy its CPUs were and how much the host took.
 */
export function machineLine(since?: CpuTimes, now = cpuTimes()): string {
  const parts = [`${cpuName()}, ${cpus().length} CPUs`];
  const share = shares(since, now);
  if (share) parts.push(share);
  parts.push(`200 program starts ${programStartsMs().toFixed(0)} ms`, `the script workload ${scriptMs().toFixed(0)} ms`);
  return parts.join('; ');
}
