import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_VERSIONS_LABEL, PINNED, RECOMMENDED_K3S } from '../inventory/defaults.ts';
import { packageRoot } from '../base/paths.ts';
import type { Command } from './command.ts';

export function versionLines(): string[] {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return [
    `bramble ${pkg.version}`,
    `  Flux ${PINNED.flux} (pinned; defaults.platform.flux.version overrides it)`,
    `  k3s ${RECOMMENDED_K3S} (suggested by init and tested with; each inventory names its own in k3s.version)`,
    `  charts: ${(Object.keys(CHART_VERSIONS_LABEL) as Array<keyof typeof CHART_VERSIONS_LABEL>).map((k) => `${CHART_VERSIONS_LABEL[k]} ${PINNED[k]}`).join(', ')}`,
    `  Node.js ${process.versions.node}`,
  ];
}

export const version: Command = {
  name: 'version',
  synopsis: '',
  summary: "bramble's version, the Flux and k3s versions it pins, and its charts'",
  description: "bramble's version, the Flux version it renders, the k3s release it suggests, and the chart versions it pins (also `--version`)",
  options: [],
  inventoryOptional: true,
  async run(_opts, io) {
    for (const l of versionLines()) io.out(l);
    return 0;
  },
};
