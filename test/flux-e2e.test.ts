// From an inventory to "reconciled" on the lab: k3s installed by bramble, the
// repository pushed to a real SSH Git server, the deploy key added by the
// owner, Flux's manifest fetched by the node, and the Flux stand-in (inside
// the k3s stand-in) cloning the repository over SSH with that key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { generateDeployKey } from '../src/flux/secret.ts';
import { fingerprint } from '../src/ssh/known-hosts.ts';
import { brambleAsync, filesHolding, type Run } from './helpers.ts';
import { FakeGitHub, GITHUB_SSH_KEYS } from './github-standin.ts';
import { labFluxDefaults, labInventory, startGitopsLab } from './lab-helpers.ts';
import { serveFlux } from './lab-standins/flux-install.ts';

// The deploy key searched for below is made after this moment, so only files changed since can hold it.
const started = Date.now();
const { lab, scriptUrl, gitServer, repoUrl, work, knownHosts } = await startGitopsLab([{ name: 'rk', board: 'rk1' }], 'gitops.git');
function inventory(git: string[]): string {
  return labInventory(lab, [{ name: 'staging', nodes: [{ node: 'rk', role: 'server' }] }], { installScriptUrl: scriptUrl }).replace(/git:\n  url: .*\n/, ['git:', ...git.map((l) => `  ${l}`), ...labFluxDefaults(lab), ''].join('\n'));
}

const inv = join(work, 'inventory.yaml');
writeFileSync(inv, inventory([`url: ${repoUrl}`, `hostKey: "${gitServer.fingerprint}"`]));
const common = ['-i', inv, '--known-hosts', knownHosts];
const env = { ...gitServer.ownerEnv, KUBECONFIG: join(work, 'kubeconfig') };
const run = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> => brambleAsync([...args, ...common], { ...env, ...extra }, 240_000);

/** The objects the cluster's API server (the stand-in) holds, by kind and name. */
function stored(kind: string, ns: string, name: string): { spec: Record<string, unknown>; data?: Record<string, string>; status?: Record<string, unknown> } | undefined {
  const objects = join(lab.root, 'cluster', 'objects');
  for (const ca of existsSync(objects) ? readdirSync(objects) : []) {
    const f = join(objects, ca, ns, kind, `${name}.json`);
    if (existsSync(f)) return JSON.parse(readFileSync(f, 'utf8'));
  }
  return undefined;
}

const secretKey = (name = 'flux-system') => {
  const s = stored('Secret', 'flux-system', name);
  return s && Buffer.from(s.data!['identity.pub']!, 'base64').toString().trim();
};

function remoteHead(): string {
  const r = spawnSync('git', ['ls-remote', repoUrl, 'refs/heads/main'], { encoding: 'utf8', env: { ...process.env, ...gitServer.ownerEnv } });
  return r.stdout.split(/\s+/)[0]!;
}

function deployKeyFrom(out: string): string {
  const m = /\s(ssh-ed25519 \S+ flux-staging)$/m.exec(out);
  assert.ok(m, `the public key is printed for the owner:\n${out}`);
  return m[1]!;
}

/** Bytes only this private key has (the end of its base64 body). */
function privateBody(): string {
  const s = stored('Secret', 'flux-system', 'flux-system')!;
  const pem = Buffer.from(s.data!.identity!, 'base64').toString();
  return pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('').slice(-120, -40);
}

let firstKey = '';

