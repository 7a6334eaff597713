// A model for Longhorn's RecurringJob (longhorn.io/v1beta2), which no
// @kubernetes-models package carries. Its shape follows RecurringJobSpec in
// longhorn-manager (k8s/pkg/apis/longhorn/v1beta2/recurringjob.go) for the
// fields every release since 1.4 has: closed objects, so a misspelt field is
// an error here as it is for the API server's strict validation, and the task
// is one of the CRD's enum.
import { modelValidator, type ModelSchema } from './compiled.ts';
import { isCron } from '../inventory/formats.ts';

const TASKS = ['snapshot', 'snapshot-force-create', 'snapshot-cleanup', 'snapshot-delete', 'backup', 'backup-force-create', 'filesystem-trim', 'system-backup'];
const str = { type: 'string' };
const labels = { type: 'object', additionalProperties: str };

const RECURRING_JOB = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'longhorn.io/v1beta2' },
    kind: { const: 'RecurringJob' },
    metadata: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1 }, namespace: str, labels, annotations: labels } },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['task', 'cron'],
      properties: {
        name: str,
        groups: { type: 'array', items: str },
        task: { enum: TASKS },
        cron: str,
        retain: { type: 'integer', minimum: 0 },
        concurrency: { type: 'integer', minimum: 1 },
        labels,
        parameters: labels,
      },
    },
  },
};

export const RECURRING_JOB_MODEL: ModelSchema = { generated: './longhorn-model.generated.js', schema: RECURRING_JOB, options: { allErrors: true, strict: true } };
const shape = await modelValidator(import.meta.url, RECURRING_JOB_MODEL, () => import('./longhorn-model.generated.js'));

export class RecurringJob {
  private readonly data: { spec?: { cron?: string } };
  constructor(data: never) {
    this.data = data;
  }

  /** Throws an error with `errors` ({instancePath, message}) as kubernetes-models' validate does. */
  validate(): void {
    const check = shape();
    const errors: Array<{ instancePath: string; message?: string }> = [];
    if (!check(this.data)) errors.push(...(check.errors ?? []).map((e) => ({ instancePath: e.instancePath, message: `${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}` })));
    const spec = this.data.spec ?? {};
    if (typeof spec.cron === 'string' && !isCron(spec.cron)) errors.push({ instancePath: '/spec/cron', message: 'must be a five-field cron schedule' });
    if (errors.length > 0) throw Object.assign(new Error(errors.map((e) => `${e.instancePath} ${e.message}`).join('; ')), { errors });
  }
}
