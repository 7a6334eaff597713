// Preflight: read-only checks of every node before anything is changed. One
// command gathers the facts on each node (all nodes at once); the verdicts
// are computed here, so the rules can be read and tested in one place.
import { PROFILES } from '../inventory/defaults.ts';
import type { ClusterSpec, Inventory, NodeSpec } from '../inventory/model.ts';
import { detailOf } from '../base/errors.ts';
import { K3S_PROBE, k3sState, missingPieces, onlyStopped, parseFacts } from './k3s-state.ts';
import { OS_PROBE_REST, osLine, osState } from './os-state.ts';
import { packagesLook, PREPARE_LOOK } from './prepare.ts';
import { shQuote, type Session } from '../ssh/session.ts';

export type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
}

export interface NodeReport {
  cluster: string;
  node: string;
  address: string;
  checks: Check[];
  verdict: Verdict;
}

/**
 * Facts a node reports about itself; every line is key=value. Read-only.
 * Files are read with the shell's own `read` and absent ones are not looked
 * into: each process forked here is paid for on every node, on every run.
 */
export function factsScript(nasAddress?: string, withPrepareLook = false): string {
  const nas = nasAddress
    ? `if command -v timeout >/dev/null && timeout 3 bash -c '</dev/tcp/${nasAddress}/2049' 2>/dev/null; then echo nas_nfs=open; else echo nas_nfs=closed; fi`
    : 'echo nas_nfs=';
  const dt = '/sys/firmware/devicetree/base';
  const packages = ['open-iscsi', 'nfs-common'];
  const lines = [
    // os-release is sourced first, before this script's own variables: it can set any name.
    'PRETTY_NAME=; [ -r /etc/os-release ] && . /etc/os-release; echo "os=$PRETTY_NAME"',
    // One uname for both: the release comes before the machine in its output, whatever the order asked.
    'set -- $(uname -r -m); echo "kernel=$1"; echo "os_kernel=$1"; echo "arch=$2"',
    'line() { v=; [ -r "$1" ] && { IFS= read -r v < "$1" || :; }; echo "$2=$v"; }',
    `[ -r ${dt}/model ] && echo "model=$(tr -d '\\000' < ${dt}/model)"`,
    `[ -r ${dt}/compatible ] && echo "compatible=$(tr '\\000' ',' < ${dt}/compatible)"`,
    'echo "cores=$(nproc)"',
    'while read -r k v _; do case $k in MemTotal:) echo "mem_kb=$v" ;; SwapTotal:) echo "swap_kb=$v" ;; esac; done < /proc/meminfo',
    'line /sys/fs/cgroup/cgroup.controllers cgroup_controllers',
    'line /proc/cmdline cmdline',
    'echo "page_size=$(getconf PAGESIZE)"',
    'df -Pk /var/lib | { read -r _; read -r _ _ _ free _; echo "disk_free_kb=$free"; }',
    'echo "ntp=$(timedatectl show -p NTPSynchronized --value 2>/dev/null)"',
    'echo "epoch=$(date +%s)"',
    // dpkg reads its whole status database per call: prepare's packages are asked in the same one.
    packagesLook(withPrepareLook ? [...new Set([...packages, ...PREPARE_LOOK.packages])] : packages),
    'if pidof iscsid >/dev/null 2>&1; then echo iscsid=running; else echo iscsid=stopped; fi',
    K3S_PROBE,
    OS_PROBE_REST,
    nas,
  ];
  // A line both looks have (iscsid) runs once.
  if (withPrepareLook) lines.push(...PREPARE_LOOK.lines.filter((l) => !lines.includes(l)));
  return lines.join('\n');
}

/** The NAS address preflight probes from a node of `cluster`: only where the cluster mounts NFS from it. */
function nasFor(cluster: ClusterSpec, inv: Inventory): string | undefined {
  return cluster.platform.nfs ? inv.nas?.address : undefined;
}

