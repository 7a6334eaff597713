// Preparing a node for k3s and Longhorn. Every step looks first and changes
// only what differs, so a second run changes nothing.
import type { NodeSpec, OsUpdatesSpec } from '../inventory/model.ts';
import { UNATTENDED_FILE, UNATTENDED_PACKAGE, unattendedConfig } from '../site/reboots.ts';
import { BrambleError } from '../base/errors.ts';
import { lastWords, shQuote, SshError, type Session } from '../ssh/session.ts';
import { parseFacts } from './k3s-state.ts';
import { pauseMs } from '../base/wait.ts';

/** A node's open session, which a reboot replaces. */
export interface Link {
  node: NodeSpec;
  session: Session;
  /** Wait for the node to come back and open a new session; with `isNew`, only a session it accepts. */
  reconnect(timeoutMs: number, isNew?: (s: Session) => Promise<boolean>): Promise<void>;
}

export interface PrepareOptions {
  rebootTimeoutMs: number;
  /** Look only: report what would change, change nothing (for `bramble plan`). */
  dryRun?: boolean;
  /** Called with what was changed, for the run's summary. */
  note?: (node: string, what: string) => void;
  /** The cluster's OS updates; absent: bramble's configuration is taken off the node, if it was there. */
  osUpdates?: OsUpdatesSpec;
  /** Output of a command that carried PREPARE_LOOK, made by the caller a moment ago: the first look is not made again. */
  look?: Promise<string>;
  /**
   * The first look a dry run of this same run took moments ago (install's
   * survey, which changed nothing): it is not taken again. Never one from
   * before a reboot, a prompt or another run.
   */
  seen?: NodeLook;
}

/** What prepare's look finds on a node. */
export interface NodeLook {
  host: string;
  present: string[];
  iscsid: boolean;
  modulesFile: string | undefined;
  absent: string[];
  updatesFile: string | undefined;
  multipathd: boolean;
  multipathFile: string | undefined;
}

export interface Prepared {
  /** What changed (or, in a dry run, what would). */
  changes: string[];
  /** The changes that interrupt the node: a reboot. */
  disruptive: string[];
  /**
   * A check to make once the node's other work is done: that iscsid, started
   * here, is still running (it can start and die moments later on a kernel
   * without iSCSI). Waiting for it here would hold up every node's turn.
   */
  settle?: () => Promise<void>;
  /** The first look, before anything was changed. */
  look?: NodeLook;
}

export const MODULES_FILE = '/etc/modules-load.d/bramble-longhorn.conf';
export const MULTIPATH_FILE = '/etc/multipath/conf.d/bramble-longhorn.conf';
const PACKAGES = ['open-iscsi', 'nfs-common', UNATTENDED_PACKAGE];
/** How long iscsid, once started, has to keep running to count as staying up. */
const ISCSID_SETTLE_MS = 2000;

/** A Debian package name (policy 5.6.1), or an error: never anything else on apt-get's command line. */
export function packageName(name: string): string {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new BrambleError(`not a Debian package name: ${JSON.stringify(name)}`, { step: 'install packages' });
  return name;
}

/** Where a Pi keeps its kernel command line (Bookworm, then older Ubuntu images). */
/** Where a Pi's kernel command line is, newest OS layout first. */
/** Which of the packages bramble installs (PACKAGES) the node has, as dpkg says. */
export async function installedPackages(s: Session): Promise<string[]> {
  return packagesIn(parseFacts((await s.exec(`${PACKAGES_LOOK}; true`, { step: 'check packages' })).stdout));
}

/**
 * A pkg_NAME=STATUS line for each of `names` dpkg knows; one dpkg-query for all,
 * since each reads dpkg's whole status database. A package dpkg never heard of prints nothing.
 */
export function packagesLook(names: readonly string[]): string {
  return `dpkg-query -W -f='pkg_\${Package}=\${Status}\\n' ${names.map(shQuote).join(' ')} 2>/dev/null`;
}

const PACKAGES_LOOK = packagesLook(PACKAGES);

function packagesIn(facts: Record<string, string>): string[] {
  return PACKAGES.filter((p) => facts[`pkg_${p}`] === 'install ok installed');
}

