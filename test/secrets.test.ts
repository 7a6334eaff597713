// `bramble secret` as a user runs it (the built CLI): a cluster's age key made
// and kept in the owner's keys file, values set from standard input into
// SOPS files in the work tree, read back, and a publish that refuses a Secret
// in plain text or one Flux could not decrypt. The owner's keys file is a
// temporary one (SOPS_AGE_KEY_FILE), never this machine's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { parse } from 'yaml';
import { decryptSops as independent } from 'sops-age';
import { encryptSops } from '../src/secrets/sops.ts';
import { parseDocument } from 'yaml';
import { CLI, git, secretsWorkspace, sopsCheck } from './helpers.ts';

const { work, keys, env, inventory, repo } = secretsWorkspace();

function run(args: string[], input?: string, extraEnv: NodeJS.ProcessEnv = env) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, ...extraEnv },
    input: input ?? '',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const PASSWORD = 'correct horse battery staple';
const FILE = 'clusters/production/secrets/monitoring-grafana-admin.sops.yaml';

test('secret init shows its plan and changes nothing without a terminal or --yes', () => {
  const before = readFileSync(inventory, 'utf8');
  const r = run(['secret', 'init', '-i', inventory, '-c', 'production']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^secret init for cluster production:\n {2}1\. make an age key pair/);
  assert.match(r.stdout, new RegExp(`2\\. append the private key to ${keys.replaceAll('/', '\\/')} \\(0600\\)`));
  assert.match(r.stderr, /Run it at a terminal to confirm, or pass --yes\./);
  assert.equal(readFileSync(inventory, 'utf8'), before);
  assert.equal(existsSync(keys), false);
});

