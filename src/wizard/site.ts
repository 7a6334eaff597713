// The site's questions: its name, SSH, k3s, VLANs, the NAS and the Git
// repository.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { exportPathProblem, gitUrlProblem, insideSubnetProblem, k3sForFluxProblem, poolOrderProblem, storageClassProblem, subnetProblem, vlanIdProblem, vlanNameProblem } from '../inventory/rules.ts';
import { DEFAULTS, PINNED, RECOMMENDED_K3S } from '../inventory/defaults.ts';
import type { Node as YamlNode } from 'yaml';
import { Vlan, type RawVlan } from '../inventory/schema.ts';
import type { Io } from '../base/io.ts';
import type { Ask } from './ask.ts';
import { addressCheck, format, ownerCheck, whole, type Draft } from './draft.ts';

/** `~/x` as the shell reads it. */
function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/**
 * The SSH key must exist before anything can reach a node. When it does not,
 * offer to make one (ed25519, its passphrase left to ssh-keygen and the
 * owner) and show the public key with where it goes on each board.
 */
async function checkPrivateKey(file: string, user: string, site: string, ask: Ask, io: Io): Promise<void> {
  const path = expandHome(file);
  if (existsSync(path)) return;
  const make = ask.makeKey && (await ask.yes(`${file} does not exist: make an ed25519 key there now? (ssh-keygen asks for its passphrase)`, false));
  if (!make || !(await ask.makeKey!(path, `bramble@${site}`))) {
    io.out(`  note: ${file} does not exist yet, and bramble reaches no node without it: ssh-keygen -t ed25519 -f ${file}`);
    return;
  }
  io.out(`  made ${file}; its public key goes into ~${user}/.ssh/authorized_keys on every board (ssh-copy-id -i ${file}.pub ${user}@ADDRESS does it):`);
  io.out(`  ${readFileSync(`${path}.pub`, 'utf8').trim()}`);
}

/** The VLAN layout most homelabs on a UniFi-style router start from (the reference site's). */
export const COMMON_VLANS: RawVlan[] = [
  { id: 10, name: 'Default', subnet: '192.168.10.0/24', gateway: '192.168.10.1', dhcp: { start: '192.168.10.100', end: '192.168.10.254' }, internet: true, purpose: 'network infrastructure (gateway, switch)' },
  { id: 100, name: 'ServerLAN', subnet: '192.168.100.0/24', gateway: '192.168.100.1', dhcp: { start: '192.168.100.150', end: '192.168.100.254' }, internet: true, trusted: true, purpose: 'trusted servers: both k8s clusters, the NAS, Proxmox' },
  { id: 30, name: 'MainLAN', subnet: '192.168.30.0/24', gateway: '192.168.30.1', dhcp: { start: '192.168.30.100', end: '192.168.30.199' }, internet: true, trusted: true, purpose: 'trusted clients and media' },
  { id: 15, name: 'IoT', subnet: '192.168.15.0/24', gateway: '192.168.15.1', dhcp: { start: '192.168.15.100', end: '192.168.15.200' }, internet: true, purpose: 'IoT and guests' },
  { id: 20, name: 'NoT', subnet: '192.168.20.0/24', gateway: '192.168.20.1', dhcp: { start: '192.168.20.100', end: '192.168.20.254' }, internet: false, purpose: 'no internet, local only' },
];

/** The k3s version, with validate's own Flux compatibility rule. */
function k3sProblem(v: string): string | undefined {
  return format('k3s-version')(v) ?? k3sForFluxProblem(v, PINNED.flux);
}

function urlProblem(v: string): string | undefined {
  return format('git-url')(v) ?? gitUrlProblem(v);
}



