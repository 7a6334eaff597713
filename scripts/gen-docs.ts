// Writes docs/inventory.schema.json and docs/inventory-reference.md from the
// TypeBox schema, so the published schema and its reference cannot drift from
// what `bramble validate` checks. A test fails when they are stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inventoryReference, publishedSchema } from '../src/inventory/docs.ts';
import { packageRoot } from '../src/paths.ts';

const docs = join(packageRoot(), 'docs');
writeFileSync(join(docs, 'inventory.schema.json'), publishedSchema());
writeFileSync(join(docs, 'inventory-reference.md'), inventoryReference());
console.log(`wrote ${join(docs, 'inventory.schema.json')} and inventory-reference.md`);
