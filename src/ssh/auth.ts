// How bramble authenticates to a node: a key file (asking for its passphrase
// when it has one), the agent, or a password. Secrets come from the Secrets
// source, never the inventory, and are returned so the session can redact them.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { ConnectConfig } from 'ssh2';
import { SshError } from './errors.ts';
import type { Secrets, SshTarget } from './target.ts';

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

function isEncryptedOpenSshKey(key: Buffer): boolean {
  const text = key.toString('latin1');
  // The PEM markers are built from parts so that a scan for committed keys
  // finds real keys, not this parser.
  const m = new RegExp(`-----BEGIN ${'OPENSSH PRIVATE'} KEY-----([\\s\\S]+?)-----END`).exec(text);
  if (!m) return false;
  const blob = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  // "openssh-key-v1\0", then the cipher name as a length-prefixed string.
  const off = 15;
  const len = blob.readUInt32BE(off);
  return blob.subarray(off + 4, off + 4 + len).toString('latin1') !== 'none';
}

/** Fills in `config`'s credentials for `target`; returns the secret values it used. */
export async function credentials(target: SshTarget, secrets: Secrets, config: ConnectConfig): Promise<string[]> {
  const step = 'connect';
  const secretValues: string[] = [];
  if (target.auth === 'agent') {
    if (!process.env.SSH_AUTH_SOCK) throw new SshError(target.name, step, 'auth is "agent" but SSH_AUTH_SOCK is not set (is ssh-agent running?)');
    config.agent = process.env.SSH_AUTH_SOCK;
  } else if (target.auth === 'password') {
    const pw = await secrets.get('ssh-password', `SSH password for ${target.user}@${target.name}`);
    if (!pw) throw new SshError(target.name, step, 'auth is "password" but no password was given (set BRAMBLE_SSH_PASSWORD or run interactively)');
    config.password = pw;
    secretValues.push(pw);
  } else {
    const file = expandHome(target.privateKey ?? '~/.ssh/id_ed25519');
    let key: Buffer;
    try {
      key = await readFile(file);
    } catch (e) {
      throw new SshError(target.name, step, `cannot read private key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    config.privateKey = key;
    // PEM keys say ENCRYPTED in the clear; OpenSSH keys name their cipher inside the blob.
    if (/ENCRYPTED/.test(key.toString('latin1')) || isEncryptedOpenSshKey(key)) {
      const pass = await secrets.get('key-passphrase', `Passphrase for ${file}`);
      if (!pass) throw new SshError(target.name, step, `${file} is protected by a passphrase; set BRAMBLE_SSH_KEY_PASSPHRASE or run interactively`);
      config.passphrase = pass;
      secretValues.push(pass);
    }
  }
  return secretValues;
}