/** The small looks, as key=value lines: the hostname, iscsid, the modules not loaded (/sys/module lists loaded and built-in ones alike), multipathd. */
const SMALL_LOOK = [
  // The kernel's own copy of the name (what `hostname` prints), read without a process.
  'h=; read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"',
  'if pidof iscsid >/dev/null 2>&1; then echo iscsid=running; else echo iscsid=stopped; fi',
  'printf modules_absent=; for m in iscsi_tcp dm_crypt; do [ -d /sys/module/$m ] || printf \'%s \' $m; done; echo',
  'if command -v multipathd >/dev/null 2>&1 || [ -x /sbin/multipathd ]; then echo multipathd=yes; else echo multipathd=no; fi',
];

// The packages in the same script: one command on the node, not two.
const LOOK = [...SMALL_LOOK, PACKAGES_LOOK, 'true'].join('\n');

/**
 * prepare's look, for a caller that reads the node anyway (plan, with
 * preflight's facts): its lines and the packages dpkg is to be asked about,
 * carried in the caller's one command. Its output is passed back as
 * PrepareOptions.look.
 */
export const PREPARE_LOOK: { lines: readonly string[]; packages: readonly string[] } = { lines: SMALL_LOOK, packages: PACKAGES };

export const CMDLINE_FILES = ['/boot/firmware/cmdline.txt', '/boot/firmware/current/cmdline.txt'];

