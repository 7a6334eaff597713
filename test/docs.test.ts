// The published schema and reference are generated; they must match the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { inventoryReference, publishedSchema } from '../src/inventory/docs.ts';
import { HOMELAB, ROOT, SECOND } from './helpers.ts';

test('docs/inventory.schema.json and docs/inventory-reference.md are up to date (npm run docs)', () => {
  assert.equal(readFileSync(join(ROOT, 'docs', 'inventory.schema.json'), 'utf8'), publishedSchema());
  assert.equal(readFileSync(join(ROOT, 'docs', 'inventory-reference.md'), 'utf8'), inventoryReference());
});

test('example inventories carry the schema line, and the published schema accepts them', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'docs', 'inventory.schema.json'), 'utf8'));
  // As an editor would: standard formats only, bramble's own ignored.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  for (const [file, line] of [[HOMELAB, '# yaml-language-server: $schema=../docs/inventory.schema.json'], [SECOND, '# yaml-language-server: $schema=../../docs/inventory.schema.json']] as const) {
    const text = readFileSync(file, 'utf8');
    assert.equal(text.split('\n')[0], line);
    assert.equal(validate(parse(text)), true, JSON.stringify(validate.errors));
  }
  assert.equal(validate({ apiVersion: 'bramble/v1alpha1' }), false);
});