/**
 * Everything plan reads of a node without privilege, in one command:
 * preflight's facts, K3S_PROBE and prepare's look. The output is handed to
 * preflightNode() and to the dry run (InstallOptions.looks), so each node
 * answers one command where it answered three.
 */
export async function readNodeLooks(session: Session, cluster: ClusterSpec, inv: Inventory): Promise<string> {
  return (await session.exec(factsScript(nasFor(cluster, inv), true), { step: 'read the node', check: false })).stdout;
}

export { parseFacts };

const GiB = 1024 * 1024;

function worst(checks: Check[]): Verdict {
  return checks.some((c) => c.verdict === 'fail') ? 'fail' : checks.some((c) => c.verdict === 'warn') ? 'warn' : 'pass';
}

/** Judge a node's facts against what the inventory says it is. */
export function judge(node: NodeSpec, cluster: ClusterSpec, inv: Inventory, f: Record<string, string>, localEpoch: number): Check[] {
  const checks: Check[] = [];
  const add = (name: string, verdict: Verdict, detail: string) => checks.push({ name, verdict, detail });

  // Board and architecture
  const arch = f.arch ?? '';
  const model = f.model ?? '';
  const compatible = f.compatible ?? '';
  const seen = `${model || 'no device-tree model'} (${arch})`;
  if (node.hardware === 'pi5') {
    const ok = arch === 'aarch64' && model.startsWith('Raspberry Pi 5');
    add('board', ok ? 'pass' : 'fail', ok ? seen : `the inventory says pi5 (an aarch64 Raspberry Pi 5) but the node is ${seen}`);
  } else if (node.hardware === 'rk1') {
    const ok = arch === 'aarch64' && compatible.includes('rockchip,rk3588');
    add('board', ok ? 'pass' : 'fail', ok ? seen : `the inventory says rk1 (an aarch64 RK3588) but the node is ${seen}${compatible ? `, compatible ${compatible.replace(/,$/, '')}` : ''}`);
  } else {
    const ok = arch === 'x86_64';
    add('board', ok ? 'pass' : 'fail', ok ? `x86_64${model ? `, ${model}` : ''}` : `the inventory says x86 (amd64) but the node is ${seen}`);
  }

  add('os', 'pass', `${f.os || 'unknown OS'}, kernel ${f.kernel || '?'}`);
  // A pending reboot is not a fault, but an install or upgrade on top of it runs on the old kernel and is rebooted under later.
  const os = osState(f);
  if (os.pending) add('reboot', 'warn', `${osLine(os)}; ${cluster.osUpdates ? 'kured reboots it in the window, or reboot it now (sudo reboot) before installing' : 'reboot it (sudo reboot) before installing or upgrading'}`);
  else add('reboot', 'pass', osLine(os));

  // Size against the profile
  const profile = PROFILES[node.hardware];
  const cores = Number(f.cores);
  const memGiB = Number(f.mem_kb) / GiB;
  const wantMem = node.memoryGiB ?? profile.memoryGiB;
  const small: string[] = [];
  if (profile.cores && cores < profile.cores) small.push(`${cores} cores, ${node.hardware} has ${profile.cores}`);
  // Firmware and the kernel keep some memory: allow 10 %.
  if (wantMem && memGiB < wantMem * 0.9) small.push(`${memGiB.toFixed(1)} GiB memory, expected ${wantMem} GiB`);
  add('resources', small.length ? 'warn' : 'pass', small.length ? small.join('; ') : `${cores} cores, ${memGiB.toFixed(1)} GiB memory`);

  // Memory cgroup: k3s will not start without it.
  const controllers = (f.cgroup_controllers ?? '').split(/\s+/);
  if (controllers.includes('memory')) add('memory cgroup', 'pass', 'enabled');
  else if (node.hardware === 'pi5') add('memory cgroup', 'warn', 'disabled; prepare adds cgroup_enable=memory to /boot/firmware/cmdline.txt and reboots the node');
  else add('memory cgroup', 'fail', `disabled (cgroup controllers: ${f.cgroup_controllers || 'none'}); enable it on the kernel command line`);

  if (node.hardware === 'pi5' && f.page_size === '16384') {
    add('page size', 'warn', '16K pages (kernel_2712.img): images built with jemalloc crash; set kernel=kernel8.img in /boot/firmware/config.txt and reboot');
  }

  const swap = Number(f.swap_kb);
  add('swap', swap > 0 ? 'warn' : 'pass', swap > 0 ? `${(swap / GiB).toFixed(1)} GiB of swap is on; the kubelet's memory accounting is off with swap` : 'off');

  const free = Number(f.disk_free_kb) / GiB;
  add('disk', free < 10 ? 'fail' : free < 20 ? 'warn' : 'pass', `${free.toFixed(0)} GiB free on /var/lib${free < 10 ? ': k3s and Longhorn need at least 10 GiB' : free < 20 ? ': tight for images and Longhorn replicas' : ''}`);

  // Clock: TLS certificates issued with a wrong clock break joins.
  const skew = Math.abs(Number(f.epoch) - localEpoch);
  if (!Number.isFinite(skew) || skew > 30) add('clock', 'fail', `the node's clock is ${Number.isFinite(skew) ? `${skew} s` : 'unreadably'} off this machine's; certificates would come out wrong`);
  else if (f.ntp === 'yes') add('clock', 'pass', `synchronised (NTP), ${skew} s from this machine`);
  else add('clock', 'warn', `${skew} s from this machine, but NTP synchronisation is ${f.ntp === 'no' ? 'off' : 'unknown (no timedatectl)'}; a board without an RTC battery (the RK1) loses the time when it is off`);

  const missing = ['open-iscsi', 'nfs-common'].filter((p) => !(f[`pkg_${p}`] ?? '').includes('install ok installed'));
  add('packages', missing.length ? 'warn' : 'pass', missing.length ? `missing ${missing.join(', ')} (Longhorn and NFS need them); prepare installs them` : 'open-iscsi, nfs-common');
  if (!missing.includes('open-iscsi')) add('iscsid', f.iscsid === 'running' ? 'pass' : 'warn', f.iscsid === 'running' ? 'running' : 'not running; prepare enables it (Longhorn needs it)');

  if (cluster.platform.nfs && inv.nas) {
    const ok = f.nas_nfs === 'open';
    add('nas', ok ? 'pass' : 'fail', ok ? `NFS on ${inv.nas.name} (${inv.nas.address}:2049) answers` : `NFS on ${inv.nas.name} (${inv.nas.address}:2049) is not reachable from this node; is the NAS up and the port open to VLAN ${cluster.vlan.id}?`);
    for (const e of ok ? cluster.platform.nfs.exports : []) {
      const r = f[`export_${e.storageClass}`] ?? '';
      if (r === 'ok') add('nfs export', 'pass', `${inv.nas.name}:${e.path} mounts (read-only test)`);
      else if (r === 'noclient' || r === '') add('nfs export', 'warn', `${inv.nas.name}:${e.path} not checked: this node's kernel has no NFS client yet (prepare installs nfs-common)`);
      else add('nfs export', 'fail', `${inv.nas.name}:${e.path} cannot be mounted: ${r.replace(/^missing\s*/, '') || 'no reason given'}; is it exported to VLAN ${cluster.vlan.id}?`);
    }
  }

  const k3s = k3sState(f);
  const role = k3s.unit === 'k3s' ? 'server' : k3s.unit === 'k3s-agent' ? 'agent' : 'unknown role';
  if (k3s.install === 'absent') add('k3s', 'pass', 'not installed');
  else if (onlyStopped(k3s)) add('k3s', 'warn', `${missingPieces(k3s)}; install and apply enable and start it (the install script would skip the start: nothing it writes changed)`);
  else if (k3s.install === 'partial') add('k3s', 'warn', `${missingPieces(k3s)}; install and apply complete it by running the install script again`);
  else if (k3s.version !== cluster.k3sVersion) add('k3s', 'pass', `${k3s.version} is installed (${role}); the inventory says ${cluster.k3sVersion}, which the upgrade Plans bring once published (after the upgrade check)`);
  else add('k3s', 'pass', `${k3s.version} installed (${role})`);

  return checks;
}

