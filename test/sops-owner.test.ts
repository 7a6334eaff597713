// The owner's own SOPS files and what sops itself would refuse, through the
// built CLI: `secret rotate` re-keys files in the layouts real sops writes
// (its default rule, encrypted_regex, mac_only_encrypted, nested maps, lists,
// ints and bools) without writing a value in plain text, keeping each file's
// rules; anything it cannot carry over is refused before a byte is written.
// Every file is read back by ../shared/tools/sops-check, which shares no code
// with bramble. Then: aliases, non-string keys, numbers, sops comments,
// malformed sops blocks, strangers in the secrets folder, empty values,
// commits carrying bramble's trailer, and inventories that are not files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseDocument } from 'yaml';
import { encryptSops } from '../src/secrets/sops.ts';
import { CLI, git, secretsWorkspace, sopsCheck } from './helpers.ts';

const { work, keys, env, inventory, repo } = secretsWorkspace();

function run(args: string[], input?: string, o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: o.cwd ?? work,
    encoding: 'utf8',
    env: { ...process.env, ...env, ...o.env },
    input: input ?? '',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const identities = () => readFileSync(keys, 'utf8').split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
const recipient = () => parse(readFileSync(inventory, 'utf8')).clusters[1].secrets.ageRecipient as string;
const DIR = 'clusters/production/apps';

/** An owner's file as sops writes it with these rules (bramble's writer, the rule given). */
async function ownerFile(name: string, body: string, rules: Parameters<typeof encryptSops>[1]['rules'], macOnlyEncrypted: boolean): Promise<string> {
  const text = await encryptSops(parseDocument(body), { recipients: [recipient()], rules, macOnlyEncrypted });
  mkdirSync(join(repo, DIR), { recursive: true });
  writeFileSync(join(repo, DIR, name), text, { mode: 0o600 });
  return join(repo, DIR, name);
}

const OWNER = 'adminPassword: hunter2\nvalues:\n  db:\n    password: swordfish\n    port: 5432\n    replicas: [1, 2]\n  enabled: true\nhosts:\n  - a.example\n  - b.example\ncomment_unencrypted: left as it is\n';
const EXPECTED = { adminPassword: 'hunter2', values: { db: { password: 'swordfish', port: 5432, replicas: [1, 2] }, enabled: true }, hosts: ['a.example', 'b.example'], comment_unencrypted: 'left as it is' };

test('set up: the cluster has a key, a Secret of bramble\'s, and owner files in the layouts sops writes', async () => {
  assert.equal(run(['secret', 'init', '-i', inventory, '-c', 'production', '--yes']).code, 0);
  const set = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'apps/db', 'password'], 'pa55');
  assert.equal(set.code, 0, set.stdout + set.stderr);
  const files = {
    // sops's default: everything but *_unencrypted, the MAC over every value.
    default: await ownerFile('default.sops.yaml', OWNER, { unencryptedSuffix: '_unencrypted' }, false),
    regex: await ownerFile('regex.sops.yaml', OWNER, { encryptedRegex: '^(adminPassword|password)$' }, false),
    macOnly: await ownerFile('maconly.sops.yaml', OWNER, { encryptedRegex: '^(adminPassword|password)$' }, true),
  };
  for (const f of Object.values(files)) assert.deepEqual(sopsCheck(f, identities()), EXPECTED, f);
  const text = readFileSync(files.default, 'utf8');
  assert.doesNotMatch(text, /hunter2|swordfish/);
  assert.match(text, /comment_unencrypted: left as it is/);
});

