// The Flux releases bramble renders for, and why a change of Flux version
// may not be made by a commit alone. Facts from Flux's release notes.
import { compareVersions, versionTriple } from '../inventory/rules.ts';
import { FLUX_MIN_KUBERNETES } from '../inventory/defaults.ts';

/**
 * Flux lines bramble knows but does not move a cluster to, with the reason.
 * A line in neither table is one bramble has never been checked against.
 */
export const FLUX_REFUSED_LINES: Record<string, string> = {
  '2.10':
    "Flux 2.10 moves Alert and Provider to notification.toolkit.fluxcd.io/v1 and needs Kubernetes 1.35 to 1.37 (its release notes); bramble renders them as v1beta3 and does not hold 2.10's schemas to check what it renders against, so that move waits for a bramble release that renders for 2.10",
};

export function fluxLine(version: string): string {
  const [maj, min] = versionTriple(version);
  return `${maj}.${min}`;
}

/**
 * Why a cluster may not go from Flux `from` to `to` through Git; undefined
 * when it may. A downgrade is refused: Flux's CRDs keep the newer stored
 * versions and its release notes never describe going back.
 */
export function fluxChangeProblem(from: string, to: string): string | undefined {
  if (compareVersions(from, to) === 0) return undefined;
  if (compareVersions(to, from) < 0) return `Flux ${from} to ${to} is a downgrade; Flux does not go back (its CRDs keep the newer stored versions): restore the cluster instead`;
  const line = fluxLine(to);
  const refused = FLUX_REFUSED_LINES[line];
  if (refused) return refused;
  if (!FLUX_MIN_KUBERNETES[line]) return `Flux ${to} is of the ${line} line, which bramble has not been checked against (it renders for ${Object.keys(FLUX_MIN_KUBERNETES).join(', ')})`;
  return undefined;
}