/**
 * Run preflight on one node over an open session. `looks`: readNodeLooks()'s
 * output when the caller reads the node anyway (plan), so the node runs the
 * facts script once.
 */
export async function preflightNode(session: Session, node: NodeSpec, cluster: ClusterSpec, inv: Inventory, looks?: Promise<string>): Promise<NodeReport> {
  const checks: Check[] = [{ name: 'ssh', verdict: 'pass', detail: `${node.ssh.user}@${node.address}:${node.ssh.port}` }];
  const nas = nasFor(cluster, inv);
  // The facts need no privilege: they are read while sudo is tried.
  const [sudo, out] = await Promise.all([
    session.ensureSudo().then(
      (mode): Check => ({ name: 'sudo', verdict: 'pass', detail: mode === 'root' ? 'logged in as root' : mode === 'nopasswd' ? 'works without a password' : 'works with the password given' }),
      (e: unknown): Check => ({ name: 'sudo', verdict: 'fail', detail: detailOf(e) }),
    ),
    looks ?? session.exec(factsScript(nas), { step: 'preflight facts', check: false }).then((r) => r.stdout),
  ]);
  checks.push(sudo);
  const facts = parseFacts(out);
  if (nas && facts.nas_nfs === 'open' && sudoWorks(checks)) Object.assign(facts, await probeExports(session, cluster, inv));
  checks.push(...judge(node, cluster, inv, facts, Math.round(Date.now() / 1000)));
  return { cluster: cluster.name, node: node.name, address: node.address, checks, verdict: worst(checks) };
}

