import type { Command, Io } from './command.ts';
import { UsageError } from './command.ts';
import { ensureWorkTree, hiddenPrompt, pipedInput, visitClusters } from './shared.ts';

const ACTIONS = ['status', 'credentials'] as const;

/** The access key and secret key: two lines on standard input, or asked for (hidden) at a terminal; never arguments. */
async function readKeys(): Promise<{ accessKey: string; secretKey: string }> {
  const piped = await pipedInput();
  if (piped === undefined) return { accessKey: await hiddenPrompt('S3 access key:'), secretKey: await hiddenPrompt('S3 secret key:') };
  const [accessKey = '', secretKey = ''] = piped.split(/\r?\n/);
  return { accessKey: accessKey.trim(), secretKey: secretKey.trim() };
}

async function status(opts: Parameters<Command['run']>[0], io: Io): Promise<number> {
  const [{ loadInventory }, { selectClusters }, b] = await Promise.all([import('../inventory/load.ts'), import('../inventory/model.ts'), import('../backup/status.ts')]);
  const inv = await loadInventory(opts.inventory!);
  const clusters = selectClusters(inv, opts.cluster);
  const without = clusters.filter((c) => !c.backup);
  for (const c of without) io.out(`cluster ${c.name}: NO BACKUPS off the nodes: the inventory gives it no backup target (docs/backup.md)`);
  const healthy = await visitClusters(
    clusters.filter((c) => c.backup),
    opts,
    io,
    async (cluster, first) => {
      const etcd = cluster.backup!.etcd ? await b.readEtcdSnapshots(first.session) : undefined;
      const volumes = await b.readVolumeBackups(first.session);
      const report = b.backupReport(cluster, etcd, volumes, new Date());
      io.out(`cluster ${cluster.name} (via ${first.node.name}):`);
      for (const l of report.lines) io.out(l);
      return report.healthy;
    },
  );
  return healthy && without.length === 0 ? 0 : 1;
}

export const backup: Command = {
  name: 'backup',
  synopsis: 'status|credentials -i FILE [-c NAME]',
  summary: 'backups to the NAS: how fresh they are, and the S3 access keys',
  description:
    "`status`: each cluster's newest etcd snapshot on every server and in S3, and the newest Longhorn backup of every volume, with their age against the schedule; exit 1 when one is missing, failed or older than twice its schedule allows. `credentials -c NAME`: the NAS's S3 access key and secret key (two lines on standard input, or asked for hidden at a terminal; never arguments) into the cluster's encrypted Secrets for Longhorn (`longhorn-system/backup-s3`) and k3s's etcd uploads (`kube-system/k3s-etcd-snapshot-s3-config`), in the work tree (`--repo`); publish or apply sends them",
  options: ['inventory', 'cluster', 'repo', 'known-hosts', 'accept-new-host-keys', 'verbose'],
  notes: { cluster: 'only this cluster (repeatable); credentials takes exactly one', repo: 'credentials: the Git work tree holding clusters/ (default: as render)' },
  args: [{ name: 'action', values: [...ACTIONS], required: true }],
  async run(opts, io) {
    const [action, extra] = opts.args ?? [];
    if (!(ACTIONS as readonly string[]).includes(action ?? '')) throw new UsageError(`backup takes status or credentials, not "${action}"`);
    if (extra !== undefined) throw new UsageError(`backup ${action} takes no other word ("${extra}")`);
    if (action === 'status') return status(opts, io);

    if (!opts.cluster || opts.cluster.length !== 1) throw new UsageError('backup credentials needs exactly one --cluster NAME');
    const [{ loadInventory }, { selectClusters }, { checkS3Keys, setS3Keys }] = await Promise.all([import('../inventory/load.ts'), import('../inventory/model.ts'), import('../backup/credentials.ts')]);
    const inv = await loadInventory(opts.inventory!);
    const [cluster] = selectClusters(inv, opts.cluster);
    if (cluster!.backup?.target.kind !== 's3') throw new UsageError(`cluster ${cluster!.name} has no S3 backup target (backup.target: s3); an NFS target needs no keys`);
    const keys = await readKeys();
    checkS3Keys(keys);
    const repo = opts.repo ?? '.';
    await ensureWorkTree(repo, inv.git.url, inv.git.branch, io);
    const results = await setS3Keys(repo, cluster!, keys);
    for (const r of results) io.out(`${r.file}: ${r.action === 'unchanged' ? 'unchanged (same keys)' : r.action === 'added' ? 'written, encrypted' : 'changed, encrypted'}`);
    if (results.some((r) => r.action !== 'unchanged')) io.out('bramble publish (or apply) sends them; Flux decrypts them into the cluster');
    return 0;
  },
};
