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

/** The repository path the lab serves Flux's manifests artifact under (as ghcr.io/fluxcd/flux-manifests). */
export const FLUX_ARTIFACT = 'fluxcd/flux-manifests';

/**
 * Flux `version` served both ways a cluster takes it: the release's
 * install.yaml (the first start, through k3s's auto-deploy folder) and the
 * manifests artifact tagged v`version` (Flux upgrading itself from Git).
 * The artifact carries a kustomization.yaml, because the Flux stand-in builds
 * with `kubectl kustomize`, which needs one (kustomize-controller makes one
 * when a folder has none).
 */
export async function serveFlux(lab: { serve(path: string, body: string, type?: string): Promise<string>; serveArtifact(name: string, tag: string, files: Record<string, string>): Promise<string> }, version: string): Promise<void> {
  const manifest = fluxInstallManifest(version);
  await lab.serve(`/flux/v${version}/install.yaml`, manifest, 'application/yaml');
  await lab.serveArtifact(FLUX_ARTIFACT, `v${version}`, { 'kustomization.yaml': 'resources:\n  - install.yaml\n', 'install.yaml': manifest });
}
