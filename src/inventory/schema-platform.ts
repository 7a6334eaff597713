// The schema's platform and backup parts: the components a cluster runs and
// where its backups go. Every field overrides a built-in pin or default.
import { Type } from '@sinclair/typebox';
import { DEFAULTS, PINNED } from './defaults.ts';
import { closed, Cidr, DnsLabel, SemVer, Duration, Quantity, CpuQuantity, withDefault } from './schema-formats.ts';

const Resources = Type.Object(
  {
    cpu: Type.Optional(CpuQuantity),
    memory: Type.Optional(Quantity),
    memoryLimit: Type.Optional(Quantity),
  },
  { ...closed, description: 'requests (cpu, memory) and the memory limit' },
);

export const Platform = Type.Object(
  {
    flux: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(withDefault(SemVer, PINNED.flux)),
          installUrl: Type.Optional(
            withDefault(
              Type.String({ format: 'http-url', description: 'Flux\'s install manifest, fetched by the first server; {version} is replaced by the version (a mirror works)' }),
              DEFAULTS.fluxInstallUrl,
            ),
          ),
          manifestsUrl: Type.Optional(
            withDefault(
              Type.String({ pattern: '^oci://[^\\s/]+/\\S+$', description: 'the OCI repository of Flux\'s manifests, from which Flux upgrades itself once installed (a mirror works); tags are v{version}' }),
              DEFAULTS.fluxManifestsUrl,
            ),
          ),
          plainHttp: Type.Optional(Type.Boolean({ description: 'the manifests\' registry speaks plain HTTP (a mirror on the LAN); never for ghcr.io' })),
        },
        closed,
      ),
    ),
    longhorn: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(withDefault(SemVer, PINNED.longhorn)),
          replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'replicas per volume; defaults to 1 on one node and 3 on three or more' })),
          dataPath: Type.Optional(withDefault(Type.String({ pattern: '^/' }), DEFAULTS.longhornDataPath)),
        },
        closed,
      ),
    ),
    traefik: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(withDefault(SemVer, PINNED.traefik)),
          dashboard: Type.Optional(
            Type.Object(
              {
                host: Type.Optional(Type.String({ format: 'hostname', description: 'defaults to traefik.<cluster>.<site domain>' })),
                allowFrom: Type.Optional(Type.Array(Cidr, { minItems: 1, description: 'source networks allowed to open the dashboard and Grafana; defaults to the cluster\'s VLAN' })),
              },
              closed,
            ),
          ),
        },
        closed,
      ),
    ),
    monitoring: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(withDefault(SemVer, PINNED.kubePrometheusStack)),
          retention: Type.Optional(Duration),
          retentionSize: Type.Optional(Type.String({ format: 'retention-size', description: 'e.g. 8GB' })),
          storage: Type.Optional(Quantity),
          prometheus: Type.Optional(Resources),
          grafanaHost: Type.Optional(Type.String({ format: 'hostname', description: 'defaults to grafana.<cluster>.<site domain>' })),
        },
        { ...closed, description: 'kube-prometheus-stack; sizes default from the smallest server\'s hardware profile' },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(withDefault(SemVer, PINNED.certManager)),
          issuer: Type.Optional(
            withDefault(
              Type.Union([Type.Literal('private-ca'), Type.Literal('letsencrypt')], {
                description:
                  "who signs the certificates of Grafana and the dashboards: private-ca (a CA of the cluster's own, for names such as home.arpa that public ACME cannot issue; trust it on your devices, bramble status prints it) or letsencrypt (Let's Encrypt by DNS-01 through Cloudflare, for a public domain you hold; the names may resolve on the LAN only)",
              }),
              'private-ca',
            ),
          ),
          email: Type.Optional(Type.String({ format: 'email', description: "letsencrypt: the ACME account's e-mail address, where Let's Encrypt writes about expiring certificates" })),
          acmeServer: Type.Optional(
            withDefault(Type.String({ format: 'http-url', description: "letsencrypt: the ACME directory (Let's Encrypt's staging one while trying things out)" }), DEFAULTS.acmeServer),
          ),
        },
        { ...closed, description: 'TLS by cert-manager for everything bramble exposes through Traefik (on by default; docs/platform.md)' },
      ),
    ),
    scanning: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(withDefault(Type.Boolean({ description: "run Trivy Operator: it scans the images of running workloads and their configuration, and an alert fires on critical vulnerabilities" }), false)),
          version: Type.Optional(withDefault(SemVer, PINNED.trivyOperator)),
          cache: Type.Optional(
            withDefault(
              Type.String({ format: 'dns-label', description: "the StorageClass of the vulnerability database's volume: longhorn, or a NAS export's storageClass (the database is downloaded once there, not by every scan)" }),
              'longhorn',
            ),
          ),
        },
        { ...closed, description: 'security scanning with Trivy Operator, sized for a Pi 5: one scan at a time, with memory limits (docs/platform.md)' },
      ),
    ),
    nfs: Type.Optional(
      Type.Object(
        {
          version: Type.Optional(withDefault(SemVer, PINNED.csiDriverNfs)),
          exports: Type.Optional(Type.Array(DnsLabel, { description: 'storageClass names of the NAS exports this cluster uses; defaults to all' })),
        },
        closed,
      ),
    ),
  },
  { ...closed, description: 'platform components; every field overrides the built-in pin or default' },
);

const Schedule = Type.String({ format: 'cron', description: 'five-field cron schedule, node time' });

