// What the boards' own OS says about updates, read the same way by preflight
// and status: a pending reboot (the package manager's sentinel, since when,
// and the packages that asked), the running kernel against the newest one
// installed, and when the node last booted.
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import { detailOf } from '../base/errors.ts';
import { REBOOT_SENTINEL } from '../site/reboots.ts';
import { Session, type SessionOptions } from '../ssh/session.ts';
import { targetOf } from './connect.ts';
import { parseFacts } from './k3s-state.ts';

/**
 * Shell lines printing os_* facts but the running kernel (os_kernel), for a
 * script that has it already. Shell builtins where they do: every process
 * forked on a board is paid for on each of its nodes, on every run.
 */
export const OS_PROBE_REST = [
  // Debian, Ubuntu, Armbian and Raspberry Pi OS all install a kernel as /boot/vmlinuz-<release>.
  `printf 'os_kernels='; for k in /boot/vmlinuz-*; do [ -e "$k" ] && printf '%s ' "\${k#/boot/vmlinuz-}"; done; echo`,
  `[ -e ${REBOOT_SENTINEL} ] && echo "os_reboot_since=$(stat -c %Y ${REBOOT_SENTINEL} 2>/dev/null)"`,
  `[ -e ${REBOOT_SENTINEL}.pkgs ] && echo "os_reboot_pkgs=$(sort -u ${REBOOT_SENTINEL}.pkgs 2>/dev/null | tr '\\n' ' ')"`,
  'while read -r k v _; do [ "$k" = btime ] && { echo "os_booted=$v"; break; }; done < /proc/stat',
  'true',
].join('\n');

/** Shell lines printing os_* facts; parsed by osState(). Read-only, no privileges. */
export const OS_PROBE = ['echo "os_kernel=$(uname -r)"', OS_PROBE_REST].join('\n');

export interface OsState {
  kernel: string;
  /** The newest installed kernel of the running one's flavour, when it is not the running one. */
  newerKernel?: string;
  /** When the sentinel appeared (epoch seconds); absent: no reboot asked for. */
  rebootSince?: number;
  rebootPackages: string[];
  bootedAt?: number;
  /** A reboot would change something: the sentinel is there, or a newer kernel waits. */
  pending: boolean;
}

/** A kernel release's flavour: its text with the numbers taken out (6.6.51+rpt-rpi-2712 and 6.6.62+rpt-rpi-2712 agree, rpi-v8 does not). */
const flavour = (release: string) => release.replace(/\d+/g, '#');

/** Compare kernel releases by their numbers, as `sort -V` does for these names. */
export function compareKernels(a: string, b: string): number {
  const na = a.match(/\d+/g)?.map(Number) ?? [];
  const nb = b.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < Math.max(na.length, nb.length); i++) if ((na[i] ?? -1) !== (nb[i] ?? -1)) return (na[i] ?? -1) - (nb[i] ?? -1);
  return 0;
}

export function osState(facts: Record<string, string | undefined>): OsState {
  const kernel = facts.os_kernel ?? '';
  const installed = (facts.os_kernels ?? '').split(/\s+/).filter((k) => k && flavour(k) === flavour(kernel));
  const newest = installed.sort(compareKernels).pop();
  const newerKernel = newest && compareKernels(newest, kernel) > 0 ? newest : undefined;
  const since = Number(facts.os_reboot_since);
  const booted = Number(facts.os_booted);
  const rebootSince = facts.os_reboot_since && Number.isFinite(since) ? since : undefined;
  return {
    kernel,
    ...(newerKernel ? { newerKernel } : {}),
    ...(rebootSince !== undefined ? { rebootSince } : {}),
    rebootPackages: (facts.os_reboot_pkgs ?? '').split(/\s+/).filter(Boolean),
    ...(facts.os_booted && Number.isFinite(booted) ? { bootedAt: booted } : {}),
    pending: rebootSince !== undefined || newerKernel !== undefined,
  };
}

const when = (epoch: number) => new Date(epoch * 1000).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z').replace('T', ' ');

/** One line for a person: what is pending and since when, or that nothing is. */
export function osLine(s: OsState): string {
  const booted = s.bootedAt !== undefined ? `booted ${when(s.bootedAt)}` : 'boot time unknown';
  const kernel = s.newerKernel ? `kernel ${s.kernel} running, ${s.newerKernel} installed` : `kernel ${s.kernel}`;
  if (!s.pending) return `${booted}, ${kernel}, no reboot pending`;
  const why = s.rebootSince !== undefined ? `reboot pending since ${when(s.rebootSince)}${s.rebootPackages.length ? ` (${s.rebootPackages.join(', ')})` : ''}` : 'reboot pending (a newer kernel is installed)';
  return `${booted}, ${kernel}, ${why}`;
}

export interface NodeOs {
  node: string;
  state?: OsState;
  /** Why the node could not be read. */
  error?: string;
}

/** Every active node's OS state, all at once; `open` is a session already open to one of them, used instead of a second. */
export async function readOsStates(cluster: ClusterSpec, opts: SessionOptions, open: { node: NodeSpec; session: Session }): Promise<NodeOs[]> {
  const read = async (s: Session) => osState(parseFacts((await s.exec(OS_PROBE, { step: 'read OS state', check: false })).stdout));
  return Promise.all(
    cluster.active.map(async (node): Promise<NodeOs> => {
      if (node.name === open.node.name) return { node: node.name, state: await read(open.session) };
      let session: Session | undefined;
      try {
        session = await Session.connect(targetOf(node, cluster), opts);
        return { node: node.name, state: await read(session) };
      } catch (e) {
        return { node: node.name, error: detailOf(e) };
      } finally {
        session?.close();
      }
    }),
  );
}
