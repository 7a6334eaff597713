// `bramble apply`: the whole path for the selected clusters, read top to
// bottom. Connect every node once, plan with the same checks the run makes,
// show the plan, ask before anything disruptive, then run the phases under a
// progress display: k3s per cluster (nodes in their join order), the
// repository, Flux per cluster. A summary ends every run, good or bad.
import type { ClusterSpec, Inventory } from '../inventory/model.ts';
import type { ClusterOutcome, NodeOutcome } from '../k3s/outcome.ts';
import { firstServer } from '../k3s/config.ts';
import type { Connection, NodeLink } from '../nodes/connect.ts';
import { disruptiveSteps, planCluster, planIsEmpty, planLines, planRepo, type FluxRead, type Plan } from './plan.ts';
import { jsonEvent, progressList, progressMode } from './progress.ts';
import { renderInventory, type RenderOutput } from '../render/render.ts';
import { expectedObjects, type WatchResult } from '../flux/watch.ts';
import type { SessionOptions } from '../ssh/session.ts';
import { checkedFor, fluxStep, installStep, isExplained, linkCluster, outcomeLine, PhaseError, platformUrls, publishStep, reconciledRevision, repoOf, type Io, type RunOptions } from './steps.ts';
import { defaultKubeconfig, fetchKubeconfig } from '../k3s/kubeconfig.ts';
import { redactUrl } from '../git/repo.ts';
import { unexpectedLines } from '../base/errors.ts';
import { ahead } from '../base/wait.ts';
import type { ListrTask } from 'listr2';

export interface ApplyOptions extends RunOptions {
  /** Do not ask before disruptive steps. */
  yes?: boolean;
  json?: boolean;
  /** Standard input and output are a terminal: the owner can be asked. */
  tty: boolean;
  /** Standard output can draw a live tree (a terminal that reports its width). */
  tree: boolean;
  /** Ask a yes/no question (only called when tty). */
  ask: (message: string) => Promise<boolean>;
}

type Linked = { links: NodeLink[]; unreachable: NodeOutcome[] };

interface Results {
  install: Map<string, ClusterOutcome>;
  pushed?: { head: string; committed?: string };
  flux: Map<string, WatchResult | string>;
}

/** Connect, plan and print the plan; shared by `plan` and `apply`. */
export async function connectAndPlan(
  inv: Inventory,
  clusters: ClusterSpec[],
  o: RunOptions,
  sessionOpts: SessionOptions,
  /** Connections opened earlier by cluster name (apply opens them while Git is read). */
  opened?: Map<string, Promise<Connection[]>>,
): Promise<{ plan: Plan; linked: Map<string, Linked>; rendered: RenderOutput; fluxReads: Map<string, FluxRead> }> {
  const linked = new Map<string, Linked>();
  const fluxReads = new Map<string, FluxRead>();
  for (const [name, early] of opened ?? []) if (!clusters.some((c) => c.name === name)) void early.then(closeConnections);
  try {
    // The clusters are reached at once, each kept as soon as it is linked, so a failure closes every session opened.
    sessionOpts.log?.('phase: connect');
    const rendering = ahead(renderInventory(inv, { clusters: clusters.map((c) => c.name) }));
    const reached = await Promise.allSettled(clusters.map(async (c) => linked.set(c.name, await linkCluster(c, sessionOpts, opened?.get(c.name)))));
    for (const r of reached) if (r.status === 'rejected') throw r.reason;
    const rendered = await rendering;
    const { repo, remote } = repoOf(inv, o);
    sessionOpts.log?.('phase: read the nodes, Flux and the repository');
    // The nodes, Flux and the repository are read at once: none of them changes anything.
    const [planned, repoPlan] = await Promise.all([
      Promise.all(
        clusters.map((c) => {
          const expected = expectedObjects(rendered.docs.filter((d) => d.file.startsWith(`clusters/${c.name}/`)).map((d) => d.object as unknown));
          const l = linked.get(c.name)!;
          return planCluster(inv, c, l.links, l.unreachable, expected, (read) => fluxReads.set(c.name, read));
        }),
      ),
      planRepo(inv, repo, remote, rendered, o.force, checkedFor(o, repo, remote, inv.git.branch) !== undefined),
    ]);
    return { plan: { clusters: planned, repo: repoPlan }, linked, rendered, fluxReads };
  } catch (e) {
    closeLinked(linked);
    throw e;
  }
}

export function closeConnections(connections: Connection[]): void {
  for (const c of connections) if ('session' in c) c.session.close();
}

