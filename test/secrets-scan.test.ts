// After a full lab run (apply, the owner adding the deploy key, apply again,
// with -v and --json), nothing it left behind holds a secret: not its output,
// not the rendered files or the Git history (local and remote), not this
// machine's temporary folders. The files that must hold secrets are 0600.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newClusterKey } from '../src/secrets/keys.ts';
import { brambleAsync, CLI, filesHolding } from './helpers.ts';
import { gitopsInventory, startGitopsLab } from './lab-helpers.ts';

// Every secret searched for below is made after this moment, so only files changed since can hold one.
const started = Date.now();
const { lab, scriptUrl, gitServer, repoUrl, work, knownHosts } = await startGitopsLab([{ name: 'vault', board: 'rk1', sudo: 'password', iscsi: true }], 'secrets.git');
// The cluster keeps a secret in Git: its age key is in the owner's keys file, the only place on this machine allowed to hold it.
const ageKey = await newClusterKey();
const ownerKeys = mkdtempSync(join(tmpdir(), 'bramble-owner-age-'));
after(() => rmSync(ownerKeys, { recursive: true, force: true }));
writeFileSync(join(ownerKeys, 'keys.txt'), `${ageKey.identity}\n`, { mode: 0o600 });
const inv = join(work, 'inventory.yaml');
writeFileSync(
  inv,
  gitopsInventory(lab, [{ name: 'staging', nodes: [{ node: 'vault', role: 'server' }] }], { installScriptUrl: scriptUrl, repoUrl, hostKey: gitServer.fingerprint }).replace(
    '  - name: staging\n    vlan: 100\n',
    // Every secret-bearing part of the platform on (issue 28): the private CA bramble makes, a tunnel with the
    // webhook Receiver, e-mail with an SMTP login; and scanning, which brings Trivy Operator's release.
    `  - name: staging\n    vlan: 100\n    secrets:\n      ageRecipient: ${ageKey.recipient}\n` +
      '    tunnel:\n      hostnames: [photos.example.com]\n      receiver: flux.example.com\n' +
      '    notifications:\n      email: { smarthost: "smtp.example.com:587", from: alerts@example.com, to: [owner@example.com], username: alerts@example.com }\n',
  ).replace('  platform:\n    flux:\n', '  platform:\n    scanning: { enabled: true }\n    flux:\n'),
);
const TUNNEL = `eyJhIjoi${randomBytes(30).toString('base64url')}`;
const SMTP = `smtp-${randomBytes(12).toString('hex')}`;
const WEBHOOK = `https://discord.com/api/webhooks/${randomBytes(8).readBigUInt64BE()}/${randomBytes(24).toString('base64url')}`;
const repo = join(work, 'repo');
const kubeconfig = join(work, 'kube', 'config');
// A token in the environment that this run has no use for must not leak either.
// Made here, so no file (this one included) holds it beforehand.
const GITHUB_TOKEN = `ghp_${randomBytes(18).toString('hex')}`;
const env = { ...gitServer.ownerEnv, BRAMBLE_SUDO_PASSWORD: lab.password, GITHUB_TOKEN, KUBECONFIG: kubeconfig, SOPS_AGE_KEY_FILE: join(ownerKeys, 'keys.txt'), SOPS_AGE_KEY: '' };
const argv = (...more: string[]) => ['apply', '-i', inv, '--known-hosts', knownHosts, '--repo', repo, '--timeout', '90', '-v', ...more];

/** The cluster's stored objects, as the k3s stand-in keeps them. */
function storedSecret(name = 'flux-system', namespace = 'flux-system'): Record<string, string> {
  const objects = join(lab.root, 'cluster', 'objects');
  for (const ca of readdirSync(objects)) {
    const f = join(objects, ca, namespace, 'Secret', `${name}.json`);
    if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { data: Record<string, string> }).data;
  }
  throw new Error(`no ${name} secret`);
}

