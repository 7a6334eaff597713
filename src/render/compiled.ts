// The validators of the models no @kubernetes-models package carries (Plan,
// RecurringJob). `npm run build` compiles their JSON Schemas ahead of time
// next to the built modules (scripts/gen-validator.ts), as it does the
// inventory's: ajv's compile was a tenth of a second of every run that
// renders. Run from the sources (the tests), a schema is compiled when it is
// first needed. A built bramble without a generated validator is broken, and
// says so when it validates rather than quietly compiling.
import { createRequire } from 'node:module';
import type { Options, ValidateFunction } from 'ajv';
import { BrambleError } from '../base/errors.ts';

export interface ModelSchema {
  /** The generated module's name, beside the built model module. */
  generated: string;
  schema: object;
  options: Options;
}

/**
 * The validator for `model`, given the model module's own URL and the import
 * of its generated module (spelt out there, so that the bundle carries it);
 * the compile is deferred to the first use.
 */
export async function modelValidator(moduleUrl: string, model: ModelSchema, generated: () => Promise<{ default?: unknown }>): Promise<() => ValidateFunction> {
  if (moduleUrl.endsWith('.ts')) {
    let compiled: ValidateFunction | undefined;
    return () => {
      if (!compiled) {
        const { Ajv } = createRequire(moduleUrl)('ajv') as typeof import('ajv');
        compiled = new Ajv(model.options).compile(model.schema);
      }
      return compiled;
    };
  }
  // A missing one is reported where a render needs it, not when the module loads: the build
  // step that writes these imports the model modules before they exist.
  const broken = (why: string) => () => {
    throw new BrambleError(`bramble's validator ${model.generated.slice(2)} (made by npm run build) is missing or broken: ${why}. Rebuild bramble (npm run build) or reinstall it.`);
  };
  let m: { default?: unknown };
  try {
    m = await generated();
  } catch (e) {
    return broken((e as Error).message.split('\n')[0]!);
  }
  if (typeof m.default !== 'function') return broken('it exports no validator function');
  const validate = m.default as ValidateFunction;
  return () => validate;
}
