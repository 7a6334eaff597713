// Cron schedules of backups, read the way cron reads them, so that "the newest
// backup is older than twice its schedule" has a number behind it.

interface Field {
  any: boolean;
  values: Set<number>;
}

function field(text: string, lo: number, hi: number): Field {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a cron field: ${text}`);
    const step = m[4] === undefined ? 1 : Number(m[4]);
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return { any: text === '*', values };
}

function matcher(cron: string): (d: Date) => boolean {
  const [mi, h, dom, mon, dow] = cron.trim().split(/\s+/);
  const f = { mi: field(mi!, 0, 59), h: field(h!, 0, 23), dom: field(dom!, 1, 31), mon: field(mon!, 1, 12), dow: field(dow!, 0, 7) };
  if (f.dow.values.has(7)) f.dow.values.add(0);
  return (d) => {
    if (!f.mi.values.has(d.getUTCMinutes()) || !f.h.values.has(d.getUTCHours()) || !f.mon.values.has(d.getUTCMonth() + 1)) return false;
    const byDom = f.dom.values.has(d.getUTCDate());
    const byDow = f.dow.values.has(d.getUTCDay());
    // cron's rule: when both day fields are restricted, either one matching is enough.
    if (!f.dom.any && !f.dow.any) return byDom || byDow;
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
