// Runs that change nothing, on the 4-node lab (3 servers, 1 agent, every
// stand-in answering at once): `install`, `apply`, `status` and `plan` after a
// first application, each run 5 times, the median printed against issue 30's
// goals; then where one `apply`'s time goes, read off its -v lines (each is
// stamped with the seconds since the process started).
// Usage (as root): npm run build && node dist/bench/noop.js [--runs N] [--timeline]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../scripts/lab/lab.ts';
import { bramble, cli } from './cli.ts';
import { serveFlux } from '../test/lab-standins/flux-install.ts';
import { gitopsInventory } from '../test/lab-helpers.ts';
import { machineLine } from '../scripts/machine.ts';

const args = process.argv.slice(2);
// Figures from different machines of one class differ more than most changes do.
console.log(`the machine: ${machineLine()}`);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const timeline = args.includes('--timeline');
const hold = args.includes('--hold');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Where a run's time went: from its -v lines' "phase: NAME" marks, each
 * phase lasting until the next mark (the last until the process ended), and
 * "start-up" before the first (Node, bramble's modules, the options).
 */
function phases(stderr: string, totalS: number): Map<string, number> {
  const marks = stamped(stderr).filter(([, l]) => l.startsWith('phase: '));
  const out = new Map<string, number>();
  const at = [0, ...marks.map(([t]) => t), totalS];
  const names = ['start-up', ...marks.map(([, l]) => l.slice('phase: '.length).replace(/ \([^)]*\)$/, ''))];
  names.forEach((n, i) => out.set(n, (out.get(n) ?? 0) + at[i + 1]! - at[i]!));
  return out;
}

/** The stamped -v lines of a run: seconds since its start, and the line. */
function stamped(stderr: string): Array<[number, string]> {
  return stderr
    .split('\n')
    .map((l) => /^\[\s*([\d.]+)\] (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), m[2]!]);
}

const work = mkdtempSync(join(tmpdir(), 'bramble-bench-'));
const lab = await Lab.start([
  { name: 's1', board: 'rk1', iscsi: true },
  { name: 's2', board: 'rk1', iscsi: true },
  { name: 's3', board: 'rk1', iscsi: true },
  { name: 'a1', board: 'x86', iscsi: true },
]);
try {
  const url = await lab.serveInstallScript();
  await serveFlux(lab, '2.9.5');
  const git = await lab.startGitServer();
  const inv = join(work, 'inventory.yaml');
  const nodes = lab.nodes.map((x, i) => ({ node: x.name, role: i < 3 ? ('server' as const) : ('agent' as const) }));
  writeFileSync(inv, gitopsInventory(lab, [{ name: 'bench', nodes }], { installScriptUrl: url, repoUrl: lab.gitRepository('bench.git'), hostKey: git.fingerprint }));
  const kh = join(work, 'known_hosts');
  writeFileSync(kh, lab.knownHosts(), { mode: 0o600 });
  const reach = ['-i', inv, '--known-hosts', kh];
  const common = [...reach, '--kubeconfig', join(work, 'kubeconfig')];
  const withRepo = [...common, '--repo', join(work, 'repo')];
  const env = git.ownerEnv;
  // The first application: a plain SSH Git host needs its owner to add the deploy key in between.
  const first = await bramble(['apply', ...withRepo, '--timeout', '120'], env);
  const key = /(ssh-ed25519 \S+ flux-bench)/.exec(first.stdout)?.[1];
  if (first.code !== 1 || !key) throw new Error(`the first apply should stop for the deploy key:\n${first.stdout}${first.stderr}`);
  lab.addDeployKey(key);
  const second = await bramble(['apply', ...withRepo, '--timeout', '120'], env);
  if (second.code !== 0) throw new Error(`apply failed:\n${second.stdout}${second.stderr}`);
  console.log(`first application (two runs): ${((first.ms + second.ms) / 1000).toFixed(1)} s`);
  if (hold) {
    // The lab stays up for timing a command by hand; Ctrl-C takes it down.
    const q = (a: string[]) => a.map((x) => (/^[\w./:=-]+$/.test(x) ? x : `'${x}'`)).join(' ');
    const envText = Object.entries(env).map(([k, v]) => `${k}=${q([v ?? ''])}`).join(' ');
    console.log(`\nthe lab is up; for example:\n  ${envText} node ${cli} apply ${q(withRepo)} -v\nCtrl-C takes it down`);
    await new Promise<void>((res) => process.once('SIGINT', () => res()));
  }

  if (!hold) {
    const goals: Array<[string, string[], number]> = [
      ['install', ['install', ...common], 2.5],
      ['apply', ['apply', ...withRepo], 3],
      ['status', ['status', ...common], 1.5],
      ['plan', ['plan', ...reach, '--repo', join(work, 'repo')], 2.5],
    ];
    console.log(`\nnothing to change, median of ${runs} runs each:`);
    const lines: string[] = [];
    for (const [name, argv, goal] of goals) {
      const times: number[] = [];
      const split = new Map<string, number[]>();
      let slowest = '';
      for (let i = 0; i < runs; i++) {
        const r = await bramble([...argv, '-v'], env);
        if (r.code !== 0) throw new Error(`${name} failed:\n${r.stdout}${r.stderr}`);
        if (name === 'apply' && !/nothing to change/.test(r.stdout)) throw new Error(`the apply re-run planned changes:\n${r.stdout}`);
        times.push(r.ms);
        for (const [n, d] of phases(r.stderr, r.ms / 1000)) split.set(n, [...(split.get(n) ?? []), d]);
        if (i === 0) slowest = r.stderr;
      }
      const m = median(times) / 1000;
      console.log(`  ${name.padEnd(8)} ${m.toFixed(2).padStart(6)} s   (goal ${goal} s${m <= goal ? ', met' : ', NOT met'}; runs ${times.map((t) => (t / 1000).toFixed(2)).join(' ')})`);
      // Median of each phase over the runs: they need not add up to the median total exactly.
      const parts = [...split].filter(([, d]) => d.length === runs).map(([n, d]) => `${n} ${median(d).toFixed(2)}`);
      if (parts.length > 1) console.log(`             ${parts.join(' | ')}`);
      if (timeline) lines.push(`\n${name}, its first run's -v lines:`, ...stamped(slowest).map(([t, l]) => `  ${t.toFixed(3).padStart(7)}  ${l.slice(0, 140)}`));
    }
    for (const l of lines) console.log(l);
  }
} finally {
  await lab.stop();
  rmSync(work, { recursive: true, force: true });
}
