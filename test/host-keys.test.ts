// Host keys on ports other than 22, against real sshd: a node and a Git
// server on :2222 whose keys are replaced under bramble, checked by bramble
// and, with the same known_hosts, by OpenSSH's own client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateDeployKey } from '../src/flux/secret.ts';
import { gitHostFor } from '../src/git/host.ts';
import { checkHostKey, fingerprint } from '../src/ssh/known-hosts.ts';
import { envSecrets } from '../src/ssh/secrets.ts';
import { Session, SshError, type HostKeyPolicy } from '../src/ssh/session.ts';
import { tempDir } from './helpers.ts';
import { startLab, target } from './lab-helpers.ts';

const lab = await startLab([{ name: 'gate', board: 'rk1', sshPort: 2222 }]);
const gitServer = await lab.startGitServer({ port: 2222 });

function keyBlob(hostKey: string): Buffer {
  return Buffer.from(hostKey.split(' ')[1]!, 'base64');
}

function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** known_hosts holding `lines`, and a policy reading it. */
function knownHostsFile(lines: string): string {
  const file = join(tempDir(), 'known_hosts');
  writeFileSync(file, lines, { mode: 0o600 });
  return file;
}

async function refused(knownHosts: string, over: Partial<HostKeyPolicy> = {}, pin?: string): Promise<string> {
  try {
    (await Session.connect(target(lab, 'gate', { hostKey: pin }), { policy: { knownHosts, acceptNew: false, ...over }, secrets: envSecrets({}) })).close();
  } catch (e) {
    assert.ok(e instanceof SshError, String(e));
    return e.message;
  }
  assert.fail('the connection was accepted');
}

