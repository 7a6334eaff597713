// SOPS-encrypted YAML, read and written natively, so the owner needs no sops
// binary. The format is sops's own (getsops/sops 3.13: aes/cipher.go,
// sops.go, stores/), which Flux's kustomize-controller decrypts:
// - each value to encrypt becomes ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]
//   under one 32-byte data key, with a 32-byte IV and, as additional data, the
//   path of mapping keys to it joined by ':' plus a trailing ':' (sequence
//   indices are not part of the path); empty strings stay as they are;
// - a MAC, SHA-512 over the plaintext values in document order (with
//   mac_only_encrypted: seeded with sha256("sops") and only values that get
//   encrypted), uppercase hex, itself encrypted with `lastmodified` as
//   additional data;
// - the data key, age-encrypted to each recipient and ASCII-armoured, in
//   sops.age[].enc.
// Like sops, a value whose plaintext did not change keeps its IV, and so its
// ciphertext: an unchanged secret re-encrypts to the same bytes.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Decrypter, Encrypter, armor } from 'age-encryption';
import { Document, isMap, isScalar, isSeq, parseDocument, Scalar, type Node, type Pair, YAMLMap } from 'yaml';
import { BrambleError } from '../errors.ts';
import { ENCRYPTED_REGEX } from './rules.ts';

export { ENCRYPTED_REGEX };

/** The sops release whose format this writes (the `version` field). */
export const SOPS_FORMAT_VERSION = '3.13.2';

const IV_BYTES = 32;
const ENC = /^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$/;

export class SopsError extends BrambleError {}

type Plain = string | number | boolean;

interface Rules {
  encryptedRegex?: string;
  unencryptedRegex?: string;
  encryptedSuffix?: string;
  unencryptedSuffix?: string;
}

/** A decrypted file: its document with plaintext values, and what re-encrypting it the same way needs. */
export interface Decrypted {
  doc: Document;
  dataKey: Buffer;
  recipients: string[];
  /** The armoured data key per recipient, kept so an unchanged file is written back byte for byte. */
  enc: Map<string, string>;
  /** IV per (additional data, type, plaintext), as sops's cipher stash. */
  stash: Map<string, Buffer>;
  macOnlyEncrypted: boolean;
  rules: Rules;
  lastModified: string;
  text: string;
}

function stashKey(ad: string, v: Plain): string {
  return `${ad}\u0000${typeof v}\u0000${String(v)}`;
}

/** sops's ToBytes: what the MAC hashes and what is encrypted. */
function toBytes(v: Plain, type: string): Buffer {
  if (type === 'bool') return Buffer.from(v ? 'True' : 'False');
  return Buffer.from(String(v));
}

function typeOf(node: Scalar): string | undefined {
  const v = node.value;
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') {
    const src = node.source ?? String(v);
    return Number.isInteger(v) && !/[.eE]/.test(src) ? 'int' : 'float';
  }
  return undefined;
}

function shouldEncrypt(path: string[], r: Rules): boolean {
  let encrypted = true;
  if (r.unencryptedSuffix && path.some((p) => p.endsWith(r.unencryptedSuffix!))) encrypted = false;
  if (r.encryptedSuffix) encrypted = path.some((p) => p.endsWith(r.encryptedSuffix!));
  if (r.unencryptedRegex && path.some((p) => new RegExp(r.unencryptedRegex!).test(p))) encrypted = false;
  if (r.encryptedRegex) encrypted = path.some((p) => new RegExp(r.encryptedRegex!).test(p));
  return encrypted;
}

/** Every scalar of the document but the sops block, in document order, with its path of mapping keys. */
function* leaves(node: Node | null | undefined, path: string[]): Generator<{ node: Scalar; path: string[] }> {
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

function aesEncrypt(key: Buffer, iv: Buffer, plain: Buffer, ad: string): { data: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(ad));
  const data = Buffer.concat([c.update(plain), c.final()]);
  return { data, tag: c.getAuthTag() };
}

