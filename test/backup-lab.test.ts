// Backups and a restore on the lab: an HA cluster backing up to the NAS's S3
// service. Publish refuses until the access keys are set; `backup
// credentials` puts them, encrypted, where Flux's stand-in decrypts them into
// the Secret k3s reads; a snapshot goes to each server's disk and to the S3
// stand-in; `backup status` reads them back; `restore` shows its plan, refuses
// while a server is down, then runs k3s's cluster-reset path in order and the
// cluster comes back as it was at the snapshot. The k3s stand-in models etcd
// snapshots and cluster-reset (docs/testing.md).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newClusterKey } from '../src/secrets/keys.ts';
import { brambleAsync, CLI } from './helpers.ts';
import { gitopsInventory, startGitopsLab } from './lab-helpers.ts';

const SERVERS = ['bk-1', 'bk-2', 'bk-3'];
const { lab, scriptUrl, gitServer, repoUrl, work, knownHosts } = await startGitopsLab(
  SERVERS.map((name) => ({ name, board: 'rk1' as const, iscsi: true })),
  'backup.git',
);
const ageKey = await newClusterKey();
const ownerKeys = mkdtempSync(join(tmpdir(), 'bramble-owner-age-'));
after(() => rmSync(ownerKeys, { recursive: true, force: true }));
writeFileSync(join(ownerKeys, 'keys.txt'), `${ageKey.identity}\n`, { mode: 0o600 });
const net = lab.gateway.replace(/\.1$/, '');
const inv = join(work, 'inventory.yaml');
writeFileSync(
  inv,
  gitopsInventory(lab, [{ name: 'ha', nodes: SERVERS.map((node) => ({ node, role: 'server' as const })) }], { installScriptUrl: scriptUrl, repoUrl, hostKey: gitServer.fingerprint })
    .replace('git:\n', `nas:\n  name: labnas\n  address: ${net}.5\n  vlan: 100\n  nfs:\n    exports:\n      - path: /export/k8s\n        storageClass: nfs-lab\n  s3:\n    port: 9000\ngit:\n`)
    .replace(
      '  - name: ha\n    vlan: 100\n',
      // No NFS StorageClass here: the NAS's S3 service is the point, and nothing serves NFS at .5.
      `  - name: ha\n    vlan: 100\n    secrets:\n      ageRecipient: ${ageKey.recipient}\n    backup:\n      target: s3\n      bucket: lab-backups\n    platform:\n      nfs:\n        exports: []\n`,
    ),
);
const repo = join(work, 'repo');
const env = { ...gitServer.ownerEnv, KUBECONFIG: join(work, 'kube', 'config'), SOPS_AGE_KEY_FILE: join(ownerKeys, 'keys.txt'), SOPS_AGE_KEY: '' };
const ssh = ['--known-hosts', knownHosts];
const apply = () => brambleAsync(['apply', '-i', inv, ...ssh, '--repo', repo, '--timeout', '90'], env, 240_000);
const bramble = (...args: string[]) => brambleAsync([...args, '-i', inv, ...ssh], env, 240_000);

