// One rule per field, each a function that says what is wrong or nothing:
// validate's meaning checks (check.ts) and the wizard's questions ask the same
// rules, so a value the wizard accepts is one validate accepts.
import ipaddr from 'ipaddr.js';
import { FLUX_MIN_KUBERNETES } from './defaults.ts';
import type { RawVlan } from './schema.ts';

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

export function inPool(address: string, vlan: RawVlan): boolean {
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

export function poolText(v: RawVlan): string {
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
