// bramble's SSH layer against real OpenSSH sshd on lab nodes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { envSecrets } from '../src/ssh/secrets.ts';
import { Session, SshError } from '../src/ssh/session.ts';
import { tempDir } from './helpers.ts';
import { startLab, target, trusting } from './lab-helpers.ts';

const lab = await startLab([
  { name: 'pi', board: 'pi5' },
  { name: 'rk', board: 'rk1', sudo: 'password' },
]);

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<SshError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SshError, `expected an SshError, got ${String(caught)}`);
  assert.match(caught.message, re);
  return caught;
}

test('key authentication, one command, the node as it reports itself', async () => {
  const s = await Session.connect(target(lab, 'pi'), trusting(lab));
  const r = await s.exec('uname -m; hostname; tr -d "\\0" < /sys/firmware/devicetree/base/model');
  assert.deepEqual(r.stdout.trim().split('\n'), ['aarch64', 'pi', 'Raspberry Pi 5 Model B Rev 1.0']);
  s.close();
});

test('a passphrase-protected key, with the passphrase from the environment', async () => {
  const opts = trusting(lab, undefined, { BRAMBLE_SSH_KEY_PASSPHRASE: lab.passphrase });
  const s = await Session.connect(target(lab, 'pi', { privateKey: lab.encryptedKeyFile }), opts);
  assert.equal((await s.exec('whoami')).stdout.trim(), 'bramble');
  s.close();
  await rejectsWith(Session.connect(target(lab, 'pi', { privateKey: lab.encryptedKeyFile }), trusting(lab)), /^pi: connect: .* is protected by a passphrase; set BRAMBLE_SSH_KEY_PASSPHRASE/);
  await rejectsWith(Session.connect(target(lab, 'pi', { privateKey: lab.encryptedKeyFile }), trusting(lab, undefined, { BRAMBLE_SSH_KEY_PASSPHRASE: 'wrong' })), /^pi: connect: .*(wrong passphrase|decrypt)/);
});

test('ssh-agent authentication', async () => {
  const dir = tempDir();
  const sock = join(dir, 'agent.sock');
  const agent = spawnSync('ssh-agent', ['-a', sock], { encoding: 'utf8' });
  assert.equal(agent.status, 0, agent.stderr);
  const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)![1]!;
  try {
    assert.equal(spawnSync('ssh-add', [lab.keyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).status, 0);
    const saved = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = sock;
    try {
      const s = await Session.connect(target(lab, 'rk', { auth: 'agent', privateKey: undefined }), trusting(lab));
      assert.equal((await s.exec('hostname')).stdout.trim(), 'rk');
      s.close();
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
    }
  } finally {
    process.kill(Number(pid));
  }
});