export async function askSite(d: Draft, ask: Ask, io: Io): Promise<void> {
  d.set(['apiVersion'], 'bramble/v1alpha1');
  d.set(['site', 'name'], await ask.text('Site name (a short DNS label)', { default: d.get(['site', 'name']) ?? 'homelab', check: format('dns-label') }));
  d.set(['site', 'domain'], await ask.text('Local DNS domain for the platform URLs', { default: d.get(['site', 'domain']) ?? DEFAULTS.domain, check: format('hostname') }));
  d.set(['site', 'ssh', 'user'], await ask.text('SSH user on the nodes (it needs sudo)', { default: d.get(['site', 'ssh', 'user']) ?? DEFAULTS.ssh.user, check: format('login-name') }));
  const key = await ask.text('SSH private key on this machine', { default: d.get(['site', 'ssh', 'privateKey']) ?? '~/.ssh/id_ed25519' });
  d.set(['site', 'ssh', 'privateKey'], key);
  await checkPrivateKey(key, d.get(['site', 'ssh', 'user']) ?? DEFAULTS.ssh.user, d.get(['site', 'name']) ?? 'homelab', ask, io);
  d.set(['site', 'k3s', 'version'], await ask.text('k3s version', { default: d.get(['site', 'k3s', 'version']) ?? RECOMMENDED_K3S, check: k3sProblem }));
}

async function askVlan(d: Draft, ask: Ask, i: number): Promise<void> {
  const p = (...k: string[]) => ['vlans', i, ...k];
  const others = () => (d.raw().vlans ?? []).filter((_, j) => j !== i);
  const id = await ask.text(`VLAN ${i + 1}: id (${Vlan.properties.id.minimum}-${Vlan.properties.id.maximum})`, {
    default: d.get<number>(p('id'))?.toString(),
    check: (v) => whole(Vlan.properties.id)(v) ?? vlanIdProblem(+v, others()),
  });
  d.set(p('id'), Number(id));
  d.set(p('name'), await ask.text(`VLAN ${id}: name`, { default: d.get(p('name')), check: (v) => vlanNameProblem(v, others()) }));
  const subnet = await ask.text(`VLAN ${id}: subnet (CIDR)`, {
    default: d.get(p('subnet')),
    check: (v) => {
      return format('cidr')(v) ?? subnetProblem(v, others());
    },
  });
  d.set(p('subnet'), subnet);
  const inside = (v: string) => format('ipv4')(v) ?? insideSubnetProblem(v, subnet);
  d.set(p('gateway'), await ask.text(`VLAN ${id}: gateway`, { default: d.get(p('gateway')) ?? subnet.replace(/\.0\/\d+$/, '.1'), check: inside }));
  const start = await ask.text(`VLAN ${id}: first address of the DHCP pool (empty: no DHCP)`, { default: d.get(p('dhcp', 'start')), check: inside, optional: true });
  if (start) {
    const end = await ask.text(`VLAN ${id}: last address of the DHCP pool`, { default: d.get(p('dhcp', 'end')), check: (v) => inside(v) ?? poolOrderProblem(start, v) });
    d.set(p('dhcp'), { start, end }, true);
  } else d.delete(p('dhcp'));
  d.set(p('internet'), await ask.yes(`VLAN ${id}: can its hosts reach the internet?`, d.get(p('internet')) ?? true));
  const purpose = await ask.text(`VLAN ${id}: purpose (optional)`, { default: d.get(p('purpose')), optional: true });
  if (purpose) d.set(p('purpose'), purpose);
  // Trusted: the owner's servers and own clients, whom the dashboards are opened to by default.
  if (await ask.yes(`VLAN ${id}: trusted (your servers or your own clients, not guests or IoT)?`, d.get(p('trusted')) ?? /\btrusted\b/i.test(purpose ?? ''))) d.set(p('trusted'), true);
  else d.delete(p('trusted'));
}

export async function askVlans(d: Draft, ask: Ask, io: Io): Promise<void> {
  if (d.count(['vlans']) === 0) {
    if (await ask.yes(`Start from the common VLAN layout (${COMMON_VLANS.map((v) => `${v.name} ${v.id}`).join(', ')})?`, true)) {
      d.set(['vlans'], COMMON_VLANS);
      for (let i = 0; i < COMMON_VLANS.length; i++) (d.doc.getIn(['vlans', i, 'dhcp']) as YamlNode & { flow?: boolean }).flow = true;
    } else await askVlan(d, ask, 0);
  }
  for (const v of d.raw().vlans ?? []) io.out(`  VLAN ${String(v.id).padEnd(4)} ${v.name.padEnd(10)} ${v.subnet.padEnd(18)} gateway ${v.gateway}${v.dhcp ? `, DHCP ${v.dhcp.start}-${v.dhcp.end}` : ''}`);
  if (await ask.yes('Change any of these VLANs?', false)) for (let i = 0; i < d.count(['vlans']); i++) await askVlan(d, ask, i);
  while (await ask.yes('Add another VLAN?', false)) await askVlan(d, ask, d.count(['vlans']));
}

