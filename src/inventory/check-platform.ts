// Meaning checks of the round-3 platform parts of a cluster: TLS, the
// tunnel, scanning, and what zero-downtime drains need. Called by
// checkMeaning (check.ts) for each cluster, with its merged platform.
import { activeNodes } from './model.ts';
import type { FieldPath } from './problems.ts';
import type { RawCluster, RawInventory, RawPlatform } from './schema.ts';
import type { Finding } from './problems.ts';

/** Names public ACME cannot issue for, and that Cloudflare cannot publish: special-use and private-use suffixes. */
const PRIVATE_SUFFIX = /\.(arpa|local|lan|internal|home|localdomain|test|invalid|localhost|corp|private)$/i;

export function privateNameProblem(host: string, what: string): string | undefined {
  const m = PRIVATE_SUFFIX.exec(host);
  return m ? `${host} ends in .${m[1]!.toLowerCase()}, a name only the LAN knows: ${what}` : undefined;
}

export function checkPlatformParts(raw: RawInventory, c: RawCluster, cp: FieldPath, platform: RawPlatform, replicas: number, where: (...keys: string[]) => FieldPath): Finding[] {
  const out: Finding[] = [];
  const err = (path: FieldPath, message: string, onKey = false) => out.push({ path, message, onKey });
  const active = activeNodes(c);
  const nas = raw.nas;
  // Zero-downtime updates: a drain (an upgrade Plan, a reboot) takes one node's volume replicas offline.
  if ((c.environment ?? c.name) === 'production' && active.length > 1 && replicas < 2) {
    err(where('longhorn', 'replicas'), `cluster "${c.name}" is production with ${active.length} nodes, and one Longhorn replica per volume: draining any node for an upgrade or a reboot takes its volumes offline; use 2 or more`);
  }

  // TLS: Let's Encrypt issues for public names only, by DNS-01 through Cloudflare.
  const grafanaHost = platform.monitoring?.grafanaHost ?? `grafana.${c.name}.${raw.site.domain ?? 'home.arpa'}`;
  const dashboardHost = platform.traefik?.dashboard?.host ?? `traefik.${c.name}.${raw.site.domain ?? 'home.arpa'}`;
  if (platform.tls?.issuer === 'letsencrypt') {
    if (platform.tls.email === undefined) err(where('tls', 'issuer'), "letsencrypt needs the ACME account's e-mail address: tls.email");
    if (!c.secrets) err(where('tls', 'issuer'), `the Cloudflare API token for DNS-01 is a secret, kept in Git encrypted: cluster ${c.name} needs secrets.ageRecipient first (bramble secret init -c ${c.name})`);
    for (const [host, field] of [[grafanaHost, 'monitoring.grafanaHost'], [dashboardHost, 'traefik.dashboard.host']] as const) {
      const why = privateNameProblem(host, `Let's Encrypt cannot issue for it; use issuer private-ca, or a name under a domain you hold (${field}, or site.domain)`);
      if (why) err(where('tls', 'issuer'), why);
    }
  } else if (platform.tls?.email !== undefined) {
    err(where('tls', 'email'), 'email is the ACME account of issuer letsencrypt; the private CA has none', true);
  }

  // The tunnel publishes names on the internet: only public ones, each once, and never the dashboards without saying so.
  if (c.tunnel) {
    const tp: FieldPath = [...cp, 'tunnel'];
    if (!c.secrets) err(tp, `the tunnel's token is a secret, kept in Git encrypted: cluster ${c.name} needs secrets.ageRecipient first (bramble secret init -c ${c.name})`);
    c.tunnel.hostnames.forEach((h, i) => {
      const why = privateNameProblem(h, 'Cloudflare publishes names of a zone you hold there');
      if (why) err([...tp, 'hostnames', i], why);
      if (h === grafanaHost || h === dashboardHost) {
        out.push({ path: [...tp, 'hostnames', i], message: `${h} publishes ${h === grafanaHost ? 'Grafana' : 'the Traefik dashboard'} on the internet, where the allow-list of trusted VLANs sees Cloudflare's addresses instead of yours; leave it out unless that is what you want`, warning: true });
      }
    });
    if (c.tunnel.receiver !== undefined) {
      const why = privateNameProblem(c.tunnel.receiver, 'GitHub calls the Receiver from the internet');
      if (why) err([...tp, 'receiver'], why);
      if (c.tunnel.hostnames.includes(c.tunnel.receiver)) err([...tp, 'receiver'], `${c.tunnel.receiver} is also in tunnel.hostnames; the Receiver needs a name of its own`);
    }
  }

  // Trivy's database volume: Longhorn, or an NFS export the cluster uses.
  if (platform.scanning?.cache !== undefined && platform.scanning.cache !== 'longhorn') {
    const used = nas?.nfs.exports.filter((e) => platform.nfs?.exports === undefined || platform.nfs.exports.includes(e.storageClass)).map((e) => e.storageClass) ?? [];
    if (!used.includes(platform.scanning.cache)) err(where('scanning', 'cache'), `"${platform.scanning.cache}" is not a StorageClass of cluster "${c.name}"; use longhorn${used.length ? ` or ${used.join(', ')}` : ''}`);
  }
  return out;
}
