// What a command is: its name, what it takes, what it says about itself, and
// its handler. The table of them (commands/index.ts) is the one source for
// parsing, --help, docs/commands.md and shell completion.
import { BrambleError } from '../base/errors.ts';
import type { Io } from '../base/io.ts';

export type { Io };

/** How a value-taking option completes in a shell. */
export type ValueKind = 'file' | 'dir' | 'word';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's name in help, e.g. FILE. */
  value?: string;
  kind?: ValueKind;
  help: string;
}

/** Every option bramble knows; a command lists the ones it takes. */
export const OPTIONS = {
  inventory: { type: 'string', short: 'i', value: 'FILE', kind: 'file', help: 'the inventory (e.g. inventory/homelab.yaml)' },
  cluster: { type: 'string', short: 'c', multiple: true, value: 'NAME', kind: 'word', help: 'only this cluster (repeatable); default: all' },
  repo: { type: 'string', value: 'DIR', kind: 'dir', help: 'the Git work tree (default: the clone of git.url you are in, else the one the inventory is in, else <repository name>/ beside the inventory); publish and apply clone the remote into DIR when it does not exist' },
  remote: { type: 'string', value: 'URL', kind: 'word', help: "push here instead of the inventory's git.url (the rendered Flux sync still reads git.url)" },
  check: { type: 'boolean', help: 'write nothing; exit 1 listing what differs' },
  force: { type: 'boolean', help: 'replace or prune generated files that were edited by hand' },
  'known-hosts': { type: 'string', value: 'FILE', kind: 'file', help: 'SSH known_hosts to check host keys against (default ~/.ssh/known_hosts)' },
  'accept-new-host-keys': { type: 'boolean', help: 'trust and record host keys never seen before (never a changed one, nor one of another type than the key on record)' },
  verbose: { type: 'boolean', short: 'v', help: 'show every remote command (secrets blanked out) and each phase of the run, stamped with the seconds since bramble started; after an unexpected file error, its stack trace' },
  kubeconfig: { type: 'string', value: 'FILE', kind: 'file', help: "merge the cluster's context here (default $KUBECONFIG or ~/.kube/config)" },
  timeout: { type: 'string', value: 'SECONDS', kind: 'word', help: "how long to wait: install, for a node to be Ready or back from a reboot (300); flux, for Flux to reconcile (600)" },
  'rotate-deploy-key': { type: 'boolean', help: "replace Flux's deploy key on the Git host and the cluster together" },
  json: { type: 'boolean', help: 'one JSON object per line on stdout' },
  etcd: { type: 'string', value: 'SNAPSHOT', kind: 'word', help: 'the etcd snapshot to restore, by the name `backup status` lists' },
  from: { type: 'string', value: 'CLUSTER', kind: 'word', help: 'the cluster whose versions are promoted (default: the one whose environment is staging)' },
  to: { type: 'string', value: 'CLUSTER', kind: 'word', help: 'the cluster they are proposed for (default: the one whose environment is production)' },
  yes: { type: 'boolean', short: 'y', help: 'do not ask before disruptive steps (reboots, restarts, deletions)' },
  'allow-empty': { type: 'boolean', help: 'take an empty value (refused otherwise: a failed pipe would store a blank secret)' },
  help: { type: 'boolean', short: 'h', help: 'this text' },
  version: { type: 'boolean', help: "bramble's version and the versions it pins" },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

export interface Options {
  inventory?: string;
  cluster?: string[];
  repo?: string;
  remote?: string;
  check?: boolean;
  force?: boolean;
  'known-hosts'?: string;
  'accept-new-host-keys'?: boolean;
  verbose?: boolean;
  kubeconfig?: string;
  timeout?: string;
  yes?: boolean;
  'allow-empty'?: boolean;
  'rotate-deploy-key'?: boolean;
  json?: boolean;
  etcd?: string;
  from?: string;
  to?: string;
  help?: boolean;
  version?: boolean;
  /** Positional words after the command (completion's shell, help's command). */
  args?: string[];
}

/** The options that every command reaching nodes over SSH takes, named together in help and docs. */
export const SSH_OPTIONS: OptionName[] = ['known-hosts', 'accept-new-host-keys', 'verbose'];

/** A mistake in the command line itself: exit 2 and a pointer to --help. */
export class UsageError extends BrambleError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

export interface Context {
  /** Run another command of the table (the wizard offers plan and apply). */
  run(command: string, opts: Options): Promise<number>;
}

export interface Command {
  name: string;
  /** What follows `bramble NAME` in the usage line, e.g. "-i FILE [options]". */
  synopsis: string;
  /** One line: the usage list and completion's descriptions. */
  summary: string;
  /** docs/commands.md's "what it does". */
  description: string;
  options: OptionName[];
  /** What an option means for this command, where it says more than its general help. */
  notes?: Partial<Record<OptionName, string>>;
  /** Positional words it takes, in order, each with the values a shell may complete (none: any word). */
  args?: Array<{ name: string; values: string[]; required: boolean }>;
  /** -i is required (default: when the command takes it). */
  inventoryOptional?: boolean;
  run(opts: Options, io: Io, ctx: Context): Promise<number>;
}
