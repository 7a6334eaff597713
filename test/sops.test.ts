// bramble's own SOPS reader and writer (src/secrets/sops.ts) against files
// the real sops wrote (test/fixtures/sops, with the published key that opens
// them), against an independent decryptor (the sops-age package) and the real
// `age` command for the data key, and against tampering.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { decryptSops as independent } from 'sops-age';
import { parseDocument } from 'yaml';
import { decryptSops, encryptSops, isSopsText, recipientsOf } from '../src/secrets/sops.ts';
import { ROOT, tempDir } from './helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'sops');
const realFile = readFileSync(join(FIXTURES, 'age.yaml'), 'utf8');
const realKey = readFileSync(join(FIXTURES, 'age.agekey'), 'utf8')
  .split('\n')
  .find((l) => l.startsWith('AGE-SECRET-KEY-'))!;

const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: grafana-admin
  namespace: monitoring
type: Opaque
stringData:
  admin-user: admin
  admin-password: "s3cret: with colon, quotes \\" and unicode \u00e9"
  empty: ""
data:
  token: aGVsbG8=
`;

async function identity() {
  const id = await generateX25519Identity();
  return { id, recipient: await identityToRecipient(id) };
}

test('a file written by the real sops decrypts with its published key, and the MAC holds', async () => {
  assert.ok(isSopsText(realFile));
  assert.deepEqual(recipientsOf(realFile), ['age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29']);
  const d = await decryptSops(realFile, [realKey], 'age.yaml');
  const value = d.doc.getIn(['stringData', 'key']);
  assert.equal(typeof value, 'string');
  assert.equal((value as string).length, 5);
  assert.equal(d.doc.getIn(['metadata', 'name']), 'age');
  assert.equal(d.doc.has('sops'), false);
  // The independent decryptor agrees on the value.
  const other = await independent(realFile, { secretKey: realKey, fileType: 'yaml' });
  assert.equal(other.stringData.key, value);
});

test("a changed value, a changed plain field under a full MAC, a swapped MAC and the wrong key are each refused", async () => {
  const flip = (s: string) => s.replace(/data:mHeXsmQ=/, 'data:nHeXsmQ=');
  assert.notEqual(flip(realFile), realFile);
  await assert.rejects(decryptSops(flip(realFile), [realKey], 'age.yaml'), /age\.yaml: stringData\.key: the value does not decrypt/);
  // This file's MAC covers every value (no mac_only_encrypted), the plain name included.
  await assert.rejects(decryptSops(realFile.replace('name: age', 'name: agf'), [realKey], 'age.yaml'), /age\.yaml: the MAC does not match: the file was changed after it was encrypted/);
  await assert.rejects(decryptSops(realFile.replace(/lastmodified: "[^"]+"/, 'lastmodified: "2024-11-12T13:33:43Z"'), [realKey], 'age.yaml'), /age\.yaml: sops\.mac: the value does not decrypt/);
  const { id } = await identity();
  await assert.rejects(decryptSops(realFile, [id], 'age.yaml'), /age\.yaml: none of the given age keys opens it; it is encrypted to age1l44xcng8/);
  await assert.rejects(decryptSops('apiVersion: v1\nkind: Secret\n', [realKey], 'plain.yaml'), /plain\.yaml: not a sops file/);
});

test('bramble writes what sops writes: values under data and stringData encrypted, the rest plain, readable by an independent decryptor', async () => {
  const { id, recipient } = await identity();
  const text = await encryptSops(parseDocument(SECRET), { recipients: [recipient], now: new Date('2026-11-23T10:00:00.123Z') });
  const doc = parseDocument(text).toJS();
  assert.equal(doc.kind, 'Secret');
  assert.equal(doc.metadata.name, 'grafana-admin');
  assert.equal(doc.type, 'Opaque');
  for (const [k, v] of Object.entries({ ...doc.stringData, ...doc.data })) {
    if (k === 'empty') assert.equal(v, '', 'an empty string stays as it is, as sops leaves it');
    else assert.match(String(v), /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]+,iv:[A-Za-z0-9+/=]{44},tag:[A-Za-z0-9+/=]{24},type:str\]$/, k);
  }
  assert.doesNotMatch(text, /s3cret|aGVsbG8=/);
  assert.equal(doc.sops.lastmodified, '2026-11-23T10:00:00Z');
  assert.equal(doc.sops.encrypted_regex, '^(data|stringData)$');
  assert.equal(doc.sops.mac_only_encrypted, true);
  assert.match(doc.sops.age[0].enc, /^-----BEGIN AGE ENCRYPTED FILE-----\n[\s\S]+\n-----END AGE ENCRYPTED FILE-----\n$/);
  // IVs are 32 bytes, as sops's.
  assert.equal(Buffer.from(/iv:([^,]+)/.exec(doc.stringData['admin-password'])![1]!, 'base64').length, 32);

  const back = await decryptSops(text, [id], 'grafana.yaml');
  assert.deepEqual(back.doc.toJS(), parseDocument(SECRET).toJS());
  const other = await independent(text, { secretKey: id, fileType: 'yaml' });
  assert.equal(other.stringData['admin-password'], 's3cret: with colon, quotes " and unicode \u00e9');
  assert.equal(other.data.token, 'aGVsbG8=');

  // The real age command opens the data key with the same identity.
  const dir = tempDir();
  writeFileSync(join(dir, 'key.txt'), id + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'datakey.age'), doc.sops.age[0].enc);
  const age = spawnSync('age', ['-d', '-i', join(dir, 'key.txt'), join(dir, 'datakey.age')]);
  assert.equal(age.status, 0, String(age.stderr));
  assert.deepEqual(age.stdout, back.dataKey);
});

test('an encrypted value is bound to its key: moved under another key it no longer decrypts', async () => {
  const { id, recipient } = await identity();
  const text = await encryptSops(parseDocument(SECRET), { recipients: [recipient] });
  const doc = parseDocument(text);
  const user = doc.getIn(['stringData', 'admin-user']);
  doc.setIn(['stringData', 'admin-password'], user);
  await assert.rejects(decryptSops(doc.toString({ lineWidth: 0 }), [id], 'moved.yaml'), /moved\.yaml: stringData\.admin-password: the value does not decrypt/);
});

test('re-encrypting unchanged values gives the same bytes; one changed value changes only its own line, the date and the MAC', async () => {
  const { id, recipient } = await identity();
  const first = await encryptSops(parseDocument(SECRET), { recipients: [recipient] });
  const opened = await decryptSops(first, [id], 'f.yaml');
  assert.equal(await encryptSops(opened.doc, { recipients: [recipient], previous: opened, now: new Date('2030-01-01T00:00:00Z') }), first);

  opened.doc.setIn(['stringData', 'admin-password'], 'another');
  const second = await encryptSops(opened.doc, { recipients: [recipient], previous: opened, now: new Date('2030-01-01T00:00:00Z') });
  const changed = first.split('\n').map((l, i) => [l, second.split('\n')[i]]).filter(([a, b]) => a !== b).map(([a]) => a!.trim().split(':')[0]);
  assert.deepEqual(changed, ['admin-password', 'lastmodified', 'mac']);
  assert.equal((await decryptSops(second, [id], 'f.yaml')).doc.getIn(['stringData', 'admin-password']), 'another');
});

test('with mac_only_encrypted the MAC covers the encrypted values: a renamed object still opens, a removed value does not', async () => {
  const { id, recipient } = await identity();
  const text = await encryptSops(parseDocument(SECRET), { recipients: [recipient] });
  await decryptSops(text.replace('name: grafana-admin', 'name: renamed'), [id], 'r.yaml');
  const removed = parseDocument(text);
  removed.deleteIn(['data', 'token']);
  await assert.rejects(decryptSops(removed.toString({ lineWidth: 0 }), [id], 'r.yaml'), /r\.yaml: the MAC does not match/);
});

test('a new recipient gets a new data key; comments never reach the file', async () => {
  const a = await identity();
  const b = await identity();
  const withComment = SECRET.replace('  admin-user: admin\n', '  # the password is hunter2\n  admin-user: admin # inline hunter2\n');
  const first = await encryptSops(parseDocument(withComment), { recipients: [a.recipient] });
  assert.doesNotMatch(first, /hunter2/);
  const opened = await decryptSops(first, [a.id], 'f.yaml');
  const rotated = await encryptSops(opened.doc, { recipients: [b.recipient], previous: opened });
  assert.deepEqual(recipientsOf(rotated), [b.recipient]);
  await assert.rejects(decryptSops(rotated, [a.id], 'f.yaml'), /none of the given age keys opens it/);
  const reopened = await decryptSops(rotated, [b.id], 'f.yaml');
  assert.notDeepEqual(reopened.dataKey, opened.dataKey);
  assert.equal(reopened.doc.getIn(['stringData', 'admin-password']), parseDocument(SECRET).getIn(['stringData', 'admin-password']));
});
