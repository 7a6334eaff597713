// Waiting on a cluster: until the API server lists a node Ready, and until the
// cluster's API address answers. Each condition is read again after a pause
// that starts short (base/wait.ts), so a wait that is over at once costs one read.
import type { ClusterSpec } from '../inventory/model.ts';
import { pauseMs, pollPause } from '../base/wait.ts';
import { SshError, type Session } from '../ssh/session.ts';
import { readApiNodes } from './cluster.ts';
import { probeApiAddress } from './kube-vip.ts';

type NodeRead = Awaited<ReturnType<typeof readApiNodes>>;

/**
 * Node-list reads on one server shared by the waits that ask at the same
 * time (agents joining side by side). Each wait gets a read begun after it
 * asked, at the time it names or sooner: the next read begins when the
 * soonest of the waiting asks is due and no read is under way, and answers
 * every wait then waiting. Waits that have read together ask together after
 * that, so many waits cost the reads of the one with the shortest pause,
 * not one each (13 agents each reading once a second kept a Pi's API server
 * busy without a pause).
 */
export class SharedNodeReads {
  private running?: Promise<NodeRead>;
  private waiting: Array<{ at: number; take: (read: Promise<NodeRead>) => void }> = [];
  private timer?: NodeJS.Timeout;
  private readonly server: () => Session;
  constructor(server: () => Session) {
    this.server = server;
  }

  /** A read begun after this call, and not before `at` (ms since the epoch) unless another wait's ask starts it sooner. */
  next(at = 0): Promise<NodeRead> {
    return new Promise<NodeRead>((take) => {
      this.waiting.push({ at, take });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.waiting.length === 0) return;
    clearTimeout(this.timer);
    const due = Math.min(...this.waiting.map((w) => w.at)) - Date.now();
    if (due > 0) this.timer = setTimeout(() => this.begin(), due);
    else this.begin();
  }

  private begin(): void {
    this.timer = undefined;
    const answered = this.waiting;
    this.waiting = [];
    // Begun from a timer too: whatever fails here reaches the waits, never the event loop.
    const read = Promise.resolve().then(() => readApiNodes(this.server(), 'wait for the nodes to be Ready'));
    this.running = read;
    for (const w of answered) w.take(read);
    const after = () => {
      this.running = undefined;
      this.schedule();
    };
    read.then(after, after);
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
  let at = 0;
  for (;;) {
    const read = await (first instanceof SharedNodeReads ? first.next(at) : readApiNodes(first, `wait for ${name} to be Ready`));
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
    // A shared reader keeps the pause itself: it may answer sooner, with a read another wait asked for.
    if (first instanceof SharedNodeReads) at = Date.now() + pauseMs(++reads);
    else await pollPause(++reads);
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