test('apply installs k3s and pushes; a plain SSH host needs the owner to add the key, and the run says so without losing it', async () => {
  const r = await run(['apply', '--timeout', '60', '--repo', join(work, 'repo')]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  // The plan comes first: the node to install, the files to add, the Flux objects to create.
  assert.match(r.stdout, /^plan:\n {2}cluster staging \(k3s v1\.35\.6\+k3s1\):\n {4}nodes:\n {6}rk +server install k3s \(first server\)\n/);
  assert.match(r.stdout, /\n {4}24 to add, 0 to change, 0 to delete, 0 unchanged\n/);
  assert.match(r.stdout, /\n {6}objects to create: 18\n/);
  // Then progress as timestamped lines (no terminal here).
  assert.match(r.stdout, /\n✔ \[\d\d:\d\d:\d\d\] rk \(server\): installed \(/);
  assert.match(r.stdout, /\n› \[\d\d:\d\d:\d\d\] rk: installing k3s v1\.35\.6\+k3s1 as server\n/);
  assert.match(r.stdout, /staging: kubeconfig context "staging"/);
  assert.match(r.stdout, /pushed [0-9a-f]{12} to ssh:\/\/git@198\.18\.\d+\.4\//);
  assert.match(r.stdout + r.stderr, new RegExp(`Flux will trust the server's host key ${gitServer.fingerprint.replace(/[+/]/g, '\\$&')}`));
  assert.match(r.stderr, /the deploy key for cluster staging is not accepted yet\. Add it, then run again \(the key waits on the cluster; nothing is lost\):\n {2}Add this read-only deploy key for .*\n(.*\n)*? {4}ssh-ed25519 \S+ flux-staging\n/);
  firstKey = deployKeyFrom(r.stdout);
  assert.equal(secretKey(), firstKey, 'the key waits in the cluster secret, not on this machine');
  assert.equal(stored('GitRepository', 'flux-system', 'flux-system'), undefined, 'nothing is handed to Flux before the key works');
});

test('once the key is added, apply hands over and waits until every layer and release is Ready at the pushed commit', async () => {
  lab.addDeployKey(firstKey);
  const r = await run(['apply', '--timeout', '90', '--repo', join(work, 'repo')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const head = remoteHead();
  assert.match(r.stdout, /deploy key: in place \(git@198\.18\.\d+\.4 accepts it\)/);
  assert.match(r.stdout, /Flux 2\.9\.5: installed/);
  assert.ok(r.stdout.includes(`staging: Flux reconciled (main@sha1:${head})`), r.stdout);
  // The summary: nodes, the commit, Flux, the URLs.
  const summary = r.stdout.slice(r.stdout.lastIndexOf('\nsummary:\n'));
  assert.match(summary, /\n {2}cluster staging: k3s v1\.35\.6\+k3s1\n {4}rk +server unchanged\n/);
  assert.ok(summary.includes(`flux: reconciled at main@sha1:${head}`), summary);
  assert.ok(summary.includes(`git: ${repoUrl} (branch main) at ${head.slice(0, 12)}`), summary);
  assert.match(summary, /Grafana +https:\/\/grafana\.staging\.home\.arpa\//);
  for (const line of [
    `ready    GitRepository flux-system/flux-system (main@sha1:${head})`,
    `ready    Kustomization flux-system/flux-system (main@sha1:${head})`,
    'ready    Kustomization flux-system/infra-controllers',
    'ready    Kustomization flux-system/infra-configs',
    'ready    Kustomization flux-system/apps',
    'ready    HelmRelease longhorn-system/longhorn',
    'ready    HelmRelease traefik/traefik',
    'ready    HelmRelease monitoring/kube-prometheus-stack',
  ]) {
    assert.ok(r.stdout.includes(line), `${line}\n---\n${r.stdout}`);
  }
  // Progress is printed as it happens: layers wait on their dependencies first.
  assert.match(r.stdout, /waiting  Kustomization flux-system\/apps: DependencyNotReady: dependency 'flux-system\/infra-configs' is not ready/);

  // The sync objects point at this repository, branch and cluster path.
  const source = stored('GitRepository', 'flux-system', 'flux-system')!;
  assert.equal(source.spec.url, repoUrl);
  assert.deepEqual(source.spec.ref, { branch: 'main' });
  assert.deepEqual(source.spec.secretRef, { name: 'flux-system' });
  assert.equal(stored('Kustomization', 'flux-system', 'flux-system')!.spec.path, './clusters/staging');
  // Flux's first start came from k3s's auto-deploy folder, fetched by the node from the installUrl;
  // once Flux applied its own manifests from the artifact flux.yaml names, the file was taken away.
  assert.ok(lab.downloads.includes('/flux/v2.9.5/install.yaml'));
  assert.ok(lab.downloads.includes('/v2/fluxcd/flux-manifests/manifests/v2.9.5'), lab.downloads.join(' '));
  assert.match(r.stdout, /Flux now upgrades itself from Git; removed the first-start manifest \/var\/lib\/rancher\/k3s\/server\/manifests\/bramble-flux\.yaml/);
  assert.equal(lab.readNodeFile('rk', '/var/lib/rancher/k3s/server/manifests/bramble-flux.yaml'), undefined);
  assert.equal(stored('Kustomization', 'flux-system', 'flux-components')!.spec.prune, false);
  // The secret carries the Git server's host key for Flux.
  const secret = stored('Secret', 'flux-system', 'flux-system')!;
  assert.equal(Buffer.from(secret.data!.known_hosts!, 'base64').toString(), `${gitServer.address} ${gitServer.hostKey}\n`);

  const body = privateBody();
  assert.ok(!r.stdout.includes(body) && !r.stderr.includes(body), 'the private key is never printed');
  // The lab's folder holds the simulated node's disk, where the cluster keeps the key.
  // One walk: the run's work folder is under the temporary folder, so this covers it too.
  assert.ok(work.startsWith(tmpdir() + '/'), work);
  assert.deepEqual(filesHolding(tmpdir(), [body], started, [lab.root.split('/').pop()!])(body), [], 'the private key is on no temporary file of this machine');
});

test('a re-run changes nothing and is reconciled again at once', async () => {
  const r = await run(['flux', '--timeout', '60', '-v']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /deploy key: in place/);
  assert.match(r.stdout, /Flux: running, upgraded from Git \(flux-system\/flux\.yaml names 2\.9\.5\)/);
  // -v shows every remote command: the sync objects are in place (no apply), no secret is written,
  // nothing is downloaded; `flux` alone knows no commit, so it asks Flux to fetch once.
  assert.equal(r.stderr.split('\n').filter((l) => l.includes('$ k3s kubectl apply -f -')).length, 0, r.stderr);
  assert.equal(r.stderr.split('\n').filter((l) => l.includes('$ k3s kubectl annotate')).length, 1, r.stderr);
  assert.match(r.stdout, /sync objects in place; asked Flux to fetch now/);
  assert.ok(!r.stderr.includes('curl'), r.stderr);
});

test("an apply that leaves k3s alone reads Flux once: the hand-over takes what the plan read seconds before", async () => {
  const before = lab.gitConnections(lab.gateway).length;
  const r = await run(['apply', '--timeout', '60', '--repo', join(work, 'repo'), '-v']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // The deploy key is checked on one connection to the Git host, which checks the host key too: no key scan before it.
  const deployKey = fingerprint(Buffer.from(firstKey.split(' ')[1]!, 'base64'));
  const during = lab.gitConnections(lab.gateway).slice(before);
  assert.equal(during.filter((c) => c.key === deployKey).length, 1, JSON.stringify(during));
  assert.equal(during.filter((c) => c.key === undefined).length, 0, `no connection without a login: ${JSON.stringify(during)}`);
  // The lab's kernel has no iSCSI: prepare starts iscsid again, which leaves k3s alone.
  assert.match(r.stdout, /rk +server prepare only\n/);
  assert.match(r.stdout, /✔ .*rk \(server\): unchanged/);
  assert.match(r.stdout, /deploy key: in place/);
  const count = (needle: string) => r.stderr.split('\n').filter((l) => l.includes(needle)).length;
  // Each once, by the plan: Flux's manifest, its version, the deploy-key secrets (the current and a pending one, in one command) and Flux's objects.
  assert.equal(count('$ if [ -e /var/lib/rancher/k3s/server/manifests/bramble-flux.yaml ]; then echo present; head -n 1'), 1, r.stderr);
  assert.equal(count('$ k3s kubectl get deployments -n flux-system -o json'), 1, r.stderr);
  assert.equal(count('$ k3s kubectl get secret flux-system flux-system-pending -n flux-system --ignore-not-found -o json'), 1, r.stderr);
  assert.equal(count('$ k3s kubectl get secret'), 1, r.stderr);
  assert.equal(count('$ k3s kubectl get gitrepositories.source.toolkit.fluxcd.io,'), 1, r.stderr);
  // Flux upgraded itself from Git in the test before: the plan's read found the first-start file gone, so it is not looked for again.
  assert.equal(count('$ test -e /var/lib/rancher/k3s/server/manifests/bramble-flux.yaml'), 0, r.stderr);
  assert.equal(count('$ k3s kubectl apply -f -'), 0, r.stderr);
  assert.match(r.stdout, /staging: Flux reconciled \(main@sha1:/);

  // The plan reads a node without privilege in one command: preflight's facts, what of k3s is there and prepare's look.
  const p = await run(['plan', '--repo', join(work, 'repo'), '-v']);
  assert.equal(p.code, 0, p.stdout + p.stderr);
  const started = (script: string) => p.stderr.split('\n').filter((l) => l.includes(`rk: $ ${script}`)).length;
  assert.equal(started('PRETTY_NAME=;'), 1, p.stderr);
  assert.equal(started('h=; read -r h'), 0, p.stderr);
  assert.equal(started('v=; [ -x /usr/local/bin/k3s ]'), 0, p.stderr);
  assert.equal(p.stderr.split('\n').filter((l) => l.startsWith('dpkg-query ')).length, 1, 'dpkg is asked once');
  assert.match(p.stderr, /^dpkg-query .* 'open-iscsi' 'nfs-common' 'unattended-upgrades'/m);

  // The stand-in answers that one read as kubectl does: several names give a List of those found; a missing
  // one is an error unless --ignore-not-found, which prints nothing when none is found.
  const get = (names: string, flags = '') => lab.nodeExec('rk', `k3s kubectl get secret ${names} -n flux-system ${flags} -o json`);
  const names = (out: string) => (JSON.parse(out) as { kind: string; items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name);
  const both = get('flux-system flux-system-pending', '--ignore-not-found');
  assert.equal(both.code, 0, both.stderr);
  assert.deepEqual(names(both.stdout), ['flux-system']);
  const strict = get('flux-system flux-system-pending');
  assert.equal(strict.code, 1);
  assert.deepEqual(names(strict.stdout), ['flux-system']);
  assert.match(strict.stderr, /^Error from server \(NotFound\): secrets "flux-system-pending" not found$/m);
  assert.deepEqual(get('nope flux-system-pending', '--ignore-not-found'), { code: 0, stdout: '', stderr: '' });
  assert.deepEqual(get('nope', '--ignore-not-found'), { code: 0, stdout: '', stderr: '' });
});

test('status shows nodes, Flux objects with their revision, and the URLs', async () => {
  const r = await run(['status']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cluster staging \(via rk; Flux 2\.9\.5\)/);
  assert.match(r.stdout, /\n {4}rk +server Ready +v1\.35\.6\+k3s1\n/);
  assert.match(r.stdout, /HelmRelease traefik\/traefik +Ready +41\.3\.0/);
  assert.match(r.stdout, /GitRepository flux-system\/flux-system +Ready +main@sha1:[0-9a-f]{40}/);
  assert.match(r.stdout, /Grafana +https:\/\/grafana\.staging\.home\.arpa\//);
});

test('Flux upgrades itself through Git: a new version in the inventory is a commit of flux.yaml; no file goes back into the auto-deploy folder', async () => {
  await serveFlux(lab, '2.9.6');
  const before = lab.downloads.length;
  const text = readFileSync(inv, 'utf8');
  writeFileSync(inv, text.replace('    flux:\n', '    flux:\n      version: 2.9.6\n'));
  try {
    const plan = await run(['plan', '--repo', join(work, 'repo')]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /Flux: upgrade 2\.9\.5 -> 2\.9\.6 through Git \(flux-system\/flux\.yaml\)/);
    assert.match(plan.stdout, /M clusters\/staging\/flux-system\/flux\.yaml/);
    const r = await run(['apply', '--timeout', '60', '--repo', join(work, 'repo')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ready {4}Kustomization flux-system\/flux-components \(v2\.9\.6@sha256:[0-9a-f]{64}\)/);
    const fetched = lab.downloads.slice(before);
    assert.ok(fetched.includes('/v2/fluxcd/flux-manifests/manifests/v2.9.6'), fetched.join(' '));
    assert.ok(!fetched.some((p) => p.endsWith('/install.yaml')), 'no install manifest is downloaded for an upgrade');
    assert.equal(lab.readNodeFile('rk', '/var/lib/rancher/k3s/server/manifests/bramble-flux.yaml'), undefined);
    const status = await run(['status']);
    assert.match(status.stdout, /cluster staging \(via rk; Flux 2\.9\.6\)/);
    // Going back is refused before anything is written or pushed.
    writeFileSync(inv, text.replace('    flux:\n', '    flux:\n      version: 2.9.5\n'));
    const back = await run(['apply', '--timeout', '60', '--repo', join(work, 'repo')]);
    assert.equal(back.code, 1, back.stdout + back.stderr);
    assert.match(back.stderr + back.stdout, /Flux 2\.9\.6 to 2\.9\.5 is a downgrade/);
  } finally {
    writeFileSync(inv, text.replace('    flux:\n', '    flux:\n      version: 2.9.6\n'));
  }
});

test("a release that fails is reported with Flux's own message, and the exit code says so", async () => {
  const fault = join(lab.root, 'cluster', 'faults', 'HelmRelease', 'traefik', 'traefik');
  mkdirSync(join(fault, '..'), { recursive: true });
  writeFileSync(fault, 'Service "traefik" is invalid: spec.type: Unsupported value: "Bogus"');
  try {
    const r = await run(['flux', '--timeout', '60']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /cluster staging: Flux reports a failure:\n {2}HelmRelease traefik\/traefik: InstallFailed: Helm install failed for release traefik\/traefik with chart traefik@41\.3\.0: Service "traefik" is invalid: spec\.type: Unsupported value: "Bogus"/);
    const status = await run(['status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /HelmRelease traefik\/traefik +Failed/);
  } finally {
    rmSync(fault);
  }
});

test('rotation on a plain host: the new key waits beside the old one until the owner adds it, then replaces it', async () => {
  const rotate = await run(['flux', '--rotate-deploy-key', '--timeout', '60']);
  assert.equal(rotate.code, 1, rotate.stdout + rotate.stderr);
  const newKey = deployKeyFrom(rotate.stdout);
  assert.notEqual(newKey, firstKey);
  assert.equal(secretKey(), firstKey, 'Flux keeps reading with the old key meanwhile');
  assert.equal(secretKey('flux-system-pending'), newKey);

  // The owner swaps the keys on the server: only the new one can read now.
  const authorized = join(lab.root, 'git', 'etc', 'authorized_keys');
  writeFileSync(authorized, readFileSync(authorized, 'utf8').split('\n').filter((l) => !l.includes(firstKey.split(' ')[1]!)).join('\n'));
  lab.addDeployKey(newKey);
  const r = await run(['flux', '--timeout', '60']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /deploy key: replaced/);
  assert.equal(secretKey(), newKey);
  assert.equal(secretKey('flux-system-pending'), undefined);
  assert.match(r.stdout, /cluster staging: reconciled/);
});

test('a stored key ssh cannot parse (an older bramble made some, ssh2#1513) is passed over and removed, not a crash', async () => {
  // Left as a waiting key: flux-system-pending holding a private key no parser takes.
  const objects = join(lab.root, 'cluster', 'objects');
  const ca = readdirSync(objects).find((c) => existsSync(join(objects, c, 'flux-system', 'Secret', 'flux-system.json')))!;
  const current = JSON.parse(readFileSync(join(objects, ca, 'flux-system', 'Secret', 'flux-system.json'), 'utf8'));
  // A real key cut short, made here: no key text is kept in the test.
  const lines = generateDeployKey('flux-staging').privateKey.trim().split('\n');
  const broken = `${[lines[0], lines[1]!.slice(0, 24), lines.at(-1)].join('\n')}\n`;
  assert.ok(ssh2.utils.parseKey(broken) instanceof Error, 'no parser takes the cut key');
  const pending = { ...current, metadata: { ...current.metadata, name: 'flux-system-pending' }, data: { ...current.data, identity: Buffer.from(broken).toString('base64') } };
  writeFileSync(join(objects, ca, 'flux-system', 'Secret', 'flux-system-pending.json'), JSON.stringify(pending));
  assert.ok(secretKey('flux-system-pending'));
  const before = secretKey();

  const r = await run(['flux', '--timeout', '60']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /Cannot parse privateKey|a bug in bramble/);
  assert.match(r.stdout, /deploy key: in place/);
  assert.equal(secretKey(), before, 'the working key stays');
  assert.equal(secretKey('flux-system-pending'), undefined, 'the broken one is gone');
});

test('an unknown Git server host key is refused unless pinned or accepted', async () => {
  const unpinned = join(work, 'unpinned.yaml');
  writeFileSync(unpinned, inventory([`url: ${repoUrl}`]));
  // known_hosts that knows the nodes only (the pinned key above was recorded in the other one).
  const nodesOnly = join(work, 'known_hosts_nodes');
  writeFileSync(nodesOnly, lab.knownHosts(), { mode: 0o600 });
  const r = await brambleAsync(['flux', '-i', unpinned, '--known-hosts', nodesOnly, '--timeout', '30'], env);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`Git server git@${gitServer.address.replace(/\./g, '\\.')}: unknown host key SHA256:\\S+ for ${gitServer.address.replace(/\./g, '\\.')}; pin it in the inventory \\(git\\.hostKey`));
});

test('GitHub: the deploy key is registered through the API and known_hosts comes from its meta API', async () => {
  const gh = new FakeGitHub('lab');
  const baseUrl = await gh.start();
  try {
    gh.repos.set('lab/gitops', { private: true, default_branch: 'main', keys: [] });
    const onGitHub = join(work, 'github.yaml');
    writeFileSync(onGitHub, inventory(['url: ssh://git@github.com/lab/gitops.git', `apiUrl: ${baseUrl}`]));
    const r = await brambleAsync(['flux', '-i', onGitHub, '--known-hosts', knownHosts, '--timeout', '10'], { ...env, GITHUB_TOKEN: gh.token });
    // The lab never reaches github.com, and the repository still says the lab server (nothing was
    // published): either way Flux's source fails, and bramble reports Flux's own words.
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /cluster staging: Flux reports a failure:\n {2}GitRepository flux-system\/flux-system: GitOperationFailed: /);
    const keys = gh.repos.get('lab/gitops')!.keys;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.title, 'bramble flux staging (clusters/staging)');
    assert.equal(keys[0]!.read_only, true);
    assert.equal(keys[0]!.key.split(' ')[1], secretKey()!.split(' ')[1]);
    const secret = stored('Secret', 'flux-system', 'flux-system')!;
    assert.equal(Buffer.from(secret.data!.known_hosts!, 'base64').toString(), GITHUB_SSH_KEYS.map((k) => `github.com ${k}\n`).join(''));
    assert.ok(!r.stdout.includes(gh.token) && !r.stderr.includes(gh.token));
    // GitHub's host keys are read before the deploy key is registered: a failed read registers none.
    const meta = gh.requests.indexOf('GET /meta');
    const register = gh.requests.findIndex((q) => /^POST \/repos\/[^/]+\/[^/]+\/keys$/.test(q));
    assert.ok(meta >= 0 && register > meta, gh.requests.join('\n'));
  } finally {
    await gh.stop();
  }
});
