// The flux-system secret goes to the cluster over SSH on stdin: never to this
// machine's disk or a log. On the lab, with k3s installed by bramble.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { applyFluxSecret, clusterDeployKey, deployKeyTitle, generateDeployKey } from '../src/flux/secret.ts';
import { Session } from '../src/ssh/session.ts';
import { brambleAsync, filesHolding, tempDir } from './helpers.ts';
import { labInventory, startLab, target, trusting } from './lab-helpers.ts';

// The deploy keys searched for below are made after this moment, so only files changed since can hold one.
const started = Date.now();
const lab = await startLab([{ name: 'rk', board: 'rk1' }]);
const url = await lab.serveInstallScript();
const knownHostsFile = join(tempDir(), 'known_hosts');
writeFileSync(knownHostsFile, lab.knownHosts());
const inv = join(tempDir(), 'inventory.yaml');
writeFileSync(inv, labInventory(lab, [{ name: 'staging', nodes: [{ node: 'rk', role: 'server' }] }], { installScriptUrl: url }));
const installed = await brambleAsync(['install', '-i', inv, '--known-hosts', knownHostsFile, '--kubeconfig', join(tempDir(), 'kubeconfig'), '--timeout', '20']);
assert.equal(installed.code, 0, installed.stdout + installed.stderr);

test('a deploy key is an ed25519 pair in OpenSSH form, titled after the cluster and its path', () => {
  const key = generateDeployKey('flux-staging');
  const parsed = ssh2.utils.parseKey(key.privateKey);
  assert.ok(!(parsed instanceof Error));
  assert.equal((parsed as { type: string }).type, 'ssh-ed25519');
  assert.match(key.publicKey, /^ssh-ed25519 [A-Za-z0-9+/=]+ flux-staging$/);
  assert.equal(deployKeyTitle('staging', 'clusters/staging'), 'bramble flux staging (clusters/staging)');
});

test('every deploy key parses: a pair ssh2 made malformed (1 in 256, its public key short of a leading zero byte) is made again', () => {
  // From ssh2's keygen alone, 2000 keys hold a malformed one in all but about 0.04 % of runs (mscdex/ssh2#1513).
  for (let i = 0; i < 2000; i++) {
    const key = generateDeployKey('flux-staging');
    assert.ok(!(ssh2.utils.parseKey(key.privateKey) instanceof Error), `private key ${i} parses`);
    assert.ok(!(ssh2.utils.parseKey(key.publicKey) instanceof Error), `public key ${i} parses`);
  }
  // A malformed pair as ssh2 makes it: the public key's blob one byte short.
  const made0 = generateDeployKey('flux-staging');
  const good = { private: made0.privateKey, public: made0.publicKey };
  const [type, blob, comment] = good.public.split(' ');
  const raw = Buffer.from(blob!, 'base64');
  const short = Buffer.concat([raw.subarray(0, raw.length - 36), Buffer.from([0, 0, 0, 31]), raw.subarray(raw.length - 31)]);
  const broken = { private: good.private, public: `${type} ${short.toString('base64')} ${comment}` };
  assert.ok(ssh2.utils.parseKey(broken.public) instanceof Error, 'the forged pair is malformed, as ssh2 sometimes makes one');
  const made = [broken, good];
  assert.deepEqual(generateDeployKey('flux-staging', () => made.shift()!), { privateKey: good.private, publicKey: good.public });
  assert.throws(() => generateDeployKey('flux-staging', () => broken), /16 malformed ed25519 keys in a row/);
});

test('the flux-system secret reaches the cluster on stdin only; re-runs read the public key back; rotation replaces it', async () => {
  const log: string[] = [];
  const s = await Session.connect(target(lab, 'rk'), trusting(lab, log));
  assert.equal(await clusterDeployKey(s), undefined, 'no secret yet');

  const key = generateDeployKey('flux-staging');
  const knownHosts = 'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n';
  await applyFluxSecret(s, key, knownHosts);
  assert.equal(await clusterDeployKey(s), key.publicKey);

  // What the cluster stored is the whole key; what this machine logged is not.
  const stored = readdirSync(join(lab.root, 'cluster'), { recursive: true }).map(String).find((p) => p.endsWith('Secret/flux-system.json'))!;
  const secret = JSON.parse(readFileSync(join(lab.root, 'cluster', stored), 'utf8'));
  assert.equal(Buffer.from(secret.data.identity, 'base64').toString(), key.privateKey);
  assert.equal(Buffer.from(secret.data.known_hosts, 'base64').toString(), knownHosts);
  // Key-specific bytes: the end of the base64 body holds the private half (the start is a header every such key shares).
  const b64 = key.privateKey.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const body = b64.slice(-120, -40);
  assert.ok(log.some((l) => l === 'rk: $ k3s kubectl apply -f -   (sudo)'), log.join('\n'));
  assert.ok(log.every((l) => !l.includes(body)));
  // The lab's folder holds the simulated node's disk, where the cluster keeps the key.
  assert.deepEqual(filesHolding(tmpdir(), [body], started, [lab.root.split('/').pop()!])(body), [], 'the private key is on no temporary file of this machine');

  const rotated = generateDeployKey('flux-staging');
  await applyFluxSecret(s, rotated, knownHosts);
  assert.equal(await clusterDeployKey(s), rotated.publicKey);
  s.close();
});
