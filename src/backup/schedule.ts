// Cron schedules of backups, read the way cron reads them, so that "the newest
// backup is older than twice its schedule" has a number behind it. The
// fields are parsed where validate checks them (inventory/formats.ts).
import { cronFires, longestGapMinutes } from '../inventory/formats.ts';

export { cronFires, longestGapMinutes };

/** A Prometheus duration for minutes: whole hours where it can. */
export function promDuration(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`;
}
