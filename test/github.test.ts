// The GitHub provider against the GitHub stand-in (test/github-standin.ts)
// through Octokit's baseUrl: repositories, deploy keys, and every error the
// owner may meet, explained.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, test } from 'node:test';
import { GitHub, GitHostError, repoFromUrl } from '../src/git/github.ts';
import { FakeGitHub } from './github-standin.ts';

const gh = new FakeGitHub('tinyhome');
gh.orgs.add('tinyhome-org');
const baseUrl = await gh.start();
after(() => gh.stop());

// Writes unpaced: these tests are of GitHub's answers. The pacing has its own test.
function client(o: { token?: string; log?: string[]; writeSpacingMs?: number } = {}) {
  return new GitHub({ token: o.token ?? gh.token, baseUrl, retries: 3, retryBaseMs: 5, maxRateLimitWaitSeconds: 5, writeSpacingMs: 'writeSpacingMs' in o ? o.writeSpacingMs : 0, log: (l) => o.log?.push(l) });
}

function sshPublicKey(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([Buffer.from([0, 0, 0, type.length]), type, Buffer.from([0, 0, 0, 32]), raw]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GitHostError, String(e));
    assert.match(e.message, re);
    assert.ok(!e.message.includes(gh.token), 'the token never appears in a message');
    return true;
  });
}

test('owner/repo from the URLs git accepts', () => {
  for (const url of ['ssh://git@github.com/tinyhome/homelab-gitops.git', 'git@github.com:tinyhome/homelab-gitops.git', 'https://github.com/tinyhome/homelab-gitops', 'https://x-access-token:t@ghe.example.com/tinyhome/homelab-gitops.git']) {
    assert.deepEqual(repoFromUrl(url), { owner: 'tinyhome', repo: 'homelab-gitops' }, url);
  }
  assert.equal(repoFromUrl('/srv/git/flux.git'), undefined);
});

test('a missing repository is created private for the user, then reused', async () => {
  const log: string[] = [];
  const repo = await client({ log }).ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' });
  assert.deepEqual(repo, { created: true, defaultBranch: 'main', private: true, sshUrl: 'git@github.com:tinyhome/homelab-gitops.git' });
  assert.ok(gh.requests.includes('POST /user/repos'));
  assert.deepEqual(log, ['created private repository tinyhome/homelab-gitops']);
  const again = await client().ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' });
  assert.equal(again.created, false);
});

test('an organisation repository is created in the organisation; an existing one keeps its default branch', async () => {
  await client().ensureRepository({ owner: 'tinyhome-org', repo: 'fleet' }, { private: false });
  assert.ok(gh.requests.includes('POST /orgs/tinyhome-org/repos'));
  assert.equal(gh.repos.get('tinyhome-org/fleet')!.private, false);
  gh.repos.set('tinyhome/legacy', { private: true, default_branch: 'trunk', keys: [] });
  assert.equal((await client().ensureRepository({ owner: 'tinyhome', repo: 'legacy' })).defaultBranch, 'trunk');
});

test('a name taken by a repository the token cannot see is explained', async () => {
  gh.repos.set('tinyhome/secret', { private: true, default_branch: 'main', keys: [], hidden: true });
  await rejects(client().ensureRepository({ owner: 'tinyhome', repo: 'secret' }), /^repository tinyhome\/secret: the name is taken, but this token cannot see that repository/);
});

test('the deploy key is added read-only with its title; a re-run reuses it', async () => {
  const key = sshPublicKey('flux-staging');
  const ref = { owner: 'tinyhome', repo: 'homelab-gitops' };
  assert.equal(await client().ensureDeployKey(ref, { title: 'bramble flux staging (clusters/staging)', publicKey: key }), 'added');
  const keys = gh.repos.get('tinyhome/homelab-gitops')!.keys;
  assert.equal(keys.length, 1);
  assert.equal(keys[0]!.read_only, true);
  assert.equal(keys[0]!.title, 'bramble flux staging (clusters/staging)');
  const posts = gh.requests.filter((r) => r === 'POST /repos/tinyhome/homelab-gitops/keys').length;
  assert.equal(await client().ensureDeployKey(ref, { title: 'bramble flux staging (clusters/staging)', publicKey: key }), 'exists');
  assert.equal(gh.requests.filter((r) => r === 'POST /repos/tinyhome/homelab-gitops/keys').length, posts);
});

