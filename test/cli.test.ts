// The command line as the owner meets it: exit codes, messages on the right
// stream, no stack traces, and the README's example job.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bramble, git, HOMELAB, homelabWithS3Backups, ROOT, SECOND, tempDir } from './helpers.ts';

test('validate accepts the reference and the second inventory', () => {
  for (const file of [HOMELAB, SECOND]) {
    const r = bramble(['validate', '-i', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /: valid \(\d cluster\(s\), \d node\(s\), \d VLAN\(s\)\)/);
  }
});

test('validate reports located errors on stderr with exit 1 and no stack trace', () => {
  const dir = tempDir();
  const bad = join(dir, 'bad.yaml');
  const text = readFileSync(HOMELAB, 'utf8').replace('address: 192.168.100.12', 'address: 192.168.100.200');
  writeFileSync(bad, text);
  const line = text.split('\n').findIndex((l) => l.includes('192.168.100.200')) + 1;
  const r = bramble(['validate', '-i', bad]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `${bad}:${line}:18: clusters[1].nodes[1].address: 192.168.100.200 is inside the DHCP pool of VLAN 100 (ServerLAN) 192.168.100.150-192.168.100.254; use a static address outside it\n`);
});

test('a missing inventory file is one clear line', () => {
  const r = bramble(['validate', '-i', '/nonexistent/inv.yaml']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, '/nonexistent/inv.yaml:1:1: (top level): cannot read the inventory: no such file\n');
});

test('usage errors exit 2 and say how to get help', () => {
  for (const args of [['frobnicate'], ['validate'], ['validate', '-i', HOMELAB, '--check'], ['render', '--bogus']]) {
    const r = bramble(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^bramble: .+\nRun "bramble --help" for usage\.\n$/);
  }
  const help = bramble(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /bramble publish/);
});

test('render --check passes on the committed tree and fails, listing files, when it drifts', () => {
  const ok = bramble(['render', '-i', HOMELAB, '--check', '--repo', ROOT]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const dir = tempDir();
  const first = bramble(['render', '-i', HOMELAB, '--repo', dir]);
  assert.equal(first.code, 0);
  // A first render into an empty folder: the seeds it just wrote are named as seeds, not counted as files of the owner's.
  assert.match(first.stdout, /^seeded \d+ file\(s\) for you to edit \([^)]*apps\/kustomization\.yaml[^)]*\): they are yours from now on, and bramble never overwrites them$/m);
  assert.doesNotMatch(first.stdout, /left as they are/);
  const second = bramble(['render', '-i', HOMELAB, '--repo', dir]);
  assert.match(second.stdout, /^left as they are: \d+ file\(s\) of yours under /m);
  assert.doesNotMatch(second.stdout, /^seeded/m);
  const inv = join(dir, 'inv.yaml');
  writeFileSync(inv, readFileSync(HOMELAB, 'utf8').replace('replicas: 3', 'replicas: 2'));
  const before = readFileSync(join(dir, 'clusters/production/infrastructure/controllers/longhorn.yaml'), 'utf8');
  const r = bramble(['render', '-i', inv, '--repo', dir, '--check']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /out of date in .*:\n {2}M clusters\/production\/infrastructure\/controllers\/longhorn\.yaml\n$/);
  assert.equal(readFileSync(join(dir, 'clusters/production/infrastructure/controllers/longhorn.yaml'), 'utf8'), before, '--check writes nothing');
});

