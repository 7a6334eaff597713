// A cluster's platform questions beyond sizes: who signs its certificates,
// whether Trivy scans it, and what a Cloudflare Tunnel publishes. Asked when
// the owner chooses to change the platform's settings; each answer is held
// to validate's own rules (inventory/check.ts).
import { privateNameProblem } from '../inventory/check-platform.ts';
import { DEFAULTS } from '../inventory/defaults.ts';
import { CLOUDFLARE_TOKEN, TUNNEL_TOKEN } from '../site/secrets.ts';
import type { Io } from '../base/io.ts';
import type { Ask } from './ask.ts';
import { format, type Draft } from './draft.ts';
import { askSecret, ensureClusterKey, type Pending } from './secrets.ts';

/** The names bramble serves for the cluster, as the inventory resolves them. */
function servedNames(d: Draft, ci: number): { grafana: string; dashboard: string } {
  const name = d.get<string>(['clusters', ci, 'name'])!;
  const domain = d.get<string>(['site', 'domain']) ?? DEFAULTS.domain;
  const own = (k: string[]) => d.get<string>(['clusters', ci, 'platform', ...k]) ?? d.get<string>(['defaults', 'platform', ...k]);
  return { grafana: own(['monitoring', 'grafanaHost']) ?? `grafana.${name}.${domain}`, dashboard: own(['traefik', 'dashboard', 'host']) ?? `traefik.${name}.${domain}` };
}

export async function askPlatform(d: Draft, ask: Ask, io: Io, ci: number, pending: Pending): Promise<void> {
  const p = (...k: string[]) => ['clusters', ci, ...k];
  const name = d.get<string>(p('name'))!;
  const names = servedNames(d, ci);

  // TLS: the private CA unless the names are public and the owner holds their domain at Cloudflare.
  const lanOnly = privateNameProblem(names.grafana, '') ?? privateNameProblem(names.dashboard, '');
  const issuer = await ask.choose(
    `${name}: who signs the certificates of ${names.grafana} and ${names.dashboard}? (private-ca: the cluster's own CA, for LAN names; letsencrypt: for a public domain at Cloudflare)`,
    ['private-ca', 'letsencrypt'] as const,
    d.get(p('platform', 'tls', 'issuer')) ?? 'private-ca',
  );
  if (issuer === 'letsencrypt' && lanOnly) {
    io.out(`  ${names.grafana} is a name only the LAN knows: Let's Encrypt cannot issue for it, so ${name} keeps its private CA (give the site a public domain first)`);
  }
  if (issuer === 'letsencrypt' && !lanOnly && (await ensureClusterKey(d, ask, io, ci, pending, 'the Cloudflare API token'))) {
    d.set(p('platform', 'tls', 'issuer'), 'letsencrypt');
    d.set(p('platform', 'tls', 'email'), await ask.text(`${name}: e-mail address for the Let's Encrypt account`, { default: d.get(p('platform', 'tls', 'email')), check: format('email') }));
    await askSecret(ask, pending, name, CLOUDFLARE_TOKEN, 'api-token', 'Cloudflare API token (Zone:DNS:Edit on the domain)', (v) => (/^\S{20,}$/.test(v) ? undefined : 'expected the token Cloudflare showed, at least 20 characters without spaces'));
  } else d.delete(p('platform', 'tls'));

  const scanning = await ask.yes(`${name}: scan its running images for vulnerabilities with Trivy Operator (about 0.5 GiB of memory; an alert on critical ones)?`, d.get(p('platform', 'scanning', 'enabled')) ?? false);
  if (scanning) d.set(p('platform', 'scanning', 'enabled'), true);
  else d.delete(p('platform', 'scanning'));

  // The way in from the internet: only the names listed here.
  const hostnames = await ask.text(`${name}: public names to publish through a Cloudflare Tunnel (comma-separated; empty: none)`, {
    default: d.get<string[]>(p('tunnel', 'hostnames'))?.join(', '),
    optional: true,
    check: (v) => {
      for (const h of v.split(',').map((x) => x.trim())) {
        const why = format('hostname')(h) ?? privateNameProblem(h, 'Cloudflare publishes names of a zone you hold there');
        if (why) return why;
      }
      return undefined;
    },
  });
  if (!hostnames) {
    d.delete(p('tunnel'));
    return;
  }
  if (!(await ensureClusterKey(d, ask, io, ci, pending, "the tunnel's token"))) {
    io.out(`  no tunnel for ${name}: its token needs the cluster's key (bramble secret init -c ${name} makes one later)`);
    d.delete(p('tunnel'));
    return;
  }
  const list = [...new Set(hostnames.split(',').map((x) => x.trim()))];
  for (const h of list.filter((h) => h === names.grafana || h === names.dashboard)) io.out(`  note: ${h} puts ${h === names.grafana ? 'Grafana' : 'the Traefik dashboard'} on the internet, where the allow-list sees Cloudflare's addresses; validate warns about it`);
  d.set(p('tunnel', 'hostnames'), list, true);
  const receiver = await ask.text(`${name}: a public name for Flux's GitHub webhook, so a push is live in seconds (empty: Flux polls every minute)`, {
    default: d.get(p('tunnel', 'receiver')),
    optional: true,
    check: (v) => format('hostname')(v) ?? privateNameProblem(v, 'GitHub calls it from the internet') ?? (list.includes(v) ? 'it needs a name of its own, not one of the published ones' : undefined),
  });
  if (receiver) d.set(p('tunnel', 'receiver'), receiver);
  else d.delete(p('tunnel', 'receiver'));
  await askSecret(ask, pending, name, TUNNEL_TOKEN, 'token', 'Cloudflare Tunnel token (cloudflared tunnel token NAME)', (v) => (/^[A-Za-z0-9+/=_-]{40,}$/.test(v) ? undefined : 'expected the token cloudflared tunnel token printed: one long base64 word'));
}
