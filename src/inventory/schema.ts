// The inventory's shape, written once: TypeBox gives both the JSON Schema that
// ajv checks (and that editors read from docs/inventory.schema.json) and the
// TypeScript types, so the two cannot drift apart.
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS, PINNED } from './defaults.ts';
import { closed, Ipv4, Cidr, DnsLabel, K3sVersion, withDefault } from './schema-formats.ts';
import { Backup, OsUpdates, Platform } from './schema-platform.ts';

export { Backup, OsUpdates, Platform };

/** How k3s gets onto the nodes; a cluster may override the site's choice. */
const K3sInstall = {
  installScriptUrl: Type.Optional(withDefault(Type.String({ format: 'http-url', description: 'the k3s install script, fetched by each node (a mirror works)' }), 'https://get.k3s.io')),
  airgap: Type.Optional(
    Type.Object(
      {
        binary: Type.String({ minLength: 1, description: 'k3s binary on this machine, uploaded to /usr/local/bin/k3s' }),
        installScript: Type.String({ minLength: 1, description: 'the install script on this machine, uploaded and run with INSTALL_K3S_SKIP_DOWNLOAD=true' }),
      },
      { ...closed, description: 'for nodes without internet: bramble uploads the binary and script over SFTP' },
    ),
  ),
  upgrade: Type.Optional(
    Type.Object(
      {
        image: Type.Optional(
          withDefault(
            Type.String({ pattern: '^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$', description: "the image the upgrade Plans' jobs run; it carries the k3s binary of the version they install. For an air-gapped site, its copy in a local registry (the tag is the k3s version, + written as -)" }),
            DEFAULTS.upgrade.image,
          ),
        ),
        controllerRepository: Type.Optional(
          withDefault(Type.String({ format: 'http-url', description: "the Git repository Flux fetches system-upgrade-controller's manifests from (a mirror works)" }), DEFAULTS.upgrade.controllerRepository),
        ),
        drainTimeout: Type.Optional(withDefault(Type.String({ pattern: '^[0-9]+(s|m|h)$', description: 'how long an upgrade waits for a node to drain before it stops with an error' }), DEFAULTS.upgrade.drainTimeout)),
      },
      { ...closed, description: 'how k3s is upgraded: Plans of system-upgrade-controller, rendered into Git, with the version from k3s.version' },
    ),
  ),
  kubeVip: Type.Optional(
    Type.Object(
      {
        enabled: Type.Optional(withDefault(Type.Boolean({ description: 'run kube-vip for an apiEndpoint that is an IPv4 address; false when something else on the site (a load balancer, the router) answers there' }), true)),
        image: Type.Optional(withDefault(Type.String({ pattern: '^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$', description: "kube-vip's image without its tag (a local registry's copy for an air-gapped site)" }), DEFAULTS.kubeVip.image)),
        version: Type.Optional(withDefault(Type.String({ pattern: '^v[0-9]+\\.[0-9]+\\.[0-9]+$', description: "kube-vip's image tag" }), PINNED.kubeVip)),
        interface: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,14}$', description: "the servers' network interface on the cluster's VLAN that carries the address; default: the interface of each server's default route" })),
      },
      { ...closed, description: "kube-vip, which holds the cluster's apiEndpoint on one of its servers (ARP, with leader election) and moves it when that server stops" },
    ),
  ),
};

export const Ssh = Type.Object(
  {
    user: Type.Optional(withDefault(Type.String({ format: 'login-name', description: 'login user; privileged steps run through sudo when it is not root' }), DEFAULTS.ssh.user)),
    port: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 65535 }), DEFAULTS.ssh.port)),
    privateKey: Type.Optional(Type.String({ minLength: 1, description: 'path to the private key file (~ is expanded)' })),
    auth: Type.Optional(withDefault(Type.Union([Type.Literal('key'), Type.Literal('agent'), Type.Literal('password')], { description: 'how to authenticate' }), DEFAULTS.ssh.auth)),
  },
  { ...closed, description: 'SSH settings; a node may override any of them' },
);

export const Vlan = Type.Object(
  {
    id: Type.Integer({ minimum: 1, maximum: 4094, description: '802.1Q VLAN id' }),
    name: Type.String({ minLength: 1 }),
    subnet: Cidr,
    gateway: Ipv4,
    dhcp: Type.Optional(
      Type.Object(
        { start: Ipv4, end: Ipv4 },
        { ...closed, description: 'the DHCP pool; static node addresses must lie outside it' },
      ),
    ),
    internet: Type.Boolean({ description: 'whether hosts on this VLAN reach the internet' }),
    trusted: Type.Optional(Type.Boolean({ description: "hosts here are yours (your servers, your own clients): bramble init offers these VLANs as the ones that may open Grafana and the Traefik dashboard" })),
    purpose: Type.Optional(Type.String()),
  },
  closed,
);

