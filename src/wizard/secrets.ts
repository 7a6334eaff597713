// The questions whose answers are secrets: where notifications go, typed
// hidden and kept for run.ts to encrypt into the work tree with the
// cluster's age key (made here when the cluster has none). Never in the
// inventory.
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { readIfExists } from '../base/files.ts';
import { ageKeysFile, newClusterKey, type ClusterKey } from '../secrets/keys.ts';
import { secretFile } from '../site/secrets.ts';
import { NOTIFY_REF, notifyKey, type SecretRef } from '../site/secrets.ts';
import type { Io } from '../base/io.ts';
import type { Ask } from './ask.ts';
import { format, type Draft } from './draft.ts';

/**
 * What the answers leave to do once the inventory is written: a new age key
 * for the owner's keys file, and notification targets to encrypt into the
 * repository. Secrets are never part of the inventory.
 */
export interface Pending {
  repo: string;
  keys: Map<string, ClusterKey>;
  notify: Map<string, { key: 'address' | 'token'; value: string }>;
  /** The other secrets answered: the tunnel's token, the Cloudflare API token, the SMTP password. */
  secrets: Array<{ cluster: string; ref: SecretRef; key: string; value: string }>;
}

const NOTIFY_TARGETS = ['none', 'discord', 'slack', 'generic', 'telegram', 'email'] as const;

/**
 * A cluster keeps secrets in Git only with its own age key: made here (its
 * private half written by run.ts into the owner's keys file) when the owner
 * agrees. False when the cluster has none and the owner declined.
 */
export async function ensureClusterKey(d: Draft, ask: Ask, io: Io, ci: number, pending: Pending, what: string): Promise<boolean> {
  const p = (...k: string[]) => ['clusters', ci, ...k];
  if (d.get(p('secrets', 'ageRecipient'))) return true;
  const name = d.get<string>(p('name'))!;
  io.out(`  ${what} is kept in Git, encrypted with ${name}'s own age key, which it has not got yet`);
  if (!(await ask.yes(`${name}: make its age key now? (the private key goes into ${ageKeysFile()}, 0600; keep a copy of that file; the public key into the inventory)`, true))) return false;
  const key = await newClusterKey();
  pending.keys.set(name, key);
  d.set(p('secrets', 'ageRecipient'), key.recipient);
  return true;
}

/** Whether the work tree already holds this cluster's Secret with this key. */
export async function hasSecret(repo: string, cluster: string, ref: SecretRef, key: string): Promise<string | undefined> {
  const file = secretFile({ name: cluster }, ref);
  const text = await readIfExists(join(repo, file));
  if (text === undefined) return undefined;
  const doc = parseDocument(text);
  return doc.hasIn(['stringData', key]) || doc.hasIn(['data', key]) ? file : undefined;
}

/** Ask for a secret unless the work tree holds it and the owner keeps it; queued for run.ts to encrypt. */
export async function askSecret(ask: Ask, pending: Pending, cluster: string, ref: SecretRef, key: string, what: string, check: (v: string) => string | undefined): Promise<void> {
  const kept = await hasSecret(pending.repo, cluster, ref, key);
  if (kept && (await ask.yes(`${cluster}: keep the ${what} already in ${kept}?`, true))) return;
  const value = await ask.secret(`${cluster}: ${what} (typed hidden; kept encrypted in Git, never in the inventory)`, check);
  pending.secrets.push({ cluster, ref, key, value });
}

/** Why a notification target is not one Flux's Provider of that type can send to. */
function notifyTargetProblem(type: (typeof NOTIFY_TARGETS)[number], v: string): string | undefined {
  if (type === 'telegram') return /^\d+:[A-Za-z0-9_-]{20,}$/.test(v) ? undefined : 'expected the bot token BotFather gave, such as 123456789:AAF...';
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return 'expected a URL such as https://...';
  }
  // ntfy or a home-automation hook on the LAN may be plain HTTP; Discord and Slack are not.
  if (url.protocol !== 'https:' && !(type === 'generic' && url.protocol === 'http:')) return `expected an https:// URL${type === 'generic' ? ' (or http://)' : ''}`;
  if (type === 'discord' && !/^\/api\/webhooks\/\d+\/[\w-]+$/.test(url.pathname)) return 'expected a Discord webhook URL: https://discord.com/api/webhooks/ID/TOKEN (channel settings, Integrations, Webhooks)';
  if (type === 'slack' && url.hostname !== 'hooks.slack.com') return 'expected a Slack incoming-webhook URL: https://hooks.slack.com/services/...';
  return undefined;
}

