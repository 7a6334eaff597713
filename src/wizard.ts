// `bramble init`: the inventory written (or edited) by answering questions.
// Answers go straight into a YAML document, so an existing file keeps its
// comments, its key order and every field the wizard does not ask about. Each
// answer is checked as it is typed, with the rules `bramble validate` uses,
// and the whole file is validated once more before it is written.
import { BrambleError } from './errors.ts';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Document, isMap, isScalar, isSeq, parseDocument, stringify, type Node as YamlNode } from 'yaml';
import {
  addressTakenProblem,
  clusterNameProblem,
  exportPathProblem,
  insideSubnetProblem,
  gitUrlProblem,
  k3sForFluxProblem,
  nodeNameProblem,
  poolOrderProblem,
  replicasProblem,
  serverCountProblem,
  staticAddressProblem,
  storageClassProblem,
  subnetProblem,
  vlanIdProblem,
  vlanNameProblem,
} from './inventory/check.ts';
import { DEFAULTS, PINNED, PROFILES, RECOMMENDED_K3S } from './inventory/defaults.ts';
import { FORMATS, isCidr } from './inventory/formats.ts';
import { parseInventory } from './inventory/load.ts';
import { defaultReplicas } from './inventory/model.ts';
import { Platform, Vlan, type RawInventory, type RawVlan } from './inventory/schema.ts';
import { packageRoot } from './paths.ts';
import { NOTIFY_REF, notifyKey } from './site/secrets.ts';
import { readIfExists, writeAtomic } from './render/tree.ts';
import { ageKeysFile, keepInKeysFile, newClusterKey, type ClusterKey } from './secrets/keys.ts';
import { secretFile, setSecretValue } from './secrets/store.ts';
import type { Io } from './steps.ts';
import { apiUrl } from './k3s/config.ts';

export class WizardError extends BrambleError {}

/** How the wizard asks: inquirer at a terminal; anything that answers in tests. */
export interface Ask {
  /** A line of text; `check` returns why an answer is wrong. Empty answers take the default. */
  text(message: string, o?: { default?: string; check?: (v: string) => string | undefined; optional?: boolean }): Promise<string>;
  choose<T extends string>(message: string, choices: readonly T[], def?: T): Promise<T>;
  yes(message: string, def: boolean): Promise<boolean>;
  /** A secret: typed masked, never shown or offered as a default. */
  secret(message: string, check: (v: string) => string | undefined): Promise<string>;
  /** Make an SSH key pair at `file` (ssh-keygen, which asks for its passphrase itself); true when the file is there afterwards. Only at a terminal. */
  makeKey?(file: string, comment: string): Promise<boolean>;
}

export async function inquirerAsk(): Promise<Ask> {
  const { input, select, confirm, password } = await import('@inquirer/prompts');
  return {
    async text(message, o = {}) {
      const answer = await input({
        message,
        default: o.default,
        validate: (v) => {
          const t = v.trim();
          if (t === '') return o.optional ? true : 'an answer is needed';
          return o.check?.(t) ?? true;
        },
      });
      return answer.trim();
    },
    choose: (message, choices, def) => select({ message, choices: choices.map((c) => ({ value: c, name: c })), default: def }),
    yes: (message, def) => confirm({ message, default: def }),
    secret: async (message, check) => (await password({ message, mask: '*', validate: (v) => (v.trim() === '' ? 'an answer is needed' : (check(v.trim()) ?? true)) })).trim(),
    async makeKey(file, comment) {
      const { spawnSync } = await import('node:child_process');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // ssh-keygen asks for the passphrase at the terminal: bramble never sees it.
      spawnSync('ssh-keygen', ['-t', 'ed25519', '-f', file, '-C', comment], { stdio: 'inherit' });
      return existsSync(file);
    },
  };
}

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

const format = (name: keyof typeof FORMATS) => (v: string) => (FORMATS[name]!.test(v) ? undefined : `expected ${FORMATS[name]!.describe}`);

/** A whole-number answer, within the bounds the schema sets for its field. */
const replicasField = Platform.properties.longhorn.properties.replicas;

const whole = (field: { minimum?: number; maximum?: number }) => (v: string) =>
  /^\d+$/.test(v) && +v >= (field.minimum ?? 0) && +v <= (field.maximum ?? Infinity) ? undefined : `expected a number from ${field.minimum ?? 0} to ${field.maximum ?? 'any'}`;