function vlanChoices(d: Draft): string[] {
  return (d.raw().vlans ?? []).map((v) => `${v.id} ${v.name} ${v.subnet}`);
}

export async function chooseVlan(d: Draft, ask: Ask, message: string, current: number | undefined): Promise<number> {
  const choices = vlanChoices(d);
  const def = choices.find((c) => c.startsWith(`${current ?? ''} `)) ?? choices.find((c) => /server/i.test(c)) ?? choices[0];
  return Number((await ask.choose(message, choices, def)).split(' ')[0]);
}

export async function askNas(d: Draft, ask: Ask): Promise<void> {
  if (!(await ask.yes('Is there a NAS that serves NFS to the clusters?', d.count(['nas', 'nfs', 'exports']) > 0 || !d.get(['clusters'])))) {
    d.delete(['nas']);
    return;
  }
  d.set(['nas', 'name'], await ask.text('NAS: name', { default: d.get(['nas', 'name']) ?? 'nas', check: format('dns-label') }));
  const model = await ask.text('NAS: model (optional)', { default: d.get(['nas', 'model']), optional: true });
  if (model) d.set(['nas', 'model'], model);
  const vlan = await chooseVlan(d, ask, 'NAS: which VLAN is it on?', d.get(['nas', 'vlan']));
  d.set(['nas', 'vlan'], vlan);
  d.set(['nas', 'address'], await ask.text('NAS: address', { default: d.get(['nas', 'address']), check: addressCheck(d, () => vlan, 'nas') }));
  const fs = await ask.text('NAS: filesystem (optional, e.g. zfs)', { default: d.get(['nas', 'filesystem']) ?? 'zfs', optional: true });
  if (fs) d.set(['nas', 'filesystem'], fs);
  d.set(['nas', 'nfs', 'version'], await ask.choose('NAS: NFS version', ['4.1', '4.2', '4', '3'] as const, d.get(['nas', 'nfs', 'version']) ?? '4.1'));
  const askExport = async (i: number) => {
    const p = (...k: string[]) => ['nas', 'nfs', 'exports', i, ...k];
    const others = () => (d.raw().nas?.nfs?.exports ?? []).filter((_, j) => j !== i);
    d.set(p('path'), await ask.text(`Export ${i + 1}: path on the NAS`, { default: d.get(p('path')) ?? '/k8s', check: (v) => format('absolute-path')(v) ?? exportPathProblem(v, others()) }));
    d.set(
      p('storageClass'),
      await ask.text(`Export ${i + 1}: Kubernetes StorageClass name`, {
        default: d.get(p('storageClass')) ?? 'nfs-shared',
        check: (v) => format('dns-label')(v) ?? storageClassProblem(v, others()),
      }),
    );
    d.set(p('reclaimPolicy'), await ask.choose(`Export ${i + 1}: when a claim is deleted, its volume is`, ['Retain', 'Delete'] as const, d.get(p('reclaimPolicy')) ?? 'Retain'));
    const owner = d.get<{ uid: number; gid: number }>(p('owner'));
    const ids = await ask.text(`Export ${i + 1}: uid:gid that owns its files (optional, e.g. 1000:1000)`, { default: owner ? `${owner.uid}:${owner.gid}` : undefined, optional: true, check: ownerCheck });
    if (ids) d.set(p('owner'), { uid: Number(ids.split(':')[0]), gid: Number(ids.split(':')[1]) }, true);
    else d.delete(p('owner'));
    if (!d.get(p('mountOptions'))) d.set(p('mountOptions'), [...DEFAULTS.nfsMountOptions], true);
  };
  const n = d.count(['nas', 'nfs', 'exports']);
  for (let i = 0; i < Math.max(n, 1); i++) await askExport(i);
  while (await ask.yes('Add another NFS export?', false)) await askExport(d.count(['nas', 'nfs', 'exports']));
}

export async function askGit(d: Draft, ask: Ask): Promise<void> {
  d.set(['git', 'url'], await ask.text('Git repository Flux syncs from (SSH URL)', { default: d.get(['git', 'url']), check: urlProblem }));
  d.set(['git', 'branch'], await ask.text('Git branch', { default: d.get(['git', 'branch']) ?? DEFAULTS.git.branch, check: format('git-branch') }));
}

