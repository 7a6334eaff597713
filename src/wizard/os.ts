// The site's OS updates: whether bramble keeps the boards patched, what it
// installs and when kured may reboot them. Each answer is checked by the rule
// validate applies to its field.
import { rebootWindowProblem } from '../inventory/check-os.ts';
import { DEFAULTS } from '../inventory/defaults.ts';
import type { Ask } from './ask.ts';
import { format, type Draft } from './draft.ts';

const DAYS = ['mo', 'tu', 'we', 'th', 'fr', 'sa', 'su'];

function daysProblem(v: string): string | undefined {
  const days = v.split(/[\s,]+/).filter(Boolean);
  const bad = days.filter((x) => !DAYS.includes(x));
  if (days.length === 0 || bad.length > 0) return `expected days as kured writes them, such as mo,we,fr (from ${DAYS.join(', ')})${bad.length ? `; not ${bad.join(', ')}` : ''}`;
  return new Set(days).size === days.length ? undefined : 'a day is named twice';
}

/** The zone this machine is set to: where the owner lives, most likely. */
function localZone(): string {
  const z = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return z && format('time-zone')(z) === undefined ? z : DEFAULTS.osUpdates.reboot.timeZone;
}

export async function askOsUpdates(d: Draft, ask: Ask): Promise<void> {
  const p = (...k: string[]) => ['site', 'osUpdates', ...k];
  const had = d.get(p());
  const on = await ask.yes(
    "Keep the boards' OS patched: security updates by unattended-upgrades, and kured rebooting a node that needs it, one at a time, drained, in a window?",
    had === undefined ? true : d.get(p('enabled')) !== false,
  );
  if (!on) {
    // Said no on purpose: written down, so validate does not remind the owner at every run.
    d.delete(p());
    d.set(p(), { enabled: false }, true);
    return;
  }
  if (d.get(p('enabled')) === false) d.delete(p('enabled'));
  d.set(p('packages'), await ask.choose('Which updates: the distribution\'s security updates only, or all of them?', ['security', 'all'] as const, d.get(p('packages')) ?? DEFAULTS.osUpdates.packages));
  const days = await ask.text('Reboot days (mo tu we th fr sa su, comma-separated)', { default: (d.get<string[]>(p('reboot', 'days')) ?? DEFAULTS.osUpdates.reboot.days).join(','), check: daysProblem });
  d.set(p('reboot', 'days'), days.split(/[\s,]+/).filter(Boolean), true);
  const start = await ask.text('Reboot window opens at (HH:MM)', { default: d.get(p('reboot', 'start')) ?? DEFAULTS.osUpdates.reboot.start, check: format('time-of-day') });
  d.set(p('reboot', 'start'), start);
  d.set(p('reboot', 'end'), await ask.text('Reboot window closes at (HH:MM, the same day)', { default: d.get(p('reboot', 'end')) ?? DEFAULTS.osUpdates.reboot.end, check: (v) => format('time-of-day')(v) ?? rebootWindowProblem(start, v) }));
  d.set(p('reboot', 'timeZone'), await ask.text('Time zone of the window', { default: d.get(p('reboot', 'timeZone')) ?? localZone(), check: format('time-zone') }));
}
