// One structured error: every error bramble explains carries where it
// happened as fields, and no code takes them back out of the message text.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../src/commands/command.ts';
import { BrambleError, detailOf, withoutNode } from '../src/base/errors.ts';
import { GitError } from '../src/git/repo.ts';
import { GitHostError } from '../src/git/github.ts';
import { SelectionError } from '../src/inventory/model.ts';
import { InventoryError } from '../src/inventory/problems.ts';
import { KubeconfigError } from '../src/k3s/kubeconfig.ts';
import { TreeError } from '../src/render/tree.ts';
import { RenderError } from '../src/render/validate.ts';
import { SshError } from '../src/ssh/session.ts';
import { PhaseError } from '../src/run/steps.ts';
import { linesOf, ROOT } from './helpers.ts';

test('an SshError carries node, step and detail as fields; its message reads node: step: detail', () => {
  const cause = new Error('ECONNRESET');
  const e = new SshError('rk-a', 'install k3s', 'exited 1: boom', cause);
  assert.equal(e.message, 'rk-a: install k3s: exited 1: boom');
  assert.deepEqual([e.name, e.node, e.step, e.detail, e.exitCode, e.cause], ['SshError', 'rk-a', 'install k3s', 'exited 1: boom', 1, cause]);
  assert.equal(withoutNode(e), 'install k3s: exited 1: boom');
  assert.equal(detailOf(e), 'exited 1: boom');
  assert.equal(detailOf(new Error('plain')), 'plain');
});

test('every explained error is a BrambleError, with its exit code and name', () => {
  const all: Array<[BrambleError, string, number]> = [
    [new SshError('n', 's', 'd'), 'SshError', 1],
    [new GitError('d'), 'GitError', 1],
    [new GitHostError('d'), 'GitHostError', 1],
    [new KubeconfigError('d'), 'KubeconfigError', 1],
    [new TreeError('d'), 'TreeError', 1],
    [new RenderError(['a: b']), 'RenderError', 1],
    [new SelectionError('d'), 'SelectionError', 1],
    [new InventoryError([{ file: 'f', line: 1, col: 1, path: [], message: 'm' }]), 'InventoryError', 1],
    [new PhaseError('flux failed', 3, ['more']), 'PhaseError', 3],
    [new UsageError('d'), 'UsageError', 2],
  ];
  for (const [e, name, code] of all) {
    assert.ok(e instanceof BrambleError, name);
    assert.equal(e.name, name);
    assert.equal(e.exitCode, code, name);
  }
  assert.deepEqual(all[8]![0].lines, ['more']);
});

test('no source takes a node or step back out of an error message, and no list of error names decides what is explained', () => {
  const offenders: string[] = [];
  for (const { where, line } of linesOf(join(ROOT, 'src'), '.ts')) {
    // (inquirer's own errors are told apart by name, as its docs say; they are not bramble's.)
    if (/message\.replace\(\/\^\[\^:\]/.test(line) || /EXPLAINED|\.name === '(?!\w*PromptError')\w+Error'/.test(line)) offenders.push(`${where}: ${line.trim()}`);
  }
  assert.deepEqual(offenders, []);
});

test('an error bramble did not expect prints by one rule in every command: one line naming it a bug, the stack only with -v', async () => {
  const { main } = await import('../src/cli.ts');
  const { COMMANDS } = await import('../src/commands/index.ts');
  for (const c of COMMANDS) {
    const run = c.run;
    // The command's own code throws what no one planned for, as a malformed file once made it do.
    c.run = async () => {
      throw new TypeError("(o.sops.age ?? []).map is not a function");
    };
    try {
      const args = [c.name, ...(c.args ?? []).filter((a) => a.required).map((a) => a.values[0] ?? 'x'), ...(c.options.includes('inventory') ? ['-i', 'inventory.yaml'] : [])];
      for (const verbose of [false, true]) {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(verbose && c.options.includes('verbose') ? [...args, '-v'] : args, { out: (l) => out.push(l), err: (l) => err.push(l) });
        assert.equal(code, 1, c.name);
        assert.equal(err[0], 'bramble: unexpected TypeError: (o.sops.age ?? []).map is not a function (a bug in bramble; ' + (verbose && c.options.includes('verbose') ? 'the stack follows)' : 'run again with -v to see where it happened)'), c.name);
        if (verbose && c.options.includes('verbose')) assert.match(err[1]!, /^TypeError: .*\n\s+at /, `${c.name}: the stack with -v`);
        else assert.equal(err.length, 1, `${c.name}: one line`);
      }
    } finally {
      c.run = run;
    }
  }
});
