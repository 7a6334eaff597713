// Renovate's configuration at the repository's root. Renovate proposes new
// versions for the staging clusters only, by editing the files bramble
// generated there (HelmReleases, Flux's own OCIRepository, the k3s upgrade
// Plans); bramble takes those versions into the inventory at the next render
// (render/versions.ts), and `bramble promote` carries them to production.
import type { Inventory } from '../inventory/model.ts';
import { FLUX_MIN_KUBERNETES } from '../inventory/defaults.ts';
import { CLUSTERS_DIR } from './context.ts';

export const RENOVATE_CONFIG = 'renovate.json5';

/** Renovate's names for what bramble versions: the flux manager's chart names, the OCI repository, k3s's GitHub releases. */
export const RENOVATE_GROUPS: Array<{ group: string; packages: string[] }> = [
  { group: 'longhorn', packages: ['longhorn'] },
  { group: 'traefik', packages: ['traefik'] },
  { group: 'kube-prometheus-stack', packages: ['kube-prometheus-stack'] },
  { group: 'csi-driver-nfs', packages: ['csi-driver-nfs'] },
];

/** A regular expression Renovate reads from a string: slashes around it. */
const re = (source: string) => `/${source}/`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The config as an object; undefined when the inventory turns Renovate off or has no staging cluster. */
export function renovateConfig(inv: Inventory): Record<string, unknown> | undefined {
  if (!inv.git.renovate) return undefined;
  const staging = inv.clusters.filter((c) => c.environment === 'staging').map((c) => c.name);
  if (staging.length === 0) return undefined;
  const others = inv.clusters.filter((c) => c.environment !== 'staging').map((c) => c.name);
  const fluxRepos = [...new Set(inv.clusters.map((c) => c.platform.flux.manifestsUrl.replace(/^oci:\/\//, '')))].sort();
  const k3sTag = '(?<currentValue>v\\d+\\.\\d+\\.\\d+\\+k3s\\d+)';
  return {
    $schema: 'https://docs.renovatebot.com/renovate-schema.json',
    extends: ['config:recommended'],
    schedule: [inv.git.renovate.schedule],
    timezone: 'Etc/UTC',
    // Only the files whose versions bramble takes back: the charts and Flux itself.
    flux: {
      managerFilePatterns: [re(`^${CLUSTERS_DIR}/[^/]+/infrastructure/controllers/[^/]+\\.yaml$`), re(`^${CLUSTERS_DIR}/[^/]+/flux-system/flux\\.yaml$`)],
    },
    customManagers: [
      {
        customType: 'regex',
        description: 'k3s, in the system-upgrade-controller Plans of the staging clusters',
        managerFilePatterns: staging.map((c) => re(`^${CLUSTERS_DIR}/${escape(c)}/upgrades/plans\\.yaml$`)),
        matchStrings: [`version: "${k3sTag}"`],
        datasourceTemplate: 'github-releases',
        depNameTemplate: 'k3s-io/k3s',
        versioningTemplate: 'regex:^v(?<major>\\d+)\\.(?<minor>\\d+)\\.(?<patch>\\d+)\\+k3s(?<build>\\d+)$',
      },
    ],
    packageRules: [
      ...(others.length > 0
        ? [
            {
              description: 'Only staging is updated here; production follows through bramble promote',
              matchFileNames: others.map((c) => `${CLUSTERS_DIR}/${c}/**`),
              enabled: false,
            },
          ]
        : []),
      ...RENOVATE_GROUPS.map((g) => ({ description: `One pull request for ${g.group}`, matchPackageNames: g.packages, groupName: g.group })),
      {
        description: `Flux: one pull request, and never past the Flux lines this bramble renders for`,
        matchPackageNames: fluxRepos,
        groupName: 'flux',
        allowedVersions: re(`^v(${Object.keys(FLUX_MIN_KUBERNETES).map(escape).join('|')})\\.\\d+$`),
      },
      {
        description: 'k3s: one minor release at a time, as Kubernetes upgrades must go',
        matchPackageNames: ['k3s-io/k3s'],
        groupName: 'k3s',
        separateMultipleMinor: true,
      },
    ],
  };
}

/** The file's text: JSON (which JSON5 reads) below the header bramble adds. */
export function renovateText(inv: Inventory): string | undefined {
  const config = renovateConfig(inv);
  return config && `${JSON.stringify(config, null, 2)}\n`;
}
