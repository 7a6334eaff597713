// A failure in each phase of `apply --json`: preflight, install, publish and
// the Flux hand-over. Whatever fails, stdout stays one JSON event per line,
// the failure is an `error` event, the run ends with its `summary` event, and
// nothing is written to stderr.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brambleAsync, git } from './helpers.ts';
import { gitopsInventory, startGitopsLab } from './lab-helpers.ts';

const { lab, scriptUrl, gitServer, repoUrl, work, knownHosts } = await startGitopsLab([{ name: 'one', board: 'rk1', iscsi: true }], 'failures.git');
const env = { ...gitServer.ownerEnv, KUBECONFIG: join(work, 'kubeconfig') };

function inventory(name: string, edit: (text: string) => string = (t) => t, installScriptUrl = scriptUrl): string {
  const text = gitopsInventory(lab, [{ name: 'staging', nodes: [{ node: 'one', role: 'server' }] }], { installScriptUrl, repoUrl, hostKey: gitServer.fingerprint });
  const f = join(work, `${name}.yaml`);
  writeFileSync(f, edit(text));
  return f;
}

type Event = { event: string; message?: string; [k: string]: unknown };

/** apply --json --yes: every stdout line parsed (a line that is not JSON fails the test). */
async function applyJson(inv: string, repo: string, extra: string[] = []): Promise<{ code: number; events: Event[]; stderr: string }> {
  const r = await brambleAsync(['apply', '--json', '--yes', '-i', inv, '--known-hosts', knownHosts, '--repo', join(work, repo), '--timeout', '20', ...extra], env, 240_000);
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l, i) => {
      try {
        return JSON.parse(l) as Event;
      } catch {
        return assert.fail(`line ${i + 1} of --json output is not JSON: ${l}`);
      }
    });
  return { code: r.code, events, stderr: r.stderr };
}

function failedWith(run: { code: number; events: Event[]; stderr: string }, message: RegExp, summary = true): void {
  assert.equal(run.code, 1, JSON.stringify(run.events.slice(-3)));
  assert.equal(run.stderr, '', 'nothing on stderr under --json');
  const errors = run.events.filter((e) => e.event === 'error');
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0]!.message!, message);
  if (summary) assert.equal(run.events.at(-1)!.event, 'summary', 'the summary ends the run');
}

test('preflight: a board that is not what the inventory says stops the run with an error event', { timeout: 120_000 }, async () => {
  const run = await applyJson(inventory('wrong-board', (t) => t.replace('hardware: rk1', 'hardware: pi5')), 'repo-preflight');
  failedWith(run, /^apply stopped before changing anything: 1 problem\(s\) on the nodes$/, false);
  assert.match(JSON.stringify(run.events.find((e) => e.event === 'error')), /staging\/one: preflight board/);
  assert.ok(!run.events.some((e) => e.event === 'summary' && (e as { pushed?: unknown }).pushed), 'nothing was pushed');
});

test('install: the install script failing after placing the binary is an error event, then the summary', { timeout: 180_000 }, async () => {
  const run = await applyJson(inventory('broken-install', undefined, scriptUrl.replace(/\/install\.sh$/, '/install-fail-after-binary.sh')), 'repo-install');
  failedWith(run, /cluster staging: not complete|one: FAILED at install k3s/);
});

test('publish: a remote that refuses the push is an error event, then the summary', { timeout: 180_000 }, async () => {
  const remote = join(work, 'refusing.git');
  git(work, 'init', '--quiet', '--bare', '--initial-branch', 'main', remote);
  const hook = join(remote, 'hooks', 'pre-receive');
  writeFileSync(hook, '#!/bin/sh\necho "protected branch" >&2\nexit 1\n');
  chmodSync(hook, 0o755);
  const run = await applyJson(inventory('refused'), 'repo-publish', ['--remote', remote]);

  // The same work tree against the inventory's own remote: refused while planning, still as an event.
  const planning = await applyJson(inventory('refused'), 'repo-publish');
  failedWith(planning, /repo-publish is a clone of .*refusing\.git, not of ssh:\/\//, false);
  failedWith(run, /pushing to .*refusing\.git \(main\) failed: .*protected branch/);
});

test('flux: a deploy key the owner has not added yet is an error event, then the summary', { timeout: 180_000 }, async () => {
  const run = await applyJson(inventory('flux'), 'repo-flux');
  failedWith(run, /deploy key|Flux/);
  assert.ok(run.events.some((e) => JSON.stringify(e).includes('ssh-ed25519 ')), 'the key to add is in the stream');
});
