// Waiting on a cluster: until the API server lists a node Ready, and until the
// cluster's API address answers. Each condition is read again after a pause
// that starts short (base/wait.ts), so a wait that is over at once costs one read.
import type { ClusterSpec } from '../inventory/model.ts';
import { pollPause } from '../base/wait.ts';
import { SshError, type Session } from '../ssh/session.ts';
import { readApiNodes } from './cluster.ts';
import { probeApiAddress } from './kube-vip.ts';

type NodeRead = Awaited<ReturnType<typeof readApiNodes>>;

/**
 * Node-list reads on one server shared by the waits that ask at the same
 * time (agents joining side by side): each wait gets a read begun after it
 * asked, and the waits that ask while one is under way share the next one.
 */
export class SharedNodeReads {
  private running?: Promise<NodeRead>;
  private queued?: Promise<NodeRead>;
  private readonly server: () => Session;
  constructor(server: () => Session) {
    this.server = server;
  }

  next(): Promise<NodeRead> {
    if (!this.running) return this.begin();
    const after = () => {
      this.queued = undefined;
      return this.begin();
    };
    return (this.queued ??= this.running.then(after, after));
  }

  private begin(): Promise<NodeRead> {
    const read: Promise<NodeRead> = readApiNodes(this.server(), 'wait for the nodes to be Ready').finally(() => {
      if (this.running === read) this.running = undefined;
    });
    this.running = read;
    return read;
  }
}

/**
 * Ask the first server (or its shared reads) until `name` reports Ready.
 * `missing` is called once when the API has no Node of that name (a node
 * deleted from the API while its k3s runs); what it returns is added to the
 * failure's words.
 */
export async function waitReady(first: Session | SharedNodeReads, name: string, timeoutMs: number, missing?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reads = 0;
  let last = 'not registered yet';
  let hint = '';
  let repaired = !missing;
  for (;;) {
    const read = await (first instanceof SharedNodeReads ? first.next() : readApiNodes(first, `wait for ${name} to be Ready`));
    if ('error' in read) last = read.error;
    else {
      const node = read.nodes.find((n) => n.name === name);
      if (node?.ready) return;
      last = node ? node.why! : 'not registered yet';
      if (!node && !repaired) {
        repaired = true;
        hint = await missing!();
      }
    }
    if (Date.now() > deadline) throw new SshError(name, 'wait for Ready', `not Ready after ${Math.round(timeoutMs / 1000)} s: ${last}${hint}`);
    await pollPause(++reads);
  }
}

/** Ask the API at the cluster's address until it answers (see probeApiAddress). */
export async function waitApiEndpoint(first: Session, cluster: ClusterSpec, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reads = 0;
  for (;;) {
    const probe = await probeApiAddress(first, cluster);
    if (probe.answers) return;
    if (Date.now() > deadline) {
      const who = cluster.kubeVip?.address ? `kube-vip (kube-system/kube-vip-ds) has not taken ${cluster.kubeVip.address}` : `nothing answers at ${cluster.apiEndpoint} (k3s.kubeVip.enabled is false: the site provides this address)`;
      throw new SshError(first.target.name, 'wait for the API address', `${probe.url} does not answer after ${Math.round(timeoutMs / 1000)} s: ${who}; last: ${probe.detail}. No other node joins until it does`);
    }
    await pollPause(++reads);
  }
}