/** What OpenSSH's client says of the same known_hosts: its exit code and last words. */
function openssh(knownHosts: string): { code: number; stderr: string } {
  const gate = lab.node('gate');
  const r = spawnSync(
    'ssh',
    ['-p', String(gate.port), '-i', lab.keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'HostKeyAlgorithms=ssh-ed25519,ecdsa-sha2-nistp256', `${lab.user}@${gate.address}`, 'true'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return { code: r.status ?? -1, stderr: r.stderr };
}

test('known_hosts names on another port are [host]:port, matched literally, plain or hashed', () => {
  const key = keyBlob(lab.node('gate').hostKey);
  const other = keyBlob(gitServer.hostKey);
  const entry = (k: Buffer) => `[198.18.0.7]:2222 ssh-ed25519 ${k.toString('base64')}\n`;
  assert.deepEqual(checkHostKey(entry(key), '198.18.0.7', 2222, key), { status: 'known' });
  assert.deepEqual(checkHostKey(entry(other), '198.18.0.7', 2222, key), { status: 'changed', expected: [fingerprint(other)] });
  // The same host on port 22 is another entry; neither vouches for the other.
  assert.deepEqual(checkHostKey(`198.18.0.7 ssh-ed25519 ${other.toString('base64')}\n`, '198.18.0.7', 2222, key), { status: 'unknown' });
  assert.deepEqual(checkHostKey(entry(other), '198.18.0.7', 22, key), { status: 'unknown' });
  // A bracket pattern is not a character class: [198.18.0.7]:2222 does not name "1:2222".
  assert.deepEqual(checkHostKey(entry(other), '1', 2222, key), { status: 'unknown' });
  // Wildcards still work inside the brackets, as in OpenSSH.
  assert.deepEqual(checkHostKey(`[198.18.0.*]:2222 ssh-ed25519 ${other.toString('base64')}\n`, '198.18.0.7', 2222, key).status, 'changed');
});

test('a node on :2222 is trusted by its recorded key, and OpenSSH agrees', async () => {
  const knownHosts = knownHostsFile(lab.knownHosts());
  assert.match(lab.knownHosts(), /^\[198\.18\.\d+\.10\]:2222 ssh-ed25519 /);
  const s = await Session.connect(target(lab, 'gate'), { policy: { knownHosts, acceptNew: false }, secrets: envSecrets({}) });
  assert.equal((await s.exec('hostname')).stdout.trim(), 'gate');
  s.close();
  assert.equal(openssh(knownHosts).code, 0);
});

test('a changed key on :2222 is refused with and without --accept-new-host-keys, plain and hashed; nothing is recorded', async () => {
  const before = lab.node('gate').fingerprint;
  const known = lab.knownHosts();
  await lab.replaceHostKey('gate');
  const gate = lab.node('gate');
  const knownHosts = knownHostsFile(known);
  const changed = new RegExp(`^gate: host key: THE HOST KEY OF \\[${re(gate.address)}\\]:2222 HAS CHANGED: it presented ${re(gate.fingerprint)}, .* expects ${re(before)}.*ssh-keygen -R '\\[${re(gate.address)}\\]:2222'`);
  assert.match(await refused(knownHosts), changed);
  assert.match(await refused(knownHosts, { acceptNew: true }), changed);
  let asked = 0;
  assert.match(await refused(knownHosts, { acceptNew: true, ask: async () => (asked++, true) }), changed, 'a changed key is never put to a person');
  assert.equal(asked, 0);
  assert.equal(readFileSync(knownHosts, 'utf8'), known, 'known_hosts is untouched');
  const ssh = openssh(knownHosts);
  assert.equal(ssh.code, 255);
  assert.match(ssh.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);

  // HashKnownHosts: the hashed [host]:port entry is found the same way.
  assert.equal(spawnSync('ssh-keygen', ['-H', '-f', knownHosts]).status, 0);
  const hashed = readFileSync(knownHosts, 'utf8');
  assert.match(hashed, /^\|1\|/);
  assert.match(await refused(knownHosts, { acceptNew: true }), changed);
  assert.equal(readFileSync(knownHosts, 'utf8'), hashed);
  assert.equal(openssh(knownHosts).code, 255);
});

test('pinned fingerprints on :2222: a stale pin is refused, and a pin never overrides a changed recorded key', async () => {
  const gate = lab.node('gate');
  const stalePin = fingerprint(keyBlob(gitServer.hostKey));
  const empty = knownHostsFile('');
  assert.match(await refused(empty, { acceptNew: true }, stalePin), new RegExp(`the inventory pins ${re(stalePin)} for gate, but \\[${re(gate.address)}\\]:2222 presented ${re(gate.fingerprint)}`));
  assert.equal(readFileSync(empty, 'utf8'), '');
  // The right pin is trusted and recorded as [host]:port, which OpenSSH then accepts too.
  (await Session.connect(target(lab, 'gate', { hostKey: gate.fingerprint }), { policy: { knownHosts: empty, acceptNew: false }, secrets: envSecrets({}) })).close();
  assert.equal(readFileSync(empty, 'utf8'), `[${gate.address}]:2222 ${gate.hostKey}\n`);
  assert.equal(openssh(empty).code, 0);
  // known_hosts holding another key of the same type wins over a pin of the presented key.
  const other = knownHostsFile(`[${gate.address}]:2222 ${gitServer.hostKey}\n`);
  assert.match(await refused(other, {}, gate.fingerprint), /HAS CHANGED/);
});

test('a key of another type than the one on record is never accepted silently', async () => {
  const old = lab.node('gate');
  const recordedLine = `[${old.address}]:2222 ${old.hostKey}\n`;
  const recordedFp = old.fingerprint;
  await lab.replaceHostKey('gate', 'ecdsa');
  const gate = lab.node('gate');
  assert.match(gate.hostKey, /^ecdsa-sha2-nistp256 /);
  const knownHosts = knownHostsFile(recordedLine);
  const why = await refused(knownHosts, { acceptNew: true });
  assert.match(why, new RegExp(`^gate: host key: \\[${re(gate.address)}\\]:2222 presented a ecdsa-sha2-nistp256 host key ${re(gate.fingerprint)}, but .* records it by another key: ssh-ed25519 ${re(recordedFp)}\\.`));
  assert.equal(readFileSync(knownHosts, 'utf8'), recordedLine, 'nothing recorded under --accept-new-host-keys');

  // At a terminal the question names the key on record; a "no" records nothing.
  const questions: Array<{ host: string; fp: string; recorded: unknown }> = [];
  await refused(knownHosts, { ask: async (_n, host, fp, recorded) => (questions.push({ host, fp, recorded }), false) });
  assert.deepEqual(questions, [{ host: `[${gate.address}]:2222`, fp: gate.fingerprint, recorded: [{ type: 'ssh-ed25519', fingerprint: recordedFp }] }]);
  assert.equal(readFileSync(knownHosts, 'utf8'), recordedLine);

  // The owner's pin of the new key is an explicit decision: trusted and recorded beside the old one.
  (await Session.connect(target(lab, 'gate', { hostKey: gate.fingerprint }), { policy: { knownHosts, acceptNew: false }, secrets: envSecrets({}) })).close();
  assert.equal(readFileSync(knownHosts, 'utf8'), recordedLine + `[${gate.address}]:2222 ${gate.hostKey}\n`);
});

test("the Git server on :2222: its recorded key goes to Flux's known_hosts; a changed key is refused, even with --accept-new-host-keys", async () => {
  const url = gitServer.url('gitops.git');
  assert.match(url, /^ssh:\/\/git@198\.18\.\d+\.4:2222\//);
  const git = { url, branch: 'main', provider: 'ssh' as const, apiUrl: 'https://api.github.com', private: true };
  const recorded = `[${gitServer.address}]:2222 ${gitServer.hostKey}\n`;
  const knownHosts = knownHostsFile(recorded);
  const policy = { knownHosts, acceptNew: true };
  assert.equal(await gitHostFor(git, { policy }).knownHosts(), recorded);

  const before = gitServer.fingerprint;
  await lab.replaceGitHostKey();
  await assert.rejects(
    gitHostFor(git, { policy }).knownHosts(),
    { message: new RegExp(`^Git server git@${re(gitServer.address)}:2222: THE HOST KEY OF \\[${re(gitServer.address)}\\]:2222 HAS CHANGED: it presented ${re(gitServer.fingerprint)}, .* expects ${re(before)}`) },
  );
  assert.equal(readFileSync(knownHosts, 'utf8'), recorded, 'the impostor key is not recorded');
  // Pinned in the inventory (git.hostKey), the old key is still what the recorded entry says: refused.
  await assert.rejects(gitHostFor({ ...git, hostKey: gitServer.fingerprint }, { policy }).knownHosts(), /HAS CHANGED/);
  // After the owner removes the stale entry, the pinned new key is trusted and written for Flux as [host]:port.
  const fresh = knownHostsFile('');
  assert.equal(await gitHostFor({ ...git, hostKey: gitServer.fingerprint }, { policy: { knownHosts: fresh, acceptNew: false } }).knownHosts(), `[${gitServer.address}]:2222 ${gitServer.hostKey}\n`);
});

test('a deploy key check reads the Git server host key on its own connection: a changed key is refused there, a pinned one needs no scan, a closed port is unreachable', async () => {
  const git = { url: gitServer.url('gitops.git'), branch: 'main', provider: 'ssh' as const, apiUrl: 'https://api.github.com', private: true };
  const key = generateDeployKey('flux-check');
  // On record: a key the server does not have (as after the server was reinstalled).
  const stale = `[${gitServer.address}]:2222 ${generateDeployKey('old').publicKey.split(' ').slice(0, 2).join(' ')}\n`;
  const staleFile = knownHostsFile(stale);
  await assert.rejects(gitHostFor(git, { policy: { knownHosts: staleFile, acceptNew: true } }).authorize(key, 't', false), {
    message: new RegExp(`^Git server git@${re(gitServer.address)}:2222: THE HOST KEY OF \\[${re(gitServer.address)}\\]:2222 HAS CHANGED`),
  });
  assert.equal(readFileSync(staleFile, 'utf8'), stale, 'the presented key is not recorded');

  // Pinned: the key the check saw is what Flux is given, with no second connection to read it.
  const fresh = knownHostsFile('');
  const host = gitHostFor({ ...git, hostKey: gitServer.fingerprint }, { policy: { knownHosts: fresh, acceptNew: false } });
  const before = lab.gitConnections(lab.gateway).length;
  assert.equal(await host.authorize(key, 't', false), 'needs-owner', 'the key is not added on the server');
  assert.equal(await host.knownHosts(), `[${gitServer.address}]:2222 ${gitServer.hostKey}\n`);
  assert.equal(lab.gitConnections(lab.gateway).length - before, 1);
  assert.match(host.instructions(key).join('\n'), new RegExp(`trust the server's host key ${re(gitServer.fingerprint)}`));

  // Nothing listens: said as a server that cannot be reached, not as a key the owner has yet to add.
  const closed = { ...git, url: `ssh://git@${gitServer.address}:2299/gitops.git` };
  await assert.rejects(gitHostFor(closed, { policy: { knownHosts: fresh, acceptNew: true } }).authorize(key, 't', false), {
    message: new RegExp(`^Git server git@${re(gitServer.address)}:2299: cannot read the host key of ${re(gitServer.address)}:2299: .*ECONNREFUSED`),
  });
});