test('password authentication, and a wrong password refused by name', async () => {
  const s = await Session.connect(target(lab, 'rk', { auth: 'password' }), trusting(lab, undefined, { BRAMBLE_SSH_PASSWORD: lab.password }));
  assert.equal((await s.exec('id -un')).stdout.trim(), 'bramble');
  s.close();
  await rejectsWith(Session.connect(target(lab, 'rk', { auth: 'password' }), trusting(lab, undefined, { BRAMBLE_SSH_PASSWORD: 'nope' })), /^rk: authenticate: bramble@198\.18\.\d+\.11:22 refused password authentication$/);
  await rejectsWith(Session.connect(target(lab, 'rk', { auth: 'password' }), trusting(lab)), /no password was given \(set BRAMBLE_SSH_PASSWORD/);
});

test('an unknown host key fails a non-interactive run and shows the fingerprint', async () => {
  const knownHosts = join(tempDir(), 'known_hosts');
  const pi = lab.node('pi');
  const e = await rejectsWith(
    Session.connect(target(lab, 'pi'), { policy: { knownHosts, acceptNew: false }, secrets: envSecrets({}) }),
    /^pi: host key: unknown host key SHA256:\S+ for 198\.18\.\d+\.10; pin it in the inventory/,
  );
  assert.ok(e.message.includes(pi.fingerprint));
});

test('accept-new records the key (0600) and the next connection trusts it', async () => {
  const knownHosts = join(tempDir(), 'ssh', 'known_hosts');
  const opts = { policy: { knownHosts, acceptNew: true }, secrets: envSecrets({}) };
  (await Session.connect(target(lab, 'pi'), opts)).close();
  assert.equal(readFileSync(knownHosts, 'utf8'), `${lab.node('pi').address} ${lab.node('pi').hostKey}\n`);
  assert.equal(statSync(knownHosts).mode & 0o777, 0o600);
  (await Session.connect(target(lab, 'pi'), { ...opts, policy: { knownHosts, acceptNew: false } })).close();
});

test('a pinned fingerprint is accepted and recorded; a wrong pin is refused', async () => {
  const knownHosts = join(tempDir(), 'known_hosts');
  const opts = { policy: { knownHosts, acceptNew: false }, secrets: envSecrets({}) };
  (await Session.connect(target(lab, 'rk', { hostKey: lab.node('rk').fingerprint }), opts)).close();
  assert.match(readFileSync(knownHosts, 'utf8'), /ssh-ed25519/);
  await rejectsWith(Session.connect(target(lab, 'pi', { hostKey: lab.node('rk').fingerprint }), opts), /the inventory pins SHA256:\S+ for pi, but 198\.18\.\d+\.10 presented SHA256:/);
});

test('a changed host key always fails, loudly, even with accept-new', async () => {
  const knownHosts = join(tempDir(), 'known_hosts');
  // known_hosts remembers rk's key for pi's address: as if pi had been replaced.
  writeFileSync(knownHosts, `${lab.node('pi').address} ${lab.node('rk').hostKey}\n`);
  await rejectsWith(
    Session.connect(target(lab, 'pi'), { policy: { knownHosts, acceptNew: true }, secrets: envSecrets({}) }),
    new RegExp(`^pi: host key: THE HOST KEY OF .* HAS CHANGED: it presented ${lab.node('pi').fingerprint.replace(/[+/]/g, '\\$&')}, .* expects ${lab.node('rk').fingerprint.replace(/[+/]/g, '\\$&')}`),
  );
  // Hashed entries (HashKnownHosts yes) are read too.
  spawnSync('ssh-keygen', ['-H', '-f', knownHosts]);
  assert.match(readFileSync(knownHosts, 'utf8'), /^\|1\|/);
  await rejectsWith(Session.connect(target(lab, 'pi'), { policy: { knownHosts, acceptNew: true }, secrets: envSecrets({}) }), /HAS CHANGED/);
});

test('sudo without a password, and with one asked once and never logged', async () => {
  const s = await Session.connect(target(lab, 'pi'), trusting(lab));
  assert.equal((await s.exec('id -u', { sudo: true })).stdout.trim(), '0');
  s.close();

  const log: string[] = [];
  const r = await Session.connect(target(lab, 'rk'), trusting(lab, log, { BRAMBLE_SUDO_PASSWORD: lab.password }));
  assert.equal((await r.exec('id -u', { sudo: true })).stdout.trim(), '0');
  assert.equal((await r.exec('cat', { sudo: true, stdin: 'piped input' })).stdout, 'piped input');
  r.close();
  assert.ok(log.some((l) => l === 'rk: $ id -u   (sudo)'), log.join('\n'));
  assert.ok(log.every((l) => !l.includes(lab.password)));

  const w = await Session.connect(target(lab, 'rk'), trusting(lab, undefined, { BRAMBLE_SUDO_PASSWORD: 'wrong-password' }));
  await rejectsWith(w.exec('true', { sudo: true }), /^rk: sudo: the sudo password for bramble was not accepted$/);
  w.close();
  const n = await Session.connect(target(lab, 'rk'), trusting(lab));
  await rejectsWith(n.exec('true', { sudo: true }), /^rk: sudo: sudo needs a password for bramble; set BRAMBLE_SUDO_PASSWORD/);
  n.close();
});

test('sudo commands sent at once before its way is known: each runs once, and the password is asked once', async () => {
  for (const [node, password] of [['pi', undefined], ['rk', lab.password]] as const) {
    let asked = 0;
    const opts = { ...trusting(lab), secrets: { get: async () => (asked++, password) } };
    const s = await Session.connect(target(lab, node), opts);
    const file = `/tmp/sudo-once-${node}`;
    await s.exec(`rm -f ${file}`);
    // Ten at once, each leaving a line: a command sent again after sudo refused it would leave two.
    const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => s.exec(`echo ${i} >> ${file}; id -u; cat`, { sudo: true, stdin: `in-${i}` })));
    assert.deepEqual(runs.map((r) => r.stdout), Array.from({ length: 10 }, (_, i) => `0\nin-${i}`));
    assert.deepEqual((await s.exec(`cat ${file}`)).stdout.trim().split('\n').sort(), Array.from({ length: 10 }, (_, i) => String(i)).sort());
    assert.equal(asked, password ? 1 : 0, `${node}: the password is asked ${password ? 'once' : 'never'}`);
    // A command's own failure is its own, not a sudo question.
    const own = await s.exec('echo "sudo: not this one" >&2; exit 1', { sudo: true, check: false });
    assert.equal(own.code, 1);
    await s.exec(`rm -f ${file}`, { sudo: true });
    s.close();
  }
});