test('secret init --yes keeps the private key in the owner\'s keys file (0600) and writes only the public key into the inventory', async () => {
  const before = readFileSync(inventory, 'utf8');
  const r = run(['secret', 'init', '-i', inventory, '-c', 'production', '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const text = readFileSync(keys, 'utf8');
  assert.equal(statSync(keys).mode & 0o777, 0o600);
  const identity = text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  const recipient = await identityToRecipient(identity);
  assert.match(text, new RegExp(`^# bramble: cluster production of site tinyhome\\n# created: \\S+Z\\n# public key: ${recipient}\\n${identity}\\n$`));
  const after = readFileSync(inventory, 'utf8');
  assert.equal(parse(after).clusters[1].secrets.ageRecipient, recipient);
  assert.doesNotMatch(after + r.stdout + r.stderr, /AGE-SECRET-KEY/);
  // Only the two new lines: every comment and value of the owner's file is where it was.
  const added = after.split('\n').filter((l) => !before.split('\n').includes(l));
  assert.deepEqual(added, ['    secrets:', `      ageRecipient: ${recipient}`]);
  const again = run(['secret', 'init', '-i', inventory, '-c', 'production', '--yes']);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already has an age key/);
  assert.equal(readFileSync(keys, 'utf8'), text);
});

test('render adds the secrets layer and the .sops.yaml rule for that key', () => {
  const r = run(['render', '-i', inventory, '--repo', repo]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const recipient = parse(readFileSync(inventory, 'utf8')).clusters[1].secrets.ageRecipient;
  assert.equal(parse(readFileSync(join(repo, '.sops.yaml'), 'utf8')).creation_rules[0].age, recipient);
  assert.ok(existsSync(join(repo, 'clusters/production/secrets.yaml')));
  assert.ok(existsSync(join(repo, 'clusters/production/secrets/kustomization.yaml')));
  assert.equal(existsSync(join(repo, 'clusters/staging/secrets.yaml')), false, 'staging keeps no secrets');
});

test('secret set reads the value from standard input, writes it encrypted, and lists the file; show reads it back', async () => {
  const r = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin', 'admin-password'], PASSWORD + '\n');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, `${FILE}: admin-password set in a new file; bramble publish (or apply) sends it\n`);
  const text = readFileSync(join(repo, FILE), 'utf8');
  assert.doesNotMatch(text, new RegExp(PASSWORD));
  assert.equal(statSync(join(repo, FILE)).mode & 0o777, 0o600);
  const doc = parse(text);
  assert.deepEqual(doc.metadata, { name: 'grafana-admin', namespace: 'monitoring', labels: { 'app.kubernetes.io/managed-by': 'bramble' } });
  assert.match(doc.stringData['admin-password'], /^ENC\[AES256_GCM,/);
  // With its namespace, which the secrets layer makes before the monitoring layer does (only when absent, never pruned).
  assert.deepEqual(parse(readFileSync(join(repo, 'clusters/production/secrets/kustomization.yaml'), 'utf8')).resources, ['monitoring-grafana-admin.sops.yaml', 'namespace-monitoring.yaml']);
  assert.deepEqual(parse(readFileSync(join(repo, 'clusters/production/secrets/namespace-monitoring.yaml'), 'utf8')).metadata.annotations, {
    'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent',
    'kustomize.toolkit.fluxcd.io/prune': 'disabled',
  });
  const built = spawnSync('kubectl', ['kustomize', join(repo, 'clusters/production/secrets')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  assert.match(built.stdout, /name: grafana-admin/);
  // The independent decryptor, with the key from the owner's file, reads the same value.
  const identity = readFileSync(keys, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  assert.equal((await independent(text, { secretKey: identity, fileType: 'yaml' })).stringData['admin-password'], PASSWORD);

  const show = run(['secret', 'show', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin', 'admin-password']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal(show.stdout, PASSWORD + '\n');
  const all = run(['secret', 'show', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin']);
  assert.equal(parse(all.stdout).stringData['admin-password'], PASSWORD);
});

test('setting the same value again changes no byte; another key changes only its own line, the date and the MAC', () => {
  const before = readFileSync(join(repo, FILE), 'utf8');
  const same = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin', 'admin-password'], PASSWORD);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /admin-password unchanged \(same value\)/);
  assert.equal(readFileSync(join(repo, FILE), 'utf8'), before);
  const user = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin', 'admin-user'], 'admin');
  assert.equal(user.code, 0, user.stderr);
  const after = readFileSync(join(repo, FILE), 'utf8');
  const gone = before.split('\n').filter((l) => !after.split('\n').includes(l)).map((l) => l.trim().split(':')[0]);
  // lastmodified changes too, unless both writes fell in the same second.
  assert.ok(gone.includes('mac') && gone.every((k) => k === 'mac' || k === 'lastmodified'), gone.join(', '));
  assert.match(after, /\n {2}admin-user: ENC\[/);
});

test('secret refuses what it cannot do, saying why: no key, no such file, a value on the command line, a bad name', () => {
  const noKey = run(['secret', 'show', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin'], undefined, { SOPS_AGE_KEY_FILE: join(work, 'none.txt'), SOPS_AGE_KEY: '' });
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /monitoring-grafana-admin\.sops\.yaml: opening it needs cluster production's age key \(age1\w+\), which is not in \S+none\.txt or SOPS_AGE_KEY/);
  const missing = run(['secret', 'show', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/nothing']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no clusters\/production\/secrets\/monitoring-nothing\.sops\.yaml in /);
  const argv = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin', 'admin-password', 'hunter2']);
  assert.equal(argv.code, 2, argv.stdout + argv.stderr);
  const bad = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'Monitoring/Grafana', 'k'], 'v');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"Monitoring\/Grafana" is not a Secret name/);
  const staging = run(['secret', 'set', '-i', inventory, '-c', 'staging', '--repo', repo, 'x', 'k'], 'v');
  assert.equal(staging.code, 1);
  assert.match(staging.stderr, /cluster staging keeps no secrets in Git yet: bramble secret init -c staging makes its age key/);
});

test('publish refuses a Secret in plain text, and one encrypted to another key, naming the file; nothing is pushed', async () => {
  const remote = join(work, 'remote.git');
  git(work, 'init', '-q', '--bare', remote);
  const publish = () => run(['publish', '-i', inventory, '--repo', repo, '--remote', remote, '-c', 'production']);
  const plainFile = join(repo, 'clusters/production/apps/db.yaml');
  writeFileSync(plainFile, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n');
  const plain = publish();
  assert.equal(plain.code, 1, plain.stdout + plain.stderr);
  assert.match(plain.stderr, /publish refused; nothing was written, committed or pushed:\n {2}clusters\/production\/apps\/db\.yaml: Secret db is in plain text; encrypt it first/);
  assert.equal(git(remote, 'branch', '--list'), '', 'nothing was pushed');

  const other = await generateX25519Identity();
  writeFileSync(plainFile, await encryptSops(parseDocument(readFileSync(plainFile, 'utf8')), { recipients: [await identityToRecipient(other)] }));
  const wrong = publish();
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /clusters\/production\/apps\/db\.yaml: Secret db is not encrypted to cluster production's age key age1\w+ \(it is for age1\w+\); Flux could not decrypt it/);

  const good = readFileSync(join(repo, FILE), 'utf8');
  const tampered = good.replace(/admin-user: ENC\[AES256_GCM,data:(.)/, (_m, c: string) => `admin-user: ENC[AES256_GCM,data:${c === 'A' ? 'B' : 'A'}`);
  writeFileSync(plainFile, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n');
  writeFileSync(join(repo, FILE), tampered);
  const broken = publish();
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /monitoring-grafana-admin\.sops\.yaml: stringData\.admin-user: the value does not decrypt/);
  writeFileSync(join(repo, FILE), good);
  const ok = publish();
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /pushed \w+ to /);
  // The secret went out with bramble's commit, encrypted, and its listing with it.
  assert.equal(git(remote, 'show', `main:${FILE}`), readFileSync(join(repo, FILE), 'utf8').trimEnd());
  assert.match(git(remote, 'show', 'main:clusters/production/secrets/kustomization.yaml'), /- monitoring-grafana-admin\.sops\.yaml/);
  assert.equal(git(remote, 'show', 'main:.sops.yaml').includes('creation_rules'), true);
  assert.equal(git(repo, 'status', '--porcelain', '--', 'clusters/production/secrets'), '');
});

test("publish makes Grafana's admin password once, encrypted, and the chart reads it from there", async () => {
  const remote = join(work, 'remote.git');
  const publish = () => run(['publish', '-i', inventory, '--repo', repo, '--remote', remote, '-c', 'production']);
  // Start from a cluster without it: the owner's own grafana-admin from the tests above goes.
  git(repo, 'rm', '-q', FILE);
  writeFileSync(join(repo, 'clusters/production/secrets/kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n');
  // The owner's own commit, pushed by the owner: bramble pushes only its own.
  git(repo, 'commit', '-q', '-am', 'start over without grafana-admin');
  git(repo, 'push', '-q', remote, 'main');
  const first = publish();
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /\+ clusters\/production\/secrets\/monitoring-grafana-admin\.sops\.yaml \(generated: the Grafana admin password; bramble secret show -c production monitoring\/grafana-admin admin-password\)/);
  const identity = readFileSync(keys, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  const text = git(remote, 'show', `main:${FILE}`);
  const plain = await independent(text, { secretKey: identity, fileType: 'yaml' });
  assert.equal(plain.stringData['admin-user'], 'admin');
  assert.match(plain.stringData['admin-password'], /^[A-Za-z0-9_-]{32}$/);
  const release = parse(readFileSync(join(repo, 'clusters/production/infrastructure/controllers/kube-prometheus-stack.yaml'), 'utf8').split('\n---\n').find((d) => d.includes('kind: HelmRelease'))!);
  assert.deepEqual(release.spec.values.grafana.admin, { existingSecret: 'grafana-admin', userKey: 'admin-user', passwordKey: 'admin-password' });
  const again = publish();
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.doesNotMatch(again.stdout, /generated/);
  assert.equal(git(remote, 'show', `main:${FILE}`), text, 'made once');
});

test('notifications wait for their webhook URL: publish refuses until it is set, then sends it encrypted only', () => {
  const remote = join(work, 'remote.git');
  const text = readFileSync(inventory, 'utf8');
  writeFileSync(inventory, text.replace(/( {4}secrets:\n {6}ageRecipient: \S+\n)/, '$1    notifications:\n      type: generic\n'));
  const publish = () => run(['publish', '-i', inventory, '--repo', repo, '--remote', remote, '-c', 'production']);
  const refused = publish();
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /clusters\/production\/secrets\/monitoring-notify\.sops\.yaml: missing; cluster production sends notifications to a webhook whose URL goes here first: bramble secret set -c production monitoring\/notify address/);
  const url = `https://ntfy.home.arpa/homelab-${Date.now()}`;
  const set = run(['secret', 'set', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/notify', 'address'], url);
  assert.equal(set.code, 0, set.stderr);
  const ok = publish();
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(git(remote, 'show', 'main:clusters/production/infrastructure/configs/notifications.yaml'), /type: "generic"/);
  assert.match(git(remote, 'show', 'main:clusters/production/secrets/monitoring-notify.sops.yaml'), /address: ENC\[AES256_GCM,/);
  assert.equal(git(remote, 'log', '--all', '-p').includes(url), false, 'the URL is in no commit');
});

test('secret edit: the plain YAML in the editor, encrypted again on save; a failed or renaming edit changes nothing, and no plain copy stays behind', () => {
  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  const editor = (name: string, body: string) => {
    const f = join(work, name);
    writeFileSync(f, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return f;
  };
  const edit = (ed: string) => run(['secret', 'edit', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin'], undefined, { ...env, EDITOR: ed, VISUAL: '', TMPDIR: tmp });
  const before = readFileSync(join(repo, FILE), 'utf8');
  const password = /admin-password: (\S+)/.exec(before)![1];

  const ok = edit(editor('rename-user.sh', `sed -i 's/^  admin-user: admin$/  admin-user: root/' "$1"`));
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /monitoring-grafana-admin\.sops\.yaml: changed; bramble publish \(or apply\) sends it/);
  const after = readFileSync(join(repo, FILE), 'utf8');
  assert.equal(/admin-password: (\S+)/.exec(after)![1], password, 'the value not edited keeps its ciphertext');
  assert.equal(run(['secret', 'show', '-i', inventory, '-c', 'production', '--repo', repo, 'monitoring/grafana-admin', 'admin-user']).stdout, 'root\n');

  for (const [script, why] of [
    ['exit 3', /the editor \(\S+\) ended with 3; \S+ is as it was/],
    [`sed -i 's/name: grafana-admin/name: other/' "$1"`, /the edited file must stay Secret monitoring\/grafana-admin/],
    [`echo '{{' > "$1"`, /the edited Secret is not YAML/],
  ] as const) {
    const r = edit(editor(`bad-${script.length}.sh`, script));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, why);
    assert.equal(readFileSync(join(repo, FILE), 'utf8'), after, 'the encrypted file is as it was');
  }
  assert.deepEqual(readdirSync(tmp), [], 'no plain copy is left in the temporary folder');
});

test('secret rotate: plan first; then every SOPS file of the cluster opens only with the new key, whose recipient replaces the old in the inventory', async () => {
  const before = readFileSync(inventory, 'utf8');
  const oldRecipient = parse(before).clusters[1].secrets.ageRecipient;
  const refused = run(['secret', 'rotate', '-i', inventory, '-c', 'production', '--repo', repo]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /2\. re-key, as sops updatekeys does \(values, MAC, rules and comments unchanged; the data key encrypted for the new key\): clusters\/production\/secrets\/cert-manager-bramble-ca\.sops\.yaml, clusters\/production\/secrets\/monitoring-grafana-admin\.sops\.yaml, clusters\/production\/secrets\/monitoring-notify\.sops\.yaml/);
  assert.equal(readFileSync(inventory, 'utf8'), before, 'nothing changed without --yes');

  const oldKey = readFileSync(keys, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  const values = async (identity: string) => (await independent(readFileSync(join(repo, FILE), 'utf8'), { secretKey: identity, fileType: 'yaml' })).stringData;
  const plainBefore = await values(oldKey);
  const r = run(['secret', 'rotate', '-i', inventory, '-c', 'production', '--repo', repo, '--yes']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const newRecipient = parse(readFileSync(inventory, 'utf8')).clusters[1].secrets.ageRecipient;
  assert.notEqual(newRecipient, oldRecipient);
  assert.deepEqual(readFileSync(inventory, 'utf8').split('\n').filter((l) => !before.split('\n').includes(l)), [`      ageRecipient: ${newRecipient}`]);
  const identities = readFileSync(keys, 'utf8').split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
  assert.equal(identities.length, 2, 'the old key stays beside the new one');
  const newKey = identities.find((i) => i !== oldKey)!;
  assert.deepEqual(await values(newKey), plainBefore);
  await assert.rejects(values(oldKey));
  // The independent reader agrees, with the MAC checked: every file rotation wrote opens with the new key only.
  assert.deepEqual((sopsCheck(join(repo, FILE), [newKey]) as { stringData: unknown }).stringData, plainBefore);
  for (const f of ['monitoring-grafana-admin', 'monitoring-notify']) assert.throws(() => sopsCheck(join(repo, `clusters/production/secrets/${f}.sops.yaml`), [oldKey]), /none of the identities opens the data key/);
  for (const f of ['monitoring-grafana-admin', 'monitoring-notify']) assert.match(readFileSync(join(repo, `clusters/production/secrets/${f}.sops.yaml`), 'utf8'), new RegExp(`recipient: ${newRecipient}`));
  const remote = join(work, 'remote.git');
  const ok = run(['publish', '-i', inventory, '--repo', repo, '--remote', remote, '-c', 'production']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(git(remote, 'show', 'main:.sops.yaml'), new RegExp(newRecipient));
});

test('every SOPS file these runs made bramble write, set, edit and rotate passes sops-check, the independent reader, with the MAC checked', () => {
  const ids = readFileSync(keys, 'utf8').split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === '.git' ? [] : walk(join(d, e.name))) : e.name.endsWith('.sops.yaml') && e.name !== '.sops.yaml' ? [join(d, e.name)] : []));
  const files = walk(repo);
  assert.ok(files.length >= 2, files.join(', '));
  for (const f of files) assert.equal(typeof sopsCheck(f, ids), 'object', f);
});

test('a plain Secret is found however its kind is spelt: quoted, escaped, folded, through an anchor; other files are not flagged', async () => {
  const { parseInventory } = await import('../src/inventory/load.ts');
  const { checkSecrets } = await import('../src/secrets/check.ts');
  const { HOMELAB, tempDir } = await import('./helpers.ts');
  const staging = parseInventory(readFileSync(HOMELAB, 'utf8'), 'homelab.yaml').clusters.find((c) => c.name === 'staging')!;
  const dir = tempDir('bramble-secret-spellings-');
  const apps = join(dir, 'clusters/staging/apps');
  mkdirSync(apps, { recursive: true });
  const spellings: Record<string, string> = {
    'plain.yaml': 'kind: Secret\nmetadata:\n  name: plain\n',
    'hex.yaml': 'kind: "Secr\\x65t"\nmetadata:\n  name: hex\n',
    'unicode.yaml': 'kind: "\\u0053ecret"\nmetadata:\n  name: unicode\n',
    'continued.yaml': 'kind: "Sec\\\n  ret"\nmetadata:\n  name: continued\n',
    'anchor.yaml': 'x: &k Secret\n---\nkind: ConfigMap\nmetadata: {name: not-this}\n---\nbase: &b {kind: Secret}\n<<: *b\nmetadata:\n  name: merged\n',
    'block.yaml': 'kind: >-\n  Secret\nmetadata:\n  name: block\n',
    'flow.yaml': '{"kind": "Secret", "metadata": {"name": "flow"}}\n',
  };
  for (const [file, text] of Object.entries(spellings)) writeFileSync(join(apps, file), text);
  // Neither is a Secret: one only says the word in lower case, the other folds it into two words.
  writeFileSync(join(apps, 'config.yaml'), 'kind: ConfigMap\nmetadata:\n  name: secret-free\ndata:\n  note: a secretRef elsewhere\n');
  writeFileSync(join(apps, 'folded.yaml'), 'kind: ConfigMap\nmetadata:\n  name: folded\ndata:\n  k: "Sec\n    ret"\n');
  const found = (await checkSecrets(dir, [staging], async () => undefined)).filter((l) => l.startsWith('clusters/staging/apps/'));
  assert.deepEqual(found.map((l) => /^clusters\/staging\/apps\/([\w.]+): Secret (\S+) is in plain text/.exec(l)?.slice(1, 3).join(' ')).sort(), [
    'anchor.yaml merged',
    'block.yaml block',
    'continued.yaml continued',
    'flow.yaml flow',
    'hex.yaml hex',
    'plain.yaml plain',
    'unicode.yaml unicode',
  ]);
});
