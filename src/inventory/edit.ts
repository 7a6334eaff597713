// Changing one value of the owner's inventory without re-printing it: the
// text around the value (comments, quoting, flow style, blank lines) stays
// byte for byte. Only when a new key has to go into a flow-style or empty map
// is the document printed again by the yaml library.
import { isMap, isScalar, parseDocument, stringify, type Scalar } from 'yaml';

type Path = Array<string | number>;

export function setKeepingText(text: string, path: Path, value: string | number | boolean): string {
  const doc = parseDocument(text);
  const scalar = (v: unknown) => stringify(v).trimEnd();
  const node = doc.getIn(path, true);
  if (isScalar(node) && node.range) return `${text.slice(0, node.range[0])}${scalar(value)}${text.slice(node.range[1])}`;
  // The deepest map on the path that exists: the new keys go in below its last line.
  for (let k = path.length - 1; k >= 1; k--) {
    const parent = doc.getIn(path.slice(0, k), true);
    if (parent === undefined) continue;
    if (!isMap(parent) || parent.flow || parent.items.length === 0 || !parent.range || !isScalar(parent.items[0]!.key)) break;
    if (doc.getIn(path.slice(0, k + 1), true) !== undefined) break;
    const keyStart = (parent.items[0]!.key as Scalar).range![0];
    const indent = keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1);
    const lineEnd = text.indexOf('\n', Math.max(parent.range[1] - 1, 0));
    const at = lineEnd === -1 ? text.length : lineEnd + 1;
    const before = text.slice(0, at);
    const rest = path.slice(k).map(String);
    const lines = rest.map((key, j) => `${' '.repeat(indent + 2 * j)}${key}:${j === rest.length - 1 ? ` ${scalar(value)}` : ''}`);
    return `${before}${before.endsWith('\n') ? '' : '\n'}${lines.join('\n')}\n${text.slice(at)}`;
  }
  doc.setIn(path, value);
  return doc.toString({ lineWidth: 0 });
}