/** A command on a node, as its login user with sudo, over real SSH. */
function onNode(name: string, command: string): { code: number; out: string } {
  const node = lab.node(name);
  const r = spawnSync('ssh', ['-i', lab.keyFile, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', `${lab.user}@${node.address}`, command], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

/** The cluster's stored objects of a kind, as the k3s stand-in keeps them. */
function objects(kind: string, namespace = '_cluster'): string[] {
  const root = join(lab.root, 'cluster', 'objects');
  return readdirSync(root).flatMap((ca) => {
    const d = join(root, ca, namespace, kind);
    return existsSync(d) ? readdirSync(d).map((f) => f.replace(/\.json$/, '')) : [];
  });
}
const systemctl = (name: string) => (lab.readNodeFile(name, '/var/lib/bramble-lab/systemctl.log') ?? '').split('\n').filter(Boolean).map((l) => l.split(' ').slice(1).join(' '));

test('S3 backups: refused without keys, then snapshots on every server and in the bucket, read back by backup status', { timeout: 600_000 }, async () => {
  const refused = await apply();
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout + refused.stderr, /clusters\/ha\/secrets\/longhorn-system-backup-s3\.sops\.yaml: missing; cluster ha backs up to the NAS's S3 service, whose access keys go here first: bramble backup credentials -c ha/);

  const keys = spawnSync(process.execPath, [CLI, 'backup', 'credentials', '-i', inv, '-c', 'ha', '--repo', repo], { input: 'lab-access\nlab-Secret-Key-0123456789\n', encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(keys.status, 0, keys.stdout + keys.stderr);
  assert.ok(!(keys.stdout + keys.stderr).includes('lab-Secret-Key'), 'the secret key is not echoed');

  const first = await apply();
  const outputs = [keys.stdout, keys.stderr, first.stdout, first.stderr];
  if (first.code !== 0) {
    // A plain Git host: the run stops once for the deploy key.
    const key = /(ssh-ed25519 \S+ flux-ha)/.exec(first.stdout)?.[1];
    assert.ok(key, first.stdout + first.stderr);
    lab.addDeployKey(key);
    const again = await apply();
    assert.equal(again.code, 0, again.stdout + again.stderr);
    outputs.push(again.stdout, again.stderr);
  }
  // The secret key went out encrypted only: not in any output, file of the work tree, or Git history (local and remote).
  const SECRET = 'lab-Secret-Key-0123456789';
  assert.ok(!outputs.join('\n').includes(SECRET), 'not in the output');
  assert.equal(spawnSync('grep', ['-rlF', '--', SECRET, repo]).status, 1, 'in no file of the work tree');
  for (const dir of [repo, join(lab.root, 'git', 'repos', 'backup.git')]) {
    const history = spawnSync('git', ['-c', 'safe.directory=*', '-C', dir, 'log', '--all', '-p'], { encoding: 'utf8' }).stdout;
    assert.match(history, /k3s-etcd-snapshot-s3-config\.sops\.yaml/, `${dir}: the history was read`);
    assert.ok(!history.includes(SECRET), `${dir}: not in Git history`);
  }
  // Flux's stand-in decrypted the settings k3s reads into kube-system.
  assert.ok(objects('Secret', 'kube-system').includes('k3s-etcd-snapshot-s3-config'));
  for (const n of SERVERS) assert.match(lab.readNodeFile(n, '/etc/rancher/k3s/config.yaml')!, /etcd-s3: true\netcd-s3-config-secret: k3s-etcd-snapshot-s3-config\n/);

  for (const n of ['bk-1', 'bk-2']) {
    const r = onNode(n, 'sudo k3s etcd-snapshot save');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /uploaded to S3 bucket lab-backups/);
  }
  const bucket = join(lab.root, 'cluster', 's3', 'lab-backups', 'etcd', 'ha');
  assert.equal(readdirSync(bucket).length, 2, 'both snapshots are in the bucket, under etcd/CLUSTER');

  const status = await bramble('backup', 'status');
  assert.equal(status.code, 1, 'bk-3 has no snapshot yet and Longhorn is not installed');
  assert.match(status.stdout, /^ {4}on bk-1 +newest on-demand-bk-1-\d+, 0m ago \(1 kept\)$/m);
  assert.match(status.stdout, /^ {4}on bk-3 +NONE$/m);
  assert.match(status.stdout, /^ {4}in S3 +newest on-demand-bk-\d-\d+, 0m ago \(2 kept\)$/m);
  assert.match(status.stdout, /Longhorn is not installed yet/);
  assert.ok(!status.stdout.includes('lab-Secret-Key'));
});

test('restore: the plan first; refused while a server is down; then the cluster is back at the snapshot and every server rejoined', { timeout: 600_000 }, async () => {
  const snapshot = readdirSync(join(lab.root, 'cluster', 's3', 'lab-backups', 'etcd', 'ha')).find((f) => f.startsWith('on-demand-bk-2-'))!;
  assert.ok(snapshot, 'the first test took a snapshot on bk-2');
  // Made after the snapshot: the restore takes it away.
  const made = onNode('bk-1', `printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: after-snapshot\\n  namespace: default\\n' | sudo k3s kubectl apply -f -`);
  assert.equal(made.code, 0, made.out);
  assert.ok(objects('ConfigMap', 'default').includes('after-snapshot'));
  const before = Object.fromEntries(SERVERS.map((n) => [n, systemctl(n).length]));

  const shown = await bramble('restore', '-c', 'ha', '--etcd', snapshot);
  assert.equal(shown.code, 1, shown.stdout + shown.stderr);
  assert.match(shown.stdout, new RegExp(`^ {2}2\\. copy ${snapshot} \\(\\d+ bytes\\) from bk-2 to bk-1`, 'm'));
  assert.match(shown.stderr, /this is the plan; nothing was changed/);
  for (const n of SERVERS) assert.equal(systemctl(n).length, before[n], `${n}: nothing was stopped`);

  const missing = await bramble('restore', '-c', 'ha', '--etcd', 'on-demand-nowhere-1', '--yes');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no snapshot on-demand-nowhere-1 on the servers of cluster ha; newest there: on-demand-bk-/);

  await lab.powerOff('bk-3');
  const down = await bramble('restore', '-c', 'ha', '--etcd', snapshot, '--yes');
  assert.equal(down.code, 1, down.stdout + down.stderr);
  assert.match(down.stderr, /restore refused; nothing was changed: every server takes part, and bk-3 \(.*\) does not answer/);
  await lab.powerOn('bk-3');
  for (const n of ['bk-1', 'bk-2']) assert.equal(systemctl(n).length, before[n], `${n}: nothing was stopped`);

  // A snapshot k3s cannot read: the reset fails, and the servers go back to the cluster as it was.
  const broken = onNode('bk-1', 'echo not-a-snapshot | sudo tee /var/lib/rancher/k3s/server/db/snapshots/on-demand-broken-1 >/dev/null');
  assert.equal(broken.code, 0, broken.out);
  const failed = await bramble('restore', '-c', 'ha', '--etcd', 'on-demand-broken-1', '--yes', '--timeout', '60');
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stderr, /bk-1: the cluster reset failed: .*snapshot file integrity check failed"?\. The restore stopped there; k3s was started again on every server, with the data it had, and each is Ready/);
  assert.ok(objects('ConfigMap', 'default').includes('after-snapshot'), 'the data is as it was');
  assert.equal(onNode('bk-1', 'sudo k3s kubectl get nodes -o json').code, 0, 'the API answers again');
  onNode('bk-1', 'sudo rm /var/lib/rancher/k3s/server/db/snapshots/on-demand-broken-1');

  const r = await bramble('restore', '-c', 'ha', '--etcd', snapshot, '--yes', '--timeout', '60');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cluster ha: restored to on-demand-bk-2-\d+; every server is Ready/);
  // k3s's order: every server stopped before the reset, the first started alone, the others after it.
  assert.deepEqual(systemctl('bk-1').slice(-2), ['stop k3s', 'start k3s']);
  for (const n of ['bk-2', 'bk-3']) assert.deepEqual(systemctl(n).slice(-2), ['stop k3s', 'start k3s'], n);
  assert.ok(!objects('ConfigMap', 'default').includes('after-snapshot'), 'what was made after the snapshot is gone');
  assert.ok(objects('GitRepository', 'flux-system').includes('flux-system'), 'what the snapshot held is back');
  const nodes = JSON.parse(onNode('bk-1', 'sudo k3s kubectl get nodes -o json').out) as { items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }> } }> };
  assert.deepEqual(nodes.items.map((i) => [i.metadata.name, i.status.conditions.find((c) => c.type === 'Ready')!.status]).sort(), SERVERS.map((n) => [n, 'True']));
  // The others' old etcd data was moved aside, not deleted: bk-2's own snapshot is still there.
  const aside = onNode('bk-2', 'sudo ls -d /var/lib/rancher/k3s/server/db-before-restore-*/snapshots').out.trim();
  assert.match(aside, /db-before-restore-\d{8}T\d{6}Z\/snapshots$/);
  assert.match(onNode('bk-2', `sudo ls ${aside}`).out, new RegExp(snapshot));
  // A snapshot taken after the restore works: etcd has its three members again.
  const later = onNode('bk-3', 'sudo k3s etcd-snapshot save');
  assert.equal(later.code, 0, later.out);
});
