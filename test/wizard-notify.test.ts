// The wizard's notification question: the target is typed hidden, checked as
// Flux's Provider type needs it, and written only after the owner says "write",
// encrypted with the cluster's age key into the work tree. A cluster without a
// key gets one, its private key into the owner's keys file before the
// inventory names it. The URL reaches no output and not the inventory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { identityToRecipient } from 'age-encryption';
import { decryptSops as independent } from 'sops-age';
import { parseDocument } from 'yaml';
import { parseInventory } from '../src/inventory/load.ts';
import { runWizard, type Ask } from '../src/wizard/run.ts';
import { HOMELAB, tempDir, sopsCheck } from './helpers.ts';

const URL_ = 'https://discord.com/api/webhooks/112233445566778899/Zq3-secret-token_abcdefghijklmnop';
const FILE = 'clusters/production/secrets/monitoring-notify.sops.yaml';

interface Script {
  /** Answers by prompt: a choice, yes/no, or text (for text and secret prompts); unlisted prompts take the default. */
  answers: Array<[RegExp, string | boolean]>;
}

/** Drive the wizard over a copy of the reference inventory; record every prompt, rejection and line of output. */
async function wizard(work: string, script: Script, file = join(work, 'homelab.yaml')) {
  if (!existsSync(file)) copyFileSync(HOMELAB, file);
  const prompts: string[] = [];
  const rejected: string[] = [];
  const out: string[] = [];
  const pending = [...script.answers];
  const take = (message: string) => {
    prompts.push(message);
    const i = pending.findIndex(([re]) => re.test(message));
    return i < 0 ? undefined : pending.splice(i, 1)[0]![1];
  };
  const ask: Ask = {
    async text(message, o = {}) {
      // As inquirer does: an answer the check refuses is typed again.
      for (;;) {
        const a = take(message);
        if (typeof a !== 'string') return o.default ?? '';
        const why = a === '' ? undefined : o.check?.(a);
        if (!why) return a;
        rejected.push(why);
      }
    },
    async choose(message, choices, def) {
      const a = take(message);
      if (typeof a === 'string') {
        assert.ok((choices as readonly string[]).includes(a), `${a} is among ${choices.join(', ')}`);
        return a as (typeof choices)[number];
      }
      return def ?? choices[0]!;
    },
    async yes(message, def) {
      const a = take(message);
      return typeof a === 'boolean' ? a : def;
    },
    async secret(message, check) {
      // Every scripted answer for this prompt in turn, until the check takes one, as a person retyping would.
      for (;;) {
        const a = take(message);
        assert.equal(typeof a, 'string', `no scripted answer for the secret prompt: ${message}`);
        const why = check(a as string);
        if (!why) return a as string;
        rejected.push(why);
      }
    },
  };
  const code = await runWizard(file, { interactive: true, ask, repo: join(work, 'repo'), io: { out: (l) => out.push(l), err: (l) => out.push(l) } });
  return { code, prompts, rejected, out: out.join('\n'), file, unused: pending.map(([re]) => String(re)) };
}

/** The owner's keys file in `work`, and a work tree there (the inventory's remote is GitHub, which tests never reach). */
function env(work: string, repo = true) {
  process.env.SOPS_AGE_KEY_FILE = join(work, 'keys.txt');
  delete process.env.SOPS_AGE_KEY;
  if (repo) execFileSync('git', ['init', '-q', join(work, 'repo')]);
}

