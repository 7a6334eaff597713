// The reconciliation watcher's verdicts, from the objects the API reports:
// ready at the pushed commit, failing for longer than the grace period,
// stalled at once, or out of time. The API answers are scripted here; the
// end-to-end path over SSH is in flux-e2e.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedObjects, watchReconciliation, type ObjectRef } from '../src/flux/watch.ts';
import type { Session } from '../src/ssh/session.ts';

type Cond = { type: string; status: string; reason?: string; message?: string };
const obj = (kind: string, namespace: string, name: string, conds: Cond[], status: Record<string, unknown> = {}) => ({ kind, metadata: { name, namespace, generation: 1 }, status: { observedGeneration: 1, conditions: conds, ...status } });
const ready = (reason = 'Succeeded', message = 'ok'): Cond[] => [{ type: 'Ready', status: 'True', reason, message }];

/** A session whose `kubectl get` answers with the next scripted list (the last one repeats). */
function api(lists: unknown[][]): Session {
  let i = 0;
  return { exec: async () => ({ code: 0, stderr: '', stdout: JSON.stringify({ items: lists[Math.min(i++, lists.length - 1)] }) }) } as unknown as Session;
}

const expected: ObjectRef[] = [
  { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' },
  { kind: 'Kustomization', namespace: 'flux-system', name: 'flux-system' },
  { kind: 'HelmRelease', namespace: 'traefik', name: 'traefik' },
];
const source = (rev: string) => obj('GitRepository', 'flux-system', 'flux-system', ready(), { artifact: { revision: `main@sha1:${rev}` } });
const root = (rev: string) => obj('Kustomization', 'flux-system', 'flux-system', ready(), { lastAppliedRevision: `main@sha1:${rev}` });
const opts = { expected, timeoutMs: 2000, failAfterMs: 30, pollMs: 5 };

test('the expected objects are the Flux kinds among rendered objects', () => {
  const refs = expectedObjects([{ kind: 'Namespace', metadata: { name: 'x' } }, { kind: 'HelmRelease', metadata: { name: 'traefik', namespace: 'traefik' } }, { kind: 'Kustomization', metadata: { name: 'apps' } }]);
  assert.deepEqual(refs, [
    { kind: 'HelmRelease', namespace: 'traefik', name: 'traefik' },
    { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' },
  ]);
});

test('reconciled only once the source has the pushed commit and the root applied that revision', async () => {
  const notes: string[] = [];
  const hr = obj('HelmRelease', 'traefik', 'traefik', ready());
  const r = await watchReconciliation(
    api([
      [source('old'), root('old'), hr],
      [source('abc123'), root('old'), hr],
      [source('abc123'), root('abc123'), hr],
    ]),
    { ...opts, commit: 'abc123', note: (l) => notes.push(l) },
  );
  assert.equal(r.outcome, 'reconciled');
  assert.ok(notes.includes('ready    GitRepository flux-system/flux-system (main@sha1:abc123)'), notes.join('\n'));
  assert.ok(notes.includes('ready    Kustomization flux-system/flux-system (main@sha1:abc123)'), notes.join('\n'));
  assert.ok(!notes.some((l) => l.includes('old') && l.startsWith('ready')), 'an old revision is never called ready');
});

test('a stalled object ends the wait at once with its own message', async () => {
  const failed = obj('HelmRelease', 'traefik', 'traefik', [
    { type: 'Ready', status: 'False', reason: 'InstallFailed', message: 'Helm install failed: boom' },
    { type: 'Stalled', status: 'True', reason: 'RetriesExceeded' },
  ]);
  const r = await watchReconciliation(api([[source('a'), root('a'), failed]]), { ...opts, failAfterMs: 60_000, note: () => undefined });
  assert.equal(r.outcome, 'failed');
  assert.deepEqual(r.problems, ['HelmRelease traefik/traefik: InstallFailed: Helm install failed: boom']);
});

test('a failure Flux may still retry ends the wait only after the grace period; dependencies waiting never do', async () => {
  const building = obj('HelmRelease', 'traefik', 'traefik', [{ type: 'Ready', status: 'False', reason: 'DependencyNotReady', message: 'dependency not ready' }]);
  const broken = obj('HelmRelease', 'traefik', 'traefik', [{ type: 'Ready', status: 'False', reason: 'UpgradeFailed', message: 'timed out waiting' }]);
  const t0 = Date.now();
  const r = await watchReconciliation(api([[source('a'), root('a'), building], [source('a'), root('a'), building], [source('a'), root('a'), broken]]), { ...opts, failAfterMs: 200, note: () => undefined });
  assert.equal(r.outcome, 'failed');
  assert.ok(Date.now() - t0 >= 200, 'waited out the grace period');
  assert.deepEqual(r.problems, ['HelmRelease traefik/traefik: UpgradeFailed: timed out waiting']);
});

test('out of time: every object not Ready is listed, missing ones too', async () => {
  const r = await watchReconciliation(api([[source('a'), root('a')]]), { ...opts, timeoutMs: 50, note: () => undefined });
  assert.equal(r.outcome, 'timeout');
  assert.deepEqual(r.problems, ['HelmRelease traefik/traefik: not created yet']);
});

test('the source must have handled bramble\'s reconcile request', async () => {
  const handled = (token: string) => obj('GitRepository', 'flux-system', 'flux-system', ready(), { artifact: { revision: 'main@sha1:a' }, lastHandledReconcileAt: token });
  const hr = obj('HelmRelease', 'traefik', 'traefik', ready());
  const late = await watchReconciliation(api([[handled('earlier'), root('a'), hr]]), { ...opts, token: 'now', timeoutMs: 50, note: () => undefined });
  assert.equal(late.outcome, 'timeout');
  const done = await watchReconciliation(api([[handled('earlier'), root('a'), hr], [handled('now'), root('a'), hr]]), { ...opts, token: 'now', note: () => undefined });
  assert.equal(done.outcome, 'reconciled');
});
