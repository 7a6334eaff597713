// Writes the generated parts of the docs: docs/inventory.schema.json and
// docs/inventory-reference.md from the TypeBox schema, and the command tables
// of docs/commands.md and the README from the command table, so that none of
// them can drift from what bramble does. A test fails when they are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../src/commands/index.ts';
import { commandsTable, readmeTable, withCommandsTable } from '../src/commands/help.ts';
import { inventoryReference, publishedSchema } from '../src/inventory/docs.ts';
import { packageRoot } from '../src/base/paths.ts';

const root = packageRoot();
const docs = join(root, 'docs');
writeFileSync(join(docs, 'inventory.schema.json'), publishedSchema());
writeFileSync(join(docs, 'inventory-reference.md'), inventoryReference());
for (const [file, table] of [[join(docs, 'commands.md'), commandsTable(COMMANDS)], [join(root, 'README.md'), readmeTable(COMMANDS)]] as const) {
  writeFileSync(file, withCommandsTable(readFileSync(file, 'utf8'), table));
}
console.log('wrote docs/inventory.schema.json, docs/inventory-reference.md, and the command tables of docs/commands.md and README.md');
