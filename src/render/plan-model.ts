// A model for system-upgrade-controller's Plan (upgrade.cattle.io/v1), which
// no @kubernetes-models package carries. Its shape follows the PlanSpec of
// the release bramble pins (v0.20.1, pkg/apis/upgrade.cattle.io/v1/types.go):
// closed objects, so a misspelt field is an error here as it is for the API
// server's strict validation. The Kubernetes types inside it (label selector,
// tolerations, env, security context) are checked by kubernetes-models' own
// schemas. The suite also checks rendered Plans against the real CRD.
import { modelValidator, type ModelSchema } from './compiled.ts';
import { LabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { EnvVar } from 'kubernetes-models/v1/EnvVar';
import { SecurityContext } from 'kubernetes-models/v1/SecurityContext';
import { Toleration } from 'kubernetes-models/v1/Toleration';

const object = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const str = { type: 'string' };
const strings = { type: 'array', items: str };
// Checked below by the Kubernetes models, whose errors name the field.
const k8s = { type: 'object' };

const CONTAINER = object(
  {
    image: { type: 'string', minLength: 1 },
    command: strings,
    args: strings,
    envs: { type: 'array', items: k8s },
    envFrom: { type: 'array', items: k8s },
    volumes: { type: 'array', items: object({ name: str, source: str, destination: str }, ['name', 'source', 'destination']) },
    securityContext: k8s,
  },
  ['image'],
);

const PLAN = object(
  {
    apiVersion: { const: 'upgrade.cattle.io/v1' },
    kind: { const: 'Plan' },
    metadata: object({ name: { type: 'string', minLength: 1 }, namespace: str, labels: { type: 'object', additionalProperties: str }, annotations: { type: 'object', additionalProperties: str } }, ['name']),
    spec: object(
      {
        concurrency: { type: 'integer', minimum: 0 },
        jobActiveDeadlineSecs: { type: 'integer', minimum: 0 },
        nodeSelector: k8s,
        serviceAccountName: str,
        channel: str,
        version: str,
        secrets: { type: 'array', items: object({ name: str, path: str, ignoreUpdates: { type: 'boolean' }, defaultMode: { type: 'integer' } }, ['name', 'path']) },
        tolerations: { type: 'array', items: k8s },
        exclusive: { type: 'boolean' },
        window: object({ days: { type: 'array', minItems: 1, items: str }, startTime: str, endTime: str, timeZone: str }),
        prepare: CONTAINER,
        upgrade: CONTAINER,
        cordon: { type: 'boolean' },
        drain: object({
          timeout: { type: ['string', 'integer'] },
          gracePeriod: { type: 'integer' },
          deleteLocalData: { type: 'boolean' },
          deleteEmptydirData: { type: 'boolean' },
          ignoreDaemonSets: { type: 'boolean' },
          force: { type: 'boolean' },
          disableEviction: { type: 'boolean' },
          skipWaitForDeleteTimeout: { type: 'integer' },
          podSelector: k8s,
        }),
        imagePullSecrets: { type: 'array', items: object({ name: str }) },
        postCompleteDelay: str,
        priorityClassName: str,
        postCompleteLabels: { type: 'object', additionalProperties: str },
      },
      ['upgrade'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

export const PLAN_MODEL: ModelSchema = { generated: './plan-model.generated.js', schema: PLAN, options: { allErrors: true, strict: true, allowUnionTypes: true } };
const shape = await modelValidator(import.meta.url, PLAN_MODEL, () => import('./plan-model.generated.js'));

interface PlanSpec {
  nodeSelector?: unknown;
  tolerations?: unknown[];
  prepare?: { envs?: unknown[]; securityContext?: unknown };
  upgrade?: { envs?: unknown[]; securityContext?: unknown };
  drain?: { podSelector?: unknown };
}

export class Plan {
  private readonly data: { spec?: PlanSpec };
  constructor(data: never) {
    this.data = data as { spec?: PlanSpec };
  }

  /** Throws an error with `errors` ({instancePath, message}) as kubernetes-models' validate does. */
  validate(): void {
    const check = shape();
    const errors: Array<{ instancePath: string; message?: string }> = [];
    if (!check(this.data)) errors.push(...(check.errors ?? []).map((e) => ({ instancePath: e.instancePath, message: `${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}` })));
    const spec = this.data.spec ?? {};
    const nested = (path: string, value: unknown, Model: new (d: never) => { validate(): void }) => {
      if (value === undefined) return;
      try {
        new Model(value as never).validate();
      } catch (e) {
        for (const x of (e as { errors?: Array<{ instancePath: string; message?: string }> }).errors ?? [{ instancePath: '', message: (e as Error).message }]) {
          errors.push({ instancePath: `${path}${x.instancePath}`, message: x.message });
        }
      }
    };
    nested('/spec/nodeSelector', spec.nodeSelector, LabelSelector);
    nested('/spec/drain/podSelector', spec.drain?.podSelector, LabelSelector);
    (spec.tolerations ?? []).forEach((t, i) => nested(`/spec/tolerations/${i}`, t, Toleration));
    for (const c of ['prepare', 'upgrade'] as const) {
      (spec[c]?.envs ?? []).forEach((v, i) => nested(`/spec/${c}/envs/${i}`, v, EnvVar));
      nested(`/spec/${c}/securityContext`, spec[c]?.securityContext, SecurityContext);
    }
    if (errors.length > 0) throw Object.assign(new Error(errors.map((e) => `${e.instancePath} ${e.message}`).join('; ')), { errors });
  }
}