test('a failing command names the node and the step; secrets in the command are not logged', async () => {
  const log: string[] = [];
  const s = await Session.connect(target(lab, 'pi'), trusting(lab, log));
  await rejectsWith(s.exec('echo boom >&2; exit 4', { step: 'check the thing' }), /^pi: check the thing: exited 4: boom$/);
  await s.exec('true # token=K10abcdefsecret', { secrets: ['K10abcdefsecret'] });
  assert.ok(log.includes('pi: $ true # token=***'), log.join('\n'));
  s.close();
});

test('files are written atomically with their mode; root-owned secrets stay 0600', async () => {
  const s = await Session.connect(target(lab, 'pi'), trusting(lab));
  await s.writeFile('/etc/rancher/k3s/config.yaml', 'token-file: /etc/rancher/k3s/token\n', { sudo: true, mode: 0o600 });
  const st = await s.exec('stat -c "%U %a" /etc/rancher/k3s/config.yaml', { sudo: true });
  assert.equal(st.stdout.trim(), 'root 600');
  assert.equal(await s.readFile('/etc/rancher/k3s/config.yaml', { sudo: true }), 'token-file: /etc/rancher/k3s/token\n');
  assert.equal(await s.readFile('/etc/rancher/k3s/absent.yaml', { sudo: true }), undefined);
  await rejectsWith(s.readFile('/etc/rancher/k3s/config.yaml'), /Permission denied/);
  assert.equal((await s.exec('ls /tmp | wc -l')).stdout.trim(), '0', 'no upload left behind');
  s.close();
  assert.equal(lab.readNodeFile('pi', '/etc/rancher/k3s/config.yaml'), 'token-file: /etc/rancher/k3s/token\n');
});

test('several files in one command: each text exactly as it is, absent ones undefined, an unreadable one an error naming the step', async () => {
  const s = await Session.connect(target(lab, 'pi'), trusting(lab));
  try {
    // No newline at the end, an empty file, text that looks like the separator, newlines of its own.
    await s.exec("mkdir -p /tmp/many && printf 'no newline' > /tmp/many/a && : > /tmp/many/b && printf '\\nbramble-file-0:here\\n\\n\\n' > /tmp/many/c");
    await s.writeFile('/tmp/many/root-only', 'secret\n', { sudo: true, mode: 0o600 });
    const paths = ['/tmp/many/a', '/tmp/many/absent', '/tmp/many/b', '/tmp/many/c', "/tmp/many/it's absent too", '/tmp/many/root-only'];
    const sudoRead = await s.readFiles(paths, { sudo: true, step: 'read them' });
    assert.deepEqual(sudoRead, ['no newline', undefined, '', '\nbramble-file-0:here\n\n\n', undefined, 'secret\n']);
    for (const [i, p] of paths.entries()) assert.equal(await s.readFile(p, { sudo: true }), sudoRead[i], `readFile and readFiles agree on ${p}`);
    // Without sudo the root-only file cannot be read: the whole read fails, by node and step.
    await rejectsWith(s.readFiles(paths, { step: 'read them' }), /^pi: read them: .*Permission denied/);
  } finally {
    await s.exec('rm -rf /tmp/many', { sudo: true });
    s.close();
  }
});