export function closeLinked(linked: Map<string, Linked>): void {
  for (const l of linked.values()) for (const link of l.links) link.session.close();
}

/** Routes a task's lines into listr: the newest line shows under the task. */
function taskIo(task: { output?: string }): Io {
  return { out: (l) => (task.output = l), err: (l) => (task.output = l) };
}

/** Per-node subtasks, driven by the install's own progress events. */
function nodeTasks(
  cluster: ClusterSpec,
  run: (io: Io, onNode: (n: string, e: 'start' | NodeOutcome) => void, onLine: (n: string, line: string) => void) => Promise<ClusterOutcome>,
): { tasks: ListrTask[]; running: Promise<ClusterOutcome> } {
  type Slot = { task?: { title?: string; output?: string }; done: Promise<NodeOutcome>; resolve: (o: NodeOutcome) => void; reject: (e: unknown) => void };
  const slots = new Map<string, Slot>();
  for (const n of cluster.active) {
    let resolve!: (o: NodeOutcome) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<NodeOutcome>((res, rej) => ((resolve = res), (reject = rej)));
    done.catch(() => undefined);
    slots.set(n.name, { done, resolve, reject });
  }
  const label = (n: { name: string; role: string }) => `${n.name} (${n.role})`;
  const running = run(
    { out: () => undefined, err: () => undefined },
    (name, e) => {
      const slot = slots.get(name);
      if (!slot) return;
      if (e === 'start') {
        if (slot.task) slot.task.title = `${label(cluster.active.find((n) => n.name === name)!)}: working`;
      } else slot.resolve(e);
    },
    // A line about a node shows under that node's task.
    (name, line) => {
      const slot = slots.get(name);
      if (slot?.task) slot.task.output = line;
    },
  );
  running.catch((e: unknown) => {
    for (const s of slots.values()) s.reject(e);
  });
  const tasks = [
    ...cluster.active.map(
      (n): ListrTask => ({
        title: label(n),
        task: async (_ctx, t) => {
          const slot = slots.get(n.name)!;
          slot.task = t;
          if (!t.title?.endsWith('working')) t.title = `${label(n)}: waiting for its turn`;
          const outcome = await slot.done;
          t.title = `${label(n)}: ${outcomeLine(outcome)}`;
          if (outcome.status === 'failed') throw new PhaseError(`${n.name}: ${outcomeLine(outcome)}`, 1);
          if (outcome.status === 'skipped') t.skip(`${label(n)}: ${outcome.detail}`);
        },
      }),
    ),
  ];
  return { tasks, running };
}

function summaryLines(clusters: ClusterSpec[], results: Results, inv: Inventory, o: RunOptions): string[] {
  const lines = ['summary:'];
  for (const c of clusters) {
    const r = results.install.get(c.name);
    lines.push(`  cluster ${c.name}: k3s ${c.k3sVersion}${r ? (r.ok ? '' : ' (not complete)') : ' (not reached)'}`);
    for (const n of r?.nodes ?? []) lines.push(`    ${n.node.padEnd(16)} ${n.role.padEnd(6)} ${n.status}`);
    if (r?.kubeconfig) lines.push(`    kubeconfig: context "${r.kubeconfig.context}" in ${r.kubeconfig.file}`);
    const f = results.flux.get(c.name);
    lines.push(`    flux: ${f === undefined ? 'not handed over' : typeof f === 'string' ? f : `reconciled at ${reconciledRevision(f)}`}`);
    for (const [what, url] of platformUrls(c)) lines.push(`    ${what.padEnd(18)} ${url}`);
  }
  const { remote } = repoOf(inv, o);
  lines.push(results.pushed ? `  git: ${redactUrl(remote)} (branch ${inv.git.branch}) at ${results.pushed.head.slice(0, 12)}${results.pushed.committed ? ' (new commit)' : ''}` : '  git: nothing pushed');
  return lines;
}

function summaryEvent(clusters: ClusterSpec[], results: Results, inv: Inventory, o: RunOptions) {
  return {
    event: 'summary' as const,
    clusters: clusters.map((c) => {
      const r = results.install.get(c.name);
      const f = results.flux.get(c.name);
      return {
        name: c.name,
        k3s: c.k3sVersion,
        complete: r?.ok ?? false,
        nodes: (r?.nodes ?? []).map((n) => ({ name: n.node, role: n.role, status: n.status, ...(n.detail ? { detail: n.detail } : {}) })),
        kubeconfig: r?.kubeconfig,
        flux: f === undefined ? 'not handed over' : typeof f === 'string' ? f : 'reconciled',
        revision: f && typeof f !== 'string' ? reconciledRevision(f) : undefined,
        urls: Object.fromEntries(platformUrls(c)),
      };
    }),
    git: { remote: redactUrl(repoOf(inv, o).remote), branch: inv.git.branch, head: results.pushed?.head, committed: results.pushed?.committed },
  };
}

