import type { Command } from './command.ts';
import { inventoryWithGit, nodeOptions, runOptions } from './shared.ts';

export const publish: Command = {
  name: 'publish',
  synopsis: '-i FILE [options]',
  summary: 'render, commit and push to the Git remote',
  description:
    "render, commit bramble's files, push (never forced; rebases onto a remote that moved on). A k3s version change is first checked against the running cluster, as apply does. Commits only on `git.branch`: a work tree on another branch, or holding local commits that are not bramble's (its commits carry a `Generated-By: bramble` trailer), is refused before anything is written",
  options: ['inventory', 'cluster', 'repo', 'remote', 'force', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  async run(opts, io) {
    const { publishStep } = await import('../run/steps.ts');
    const { inv, written, checked } = await inventoryWithGit(opts, io, { write: true, fastForward: 'strict' });
    const nodeOpts = await nodeOptions(opts, io);
    // Only pushing to the inventory's own GitHub repository talks to the Git host (to create it);
    // a k3s version change in the Plans is checked against its cluster over SSH.
    await publishStep(inv, { ...runOptions(opts), inventoryWritten: written ? opts.inventory : undefined, checked }, io, opts.remote ? undefined : nodeOpts, undefined, nodeOpts);
    return 0;
  },
};
