// A real pseudo-terminal for tests: tmux runs the built CLI, the test reads
// the screen (capture-pane) and types (send-keys) as a person would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { CLI, tempDir } from './helpers.ts';

const socket = `bramble-test-${process.pid}`;
const conf = join(tempDir(), 'tmux.conf');
writeFileSync(conf, 'set -g history-limit 50000\nset -g remain-on-exit on\n');
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, '-f', conf, ...args], { encoding: 'utf8' });
after(() => tmux('kill-server'));

/** `bramble ARGS` in its own tmux session; "EXIT=<code>" is printed when it ends. */
export class Terminal {
  readonly name: string;
  /** Everything the pane printed, appended by tmux: its size says when the screen may have changed. */
  private readonly output: string;
  constructor(name: string, args: string[], env: Record<string, string> = {}) {
    this.name = name;
    this.output = join(tempDir(), `${name}.out`);
    writeFileSync(this.output, '');
    const cmd = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
    const vars = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // The command waits until the pane's output is piped, so that nothing it prints goes unseen.
    const r = tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', ...vars, `tmux -L '${socket}' wait-for '${name}-piped'; ${cmd}; echo "EXIT=$?"`);
    assert.equal(r.status, 0, r.stderr);
    const piped = tmux('pipe-pane', '-o', '-t', name, `cat >> '${this.output}'`);
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(tmux('wait-for', '-S', `${name}-piped`).status, 0);
  }
  private printed(): number {
    return statSync(this.output).size;
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
    for (let misses = 0; ; misses++) {
      // Read the size before the screen: anything printed after this capture grows the file past it.
      const seen = this.printed();
      const s = this.screen();
      if (test(s)) return s;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the screen:\n${s}`);
      // A look at the file costs no process; the screen is read again only once the pane printed more
      // (or after a second, should a redraw ever reach the screen without output). A screen that keeps
      // changing without the wanted words (a spinner) is read four times a second, not at every frame.
      const next = Date.now() + 1000;
      await new Promise((r) => setTimeout(r, misses < 3 ? 40 : 250));
      while (this.printed() === seen && Date.now() < Math.min(next, deadline)) await new Promise((r) => setTimeout(r, 40));
    }
  }
  /** The command's exit code, once it has ended. */
  async exit(ms = 15_000): Promise<{ code: number; screen: string }> {
    const screen = await this.until((s) => /\nEXIT=\d+/.test(s), 'the command to end', ms);
    return { code: Number(/\nEXIT=(\d+)/.exec(screen)![1]), screen };
  }
}

/** A keystroke script: answers for the prompts that need more than Enter, in order. */
export type Answer = { prompt: RegExp; type?: string; choose?: string; rejected?: RegExp };

/** The prompt waiting for an answer: the last "? " line with nothing answered after it. */
function activePrompt(screen: string): { text: string; index: number } | undefined {
  const lines = screen.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (/^✔ /.test(l)) return undefined;
    if (/^\? /.test(l)) return { text: l, index: i };
  }
  return undefined;
}

const answered = (screen: string) => screen.split('\n').filter((l) => /^✔ /.test(l)).length;

/**
 * Answer every prompt until the command exits: the next scripted answer when
 * its pattern matches the prompt, Enter (the default) otherwise.
 */
export async function drive(t: Terminal, script: Answer[], waitMs = 15_000): Promise<{ screen: string; code: number; prompts: string[] }> {
  const pending = [...script];
  const prompts: string[] = [];
  for (;;) {
    const keygen = (s: string) => /Enter (same )?passphrase[^\n]*:\s*$/.test(s.trimEnd() + ' ');
    const screen = await t.until((s) => /\nEXIT=\d+/.test(s) || activePrompt(s) !== undefined || keygen(s), 'a prompt', waitMs);
    const exit = /\nEXIT=(\d+)/.exec(screen);
    if (exit) {
      assert.deepEqual(pending.map((a) => String(a.prompt)), [], 'every scripted answer was used');
      return { screen, code: Number(exit[1]), prompts };
    }
    // ssh-keygen's own prompts (the wizard runs it to make a key): an empty passphrase, twice.
    if (keygen(screen)) {
      const seen = screen.split('\n').filter((l) => /Enter (same )?passphrase/.test(l)).length;
      t.keys('Enter');
      await t.until((x) => x.split('\n').filter((l) => /Enter (same )?passphrase/.test(l)).length > seen || /\? |\nEXIT=/.test(x.split(/Enter same passphrase again:/).pop()!), 'ssh-keygen going on');
      continue;
    }
    const p = activePrompt(screen)!;
    prompts.push(p.text);
    const before = answered(screen);
    const next = pending[0];
    if (next && next.prompt.test(p.text)) {
      pending.shift();
      if (next.choose !== undefined) {
        // A list: move the pointer (❯) to the wanted line.
        const lines = screen.split('\n').slice(p.index + 1);
        const choices = lines.filter((l) => /^[❯ ] \S/.test(l)).map((l) => l.slice(2).trim());
        const from = lines.findIndex((l) => l.startsWith('❯'));
        const to = choices.findIndex((c) => c === next.choose || c.startsWith(next.choose + ' '));
        assert.ok(to >= 0, `"${next.choose}" is not among ${choices.join(' | ')}`);
        const moves = to - (from < 0 ? 0 : lines.slice(0, from).filter((l) => /^[❯ ] \S/.test(l)).length);
        for (let i = 0; i < Math.abs(moves); i++) t.keys(moves > 0 ? 'Down' : 'Up');
        await new Promise((r) => setTimeout(r, 80));
      } else if (next.type !== undefined) t.text(next.type);
      t.keys('Enter');
      if (next.rejected) {
        // The wrong answer stays on the prompt with the validate rule's words; clear it for the next try.
        await t.until((s) => next.rejected!.test(s.split('\n').slice(p.index).join('\n')), `the rejection ${next.rejected}`);
        assert.equal(answered(t.screen()), before, 'a rejected answer is not taken');
        t.keys('C-u');
        continue;
      }
    } else t.keys('Enter');
    await t.until((s) => answered(s) > before || /\nEXIT=\d+/.test(s), `an answer to ${p.text}`, waitMs);
  }
}

