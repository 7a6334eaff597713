import { UsageError, type Command } from './command.ts';
import { isInteractive, nodeOptions } from './shared.ts';
import { verboseLog } from '../base/io.ts';

export const promote: Command = {
  name: 'promote',
  synopsis: '-i FILE [--from staging] [--to production] [--yes]',
  summary: "propose staging's proven versions for production as a reviewed pull request",
  description:
    "compares the versions two clusters run (charts, k3s, Flux; with any Renovate changed in Git on the source), checks that the source is Ready at the remote's head (nodes on their k3s version, every Flux object at that commit), then, on a new branch made apart from your checkout, sets the target's versions in the inventory and renders its files, commits, pushes the branch (never forced) and opens a pull request on GitHub (on a plain SSH Git server it prints what to merge). Refuses a downgrade, a skipped k3s minor release and a Flux move that needs a migration. Shows the plan first; asks at a terminal, or `--yes`. The inventory must be committed in the repository",
  options: ['inventory', 'from', 'to', 'repo', 'remote', 'known-hosts', 'accept-new-host-keys', 'verbose', 'yes'],
  notes: { yes: 'push and propose without asking' },
  async run(opts, io) {
    const [{ loadInventory, parseInventory }, { selectClusters }, p, g, { takeVersionsFromGit, takenLines }, { renderInventory }, { planTree, applyTree }, path, { writeAtomic }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../run/promote.ts'),
      import('../git/repo.ts'),
      import('../render/versions.ts'),
      import('../render/render.ts'),
      import('../render/tree.ts'),
      import('node:path'),
      import('../base/files.ts'),
    ]);
    const loaded = await loadInventory(opts.inventory!);
    const pick = (name: string | undefined, env: string, flag: string) => {
      if (name) return selectClusters(loaded, [name])[0]!;
      const found = loaded.clusters.filter((c) => c.environment === env);
      if (found.length !== 1) throw new UsageError(`promote needs --${flag} CLUSTER: ${found.length === 0 ? `no cluster's environment is ${env}` : `several clusters' environment is ${env}`}`);
      return found[0]!;
    };
    const source = pick(opts.from, 'staging', 'from');
    const target = pick(opts.to, 'production', 'to');
    if (source.name === target.name) throw new UsageError(`--from and --to name the same cluster (${source.name})`);

    // The work tree, as publish keeps it, brought up to the remote (a merged Renovate change).
    const repo = path.resolve(opts.repo ?? '.');
    const remote = opts.remote ?? loaded.git.url;
    const invRel = p.inventoryInRepo(repo, path.resolve(opts.inventory!));
    const ff = (await g.syncWorkTree(repo, remote, loaded.git.branch)).state;
    if (ff === 'ahead') throw new p.PromoteError(`${repo} holds commits that are not on ${g.redactUrl(remote)} yet: publish them first, so the promotion starts from what the clusters run`);
    if (ff === 'blocked') throw new p.PromoteError(`${repo} is behind ${g.redactUrl(remote)}, and uncommitted changes stop a fast-forward; commit or stash them, then run again`);
    if (ff === 'updated') io.out(`brought ${repo} up to ${g.redactUrl(remote)} (branch ${loaded.git.branch})`);
    if (!(await g.tracked(repo, invRel))) throw new p.PromoteError(`${invRel} is not committed in ${repo}: commit the inventory first, so its change can be reviewed with the files`);
    const state = await g.headState(repo, invRel);
    if (state.dirty) throw new p.PromoteError(`${invRel} has uncommitted changes: commit or stash them first (the branch starts from the committed inventory)`);

    // Staging's versions as Git holds them (Renovate's changes included), in memory only.
    const { inv, taken } = await takeVersionsFromGit(opts.inventory!, loaded, repo, [source.name], { write: false });
    if (taken.length > 0) {
      io.out(`versions changed in Git on ${source.name}, which the branch's inventory takes:`);
      for (const l of takenLines(taken)) io.out(l);
    }
    const from = inv.clusters.find((c) => c.name === source.name)!;
    const to = inv.clusters.find((c) => c.name === target.name)!;
    const changes = p.versionChanges(from, to);
    if (changes.length === 0) {
      io.out(`nothing to promote: ${target.name} already runs ${source.name}'s versions`);
      return 0;
    }
    const refused = p.changeProblems(changes, from.name, to.name);
    if (refused.length > 0) {
      io.err(`promote refused; nothing was changed:`);
      for (const l of refused) io.err(`  ${l}`);
      return 1;
    }

    // The source must run what Git holds now.
    const { connectServer } = await import('../nodes/connect.ts');
    const { expectedObjects } = await import('../flux/watch.ts');
    const rendered = await renderInventory(inv, { clusters: [from.name] });
    const expected = expectedObjects(rendered.docs.filter((d) => d.file.startsWith(`clusters/${from.name}/`)).map((d) => d.object as unknown));
    const sessionOpts = await nodeOptions(opts, io);
    const first = await connectServer(from, sessionOpts).catch((e: Error) => {
      throw new p.PromoteError(`${from.name} cannot be checked, so nothing is promoted: ${e.message}`);
    });
    let problems: string[];
    try {
      problems = await p.readiness(first.session, from, expected, state.head);
    } finally {
      first.session.close();
    }
    if (problems.length > 0) {
      io.err(`promote refused: ${from.name} is not Ready at ${state.head.slice(0, 12)} (the head of ${loaded.git.branch}); nothing was changed:`);
      for (const l of problems) io.err(`  ${l}`);
      return 1;
    }

    // The branch, made apart from the owner's checkout.
    const scratch = await g.scratchTree(repo, state.head);
    try {
      const text = await p.branchInventory(path.resolve(opts.inventory!), inv, taken, to.name, changes);
      const next = parseInventory(text, opts.inventory!);
      await writeAtomic(path.join(scratch.dir, invRel), text);
      // Only the target's files: the source's are what it runs, and stay as Git has them.
      const out = await renderInventory(next, { clusters: [to.name] });
      const tree = await planTree(scratch.dir, out.files, out.scopes);
      if (tree.conflicts.length > 0) {
        io.err('promote refused; nothing was pushed:');
        for (const c of tree.conflicts) io.err(`  ! ${c.path} ${c.why}`);
        return 1;
      }
      await applyTree(scratch.dir, tree, out.scopes);
      const files = [invRel, ...tree.changes.map((c) => c.path)];
      const { gitHostFor } = await import('../git/host.ts');
      const host = gitHostFor(inv.git, { policy: sessionOpts.policy, log: opts.verbose ? verboseLog(io) : undefined });
      const prop = p.proposal(from.name, to.name, changes, state.head, host.commitLink(state.head), files, from.active.length, expected.length);
      for (const l of p.planLines(from.name, to.name, changes, state.head, prop.branch, files)) io.out(l);
      io.out(`${from.name} is Ready at ${state.head.slice(0, 12)}: ${from.active.length} node(s), ${expected.length} Flux object(s)`);
      if (!opts.yes) {
        if (!isInteractive()) {
          io.err('this is the plan; nothing was pushed. Run it at a terminal to confirm, or pass --yes.');
          return 1;
        }
        const { confirm } = await import('@inquirer/prompts');
        if (!(await confirm({ message: `Push ${prop.branch} and propose it for ${inv.git.branch}?`, default: true }))) {
          io.err('not confirmed; nothing was pushed');
          return 1;
        }
      }
      const committed = await g.commitPaths(scratch.dir, files, `${prop.title}\n\n${prop.body}`);
      if (!committed) throw new p.PromoteError('the branch holds no change; nothing was pushed');
      const pushed = await g.pushBranch(scratch.dir, remote, prop.branch);
      io.out(pushed === 'pushed' ? `pushed ${prop.branch} (${committed.slice(0, 12)}) to ${g.redactUrl(remote)}` : `${prop.branch} is already on ${g.redactUrl(remote)} with these changes`);
      for (const l of await host.propose({ branch: prop.branch, base: inv.git.branch, title: prop.title, body: prop.body })) io.out(l);
      return 0;
    } finally {
      await scratch.remove();
    }
  },
};