test('a connection that drops mid-command is an error naming node and step', async () => {
  await using _ = { async [Symbol.asyncDispose]() { await lab.powerOn('pi'); } };
  const s = await Session.connect(target(lab, 'pi'), trusting(lab));
  const running = s.exec('sleep 30', { step: 'install k3s' });
  // Watched from the start: the rejection can come while powerOff is still waiting for the node to die.
  const refused = rejectsWith(running, /^pi: install k3s: (the connection to 198\.18\.\d+\.10 was lost|the command ended without an exit status)/);
  await new Promise((r) => setTimeout(r, 300));
  await lab.powerOff('pi');
  await refused;
  s.close();
});

test('an unreachable node fails within the connect timeout, by name', async () => {
  const t0 = Date.now();
  await rejectsWith(Session.connect({ ...target(lab, 'pi'), name: 'ghost', host: `${lab.gateway.replace(/\.1$/, '.99')}` }, { ...trusting(lab), connectTimeoutMs: 1500 }), /^ghost: connect: /);
  assert.ok(Date.now() - t0 < 10000);
});

test('a jump host: the node sees the connection come from the jump host; a bad jump host is named', async () => {
  const rk = lab.node('rk');
  const jump = { name: 'rk', host: rk.address, port: 22, user: lab.user, auth: 'key' as const, privateKey: lab.keyFile };
  const s = await Session.connect(target(lab, 'pi', { jump }), trusting(lab));
  assert.equal((await s.exec('echo $SSH_CONNECTION')).stdout.split(' ')[0], rk.address);
  assert.equal((await s.exec('hostname')).stdout.trim(), 'pi');
  s.close();
  await rejectsWith(Session.connect(target(lab, 'pi', { jump: { ...jump, user: 'nobody' } }), trusting(lab)), /^pi: jump host rk: authenticate: nobody@198\.18\.\d+\.11:22 refused key authentication$/);
});

test('a plain SSH Git host\'s key is read for known_hosts, with the fingerprint to confirm', async () => {
  const { scanHostKey } = await import('../src/ssh/host-key.ts');
  const rk = lab.node('rk');
  const scanned = await scanHostKey(rk.address);
  assert.equal(scanned.line, `${rk.address} ${rk.hostKey}\n`);
  assert.equal(scanned.fingerprint, rk.fingerprint);
  await assert.rejects(scanHostKey(lab.gateway.replace(/\.1$/, '.98'), 22, 1500), /cannot read the host key of 198\.18\.\d+\.98:22/);
});

test('more commands at once than sshd has sessions for (MaxSessions 10) all run, in turns', async () => {
  const s = await Session.connect(target(lab, 'rk'), trusting(lab));
  try {
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => s.exec(`sleep 0.3; echo ${i}`, { step: `command ${i}` })));
    assert.deepEqual(
      results.map((r) => r.stdout.trim()),
      Array.from({ length: 24 }, (_, i) => String(i)),
    );
  } finally {
    s.close();
  }
});

test('a node that hangs as the connection closes does not keep bramble running', async () => {
  // In a process of its own: what is checked is that the process ends, which a socket left open prevents.
  const t = target(lab, 'pi');
  const knownHosts = trusting(lab).policy.knownHosts;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { Session } from ${JSON.stringify(new URL('../src/ssh/session.ts', import.meta.url).href)};
    import { envSecrets } from ${JSON.stringify(new URL('../src/ssh/secrets.ts', import.meta.url).href)};
    const s = await Session.connect(JSON.parse(process.env.TARGET), { policy: { knownHosts: process.env.KNOWN_HOSTS, acceptNew: false }, secrets: envSecrets({}) });
    console.log((await s.exec('hostname')).stdout.trim());
    process.once('SIGHUP', () => s.close());
  `], { env: { ...process.env, TARGET: JSON.stringify(t), KNOWN_HOSTS: knownHosts }, stdio: ['ignore', 'pipe', 'inherit'] });
  const ended = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const said = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', (code) => reject(new Error(`the connecting process ended (${code}) before it connected`)));
    });
    assert.equal(said, 'pi');
    lab.hang('pi');
    child.kill('SIGHUP');
    const code = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r('still running'), 8000))]);
    assert.equal(code, 0, 'the process must end within 8 s once its session is closed, though the node never answers the close');
  } finally {
    child.kill('SIGKILL');
    lab.resume('pi');
  }
});