function sudoWorks(checks: Check[]): boolean {
  return checks.some((c) => c.name === 'sudo' && c.verdict === 'pass');
}

/** Mount each export read-only for a moment, where the node's kernel can. */
async function probeExports(session: Session, cluster: ClusterSpec, inv: Inventory): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of cluster.platform.nfs?.exports ?? []) {
    const script = [
      'grep -qw nfs4 /proc/filesystems || modprobe nfs4 2>/dev/null',
      'if ! grep -qw nfs4 /proc/filesystems || ! command -v mount.nfs4 >/dev/null; then echo noclient; exit 0; fi',
      'd=$(mktemp -d)',
      `if err=$(mount -t nfs4 -o ro,nfsvers=${inv.nas!.nfsVersion},soft,timeo=30,retrans=1 ${shQuote(`${inv.nas!.address}:${e.path}`)} "$d" 2>&1); then umount "$d"; echo ok; else echo "missing $err"; fi`,
      'rmdir "$d"',
    ].join('\n');
    const r = await session.exec(script, { sudo: true, check: false, step: `probe NFS export ${e.path}` });
    out[`export_${e.storageClass}`] = r.stdout.trim().split('\n').pop() ?? '';
  }
  return out;
}

/** The report for a node that could not be reached or logged into. */
export function unreachable(node: NodeSpec, cluster: ClusterSpec, why: string): NodeReport {
  return { cluster: cluster.name, node: node.name, address: node.address, checks: [{ name: 'ssh', verdict: 'fail', detail: why }], verdict: 'fail' };
}

export function formatReport(reports: NodeReport[]): string[] {
  const lines: string[] = [];
  const mark: Record<Verdict, string> = { pass: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  for (const r of reports) {
    lines.push(`${r.cluster}/${r.node} (${r.address}): ${r.verdict.toUpperCase()}`);
    for (const c of r.checks) lines.push(`  ${mark[c.verdict]} ${c.name.padEnd(14)} ${c.detail}`);
  }
  return lines;
}
