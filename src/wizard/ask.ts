// How the wizard asks: inquirer at a terminal, or anything that answers in
// tests. The questions themselves are in site.ts, clusters.ts, secrets.ts
// and platform.ts, by group; run.ts puts them in order and writes the file.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { BrambleError } from '../base/errors.ts';

export class WizardError extends BrambleError {}

/** How the wizard asks: inquirer at a terminal; anything that answers in tests. */
export interface Ask {
  /** A line of text; `check` returns why an answer is wrong. Empty answers take the default. */
  text(message: string, o?: { default?: string; check?: (v: string) => string | undefined; optional?: boolean }): Promise<string>;
  choose<T extends string>(message: string, choices: readonly T[], def?: T): Promise<T>;
  yes(message: string, def: boolean): Promise<boolean>;
  /** A secret: typed masked, never shown or offered as a default. */
  secret(message: string, check: (v: string) => string | undefined): Promise<string>;
  /** Make an SSH key pair at `file` (ssh-keygen, which asks for its passphrase itself); true when the file is there afterwards. Only at a terminal. */
  makeKey?(file: string, comment: string): Promise<boolean>;
}

export async function inquirerAsk(): Promise<Ask> {
  const { input, select, confirm, password } = await import('@inquirer/prompts');
  return {
    async text(message, o = {}) {
      const answer = await input({
        message,
        default: o.default,
        validate: (v) => {
          const t = v.trim();
          if (t === '') return o.optional ? true : 'an answer is needed';
          return o.check?.(t) ?? true;
        },
      });
      return answer.trim();
    },
    choose: (message, choices, def) => select({ message, choices: choices.map((c) => ({ value: c, name: c })), default: def }),
    yes: (message, def) => confirm({ message, default: def }),
    secret: async (message, check) => (await password({ message, mask: '*', validate: (v) => (v.trim() === '' ? 'an answer is needed' : (check(v.trim()) ?? true)) })).trim(),
    async makeKey(file, comment) {
      const { spawnSync } = await import('node:child_process');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // ssh-keygen asks for the passphrase at the terminal: bramble never sees it.
      spawnSync('ssh-keygen', ['-t', 'ed25519', '-f', file, '-C', comment], { stdio: 'inherit' });
      return existsSync(file);
    },
  };
}

