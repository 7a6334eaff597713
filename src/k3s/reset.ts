// Taking k3s off a cluster's nodes: k3s's own uninstall script when the
// install left one, else the pieces an install cut short had put in place,
// then bramble's files. What stays on purpose is said, never left silent.
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import type { NodeLink } from '../nodes/connect.ts';
import { CMDLINE_FILES, installedPackages, MODULES_FILE, MULTIPATH_FILE } from '../nodes/prepare.ts';
import { shQuote, type Session } from '../ssh/session.ts';
import { AIRGAP_DIR, inspectNode } from './install.ts';
import { failed, skipped, type NodeOutcome } from './outcome.ts';
import { CONFIG_FILE, TOKEN_FILE } from './config.ts';
import { KUBE_VIP_MANIFEST } from './kube-vip.ts';
import { UNATTENDED_FILE, UNATTENDED_PACKAGE } from '../site/reboots.ts';

/** What bramble itself puts on a node beside k3s, removed by reset. */
const BRAMBLE_FILES = [TOKEN_FILE, CONFIG_FILE, MODULES_FILE, MULTIPATH_FILE, AIRGAP_DIR, KUBE_VIP_MANIFEST];

/** The links k3s's install script makes beside the binary (create_symlinks). */
const K3S_LINKS = ['kubectl', 'crictl', 'ctr'];

/** What k3s's uninstall script would remove, for a partial install that never got one. */
const K3S_PIECES = ['/usr/local/bin/k3s', '/usr/local/bin/k3s-killall.sh', '/etc/systemd/system/k3s.service', '/etc/systemd/system/k3s.service.env', '/etc/systemd/system/k3s-agent.service', '/etc/systemd/system/k3s-agent.service.env', '/etc/rancher/k3s', '/etc/rancher/node', '/var/lib/rancher/k3s'];

/** The paths of `paths` that exist on the node. */
async function existing(s: Session, paths: string[], step: string): Promise<string[]> {
  const r = await s.exec(paths.map((p) => `[ -e ${shQuote(p)} ] && echo ${shQuote(p)}`).join('; ') + '; true', { sudo: true, step });
  return r.stdout.split('\n').filter((l) => paths.includes(l));
}

/** Take k3s and bramble's files off one node (see resetCluster). */
export async function uninstallNode(s: Session, node: NodeSpec, note: (l: string) => void): Promise<NodeOutcome> {
  const state = await inspectNode(s);
  const changes: string[] = [];
  if (state.uninstall) {
    note(`${node.name}: uninstalling k3s`);
    await s.exec(`/usr/local/bin/${state.uninstall}`, { sudo: true, step: 'uninstall k3s', timeoutMs: 10 * 60_000 });
    changes.push(`ran ${state.uninstall}`);
  } else if (state.install !== 'absent') {
    note(`${node.name}: removing a partial k3s install (no uninstall script was written)`);
    if (state.unit) await s.exec(`systemctl disable --now ${state.unit}`, { sudo: true, check: false, step: 'stop k3s' });
    const pieces = [...(await existing(s, K3S_PIECES, 'find k3s')), ...(await scriptLinks(s))];
    await s.exec(`rm -rf ${pieces.map(shQuote).join(' ')}`, { sudo: true, step: 'remove k3s' });
    changes.push(`removed ${pieces.join(', ')}`);
  }
  const ours = await existing(s, BRAMBLE_FILES, "find bramble's files");
  if (ours.length > 0) {
    await s.exec(`rm -rf ${ours.map(shQuote).join(' ')}`, { sudo: true, step: "remove bramble's files" });
    changes.push(`removed ${ours.join(', ')}`);
  }
  const kept = await keptOnNode(s);
  const detail = kept.length > 0 ? `kept on purpose: ${kept.join('; ')}` : undefined;
  if (changes.length === 0) return { node: node.name, role: node.role, status: 'unchanged', changes, detail: ['k3s is not installed', detail].filter(Boolean).join('; ') };
  return { node: node.name, role: node.role, status: 'removed', changes, detail };
}

/** The kubectl, crictl and ctr links the install script makes to k3s right after the binary (its uninstall script removes them). */
async function scriptLinks(s: Session): Promise<string[]> {
  const links = K3S_LINKS.map((c) => `/usr/local/bin/${c}`);
  const r = await s.exec(links.map((l) => `[ -L ${l} ] && [ "$(readlink ${l})" = k3s ] && echo ${l}`).join('; ') + '; true', { step: "find the install script's links" });
  return r.stdout.split('\n').filter((l) => links.includes(l));
}

/** What reset leaves on a node on purpose, in the words it prints: prepare's packages, a Pi's memory cgroup, and the OS's security updates. */
async function keptOnNode(s: Session): Promise<string[]> {
  const backup = (await existing(s, CMDLINE_FILES.map((f) => `${f}.bramble-bak`), 'find the kernel command line backup'))[0];
  const cmdline = backup ? [`cgroup_enable=memory in ${backup.replace(/\.bramble-bak$/, '')} (k3s needs it; the original is ${backup})`] : [];
  const packages = (await installedPackages(s)).filter((p) => p !== UNATTENDED_PACKAGE);
  // The board stays patched without k3s: taking its updates away is not reset's to do.
  const updates = (await existing(s, [UNATTENDED_FILE], 'find the unattended-upgrades configuration')).length > 0;
  return [
    ...cmdline,
    ...(packages.length ? [`the packages ${packages.join(' and ')} (Longhorn's iSCSI and NFS clients; apt-get remove them if nothing else uses them)`] : []),
    ...(updates ? [`${UNATTENDED_FILE} (the OS keeps installing its updates; remove the file to stop)`] : []),
  ];
}

/**
 * Uninstall k3s: agents first, then the servers, the first one last. k3s's own
 * uninstall script when the install left one; otherwise (an install cut short)
 * the pieces it had put in place. Then bramble's own files. The Pi's kernel
 * command line keeps the memory cgroup on purpose, and says so.
 */
export async function resetCluster(cluster: ClusterSpec, links: NodeLink[], note: (l: string) => void): Promise<NodeOutcome[]> {
  const byName = new Map(links.map((l) => [l.node.name, l]));
  const uninstall = async (node: NodeSpec): Promise<NodeOutcome> => {
    const link = byName.get(node.name);
    if (!link) return skipped(node, 'not reachable');
    return uninstallNode(link.session, node, note).catch((e) => failed(node, e));
  };
  const agents = await Promise.all(cluster.agents.map(uninstall));
  const servers: NodeOutcome[] = [];
  for (const s of [...cluster.servers].reverse()) servers.push(await uninstall(s));
  return [...agents, ...servers];
}
