// String formats the inventory uses. Each carries the words an error message
// uses for it, so a bad value is explained rather than matched to a regex.
import ipaddr from 'ipaddr.js';

export interface Format {
  describe: string;
  test(value: string): boolean;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isIpv4(value: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

export function isCidr(value: string): boolean {
  const m = /^(.+)\/(\d{1,2})$/.exec(value);
  return m !== null && isIpv4(m[1]!) && Number(m[2]) <= 32;
}

function isHostname(value: string): boolean {
  return value.length <= 253 && value.split('.').every((l) => DNS_LABEL.test(l));
}

function isGitUrl(value: string): boolean {
  if (/\s/.test(value) || value.length === 0) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      if (!['ssh:', 'https:', 'http:', 'git:', 'file:'].includes(url.protocol)) return false;
      return url.protocol === 'file:' ? url.pathname.length > 1 : url.hostname.length > 0 && url.pathname.length > 1;
    } catch {
      return false;
    }
  }
  // scp-like: [user@]host:path (no scheme, host has no slash)
  if (/^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:[^/\\].*$|^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:\/.+$/.test(value)) return true;
  return /^(\/|\.\.?\/)/.test(value);
}

function isBranch(value: string): boolean {
  // The parts of `git check-ref-format --branch` that matter for a name typed by hand.
  return (
    value.length > 0 &&
    !/[\s~^:?*[\\\x00-\x1f\x7f]/.test(value) &&
    !value.includes('..') &&
    !value.includes('@{') &&
    !value.startsWith('-') &&
    !value.startsWith('/') &&
    !value.endsWith('/') &&
    !value.endsWith('.lock') &&
    !value.endsWith('.') &&
    !value.includes('//')
  );
}

/** One cron field's values, and whether it was `*` (cron's day-field rule needs to know). */
export interface CronField {
  any: boolean;
  values: Set<number>;
}

const CRON_BOUNDS: ReadonlyArray<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

/**
 * Five cron fields, each *, a number, a range, a list or a step, within its
 * bounds (what k3s's and Longhorn's cron parsers take): minute, hour, day of
 * month, month, day of week (7 is Sunday too). Undefined when not one.
 */
export function parseCron(v: string): CronField[] | undefined {
  const fields = v.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const out: CronField[] = [];
  for (const [i, text] of fields.entries()) {
    const [lo, hi] = CRON_BOUNDS[i]!;
    const values = new Set<number>();
    for (const part of text.split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return undefined;
      const step = m[4] === undefined ? 1 : Number(m[4]);
      const from = m[1] === '*' ? lo : Number(m[2]);
      const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
      if (step < 1 || from < lo || to > hi || from > to) return undefined;
      for (let n = from; n <= to; n += step) values.add(n);
    }
    out.push({ any: text === '*', values });
  }
  return out;
}

export function isCron(v: string): boolean {
  return parseCron(v) !== undefined;
}

// When a schedule fires, read the way cron reads it: validate, the backup
// alerts and `backup status` measure schedules with it.
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

let zones: Set<string> | undefined;
const zoneNames = () => (zones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']));

/** A zone the time-zone database knows, as kured's Go runtime loads it (Go and Intl share the IANA database). */
function isTimeZone(v: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(v)) return false;
  // The canonical names (and UTC, which ICU lists under no name) answer from a list: building a
  // formatter loads ICU's locale data, 30 ms or a tenth of a short run's CPU, so only an alias
  // (Asia/Calcutta) or a wrong name pays for it.
  if (zoneNames().has(v)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}

export const FORMATS: Record<string, Format> = {
  ipv4: { describe: 'an IPv4 address such as 192.168.100.10', test: isIpv4 },
  cidr: { describe: 'an IPv4 network in CIDR form such as 192.168.100.0/24', test: isCidr },
  'dns-label': { describe: 'a lower-case DNS label (a-z, 0-9, "-"; at most 63 characters; no leading or trailing "-")', test: (v) => DNS_LABEL.test(v) },
  'hostname-or-ip': { describe: 'an IPv4 address or a DNS name', test: (v) => isIpv4(v) || isHostname(v) },
  hostname: { describe: 'a DNS name such as traefik.staging.home.arpa', test: isHostname },
  semver: { describe: 'an exact version such as 1.12.1', test: (v) => /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v) },
  'k3s-version': { describe: 'a k3s release such as v1.35.6+k3s1', test: (v) => /^v\d+\.\d+\.\d+(-rc\d+)?\+k3s\d+$/.test(v) },
  cron: { describe: 'a five-field cron schedule such as 0 3 * * * (minute hour day month weekday)', test: isCron },
  's3-bucket': { describe: 'an S3 bucket name such as homelab-backups (3-63 characters: a-z, 0-9, "." and "-")', test: (v) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) && !/\.\.|^\d+\.\d+\.\d+\.\d+$/.test(v) },
  'prom-duration': { describe: 'a duration such as 7d, 12h or 90m', test: (v) => /^(\d+(ms|s|m|h|d|w|y))+$/.test(v) },
  'retention-size': { describe: 'a size such as 8GB (units B, KB, MB, GB, TB)', test: (v) => /^\d+(\.\d+)?(B|KB|MB|GB|TB|PB)$/.test(v) },
  quantity: { describe: 'a Kubernetes quantity such as 10Gi or 512Mi', test: (v) => /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.test(v) },
  'cpu-quantity': { describe: 'a CPU quantity such as 250m or 1', test: (v) => /^(\d+m|\d+(\.\d+)?)$/.test(v) },
  'http-url': {
    describe: 'an http:// or https:// URL',
    test: (v) => {
      try {
        return ['http:', 'https:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
  },
  'login-name': { describe: 'a login name such as bramble (letters, digits, "_", "." and "-"; not starting with a digit, "." or "-")', test: (v) => /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v) },
  'absolute-path': { describe: 'an absolute path such as /k8s, on one line', test: (v) => /^\/[^\u0000-\u001f\u007f]*$/.test(v) },
  'git-url': { describe: 'a Git URL (ssh://, https://, file://, user@host:path or a path)', test: isGitUrl },
  'git-branch': { describe: 'a valid Git branch name', test: isBranch },
  'ssh-fingerprint': { describe: 'an SSH host key fingerprint such as SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s', test: (v) => /^SHA256:[A-Za-z0-9+/]{43}$/.test(v) },
  email: { describe: 'an e-mail address such as owner@example.com', test: (v) => /^[^\s@<>(),;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(v) },
  'host-port': { describe: 'a host and port such as smtp.example.com:587', test: (v) => { const m = /^(.+):(\d{1,5})$/.exec(v); return !!m && (isIpv4(m[1]!) || isHostname(m[1]!)) && Number(m[2]) >= 1 && Number(m[2]) <= 65535; } },
  'time-of-day': { describe: 'a time of day such as 02:00 (24-hour HH:MM)', test: (v) => /^([01]\d|2[0-3]):[0-5]\d$/.test(v) },
  'time-zone': { describe: 'an IANA time zone such as Europe/London or UTC', test: isTimeZone },
  'go-duration': { describe: 'a duration such as 30m or 1h30m (h, m, s)', test: (v) => /^(\d+(h|m|s))+$/.test(v) },
  'alert-name': { describe: 'a Prometheus alert name such as Watchdog (letters, digits and "_")', test: (v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) },
  taint: {
    describe: 'a taint such as dedicated=gpu:NoSchedule (effect NoSchedule, PreferNoSchedule or NoExecute)',
    test: (v) => /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?(=[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?:(NoSchedule|PreferNoSchedule|NoExecute)$/.test(v),
  },
};
