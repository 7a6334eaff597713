import { withoutNode } from '../base/errors.ts';
import type { NodeSpec } from '../inventory/model.ts';
import type { Session } from '../ssh/session.ts';
import { UsageError, type Command } from './command.ts';
import { indented, nodeOptions, runOptions, seconds, typedConfirmation } from './shared.ts';

const ACTIONS = ['remove', 'replace'] as const;

export const node: Command = {
  name: 'node',
  synopsis: 'remove|replace -i FILE -c NAME NODE [--yes]',
  summary: 'take a node out of a cluster, or join a new board in a dead one\'s place, keeping etcd quorum',
  description:
    "`remove`: cordon and drain the node, uninstall k3s on its board when it answers, delete its Node (and a server's etcd member); refused when the servers left would lose etcd quorum. `replace`: a new board with the dead one's name and address: delete the old Node (and etcd member), then join the new board. Both print their plan first and ask for the node's name (or `--yes`)",
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig', 'timeout', 'yes'],
  notes: { cluster: 'the cluster (exactly one)', timeout: "how long the drain, and the new board's Ready wait, may take (default 300)", yes: 'no confirmation' },
  args: [
    { name: 'action', values: [...ACTIONS], required: true },
    { name: 'node', values: [], required: true },
  ],
  async run(opts, io) {
    const [action, name] = opts.args as [string, string];
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`node takes remove or replace, not "${action}"`);
    if (!opts.cluster || opts.cluster.length !== 1) throw new UsageError(`node ${action} needs exactly one --cluster NAME`);
    const [{ loadInventory }, { selectClusters }, { Session: Ssh }, { connectServer, targetOf }, { planNodeChange, planLines, removeNode, deleteNode }, { inspectNode }, steps, { uninstallNode }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../ssh/session.ts'),
      import('../nodes/connect.ts'),
      import('../k3s/membership.ts'),
      import('../k3s/install.ts'),
      import('../run/steps.ts'),
      import('../k3s/reset.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    const [cluster] = selectClusters(inv, opts.cluster);
    const spec = cluster!.active.find((n) => n.name === name);
    if (!spec) {
      const planned = cluster!.nodes.some((n) => n.name === name);
      io.err(`bramble: ${planned ? `${name} is planned in cluster ${cluster!.name}, not installed: nothing to ${action}` : `cluster ${cluster!.name} has no node ${name}; its nodes: ${cluster!.active.map((n) => n.name).join(', ')}`}`);
      return 1;
    }
    const sessionOpts = await nodeOptions(opts, io);
    const drainTimeoutS = seconds(opts.timeout, 300) / 1000;

    // The cluster is read and changed through another server that answers.
    let via: { node: NodeSpec; session: Session } | undefined = await connectServer(cluster!, sessionOpts, name);
    let board: Session | undefined;
    let boardError: string | undefined;
    try {
      board = await Ssh.connect(targetOf(spec, cluster), { ...sessionOpts, connectTimeoutMs: 10_000 });
    } catch (e) {
      boardError = withoutNode(e);
    }
    try {
      const boardK3s = board ? (await inspectNode(board)).install : undefined;
      const plan = await planNodeChange({ action: action as 'remove' | 'replace', cluster: cluster!, node: spec, via, board, boardError, boardK3s, drainTimeoutS });
      for (const l of planLines(plan)) io.out(l);
      if (plan.refused) return 1;
      if (!(await typedConfirmation(opts.yes, io, { expected: name, prompt: `Type the node's name (${name}) to ${action} it:`, refusal: '' }))) return 1;
      const note = (l: string) => io.out(`  ${l}`);
      if (action === 'remove') {
        const out = await removeNode(via.session, board, spec, plan, drainTimeoutS, note);
        if (out) for (const l of steps.outcomeLines([out])) io.out(l);
        io.out(`${name} is out of cluster ${cluster!.name}.`);
        for (const a of plan.after) io.out(a);
        return 0;
      }
      // replace: the old registration goes, whatever the new board has goes, then it joins like any node.
      await deleteNode(via.session, plan, note);
      if (boardK3s !== 'absent') await uninstallNode(board!, spec, note);
      board!.close();
      board = undefined;
      via.session.close();
      via = undefined;
      const linked = await steps.linkCluster(cluster!, sessionOpts);
      try {
        const result = await steps.installStep(cluster!, linked, runOptions(opts), indented(io));
        for (const l of steps.outcomeLines(result.nodes)) io.out(l);
        io.out(result.ok ? `${name} joined cluster ${cluster!.name} in the old board's place.` : `cluster ${cluster!.name}: not complete; fix the failures above and run bramble install`);
        return result.ok ? 0 : 1;
      } finally {
        for (const l of linked.links) l.session.close();
      }
    } finally {
      board?.close();
      via?.session.close();
    }
  },
};
