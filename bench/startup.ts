// CLI start-up against bare Node, measured in one run.
// Usage: npm run build && node dist/bench/startup.js
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../src/base/paths.ts';

const root = packageRoot();
const cli = join(root, 'dist', 'bin', 'bramble.js');

function median(args: string[], runs = 15): number {
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    if (i >= 2) times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const bare = median(['-e', '0']);
const help = median([cli, '--help']);
const validate = median([cli, 'validate', '-i', 'inventory/homelab.yaml']);
console.log(`node -e 0                      ${bare.toFixed(0).padStart(5)} ms`);
console.log(`bramble --help                 ${help.toFixed(0).padStart(5)} ms   ${(help / bare).toFixed(2)}x bare node, +${(help - bare).toFixed(0)} ms`);
console.log(`bramble validate (reference)   ${validate.toFixed(0).padStart(5)} ms   ${(validate / bare).toFixed(2)}x bare node, +${(validate - bare).toFixed(0)} ms`);
