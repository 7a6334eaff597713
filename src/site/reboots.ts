// The facts of a cluster's OS updates that the nodes, the rendered files and
// status share: where unattended-upgrades is told what to install, where kured
// keeps its lock, which alerts hold a reboot back, and when a reboot is overdue.
import type { OsUpdatesSpec } from '../inventory/model.ts';

/** bramble's apt configuration: read after the package's own 50unattended-upgrades, so it overrides it. */
export const UNATTENDED_FILE = '/etc/apt/apt.conf.d/52bramble-unattended-upgrades';
export const UNATTENDED_PACKAGE = 'unattended-upgrades';
/** The file the package manager leaves when an update needs a reboot, and its list of the packages that asked. */
export const REBOOT_SENTINEL = '/var/run/reboot-required';

/** kured's DaemonSet, and the annotation on it that is the reboot lock (kured's --ds-name, --ds-namespace, --lock-annotation defaults). */
export const KURED = { namespace: 'kube-system', daemonSet: 'kured', lockAnnotation: 'weave.works/kured-node-lock' } as const;
/** Pods of a running k3s upgrade (system-upgrade-controller labels every job's pod with its Plan): a node running one is not rebooted. */
export const UPGRADE_POD_SELECTOR = 'upgrade.cattle.io/plan';
/** bramble's alert for a reboot waiting too long; it must never hold a reboot back itself. */
export const OVERDUE_ALERT = 'NodeRebootOverdue';
/** Alerts that exist only to hold kured back cluster-wide; Alertmanager sends them nowhere. */
export const GATE_LABEL = { name: 'bramble_gate', value: 'reboot' } as const;
/** How long kured holds the lock after a node is back, so Longhorn's replicas resync before the next node goes. */
export const LOCK_RELEASE_DELAY = '5m';

/**
 * Origins-Pattern lines for unattended-upgrades. `#clear` first: apt appends
 * lists across its files, and the package's own list (Debian's point
 * releases too) would otherwise stay. Debian covers Raspberry Pi OS's base;
 * Ubuntu's security pocket and Armbian's repository cover the RK1's images.
 */
export function unattendedConfig(packages: OsUpdatesSpec['packages']): string {
  const security = ['origin=Debian,codename=${distro_codename}-security,label=Debian-Security', 'origin=Debian,codename=${distro_codename},label=Debian-Security', 'origin=Ubuntu,archive=${distro_codename}-security'];
  const all = [
    ...security,
    'origin=Debian,codename=${distro_codename},label=Debian',
    'origin=Debian,codename=${distro_codename}-updates',
    'origin=Ubuntu,archive=${distro_codename}',
    'origin=Ubuntu,archive=${distro_codename}-updates',
    'origin=Raspberry Pi Foundation,codename=${distro_codename}',
    'origin=Armbian',
  ];
  const lines = [
    '// Written by bramble (site.osUpdates): do not edit, bramble rewrites it.',
    `// ${packages === 'all' ? 'Every update of the distribution and the board vendor' : 'Security updates only'}; never an automatic reboot:`,
    '// kured reboots one node at a time, drained, in the window.',
    'APT::Periodic::Update-Package-Lists "1";',
    'APT::Periodic::Unattended-Upgrade "1";',
    '#clear Unattended-Upgrade::Allowed-Origins;',
    '#clear Unattended-Upgrade::Origins-Pattern;',
    'Unattended-Upgrade::Origins-Pattern {',
    ...(packages === 'all' ? all : security).map((o) => `        "${o}";`),
    '};',
    'Unattended-Upgrade::Automatic-Reboot "false";',
  ];
  return lines.join('\n') + '\n';
}

const ORDER = ['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su'];

/**
 * Hours after which a node waiting for a reboot has let two windows pass: the
 * longest stretch over two consecutive gaps between window days (a reboot
 * needed just after one window closes waits for the next two).
 */
export function overdueHours(days: readonly string[]): number {
  const idx = [...new Set(days)].map((d) => ORDER.indexOf(d)).sort((a, b) => a - b);
  const gaps = idx.map((d, i) => (i + 1 < idx.length ? idx[i + 1]! - d : idx[0]! + 7 - d));
  return Math.max(...gaps.map((g, i) => g + gaps[(i + 1) % gaps.length]!)) * 24;
}

/** kured's --alert-filter-regexp: the names it ignores, bramble's overdue alert always among them. */
export function alertFilter(ignore: readonly string[]): string {
  return `^(${[...new Set([...ignore, OVERDUE_ALERT])].join('|')})$`;
}