/** The k3s version, with validate's own Flux compatibility rule. */
function k3sProblem(v: string): string | undefined {
  return format('k3s-version')(v) ?? k3sForFluxProblem(v, PINNED.flux);
}

function urlProblem(v: string): string | undefined {
  return format('git-url')(v) ?? gitUrlProblem(v);
}

/**
 * The file as it is being answered: a YAML document changed in place. While
 * the answers only change existing values, the original text is kept and
 * just those values are replaced in it, so quoting and flow style stay as the
 * owner wrote them; adding or removing an entry re-prints the document.
 */
class Draft {
  readonly doc: Document;
  private readonly source: string | undefined;
  private splices: Array<{ start: number; end: number; text: string }> = [];
  private structural = false;
  constructor(doc: Document, source?: string) {
    this.doc = doc;
    this.source = source;
  }
  get<T = unknown>(path: Array<string | number>): T | undefined {
    const v = this.doc.getIn(path, false) as unknown;
    return (v && typeof v === 'object' && 'toJSON' in v ? (v as { toJSON(): unknown }).toJSON() : v) as T | undefined;
  }
  /** Set a value only when it differs, so untouched values keep their comments and style. */
  set(path: Array<string | number>, value: unknown, flow = false): void {
    if (JSON.stringify(this.get(path)) === JSON.stringify(value)) return;
    const old = this.doc.getIn(path, true);
    if (this.source !== undefined && isScalar(old) && old.range && (value === null || typeof value !== 'object')) {
      const [start, end] = old.range;
      this.splices = this.splices.filter((x) => x.start !== start);
      this.splices.push({ start, end, text: stringify(value).trimEnd() });
      old.value = value;
      return;
    }
    this.structural = true;
    const node = this.doc.createNode(value) as YamlNode;
    if (flow && (isMap(node) || isSeq(node))) node.flow = true;
    this.doc.setIn(path, node);
  }
  delete(path: Array<string | number>): void {
    if (!this.doc.hasIn(path)) return;
    this.structural = true;
    this.doc.deleteIn(path);
  }
  count(path: Array<string | number>): number {
    return (this.get<unknown[]>(path) ?? []).length;
  }
  raw(): Partial<RawInventory> {
    return (this.doc.toJS() ?? {}) as Partial<RawInventory>;
  }
  text(): string {
    if (this.source === undefined || this.structural) return this.doc.toString({ lineWidth: 0 });
    let out = this.source;
    for (const x of [...this.splices].sort((a, b) => b.start - a.start)) out = out.slice(0, x.start) + x.text + out.slice(x.end);
    return out;
  }
}

/** Every address the draft already gives something, but the one at `except`. */
function usedAddresses(d: Draft, except: string): Map<string, string> {
  const raw = d.raw();
  const used = new Map<string, string>();
  for (const v of raw.vlans ?? []) used.set(v.gateway, `the gateway of VLAN ${v.id}`);
  if (raw.nas && except !== 'nas') used.set(raw.nas.address, 'the NAS');
  (raw.clusters ?? []).forEach((c, ci) => {
    (c.nodes ?? []).forEach((n, ni) => {
      if (except !== `${ci}/${ni}`) used.set(n.address, `node ${n.name}`);
    });
    if (c.apiEndpoint && except !== `api/${ci}`) used.set(c.apiEndpoint, `the API address of cluster ${c.name}`);
    if (c.ingressAddress && except !== `ingress/${ci}`) used.set(c.ingressAddress, `the ingress address of cluster ${c.name}`);
  });
  return used;
}

function addressCheck(d: Draft, vlanId: () => number, except: string) {
  return (v: string): string | undefined => {
    const shape = format('ipv4')(v);
    if (shape) return shape;
    const vlans = d.raw().vlans ?? [];
    const why = staticAddressProblem(v, vlans.find((x) => x.id === vlanId()), vlans);
    if (why) return why;
    return addressTakenProblem(v, usedAddresses(d, except));
  };
}