test('render refuses over a hand-edited file and names it', () => {
  const dir = tempDir();
  assert.equal(bramble(['render', '-i', HOMELAB, '--repo', dir]).code, 0);
  const f = join(dir, 'clusters/staging/flux-system/gotk-sync.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace('interval: 1m0s', 'interval: 5m0s'));
  const inv = join(dir, 'inv.yaml');
  writeFileSync(inv, readFileSync(HOMELAB, 'utf8').replace('retention: 7d', 'retention: 3d'));
  const r = bramble(['render', '-i', inv, '--repo', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /render refused; nothing was written:\n {2}! clusters\/staging\/flux-system\/gotk-sync\.yaml was edited by hand/);
  assert.doesNotMatch(readFileSync(join(dir, 'clusters/staging/infrastructure/controllers/kube-prometheus-stack.yaml'), 'utf8'), /"3d"/);
});

test('the Quick start example job renders, validates, commits and pushes to a local bare remote', () => {
  const dir = tempDir();
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'example.sh'), dir], { encoding: 'utf8', env: { ...process.env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}` } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /homelab\.yaml: valid/);
  assert.match(r.stdout, /The rendered repository: +.*work\/clusters/);
  const remote = join(dir, 'remote.git');
  assert.equal(git(remote, 'rev-list', '--count', 'main'), '1');
  // What was pushed is what is committed in this repository's clusters/.
  const pushed = git(remote, 'show', 'main:clusters/production/infrastructure/controllers/longhorn.yaml');
  assert.equal(pushed + '\n', readFileSync(join(ROOT, 'clusters/production/infrastructure/controllers/longhorn.yaml'), 'utf8'));
});

/**
 * A copy of the built tree (package.json's files, the unbundled modules tsc
 * made, the build scripts) in a folder of its own, to break and rebuild.
 */
async function builtCopy() {
  const { cpSync, symlinkSync } = await import('node:fs');
  const dir = tempDir();
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  // As package.json's files ship it: validate renders the platform in memory to size it.
  cpSync(join(ROOT, 'templates'), join(dir, 'templates'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return {
    dir,
    /** The built command: the bundle, or with `unbundled` the modules as tsc left them. */
    run: (args: string[], unbundled = false) => spawnSync(process.execPath, [join(dir, 'dist', ...(unbundled ? ['bootstrap.js'] : ['bin', 'bramble.js'])), ...args], { encoding: 'utf8' }),
    /** The bundle step of `npm run build`, again. */
    bundle: () => spawnSync(process.execPath, [join(dir, 'dist', 'scripts', 'bundle.js')], { encoding: 'utf8' }),
  };
}

test('a built bramble whose generated validator is missing or broken says so in one line, and does not quietly compile one', async () => {
  const { rmSync } = await import('node:fs');
  const copy = await builtCopy();
  const generated = join(copy.dir, 'dist', 'src', 'inventory', 'validator.generated.js');
  const kept = readFileSync(generated, 'utf8');
  const message = (why: string) => `bramble's inventory validator (validator.generated.js, made by npm run build) is missing or broken: ${why}. Rebuild bramble (npm run build) or reinstall it.\n`;
  for (const unbundled of [true, false]) assert.equal(copy.run(['validate', '-i', HOMELAB], unbundled).status, 0, 'the copy works as built');
  writeFileSync(generated, 'export default 42;\n');
  assert.equal(copy.run(['validate', '-i', HOMELAB], true).stderr, message('it exports no validator function'));
  // The bundle carries what it was built with: a broken one bundled is reported the same way.
  assert.equal(copy.bundle().status, 0);
  const broken = copy.run(['validate', '-i', HOMELAB]);
  assert.equal(broken.status, 1);
  assert.equal(broken.stderr, message('it exports no validator function'));
  rmSync(generated);
  const missing = copy.run(['validate', '-i', HOMELAB], true);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^bramble's inventory validator \(validator\.generated\.js, made by npm run build\) is missing or broken: Cannot find module .*validator\.generated\.js.*\. Rebuild bramble \(npm run build\) or reinstall it\.\n$/);
  // A bundle cannot be made without it: the build stops and names the file.
  const refused = copy.bundle();
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /^bundle: \.\/validator\.generated\.js not found beside the built modules that import them; run the whole build \(npm run build\)\n$/);
  writeFileSync(generated, kept);

  // The Plan and RecurringJob models' validators, which render needs: the message comes when a render validates.
  // The reference site with backups, so that Longhorn's RecurringJobs are rendered beside the Plans.
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption');
  const withBackups = join(copy.dir, 'backups.yaml');
  writeFileSync(withBackups, await homelabWithS3Backups(await identityToRecipient(await generateX25519Identity())));
  const render = (unbundled = true) => copy.run(['render', '-i', withBackups, '--repo', join(copy.dir, 'out')], unbundled);
  for (const model of ['plan-model', 'longhorn-model']) {
    const file = join(copy.dir, 'dist', 'src', 'render', `${model}.generated.js`);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, 'export default 42;\n');
    const r = render();
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`bramble's validator ${model}.generated.js (made by npm run build) is missing or broken: it exports no validator function. Rebuild bramble (npm run build) or reinstall it.`), r.stderr);
    rmSync(file);
    assert.match(render().stderr, new RegExp(`bramble's validator ${model}\\.generated\\.js \\(made by npm run build\\) is missing or broken: Cannot find module`));
    const unbuilt = copy.bundle();
    assert.notEqual(unbuilt.status, 0);
    assert.match(unbuilt.stderr, new RegExp(`Could not resolve "\\./${model}\\.generated\\.js"`));
    assert.doesNotMatch(unbuilt.stderr, /\n +at /, 'no stack trace');
    writeFileSync(file, text);
  }
  assert.equal(render().status, 0);
  assert.equal(copy.bundle().status, 0);
  const good = render(false);
  assert.equal(good.status, 0, good.stdout + good.stderr);
});

