// Meaning checks: an inventory can have the right shape and still describe a
// site that cannot work (an address in a DHCP pool, two etcd servers, a k3s
// too old for the Flux it will run). Each check names the field to fix.
import ipaddr from 'ipaddr.js';
import { FLUX_MIN_KUBERNETES, PINNED } from './defaults.ts';
import { activeNodes, defaultReplicas, gitHostOf, mergedPlatform } from './model.ts';
import { checkPlatformParts } from './check-platform.ts';
import { isCron, longestGapMinutes } from './formats.ts';
import type { FieldPath } from './problems.ts';
import type { RawInventory, RawVlan } from './schema.ts';

export { privateNameProblem } from './check-platform.ts';

export interface Finding {
  path: FieldPath;
  message: string;
  /** Place the error on the key, for fields that should not be there. */
  onKey?: boolean;
  /** Said, not refused: the inventory is valid, and validate names the risk. */
  warning?: boolean;
}


type V4 = ipaddr.IPv4;

function addr(s: string): V4 {
  return ipaddr.IPv4.parse(s);
}

function toInt(a: V4): number {
  return a.octets.reduce((acc, o) => acc * 256 + o, 0);
}

function inSubnet(address: string, cidr: string): boolean {
  return addr(address).match(ipaddr.IPv4.parseCIDR(cidr));
}

function inPool(address: string, vlan: RawVlan): boolean {
  if (!vlan.dhcp) return false;
  const a = toInt(addr(address));
  return a >= toInt(addr(vlan.dhcp.start)) && a <= toInt(addr(vlan.dhcp.end));
}

function subnetRange(cidr: string): [number, number] {
  const [base, bits] = ipaddr.IPv4.parseCIDR(cidr);
  const size = 2 ** (32 - bits);
  const start = Math.floor(toInt(base) / size) * size;
  return [start, start + size - 1];
}

function poolText(v: RawVlan): string {
  return `${v.dhcp!.start}-${v.dhcp!.end}`;
}

/**
 * Why the token may not be sent to `baseUrl`, or undefined when it may: https
 * only. Loopback addresses (127.0.0.0/8, ::1, localhost) are the one explicit
 * exception, for an API on this machine (a local proxy, the tests' stand-in):
 * plain http there never leaves the machine.
 */
export function apiUrlProblem(baseUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return `${baseUrl} is not a URL`;
  }
  if (u.protocol === 'https:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (u.protocol === 'http:' && loopback) return undefined;
  return `the GitHub API at ${u.protocol}//${u.host} is not https; the GitHub token is sent there, so it must be an https:// URL (plain http only on this machine's loopback)`;
}

/**
 * Why `address` cannot be a static address on `vlan`: outside its subnet,
 * inside any VLAN's DHCP pool, or the network or broadcast address. The
 * wizard asks this of every address as it is typed.
 */
export function staticAddressProblem(address: string, vlan: RawVlan | undefined, vlans: readonly RawVlan[]): string | undefined {
  if (vlan && !inSubnet(address, vlan.subnet)) return `${address} is outside VLAN ${vlan.id} (${vlan.name}) subnet ${vlan.subnet}`;
  for (const v of vlans) {
    if (inPool(address, v)) return `${address} is inside the DHCP pool of VLAN ${v.id} (${v.name}) ${poolText(v)}; use a static address outside it`;
  }
  if (vlan) {
    const [s, e] = subnetRange(vlan.subnet);
    const a = toInt(addr(address));
    if (a === s || a === e) return `${address} is the ${a === s ? 'network' : 'broadcast'} address of ${vlan.subnet}`;
  }
  return undefined;
}

// Rules the wizard also asks of single answers, with the same words.

/** Why a cluster's number of (non-planned) servers does not work with embedded etcd. */
export function serverCountProblem(cluster: string, servers: number): string | undefined {
  if (servers === 0) return `cluster "${cluster}" has no server to install (planned nodes do not count)`;
  if (servers === 2) return `cluster "${cluster}" has 2 servers: embedded etcd loses quorum when either is down; use 1 or 3`;
  if (servers % 2 === 0) return `cluster "${cluster}" has ${servers} servers: etcd needs an odd number (1, 3, 5...) to keep quorum`;
  return undefined;
}