test('a full run leaves no secret in its output, the repository, its history or the temporary folders', { timeout: 300_000 }, async () => {
  // The secrets the owner sets for the tunnel and the SMTP login; without them apply stops before changing anything.
  for (const [ref, key, value] of [['cloudflared/tunnel', 'token', TUNNEL], ['monitoring/notify', 'smtp-password', SMTP]] as const) {
    const r = spawnSync(process.execPath, [CLI, 'secret', 'set', '-i', inv, '-c', 'staging', '--repo', repo, ref, key], { input: value, encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
  const first = await brambleAsync(argv('--json'), env, 240_000);
  assert.equal(first.code, 1, 'a plain Git host: the run stops for the deploy key');
  const key = /(ssh-ed25519 \S+ flux-staging)/.exec(first.stdout)?.[1];
  assert.ok(key, first.stdout + first.stderr);
  lab.addDeployKey(key);
  // A webhook URL goes into the cluster's secrets, from standard input.
  const set = spawnSync(process.execPath, [CLI, 'secret', 'set', '-i', inv, '-c', 'staging', '--repo', repo, 'flux-system/notify', 'address'], { input: WEBHOOK, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(set.status, 0, set.stdout + set.stderr);
  const second = await brambleAsync(argv(), env, 240_000);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.match(second.stdout, /age key \(sops-age\): written/);
  // The cluster holds the age key where its Kustomizations look for it; the secret went out encrypted.
  assert.equal(Buffer.from(storedSecret('sops-age')['identity.agekey']!, 'base64').toString().trim(), ageKey.identity);
  assert.match(spawnSync('git', ['-c', 'safe.directory=*', '-C', join(lab.root, 'git', 'repos', 'secrets.git'), 'show', 'main:clusters/staging/secrets/flux-system-notify.sops.yaml'], { encoding: 'utf8' }).stdout, /address: ENC\[AES256_GCM,/);
  // Flux's stand-in decrypted them with that key (its own decryptor, test/standin-sops.test.ts): the cluster holds the plain values.
  const plain = (s: Record<string, string>, k: string) => Buffer.from(s[k]!, 'base64').toString();
  assert.equal(plain(storedSecret('notify'), 'address'), WEBHOOK);
  const grafana = storedSecret('grafana-admin', 'monitoring');
  assert.equal(plain(grafana, 'admin-user'), 'admin');
  assert.match(plain(grafana, 'admin-password'), /^[A-Za-z0-9_-]{32}$/);
  // What publish made (the CA, the Receiver's token) and what the owner set reached the cluster decrypted, and every layer is Ready with them.
  assert.match(first.stdout + second.stdout, /clusters\/staging\/secrets\/cert-manager-bramble-ca\.sops\.yaml \(generated: the cluster's private CA/);
  const ca = storedSecret('bramble-ca', 'cert-manager');
  const caKey = plain(ca, 'tls.key');
  assert.match(caKey, /^-----BEGIN PRIVATE KEY-----/);
  const { X509Certificate } = await import('node:crypto');
  const caCert = new X509Certificate(plain(ca, 'tls.crt'));
  assert.equal(caCert.ca, true);
  assert.match(caCert.subject, /CN=bramble \S+ staging CA/);
  assert.equal(plain(storedSecret('tunnel', 'cloudflared'), 'token'), TUNNEL);
  assert.equal(plain(storedSecret('notify', 'monitoring'), 'smtp-password'), SMTP);
  const receiverToken = plain(storedSecret('github-receiver', 'flux-system'), 'token');
  assert.match(receiverToken, /^[0-9a-f]{64}$/);
  // status prints the CA to trust, with the fingerprint to compare, and the certificate whole; never its key.
  const status = await brambleAsync(['status', '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', kubeconfig], env, 120_000);
  assert.match(status.stdout, new RegExp(`tls: private CA "CN=bramble \\S+ staging CA, O=bramble", SHA-256 ${caCert.fingerprint256}, until \\d{4}-\\d{2}-\\d{2}; trust it on your devices`));
  const printed = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(status.stdout)?.[0];
  assert.equal(printed && new X509Certificate(printed).fingerprint256, caCert.fingerprint256, 'the PEM printed is the CA');
  assert.doesNotMatch(status.stdout, /PRIVATE KEY/);
  assert.match(status.stdout, /tunnel: photos\.example\.com published through Cloudflare\n {4}GitHub webhook: Flux has not made the Receiver yet/);

  const k3sToken = lab.readNodeFile('vault', '/etc/rancher/k3s/bramble-token')!.trim();
  const joinToken = lab.readNodeFile('vault', '/var/lib/rancher/k3s/server/token')!.trim();
  const pem = Buffer.from(storedSecret().identity!, 'base64').toString();
  const privateBody = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('').slice(-120, -40);
  const secrets: Record<string, string> = {
    'the sudo password': lab.password,
    'the k3s token': k3sToken.slice(-32),
    'the join token': joinToken.slice(-32),
    "the deploy key's private part": privateBody,
    'the GitHub token': GITHUB_TOKEN,
    "the cluster's age key": ageKey.identity,
    'the webhook URL': WEBHOOK,
    "Grafana's admin password": plain(grafana, 'admin-password'),
    "the private CA's key": caKey.split('\n').slice(2, 4).join(''),
    'the tunnel token': TUNNEL,
    'the SMTP password': SMTP,
    "the Receiver's token": receiverToken,
  };
  assert.ok(Object.values(secrets).every((s) => s.length >= 16), 'each secret is long enough to search for');

  // Output: stdout and stderr of both runs, --json and -v included.
  const output = [first.stdout, first.stderr, second.stdout, second.stderr, status.stdout, status.stderr].join('\n');
  assert.match(output, /\$ k3s kubectl apply -f -/, '-v shows the remote commands');
  // Git: every object of the work tree's and the remote's history, not only the files checked out.
  const history = (dir: string) => spawnSync('git', ['-c', 'safe.directory=*', '-C', dir, 'log', '--all', '-p', '--format=%H %an %s%n%b'], { encoding: 'utf8' }).stdout;
  const remote = join(lab.root, 'git', 'repos', 'secrets.git');
  assert.ok(history(remote).includes('clusters/staging/flux-system/gotk-sync.yaml'), 'the remote history was read');
  const histories = [history(repo), history(remote)];
  const needles = Object.values(secrets);
  const inTree = filesHolding(repo, needles, started);
  // The lab's own folder holds the simulated nodes' disks, where the tokens belong.
  const inTmp = filesHolding(tmpdir(), needles, started, [lab.root.split('/').pop()!, ownerKeys.split('/').pop()!]);
  const inVarTmp = filesHolding('/var/tmp', needles, started, [lab.root.split('/').pop()!]);
  for (const [what, secret] of Object.entries(secrets)) {
    assert.ok(!output.includes(secret), `${what} is not in the output`);
    assert.ok(!histories.some((h) => h.includes(secret)), `${what} is not in Git history`);
    assert.deepEqual(inTree(secret), [], `${what} is in no file of the work tree`);
    assert.deepEqual(inTmp(secret), [], `${what} is in no temporary file`);
    assert.deepEqual(inVarTmp(secret), [], `${what} is in no file under /var/tmp`);
  }

  // Where secrets must live, only their owner may read them.
  const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);
  assert.equal(mode(kubeconfig), '600', 'the kubeconfig holds the cluster admin key');
  // (Flux's first-start manifest, written 0600, is gone once Flux upgrades itself from Git.)
  for (const f of ['/etc/rancher/k3s/bramble-token', '/etc/rancher/k3s/config.yaml']) {
    const onNode = join(lab.node('vault').dir, 'upper', f.startsWith('/etc') ? 'etc' : 'var-lib', f.replace(/^\/(etc|var\/lib)\//, ''));
    assert.equal(mode(onNode), '600', f);
  }
});
