// Opening one SSH session per node, all nodes at once. A node that cannot be
// reached is reported by name; the others carry on.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import { envSecrets } from '../ssh/secrets.ts';
import { withoutNode } from '../base/errors.ts';
import { Session, SshError, type SessionOptions, type SshTarget } from '../ssh/session.ts';
import { recordedText } from '../ssh/host-key.ts';

export interface ConnectOptions {
  knownHosts?: string;
  acceptNewHostKeys?: boolean;
  /** A person at a terminal, or nobody (CI, scripts). */
  interactive?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  connectTimeoutMs?: number;
}

export function targetOf(node: NodeSpec, cluster?: ClusterSpec): SshTarget {
  const j = cluster?.jumpHost;
  return {
    name: node.name,
    host: node.address,
    port: node.ssh.port,
    user: node.ssh.user,
    auth: node.ssh.auth,
    privateKey: node.ssh.privateKey,
    hostKey: node.hostKey,
    jump: j && { name: j.address, host: j.address, port: j.ssh.port, user: j.ssh.user, auth: j.ssh.auth, privateKey: j.ssh.privateKey, hostKey: j.hostKey },
  };
}

export async function sessionOptions(o: ConnectOptions): Promise<SessionOptions> {
  let ask: ((prompt: string) => Promise<string>) | undefined;
  let askHost: SessionOptions['policy']['ask'];
  if (o.interactive) {
    const prompts = await import('@inquirer/prompts');
    ask = (message) => prompts.password({ message, mask: true });
    askHost = (node, host, fp, recorded) =>
      prompts.confirm({
        message: recorded.length
          ? `${node} (${host}) presents host key ${fp}, but known_hosts records this host by another key: ${recordedText(recorded)}. Trust the new key anyway and add it?`
          : `${node} (${host}) presents host key ${fp}. Trust it and add it to known_hosts?`,
        default: false,
      });
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
        return { node, session: await Session.connect(targetOf(node, cluster), opts) };
      } catch (e) {
        return { node, error: e instanceof SshError ? e : new SshError(node.name, 'connect', (e as Error).message) };
      }
    }),
  );
}

/** A node's session that survives reboots: reconnect() replaces it. */
export class NodeLink {
  readonly node: NodeSpec;
  session: Session;
  private readonly opts: SessionOptions;
  private readonly cluster: ClusterSpec | undefined;

  constructor(node: NodeSpec, session: Session, opts: SessionOptions, cluster?: ClusterSpec) {
    this.node = node;
    this.session = session;
    this.opts = opts;
    this.cluster = cluster;
  }

  async reconnect(timeoutMs: number, isNew?: (s: Session) => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: Error | undefined;
    while (Date.now() < deadline) {
      try {
        const session = await Session.connect(targetOf(this.node, this.cluster), { ...this.opts, connectTimeoutMs: Math.min(10_000, Math.max(1000, deadline - Date.now())) });
        // A session the caller does not take (the old boot, still shutting down) is closed and tried again.
        if (!isNew || (await isNew(session).catch(() => false))) {
          this.session = session;
          return;
        }
        session.close();
        last = new Error('it still runs the boot from before the reboot');
      } catch (e) {
        last = e as Error;
        // A changed host key after a reboot is not something to wait out.
        if (e instanceof SshError && e.step === 'host key') throw e;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new SshError(this.node.name, 'wait for reboot', `did not come back within ${Math.round(timeoutMs / 1000)} s${last ? ` (last: ${withoutNode(last)})` : ''}`);
  }
}

export function closeAll(connections: Connection[]): void {
  for (const c of connections) if ('session' in c) c.session.close();
}

/** A session on the cluster's first server that answers, trying the servers in order (all but `except`). */
export async function connectServer(cluster: ClusterSpec, opts: SessionOptions, except?: string): Promise<{ node: NodeSpec; session: Session }> {
  const errors: string[] = [];
  for (const node of cluster.servers.filter((s) => s.name !== except)) {
    try {
      return { node, session: await Session.connect(targetOf(node, cluster), opts) };
    } catch (e) {
      // A changed host key is not a reason to try another server quietly.
      if (e instanceof SshError && e.step === 'host key') throw e;
      // Each server named once, with its own cause (not the node and step again).
      errors.push(`${node.name}: ${e instanceof SshError ? e.detail : (e as Error).message}`);
    }
  }
  throw new SshError(cluster.name, 'connect', `no ${except ? 'other ' : ''}server answers: ${errors.join('; ') || 'the cluster has none'}`);
}