async function askSite(d: Draft, ask: Ask, io: Io): Promise<void> {
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

async function askVlans(d: Draft, ask: Ask, io: Io): Promise<void> {
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

async function chooseVlan(d: Draft, ask: Ask, message: string, current: number | undefined): Promise<number> {
  const choices = vlanChoices(d);
  const def = choices.find((c) => c.startsWith(`${current ?? ''} `)) ?? choices.find((c) => /server/i.test(c)) ?? choices[0];
  return Number((await ask.choose(message, choices, def)).split(' ')[0]);
}

async function askNas(d: Draft, ask: Ask): Promise<void> {
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
    const ids = await ask.text(`Export ${i + 1}: uid:gid that owns its files (optional, e.g. 1000:1000)`, { default: owner ? `${owner.uid}:${owner.gid}` : undefined, optional: true, check: (v) => (/^\d+:\d+$/.test(v) ? undefined : 'expected uid:gid such as 1000:1000, two whole numbers') });
    if (ids) d.set(p('owner'), { uid: Number(ids.split(':')[0]), gid: Number(ids.split(':')[1]) }, true);
    else d.delete(p('owner'));
    if (!d.get(p('mountOptions'))) d.set(p('mountOptions'), [...DEFAULTS.nfsMountOptions], true);
  };
  const n = d.count(['nas', 'nfs', 'exports']);
  for (let i = 0; i < Math.max(n, 1); i++) await askExport(i);
  while (await ask.yes('Add another NFS export?', false)) await askExport(d.count(['nas', 'nfs', 'exports']));
}

async function askGit(d: Draft, ask: Ask): Promise<void> {
  d.set(['git', 'url'], await ask.text('Git repository Flux syncs from (SSH URL)', { default: d.get(['git', 'url']), check: urlProblem }));
  d.set(['git', 'branch'], await ask.text('Git branch', { default: d.get(['git', 'branch']) ?? DEFAULTS.git.branch, check: format('git-branch') }));
}

function serverProblem(d: Draft, ci: number): string | undefined {
  const c = d.raw().clusters?.[ci];
  return serverCountProblem(c?.name ?? '', (c?.nodes ?? []).filter((n) => !n.planned && n.role === 'server').length);
}

async function askNode(d: Draft, ask: Ask, ci: number, ni: number): Promise<void> {
  const p = (...k: string[]) => ['clusters', ci, 'nodes', ni, ...k];
  const taken = () => new Map((d.raw().clusters ?? []).flatMap((c, i) => (c.nodes ?? []).filter((_, j) => !(i === ci && j === ni)).map((n) => [n.name, c.name] as const)));
  const name = await ask.text(`Node ${ni + 1}: hostname`, { default: d.get(p('name')), check: (v) => format('dns-label')(v) ?? nodeNameProblem(v, taken()) });
  d.set(p('name'), name);
  // Defaults follow the node before: the same board, servers until there are three (etcd's quorum), then agents.
  const before = ni > 0 ? d.raw().clusters?.[ci]?.nodes?.[ni - 1] : undefined;
  d.set(p('hardware'), await ask.choose(`${name}: hardware`, ['pi5', 'rk1', 'x86'] as const, d.get(p('hardware')) ?? before?.hardware ?? 'pi5'));
  d.set(p('address'), await ask.text(`${name}: static address`, { default: d.get(p('address')), check: addressCheck(d, () => d.get<number>(['clusters', ci, 'vlan'])!, `${ci}/${ni}`) }));
  const servers = (d.raw().clusters?.[ci]?.nodes ?? []).filter((n, j) => j < ni && n.role === 'server').length;
  d.set(p('role'), await ask.choose(`${name}: role`, ['server', 'agent'] as const, d.get(p('role')) ?? (servers < 3 ? 'server' : 'agent')));
  if (await ask.yes(`${name}: planned only (described, not installed yet)?`, d.get(p('planned')) ?? false)) d.set(p('planned'), true);
  else d.delete(p('planned'));
}

async function askCluster(d: Draft, ask: Ask, io: Io, ci: number, pending: Pending): Promise<void> {
  const p = (...k: string[]) => ['clusters', ci, ...k];
  const others = () => (d.raw().clusters ?? []).filter((_, j) => j !== ci).map((c) => c.name);
  const name = await ask.text(`Cluster ${ci + 1}: name`, { default: d.get(p('name')) ?? (ci === 0 ? 'staging' : 'production'), check: (v) => format('dns-label')(v) ?? clusterNameProblem(v, others()) });
  d.set(p('name'), name);
  d.set(p('environment'), await ask.text(`${name}: environment`, { default: d.get(p('environment')) ?? name }));
  const nasVlan = d.get<number>(['nas', 'vlan']);
  const vlan = await chooseVlan(d, ask, `${name}: which VLAN are its nodes on?`, d.get(p('vlan')) ?? nasVlan);
  d.set(p('vlan'), vlan);
  if (nasVlan !== undefined && vlan !== nasVlan) io.out(`  note: the NAS is on VLAN ${nasVlan}; NFS from ${name} would cross the router (validate refuses that unless the cluster uses no NFS export)`);
  for (;;) {
    const n = d.count(p('nodes'));
    for (let i = 0; i < Math.max(n, 1); i++) await askNode(d, ask, ci, i);
    while (await ask.yes(`${name}: add another node?`, false)) await askNode(d, ask, ci, d.count(p('nodes')));
    const why = serverProblem(d, ci);
    if (!why) break;
    io.out(`  ${why}; go through the nodes again`);
  }
  // Several servers (planned ones too) share one API address; a single server's is its own.
  if (d.raw().clusters![ci]!.nodes.filter((x) => x.role === 'server').length > 1 || d.get(p('apiEndpoint'))) {
    const endpoint = await ask.text(`${name}: API address shared by its servers (a free static address on the VLAN, which kube-vip holds, or a DNS name; empty: the first server's address)`, {
      default: d.get(p('apiEndpoint')),
      optional: true,
      check: (v) => (/^[0-9.]+$/.test(v) ? addressCheck(d, () => vlan, `api/${ci}`)(v) : format('hostname')(v)),
    });
    if (endpoint) d.set(p('apiEndpoint'), endpoint);
    else d.delete(p('apiEndpoint'));
  }
  // kube-vip gives Traefik one address; without it Traefik answers at every node's.
  const ingress = await ask.text(`${name}: one address for Traefik, for the site's DNS (a free static address on the VLAN, which kube-vip holds; empty: every node's address)`, {
    default: d.get(p('ingressAddress')),
    optional: true,
    check: addressCheck(d, () => vlan, `ingress/${ci}`),
  });
  if (ingress) d.set(p('ingressAddress'), ingress);
  else d.delete(p('ingressAddress'));
  const nodes = d.raw().clusters![ci]!.nodes.filter((x) => !x.planned);
  const replicas = defaultReplicas(nodes.length);
  const profile = PROFILES[nodes.filter((x) => x.role === 'server').map((x) => x.hardware).sort((a, b) => (PROFILES[a].memoryGiB ?? 99) - (PROFILES[b].memoryGiB ?? 99))[0] ?? 'x86'].prometheus;
  const shown = (k: string[], def: string | number) => d.get(p('platform', ...k)) ?? def;
  const summary = `Longhorn replicas ${shown(['longhorn', 'replicas'], replicas)}; Prometheus keeps ${shown(['monitoring', 'retention'], profile.retention)} up to ${shown(['monitoring', 'retentionSize'], profile.retentionSize)} on a ${shown(['monitoring', 'storage'], profile.storage)} volume`;
  if (await ask.yes(`${name}: ${summary}. Change these?`, false)) {
    const r = await ask.text(`${name}: Longhorn replicas per volume`, { default: String(shown(['longhorn', 'replicas'], replicas)), check: (v) => whole(replicasField)(v) ?? replicasProblem(name, +v, nodes.length) });
    d.set(p('platform', 'longhorn', 'replicas'), Number(r));
    d.set(p('platform', 'monitoring', 'retention'), await ask.text(`${name}: Prometheus retention`, { default: String(shown(['monitoring', 'retention'], profile.retention)), check: format('prom-duration') }));
    d.set(p('platform', 'monitoring', 'retentionSize'), await ask.text(`${name}: Prometheus retention size`, { default: String(shown(['monitoring', 'retentionSize'], profile.retentionSize)), check: format('retention-size') }));
    d.set(p('platform', 'monitoring', 'storage'), await ask.text(`${name}: Prometheus volume size`, { default: String(shown(['monitoring', 'storage'], profile.storage)), check: format('quantity') }));
  }
  await askNotifications(d, ask, io, ci, pending);
}

/**
 * What the answers leave to do once the inventory is written: a new age key
 * for the owner's keys file, and notification targets to encrypt into the
 * repository. Secrets are never part of the inventory.
 */
interface Pending {
  repo: string;
  keys: Map<string, ClusterKey>;
  notify: Map<string, { key: 'address' | 'token'; value: string }>;
}

const NOTIFY_TARGETS = ['none', 'discord', 'slack', 'generic', 'telegram'] as const;

/** Why a notification target is not one Flux's Provider of that type can send to. */
function notifyTargetProblem(type: (typeof NOTIFY_TARGETS)[number], v: string): string | undefined {
  if (type === 'telegram') return /^\d+:[A-Za-z0-9_-]{20,}$/.test(v) ? undefined : 'expected the bot token BotFather gave, such as 123456789:AAF...';
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return 'expected a URL such as https://...';
  }
  // ntfy or a home-automation hook on the LAN may be plain HTTP; Discord and Slack are not.
  if (url.protocol !== 'https:' && !(type === 'generic' && url.protocol === 'http:')) return `expected an https:// URL${type === 'generic' ? ' (or http://)' : ''}`;
  if (type === 'discord' && !/^\/api\/webhooks\/\d+\/[\w-]+$/.test(url.pathname)) return 'expected a Discord webhook URL: https://discord.com/api/webhooks/ID/TOKEN (channel settings, Integrations, Webhooks)';
  if (type === 'slack' && url.hostname !== 'hooks.slack.com') return 'expected a Slack incoming-webhook URL: https://hooks.slack.com/services/...';
  return undefined;
}

