// One value of a sops file, as sops's aes/cipher.go and ToBytes treat it:
// the bytes its MAC hashes, its AES-256-GCM encryption under the data key with
// the value's path as additional data, and the ENC[...] text that carries it.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { isMap, isScalar, isSeq, type Node, type Pair, Scalar } from 'yaml';
import { BrambleError } from '../base/errors.ts';

export class SopsError extends BrambleError {}

export const IV_BYTES = 32;
export const ENC = /^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$/;


export type Plain = string | number | boolean;

export function stashKey(ad: string, v: Plain): string {
  return `${ad}\u0000${typeof v}\u0000${String(v)}`;
}

/** sops's ToBytes: what the MAC hashes and what is encrypted. */
export function toBytes(v: Plain, type: string): Buffer {
  if (type === 'bool') return Buffer.from(v ? 'True' : 'False');
  return Buffer.from(String(v));
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64), which sops's ToBytes uses: shortest digits, never an exponent. */
export function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  const [mantissa, exponent] = f.toExponential().split('e') as [string, string];
  const neg = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const point = Number(exponent) + 1;
  const text = point <= 0 ? `0.${'0'.repeat(-point)}${digits}` : point >= digits.length ? digits + '0'.repeat(point - digits.length) : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (neg ? '-' : '') + text;
}

/**
 * What sops hashes (and encrypts) for a plain scalar, as Go prints it. A
 * number is taken from its text, not from JavaScript's double (2^53 + 1,
 * 1e21); a number whose reading could differ between the two YAML libraries
 * (a tag, hex, .inf) is refused rather than hashed wrongly.
 */
export function sopsBytes(node: Scalar, type: string, where: string): Buffer {
  const v = node.value as Plain;
  if (typeof v !== 'number') return toBytes(v, type);
  const src = (node.source ?? String(v)).trim();
  if (!node.tag && type === 'int' && /^[-+]?[0-9]+$/.test(src)) return Buffer.from(BigInt(src).toString());
  if (!node.tag && type === 'float' && /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(src)) return Buffer.from(goFloat(Number(src)));
  throw new SopsError(`${where}: the number ${src} is one sops (Go) may read differently from bramble; quote it to make it a string`);
}

export function typeOf(node: Scalar): string | undefined {
  const v = node.value;
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') {
    const src = node.source ?? String(v);
    return Number.isInteger(v) && !/[.eE]/.test(src) ? 'int' : 'float';
  }
  return undefined;
}

/** Every scalar of the document but the sops block, in document order, with its path of mapping keys. */
export function* leaves(node: Node | null | undefined, path: string[]): Generator<{ node: Scalar; path: string[] }> {
  if (isMap(node)) {
    for (const pair of node.items as Pair<Node, Node>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (path.length === 0 && key === 'sops') continue;
      yield* leaves(pair.value, [...path, key]);
    }
  } else if (isSeq(node)) {
    for (const item of node.items as Node[]) yield* leaves(item, path);
  } else if (isScalar(node) && node.value !== null && node.value !== undefined) {
    yield { node, path };
  }
}

export function aesEncrypt(key: Buffer, iv: Buffer, plain: Buffer, ad: string): { data: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(ad));
  const data = Buffer.concat([c.update(plain), c.final()]);
  return { data, tag: c.getAuthTag() };
}

export function encValue(key: Buffer, iv: Buffer, plain: Buffer, ad: string, type: string): string {
  const { data, tag } = aesEncrypt(key, iv, plain, ad);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

export function decValue(key: Buffer, value: string, ad: string, where: string): { plain: Plain; iv: Buffer; type: string; bytes: Buffer } {
  const m = ENC.exec(value);
  if (!m) throw new SopsError(`${where}: not a sops-encrypted value (it should start with ENC[AES256_GCM,)`);
  const [data, iv, tag] = [m[1]!, m[2]!, m[3]!].map((b) => Buffer.from(b, 'base64'));
  const type = m[4]!;
  let out: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv!);
    d.setAAD(Buffer.from(ad));
    d.setAuthTag(tag!);
    out = Buffer.concat([d.update(data!), d.final()]);
  } catch {
    throw new SopsError(`${where}: the value does not decrypt (changed, or moved from another key)`);
  }
  const text = out.toString('utf8');
  const plain: Plain = type === 'int' ? Number.parseInt(text, 10) : type === 'float' ? Number.parseFloat(text) : type === 'bool' ? /^true$/i.test(text) : text;
  if (!['str', 'int', 'float', 'bool'].includes(type)) throw new SopsError(`${where}: values of type ${type} are not supported`);
  return { plain, iv: iv!, type, bytes: out };
}
