// bramble as a user installs it: the packed tarball installed globally into a
// prefix with a current Node beside it (the README's way), run from there; and
// the entry under a Node older than package.json's engines field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, HOMELAB, ROOT, tempDir } from './helpers.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
const nodeVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'node', 'package.json'), 'utf8')) as { version: string }).version;

/** The environment of a user's shell: none of the npm run's own settings leak into the commands. */
function userEnv(path: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, PATH: path };
}

/**
 * Output goes to files, not pipes: npm's install scripts run in processes of
 * their own, and one stalled on the registry would hold a pipe open and keep
 * spawnSync waiting long after npm itself was killed at the timeout.
 */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) {
  const dir = tempDir();
  const [out, err] = [join(dir, 'stdout'), join(dir, 'stderr')];
  const fds = [openSync(out, 'w'), openSync(err, 'w')] as const;
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', fds[0], fds[1]], timeout: 240_000, killSignal: 'SIGKILL' });
  for (const fd of fds) closeSync(fd);
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') + (timedOut ? `\n${cmd} timed out after 240 s` : ''), timedOut };
}

test('the packed tarball, installed globally into a prefix beside node@24, runs as `bramble`', () => {
  const dir = tempDir();
  const prefix = join(dir, 'prefix');
  // npm itself runs on the Node this test runs on (a current one).
  const npmEnv = userEnv(`${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`);
  const packed = run('npm', ['pack', '--silent', '--pack-destination', dir], npmEnv);
  assert.equal(packed.code, 0, packed.stderr);
  const tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
  assert.ok(existsSync(tarball), tarball);
  // The README's command, pinned to the Node the checkout already has (so the cache serves it).
  const install = () => run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', `node@${nodeVersion}`, tarball], npmEnv);
  // node@24's own install script fetches its binary package; a registry that stalls once gets one more try.
  let installed = install();
  if (installed.timedOut) installed = install();
  assert.equal(installed.code, 0, installed.stderr);
  assert.doesNotMatch(installed.stderr, /EBADENGINE/);

  // The bundle carries every package but ssh2 and re2-wasm: the install brings those two (and what they need), nothing else.
  const installedModules = join(prefix, 'lib', 'node_modules', 'bramble', 'node_modules');
  const brought = existsSync(installedModules) ? readdirSync(installedModules).filter((n) => !n.startsWith('.')) : [];
  assert.ok(brought.includes('ssh2') && brought.includes('re2-wasm'), brought.join(' '));
  for (const bundled of ['yaml', 'zx', '@kubernetes-models', 'kubernetes-models', '@octokit', 'handlebars', 'listr2']) assert.ok(!brought.includes(bundled), `${bundled} is in the bundle, not installed beside it`);
  // A user's shell: the prefix first, then the system (whose node may be old).
  const shell = userEnv(`${join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`);
  const version = run('bramble', ['--version'], shell, dir);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stderr, '', 'no warnings on a call');
  assert.match(version.stdout, new RegExp(`^bramble ${pkg.version.replace(/\./g, '\\.')}\\n`));
  assert.match(version.stdout, new RegExp(`Node\\.js ${nodeVersion.replace(/\./g, '\\.')}`));
  const validate = run('bramble', ['validate', '-i', HOMELAB], shell, dir);
  assert.equal(validate.code, 0, validate.stderr);
  assert.equal(validate.stderr, '');
  assert.match(validate.stdout, /homelab\.yaml: valid \(2 cluster\(s\), 5 node\(s\), 5 VLAN\(s\)\)/);
  // The templates came along: a render from the installed copy works outside the checkout.
  const render = run('bramble', ['render', '-i', HOMELAB, '--repo', join(dir, 'repo')], shell, dir);
  assert.equal(render.code, 0, render.stderr);
  assert.ok(existsSync(join(dir, 'repo', 'clusters', 'production', 'infrastructure', 'controllers', 'longhorn.yaml')));
});

/** A Node older than the engines field: the system's when it is, else node@20 from the registry. */
function oldNode(): string {
  const [need] = /\d+\.\d+/.exec(pkg.engines.node)!;
  const older = (v: string) => {
    const [a, b] = v.replace(/^v/, '').split('.').map(Number);
    const [x, y] = need.split('.').map(Number);
    return a! < x! || (a === x && b! < y!);
  };
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    const v = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (v.status === 0 && older(v.stdout.trim())) return candidate;
  }
  const prefix = join(tempDir(), 'node20');
  const r = run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', 'node@20'], userEnv(`${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`));
  assert.equal(r.code, 0, r.stderr);
  return join(prefix, 'node_modules', '.bin', 'node');
}

test('under a Node older than the engines field the entry refuses in one line: found, needed, how to get it', () => {
  const node = oldNode();
  const found = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '');
  assert.match(pkg.engines.node, /^>=22\.13$/, 'the entry checks the same version as the engines field');
  for (const args of [['--version'], ['validate', '-i', HOMELAB]]) {
    const r = spawnSync(node, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^bramble needs Node\\.js 22\\.13 or newer; this is Node\\.js ${found.replace(/\./g, '\\.')} \\(${node.replace(/[./]/g, '\\$&')}\\)\\. Install a current one beside bramble: npm install -g --prefix ~/\\.local node@24`));
  }
});