export const NfsExport = Type.Object(
  {
    path: Type.String({ format: 'absolute-path', description: 'absolute path of the export on the NAS, on one line' }),
    storageClass: DnsLabel,
    mountOptions: Type.Optional(withDefault(Type.Array(Type.String({ minLength: 1 })), DEFAULTS.nfsMountOptions)),
    reclaimPolicy: Type.Optional(withDefault(Type.Union([Type.Literal('Retain'), Type.Literal('Delete')]), 'Retain')),
    onDelete: Type.Optional(withDefault(Type.Union([Type.Literal('retain'), Type.Literal('delete'), Type.Literal('archive')], { description: 'what the CSI driver does with a volume\'s directory when its PV is deleted' }), 'retain')),
    subDir: Type.Optional(withDefault(Type.String({ minLength: 1, description: 'directory per volume under the export; ${pvc.metadata.namespace} and ${pvc.metadata.name} are expanded by the CSI driver' }), DEFAULTS.nfsSubDir)),
    owner: Type.Optional(Type.Object({ uid: Type.Integer({ minimum: 0 }), gid: Type.Integer({ minimum: 0 }) }, { ...closed, description: 'owner of files on the export; workloads should run as this uid with fsGroup' })),
  },
  closed,
);

export const Nas = Type.Object(
  {
    name: DnsLabel,
    model: Type.Optional(Type.String()),
    address: Ipv4,
    vlan: Type.Integer({ minimum: 1, maximum: 4094 }),
    filesystem: Type.Optional(Type.String()),
    nfs: Type.Object(
      {
        version: Type.Optional(withDefault(Type.Union([Type.Literal('3'), Type.Literal('4'), Type.Literal('4.1'), Type.Literal('4.2')]), '4.1')),
        exports: Type.Array(NfsExport, { minItems: 1 }),
      },
      closed,
    ),
    metrics: Type.Optional(
      Type.Object(
        {
          port: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 65535 }), DEFAULTS.nasMetricsPort)),
        },
        {
          ...closed,
          description:
            "Prometheus node_exporter running on the NAS (QNAP: in Container Station; TrueNAS SCALE: as an app; docs/layout.md), at the NAS's address: the clusters that use the NAS scrape it and alert when it is down, a ZFS pool is not online, or its filesystems are fuller than alerts.volumeUsagePercent",
        },
      ),
    ),
    s3: Type.Optional(
      Type.Object(
        {
          port: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 65535 }), DEFAULTS.s3.port)),
          tls: Type.Optional(withDefault(Type.Boolean({ description: 'https (a certificate the nodes trust) instead of plain http' }), DEFAULTS.s3.tls)),
          region: Type.Optional(withDefault(Type.String({ minLength: 1, description: 'the region the S3 service answers to; MinIO takes any' }), DEFAULTS.s3.region)),
        },
        { ...closed, description: "an S3 service on the NAS (MinIO), at the NAS's address: a backup target (clusters[].backup.target: s3). Its access keys are secrets (bramble backup credentials), never in the inventory" },
      ),
    ),
  },
  closed,
);


export const Git = Type.Object(
  {
    url: Type.String({ format: 'git-url', description: 'any URL git accepts: ssh://, https://, scp-like user@host:path, file:// or a path' }),
    branch: Type.Optional(withDefault(Type.String({ format: 'git-branch' }), DEFAULTS.git.branch)),
    provider: Type.Optional(
      Type.Union([Type.Literal('github'), Type.Literal('ssh')], {
        description: 'github: bramble creates the repository and registers the deploy key through the API; ssh: any SSH Git server (Gitea, Forgejo, a NAS), where the owner adds the key. Default: github for github.com URLs, else ssh',
      }),
    ),
    apiUrl: Type.Optional(Type.String({ format: 'http-url', description: 'GitHub API base URL, for GitHub Enterprise: https://HOST/api/v3 (default https://api.github.com)' })),
    private: Type.Optional(withDefault(Type.Boolean({ description: 'github: create the repository private when it does not exist' }), true)),
    hostKey: Type.Optional(Type.String({ pattern: '^SHA256:[A-Za-z0-9+/]{43}$', description: 'ssh: the Git server\'s host key fingerprint (SHA256:...), pinned instead of asking' })),
    renovate: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(withDefault(Type.Boolean({ description: 'write renovate.json5 at the repository\'s root when a cluster\'s environment is staging' }), true)),
          schedule: Type.Optional(
            withDefault(Type.String({ format: 'cron', description: 'when Renovate may open pull requests, as cron (Renovate takes * in the minute field only), UTC' }), DEFAULTS.renovateSchedule),
          ),
        },
        { ...closed, description: 'Renovate\'s updates, on the staging clusters only (docs/updates.md)' },
      ),
    ),
  },
  { ...closed, description: 'the GitOps repository Flux reads' },
);


