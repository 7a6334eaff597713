// The host key a plain SSH Git server (Gitea, Forgejo, a NAS) presents, read
// by connecting and stopping at key exchange, like ssh-keyscan. The owner
// confirms its fingerprint before Flux is told to trust it.
import ssh2 from 'ssh2';
import { BrambleError } from '../errors.ts';
import { fingerprint, hostPattern, keyType } from './known-hosts.ts';

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
  });
}
