import type { Command, Io } from './command.ts';
import { UsageError } from './command.ts';
import { ensureWorkTree, hiddenPrompt, isInteractive, pipedInput } from './shared.ts';

const ACTIONS = ['init', 'set', 'show', 'edit', 'rotate'] as const;

/** A value from standard input when it is not a terminal (one trailing newline dropped), else a masked prompt: never from the command line. */
async function readValue(key: string): Promise<string> {
  const piped = await pipedInput();
  return piped !== undefined ? piped.replace(/\r?\n$/, '') : hiddenPrompt(`value for ${key}:`);
}

/** After a printed plan: go ahead with --yes, or when the owner says so at a terminal; without one, refuse saying what would change. */
async function confirmed(yes: boolean | undefined, io: Io, what: string): Promise<boolean> {
  if (yes) return true;
  if (!isInteractive()) {
    io.err(`${what} Run it at a terminal to confirm, or pass --yes.`);
    return false;
  }
  const { confirm } = await import('@inquirer/prompts');
  if (await confirm({ message: 'Go ahead?', default: false })) return true;
  io.err('not confirmed; nothing was changed');
  return false;
}

export const secret: Command = {
  name: 'secret',
  synopsis: 'init|set|show|edit|rotate -i FILE -c NAME [SECRET [KEY]]',
  summary: "a cluster's secrets in Git, SOPS-encrypted with its age key",
  description: [
    "`init`: make the cluster's age key pair; the private key goes into your age keys file (0600, where sops looks) and, at the next apply, into the cluster's sops-age secret; the public key into the inventory (`secrets.ageRecipient`); it shows its plan and asks first (or `--yes`).",
    "`set SECRET KEY`: encrypt one value (read from standard input, or asked for at a terminal; never an argument) into `clusters/<cluster>/secrets/<namespace>-<name>.sops.yaml` in the work tree (`--repo`), listed in that folder's kustomization.yaml; publish or apply sends it. SECRET is NAMESPACE/NAME or NAME (namespace default).",
    "`show SECRET [KEY]`: decrypt with your copy of the key and print it.",
    "`edit SECRET`: the Secret as plain YAML in `$VISUAL` or `$EDITOR` (a private temporary file, removed afterwards), encrypted again on save.",
    "`rotate`: a new key pair for the cluster; every SOPS file under its folder, yours included, is re-keyed for it as `sops updatekeys` does (values and each file's own rules untouched; a file that cannot be carried over exactly stops it before anything is written) and the inventory's recipient replaced (plan and confirmation first); apply then sends the files and the new key together",
  ].join(' '),
  options: ['inventory', 'cluster', 'repo', 'yes', 'allow-empty'],
  notes: { cluster: 'the cluster (exactly one)', repo: 'the Git work tree holding clusters/ (default: as render)', yes: 'init and rotate: no confirmation' },
  args: [
    { name: 'action', values: [...ACTIONS], required: true },
    { name: 'secret', values: [], required: false },
    { name: 'key', values: [], required: false },
  ],
  async run(opts, io) {
    const [action, name, key] = (opts.args ?? []) as [string, string | undefined, string | undefined];
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`secret takes init, set, show, edit or rotate, not "${action}"`);
    if (!opts.cluster || opts.cluster.length !== 1) throw new UsageError(`secret ${action} needs exactly one --cluster NAME`);
    const [{ loadInventory }, { selectClusters }, store, { ageKeysFile }, { secretFile }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../secrets/store.ts'),
      import('../secrets/keys.ts'),
      import('../site/secrets.ts'),
    ]);
    const inv = await loadInventory(opts.inventory!);
    const [cluster] = selectClusters(inv, opts.cluster);
    const repo = opts.repo ?? '.';

    if (action === 'init') {
      if (name !== undefined) throw new UsageError('secret init takes no SECRET');
      if (cluster!.sops) {
        io.out(`cluster ${cluster!.name} already has an age key: ${cluster!.sops.recipient}; nothing to do`);
        return 0;
      }
      io.out(`secret init for cluster ${cluster!.name}:`);
      io.out(`  1. make an age key pair (X25519)`);
      io.out(`  2. append the private key to ${ageKeysFile()} (0600): keep a copy of this file somewhere safe; without it the secrets cannot be read or changed`);
      io.out(`  3. write the public key into ${opts.inventory} as clusters[${inv.clusters.indexOf(cluster!)}].secrets.ageRecipient`);
      io.out(`  then: the next render adds the secrets layer and .sops.yaml, and the next apply puts the private key in the cluster's flux-system/sops-age secret`);
      if (!(await confirmed(opts.yes, io, 'secret init changes your keys file and inventory.'))) return 1;
      const made = await store.initClusterKey(inv, cluster!, opts.inventory!);
      io.out(`cluster ${cluster!.name}: age key ${made.recipient}; private key in ${made.keysFile}; inventory updated`);
      return 0;
    }

    if (action === 'rotate') {
      if (name !== undefined) throw new UsageError('secret rotate takes no SECRET');
      if (!cluster!.sops) throw new UsageError(`cluster ${cluster!.name} has no age key to rotate; bramble secret init makes one`);
      const files = await store.sopsFilesOf(repo, cluster!);
      io.out(`secret rotate for cluster ${cluster!.name} (now ${cluster!.sops.recipient}):`);
      io.out(`  1. make a new age key pair and append its private key to ${ageKeysFile()} (the old key stays there)`);
      io.out(`  2. re-key, as sops updatekeys does (values, MAC, rules and comments unchanged; the data key encrypted for the new key): ${files.length ? files.join(', ') : 'no SOPS file yet'}`);
      io.out(`  3. replace the recipient in ${opts.inventory}`);
      io.out(`  then: the next apply pushes the files and puts the new key in the cluster's sops-age secret together`);
      if (!(await confirmed(opts.yes, io, 'secret rotate changes your keys file, inventory and secret files.'))) return 1;
      const r = await store.rotateClusterKey(inv, cluster!, opts.inventory!, repo);
      io.out(`cluster ${cluster!.name}: new age key ${r.recipient}; ${r.files.length} file(s) encrypted for it; private key in ${r.keysFile}; inventory updated`);
      return 0;
    }

    if (name === undefined) throw new UsageError(`secret ${action} needs SECRET (NAMESPACE/NAME or NAME)`);
    const ref = store.parseSecretRef(name);
    if (action === 'set') {
      if (key === undefined) throw new UsageError('secret set needs SECRET and KEY; the value comes from standard input');
      store.checkKeyName(key);
      store.recipientOf(cluster!);
      const value = await readValue(key);
      // An empty value is most often a pipe that failed upstream (</dev/null, a command that printed nothing).
      if (value === '' && !opts['allow-empty']) throw new UsageError(`secret set ${name} ${key}: the value is empty (nothing came on standard input); nothing was written. Pass --allow-empty to store an empty value on purpose`);
      await ensureWorkTree(repo, inv.git.url, inv.git.branch, io);
      const r = await store.setSecretValue(repo, cluster!, ref, key, value);
      io.out(`${r.file}: ${key} ${r.action === 'unchanged' ? 'unchanged (same value)' : r.action === 'added' ? 'set in a new file' : 'set'}${r.action === 'unchanged' ? '' : '; bramble publish (or apply) sends it'}`);
      return 0;
    }
    if (action === 'edit') {
      if (key !== undefined) throw new UsageError('secret edit takes SECRET only');
      const r = await store.editSecret(repo, cluster!, ref, process.env.VISUAL || process.env.EDITOR || 'vi');
      io.out(`${r.file}: ${r.action === 'unchanged' ? 'unchanged' : 'changed; bramble publish (or apply) sends it'}`);
      return 0;
    }
    const opened = await store.openSecret(repo, cluster!, ref);
    if (!opened) {
      io.err(`bramble: no ${secretFile(cluster!, ref)} in ${repo}`);
      return 1;
    }
    if (key === undefined) {
      io.out(opened.doc.toString({ lineWidth: 0 }).trimEnd());
      return 0;
    }
    const value = opened.doc.getIn(['stringData', key]) ?? (opened.doc.hasIn(['data', key]) ? Buffer.from(String(opened.doc.getIn(['data', key])), 'base64').toString('utf8') : undefined);
    if (value === undefined) {
      io.err(`bramble: ${secretFile(cluster!, ref)} has no key ${key}`);
      return 1;
    }
    io.out(String(value));
    return 0;
  },
};
