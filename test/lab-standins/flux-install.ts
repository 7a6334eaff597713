// Stand-in for Flux's release manifest (install.yaml), served to the lab's
// nodes at the ordinary flux.installUrl. It holds Flux's real CRDs (from
// ../shared/upstream/crds) and the four controller Deployments by name; the
// k3s stand-in treats those Deployments as running controllers. No image is
// ever pulled: see docs/testing.md.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UPSTREAM } from '../helpers.ts';

const CONTROLLERS = ['source-controller', 'kustomize-controller', 'helm-controller', 'notification-controller'];

export function fluxInstallManifest(version: string): string {
  const crds = readdirSync(join(UPSTREAM, 'crds'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(join(UPSTREAM, 'crds', f), 'utf8').replace(/^---\n/, '').trimEnd());
  const deployments = CONTROLLERS.map((name) =>
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      `  name: ${name}`,
      '  namespace: flux-system',
      `  labels: { app.kubernetes.io/part-of: flux, app.kubernetes.io/version: v${version} }`,
      'spec:',
      '  replicas: 1',
      `  selector: { matchLabels: { app: ${name} } }`,
      '  template:',
      `    metadata: { labels: { app: ${name} } }`,
      '    spec:',
      `      containers: [{ name: manager, image: "ghcr.io/fluxcd/${name}:lab-standin" }]`,
    ].join('\n'),
  );
  const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n  labels: { app.kubernetes.io/part-of: flux }';
  return ['---', [ns, ...crds, ...deployments].join('\n---\n'), ''].join('\n');
}
