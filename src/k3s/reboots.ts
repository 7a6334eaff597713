// kured's reboot lock, read from the annotation kured keeps on its own
// DaemonSet: which node holds it and since when. A lock held longer than the
// drain timeout means a node went down for its reboot and has not come back
// (kured gives a failed drain's lock back), and every other reboot waits.
import { KURED } from '../site/reboots.ts';
import type { Session } from '../ssh/session.ts';

export type RebootLock = { free: true } | { holder: string; since: Date } | { unknown: string };

export async function readRebootLock(s: Session): Promise<RebootLock> {
  const r = await s.exec(`k3s kubectl get daemonset ${KURED.daemonSet} -n ${KURED.namespace} -o json`, { sudo: true, check: false, step: "read kured's lock" });
  if (r.code !== 0) return { unknown: r.stderr.trim().split('\n').pop() || 'kured is not running yet' };
  try {
    const value = (JSON.parse(r.stdout) as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[KURED.lockAnnotation];
    if (value === undefined) return { free: true };
    const lock = JSON.parse(value) as { nodeID?: unknown; created?: unknown };
    const since = new Date(String(lock.created));
    if (typeof lock.nodeID !== 'string' || Number.isNaN(since.getTime())) return { unknown: `the lock annotation is not kured's: ${value}` };
    return { holder: lock.nodeID, since };
  } catch {
    return { unknown: "the API answered with something that is not kured's DaemonSet" };
  }
}

/** Milliseconds of a Go duration such as 30m or 1h30m. */
export function goDurationMs(d: string): number {
  let ms = 0;
  for (const [, n, unit] of d.matchAll(/(\d+)(h|m|s)/g)) ms += Number(n) * { h: 3_600_000, m: 60_000, s: 1000 }[unit as 'h' | 'm' | 's'];
  return ms;
}

/** The lock in a line; `stuck` when it has been held past the drain timeout. */
export function lockLine(lock: RebootLock, drainTimeout: string, now = new Date()): { line: string; stuck: boolean } {
  if ('free' in lock) return { line: 'reboot lock: free', stuck: false };
  if ('unknown' in lock) return { line: `reboot lock: not known (${lock.unknown})`, stuck: false };
  const held = now.getTime() - lock.since.getTime();
  const minutes = Math.round(held / 60_000);
  const since = lock.since.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (held <= goDurationMs(drainTimeout)) return { line: `reboot lock: held by ${lock.holder} since ${since} (rebooting)`, stuck: false };
  return {
    line: `WARNING reboot lock: held by ${lock.holder} since ${since}, ${minutes} minutes, past the drain timeout of ${drainTimeout}: ${lock.holder} has not come back from its reboot, and no other node reboots until it does. Bring it back, or if it is gone for good: sudo k3s kubectl -n ${KURED.namespace} annotate daemonset ${KURED.daemonSet} ${KURED.lockAnnotation}-`,
    stuck: true,
  };
}