export async function prepareNode(link: Link, o: PrepareOptions): Promise<Prepared> {
  const out: Prepared = { changes: [], disruptive: [] };
  // One path for both runs, so what `plan` reports is what `apply` does.
  const did: Did = (done, would, disruptive = false) => {
    const what = o.dryRun ? would : done;
    if (what === '') return !o.dryRun;
    out.changes.push(what);
    if (disruptive) out.disruptive.push(what);
    if (!o.dryRun) o.note?.(link.node.name, what);
    return !o.dryRun;
  };
  const s = () => link.session;
  const node = link.node;

  // Every look this function takes is made at once (channels of one
  // connection), and the small ones are one script: an unchanged node costs
  // one round trip and three commands, not ten.
  let given = o.look;
  const look = async (): Promise<NodeLook> => {
    const small = given ?? s().exec(LOOK, { step: 'look at the node' }).then((r) => r.stdout);
    // Only the first look can be the caller's: a later one follows a reboot.
    given = undefined;
    const [facts, [modulesFile, updatesFile, multipathFile]] = await Promise.all([
      small.then(parseFacts),
      s().readFiles([MODULES_FILE, UNATTENDED_FILE, MULTIPATH_FILE], { step: 'read the kernel modules, unattended-upgrades and multipath files' }),
    ]);
    const absent = (facts.modules_absent ?? '').split(/\s+/).filter(Boolean);
    return { host: facts.hostname ?? '', present: packagesIn(facts), iscsid: facts.iscsid === 'running', modulesFile, absent, updatesFile, multipathd: facts.multipathd === 'yes', multipathFile };
  };
  let seen = o.seen ?? (await look());
  out.look = seen;

  // Hostname: k3s names nodes after it, and joins need them unique.
  const host = seen.host;
  if (host !== node.name && did(`hostname ${host} -> ${node.name}`, `set hostname ${host} -> ${node.name}`)) {
    const n = shQuote(node.name);
    await s().exec(
      `if command -v hostnamectl >/dev/null && hostnamectl set-hostname ${n} 2>/dev/null; then :; else echo ${n} > /etc/hostname && hostname ${n}; fi; ` +
        `grep -q "^127.0.1.1" /etc/hosts && sed -i "s/^127.0.1.1.*/127.0.1.1 ${node.name}/" /etc/hosts || echo "127.0.1.1 ${node.name}" >> /etc/hosts`,
      { sudo: true, step: 'set hostname' },
    );
  }

  // Memory cgroup on a Pi: off in its device tree until the command line turns it on.
  if (node.hardware === 'pi5') {
    const reboots = out.disruptive.length;
    await enableMemoryCgroup(link, o, did);
    // A reboot changed what runs and what is loaded: look again.
    if (!o.dryRun && out.disruptive.length > reboots) seen = await look();
  }
  const { present, iscsid, modulesFile, absent, updatesFile, multipathd, multipathFile } = seen;

  // Packages Longhorn (iSCSI) and the NFS StorageClass need.
  const wanted = PACKAGES.filter((p) => p !== UNATTENDED_PACKAGE || o.osUpdates);
  // Only names from bramble's own list, each checked and quoted: nothing the node printed reaches apt-get.
  const missing = wanted.filter((p) => !present.includes(p)).map(packageName);
  if (missing.length > 0 && did(`installed ${missing.join(', ')}`, `install ${missing.join(', ')}`)) {
    await s().exec(`DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${missing.map(shQuote).join(' ')}`, { sudo: true, step: 'install packages', timeoutMs: 15 * 60_000 });
  }
  if (!iscsid && o.dryRun) did('', 'start iscsid');
  else if (!iscsid) {
    // A start that fails is the same answer as iscsid dying just after it (a kernel without iSCSI,
    // where the daemon can die before its start is through, or an owner's mask): Longhorn's
    // problem to warn of, not a reason to leave the node without k3s.
    const start = await s().exec('systemctl enable --now iscsid', { sudo: true, check: false, step: 'start iscsid' });
    const started = Date.now();
    if (start.code !== 0) o.note?.(node.name, `WARNING iscsid did not start (${lastWords(start, 1) || `exit ${start.code}`}); Longhorn needs it`);
    else out.settle = async () => {
      // Running two seconds after the start is staying up; gone at any look before that is an answer already.
      for (let attempt = 1; ; attempt++) {
        const running = (await s().exec('pidof iscsid >/dev/null 2>&1', { check: false, step: 'check iscsid' })).code === 0;
        if (!running) {
          o.note?.(node.name, `WARNING iscsid does not stay running (does the kernel support iSCSI?); Longhorn needs it`);
          return;
        }
        const left = ISCSID_SETTLE_MS - (Date.now() - started);
        if (left <= 0) break;
        await new Promise((r) => setTimeout(r, Math.min(left, pauseMs(attempt, 500))));
      }
      did('started iscsid', '');
    };
  }

  // Kernel modules, loaded now and at every boot. Vendor RK3588 kernels have
  // lacked iscsi_tcp: probe it rather than assume it.
  const modules = 'iscsi_tcp\ndm_crypt\n';
  if (modulesFile !== modules && did(`wrote ${MODULES_FILE}`, `write ${MODULES_FILE}`)) {
    await s().writeFile(MODULES_FILE, modules, { sudo: true, step: 'persist kernel modules' });
  }
  if (absent.length > 0 && did('', `load ${absent.join(', ')}`)) {
    const probe = await s().exec(`for m in ${absent.join(' ')}; do modprobe "$m" 2>/dev/null || echo "$m"; done`, { sudo: true, check: false, step: 'load kernel modules' });
    const unloaded = probe.stdout.split('\n').filter(Boolean);
    const loaded = absent.filter((m) => !unloaded.includes(m));
    if (loaded.length > 0) did(`loaded ${loaded.join(', ')}`, '');
    if (unloaded.length > 0) o.note?.(node.name, `WARNING could not load ${unloaded.join(', ')}; Longhorn needs iscsi_tcp (is it built for this kernel?)`);
  }

  await configureUpdates(link, updatesFile, o, did);

  // multipathd claims Longhorn's block devices unless told not to.
  if (multipathd) {
    const blacklist = 'blacklist {\n    devnode "^sd[a-z0-9]+"\n}\n';
    if (multipathFile !== blacklist && did(`wrote ${MULTIPATH_FILE}`, `write ${MULTIPATH_FILE}`)) {
      await s().writeFile(MULTIPATH_FILE, blacklist, { sudo: true, step: 'multipath blacklist' });
      await s().exec('systemctl restart multipathd', { sudo: true, check: false, step: 'restart multipathd' });
    }
  }
  return out;
}

/**
 * unattended-upgrades told what to install and never to reboot (kured
 * reboots). Off in the inventory: bramble's file goes, the package stays.
 */