test('the bundle step refuses an import() of a CommonJS package, which in a bundle would lose its named exports', async () => {
  const copy = await builtCopy();
  // What src/run/steps.ts once did with yaml: fine under Node, undefined names in the bundle.
  writeFileSync(join(copy.dir, 'dist', 'src', 'cli.js'), readFileSync(join(copy.dir, 'dist', 'src', 'cli.js'), 'utf8') + "export const later = async () => (await import('yaml')).parseAllDocuments;\n");
  const r = copy.bundle();
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /^bundle: import\(\) of CommonJS \S*node_modules\/yaml\/dist\/index\.js: import it statically instead\n$/);
});

test("the bundle step refuses to leave a package to Node's loader that an install would not bring (not in package.json's dependencies)", async () => {
  const copy = await builtCopy();
  const pkgFile = join(copy.dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  // What the bundle carries needs no install: every other package is a devDependency.
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['re2-wasm', 'ssh2']);
  assert.equal(copy.bundle().status, 0);
  delete pkg.dependencies['re2-wasm'];
  writeFileSync(pkgFile, JSON.stringify(pkg));
  const r = copy.bundle();
  assert.equal(r.status, 1, r.stdout);
  assert.equal(r.stderr, "bundle: re2-wasm left to Node's loader but not in package.json's dependencies: an installed bramble would not find it\n");
});

test('a built bramble renders with the templates compiled at build time, and compiles again a template changed since', async () => {
  const copy = await builtCopy();
  const comment = "# The owner's workloads, applied once the platform is healthy.";
  const render = () => copy.run(['render', '-i', HOMELAB, '--repo', join(copy.dir, 'out')]);
  const apps = () => readFileSync(join(copy.dir, 'out', 'clusters', 'staging', 'apps.yaml'), 'utf8');
  // The compiled copy is what runs: a change made to it (and to it only) shows in the output of the bundle made from it.
  const built = join(copy.dir, 'dist', 'src', 'render', 'templates.generated.js');
  const text = readFileSync(built, 'utf8');
  assert.ok(text.includes(comment));
  writeFileSync(built, text.replace(comment, '# CHANGED IN THE BUILD ONLY.'));
  assert.equal(copy.bundle().status, 0);
  const first = render();
  assert.equal(first.status, 0, first.stdout + first.stderr);
  assert.match(apps(), /# CHANGED IN THE BUILD ONLY\./);
  // The template's text no longer matches what was compiled: it is compiled from the file.
  const source = join(copy.dir, 'templates', 'cluster', 'apps.yaml.hbs');
  writeFileSync(source, readFileSync(source, 'utf8').replace(comment, '# EDITED AFTER THE BUILD.'));
  const second = render();
  assert.equal(second.status, 0, second.stdout + second.stderr);
  assert.match(apps(), /# EDITED AFTER THE BUILD\./);
  assert.doesNotMatch(apps(), /CHANGED IN THE BUILD/);
});
