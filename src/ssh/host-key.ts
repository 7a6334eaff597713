// The host key a plain SSH Git server (Gitea, Forgejo, a NAS) presents, read
// by connecting and stopping at key exchange, like ssh-keyscan. The owner
// confirms its fingerprint before Flux is told to trust it. And whether a key
// a node presents may be used: known_hosts, the inventory's pin, or a person.
import ssh2 from 'ssh2';
import { BrambleError } from '../base/errors.ts';
import { addKnownHost, checkHostKey, fingerprint, hostPattern, keyType, readKnownHosts, type RecordedKey } from './known-hosts.ts';
import type { SshTarget } from './target.ts';

export interface ScannedKey {
  /** The known_hosts line Flux needs. */
  line: string;
  fingerprint: string;
}

export function scanHostKey(host: string, port = 22, timeoutMs = 10_000): Promise<ScannedKey> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let done = false;
    client.on('error', (e: Error) => {
      if (!done) {
        done = true;
        reject(new BrambleError(`cannot read the host key of ${host}:${port}: ${e.message}`, { step: 'read the host key', cause: e }));
      }
    });
    client.connect({
      host,
      port,
      username: 'bramble-keyscan',
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        if (!done) {
          done = true;
          resolve({ line: `${hostPattern(host, port)} ${keyType(key)} ${key.toString('base64')}\n`, fingerprint: fingerprint(key) });
        }
        // Refuse: only the key was wanted, no login is attempted.
        setImmediate(() => client.end());
        return false;
      },
    });
    client.setNoDelay(true); // as in Session.connect: no wait for a delayed ACK between handshake packets
  });
}

export interface HostKeyPolicy {
  knownHosts: string;
  /** Accept and record a host key never seen before (never a changed one). */
  acceptNew: boolean;
  /**
   * Ask a person about a key not on record; absent in non-interactive runs.
   * `recorded` lists the keys of other types known_hosts holds for the host.
   */
  ask?: (node: string, host: string, fingerprint: string, recorded: RecordedKey[]) => Promise<boolean>;
}

/** undefined when the key may be used; otherwise why not. */
export async function verifyHostKey(target: SshTarget, key: Buffer, policy: HostKeyPolicy): Promise<string | undefined> {
  const fp = fingerprint(key);
  // known_hosts names a host on another port as [host]:port, and so do the messages.
  const name = hostPattern(target.host, target.port);
  const known = checkHostKey(await readKnownHosts(policy.knownHosts), target.host, target.port, key);
  if (known.status === 'known') {
    if (target.hostKey && target.hostKey !== fp) return `the inventory pins ${target.hostKey} but ${policy.knownHosts} and the host agree on ${fp}; fix the pin`;
    return undefined;
  }
  if (known.status === 'revoked') return `the host key ${fp} of ${name} is marked @revoked in ${policy.knownHosts}`;
  if (known.status === 'changed') {
    return (
      `THE HOST KEY OF ${name} HAS CHANGED: it presented ${fp}, ${policy.knownHosts} expects ${known.expected.join(' or ')}. ` +
      `Someone may be intercepting the connection, or the node was reinstalled. If you reinstalled it, remove the old key (ssh-keygen -R '${name}') and run again.`
    );
  }
  const recorded = known.status === 'other-type' ? known.recorded : [];
  if (target.hostKey) {
    // A pin is the owner's own statement of which key is right, whatever else is on record.
    if (target.hostKey !== fp) return `the inventory pins ${target.hostKey} for ${target.name}, but ${name} presented ${fp}`;
    await addKnownHost(policy.knownHosts, target.host, target.port, key);
    return undefined;
  }
  if (policy.acceptNew && recorded.length === 0) {
    await addKnownHost(policy.knownHosts, target.host, target.port, key);
    return undefined;
  }
  if (policy.ask && (await policy.ask(target.name, name, fp, recorded))) {
    await addKnownHost(policy.knownHosts, target.host, target.port, key);
    return undefined;
  }
  if (recorded.length > 0) {
    return (
      `${name} presented a ${keyType(key)} host key ${fp}, but ${policy.knownHosts} records it by another key: ${recordedText(recorded)}. ` +
      `A different key is not accepted without a check: confirm the new key on the node, then pin it (ssh.hostKey: "${fp}") or remove the old entry (ssh-keygen -R '${name}')`
    );
  }
  return `unknown host key ${fp} for ${name}; pin it in the inventory (ssh.hostKey: "${fp}") after checking it on the node, or run with --accept-new-host-keys`;
}

export function recordedText(recorded: RecordedKey[]): string {
  return recorded.map((r) => `${r.type} ${r.fingerprint}`).join(', ');
}