function encValue(key: Buffer, iv: Buffer, plain: Buffer, ad: string, type: string): string {
  const { data, tag } = aesEncrypt(key, iv, plain, ad);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${tag.toString('base64')},type:${type}]`;
}

function decValue(key: Buffer, value: string, ad: string, where: string): { plain: Plain; iv: Buffer; type: string } {
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
  return { plain, iv: iv!, type };
}

function metadataOf(doc: Document, file: string): YAMLMap {
  const sops = doc.get('sops', true);
  if (!isMap(sops)) throw new SopsError(`${file}: not a sops file (no sops: block)`);
  return sops;
}

/** True when a YAML text is a sops file (it has the sops block with a mac). */
export function isSopsText(text: string): boolean {
  try {
    const doc = parseDocument(text);
    const sops = doc.get('sops', true);
    return isMap(sops) && sops.has('mac');
  } catch {
    return false;
  }
}

/** The age recipients a sops file is encrypted to, read without any key. */
export function recipientsOf(text: string, file = 'file'): string[] {
  const sops = metadataOf(parseDocument(text), file);
  const age = sops.get('age', true);
  return isSeq(age) ? (age.items as YAMLMap[]).map((e) => String(e.get('recipient'))) : [];
}

/**
 * Decrypt a sops YAML file with age identities (AGE-SECRET-KEY-1...). The MAC
 * must hold: a value changed, added or removed after encryption is refused.
 */
export async function decryptSops(text: string, identities: string[], file = 'file'): Promise<Decrypted> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new SopsError(`${file}: not YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const sops = metadataOf(doc, file);
  const str = (k: string) => (sops.has(k) ? String(sops.get(k)) : undefined);
  for (const k of ['encrypted_comment_regex', 'unencrypted_comment_regex', 'shamir_threshold', 'key_groups']) {
    if (sops.has(k)) throw new SopsError(`${file}: sops.${k} is not supported by bramble`);
  }
  const rules: Rules = { encryptedRegex: str('encrypted_regex'), unencryptedRegex: str('unencrypted_regex'), encryptedSuffix: str('encrypted_suffix'), unencryptedSuffix: str('unencrypted_suffix') };
  // sops's default when a file names no rule at all.
  if (!rules.encryptedRegex && !rules.unencryptedRegex && !rules.encryptedSuffix && !rules.unencryptedSuffix) rules.unencryptedSuffix = '_unencrypted';
  const ageItems = sops.get('age', true);
  const enc = new Map<string, string>();
  if (isSeq(ageItems)) for (const e of ageItems.items as YAMLMap[]) enc.set(String(e.get('recipient')), String(e.get('enc')));
  if (enc.size === 0) throw new SopsError(`${file}: no age recipient in sops.age; bramble reads age-encrypted files only`);

  let dataKey: Buffer | undefined;
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  for (const armoured of enc.values()) {
    try {
      dataKey = Buffer.from(await d.decrypt(armor.decode(armoured)));
      break;
    } catch {
      // Not for these identities; try the next recipient's copy.
    }
  }
  if (!dataKey) throw new SopsError(`${file}: none of the given age keys opens it; it is encrypted to ${[...enc.keys()].join(', ')}`);
  if (dataKey.length !== 32) throw new SopsError(`${file}: the data key is ${dataKey.length} bytes, not 32`);

  const macOnlyEncrypted = sops.get('mac_only_encrypted') === true;
  const hash = createHash('sha512');
  if (macOnlyEncrypted) hash.update(createHash('sha256').update('sops').digest());
  const stash = new Map<string, Buffer>();
  for (const { node, path } of [...leaves(doc.contents, [])]) {
    const encrypted = shouldEncrypt(path, rules);
    let plain: Plain = node.value as Plain;
    let type = typeOf(node) ?? 'str';
    if (encrypted && !(typeof node.value === 'string' && node.value === '')) {
      const ad = path.join(':') + ':';
      if (typeof node.value !== 'string') throw new SopsError(`${file}: ${path.join('.')}: expected an encrypted value, found a plain ${typeof node.value}`);
      const v = decValue(dataKey, node.value, ad, `${file}: ${path.join('.')}`);
      plain = v.plain;
      type = v.type;
      stash.set(stashKey(ad, plain), v.iv);
      node.value = plain;
      node.type = Scalar.PLAIN;
    }
    if (!macOnlyEncrypted || encrypted) hash.update(toBytes(plain, type));
  }
  const lastModified = str('lastmodified') ?? '';
  const mac = str('mac') ?? '';
  const stored = decValue(dataKey, mac, lastModified, `${file}: sops.mac`).plain;
  const computed = hash.digest('hex').toUpperCase();
  if (stored !== computed) throw new SopsError(`${file}: the MAC does not match: the file was changed after it was encrypted`);
  doc.delete('sops');
  return { doc, dataKey, recipients: [...enc.keys()], enc, stash, macOnlyEncrypted, rules, lastModified, text };
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function stripComments(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const n = node as { comment?: string; commentBefore?: string; items?: unknown[]; key?: unknown; value?: unknown };
  delete n.comment;
  delete n.commentBefore;
  for (const i of n.items ?? []) stripComments(i);
  if ('key' in n) stripComments(n.key);
  if ('value' in n) stripComments(n.value);
}

