// OpenSSH known_hosts: which keys a host is known by. Read as OpenSSH writes
// it (plain or hashed host names, [host]:port for other ports, markers), and
// appended to the way `ssh` does after a key is accepted.
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** OpenSSH's SHA256 fingerprint of a public key blob: "SHA256:base64-without-padding". */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The key type inside an SSH public key blob (its first length-prefixed string). */
export function keyType(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('latin1');
}

/** How known_hosts names a host: plain for port 22, [host]:port otherwise. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

interface Entry {
  names: string;
  type: string;
  key: Buffer;
  marker?: string;
}

/**
 * An OpenSSH host pattern as a regular expression: `*` and `?` are the only
 * wildcards; everything else, `[` and `]` of a `[host]:port` name included,
 * stands for itself.
 */
function patternRegex(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'i');
}

function matchesName(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let hit = false;
  for (const raw of field.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (patternRegex(pattern).test(name)) {
      if (negated) return false;
      hit = true;
    }
  }
  return hit;
}

function parse(text: string): Entry[] {
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const parts = t.split(/\s+/);
    const marker = parts[0]!.startsWith('@') ? parts.shift() : undefined;
    if (parts.length < 3) continue;
    out.push({ marker, names: parts[0]!, type: parts[1]!, key: Buffer.from(parts[2]!, 'base64') });
  }
  return out;
}

/** A key known_hosts holds for a host, as the owner can compare it. */
export interface RecordedKey {
  type: string;
  fingerprint: string;
}

export type HostKeyStatus =
  | { status: 'known' }
  | { status: 'unknown' }
  /** A key of the presented type is on record, and it is another key: a mismatch. */
  | { status: 'changed'; expected: string[] }
  /** Only keys of other types are on record: not the same host key, never accepted silently. */
  | { status: 'other-type'; recorded: RecordedKey[] }
  | { status: 'revoked' };

export async function readKnownHosts(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/**
 * Look a presented key up the way OpenSSH does: a key of the same type on
 * record must be this key, or the host has changed; keys of other types on
 * record make the presented key one to confirm explicitly.
 */
export function checkHostKey(text: string, host: string, port: number, key: Buffer): HostKeyStatus {
  const name = hostPattern(host, port);
  const type = keyType(key);
  const mine = parse(text).filter((e) => matchesName(e.names, name));
  if (mine.some((e) => e.marker === '@revoked' && e.key.equals(key))) return { status: 'revoked' };
  const plain = mine.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.type === type && e.key.equals(key))) return { status: 'known' };
  const sameType = plain.filter((e) => e.type === type);
  if (sameType.length > 0) return { status: 'changed', expected: sameType.map((e) => fingerprint(e.key)) };
  if (plain.length > 0) return { status: 'other-type', recorded: plain.map((e) => ({ type: e.type, fingerprint: fingerprint(e.key) })) };
  return { status: 'unknown' };
}

/** Record an accepted key, creating the file (0600) and its folder (0700) when needed. */
export async function addKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, `${hostPattern(host, port)} ${keyType(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
}
