// Cron schedules of backups, read the way cron reads them, so that "the newest
// backup is older than twice its schedule" has a number behind it. The
// fields are parsed where validate checks them (inventory/formats.ts).
import { parseCron, type CronField } from '../inventory/formats.ts';

function matcher(cron: string): (d: Date) => boolean {
  const fields = parseCron(cron);
  if (!fields) throw new Error(`not a five-field cron schedule: ${cron}`);
  const [mi, h, dom, mon, dow] = fields as [CronField, CronField, CronField, CronField, CronField];
  if (dow.values.has(7)) dow.values.add(0);
  return (d) => {
    if (!mi.values.has(d.getUTCMinutes()) || !h.values.has(d.getUTCHours()) || !mon.values.has(d.getUTCMonth() + 1)) return false;
    const byDom = dom.values.has(d.getUTCDate());
    const byDow = dow.values.has(d.getUTCDay());
    // cron's rule: when both day fields are restricted, either one matching is enough.
    if (!dom.any && !dow.any) return byDom || byDow;
    return byDom && byDow;
  };
}

/** Whether a five-field cron schedule fires in the minute of `d` (UTC). */
export function cronFires(cron: string, d: Date): boolean {
  return matcher(cron)(d);
}

/** The longest time, in minutes, between two runs of a schedule, over a 62-day window (two of every month length). */
export function longestGapMinutes(cron: string): number {
  const start = Date.UTC(2026, 0, 1);
  let last: number | undefined;
  let first: number | undefined;
  let gap = 0;
  const fires = matcher(cron);
  for (let m = 0; m < 62 * 24 * 60; m++) {
    const t = start + m * 60_000;
    if (!fires(new Date(t))) continue;
    if (last !== undefined) gap = Math.max(gap, (t - last) / 60_000);
    first ??= t;
    last = t;
  }
  if (first === undefined) throw new Error(`the schedule "${cron}" does not fire within 62 days`);
  return gap || 62 * 24 * 60;
}

/** A Prometheus duration for minutes: whole hours where it can. */
export function promDuration(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`;
}
