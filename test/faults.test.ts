// The real world breaking in the middle: a node losing power (and its sshd)
// during the k3s install step, a full disk while rendering, Ctrl-C while
// rendering. Each run ends with a clear message; nothing already written is
// corrupted; the next run finishes the job without repeating what was done.
// (A node that does not come back from its reboot: install.test.ts; a push
// refused or a remote that moved on: git.test.ts; GitHub 5xx and rate limits:
// github.test.ts.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { bramble, brambleAsync, CLI, HOMELAB, ROOT, SECOND, tempDir } from './helpers.ts';
import { labInventory, startLab } from './lab-helpers.ts';

const lab = await startLab([{ name: 'cut', board: 'x86', iscsi: true }]);
const work = tempDir();
const knownHosts = join(work, 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts(), { mode: 0o600 });

function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const full = join(dir, f);
    if (!f.split('/').includes('.git') && spawnSync('test', ['-f', full]).status === 0) out.set(relative(dir, full), readFileSync(full, 'utf8'));
  }
  return out;
}

test('power lost during the install step: the error names node and step; the re-run installs once and repeats nothing', { timeout: 180_000 }, async () => {
  const url = (await lab.serveInstallScript()).replace('/install.sh', '/install-delay-5.sh');
  const inv = join(work, 'cut.yaml');
  writeFileSync(inv, labInventory(lab, [{ name: 'staging', nodes: [{ node: 'cut', role: 'server' }] }], { installScriptUrl: url }));
  const args = ['install', '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '60'];
  const running = brambleAsync(args, {}, 120_000);
  // The node has fetched the (slow) install script: it is inside the step now.
  const deadline = Date.now() + 60_000;
  while (!lab.downloads.includes('/install-delay-5.sh')) {
    assert.ok(Date.now() < deadline, 'the install step started');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  await lab.powerOff('cut');
  const r = await running;
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /cut +server +FAILED at install k3s: (the connection to 198\.18\.\d+\.10 was lost|the command ended without an exit status)/);
  const config = lab.readNodeFile('cut', '/etc/rancher/k3s/config.yaml')!;
  assert.equal(parse(config)['node-name'], 'cut', 'what was written before the cut is whole');

  await lab.powerOn('cut');
  const again = await brambleAsync(args, {}, 120_000);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  // Only the step that did not finish is done again: no file rewritten, no package or module step repeated.
  // (The power cut also stopped iscsid, which the lab's boot does not start again.)
  assert.match(again.stdout, /^ {2}cut +server +installed(?: \(started iscsid\))?$/m);
  assert.equal(lab.readNodeFile('cut', '/etc/rancher/k3s/config.yaml'), config);
  const installs = (lab.readNodeFile('cut', '/var/lib/bramble-lab/k3s-install.log') ?? '').split('\n').filter(Boolean);
  assert.equal(installs.length, 1, `the install script completed once:\n${installs.join('\n')}`);
});

test('iscsid stopped on a kernel that keeps it running is started and reported, and nothing else is touched', { timeout: 120_000 }, async () => {
  const inv = join(work, 'cut.yaml');
  const args = ['install', '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '60'];
  assert.equal(lab.nodeExec('cut', 'pkill -x iscsid; sleep 0.2; ! pidof iscsid').code, 0);
  const log = (f: string) => (lab.readNodeFile('cut', `/var/lib/bramble-lab/${f}`) ?? '').split('\n').filter(Boolean);
  const before = { systemctl: log('systemctl.log').length, installs: log('k3s-install.log').length };
  const r = await brambleAsync(args, {}, 120_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ {2}cut +server +unchanged \(started iscsid\)$/m);
  assert.doesNotMatch(r.stdout, /WARNING iscsid/);
  assert.equal(lab.nodeExec('cut', 'pidof iscsid').code, 0, 'iscsid runs');
  assert.deepEqual(log('systemctl.log').slice(before.systemctl).map((l) => l.split(' ').slice(1).join(' ')), ['enable --now iscsid']);
  assert.equal(log('k3s-install.log').length, before.installs);
});

test('a full disk while rendering: the error says so, and every file is as it was', async () => {
  const disk = join(work, 'small');
  mkdirSync(disk);
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk]).status, 0);
  try {
    spawnSync('git', ['init', '-q', disk]);
    assert.equal(bramble(['render', '-i', HOMELAB, '--repo', disk]).code, 0);
    const before = filesUnder(disk);
    // Fill what is left of the disk.
    spawnSync('sh', ['-c', `dd if=/dev/zero of=${join(disk, 'filler')} bs=64k 2>/dev/null; sync`]);
    const r = bramble(['render', '-i', SECOND, '--repo', disk]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^bramble: cannot write \/\S+: no space left on device \(ENOSPC\)$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const after = filesUnder(disk);
    after.delete('filler');
    before.delete('filler');
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'no file added or left half-written');
    for (const [f, text] of before) assert.equal(after.get(f), text, f);
  } finally {
    spawnSync('umount', [disk]);
  }
});