export const Node = Type.Object(
  {
    name: DnsLabel,
    hardware: Type.Union([Type.Literal('pi5'), Type.Literal('rk1'), Type.Literal('x86')], { description: 'hardware profile' }),
    address: Ipv4,
    role: Type.Union([Type.Literal('server'), Type.Literal('agent')]),
    planned: Type.Optional(withDefault(Type.Boolean({ description: 'described but not built yet: validated and documented, never installed' }), false)),
    memoryGiB: Type.Optional(Type.Integer({ minimum: 1, description: 'overrides the profile\'s memory (e.g. the 32 GB RK1)' })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    taints: Type.Optional(Type.Array(Type.String({ format: 'taint', description: 'key[=value]:NoSchedule|PreferNoSchedule|NoExecute' }))),
    ssh: Type.Optional(Ssh),
    hostKey: Type.Optional(Type.String({ format: 'ssh-fingerprint', description: 'the node\'s SSH host key fingerprint (SHA256:...), pinned so a first non-interactive connection can trust it' })),
  },
  closed,
);

export const Cluster = Type.Object(
  {
    name: DnsLabel,
    environment: Type.Optional(Type.String()),
    vlan: Type.Integer({ minimum: 1, maximum: 4094, description: 'id of the VLAN the nodes sit on' }),
    apiEndpoint: Type.Optional(Type.String({ minLength: 1, description: "the cluster's one stable API address: an IPv4 address (a VIP that kube-vip holds on one of the servers, see k3s.kubeVip) or a DNS name the site resolves. It goes into tls-san, joining nodes and the kubeconfig use it, and bramble waits for it to answer before any node joins. An IPv4 address is checked like a node address (on the VLAN, outside DHCP pools, unused). Without it, everything uses the first server's address" })),
    ingressAddress: Type.Optional(
      Type.String({
        format: 'ipv4',
        description: "the one address Traefik answers at, for the site's DNS: kube-vip holds it on a server (with a Traefik pod) and moves it when that server stops. Checked like a node address (on the VLAN, outside DHCP pools, unused). Without it, Traefik answers at every node's address (k3s's ServiceLB)",
      }),
    ),
    jumpHost: Type.Optional(
      Type.Object(
        {
          address: Type.String({ format: 'hostname-or-ip', description: 'the jump host, reachable from this machine' }),
          ssh: Type.Optional(Ssh),
          hostKey: Type.Optional(Type.String({ format: 'ssh-fingerprint' })),
        },
        { ...closed, description: 'reach the nodes through this host, when this machine cannot route to their VLAN' },
      ),
    ),
    datastore: Type.Optional(Type.Union([Type.Literal('etcd'), Type.Literal('sqlite')], { description: 'defaults to sqlite for one server, etcd for more' })),
    k3s: Type.Optional(Type.Object({ version: Type.Optional(K3sVersion), ...K3sInstall }, closed)),
    nodes: Type.Array(Node, { minItems: 1 }),
    platform: Type.Optional(Platform),
    osUpdates: Type.Optional(OsUpdates),
    tunnel: Type.Optional(
      Type.Object(
        {
          hostnames: Type.Array(Type.String({ format: 'hostname' }), {
            minItems: 1,
            uniqueItems: true,
            description: "the public names Cloudflare sends through the tunnel to Traefik; nothing else is published (Grafana and the dashboards only if listed, which validate warns about)",
          }),
          receiver: Type.Optional(
            Type.String({ format: 'hostname', description: "a public name for Flux's GitHub webhook Receiver: a push is reconciled within seconds instead of at the next interval (bramble status prints the URL for the repository's webhook)" }),
          ),
          version: Type.Optional(withDefault(Type.String({ pattern: '^[0-9]{4}\\.[0-9]+\\.[0-9]+$', description: "cloudflared's image tag" }), PINNED.cloudflared)),
        },
        { ...closed, description: "Cloudflare Tunnel (cloudflared, 2 replicas): the way in from the internet without opening a port; its token is the SOPS secret cloudflared/tunnel (docs/platform.md)" },
      ),
    ),
    secrets: Type.Optional(
      Type.Object(
        {
          ageRecipient: Type.String({
            pattern: '^age1[02-9ac-hj-np-z]{58}$',
            description: "the public half of the cluster's age key (bramble secret init makes the pair): secrets under the cluster's folder are SOPS-encrypted to it, and Flux decrypts them with the private half in the cluster's sops-age secret",
          }),
        },
        { ...closed, description: 'secrets kept in Git, SOPS-encrypted with age (docs/secrets.md)' },
      ),
    ),
    backup: Type.Optional(Backup),
    notifications: Type.Optional(
      Type.Object(
        {
          type: Type.Optional(
            Type.Union([Type.Literal('discord'), Type.Literal('slack'), Type.Literal('generic'), Type.Literal('telegram')], {
              description: 'where Flux events and the site alerts go: a Discord or Slack webhook, any URL that takes a JSON POST (generic: ntfy, a home-automation hook), or a Telegram bot. The URL (key address), or the Telegram bot token (key token), is the secret monitoring/notify (bramble secret set)',
            }),
          ),
          email: Type.Optional(
            Type.Object(
              {
                smarthost: Type.String({ format: 'host-port', description: 'the SMTP server and port, e.g. smtp.example.com:587' }),
                from: Type.String({ format: 'email' }),
                to: Type.Array(Type.String({ format: 'email' }), { minItems: 1, uniqueItems: true }),
                username: Type.Optional(Type.String({ minLength: 1, description: 'the SMTP login; its password is key smtp-password of the secret monitoring/notify (bramble secret set)' })),
                requireTls: Type.Optional(withDefault(Type.Boolean({ description: 'STARTTLS required before the login' }), true)),
              },
              { ...closed, description: "the site alerts by e-mail from Alertmanager, beside or instead of type. Flux has no e-mail provider: with e-mail only, Flux's failures reach you as the FluxReconcileErrors alert" },
            ),
          ),
          chatId: Type.Optional(Type.Integer({ description: 'telegram only: the chat the bot writes to (not a secret)' })),
          severity: Type.Optional(withDefault(Type.Union([Type.Literal('error'), Type.Literal('info')], { description: "Flux events to send: only failures (error), or every reconciliation too (info)" }), 'error')),
        },
        { ...closed, description: "notifications to the owner from Flux and Alertmanager (a webhook type, e-mail, or both); needs the cluster's secrets in Git (the webhook URL and the SMTP password are secrets)" },
      ),
    ),
  },
  closed,
);

export const Alerts = Type.Object(
  {
    nfsLatencyMs: Type.Optional(withDefault(Type.Integer({ minimum: 1 }), DEFAULTS.alerts.nfsLatencyMs)),
    volumeUsagePercent: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 100 }), DEFAULTS.alerts.volumeUsagePercent)),
    temperatureCelsius: Type.Optional(withDefault(Type.Integer({ minimum: 30, maximum: 120 }), DEFAULTS.alerts.temperatureCelsius)),
  },
  { ...closed, description: 'thresholds of the site alerts' },
);