/** Whether the repository already holds this cluster's notify secret with the key the target needs. */
async function hasNotifySecret(repo: string, cluster: string, key: string): Promise<string | undefined> {
  const file = secretFile({ name: cluster }, NOTIFY_REF);
  const text = await readIfExists(join(repo, file));
  if (text === undefined) return undefined;
  const doc = parseDocument(text);
  return doc.hasIn(['stringData', key]) || doc.hasIn(['data', key]) ? file : undefined;
}

async function askNotifications(d: Draft, ask: Ask, io: Io, ci: number, pending: Pending): Promise<void> {
  const p = (...k: string[]) => ['clusters', ci, ...k];
  const name = d.get<string>(p('name'))!;
  const type = await ask.choose(`${name}: where do Flux's failures and the site's alerts go? (generic: ntfy or any URL that takes a JSON POST)`, NOTIFY_TARGETS, d.get(p('notifications', 'type')) ?? 'none');
  if (type === 'none') {
    d.delete(p('notifications'));
    return;
  }
  if (!d.get(p('secrets', 'ageRecipient'))) {
    io.out(`  the ${type === 'telegram' ? 'bot token' : 'webhook URL'} is kept in Git, encrypted with ${name}'s own age key, which it has not got yet`);
    if (!(await ask.yes(`${name}: make its age key now? (the private key goes into ${ageKeysFile()}, 0600; keep a copy of that file; the public key into the inventory)`, true))) {
      io.out(`  no notifications for ${name}: they need its key (bramble secret init -c ${name} makes one later)`);
      d.delete(p('notifications'));
      return;
    }
    const key = await newClusterKey();
    pending.keys.set(name, key);
    d.set(p('secrets', 'ageRecipient'), key.recipient);
  }
  d.set(p('notifications', 'type'), type);
  if (type === 'telegram') {
    const chat = await ask.text(`${name}: Telegram chat id the bot writes to (a number; groups are negative)`, { default: d.get(p('notifications', 'chatId'))?.toString(), check: (v) => (/^-?\d+$/.test(v) ? undefined : 'expected a whole number such as -1001234567890') });
    d.set(p('notifications', 'chatId'), Number(chat));
  } else d.delete(p('notifications', 'chatId'));
  const severity = await ask.choose(`${name}: which Flux events? (error: failures only; info: every reconciliation too)`, ['error', 'info'] as const, d.get(p('notifications', 'severity')) ?? 'error');
  if (severity === 'info' || d.get(p('notifications', 'severity')) !== undefined) d.set(p('notifications', 'severity'), severity);
  const key = notifyKey(type);
  const what = type === 'telegram' ? 'Telegram bot token' : `${type === 'generic' ? '' : type[0]!.toUpperCase() + type.slice(1) + ' '}webhook URL`;
  const kept = await hasNotifySecret(pending.repo, name, key);
  if (kept && (await ask.yes(`${name}: keep the ${what} already in ${kept}?`, true))) return;
  const value = await ask.secret(`${name}: ${what} (typed hidden; kept encrypted in Git, never in the inventory)`, (v) => notifyTargetProblem(type, v));
  pending.notify.set(name, { key, value });
}