async function configureUpdates(link: Link, current: string | undefined, o: PrepareOptions, did: Did): Promise<void> {
  const s = link.session;
  if (!o.osUpdates) {
    if (current !== undefined && did(`removed ${UNATTENDED_FILE} (osUpdates is off)`, `remove ${UNATTENDED_FILE} (osUpdates is off)`)) {
      await s.exec(`rm -f ${shQuote(UNATTENDED_FILE)}`, { sudo: true, step: 'remove unattended-upgrades configuration' });
    }
    return;
  }
  const wanted = unattendedConfig(o.osUpdates.packages);
  if (current !== wanted && did(`wrote ${UNATTENDED_FILE} (${o.osUpdates.packages === 'all' ? 'all updates' : 'security updates'}, no automatic reboot)`, `write ${UNATTENDED_FILE} (${o.osUpdates.packages === 'all' ? 'all updates' : 'security updates'}, no automatic reboot)`)) {
    await s.writeFile(UNATTENDED_FILE, wanted, { sudo: true, step: 'configure unattended-upgrades' });
  }
}

/** Record a change (`done`) or, in a dry run, what would change (`would`); true when the caller should make it. */
type Did = (done: string, would: string, disruptive?: boolean) => boolean;

async function enableMemoryCgroup(link: Link, o: PrepareOptions, did: Did): Promise<void> {
  const controllers = (await link.session.exec('cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null', { check: false, step: 'check memory cgroup' })).stdout;
  if (/\bmemory\b/.test(controllers)) return;
  if (!did('', 'turn the memory cgroup on (kernel command line) and reboot', true)) return;
  let file: string | undefined;
  let line: string | undefined;
  for (const f of CMDLINE_FILES) {
    line = await link.session.readFile(f, { step: 'read kernel command line' });
    if (line !== undefined) {
      file = f;
      break;
    }
  }
  if (!file || line === undefined) throw new SshError(link.node.name, 'enable memory cgroup', `the memory cgroup is off and no ${CMDLINE_FILES.join(' or ')} was found to turn it on`);
  if (!/\bcgroup_enable=memory\b/.test(line)) {
    // One line, no newline inside: the firmware reads only the first line.
    const updated = line.replace(/\s+$/, '') + ' cgroup_enable=memory\n';
    await link.session.exec(`[ -e ${shQuote(file + '.bramble-bak')} ] || cp -p ${shQuote(file)} ${shQuote(file + '.bramble-bak')}`, { sudo: true, step: 'back up the kernel command line' });
    // Rewritten with the mode it had (0644 on an ext4 /boot, whatever a FAT mount shows).
    const mode = parseInt((await link.session.exec(`stat -c %a ${shQuote(file)}`, { step: 'read the kernel command line mode' })).stdout.trim(), 8);
    await link.session.writeFile(file, updated, { sudo: true, mode: Number.isNaN(mode) ? 0o644 : mode, step: 'enable memory cgroup' });
    did(`added cgroup_enable=memory to ${file} (backup: ${file}.bramble-bak)`, '');
  }
  await rebootAndWait(link, o);
  const after = (await link.session.exec('cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null; echo; cat /proc/cmdline', { check: false, step: 'check memory cgroup after reboot' })).stdout;
  if (!/\bmemory\b/.test(after.split('\n')[0] ?? '')) {
    throw new SshError(link.node.name, 'enable memory cgroup', `after the reboot the memory cgroup is still off (kernel command line: ${after.split('\n')[2]?.trim() ?? '?'})`);
  }
  did('rebooted with the memory cgroup on', '', true);
}

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

/** Reboot and reconnect to the new boot. */
export async function rebootAndWait(link: Link, o: PrepareOptions): Promise<void> {
  // The kernel's boot id tells the new boot from the old one, whose sshd can
  // answer for a while as a slow shutdown stops its services: a session
  // there would read the old kernel's state, or be cut off mid-command.
  const bootId = async (s: Session) => (await s.readFile(BOOT_ID, { step: 'read the boot id' }))?.trim() ?? '';
  const before = await bootId(link.session);
  o.note?.(link.node.name, 'rebooting');
  // The connection may drop before the command returns: that is the reboot working.
  await link.session.exec('reboot', { sudo: true, check: false, step: 'reboot' }).catch(() => undefined);
  link.session.close();
  if (before) {
    await link.reconnect(o.rebootTimeoutMs, async (s) => (await bootId(s)) !== before);
    return;
  }
  // No boot id to compare: give the old sshd time to go away first.
  await new Promise((r) => setTimeout(r, 1000));
  await link.reconnect(o.rebootTimeoutMs);
}
