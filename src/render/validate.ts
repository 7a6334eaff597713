// Every document bramble renders is parsed back and checked against its
// upstream schema, and the references between documents (kustomization
// resources, Flux paths, sources, dependencies) are followed, before anything
// is written. A template that produces bad YAML fails here, not on a cluster.
import { BrambleError } from '../base/errors.ts';
import { parseAllDocuments } from 'yaml';
import { RecurringJob } from './longhorn-model.ts';
import { Plan } from './plan-model.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

// One module per kind, each loaded the first time a rendered document needs
// it: the packages' index modules load every kind's schema, and even one
// kind's (a Deployment's, with the whole Pod spec) costs a tenth of a second
// at start-up that a site without it should not pay.
const MODELS: Record<string, () => Promise<ModelClass>> = {
  'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace,
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'policy/v1/PodDisruptionBudget': async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
  'storage.k8s.io/v1/StorageClass': async () => (await import('kubernetes-models/storage.k8s.io/v1/StorageClass')).StorageClass,
  'networking.k8s.io/v1/NetworkPolicy': async () => (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy,
  'cert-manager.io/v1/Certificate': async () => (await import('@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate')).Certificate,
  'cert-manager.io/v1/ClusterIssuer': async () => (await import('@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer')).ClusterIssuer,
  'source.toolkit.fluxcd.io/v1/GitRepository': async () => (await import('@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/GitRepository')).GitRepository,
  'source.toolkit.fluxcd.io/v1/HelmRepository': async () => (await import('@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/HelmRepository')).HelmRepository,
  'source.toolkit.fluxcd.io/v1/OCIRepository': async () => (await import('@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/OCIRepository')).OCIRepository,
  'kustomize.toolkit.fluxcd.io/v1/Kustomization': async () => (await import('@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/Kustomization')).Kustomization,
  'helm.toolkit.fluxcd.io/v2/HelmRelease': async () => (await import('@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2/HelmRelease')).HelmRelease,
  'notification.toolkit.fluxcd.io/v1beta3/Provider': async () => (await import('@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3/Provider')).Provider,
  'notification.toolkit.fluxcd.io/v1beta3/Alert': async () => (await import('@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3/Alert')).Alert,
  'notification.toolkit.fluxcd.io/v1/Receiver': async () => (await import('@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1/Receiver')).Receiver,
  'traefik.io/v1alpha1/IngressRoute': async () => (await import('@kubernetes-models/traefik/traefik.io/v1alpha1/IngressRoute')).IngressRoute,
  'traefik.io/v1alpha1/Middleware': async () => (await import('@kubernetes-models/traefik/traefik.io/v1alpha1/Middleware')).Middleware,
  'monitoring.coreos.com/v1/PrometheusRule': async () => (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule')).PrometheusRule,
  'monitoring.coreos.com/v1/PodMonitor': async () => (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor')).PodMonitor,
  'monitoring.coreos.com/v1/ServiceMonitor': async () => (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor')).ServiceMonitor,
  'monitoring.coreos.com/v1alpha1/ScrapeConfig': async () => (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/ScrapeConfig')).ScrapeConfig,
  'upgrade.cattle.io/v1/Plan': async () => Plan,
  'longhorn.io/v1beta2/RecurringJob': async () => RecurringJob,
};

export const KUSTOMIZE_API = 'kustomize.config.k8s.io/v1beta1';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface RenderedDoc {
  file: string;
  index: number;
  object: K8sObject;
}

export class RenderError extends BrambleError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`rendered manifests failed validation:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Parse one rendered file; problems are pushed, documents returned. */
export function parseRendered(file: string, content: string, problems: string[]): RenderedDoc[] {
  const docs = parseAllDocuments(content, { uniqueKeys: true, strict: true, prettyErrors: false });
  if (!Array.isArray(docs)) {
    problems.push(`${file}: not YAML`);
    return [];
  }
  const out: RenderedDoc[] = [];
  docs.forEach((doc, index) => {
    for (const e of doc.errors) problems.push(`${file}: document ${index + 1}: invalid YAML: ${e.message.split('\n')[0]}`);
    if (doc.errors.length > 0) return;
    const object = doc.toJS() as unknown;
    if (object === null || object === undefined) return;
    if (typeof object !== 'object' || Array.isArray(object)) {
      problems.push(`${file}: document ${index + 1}: expected a Kubernetes object, got ${Array.isArray(object) ? 'a list' : typeof object}`);
      return;
    }
    out.push({ file, index, object: object as K8sObject });
  });
  return out;
}

function describe(d: RenderedDoc): string {
  const name = d.object.metadata?.name;
  return `${d.file}: ${d.object.kind ?? '?'}${name ? ` ${d.object.metadata?.namespace ? d.object.metadata.namespace + '/' : ''}${name}` : ''}`;
}

/** Validate each object against its upstream schema, loading each kind's model once. */
export async function validateObjects(docs: RenderedDoc[], problems: string[]): Promise<void> {
  const models = new Map<string, ModelClass>();
  await Promise.all(
    [...new Set(docs.map((d) => `${d.object.apiVersion}/${d.object.kind}`))].filter((k) => MODELS[k]).map(async (k) => models.set(k, await MODELS[k]!())),
  );
  for (const d of docs) validateObject(d, problems, models);
}

function validateObject(d: RenderedDoc, problems: string[], models: Map<string, ModelClass>): void {
  const { apiVersion, kind } = d.object;
  if (apiVersion === KUSTOMIZE_API && kind === 'Kustomization') {
    const r = (d.object as { resources?: unknown }).resources;
    if (!Array.isArray(r) || r.some((x) => typeof x !== 'string')) problems.push(`${describe(d)}: resources must be a list of paths`);
    return;
  }
  const Model = models.get(`${apiVersion}/${kind}`);
  if (!Model) {
    problems.push(`${describe(d)}: no schema is known for ${apiVersion}/${kind}; bramble renders only kinds it can validate`);
    return;
  }
  if (!d.object.metadata?.name) problems.push(`${describe(d)}: metadata.name is missing`);
  try {
    new Model(d.object as never).validate();
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
    const detail = errors?.map((x) => `${x.instancePath || '/'} ${x.message ?? ''}`.trim()).join('; ') ?? (e as Error).message;
    problems.push(`${describe(d)}: ${detail}`);
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts.join('/');
}

/**
 * Cross-document checks over a whole rendered tree: every kustomization
 * resource exists and every manifest in a kustomize folder is listed; every
 * Flux path, source and dependency points at something rendered.
 */
export function checkReferences(files: Map<string, string>, docs: RenderedDoc[], problems: string[]): void {
  const kustomizeDirs = new Set([...files.keys()].filter((f) => f.endsWith('/kustomization.yaml')).map(dirOf));
  const byKind = (apiVersion: string, kind: string) => docs.filter((d) => d.object.apiVersion === apiVersion && d.object.kind === kind);
  const has = (list: RenderedDoc[], name: string, namespace?: string) =>
    list.some((d) => d.object.metadata?.name === name && (namespace === undefined || d.object.metadata?.namespace === namespace));

  for (const d of byKind(KUSTOMIZE_API, 'Kustomization')) {
    const dir = dirOf(d.file);
    const listed = new Set<string>();
    for (const r of ((d.object as { resources?: string[] }).resources ?? [])) {
      const target = normalize(`${dir}/${r}`);
      listed.add(target);
      if (!files.has(target) && !kustomizeDirs.has(target)) problems.push(`${d.file}: resource ${r} is neither a rendered file nor a folder with a kustomization.yaml`);
    }
    for (const f of files.keys()) {
      if (dirOf(f) === dir && f.endsWith('.yaml') && f !== d.file && !listed.has(f)) problems.push(`${d.file}: ${f.slice(dir.length + 1)} is rendered in this folder but not listed in resources`);
    }
  }

  const gitRepos = byKind('source.toolkit.fluxcd.io/v1', 'GitRepository');
  const fluxKs = byKind('kustomize.toolkit.fluxcd.io/v1', 'Kustomization');
  for (const d of fluxKs) {
    const spec = d.object.spec as { path?: string; sourceRef?: { kind: string; name: string }; dependsOn?: Array<{ name: string; namespace?: string }> };
    const path = normalize(spec.path ?? '');
    // A path is in this repository only when the source is this repository (Flux's own, flux-system);
    // another GitRepository (an upstream project's release) has folders of its own.
    const own = spec.sourceRef?.kind === 'GitRepository' && spec.sourceRef.name === 'flux-system';
    if (own && !kustomizeDirs.has(path)) problems.push(`${describe(d)}: spec.path ${spec.path} is not a rendered folder with a kustomization.yaml`);
    if (spec.sourceRef?.kind === 'GitRepository' && !has(gitRepos, spec.sourceRef.name)) problems.push(`${describe(d)}: source GitRepository ${spec.sourceRef.name} is not rendered`);
    for (const dep of spec.dependsOn ?? []) {
      if (!has(fluxKs, dep.name, dep.namespace ?? d.object.metadata?.namespace)) problems.push(`${describe(d)}: dependsOn ${dep.name}, which is not rendered`);
    }
  }

  const helmRepos = byKind('source.toolkit.fluxcd.io/v1', 'HelmRepository');
  const releases = byKind('helm.toolkit.fluxcd.io/v2', 'HelmRelease');
  for (const d of releases) {
    const ns = d.object.metadata?.namespace;
    const spec = d.object.spec as { chart?: { spec?: { sourceRef?: { kind: string; name: string; namespace?: string } } }; dependsOn?: Array<{ name: string; namespace?: string }> };
    const ref = spec.chart?.spec?.sourceRef;
    if (ref?.kind === 'HelmRepository' && !has(helmRepos, ref.name, ref.namespace ?? ns)) problems.push(`${describe(d)}: chart source HelmRepository ${ref.namespace ?? ns}/${ref.name} is not rendered`);
    for (const dep of spec.dependsOn ?? []) {
      if (!has(releases, dep.name, dep.namespace ?? ns)) problems.push(`${describe(d)}: dependsOn HelmRelease ${dep.namespace ?? ns}/${dep.name}, which is not rendered`);
    }
  }
}