test('a new key under the same title needs --rotate-deploy-key, then replaces the old one', async () => {
  const ref = { owner: 'tinyhome', repo: 'homelab-gitops' };
  const title = 'bramble flux staging (clusters/staging)';
  const fresh = sshPublicKey('flux-staging-2');
  await rejects(client().ensureDeployKey(ref, { title, publicKey: fresh }), /a different key already has this title; run with --rotate-deploy-key/);
  assert.equal(await client().ensureDeployKey(ref, { title, publicKey: fresh, rotate: true }), 'replaced');
  const keys = gh.repos.get('tinyhome/homelab-gitops')!.keys;
  assert.deepEqual(keys.map((k) => k.key), [fresh.split(' ').slice(0, 2).join(' ')]);
});

test('a key already in use elsewhere (422) is explained', async () => {
  const key = sshPublicKey('shared');
  await client().ensureDeployKey({ owner: 'tinyhome-org', repo: 'fleet' }, { title: 'a', publicKey: key });
  await rejects(client().ensureDeployKey({ owner: 'tinyhome', repo: 'homelab-gitops' }, { title: 'b', publicKey: key }), /GitHub says this key is already in use, on another repository or account/);
});

test('writes start at least a second apart, as GitHub asks, unless told otherwise', async () => {
  const ref = { owner: 'tinyhome', repo: 'paced' };
  // A repository and a deploy key: two writes (POST), and the gap between them.
  const gap = async (c: GitHub) => {
    gh.repos.delete('tinyhome/paced');
    const from = gh.requests.length;
    await c.ensureRepository(ref);
    await c.ensureDeployKey(ref, { title: 'paced', publicKey: sshPublicKey('paced') });
    const writes = gh.requests.flatMap((r, i) => (i >= from && r.startsWith('POST ') ? [gh.arrivals[i]!] : []));
    assert.equal(writes.length, 2, gh.requests.slice(from).join(', '));
    return writes[1]! - writes[0]!;
  };
  const paced = await gap(client({ writeSpacingMs: undefined }));
  assert.ok(paced >= 950, `Octokit's default pacing: writes ${paced} ms apart`);
  const unpaced = await gap(client());
  assert.ok(unpaced < 900, `unpaced writes ${unpaced} ms apart`);
});

test('a bad token (401) is explained without echoing it', async () => {
  await rejects(client({ token: 'ghp_' + 'y'.repeat(36) }).ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' }), /^repository tinyhome\/homelab-gitops: GitHub rejected the token \(401 Bad credentials\); check GITHUB_TOKEN or `gh auth login`$/);
});

test('5xx answers are retried with backoff, then succeed', async () => {
  gh.faults = [{ status: 502 }, { status: 503 }];
  const before = gh.requests.length;
  const repo = await client().ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' });
  assert.equal(repo.created, false);
  assert.equal(gh.requests.length - before, 3, 'two failures and the success');
});

test('5xx that does not stop ends in a clear error', async () => {
  gh.faults = Array.from({ length: 4 }, () => ({ status: 500, body: { message: 'Server Error' } }));
  await rejects(client().ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' }), /^repository tinyhome\/homelab-gitops: GitHub kept failing \(500 Server Error\) after retries; try again later$/);
  gh.faults = [];
});

test('a rate limit is waited out when it is short, and explained when it is long', async () => {
  const soon = String(Math.ceil(Date.now() / 1000) + 1);
  gh.faults = [{ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': soon }, body: { message: 'API rate limit exceeded' } }];
  const log: string[] = [];
  assert.equal((await client({ log }).ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' })).created, false);
  assert.match(log.join('\n'), /GitHub rate limit reached; waiting \d+ s before GET/);

  const late = String(Math.ceil(Date.now() / 1000) + 3600);
  gh.faults = [{ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': late }, body: { message: 'API rate limit exceeded' } }];
  await rejects(client().ensureRepository({ owner: 'tinyhome', repo: 'homelab-gitops' }), /GitHub's rate limit is used up until \d{4}-\d\d-\d\dT/);
  gh.faults = [];
});

test('a token without the right scope (403) is explained', async () => {
  gh.faults = [{ status: 403, body: { message: 'Resource not accessible by personal access token' } }];
  await rejects(client().ensureDeployKey({ owner: 'tinyhome', repo: 'homelab-gitops' }, { title: 't', publicKey: sshPublicKey('x') }), /needs the repo scope \(classic token\) or Administration and Contents write access/);
});

test('GitHub\'s SSH host keys come from its meta API as known_hosts lines', async () => {
  const { GITHUB_SSH_KEYS } = await import('./github-standin.ts');
  assert.equal(await client().knownHosts(), GITHUB_SSH_KEYS.map((k) => `github.com ${k}\n`).join(''));
});