/** Why k3s `k3s` is too old for Flux `flux` (a Flux release bramble knows). */
export function k3sForFluxProblem(k3s: string, flux: string): string | undefined {
  const [maj, min] = versionTriple(flux);
  const need = FLUX_MIN_KUBERNETES[`${maj}.${min}`];
  if (!need || !lessThan(versionTriple(k3s), need)) return undefined;
  return `k3s ${k3s} runs Kubernetes ${versionTriple(k3s).join('.')}, but Flux ${flux} needs Kubernetes ${need.join('.')} or newer`;
}

/**
 * Why a repository URL will not do: Flux reads the repository with an SSH
 * deploy key, so it must be an SSH URL (ssh://, or scp-like user@host:path,
 * which the rendered GitRepository gets as ssh://). An https:// URL would need
 * a token on the cluster, which bramble does not manage; a path or file:// URL
 * names a place the cluster cannot read.
 */
export function gitUrlProblem(url: string): string | undefined {
  if (/^ssh:\/\//i.test(url)) return undefined;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    if (/^[^/@:]+@[^/:]+:|^[A-Za-z0-9.-]+:[^/]/.test(url)) return undefined;
    return `${url} is a local path; Flux on the cluster cannot read it: use the SSH URL of the repository's server, e.g. ssh://git@HOST/OWNER/REPO.git`;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${url} is not a URL`;
  }
  if (u.protocol === 'file:') return `${url} is a local path; Flux on the cluster cannot read it: use the SSH URL of the repository's server, e.g. ssh://git@HOST/OWNER/REPO.git`;
  return `Flux reads the repository with an SSH deploy key, so git.url must be an SSH URL: use ssh://git@${u.hostname}${u.pathname} (with :PORT after the host when its SSH server is not on 22), or git@${u.hostname}:${u.pathname.replace(/^\//, '')}`;
}

// One rule per fact about a single answer, asked by checkMeaning for the
// whole file and by the wizard as each answer is typed, so both say the same.

/** Why VLAN id `id` cannot be used beside the `others`. */
export function vlanIdProblem(id: number, others: readonly RawVlan[]): string | undefined {
  return others.some((o) => o.id === id) ? `VLAN id ${id} is used twice` : undefined;
}

export function vlanNameProblem(name: string, others: readonly RawVlan[]): string | undefined {
  return others.some((o) => o.name === name) ? `VLAN name "${name}" is used twice` : undefined;
}

/** Why `cidr` cannot be a VLAN's subnet: host bits set, or an overlap with one of `others`. */
export function subnetProblem(cidr: string, others: readonly RawVlan[]): string | undefined {
  const [base, bits] = ipaddr.IPv4.parseCIDR(cidr);
  const network = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
  if (base.toString() !== network) return `${cidr} has host bits set; the network is ${network}/${bits}`;
  const [s, e] = subnetRange(cidr);
  const clash = others.find((o) => {
    const [os, oe] = subnetRange(o.subnet);
    return s <= oe && os <= e;
  });
  return clash ? `${cidr} overlaps VLAN ${clash.id}'s subnet ${clash.subnet}` : undefined;
}

/** Why `address` cannot be on a VLAN whose subnet is `subnet`. */
export function insideSubnetProblem(address: string, subnet: string): string | undefined {
  return inSubnet(address, subnet) ? undefined : `${address} is outside the VLAN's subnet ${subnet}`;
}

/** Why a DHCP pool from `start` to `end` is backwards. */
export function poolOrderProblem(start: string, end: string): string | undefined {
  return toInt(addr(start)) > toInt(addr(end)) ? `the pool starts (${start}) after it ends (${end})` : undefined;
}

/**
 * The characters an export path may use. It reaches a StorageClass, a mount
 * command and Longhorn's nfs:// backup target URL, where a quote, '#', '$',
 * a backslash, a backtick or a space would break the URL or be read as
 * syntax; no NAS's export needs them.
 */
const EXPORT_PATH = /^\/[A-Za-z0-9._~+@:,=/-]*$/;

export function exportPathProblem(path: string, others: ReadonlyArray<{ path: string }>): string | undefined {
  const bad = [...new Set([...path].filter((ch) => !/[A-Za-z0-9._~+@:,=/-]/.test(ch)))];
  if (!EXPORT_PATH.test(path) && bad.length > 0) return `export path ${JSON.stringify(path)} has ${bad.map((c) => JSON.stringify(c)).join(', ')}: an NFS export path may use letters, digits and . _ ~ + @ : , = - / only (it goes into Longhorn's nfs:// URL and the mount command)`;
  return others.some((o) => o.path === path) ? `export ${path} is listed twice` : undefined;
}

/** Why `name` cannot be the StorageClass of an NFS export beside the `others`. */
export function storageClassProblem(name: string, others: ReadonlyArray<{ storageClass: string }>): string | undefined {
  if (name === 'longhorn') return '"longhorn" is the StorageClass Longhorn creates; choose another name';
  return others.some((o) => o.storageClass === name) ? `StorageClass "${name}" is named by two exports` : undefined;
}

export function clusterNameProblem(name: string, others: readonly string[]): string | undefined {
  return others.includes(name) ? `cluster name "${name}" is used twice` : undefined;
}

/** Why a node cannot be called `name`; `taken` maps names in use to the cluster that has them. */
export function nodeNameProblem(name: string, taken: ReadonlyMap<string, string>): string | undefined {
  const prior = taken.get(name);
  return prior !== undefined ? `node name "${name}" is already used in cluster ${prior}; k3s needs unique hostnames` : undefined;
}

/** Why `address` cannot be given out again; `used` maps addresses to what has them. */
export function addressTakenProblem(address: string, used: ReadonlyMap<string, string>): string | undefined {
  const prior = used.get(address);
  return prior !== undefined ? `address ${address} is already used by ${prior}` : undefined;
}

/** Why `replicas` Longhorn replicas do not fit a cluster of `nodes` nodes to install. */
export function replicasProblem(cluster: string, replicas: number, nodes: number): string | undefined {
  return replicas > nodes ? `${replicas} Longhorn replicas need ${replicas} nodes; cluster "${cluster}" has ${nodes} to install, so volumes would stay degraded` : undefined;
}

/** [major, minor, patch] of a k3s release or semver string. */
export function versionTriple(v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

/** <0, 0, >0 as version `a` (major.minor.patch, a leading v allowed) is older than, the same as, or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const x = versionTriple(a);
  const y = versionTriple(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

function lessThan(a: [number, number, number], b: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export function checkMeaning(raw: RawInventory): Finding[] {
  const out: Finding[] = [];
  const err = (path: FieldPath, message: string, onKey = false) => out.push({ path, message, onKey });

  // VLANs: unique, self-consistent, not overlapping.
  const vlanById = new Map<number, RawVlan>();
  raw.vlans.forEach((v, i) => {
    const p = ['vlans', i];
    const earlier = raw.vlans.slice(0, i);
    // The first VLAN with an id is the one clusters mean; a repeat is its own error.
    const repeat = vlanIdProblem(v.id, earlier);
    if (repeat) err([...p, 'id'], repeat);
    else vlanById.set(v.id, v);
    const name = vlanNameProblem(v.name, earlier);
    if (name) err([...p, 'name'], name);
    const subnet = subnetProblem(v.subnet, earlier);
    if (subnet) err([...p, 'subnet'], subnet);
    const gateway = insideSubnetProblem(v.gateway, v.subnet);
    if (gateway) err([...p, 'gateway'], `gateway ${gateway}`);
    if (v.dhcp) {
      for (const end of ['start', 'end'] as const) {
        const outside = insideSubnetProblem(v.dhcp[end], v.subnet);
        if (outside) err([...p, 'dhcp', end], outside);
      }
      const order = poolOrderProblem(v.dhcp.start, v.dhcp.end);
      if (order) err([...p, 'dhcp', 'end'], order);
      if (inPool(v.gateway, v)) err([...p, 'gateway'], `gateway ${v.gateway} is inside the VLAN's own DHCP pool ${poolText(v)}`);
    }
  });

  // Every address is used once across the site.
  const seenAddress = new Map<string, string>();
  const claim = (address: string, path: FieldPath, what: string) => {
    const taken = addressTakenProblem(address, seenAddress);
    if (taken) err(path, taken);
    else seenAddress.set(address, what);
  };
  raw.vlans.forEach((v, i) => claim(v.gateway, ['vlans', i, 'gateway'], `the gateway of VLAN ${v.id}`));

  const staticAddress = (address: string, path: FieldPath, vlan: RawVlan | undefined) => {
    const why = staticAddressProblem(address, vlan, raw.vlans);
    if (why) err(path, why);
  };

  // NAS
  const nas = raw.nas;
  if (nas) {
    const vlan = vlanById.get(nas.vlan);
    if (!vlan) err(['nas', 'vlan'], `no VLAN with id ${nas.vlan}; known: ${[...vlanById.keys()].join(', ')}`);
    staticAddress(nas.address, ['nas', 'address'], vlan);
    claim(nas.address, ['nas', 'address'], 'the NAS');
    nas.nfs.exports.forEach((e, i) => {
      const p = ['nas', 'nfs', 'exports', i];
      const earlier = nas.nfs.exports.slice(0, i);
      const sc = storageClassProblem(e.storageClass, earlier);
      if (sc) err([...p, 'storageClass'], sc);
      const path = exportPathProblem(e.path, earlier);
      if (path) err([...p, 'path'], path);
    });
  }

  // Clusters and nodes
  const nodeNames = new Map<string, string>();
  raw.clusters.forEach((c, ci) => {
    const cp = ['clusters', ci];
    const name = clusterNameProblem(c.name, raw.clusters.slice(0, ci).map((o) => o.name));
    if (name) err([...cp, 'name'], name);
    const vlan = vlanById.get(c.vlan);
    if (!vlan) err([...cp, 'vlan'], `no VLAN with id ${c.vlan}; known: ${[...vlanById.keys()].join(', ')}`);

    c.nodes.forEach((n, ni) => {
      const np = [...cp, 'nodes', ni];
      const taken = nodeNameProblem(n.name, nodeNames);
      if (taken) err([...np, 'name'], taken);
      else nodeNames.set(n.name, c.name);
      staticAddress(n.address, [...np, 'address'], vlan);
      claim(n.address, [...np, 'address'], `node ${n.name}`);
      for (const [k, v] of Object.entries(n.labels ?? {})) {
        if (!LABEL_KEY.test(k)) err([...np, 'labels', k], `"${k}" is not a valid Kubernetes label key`, true);
        else if (!LABEL_VALUE.test(v)) err([...np, 'labels', k], `"${v}" is not a valid Kubernetes label value (at most 63 of A-Z a-z 0-9 - _ .)`);
      }
    });

    // An API address (a VIP) is a static address on the cluster's VLAN like a node's; a DNS name is the owner's to resolve.
    if (c.apiEndpoint && ipaddr.IPv4.isValidFourPartDecimal(c.apiEndpoint)) {
      staticAddress(c.apiEndpoint, [...cp, 'apiEndpoint'], vlan);
      claim(c.apiEndpoint, [...cp, 'apiEndpoint'], `the API address of cluster ${c.name}`);
    }
    if (c.ingressAddress) {
      staticAddress(c.ingressAddress, [...cp, 'ingressAddress'], vlan);
      claim(c.ingressAddress, [...cp, 'ingressAddress'], `the ingress address of cluster ${c.name}`);
      if ((c.k3s?.kubeVip?.enabled ?? raw.site.k3s.kubeVip?.enabled) === false) {
        err([...cp, 'ingressAddress'], `kube-vip holds the ingress address, and k3s.kubeVip.enabled is false for cluster ${c.name}: turn kube-vip on, or leave ingressAddress out (Traefik then answers at every node's address)`);
      }
    }

    const n = c.notifications;
    if (n && !n.type && !n.email) err([...cp, 'notifications'], 'notifications need somewhere to go: a webhook type, an email, or both');
    if (n?.type === 'telegram' && n.chatId === undefined) err([...cp, 'notifications'], 'a telegram bot needs the chat to write to: notifications.chatId');
    if (n && n.type !== 'telegram' && n.chatId !== undefined) err([...cp, 'notifications', 'chatId'], n.type ? `chatId is for telegram; a ${n.type} webhook's URL names its destination` : 'chatId is for telegram, and notifications has no type');
    if (n?.type && !c.secrets) {
      err([...cp, 'notifications'], `the webhook URL is a secret, kept in Git encrypted: cluster ${c.name} needs secrets.ageRecipient first (bramble secret init -c ${c.name})`);
    } else if (n?.email?.username && !c.secrets) {
      err([...cp, 'notifications', 'email', 'username'], `the SMTP password is a secret, kept in Git encrypted: cluster ${c.name} needs secrets.ageRecipient first (bramble secret init -c ${c.name})`);
    }

    if (c.backup) {
      const b = c.backup;
      const bp: FieldPath = [...cp, 'backup'];
      if (!nas) err([...bp, 'target'], `backups go to the NAS, but the inventory has no nas`);
      else {
        if (b.target === 's3') {
          if (!nas.s3) err([...bp, 'target'], `target s3 needs the NAS's S3 service declared: nas.s3 (MinIO's port, tls, region)`);
          if (b.bucket === undefined) err(bp, 'target s3 needs the bucket: backup.bucket');
          if (!c.secrets) err([...bp, 'target'], `the S3 access keys are secrets, kept in Git encrypted: cluster ${c.name} needs secrets.ageRecipient first (bramble secret init -c ${c.name})`);
        } else if (b.export === undefined) {
          err(bp, `target nfs needs the export: backup.export, one of ${nas.nfs.exports.map((e) => e.path).join(', ')}`);
        } else if (!nas.nfs.exports.some((e) => e.path === b.export)) {
          err([...bp, 'export'], `${b.export} is not an export of ${nas.name}; declared: ${nas.nfs.exports.map((e) => e.path).join(', ')}`);
        }
        const snap = b.critical?.snapshot?.schedule;
        if (snap !== undefined && isCron(snap) && longestGapMinutes(snap) > 5) {
          out.push({ path: [...bp, 'critical', 'snapshot', 'schedule'], message: `"${snap}" leaves up to ${longestGapMinutes(snap)} minutes between snapshots of the critical volumes: more than the site's RPO of 5 minutes`, warning: true });
        }
        if (b.target === 'nfs' && b.bucket !== undefined) err([...bp, 'bucket'], 'bucket is for target s3; an NFS target is an export');
        if (b.target === 's3' && b.export !== undefined) err([...bp, 'export'], 'export is for target nfs; an S3 target is a bucket');
        if (vlan && nas.vlan !== c.vlan) err([...bp, 'target'], `cluster "${c.name}" is on VLAN ${c.vlan} but the NAS is on VLAN ${nas.vlan}: backups would cross the router; put them on one VLAN`);
      }
    }

    const active = activeNodes(c);
    const servers = active.filter((n) => n.role === 'server');
    if (c.backup?.etcd && servers.length < 2 && c.datastore !== 'etcd') {
      err([...cp, 'backup', 'etcd'], `cluster "${c.name}" has one server on sqlite, which has no etcd to snapshot: set datastore: etcd (k3s runs embedded etcd on one server too) or leave backup.etcd out (docs/backup.md)`);
    }
    const serverCount = serverCountProblem(c.name, servers.length);
    if (serverCount) err([...cp, 'nodes'], serverCount);
    if (c.datastore === 'sqlite' && servers.length > 1) {
      err([...cp, 'datastore'], `sqlite serves a single server; cluster "${c.name}" has ${servers.length}: use etcd`);
    }

    const platform = mergedPlatform(raw, c);
    // Point at the value where it was written: the cluster's own, else the site default.
    const where = (...keys: string[]): FieldPath => {
      let node: unknown = c.platform;
      for (const k of keys) node = (node as Record<string, unknown> | undefined)?.[k];
      return node !== undefined ? [...cp, 'platform', ...keys] : ['defaults', 'platform', ...keys];
    };

    const k3s = c.k3s?.version ?? raw.site.k3s.version;
    const k3sPath: FieldPath = c.k3s?.version ? [...cp, 'k3s', 'version'] : ['site', 'k3s', 'version'];
    const flux = platform.flux?.version ?? PINNED.flux;
    {
      const [maj, min] = versionTriple(flux);
      const need = FLUX_MIN_KUBERNETES[`${maj}.${min}`];
      if (!need) {
        err(where('flux', 'version'), `Flux ${flux} is not a release bramble renders; supported: ${Object.keys(FLUX_MIN_KUBERNETES).map((v) => v + '.x').join(', ')}`);
      } else {
        const old = k3sForFluxProblem(k3s, flux);
        if (old) err(k3sPath, `${old} (cluster "${c.name}")`);
      }
    }

    const replicas = platform.longhorn?.replicas ?? defaultReplicas(active.length);
    const fit = replicasProblem(c.name, replicas, active.length);
    if (fit) err(where('longhorn', 'replicas'), fit);
    if (!fit) out.push(...checkPlatformParts(raw, c, cp, platform, replicas, where));

    (platform.nfs?.exports ?? []).forEach((name, i) => {
      if (!nas) err([...where('nfs', 'exports'), i], `"${name}" names a NAS export, but the inventory has no nas`);
      else if (!nas.nfs.exports.some((e) => e.storageClass === name)) {
        err([...where('nfs', 'exports'), i], `no NAS export backs StorageClass "${name}"; known: ${nas.nfs.exports.map((e) => e.storageClass).join(', ')}`);
      }
    });
    const usesNfs = nas && (platform.nfs?.exports === undefined || platform.nfs.exports.length > 0);
    if (usesNfs && vlan && nas.vlan !== c.vlan) {
      err([...cp, 'vlan'], `cluster "${c.name}" is on VLAN ${c.vlan} but the NAS is on VLAN ${nas.vlan}: NFS traffic would cross the router; put them on one VLAN or set platform.nfs.exports: []`);
    }
  });

  const git = raw.git;
  const provider = git.provider ?? (gitHostOf(git.url) === 'github.com' ? 'github' : 'ssh');
  const urlForm = gitUrlProblem(git.url);
  if (urlForm) err(['git', 'url'], urlForm);
  if (provider === 'ssh' && git.apiUrl !== undefined) err(['git', 'apiUrl'], 'apiUrl is for provider github (GitHub Enterprise); this repository is on a plain SSH Git host', true);
  const apiProblem = provider === 'github' && git.apiUrl !== undefined ? apiUrlProblem(git.apiUrl) : undefined;
  if (apiProblem) err(['git', 'apiUrl'], apiProblem);
  if (provider === 'github' && git.hostKey !== undefined) err(['git', 'hostKey'], "hostKey is for a plain SSH Git host; GitHub's keys come from its API", true);
  const schedule = git.renovate?.schedule;
  if (schedule !== undefined && isCron(schedule) && schedule.trim().split(/\s+/)[0] !== '*') {
    err(['git', 'renovate', 'schedule'], `Renovate takes cron schedules with * in the minute field only (it runs when it runs within the hours given): write "* ${schedule.trim().split(/\s+/).slice(1).join(' ')}"`);
  }

  // A site default is checked for each cluster it reaches; it is one mistake, said once.
  const seen = new Set<string>();
  return out.filter((f) => {
    const k = `${f.path.join('.')}\u0000${f.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
