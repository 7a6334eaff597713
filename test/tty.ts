// A real pseudo-terminal for tests: tmux runs the built CLI, the test reads
// the screen (capture-pane) and types (send-keys) as a person would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { ROOT, tempDir } from './helpers.ts';

const socket = `bramble-test-${process.pid}`;
const conf = join(tempDir(), 'tmux.conf');
writeFileSync(conf, 'set -g history-limit 50000\nset -g remain-on-exit on\n');
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, '-f', conf, ...args], { encoding: 'utf8' });
after(() => tmux('kill-server'));

/** `bramble ARGS` in its own tmux session; "EXIT=<code>" is printed when it ends. */
export class Terminal {
  readonly name: string;
  constructor(name: string, args: string[], env: Record<string, string> = {}) {
    this.name = name;
    const cmd = [process.execPath, join(ROOT, 'dist', 'bootstrap.js'), ...args].map((a) => `'${a}'`).join(' ');
    const vars = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    const r = tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', ...vars, `${cmd}; echo "EXIT=$?"`);
    assert.equal(r.status, 0, r.stderr);
  }
  screen(): string {
    return tmux('capture-pane', '-p', '-J', '-S', '-', '-t', this.name).stdout;
  }
  keys(...keys: string[]): void {
    tmux('send-keys', '-t', this.name, ...keys);
  }
  text(s: string): void {
    tmux('send-keys', '-t', this.name, '-l', s);
  }
  async until(test: (screen: string) => boolean, what: string, ms = 15_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.screen();
      if (test(s)) return s;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }
  /** The command's exit code, once it has ended. */
  async exit(ms = 15_000): Promise<{ code: number; screen: string }> {
    const screen = await this.until((s) => /\nEXIT=\d+/.test(s), 'the command to end', ms);
    return { code: Number(/\nEXIT=(\d+)/.exec(screen)![1]), screen };
  }
}
