// Ready waits sharing the first server's node-list reads: no wait is answered
// by a read that began before it asked, and a failed read is not passed on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedNodeReads, waitReady } from '../src/k3s/ready.ts';
import type { Session } from '../src/ssh/session.ts';

const node = (name: string, ready: boolean) => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });

/** A first server whose node list is `answer(n)` at its n-th read (from 1), each read taking 20 ms. */
function server(answer: (n: number) => Array<ReturnType<typeof node>> | Error) {
  const reads: string[] = [];
  const session = {
    target: { name: 's1' },
    exec: async (command: string) => {
      reads.push(command);
      const n = reads.length;
      await new Promise((r) => setTimeout(r, 20));
      const a = answer(n);
      if (a instanceof Error) throw a;
      return { code: 0, stderr: '', stdout: JSON.stringify({ items: a }) };
    },
  } as unknown as Session;
  return { session, reads };
}

test('waits that ask at once share reads: five agents Ready take two reads of the node list, not five', async () => {
  const names = ['a1', 'a2', 'a3', 'a4', 'a5'];
  const { session, reads } = server(() => names.map((n) => node(n, true)));
  const shared = new SharedNodeReads(() => session);
  await Promise.all(names.map((n) => waitReady(shared, n, 5_000)));
  assert.deepEqual(reads, ['k3s kubectl get nodes -o json', 'k3s kubectl get nodes -o json']);
});

test('a wait that asks while a read is under way gets the next read, not that one', async () => {
  // Only the second read lists a1 Ready: a wait answered by the first (begun before it asked) would
  // see NotReady, and every later read says NotReady again, so it would run out of time.
  const { session, reads } = server((n) => [node('a1', n === 2)]);
  const shared = new SharedNodeReads(() => session);
  const earlier = shared.next();
  await waitReady(shared, 'a1', 400);
  assert.equal(reads.length, 2);
  assert.deepEqual(await earlier, { nodes: [{ name: 'a1', role: 'agent', ready: false, why: 'Ready=False', version: undefined, unschedulable: false }] });
});

test('a read that fails fails only the waits it began for; the waits queued behind it get a read of their own', async () => {
  const { session, reads } = server((n) => (n === 1 ? new Error('channel closed') : [node('a1', true)]));
  const shared = new SharedNodeReads(() => session);
  const first = shared.next();
  const queued = waitReady(shared, 'a1', 5_000);
  await assert.rejects(first, /channel closed/);
  await queued;
  assert.equal(reads.length, 2);
});

test('without a shared reader a wait reads on its own, and one not Ready in time says what the API said', async () => {
  const { session, reads } = server(() => [node('a1', false)]);
  await assert.rejects(waitReady(session, 'a1', 300), /a1.*not Ready after 0 s: Ready=False/s);
  assert.ok(reads.length >= 2, `${reads.length} reads`);
});

test('waits that began apart read together after their first read: ten agents waiting 1.5 s cost the reads of one and a first read each', async () => {
  const names = Array.from({ length: 10 }, (_, i) => `a${i}`);
  const start = Date.now();
  const { session, reads } = server(() => names.map((n) => node(n, Date.now() - start > 1500)));
  const shared = new SharedNodeReads(() => session);
  // The agents' installs end 30 ms apart, as joins side by side do.
  await Promise.all(names.map(async (n, i) => {
    await new Promise((r) => setTimeout(r, 30 * i));
    await waitReady(shared, n, 5_000);
  }));
  // One wait alone reads at 0, 0.2, 0.5, 1.0 and 1.7 s; each that joins reads once at once (14 in all here).
  // Each keeping its own pause, they took 49.
  assert.ok(reads.length <= 20, `${reads.length} reads`);
  assert.ok(reads.length >= 5, `${reads.length} reads`);
});

test('a read that cannot begin (no session) fails the waits it was for, also when a timer begins it', async () => {
  const shared = new SharedNodeReads(() => {
    throw new Error('the first server has no session');
  });
  await assert.rejects(shared.next(), /no session/);
  await assert.rejects(shared.next(Date.now() + 50), /no session/);
});
