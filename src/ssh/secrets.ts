// Secrets for SSH and sudo come from the environment or from a person at a
// terminal, once per run; they are never read from the inventory.
import type { Secrets } from './session.ts';

const ENV = {
  'ssh-password': 'BRAMBLE_SSH_PASSWORD',
  'sudo-password': 'BRAMBLE_SUDO_PASSWORD',
  'key-passphrase': 'BRAMBLE_SSH_KEY_PASSPHRASE',
} as const;

export function envSecrets(env: NodeJS.ProcessEnv = process.env, ask?: (prompt: string) => Promise<string>): Secrets {
  const cache = new Map<string, Promise<string | undefined>>();
  return {
    get(what, prompt) {
      let v = cache.get(what);
      if (!v) {
        const fromEnv = env[ENV[what]];
        v = fromEnv !== undefined ? Promise.resolve(fromEnv) : ask ? ask(prompt) : Promise.resolve(undefined);
        cache.set(what, v);
      }
      return v;
    },
  };
}
