// The inventory schema's compiler (ajv with bramble's formats), for the tests'
// run-time compile and for the build's precompiled copy (scripts/gen-validator.ts).
import { createRequire } from 'node:module';
import type { Ajv as AjvClass, CodeOptions } from 'ajv';
import { FORMATS } from './formats.ts';

/** The schema compiler, set up once for run-time use and for the build's precompiled copy. */
export function inventoryAjv(code?: CodeOptions): AjvClass {
  // Loaded only when needed: a built bramble validates with the precompiled copy.
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, ...(code ? { code } : {}) });
  for (const [name, f] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: f.test });
  return ajv;
}