export async function askNotifications(d: Draft, ask: Ask, io: Io, ci: number, pending: Pending): Promise<void> {
  const p = (...k: string[]) => ['clusters', ci, ...k];
  const name = d.get<string>(p('name'))!;
  const current = d.get(p('notifications', 'type')) ?? (d.get(p('notifications', 'email')) ? 'email' : 'none');
  const type = await ask.choose(`${name}: where do Flux's failures and the site's alerts go? (generic: ntfy or any URL that takes a JSON POST; email: the alerts by SMTP, Flux's failures as an alert)`, NOTIFY_TARGETS, current as (typeof NOTIFY_TARGETS)[number]);
  if (type === 'none') {
    d.delete(p('notifications'));
    return;
  }
  if (type === 'email') return askEmail(d, ask, io, ci, pending);
  if (!(await ensureClusterKey(d, ask, io, ci, pending, `the ${type === 'telegram' ? 'bot token' : 'webhook URL'}`))) {
    io.out(`  no notifications for ${name}: they need its key (bramble secret init -c ${name} makes one later)`);
    d.delete(p('notifications'));
    return;
  }
  d.set(p('notifications', 'type'), type);
  if (type === 'telegram') {
    const chat = await ask.text(`${name}: Telegram chat id the bot writes to (a number; groups are negative)`, { default: d.get(p('notifications', 'chatId'))?.toString(), check: (v) => (/^-?\d+$/.test(v) ? undefined : 'expected a whole number such as -1001234567890') });
    d.set(p('notifications', 'chatId'), Number(chat));
  } else d.delete(p('notifications', 'chatId'));
  const severity = await ask.choose(`${name}: which Flux events? (error: failures only; info: every reconciliation too)`, ['error', 'info'] as const, d.get(p('notifications', 'severity')) ?? 'error');
  if (severity === 'info' || d.get(p('notifications', 'severity')) !== undefined) d.set(p('notifications', 'severity'), severity);
  const key = notifyKey(type);
  const what = type === 'telegram' ? 'Telegram bot token' : `${type === 'generic' ? '' : type[0]!.toUpperCase() + type.slice(1) + ' '}webhook URL`;
  const kept = await hasSecret(pending.repo, name, NOTIFY_REF, key);
  if (kept && (await ask.yes(`${name}: keep the ${what} already in ${kept}?`, true))) return;
  const value = await ask.secret(`${name}: ${what} (typed hidden; kept encrypted in Git, never in the inventory)`, (v) => notifyTargetProblem(type, v));
  pending.notify.set(name, { key, value });
}

/** Alertmanager's e-mail: the SMTP server and addresses in the inventory, the password (when it logs in) a secret. */
async function askEmail(d: Draft, ask: Ask, io: Io, ci: number, pending: Pending): Promise<void> {
  const p = (...k: string[]) => ['clusters', ci, 'notifications', 'email', ...k];
  const name = d.get<string>(['clusters', ci, 'name'])!;
  d.delete(['clusters', ci, 'notifications', 'type']);
  d.delete(['clusters', ci, 'notifications', 'chatId']);
  d.set(p('smarthost'), await ask.text(`${name}: SMTP server and port (e.g. smtp.example.com:587)`, { default: d.get(p('smarthost')), check: format('host-port') }));
  d.set(p('from'), await ask.text(`${name}: the alerts' From address`, { default: d.get(p('from')), check: format('email') }));
  const to = await ask.text(`${name}: send them to (addresses, comma-separated)`, {
    default: d.get<string[]>(p('to'))?.join(', '),
    check: (v) => v.split(',').map((x) => x.trim()).map((x) => format('email')(x)).find(Boolean),
  });
  d.set(p('to'), [...new Set(to.split(',').map((x) => x.trim()))], true);
  const user = await ask.text(`${name}: SMTP login (empty: the server takes mail without one)`, { default: d.get(p('username')), optional: true });
  if (!user) {
    d.delete(p('username'));
    return;
  }
  if (!(await ensureClusterKey(d, ask, io, ci, pending, 'the SMTP password'))) {
    io.out(`  no SMTP login for ${name}: its password needs the cluster's key (bramble secret init -c ${name} makes one later)`);
    d.delete(p('username'));
    return;
  }
  d.set(p('username'), user);
  await askSecret(ask, pending, name, NOTIFY_REF, 'smtp-password', `SMTP password of ${user}`, (v) => (v.length > 0 ? undefined : 'an answer is needed'));
}