test('a Discord target: a new age key, then the URL checked, kept out of the inventory and the output, and encrypted into the repository', async () => {
  const work = tempDir('bramble-wizard-notify-');
  env(work);
  const r = await wizard(work, {
    answers: [
      [/^production: where do/, 'discord'],
      [/^production: Discord webhook URL/, 'http://discord.com/api/webhooks/1/x'],
      [/^production: Discord webhook URL/, 'https://example.com/hook'],
      [/^production: Discord webhook URL/, URL_],
    ],
  });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.unused, []);
  assert.deepEqual(r.rejected, ['expected an https:// URL', 'expected a Discord webhook URL: https://discord.com/api/webhooks/ID/TOKEN (channel settings, Integrations, Webhooks)']);
  assert.ok(r.prompts.some((p) => /^staging: where do/.test(p)), 'every cluster is asked');
  assert.ok(r.prompts.some((p) => /^production: make its age key now\? \(the private key goes into .*keys\.txt/.test(p)));

  // The key: private part in the keys file (0600), public part in the inventory.
  const keys = readFileSync(join(work, 'keys.txt'), 'utf8');
  assert.equal((statSync(join(work, 'keys.txt')).mode & 0o777).toString(8), '600');
  const identity = keys.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  assert.match(keys, /# bramble: cluster production of site tinyhome\n/);
  const text = readFileSync(r.file, 'utf8');
  const inv = parseInventory(text, r.file);
  const production = inv.clusters.find((c) => c.name === 'production')!;
  assert.equal(production.sops?.recipient, await identityToRecipient(identity));
  assert.deepEqual(production.notifications, { type: 'discord', severity: 'error' });
  assert.equal(inv.clusters.find((c) => c.name === 'staging')!.notifications, undefined);
  // Only the two answered blocks were added to the reference; its comments stay.
  const before = readFileSync(HOMELAB, 'utf8');
  assert.ok(text.includes(before.split('\n').find((l) => l.startsWith('#'))!), 'comments are kept');

  // The URL: encrypted in the work tree, readable by an independent decryptor with the new key, and nowhere else.
  const secret = readFileSync(join(work, 'repo', FILE), 'utf8');
  assert.match(secret, /address: ENC\[AES256_GCM,/);
  assert.equal((await independent(secret, { secretKey: identity, fileType: 'yaml' })).stringData.address, URL_);
  assert.equal((sopsCheck(join(work, 'repo', FILE), [identity]) as { stringData: { address: string } }).stringData.address, URL_, 'the MAC holds for sops too');
  assert.match(readFileSync(join(work, 'repo', 'clusters/production/secrets/kustomization.yaml'), 'utf8'), /monitoring-notify\.sops\.yaml/);
  assert.ok(!text.includes(URL_) && !r.out.includes(URL_) && !r.prompts.join('\n').includes(URL_), 'the URL is in no output and not in the inventory');
  assert.match(r.out, /notifications: discord, its address to be encrypted into .*monitoring-notify\.sops\.yaml/);

  // Again: the URL in Git is offered as it is, and nothing changes.
  const again = await wizard(work, { answers: [] }, r.file);
  assert.equal(again.code, 0, again.out);
  assert.ok(again.prompts.some((p) => /^production: keep the Discord webhook URL already in clusters\/production\/secrets\/monitoring-notify\.sops\.yaml\?/.test(p)));
  assert.ok(!again.prompts.some((p) => /make its age key/.test(p)), 'the cluster has its key now');
  assert.match(again.out, /is unchanged/);
  assert.equal(readFileSync(join(work, 'repo', FILE), 'utf8'), secret);
  assert.equal(readFileSync(join(work, 'keys.txt'), 'utf8'), keys);
});

test('a Telegram target: the chat id in the inventory, the bot token encrypted; a wrong token is refused where typed', async () => {
  const work = tempDir('bramble-wizard-notify-');
  env(work);
  const token = '123456789:AAFabcdefghijklmnopqrstuvwxyz012345';
  const r = await wizard(work, {
    answers: [
      [/^staging: where do/, 'telegram'],
      [/^staging: Telegram chat id/, '-1001234567890'],
      [/^staging: which Flux events/, 'info'],
      [/^staging: Telegram bot token/, 'not-a-token'],
      [/^staging: Telegram bot token/, token],
    ],
  });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.rejected, ['expected the bot token BotFather gave, such as 123456789:AAF...']);
  const inv = parseInventory(readFileSync(r.file, 'utf8'), r.file);
  assert.deepEqual(inv.clusters.find((c) => c.name === 'staging')!.notifications, { type: 'telegram', chatId: -1001234567890, severity: 'info' });
  const identity = readFileSync(join(work, 'keys.txt'), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  const secret = readFileSync(join(work, 'repo', 'clusters/staging/secrets/monitoring-notify.sops.yaml'), 'utf8');
  assert.equal((await independent(secret, { secretKey: identity, fileType: 'yaml' })).stringData.token, token);
  assert.equal((sopsCheck(join(work, 'repo', 'clusters/staging/secrets/monitoring-notify.sops.yaml'), [identity]) as { stringData: { token: string } }).stringData.token, token);
  assert.ok(!readFileSync(r.file, 'utf8').includes(token) && !r.out.includes(token));
});

test('saying no writes nothing: no key in the keys file, no inventory change, no secret file', async () => {
  const work = tempDir('bramble-wizard-notify-');
  env(work);
  const declined = await wizard(work, { answers: [[/^production: where do/, 'slack'], [/^production: Slack webhook URL/, 'https://hooks.slack.com/services/T0/B0/xyz'], [/^Write /, false]] });
  assert.equal(declined.code, 1);
  assert.equal(readFileSync(declined.file, 'utf8'), readFileSync(HOMELAB, 'utf8'));
  assert.ok(!existsSync(join(work, 'keys.txt')), 'no key was kept');
  assert.ok(!existsSync(join(work, 'repo', 'clusters')), 'no secret was written');

  // Declining the key declines the notifications: a target nobody can encrypt is not written down.
  const nokey = await wizard(work, { answers: [[/^production: where do/, 'generic'], [/^production: make its age key now/, false]] });
  assert.equal(nokey.code, 0, nokey.out);
  assert.match(nokey.out, /no notifications for production: they need its key \(bramble secret init -c production makes one later\)/);
  assert.equal(readFileSync(nokey.file, 'utf8'), readFileSync(HOMELAB, 'utf8'));
  assert.ok(!nokey.prompts.some((p) => /webhook URL/.test(p)), 'no URL is asked for');
});

test('a cluster whose key the inventory already names keeps it; a plain-HTTP ntfy URL on the LAN is taken for a generic target; without a work tree the remote is read first, and one that cannot be read stops everything', async () => {
  const work = tempDir('bramble-wizard-notify-');
  env(work, false);
  // Nothing listens on loopback port 1: the clone publish would make fails.
  const remote = 'ssh://git@127.0.0.1:1/tinyhome/homelab-gitops.git';
  const { newClusterKey } = await import('../src/secrets/keys.ts');
  const key = await newClusterKey();
  writeFileSync(join(work, 'keys.txt'), `${key.identity}\n`, { mode: 0o600 });
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['clusters', 0, 'secrets'], doc.createNode({ ageRecipient: key.recipient }));
  doc.setIn(['git', 'url'], remote);
  const file = join(work, 'inventory.yaml');
  writeFileSync(file, doc.toString());
  const answers: Script['answers'] = [[/^staging: where do/, 'generic'], [/^staging: webhook URL/, 'http://ntfy.lan/homelab-alerts']];
  await assert.rejects(wizard(work, { answers: [...answers] }, file), /127\.0\.0\.1/);
  assert.equal(readFileSync(file, 'utf8'), doc.toString(), 'the inventory is as it was');
  assert.ok(!existsSync(join(work, 'repo')), 'no work tree, no secret');

  execFileSync('git', ['init', '-q', join(work, 'repo')]);
  const r = await wizard(work, { answers }, file);
  assert.equal(r.code, 0, r.out);
  assert.ok(!r.prompts.some((p) => /make its age key/.test(p)));
  assert.equal(readFileSync(join(work, 'keys.txt'), 'utf8'), `${key.identity}\n`, 'no second key');
  const secret = readFileSync(join(work, 'repo', 'clusters/staging/secrets/monitoring-notify.sops.yaml'), 'utf8');
  assert.equal((await independent(secret, { secretKey: key.identity, fileType: 'yaml' })).stringData.address, 'http://ntfy.lan/homelab-alerts');

});

test('the platform questions: e-mail with a login, Let\'s Encrypt refused for LAN names, scanning, and a tunnel whose token is encrypted like the other secrets', async () => {
  const work = tempDir('bramble-wizard-platform-');
  env(work);
  const TOKEN = `eyJhIjoi${'x'.repeat(60)}`;
  const SMTP = 'correct horse battery staple';
  const r = await wizard(work, {
    answers: [
      [/^production: where do/, 'email'],
      [/^production: SMTP server and port/, 'smtp.example.com'],
      [/^production: SMTP server and port/, 'smtp.example.com:587'],
      [/^production: the alerts' From address/, 'alerts@example.com'],
      [/^production: send them to/, 'owner@example.com, not-an-address'],
      [/^production: send them to/, 'owner@example.com, second@example.com'],
      [/^production: SMTP login/, 'alerts@example.com'],
      [/^production: SMTP password of alerts@example.com/, SMTP],
      [/^production: .*Change these\?/, true],
      [/^production: who signs the certificates of grafana\.production\.home\.arpa/, 'letsencrypt'],
      [/^production: scan its running images/, true],
      [/^production: public names to publish/, 'photos.home.arpa'],
      [/^production: public names to publish/, 'photos.example.com, status.example.com'],
      [/^production: a public name for Flux's GitHub webhook/, 'photos.example.com'],
      [/^production: a public name for Flux's GitHub webhook/, 'flux.example.com'],
      [/^production: Cloudflare Tunnel token/, 'short'],
      [/^production: Cloudflare Tunnel token/, TOKEN],
    ],
  });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.unused, []);
  // In the order asked: the platform, then where alerts go.
  assert.deepEqual(r.rejected, [
    'photos.home.arpa ends in .arpa, a name only the LAN knows: Cloudflare publishes names of a zone you hold there',
    'it needs a name of its own, not one of the published ones',
    'expected the token cloudflared tunnel token printed: one long base64 word',
    'expected a host and port such as smtp.example.com:587',
    'expected an e-mail address such as owner@example.com',
  ]);
  assert.match(r.out, /grafana\.production\.home\.arpa is a name only the LAN knows: Let's Encrypt cannot issue for it, so production keeps its private CA/);
  const inv = parseInventory(readFileSync(r.file, 'utf8'), r.file);
  const production = inv.clusters.find((c) => c.name === 'production')!;
  assert.deepEqual(production.notifications, { severity: 'error', email: { smarthost: 'smtp.example.com:587', from: 'alerts@example.com', to: ['owner@example.com', 'second@example.com'], username: 'alerts@example.com', requireTls: true } });
  assert.equal(production.platform.tls.issuer, 'private-ca');
  assert.ok(production.platform.scanning, 'Trivy is on');
  assert.deepEqual(production.tunnel, { hostnames: ['photos.example.com', 'status.example.com'], receiver: 'flux.example.com', version: '2025.11.1' });
  // Both secrets encrypted into the work tree with the cluster's new key, and in no output or inventory.
  const identity = readFileSync(join(work, 'keys.txt'), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  const open = (f: string) => (sopsCheck(join(work, 'repo', f), [identity]) as { stringData: Record<string, string> }).stringData;
  assert.equal(open('clusters/production/secrets/cloudflared-tunnel.sops.yaml').token, TOKEN);
  assert.equal(open('clusters/production/secrets/monitoring-notify.sops.yaml')['smtp-password'], SMTP);
  for (const s of [TOKEN, SMTP]) assert.ok(!readFileSync(r.file, 'utf8').includes(s) && !r.out.includes(s), 'no secret in the inventory or the output');
  assert.match(r.out, /published through a Cloudflare Tunnel: photos\.example\.com, status\.example\.com; Flux's webhook Receiver at flux\.example\.com/);
  // The prompts refused what validate refuses, where it was typed.
  assert.ok(r.prompts.filter((p) => /^production: public names to publish/.test(p)).length === 2);
});
