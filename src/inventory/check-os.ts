// Meaning checks of the boards' own OS updates (site.osUpdates and each
// cluster's): kured's reboot window, read the way kured reads it. Called by
// checkMeaning (check.ts).
import { deepMerge } from './model.ts';
import type { FieldPath, Finding } from './problems.ts';
import type { RawInventory, RawOsUpdates } from './schema.ts';
import { DEFAULTS } from './defaults.ts';

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Why a window never opens, or undefined. kured reboots only after start and before end of one listed day. */
export function rebootWindowProblem(start: string, end: string): string | undefined {
  if (minutes(end) > minutes(start)) return undefined;
  return `the reboot window closes at ${end}, ${end === start ? 'when' : 'before'} it opens at ${start}: kured reads a window within one day (after start, before end, on the listed days), so it would never reboot; choose an end later than the start on the same day`;
}

export function checkOsUpdates(raw: RawInventory): Finding[] {
  const out: Finding[] = [];
  const site = raw.site.osUpdates;
  const windowAt = (o: RawOsUpdates | undefined, path: FieldPath) => {
    const r = o?.reboot;
    if (r?.start === undefined && r?.end === undefined) return;
    const problem = rebootWindowProblem(r.start ?? DEFAULTS.osUpdates.reboot.start, r.end ?? DEFAULTS.osUpdates.reboot.end);
    if (problem) out.push({ path: [...path, 'reboot', r.end !== undefined ? 'end' : 'start'], message: problem });
  };
  windowAt(site, ['site', 'osUpdates']);
  raw.clusters.forEach((c, i) => {
    const path: FieldPath = ['clusters', i, 'osUpdates'];
    windowAt(c.osUpdates, path);
    // A window can be whole at each level and broken once merged: the site's start with the cluster's end.
    if (site?.reboot && c.osUpdates?.reboot && out.length === 0) {
      const r = deepMerge<RawOsUpdates>(site, c.osUpdates).reboot!;
      const problem = rebootWindowProblem(r.start ?? DEFAULTS.osUpdates.reboot.start, r.end ?? DEFAULTS.osUpdates.reboot.end);
      if (problem) out.push({ path: [...path, 'reboot'], message: `with the site's reboot settings under it, ${problem}` });
    }
  });
  if (!site && raw.clusters.every((c) => !c.osUpdates)) {
    out.push({
      path: ['site'],
      message: "no osUpdates: bramble leaves the boards' OS as it is, so security updates wait for a hand run and a hand reboot; add site.osUpdates: {} for security updates and reboots one node at a time by kured (docs/nodes.md)",
      warning: true,
      onKey: true,
    });
  }
  return out;
}