test('Ctrl-C while rendering leaves every file whole, and the next render completes', { timeout: 120_000 }, async () => {
  const repo = join(work, 'interrupted');
  spawnSync('git', ['init', '-q', repo]);
  assert.equal(bramble(['render', '-i', HOMELAB, '--repo', repo]).code, 0);
  const old = filesUnder(repo);
  const cli = CLI;
  // Another site name: every generated file's header changes, so every file has two versions.
  const renamed = join(work, 'renamed.yaml');
  writeFileSync(renamed, readFileSync(HOMELAB, 'utf8').replace('  name: tinyhome', '  name: tinyhouse'));
  const fresh = tempDir();
  spawnSync('git', ['init', '-q', fresh]);
  assert.equal(bramble(['render', '-i', renamed, '--repo', fresh]).code, 0);
  const next = filesUnder(fresh);
  // Each run is held inside its Nth file write (half the file in its temporary
  // name) and interrupted there: the interruption is mid-write, not by chance.
  const hold = join(ROOT, 'test', 'hold-write.mjs');
  // The renamed site changes every generated file's header: a render writes each once.
  const generated = [...old.values()].filter((t) => t.startsWith('# Generated by bramble')).length;
  assert.ok(generated >= 20, `${generated} generated files`);
  const writes = [1, 2, Math.floor(generated / 2), generated - 1, generated];
  for (const [i, nth] of writes.entries()) {
    // From the old version each time, so that the renamed render has every file to write.
    if (i > 0) assert.equal(bramble(['render', '-i', HOMELAB, '--repo', repo]).code, 0);
    const marker = join(work, `held-${nth}`);
    const child = spawn(process.execPath, ['--import', hold, cli, 'render', '-i', renamed, '--repo', repo], { stdio: 'ignore', env: { ...process.env, HOLD_WRITE: `${nth}:${marker}` } });
    const exited = new Promise<number | null>((r) => child.on('exit', (c, sig) => r(sig ? 130 : c)));
    for (let t = 0; t < 300 && !existsSync(marker); t++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(marker), `render ${i} reached write ${nth}`);
    assert.match(readFileSync(marker, 'utf8'), /\.bramble-tmp$/, 'the held write is a temporary file, half written');
    child.kill('SIGINT');
    assert.notEqual(await exited, 0, 'the render was interrupted');
    for (const [f, text] of filesUnder(repo)) {
      if (f.endsWith('.bramble-tmp')) continue;
      assert.ok(text === old.get(f) || text === next.get(f), `${f} is one version or the other, never a mix`);
      assert.ok(text.length > 0, `${f} is not empty`);
    }
  }
  assert.ok([...filesUnder(repo).keys()].some((f) => f.endsWith('.bramble-tmp')), 'the interrupted writes left their temporary files');
  assert.equal(bramble(['render', '-i', HOMELAB, '--repo', repo]).code, 0);
  const final = filesUnder(repo);
  assert.deepEqual([...final.keys()].filter((f) => f.endsWith('.bramble-tmp')), [], 'leftovers of interrupted writes are cleared');
  assert.deepEqual(final, old, 'the next render completes the job');
});

test('Ctrl-C while the kubeconfig is written leaves it whole: the old one or the merged one', { timeout: 60_000 }, async () => {
  const file = join(work, 'kube', 'config');
  mkdirSync(join(work, 'kube'), { recursive: true });
  const k3s = (n: number) => `apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster: { server: "https://127.0.0.1:6443", certificate-authority-data: ${'Q'.repeat(4000 + n)} }\nusers:\n- name: default\n  user: { client-key-data: ${'K'.repeat(4000 + n)} }\ncontexts:\n- name: default\n  context: { cluster: default, user: default }\n`;
  // An owner's kubeconfig with another cluster in it, which must survive.
  writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters:\n- name: work\n  cluster: { server: "https://10.0.0.1:6443" }\nusers: []\ncontexts: []\ncurrent-context: work\n', { mode: 0o600 });
  const writer = join(work, 'write-kubeconfig.ts');
  // The same function install uses, over and over, until the signal comes.
  // It says when its first write is done (a marker file), so the signal always lands among writes, however slowly a loaded machine starts it.
  const started = join(work, 'writer-started');
  writeFileSync(writer, `import { writeFileSync } from 'node:fs';\nimport { writeKubeconfig } from ${JSON.stringify(join(ROOT, 'src', 'k3s', 'kubeconfig.ts'))};\nfor (let i = 0; ; i++) {\n  await writeKubeconfig(${JSON.stringify(file)}, ${JSON.stringify(k3s(0))}.replace('Q', 'Q'.repeat(i % 50)), 'staging', 'https://198.18.0.10:6443');\n  if (i === 0) writeFileSync(${JSON.stringify(started)}, '');\n}\n`);
  let merged = 0;
  for (let i = 0; i < 12; i++) {
    rmSync(started, { force: true });
    const child = spawn(process.execPath, [writer], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    let gone = false;
    child.on('exit', () => (gone = true));
    // A writer that dies before its first write (a moved module, say) fails here with its own words, not as a timeout.
    for (let w = 0; w < 600 && !existsSync(started) && !gone; w++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(started), `the writer made its first write: ${stderr}`);
    await new Promise((r) => setTimeout(r, (i * 53) % 300));
    child.kill('SIGINT');
    if (!gone) await new Promise((r) => child.on('exit', r));
    const cfg = parse(readFileSync(file, 'utf8')) as { clusters: Array<{ name: string }> };
    assert.ok(cfg.clusters.some((c) => c.name === 'work'), "the owner's cluster is always there");
    assert.ok(cfg.clusters.length === 1 || cfg.clusters.some((c) => c.name === 'staging'), 'the file is one whole version');
    if (cfg.clusters.some((c) => c.name === 'staging')) merged++;
  }
  assert.ok(merged > 0, 'the writes happened before the signals');
  assert.equal(readdirSync(join(work, 'kube')).filter((f) => f.endsWith('.bramble-tmp') === false).length, 1);
});
