// Meaning checks: an inventory can have the right shape and still describe a
// site that cannot work (an address in a DHCP pool, two etcd servers, a k3s
// too old for the Flux it will run). Each check names the field to fix.
import ipaddr from 'ipaddr.js';
import { FLUX_MIN_KUBERNETES, PINNED } from './defaults.ts';
import { activeNodes, defaultReplicas, gitHostOf, mergedPlatform } from './model.ts';
import { checkPlatformParts } from './check-platform.ts';
import { checkOsUpdates } from './check-os.ts';
import { isCron, longestGapMinutes } from './formats.ts';
import type { FieldPath, Finding } from './problems.ts';
import { apiUrlProblem, staticAddressProblem, serverCountProblem, k3sForFluxProblem, gitUrlProblem, vlanIdProblem, vlanNameProblem, subnetProblem, insideSubnetProblem, poolOrderProblem, exportPathProblem, storageClassProblem, clusterNameProblem, nodeNameProblem, addressTakenProblem, replicasProblem, versionTriple, inPool, poolText } from './rules.ts';
import type { RawInventory, RawVlan } from './schema.ts';

export type { Finding };


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

  out.push(...checkOsUpdates(raw));

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
