// The owner's age keys: the file sops itself reads (SOPS_AGE_KEY_FILE, else
// $XDG_CONFIG_HOME/sops/age/keys.txt, else ~/.config/sops/age/keys.txt), and
// SOPS_AGE_KEY. bramble adds a cluster's identity there when the owner keeps
// a copy, and reads it back to hand it to the cluster and to open the
// cluster's secrets. The file is 0600 and only ever appended to.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { BrambleError } from '../base/errors.ts';

export function ageKeysFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SOPS_AGE_KEY_FILE) return env.SOPS_AGE_KEY_FILE;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'sops', 'age', 'keys.txt');
}

const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]+$/;

/** The keys file's text; empty when there is none yet. */
async function readKeysFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new BrambleError(`cannot read the age keys file ${file}: ${(e as Error).message}`);
  }
}

/** Every age identity the owner has: SOPS_AGE_KEY's, then the keys file's. */
export async function ownerIdentities(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const lines = [...(env.SOPS_AGE_KEY ?? '').split(/\r?\n/), ...(await readKeysFile(ageKeysFile(env))).split(/\r?\n/)];
  return lines.map((l) => l.trim()).filter((l) => IDENTITY.test(l));
}

/** The owner's identity whose public half is `recipient`, if the owner has it. */
export async function identityFor(recipient: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const id of await ownerIdentities(env)) if ((await identityToRecipient(id)) === recipient) return id;
  return undefined;
}

export interface ClusterKey {
  identity: string;
  recipient: string;
}

export async function newClusterKey(): Promise<ClusterKey> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** Append a cluster's identity to the keys file, in age-keygen's layout, keeping the file 0600. */
export async function keepInKeysFile(key: ClusterKey, label: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = ageKeysFile(env);
  const before = await readKeysFile(file);
  if (before.split(/\r?\n/).includes(key.identity)) return file;
  const entry = `# ${label}\n# created: ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${key.recipient}\n${key.identity}\n`;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.bramble-new`;
  await writeFile(tmp, (before && !before.endsWith('\n') ? before + '\n' : before) + entry, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return file;
}
