// A node as SSH sees it, and where the secrets to reach it come from.

export interface SshTarget {
  /** The inventory's node name, used in every message. */
  name: string;
  host: string;
  port: number;
  user: string;
  auth: 'key' | 'agent' | 'password';
  privateKey?: string;
  /** A pinned host key fingerprint (SHA256:...) from the inventory. */
  hostKey?: string;
  /** Reach the node through this host (its own key checks and auth apply). */
  jump?: SshTarget;
}

/** Where secrets come from: never the inventory, never a command line. */
export interface Secrets {
  /** `what` names the secret; `prompt` is what to ask a person. */
  get(what: 'ssh-password' | 'sudo-password' | 'key-passphrase', prompt: string): Promise<string | undefined>;
}
