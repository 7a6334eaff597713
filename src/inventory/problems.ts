// A problem found in an inventory, located in its file. Every way an inventory
// can be wrong (bad YAML, wrong shape, wrong meaning) ends up as one of these,
// so the owner always reads the same one-line form.
import { BrambleError } from '../base/errors.ts';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node as YamlNode } from 'yaml';

export type FieldPath = ReadonlyArray<string | number>;

export interface Problem {
  file: string;
  line: number;
  col: number;
  path: FieldPath;
  message: string;
}

/**
 * A key as it can appear in a one-line message: a broken file can make a key
 * of anything (a whole paragraph, control characters), so it is cut short,
 * flattened and quoted when it is not a plain name.
 */
function keyText(key: string): string {
  if (/^[A-Za-z0-9_-]{1,40}$/.test(key)) return key;
  const flat = key.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return JSON.stringify(flat.length > 32 ? `${flat.slice(0, 32)}...` : flat);
}

export function formatPath(path: FieldPath): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? keyText(part) : `.${keyText(part)}`;
  }
  return out;
}

export function formatProblem(p: Problem): string {
  // One problem, one line, whatever the file held.
  const message = p.message.replace(/[\r\n\u2028\u2029]+/g, ' ');
  return `${p.file}:${p.line}:${p.col}: ${formatPath(p.path)}: ${message}`;
}

export class InventoryError extends BrambleError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

/** Maps field paths and offsets of one parsed file to lines and columns. */
export class Locator {
  readonly file: string;
  private readonly doc: Document.Parsed;
  private readonly lines: LineCounter;

  constructor(file: string, doc: Document.Parsed, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
  }

  at(offset: number, path: FieldPath, message: string): Problem {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col, path, message };
  }

  /**
   * The problem placed on the value at `path`; when that value is absent, on
   * the nearest ancestor that exists. `onKey` places it on the key instead
   * (for fields that should not be there at all).
   */
  problem(path: FieldPath, message: string, onKey = false): Problem {
    for (let depth = path.length; depth >= 0; depth--) {
      const prefix = path.slice(0, depth);
      if (onKey && depth === path.length && depth > 0) {
        const parent = prefix.length > 1 ? this.doc.getIn(prefix.slice(0, -1), true) : this.doc.contents;
        const key = prefix[prefix.length - 1];
        if (isMap(parent)) {
          const pair = parent.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(key));
          const keyNode = pair?.key as YamlNode | undefined;
          if (keyNode?.range) return this.at(keyNode.range[0], path, message);
        }
      }
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(prefix, true);
      if (node && typeof node === 'object' && 'range' in node && (node as YamlNode).range) {
        return this.at((node as YamlNode).range![0], path, message);
      }
    }
    return { file: this.file, line: 1, col: 1, path, message };
  }

  /** The field path of the innermost node that contains `offset`. */
  pathAt(offset: number): FieldPath {
    const path: Array<string | number> = [];
    let node: unknown = this.doc.contents;
    for (;;) {
      if (isMap(node)) {
        const pair = node.items.find((it) => {
          const start = (it.key as YamlNode | null)?.range?.[0] ?? Infinity;
          const end = (it.value as YamlNode | null)?.range?.[2] ?? (it.key as YamlNode | null)?.range?.[2] ?? -1;
          return offset >= start && offset <= end;
        });
        if (!pair || !isScalar(pair.key)) return path;
        path.push(String(pair.key.value));
        node = pair.value;
      } else if (isSeq(node)) {
        const idx = node.items.findIndex((it) => {
          const r = (it as YamlNode | null)?.range;
          return r != null && offset >= r[0] && offset <= r[2];
        });
        if (idx < 0) return path;
        path.push(idx);
        node = node.items[idx];
      } else {
        return path;
      }
    }
  }
}

/** One thing a check found, at the field to fix. */
export interface Finding {
  path: FieldPath;
  message: string;
  /** Place the error on the key, for fields that should not be there. */
  onKey?: boolean;
  /** Said, not refused: the inventory is valid, and validate names the risk. */
  warning?: boolean;
}
