// A cluster's questions: its nodes, addresses, platform sizes and settings,
// and where its notifications go; then who may open the dashboards.
import { clusterNameProblem, nodeNameProblem, replicasProblem, serverCountProblem } from '../inventory/rules.ts';
import { PROFILES } from '../inventory/defaults.ts';
import { isCidr } from '../inventory/formats.ts';
import { defaultReplicas } from '../inventory/model.ts';
import type { Io } from '../base/io.ts';
import type { Ask } from './ask.ts';
import { addressCheck, format, replicasField, whole, type Draft } from './draft.ts';
import { askPlatform } from './platform.ts';
import { askNotifications, type Pending } from './secrets.ts';
import { chooseVlan } from './site.ts';

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
  const extras = [`TLS by ${d.get(p('platform', 'tls', 'issuer')) === 'letsencrypt' ? "Let's Encrypt" : 'a private CA'}`, d.get(p('platform', 'scanning', 'enabled')) ? 'Trivy scanning' : undefined, d.get(p('tunnel')) ? 'a Cloudflare Tunnel' : undefined].filter(Boolean).join('; ');
  const summary = `Longhorn replicas ${shown(['longhorn', 'replicas'], replicas)}; Prometheus keeps ${shown(['monitoring', 'retention'], profile.retention)} up to ${shown(['monitoring', 'retentionSize'], profile.retentionSize)} on a ${shown(['monitoring', 'storage'], profile.storage)} volume; ${extras}`;
  if (await ask.yes(`${name}: ${summary}. Change these?`, false)) {
    const r = await ask.text(`${name}: Longhorn replicas per volume`, { default: String(shown(['longhorn', 'replicas'], replicas)), check: (v) => whole(replicasField)(v) ?? replicasProblem(name, +v, nodes.length) });
    d.set(p('platform', 'longhorn', 'replicas'), Number(r));
    d.set(p('platform', 'monitoring', 'retention'), await ask.text(`${name}: Prometheus retention`, { default: String(shown(['monitoring', 'retention'], profile.retention)), check: format('prom-duration') }));
    d.set(p('platform', 'monitoring', 'retentionSize'), await ask.text(`${name}: Prometheus retention size`, { default: String(shown(['monitoring', 'retentionSize'], profile.retentionSize)), check: format('retention-size') }));
    d.set(p('platform', 'monitoring', 'storage'), await ask.text(`${name}: Prometheus volume size`, { default: String(shown(['monitoring', 'storage'], profile.storage)), check: format('quantity') }));
    await askPlatform(d, ask, io, ci, pending);
  }
  await askNotifications(d, ask, io, ci, pending);
}


export async function askClusters(d: Draft, ask: Ask, io: Io, pending: Pending): Promise<void> {
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