export const InventorySchema = Type.Object(
  {
    apiVersion: Type.Literal('bramble/v1alpha1'),
    site: Type.Object(
      {
        name: DnsLabel,
        domain: Type.Optional(withDefault(Type.String({ format: 'hostname' }), DEFAULTS.domain)),
        ssh: Type.Optional(Ssh),
        k3s: Type.Object({ version: K3sVersion, ...K3sInstall }, closed),
        osUpdates: Type.Optional(OsUpdates),
      },
      closed,
    ),
    vlans: Type.Array(Vlan, { minItems: 1 }),
    nas: Type.Optional(Nas),
    git: Git,
    alerts: Type.Optional(Alerts),
    defaults: Type.Optional(Type.Object({ platform: Type.Optional(Platform) }, { ...closed, description: 'platform settings for every cluster, under each cluster\'s own' })),
    clusters: Type.Array(Cluster, { minItems: 1 }),
  },
  {
    ...closed,
    $id: 'https://bramble.invalid/inventory.schema.json',
    title: 'bramble inventory',
    description: 'One homelab: its VLANs, NAS, Git remote and k3s clusters.',
  },
);

export type RawInventory = Static<typeof InventorySchema>;
export type RawCluster = Static<typeof Cluster>;
export type RawNode = Static<typeof Node>;
export type RawPlatform = Static<typeof Platform>;
export type RawVlan = Static<typeof Vlan>;
export type RawNas = Static<typeof Nas>;
export type RawNfsExport = Static<typeof NfsExport>;
export type RawSsh = Static<typeof Ssh>;
export type RawOsUpdates = Static<typeof OsUpdates>;
