// Where bramble's own files are, whether it runs from src/ or from dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding bramble's package.json (and templates/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'bramble') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find bramble\'s package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}
