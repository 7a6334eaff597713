// Opening one SSH session per node, all nodes at once. A node that cannot be
// reached is reported by name; the others carry on.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import { envSecrets } from '../ssh/secrets.ts';
import { Session, SshError, type SessionOptions, type SshTarget } from '../ssh/session.ts';

export interface ConnectOptions {
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  /** A person at a terminal, or nobody (CI, scripts). */
  interactive?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  connectTimeoutMs?: number;
}

export function targetOf(node: NodeSpec): SshTarget {
  return {
    name: node.name,
    host: node.address,
    port: node.ssh.port,
    user: node.ssh.user,
    auth: node.ssh.auth,
    privateKey: node.ssh.privateKey,
    hostKey: node.hostKey,
  };
}

export async function sessionOptions(o: ConnectOptions): Promise<SessionOptions> {
  let ask: ((prompt: string) => Promise<string>) | undefined;
  let askHost: SessionOptions['policy']['ask'];
  if (o.interactive) {
    const prompts = await import('@inquirer/prompts');
    ask = (message) => prompts.password({ message, mask: true });
    askHost = (node, host, fp) => prompts.confirm({ message: `${node} (${host}) presents host key ${fp}. Trust it and add it to known_hosts?`, default: false });
  }
  return {
    policy: { knownHosts: o.knownHosts ?? join(homedir(), '.ssh', 'known_hosts'), acceptNew: o.acceptNewHostKeys ?? false, ask: askHost },
    secrets: envSecrets(o.env ?? process.env, ask),
    log: o.log,
    connectTimeoutMs: o.connectTimeoutMs,
  };
}

export type Connection = { node: NodeSpec; session: Session } | { node: NodeSpec; error: SshError };

/** Connect to the cluster's nodes that are to be installed (not the planned ones). */
export async function connectCluster(cluster: ClusterSpec, opts: SessionOptions): Promise<Connection[]> {
  return Promise.all(
    cluster.active.map(async (node): Promise<Connection> => {
      try {
        return { node, session: await Session.connect(targetOf(node), opts) };
      } catch (e) {
        return { node, error: e instanceof SshError ? e : new SshError(node.name, 'connect', (e as Error).message) };
      }
    }),
  );
}

export function closeAll(connections: Connection[]): void {
  for (const c of connections) if ('session' in c) c.session.close();
}