export const Backup = Type.Object(
  {
    target: Type.Union([Type.Literal('s3'), Type.Literal('nfs')], {
      description: "where backups go on the NAS: s3 (its S3 service, nas.s3; etcd snapshots and Longhorn backups) or nfs (an NFS export; Longhorn backups only: k3s uploads etcd snapshots to S3 only, so they stay on the servers' disks)",
    }),
    bucket: Type.Optional(Type.String({ format: 's3-bucket', description: 's3: the bucket; the cluster writes under etcd/CLUSTER/ and longhorn/CLUSTER/ in it' })),
    export: Type.Optional(Type.String({ format: 'absolute-path', description: 'nfs: the path of a declared nas.nfs.exports entry; Longhorn writes under it' })),
    etcd: Type.Optional(
      Type.Object(
        {
          schedule: Type.Optional(withDefault(Schedule, DEFAULTS.backup.etcd.schedule)),
          retention: Type.Optional(withDefault(Type.Integer({ minimum: 1, description: 'snapshots kept on each server (and in S3)' }), DEFAULTS.backup.etcd.retention)),
        },
        { ...closed, description: "k3s's etcd snapshots (HA clusters; a single sqlite server has no etcd)" },
      ),
    ),
    volumes: Type.Optional(
      Type.Object(
        {
          snapshot: Type.Optional(
            Type.Object(
              { schedule: Type.Optional(withDefault(Schedule, DEFAULTS.backup.snapshot.schedule)), retain: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 100 }), DEFAULTS.backup.snapshot.retain)) },
              { ...closed, description: 'Longhorn snapshots, kept on the nodes beside the volume' },
            ),
          ),
          backup: Type.Optional(
            Type.Object(
              { schedule: Type.Optional(withDefault(Schedule, DEFAULTS.backup.backup.schedule)), retain: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 100 }), DEFAULTS.backup.backup.retain)) },
              { ...closed, description: 'Longhorn backups, copied to the target' },
            ),
          ),
        },
        { ...closed, description: "recurring jobs for every volume of Longhorn's default group (the default StorageClass's volumes)" },
      ),
    ),
    critical: Type.Optional(
      Type.Object(
        {
          snapshot: Type.Optional(
            Type.Object(
              { schedule: Type.Optional(withDefault(Schedule, DEFAULTS.backup.critical.snapshot.schedule)), retain: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 100 }), DEFAULTS.backup.critical.snapshot.retain)) },
              { ...closed, description: 'snapshots of the critical volumes, on the nodes: their schedule bounds the RPO there' },
            ),
          ),
          backup: Type.Optional(
            Type.Object(
              { schedule: Type.Optional(withDefault(Schedule, DEFAULTS.backup.critical.backup.schedule)), retain: Type.Optional(withDefault(Type.Integer({ minimum: 1, maximum: 100 }), DEFAULTS.backup.critical.backup.retain)) },
              { ...closed, description: 'backups of the critical volumes to the target: their schedule bounds what a lost cluster loses' },
            ),
          ),
        },
        {
          ...closed,
          description: `a class of critical volumes: PVCs of StorageClass ${'longhorn-critical'} are snapshotted every 5 minutes and backed up hourly by default (the site's RPO of under 5 minutes on the nodes), and alerts fire when either falls behind`,
        },
      ),
    ),
  },
  { ...closed, description: 'backups to the NAS (docs/backup.md)' },
);

const Weekday = Type.Union(['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su'].map((d) => Type.Literal(d)), { description: "a day as kured writes it: mo, tu, we, th, fr, sa or su" });

/** The boards' own OS: security updates by unattended-upgrades, reboots by kured in a window. */
export const OsUpdates = Type.Object(
  {
    enabled: Type.Optional(withDefault(Type.Boolean({ description: 'keep the OS patched (false turns it off where a site default turned it on)' }), true)),
    packages: Type.Optional(
      withDefault(Type.Union([Type.Literal('security'), Type.Literal('all')], { description: "security: the distribution's security updates only; all: every update of the distribution and the board vendor's repository" }), DEFAULTS.osUpdates.packages),
    ),
    reboot: Type.Optional(
      Type.Object(
        {
          days: Type.Optional(withDefault(Type.Array(Weekday, { minItems: 1, uniqueItems: true }), [...DEFAULTS.osUpdates.reboot.days])),
          start: Type.Optional(withDefault(Type.String({ format: 'time-of-day', description: 'the window opens (kured reboots only after this time)' }), DEFAULTS.osUpdates.reboot.start)),
          end: Type.Optional(withDefault(Type.String({ format: 'time-of-day', description: "the window closes, the same day: kured's window does not cross midnight" }), DEFAULTS.osUpdates.reboot.end)),
          timeZone: Type.Optional(withDefault(Type.String({ format: 'time-zone', description: 'the zone the window is read in' }), DEFAULTS.osUpdates.reboot.timeZone)),
          drainTimeout: Type.Optional(withDefault(Type.String({ format: 'go-duration', description: 'how long a drain may take before kured gives up, uncordons and tries again later (status warns when the lock is held longer)' }), DEFAULTS.osUpdates.reboot.drainTimeout)),
          ignoreAlerts: Type.Optional(
            withDefault(Type.Array(Type.String({ format: 'alert-name' }), { uniqueItems: true, description: "firing alerts that do not hold a reboot back; any other firing alert does (bramble's own NodeRebootOverdue never holds one back)" }), [...DEFAULTS.osUpdates.reboot.ignoreAlerts]),
          ),
        },
        { ...closed, description: 'when kured may reboot a node that needs it: one node at a time, drained first (docs/nodes.md)' },
      ),
    ),
    version: Type.Optional(withDefault(SemVer, PINNED.kured)),
  },
  { ...closed, description: "the boards' OS kept patched: unattended-upgrades on every node without automatic reboots, and kured rebooting one node at a time in the window (docs/nodes.md). A cluster's own osUpdates is read over the site's" },
);