async function askClusters(d: Draft, ask: Ask, io: Io, pending: Pending): Promise<void> {
  const n = d.count(['clusters']);
  for (let i = 0; i < Math.max(n, 1); i++) await askCluster(d, ask, io, i, pending);
  while (await ask.yes('Add another cluster?', false)) await askCluster(d, ask, io, d.count(['clusters']), pending);
  const path = ['defaults', 'platform', 'traefik', 'dashboard', 'allowFrom'];
  const vlans = d.raw().vlans ?? [];
  // Offered: what the file says, else the VLANs marked trusted, else the clusters' own VLANs.
  const trusted = vlans.filter((v) => v.trusted).map((v) => String(v.id));
  const current = d.get<string[]>(path) ?? (trusted.length > 0 ? trusted : [...new Set((d.raw().clusters ?? []).map((c) => String(c.vlan)))]);
  const item = (x: string) => (/^\d+$/.test(x) ? vlans.find((v) => v.id === Number(x))?.subnet : isCidr(x) ? x : undefined);
  const answer = await ask.text('VLANs allowed to open Grafana and the Traefik dashboard (VLAN ids or CIDRs, comma-separated)', {
    default: current.join(', '),
    check: (v) => {
      const bad = v.split(',').map((x) => x.trim()).find((x) => !item(x));
      if (bad === undefined) return undefined;
      return /^\d+$/.test(bad) ? `VLAN ${bad} is not one of this site's VLANs (${vlans.map((x) => x.id).join(', ')})` : `expected VLAN ids such as 30 or CIDRs such as 192.168.30.0/24, separated by commas`;
    },
  });
  d.set(path, [...new Set(answer.split(',').map((x) => item(x.trim())!))], true);
}