test('secret rotate re-keys the owner\'s files as sops updatekeys does: same values, same rules, nothing in plain text, read by sops-check with the new key only', () => {
  const before = Object.fromEntries(['default', 'regex', 'maconly'].map((n) => [n, readFileSync(join(repo, DIR, `${n}.sops.yaml`), 'utf8')]));
  const oldIds = identities();
  const r = run(['secret', 'rotate', '-i', inventory, '-c', 'production', '--repo', repo, '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const fresh = identities().filter((i) => !oldIds.includes(i));
  assert.equal(fresh.length, 1);
  for (const n of ['default', 'regex', 'maconly']) {
    const f = join(repo, DIR, `${n}.sops.yaml`);
    const text = readFileSync(f, 'utf8');
    assert.doesNotMatch(text, /hunter2|swordfish/, `${n}: no value in plain text`);
    assert.deepEqual(sopsCheck(f, fresh), EXPECTED, `${n}: the new key opens it to the same values`);
    assert.throws(() => sopsCheck(f, oldIds), /none of the identities opens the data key/);
    // Only the age stanza changed: every value, the MAC, the date and the rules are the same text.
    const strip = (t: string) => {
      const d = parse(t);
      delete d.sops.age;
      return d;
    };
    assert.deepEqual(strip(text), strip(before[n]!), n);
    assert.doesNotMatch(text, n === 'default' ? /encrypted_regex/ : /unencrypted_suffix/, `${n}: no rule of bramble's added`);
  }
  const ours = join(repo, 'clusters/production/secrets/apps-db.sops.yaml');
  assert.deepEqual((sopsCheck(ours, fresh) as { stringData: unknown }).stringData, { password: 'pa55' });
});

test('rotation refuses, naming the file, what it cannot carry over, before any file is written', async () => {
  const odd = join(repo, DIR, 'groups.sops.yaml');
  const base = parseDocument(readFileSync(join(repo, DIR, 'default.sops.yaml'), 'utf8'));
  const withSops = (key: string, value: unknown) => {
    const d = base.clone();
    d.setIn(['sops', key], d.createNode(value));
    return d.toString({ lineWidth: 0 });
  };
  writeFileSync(odd, withSops('shamir_threshold', 2));
  const snapshot = () => Object.fromEntries(readdirSync(join(repo, DIR)).map((f) => [f, readFileSync(join(repo, DIR, f), 'utf8')]));
  const before = { files: snapshot(), inventory: readFileSync(inventory, 'utf8'), keys: readFileSync(keys, 'utf8') };
  const r = run(['secret', 'rotate', '-i', inventory, '-c', 'production', '--repo', repo, '--yes']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /clusters\/production\/apps\/groups\.sops\.yaml: sops\.shamir_threshold is not supported by bramble/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'one line, no stack trace');
  assert.deepEqual({ files: snapshot(), inventory: readFileSync(inventory, 'utf8'), keys: readFileSync(keys, 'utf8') }, before);
  // A malformed sops.age: one line naming the file, for rotate and for publish.
  for (const [what, age] of [['a map', { recipient: 'x' }], ['a string', 'nope'], ['null', [null]]] as const) {
    writeFileSync(odd, withSops('age', age));
    const rot = run(['secret', 'rotate', '-i', inventory, '-c', 'production', '--repo', repo, '--yes']);
    assert.equal(rot.code, 1, what);
    assert.match(rot.stderr, /groups\.sops\.yaml: sops\.age(\[0\])? is (a map|a string|null)/, what);
    assert.doesNotMatch(rot.stderr, /TypeError|\n\s+at /, what);
  }
  writeFileSync(odd, 'apiVersion: v1\nkind: Secret\nmetadata: {name: odd}\nstringData: {a: b}\nsops: {age: nope, mac: x, lastmodified: y}\n');
  git(work, 'init', '-q', '--bare', join(work, 'remote.git'));
  const pub = run(['publish', '-i', inventory, '--repo', repo, '--remote', join(work, 'remote.git'), '-c', 'production']);
  assert.equal(pub.code, 1, pub.stdout + pub.stderr);
  assert.match(pub.stderr + pub.stdout, /groups\.sops\.yaml: Secret odd has a malformed sops\.age \(a string, not a list\)/);
  assert.doesNotMatch(pub.stderr, /TypeError|\n\s+at /);
  rmSync(odd);
});

function edit(script: string) {
  const ed = join(work, 'editor.sh');
  writeFileSync(ed, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return run(['secret', 'edit', '-i', inventory, '-c', 'production', '--repo', repo, 'apps/db'], undefined, { env: { EDITOR: ed, VISUAL: '' } });
}

test('secret edit refuses YAML aliases and non-string keys, which sops refuses or reads otherwise; nothing is written', () => {
  const file = join(repo, 'clusters/production/secrets/apps-db.sops.yaml');
  const before = readFileSync(file, 'utf8');
  const alias = edit(`sed -i 's/^stringData:$/stringData:\\n  a: \\&p pw\\n  b: *p/' "$1"`);
  assert.equal(alias.code, 1, alias.stdout + alias.stderr);
  assert.match(alias.stderr, /a YAML alias \(\*p\) is not supported: sops expands aliases/);
  const key = edit(`sed -i 's/^stringData:$/stringData:\\n  1: x/' "$1"`);
  assert.equal(key.code, 1, key.stdout + key.stderr);
  assert.match(key.stderr, /the key 1 is not a string: sops refuses it/);
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('a Secret\'s values are strings: numbers whose text Go and JavaScript print differently are written as the text typed, and sops-check agrees', () => {
  const file = join(repo, 'clusters/production/secrets/apps-db.sops.yaml');
  const r = edit(`sed -i 's/^stringData:$/stringData:\\n  big: 1e21\\n  inf: .inf\\n  huge: 9007199254740993\\n  hex: !!float 0x1E\\n  flag: true/' "$1"`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const read = sopsCheck(file, identities()) as { stringData: Record<string, unknown> };
  assert.deepEqual(read.stringData, { password: 'pa55', big: '1e21', inf: '.inf', huge: '9007199254740993', hex: '0x1E', flag: 'true' });
});

test('sops-encrypted comments: a rewrite would lose them, so edit refuses the file; rotation keeps them', () => {
  const file = join(repo, DIR, 'regex.sops.yaml');
  const text = readFileSync(file, 'utf8').replace(/^hosts:/m, '#ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:comment]\nhosts:');
  writeFileSync(file, text);
  assert.deepEqual(sopsCheck(file, identities()), EXPECTED, 'comments are not in the MAC');
  const rot = run(['secret', 'rotate', '-i', inventory, '-c', 'production', '--repo', repo, '--yes']);
  assert.equal(rot.code, 0, rot.stdout + rot.stderr);
  assert.match(readFileSync(file, 'utf8'), /^#ENC\[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:comment\]$/m);
  const ours = join(repo, 'clusters/production/secrets/apps-db.sops.yaml');
  writeFileSync(ours, readFileSync(ours, 'utf8').replace(/^stringData:/m, '#ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:comment]\nstringData:'));
  const before = readFileSync(ours, 'utf8');
  const r = edit('true');
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /apps-db\.sops\.yaml: it holds sops-encrypted comments \(#ENC\[\.\.\.\]\), which bramble cannot write back; change it with sops itself/);
  assert.equal(readFileSync(ours, 'utf8'), before);
  writeFileSync(ours, before.replace(/^#ENC\[.*\n/m, ''));
});

test('secret set refuses an empty value (a failed pipe) unless --allow-empty', () => {
  const file = join(repo, 'clusters/production/secrets/apps-db.sops.yaml');
  const before = readFileSync(file, 'utf8');
  const r = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'apps/db', 'token'], '');
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /the value is empty \(nothing came on standard input\); nothing was written\. Pass --allow-empty/);
  assert.equal(readFileSync(file, 'utf8'), before);
  const ok = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'apps/db', 'token', '--allow-empty'], '');
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal((sopsCheck(file, identities()) as { stringData: Record<string, string> }).stringData.token, '');
});

test('publish refuses what does not belong in the secrets folder, and a commit with bramble\'s trailer that changes more than bramble\'s files', () => {
  const remote = join(work, 'remote.git');
  const secrets = join(repo, 'clusters/production/secrets');
  const strangers: Array<[string, string, RegExp]> = [
    ['notes.sops.yaml', 'key: [unclosed', /notes\.sops\.yaml: not YAML/],
    ['list.sops.yaml', '- a\n- b\n', /list\.sops\.yaml: YAML but not one object \(a list\)/],
    ['private.env', 'TOKEN=hunter2\n', /private\.env: neither a \*\.sops\.yaml Secret nor a namespace-NAME\.yaml/],
  ];
  for (const [name, body, why] of strangers) {
    writeFileSync(join(secrets, name), body);
    const r = run(['publish', '-i', inventory, '--repo', repo, '--remote', remote, '-c', 'production']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, why);
    assert.match(r.stdout + r.stderr, /only SOPS-encrypted Secrets \(\*\.sops\.yaml\) and their namespaces belong in clusters\/production\/secrets\//);
    assert.equal(git(remote, 'branch', '--list'), '', 'nothing pushed');
    spawnSync('rm', ['-f', join(secrets, name)]);
  }
  // A local commit that says it is bramble's but adds a file bramble never writes.
  writeFileSync(join(repo, 'private.env'), 'TOKEN=hunter2\n');
  git(repo, 'add', 'private.env');
  git(repo, 'commit', '-q', '-m', 'sneak', '-m', 'Generated-By: bramble');
  const r = run(['publish', '-i', inventory, '--repo', repo, '--remote', remote, '-c', 'production']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /holds 1 local commit\(s\) on main that are not bramble's[^\n]*sneak \(carries bramble's trailer but changes private\.env, which bramble never writes\)/);
  assert.equal(git(remote, 'branch', '--list'), '', 'nothing pushed');
});

test('an inventory that is not a regular file (a FIFO with no writer, a device) is refused at once', () => {
  const fifo = join(work, 'fifo');
  spawnSync('mkfifo', [fifo]);
  const started = Date.now();
  const r = run(['validate', '-i', fifo]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /fifo:1:1: \(top level\): not a regular file \(a pipe or FIFO\); give the inventory as a file/);
  assert.ok(Date.now() - started < 20_000, 'no hang on a FIFO without a writer');
  const dev = run(['validate', '-i', '/dev/urandom']);
  assert.equal(dev.code, 1);
  assert.match(dev.stderr, /\/dev\/urandom:1:1: \(top level\): not a regular file \(a device\)/);
});
