// The test plumbing the secret scans rely on: a search that misses a file
// would let a leak through unseen.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { filesHolding, tempDir } from './helpers.ts';

test('filesHolding finds each needle in files changed since the moment given, at any depth, and passes over skipped folders, links and older files', () => {
  const started = Date.now();
  const dir = tempDir();
  const elsewhere = tempDir();
  const [a, b] = ['needle-a-1f0c9e', 'needle-b-77d2aa'];
  mkdirSync(join(dir, 'deep', 'er'), { recursive: true });
  mkdirSync(join(dir, 'lab-disk'));
  writeFileSync(join(dir, 'top.txt'), `x ${a} y`);
  writeFileSync(join(dir, 'deep', 'er', 'both.bin'), Buffer.concat([Buffer.from([0, 255, 1]), Buffer.from(`${b}\n${a}`)]));
  writeFileSync(join(dir, 'lab-disk', 'token'), a);
  writeFileSync(join(elsewhere, 'linked'), b);
  symlinkSync(join(elsewhere, 'linked'), join(dir, 'link'));

  const holding = filesHolding(dir, [a, b, 'absent-needle'], started, ['lab-disk']);
  assert.deepEqual(holding(a).sort(), [join(dir, 'deep', 'er', 'both.bin'), join(dir, 'top.txt')]);
  assert.deepEqual(holding(b), [join(dir, 'deep', 'er', 'both.bin')]);
  assert.deepEqual(holding('absent-needle'), []);
  // Without the skip, the skipped folder's file is found.
  assert.ok(filesHolding(dir, [a], started)(a).includes(join(dir, 'lab-disk', 'token')));
  // Files changed before the moment given are not read: a secret made later cannot be in them.
  assert.deepEqual(filesHolding(dir, [a, b], Date.now() + 60_000)(a), []);
  // A folder that does not exist holds nothing.
  assert.deepEqual(filesHolding(join(dir, 'gone'), [a], started)(a), []);
});