export interface EncryptOptions {
  recipients: string[];
  /** The file as it was, decrypted: its data key and IVs are kept, so what did not change stays byte for byte. */
  previous?: Decrypted;
  now?: Date;
}

/**
 * Encrypt a plain YAML document (a Kubernetes object) for age recipients,
 * the values under data and stringData only, with mac_only_encrypted. Comments
 * are dropped: sops would encrypt them, and a secret in a comment must not
 * reach Git in the clear.
 */
export async function encryptSops(plain: Document, o: EncryptOptions): Promise<string> {
  if (o.recipients.length === 0) throw new SopsError('no age recipient to encrypt to');
  // Through text, so that every value is a node: a value set as a plain JS
  // string is no Scalar, and the walk below would pass it by.
  const doc = parseDocument(plain.toString({ lineWidth: 0 }));
  if (doc.has('sops')) throw new SopsError('the document already has a sops block');
  stripComments(doc.contents);
  doc.commentBefore = null;
  doc.comment = null;
  const rules: Rules = { encryptedRegex: ENCRYPTED_REGEX };
  const prev = o.previous;
  const sameRecipients = prev !== undefined && [...o.recipients].sort().join() === [...prev.recipients].sort().join();
  const dataKey = sameRecipients ? prev.dataKey : randomBytes(32);
  const stash = sameRecipients ? prev.stash : new Map<string, Buffer>();
  const hash = createHash('sha512');
  hash.update(createHash('sha256').update('sops').digest());
  let reused = sameRecipients && prev.macOnlyEncrypted;
  for (const { node, path } of [...leaves(doc.contents, [])]) {
    if (!shouldEncrypt(path, rules)) continue;
    const type = typeOf(node);
    if (!type) continue;
    const value = node.value as Plain;
    hash.update(toBytes(value, type));
    if (value === '') continue;
    const ad = path.join(':') + ':';
    const kept = stash.get(stashKey(ad, value));
    if (!kept) reused = false;
    node.value = encValue(dataKey, kept ?? randomBytes(IV_BYTES), toBytes(value, type), ad, type);
    node.type = Scalar.PLAIN;
  }
  for (const { node, path } of leaves(doc.contents, [])) {
    if (shouldEncrypt(path, rules) && node.value !== '' && !(typeof node.value === 'string' && ENC.test(node.value))) {
      throw new SopsError(`${path.join('.')}: would be written unencrypted; nothing was written`);
    }
  }
  // Same values, same keys, same recipients: the file as it is, untouched.
  if (reused && prev && sameValueSet(prev, doc)) return prev.text;

  const enc = new Map<string, string>();
  for (const r of o.recipients) {
    if (sameRecipients && prev.enc.has(r)) {
      enc.set(r, prev.enc.get(r)!);
      continue;
    }
    const e = new Encrypter();
    e.addRecipient(r);
    enc.set(r, armor.encode(await e.encrypt(dataKey)));
  }
  const lastModified = rfc3339(o.now ?? new Date());
  const mac = encValue(dataKey, randomBytes(IV_BYTES), Buffer.from(hash.digest('hex').toUpperCase()), lastModified, 'str');
  const ageList = doc.createNode(o.recipients.map((r) => ({ recipient: r, enc: enc.get(r)! })));
  for (const item of (ageList as unknown as { items: YAMLMap[] }).items) {
    const armoured = item.get('enc', true) as Scalar;
    armoured.type = Scalar.BLOCK_LITERAL;
  }
  const meta = new YAMLMap(doc.schema);
  meta.set('age', ageList);
  meta.set('lastmodified', lastModified);
  meta.set('mac', mac);
  meta.set('encrypted_regex', ENCRYPTED_REGEX);
  meta.set('mac_only_encrypted', true);
  meta.set('version', SOPS_FORMAT_VERSION);
  doc.set('sops', meta);
  return doc.toString({ lineWidth: 0 });
}

/** Whether a re-encrypted document carries exactly the ciphertexts of the file it came from. */
function sameValueSet(prev: Decrypted, doc: Document): boolean {
  const before = parseDocument(prev.text);
  before.delete('sops');
  return before.toString({ lineWidth: 0 }) === doc.toString({ lineWidth: 0 });
}