export async function apply(inv: Inventory, clusters: ClusterSpec[], o: ApplyOptions, sessionOpts: SessionOptions, io: Io, opened?: Map<string, Promise<Connection[]>>): Promise<number> {
  const mode = progressMode(o.json, o.tree);
  const say = (line: string) => (mode === 'json' ? jsonEvent(io.out, { event: 'output', message: line }) : io.out(line));

  let planned: Awaited<ReturnType<typeof connectAndPlan>>;
  try {
    planned = await connectAndPlan(inv, clusters, o, sessionOpts, opened);
  } catch (e) {
    // A failure while planning is reported like any other: under --json as an event on stdout.
    if (mode !== 'json' || !isExplained(e)) throw e;
    return refuse(io, mode, e.message, e.lines, 'Nothing was changed.');
  }
  // The render the plan was made from is the one published and handed to Flux.
  const { plan, linked, rendered, fluxReads } = planned;
  const results: Results = { install: new Map(), flux: new Map() };
  try {
    if (mode === 'json') jsonEvent(io.out, { event: 'plan', plan });
    else for (const l of ['plan:', ...planLines(plan, new Map(clusters.map((c) => [c.name, c.k3sVersion]))).map((l) => `  ${l}`)]) io.out(l);

    const stuck = plan.clusters.flatMap((c) => [
      ...c.nodes.filter((n) => n.action === 'blocked' || n.action === 'unreachable').map((n) => `${c.cluster}/${n.node}: ${n.detail}`),
      ...c.preflight.filter((f) => f.verdict === 'fail').map((f) => `${c.cluster}/${f.node}: preflight ${f.check}: ${f.detail}`),
    ]);
    if (stuck.length > 0) return refuse(io, mode, `apply stopped before changing anything: ${stuck.length} problem(s) on the nodes`, stuck, 'Fix them, or mark a node `planned: true` to leave it out, and run again.');
    if (plan.repo.secrets.length > 0) return refuse(io, mode, 'apply stopped before changing anything: secrets in the repository that publish would refuse', plan.repo.secrets, 'Fix them (docs/secrets.md), and run again.');
    if (plan.repo.conflicts.length > 0 && !o.force) return refuse(io, mode, 'apply stopped before changing anything: generated files were edited by hand', plan.repo.conflicts.map((c) => `${c.path}: ${c.why}`), 'Move the edits out (see docs/layout.md), or pass --force to overwrite them.');

    const disruptive = disruptiveSteps(plan);
    if (disruptive.length > 0 && !o.yes) {
      if (!o.tty || o.json) return refuse(io, mode, 'apply would interrupt running things and asks first:', disruptive, 'Run it at a terminal to confirm, or pass --yes.');
      io.out('These steps interrupt what runs now:');
      for (const d of disruptive) io.out(`  ${d}`);
      if (!(await o.ask('Go ahead?'))) {
        io.err('not confirmed; nothing was changed');
        return 1;
      }
    }
    if (planIsEmpty(plan)) say('nothing to change; checking that everything is still in place');

    const tasks: ListrTask[] = [];
    const installs = new Map<string, Promise<ClusterOutcome>>();
    for (const c of clusters) {
      const cp = plan.clusters.find((p) => p.cluster === c.name)!;
      const l = linked.get(c.name)!;
      const kubeconfig = o.kubeconfig ?? defaultKubeconfig();
      if (cp.nodes.every((n) => n.action === 'unchanged')) {
        // Nothing to do on any node: the plan's checks were the run. Only the kubeconfig is refreshed.
        tasks.push({
          title: `${c.name}: k3s ${c.k3sVersion}`,
          task: async (_ctx, t) => {
            const first = l.links.find((x) => x.node.name === firstServer(c).name)!;
            const kc = await fetchKubeconfig(c, first.session, kubeconfig);
            results.install.set(c.name, { cluster: c.name, ok: true, kubeconfig: kc, nodes: c.active.map((n) => ({ node: n.name, role: n.role, status: 'unchanged', changes: [] })) });
            t.title = `${c.name}: k3s ${c.k3sVersion}: ${c.active.length} node(s) unchanged`;
          },
        });
        continue;
      }
      tasks.push({
        title: `${c.name}: k3s ${c.k3sVersion}`,
        task: (_ctx, t) => {
          const { tasks: nodes, running } = nodeTasks(c, (nio, onNode, onLine) => installStep(c, l, { ...o, kubeconfig }, nio, onNode, onLine));
          installs.set(c.name, running);
          return t.newListr(nodes, { concurrent: true, exitOnError: false });
        },
      });
      tasks.push({
        title: `${c.name}: kubeconfig`,
        task: async (_ctx, t) => {
          // The node tasks end when their nodes do; the install itself a moment later.
          const r = await installs.get(c.name)!;
          results.install.set(c.name, r);
          if (!r.ok) throw new PhaseError(`cluster ${c.name}: not complete; fix the failures above and run again (finished nodes are kept)`, 1);
          t.title = r.kubeconfig ? `${c.name}: kubeconfig context "${r.kubeconfig.context}" (${r.kubeconfig.server}) in ${r.kubeconfig.file}` : `${c.name}: no kubeconfig to merge`;
        },
      });
    }
    tasks.push({
      title: `repository ${redactUrl(repoOf(inv, o).remote)} (branch ${inv.git.branch})`,
      task: async (_ctx, t) => {
        sessionOpts.log?.('phase: publish');
        results.pushed = await publishStep(inv, o, taskIo(t), sessionOpts, rendered);
        t.title = `repository: ${results.pushed.committed ? `committed and pushed ${results.pushed.head.slice(0, 12)}` : `already at ${results.pushed.head.slice(0, 12)}`}`;
      },
    });
    // Each cluster's hand-over is its own: one waiting for its deploy key does not keep the next from getting (and showing) its own.
    const fluxErrors: unknown[] = [];
    for (const c of clusters) {
      tasks.push({
        title: `${c.name}: Flux`,
        exitOnError: false,
        task: async (_ctx, t) => {
          const first = linked.get(c.name)!.links.find((x) => x.node.name === firstServer(c).name)!;
          sessionOpts.log?.(`phase: Flux (${c.name})`);
          try {
            // The plan's read of Flux stands when the install left k3s alone on every node since: nothing
            // installed, restarted or rebooted (prepare's other changes, packages and modules, do not reach Flux).
            const installed = results.install.get(c.name);
            const untouched = installed?.ok === true && installed.nodes.every((n) => n.status === 'unchanged' && (n.disruptive ?? []).length === 0);
            const w = await fluxStep(inv, c, first.session, { ...o, confirm: undefined }, taskIo(t), sessionOpts, results.pushed?.head, rendered, untouched ? fluxReads.get(c.name) : undefined);
            results.flux.set(c.name, w);
            t.title = `${c.name}: Flux reconciled (${reconciledRevision(w)})`;
          } catch (e) {
            results.flux.set(c.name, `not reconciled: ${(e as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
            fluxErrors.push(e);
            throw e;
          }
        },
      });
    }

    let code = 0;
    // Whatever ended the run, the summary follows, and --json stays one event per line.
    const report = (e: unknown) => {
      code ||= isExplained(e) ? e.exitCode : 1;
      // What bramble did not expect prints by the one rule every command uses (errors.ts).
      const [message, ...lines] = isExplained(e) ? [e.message, ...e.lines] : unexpectedLines(e, Boolean(o.verbose) && mode !== 'json');
      if (mode === 'json') jsonEvent(io.out, { event: 'error', message: message!, lines });
      else for (const l of [message!, ...lines]) io.err(l);
    };
    try {
      await progressList(tasks, mode, io.out).run();
    } catch (e) {
      if (!fluxErrors.includes(e)) report(e);
    }
    for (const e of fluxErrors) report(e);
    sessionOpts.log?.('phase: summary');
    if (mode === 'json') jsonEvent(io.out, summaryEvent(clusters, results, inv, o));
    else for (const l of summaryLines(clusters, results, inv, o)) io.out(l);
    return code;
  } finally {
    closeLinked(linked);
  }
}

function refuse(io: Io, mode: string, headline: string, items: string[], advice: string): number {
  if (mode === 'json') jsonEvent(io.out, { event: 'error', message: headline, lines: items, advice });
  else for (const l of [headline, ...items.map((i) => `  ${i}`), advice]) io.err(l);
  return 1;
}
