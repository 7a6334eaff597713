// Starting a lab for a test file, and SSH targets and policies pointing at it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { Lab, type LabNodeSpec } from '../scripts/lab/lab.ts';
import { envSecrets } from '../src/ssh/secrets.ts';
import type { SessionOptions, SshTarget } from '../src/ssh/session.ts';
import { tempDir } from './helpers.ts';

export async function startLab(specs: LabNodeSpec[]): Promise<Lab> {
  const lab = await Lab.start(specs);
  after(() => lab.stop());
  return lab;
}

export function target(lab: Lab, name: string, over: Partial<SshTarget> = {}): SshTarget {
  const n = lab.node(name);
  return { name, host: n.address, port: n.port, user: lab.user, auth: 'key', privateKey: lab.keyFile, ...over };
}

/** Session options with a known_hosts that already trusts every lab node. */
export function trusting(lab: Lab, log?: string[], env: NodeJS.ProcessEnv = {}): SessionOptions {
  const knownHosts = join(tempDir(), 'known_hosts');
  writeFileSync(knownHosts, lab.knownHosts(), { mode: 0o600 });
  return { policy: { knownHosts, acceptNew: false }, secrets: envSecrets(env), log: log ? (l) => log.push(l) : undefined };
}