function schemaLine(file: string): string {
  const schema = join(packageRoot(), 'docs', 'inventory.schema.json');
  return `# yaml-language-server: $schema=${relative(dirname(file), schema)}`;
}

export interface WizardOptions {
  /** A terminal is attached. */
  interactive: boolean;
  io: Io;
  /** How to ask; inquirer by default. */
  ask?: Ask;
  /** The Git work tree secrets are written into (default: .). */
  repo?: string;
  /** Run `plan` or `apply` on the written file. */
  next?: (command: 'plan' | 'apply', file: string) => Promise<number>;
}

export async function runWizard(file: string, o: WizardOptions): Promise<number> {
  const { io } = o;
  if (!o.interactive && !o.ask) {
    io.err(`bramble init asks questions and needs a terminal; none is attached. Without one, write the inventory by hand (start from inventory/homelab.yaml; docs/inventory.md describes every field), check it with "bramble validate -i FILE", then run "bramble apply -i FILE --yes".`);
    return 1;
  }
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const doc = existing === undefined ? new Document({}) : parseDocument(existing);
  if (doc.errors.length > 0) throw new WizardError(`${file} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it by hand or give init another file`);
  if (existing !== undefined && !isMap(doc.contents)) throw new WizardError(`${file} does not hold an inventory (a mapping at the top); give init another file`);
  const d = new Draft(doc, existing);
  const ask = o.ask ?? (await inquirerAsk());
  const pending: Pending = { repo: o.repo ?? '.', keys: new Map(), notify: new Map() };
  io.out(existing === undefined ? `Writing a new inventory: ${file}` : `Editing ${file}: its current values are the defaults; comments and everything not asked about stay as they are.`);
  try {
    io.out('\nThe site');
    await askSite(d, ask, io);
    io.out('\nVLANs');
    await askVlans(d, ask, io);
    io.out('\nThe NAS');
    await askNas(d, ask);
    io.out('\nThe GitOps repository');
    await askGit(d, ask);
    io.out('\nClusters');
    await askClusters(d, ask, io, pending);
  } catch (e) {
    if ((e as Error).name === 'ExitPromptError' || (e as Error).name === 'AbortPromptError') {
      io.err(`stopped; nothing was written${existing !== undefined ? ` and ${file} is as it was` : ''}`);
      return 130;
    }
    throw e;
  }

  let text = d.text();
  if (!text.startsWith('# yaml-language-server:')) text = `${schemaLine(file)}\n${text.startsWith('#') ? '' : '\n'}${text}`;
  let inv: ReturnType<typeof parseInventory>;
  try {
    inv = parseInventory(text, file);
  } catch (e) {
    io.err(`the answers do not make a valid inventory; nothing was written:\n${(e as Error).message}`);
    return 1;
  }
  // Where notification secrets go: the same default work tree render, plan and apply use (git.ts defaultWorkTree).
  if (o.repo === undefined) pending.repo = await (await import('./git.ts')).defaultWorkTree(file, inv.git.url);
  io.out('\nSummary');
  const raw = parseDocument(text).toJS() as RawInventory;
  io.out(`  site ${raw.site.name} (${raw.site.domain ?? DEFAULTS.domain}), ${raw.vlans.length} VLAN(s), Git ${raw.git.url} (${raw.git.branch ?? DEFAULTS.git.branch})`);
  if (raw.nas) io.out(`  NAS ${raw.nas.name} at ${raw.nas.address}: ${raw.nas.nfs.exports.map((e) => `${e.path} as ${e.storageClass}`).join(', ')}`);
  for (const c of raw.clusters) {
    io.out(`  cluster ${c.name} on VLAN ${c.vlan}: ${c.nodes.map((n) => `${n.name} (${n.hardware} ${n.role} ${n.address}${n.planned ? ', planned' : ''})`).join(', ')}`);
    const spec = inv.clusters.find((x) => x.name === c.name);
    if (spec) io.out(`    API at ${apiUrl(spec)}${spec.kubeVip?.address ? ' (held by kube-vip)' : ''}; Traefik at ${spec.platform.traefik.address ?? 'every node\'s address'}; dashboards open to ${spec.platform.traefik.allowFrom.join(', ')}`);
    if (!c.notifications) io.out('    notifications: none');
    if (c.notifications) io.out(`    notifications: ${c.notifications.type}${pending.notify.has(c.name) ? `, its ${notifyKey(c.notifications.type ?? "")} to be encrypted into ${join(pending.repo, secretFile(c, NOTIFY_REF))}` : ''}`);
    if (pending.keys.has(c.name)) io.out(`    a new age key: private key into ${ageKeysFile()}, public key ${pending.keys.get(c.name)!.recipient}`);
  }
  if (existing === text && pending.notify.size === 0) {
    io.out(`${file} is unchanged`);
  } else {
    if (!(await ask.yes(existing === text ? `Write the secrets (${file} is unchanged)?` : `Write ${file}?`, true))) {
      io.err('not written');
      return 1;
    }
    // The work tree the secrets go into, as publish would make it: before anything is written, so a remote that cannot be read stops here.
    if (pending.notify.size > 0 && !existsSync(pending.repo)) {
      const { ensureRepo } = await import('./git.ts');
      io.out(`${(await ensureRepo(pending.repo, inv.git.url, inv.git.branch)) === 'cloned' ? 'cloned' : 'created'} ${pending.repo} for ${inv.git.url}`);
    }
    // The private key first: an inventory naming a key nobody holds would lock its secrets away.
    for (const [name, key] of pending.keys) io.out(`cluster ${name}: age key ${key.recipient}; private key in ${await keepInKeysFile(key, `bramble: cluster ${name} of site ${inv.site.name}`)}`);
    if (existing !== text) {
      await writeAtomic(file, text, 0o644);
      io.out(`wrote ${file}`);
    }
    for (const [name, n] of pending.notify) {
      const r = await setSecretValue(pending.repo, inv.clusters.find((c) => c.name === name)!, NOTIFY_REF, n.key, n.value);
      io.out(`${join(pending.repo, r.file)}: ${n.key} ${r.action === 'unchanged' ? 'unchanged' : 'set, encrypted'}; bramble apply sends it`);
    }
  }
  if (o.next && (await ask.yes('Run "bramble plan" now (it reads the nodes and changes nothing)?', false))) {
    const code = await o.next('plan', file);
    if (code !== 0) return code;
    if (await ask.yes('Run "bramble apply" now?', false)) return o.next('apply', file);
  }
  return 0;
}
