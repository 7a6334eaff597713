// The built bramble run as a user runs it, for the benchmarks: its exit
// code, its output, and how long it took from spawn to exit.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../src/base/paths.ts';

export const cli = join(packageRoot(), 'dist', 'bin', 'bramble.js');

export function bramble(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t0 }));
  });
}
