// What of k3s is on a node, read the same way by install, plan and preflight.
// k3s's install script puts the binary in place first and the systemd unit
// last, then enables and starts it; a run cut anywhere in between (a power
// cut, a failed download of the next piece, Ctrl-C) leaves a binary that
// answers `--version` on a node where k3s is not installed. Only a unit file,
// enabled and running, with the binary, is an installation.

/** Shell lines printing k3s_* facts; parsed by k3sState(). */
export const K3S_PROBE = [
  // The version is the third word of `k3s version v1.35.6+k3s1 (hash)`: split by the shell, no head or awk.
  'v=; [ -x /usr/local/bin/k3s ] && v=$(/usr/local/bin/k3s --version 2>/dev/null); set -f; set -- $v; set +f; echo "k3s_version=$3"',
  // One systemctl for both states (is-enabled and is-active print UnitFileState and ActiveState), read by name: show orders properties its own way.
  'for u in k3s k3s-agent; do if [ -f /etc/systemd/system/$u.service ]; then echo "k3s_unit=$u"; systemctl show -p UnitFileState -p ActiveState $u 2>/dev/null | while IFS== read -r k v; do case $k in UnitFileState) echo "k3s_enabled=$v" ;; ActiveState) echo "k3s_active=$v" ;; esac; done; fi; done',
  'for f in k3s-uninstall.sh k3s-agent-uninstall.sh; do [ -x /usr/local/bin/$f ] && echo "k3s_uninstall=$f"; done; true',
].join('\n');

export interface K3sState {
  /** What the binary says it is, when there is one that answers. */
  version?: string;
  /** The unit file that exists: k3s (server) or k3s-agent. */
  unit?: 'k3s' | 'k3s-agent';
  enabled: boolean;
  active: boolean;
  /** The uninstall script the install left. */
  uninstall?: string;
  /** absent: nothing of k3s; partial: some of it, an install cut short; complete: installed and running. */
  install: 'absent' | 'partial' | 'complete';
}

export function k3sState(facts: Record<string, string | undefined>): K3sState {
  const version = facts.k3s_version || undefined;
  const unit = facts.k3s_unit === 'k3s' || facts.k3s_unit === 'k3s-agent' ? facts.k3s_unit : undefined;
  const enabled = facts.k3s_enabled === 'enabled';
  const active = facts.k3s_active === 'active';
  const uninstall = facts.k3s_uninstall || undefined;
  const any = Boolean(version || unit || uninstall);
  const install = !any ? 'absent' : version && unit && enabled && active ? 'complete' : 'partial';
  return { version, unit, enabled, active, uninstall, install };
}

/**
 * Everything the install script writes is there, but the unit is stopped or
 * disabled (stopped by hand, or a run that failed after the script). The
 * script itself would not help: it skips the start when nothing it writes
 * changed ("No change detected so skipping service start"). Starting the unit does.
 */
export function onlyStopped(s: K3sState): boolean {
  return s.install === 'partial' && Boolean(s.version && s.unit && s.uninstall);
}

/** What a partial install has and lacks, for plan, preflight and install's own lines. */
export function missingPieces(s: K3sState): string {
  const found = [...(s.version ? [`the k3s ${s.version} binary`] : []), ...(s.uninstall ? [`${s.uninstall}`] : []), ...(s.unit ? [`the ${s.unit} unit`] : [])];
  const lacking = [
    ...(s.version ? [] : ['a k3s binary that runs']),
    ...(s.unit ? [] : ['the systemd unit']),
    ...(s.unit && !s.enabled ? [`${s.unit} enabled`] : []),
    ...(s.unit && !s.active ? [`${s.unit} running`] : []),
  ];
  if (onlyStopped(s)) return `k3s is installed but ${[...(s.enabled ? [] : ['not enabled']), ...(s.active ? [] : ['not running'])].join(' and ')} (${s.unit})`;
  return `an install was cut short: ${found.join(', ')} in place, but not ${lacking.join(', nor ')}`;
}

export function parseFacts(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
