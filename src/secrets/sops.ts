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
import { createHash, randomBytes } from 'node:crypto';
import { Decrypter, Encrypter, armor } from 'age-encryption';
import { Document, isMap, isScalar, isSeq, parseDocument, Scalar, visit, type Node, YAMLMap } from 'yaml';
import { ENC, encValue, decValue, IV_BYTES, leaves, sopsBytes, SopsError, stashKey, typeOf, type Plain } from './sops-values.ts';
import { ENCRYPTED_REGEX } from '../site/secrets.ts';

export { ENCRYPTED_REGEX };

/** The sops release whose format this writes (the `version` field). */
export const SOPS_FORMAT_VERSION = '3.13.2';

export interface Rules {
  encryptedRegex?: string;
  unencryptedRegex?: string;
  encryptedSuffix?: string;
  unencryptedSuffix?: string;
}

/** The sops block's names for the rules, as a file records them. */
const RULE_KEYS: Array<[keyof Rules, string]> = [
  ['encryptedRegex', 'encrypted_regex'],
  ['unencryptedRegex', 'unencrypted_regex'],
  ['encryptedSuffix', 'encrypted_suffix'],
  ['unencryptedSuffix', 'unencrypted_suffix'],
];

/** The rules a file is read and written by: those it records, else sops's default (everything but *_unencrypted). */
function effectiveRules(recorded: Rules): Rules {
  return Object.values(recorded).some(Boolean) ? recorded : { unencryptedSuffix: '_unencrypted' };
}

/** Master keys other than age: sops keeps them beside sops.age; bramble reads and re-keys age only. */
export const OTHER_KEYS = ['pgp', 'kms', 'gcp_kms', 'azure_kv', 'hc_vault', 'key_groups'];

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
  /** The rules the file records (none: sops's default, unencrypted_suffix _unencrypted). */
  recorded: Rules;
  /** What a rewrite could not carry over: comment rules, sops-encrypted comments. Re-keying keeps them. */
  unwritable?: string;
  lastModified: string;
  text: string;
}

function shouldEncrypt(path: string[], r: Rules): boolean {
  let encrypted = true;
  if (r.unencryptedSuffix && path.some((p) => p.endsWith(r.unencryptedSuffix!))) encrypted = false;
  if (r.encryptedSuffix) encrypted = path.some((p) => p.endsWith(r.encryptedSuffix!));
  if (r.unencryptedRegex && path.some((p) => new RegExp(r.unencryptedRegex!).test(p))) encrypted = false;
  if (r.encryptedRegex) encrypted = path.some((p) => new RegExp(r.encryptedRegex!).test(p));
  return encrypted;
}

export function metadataOf(doc: Document, file: string): YAMLMap {
  const sops = doc.get('sops', true);
  if (!isMap(sops)) throw new SopsError(`${file}: not a sops file (no sops: block)`);
  return sops;
}

/** sops.age's entries, each a recipient and its armoured copy of the data key; anything else is one line naming the file. */
function ageStanzas(sops: YAMLMap, file: string): Array<{ recipient: string; enc: string }> {
  const age = sops.get('age', true);
  if (age === undefined || (isScalar(age) && age.value === null)) return [];
  const what = (n: unknown) => (isMap(n) ? 'a map' : isSeq(n) ? 'a list' : isScalar(n) ? (n.value === null ? 'null' : `a ${typeof n.value}`) : 'an alias');
  if (!isSeq(age)) throw new SopsError(`${file}: sops.age is ${what(age)}, not a list of recipients (- recipient: age1..., enc: ...)`);
  return (age.items as unknown[]).map((e, i) => {
    const recipient = isMap(e) ? e.get('recipient') : undefined;
    const enc = isMap(e) ? e.get('enc') : undefined;
    if (typeof recipient !== 'string' || typeof enc !== 'string') throw new SopsError(`${file}: sops.age[${i}] is ${isMap(e) ? 'missing its recipient or enc' : what(e)}, not a recipient with its enc`);
    return { recipient, enc };
  });
}

/**
 * What sops itself refuses or reads otherwise than the YAML library: an alias
 * (sops expands it, so its value would count twice in sops's MAC and once in
 * ours) and a key that is not a string. One line naming the file and the path.
 */
function checkShape(doc: Document, file: string): void {
  visit(doc, {
    Alias(_, node) {
      throw new SopsError(`${file}: a YAML alias (*${node.source}) is not supported: sops expands aliases, so the file would not open there; write the value out in full`);
    },
    Pair(_, pair) {
      const key = pair.key;
      if (isScalar(key) && typeof key.value !== 'string') throw new SopsError(`${file}: the key ${String(key.value)} is not a string: sops refuses it; quote it ("${String(key.source ?? key.value)}")`);
      if (key !== null && !isScalar(key)) throw new SopsError(`${file}: a key that is a map or a list is not supported by sops`);
    },
  });
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
  return ageStanzas(metadataOf(parseDocument(text), file), file).map((e) => e.recipient);
}

/**
 * Decrypt a sops YAML file with age identities (AGE-SECRET-KEY-1...). The MAC
 * must hold: a value changed, added or removed after encryption is refused.
 */
export async function decryptSops(text: string, identities: string[], file = 'file'): Promise<Decrypted> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new SopsError(`${file}: not YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (!isMap(doc.contents)) throw new SopsError(`${file}: not a sops file (its top level is not a map)`);
  const sops = metadataOf(doc, file);
  checkShape(doc, file);
  const str = (k: string) => (sops.has(k) ? String(sops.get(k)) : undefined);
  for (const k of ['shamir_threshold', 'key_groups']) {
    if (sops.has(k)) throw new SopsError(`${file}: sops.${k} is not supported by bramble (age recipients in sops.age only)`);
  }
  const recorded: Rules = Object.fromEntries(RULE_KEYS.filter(([, k]) => str(k)).map(([r, k]) => [r, str(k)]));
  const rules = effectiveRules(recorded);
  // Comments are not in sops's MAC; an encrypted one is opaque here, and a rewrite would lose it.
  const commentRules = ['encrypted_comment_regex', 'unencrypted_comment_regex'].filter((k) => sops.has(k));
  const unwritable = commentRules.length > 0 ? `it has sops.${commentRules.join(' and sops.')}` : /(^|\s)#\s*ENC\[AES256_GCM,/m.test(text) ? 'it holds sops-encrypted comments (#ENC[...])' : undefined;
  const enc = new Map<string, string>();
  for (const e of ageStanzas(sops, file)) enc.set(e.recipient, e.enc);
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
    if (encrypted && !(typeof node.value === 'string' && node.value === '')) {
      const ad = path.join(':') + ':';
      if (typeof node.value !== 'string') throw new SopsError(`${file}: ${path.join('.')}: expected an encrypted value, found a plain ${typeof node.value}`);
      const v = decValue(dataKey, node.value, ad, `${file}: ${path.join('.')}`);
      stash.set(stashKey(ad, v.plain), v.iv);
      node.value = v.plain;
      node.type = Scalar.PLAIN;
      // What sops hashed is what it encrypted: the decrypted bytes, whatever JavaScript makes of them.
      hash.update(v.bytes);
    } else if (!macOnlyEncrypted || encrypted) hash.update(sopsBytes(node, typeOf(node) ?? 'str', `${file}: ${path.join('.')}`));
  }
  const lastModified = str('lastmodified') ?? '';
  const mac = str('mac') ?? '';
  const stored = decValue(dataKey, mac, lastModified, `${file}: sops.mac`).plain;
  const computed = hash.digest('hex').toUpperCase();
  if (stored !== computed) throw new SopsError(`${file}: the MAC does not match: the file was changed after it was encrypted`);
  doc.delete('sops');
  return { doc, dataKey, recipients: [...enc.keys()], enc, stash, macOnlyEncrypted, rules, recorded, unwritable, lastModified, text };
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
  /** The file's name, for errors. */
  file?: string;
  /** A new file's rules, as sops records them (default: bramble's, encrypted_regex ^(data|stringData)$; {} is sops's own default). */
  rules?: Rules;
  /** A new file's mac_only_encrypted (default true). */
  macOnlyEncrypted?: boolean;
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
  const prev = o.previous;
  const where = o.file ?? 'the Secret';
  if (prev?.unwritable) throw new SopsError(`${where}: ${prev.unwritable}, which bramble cannot write back; change it with sops itself (nothing was written)`);
  // A Secret's values are strings (the API takes nothing else); written as the text typed,
  // never as JavaScript prints a number, which is not what Go prints (1e21, .inf, 2^53 + 1).
  // Done before the round trip through text below, which would print them JavaScript's way.
  const typed = plain.clone();
  if (typed.get('kind') === 'Secret') {
    for (const { node, path } of [...leaves(typed.contents as Node, [])]) {
      if (path.length > 0 && new RegExp(ENCRYPTED_REGEX).test(path[0]!) && (typeof node.value !== 'string' || node.tag) && node.value !== null) {
        node.value = node.source ?? String(node.value);
        node.tag = undefined;
        node.type = Scalar.QUOTE_DOUBLE;
      }
    }
  }
  // Through text, so that every value is a node: a value set as a plain JS
  // string is no Scalar, and the walk below would pass it by.
  const doc = parseDocument(typed.toString({ lineWidth: 0 }));
  if (doc.has('sops')) throw new SopsError('the document already has a sops block');
  checkShape(doc, where);
  stripComments(doc.contents);
  doc.commentBefore = null;
  doc.comment = null;
  // A file keeps the rules it was encrypted with; a new one gets bramble's (or the ones asked for).
  const recorded: Rules = prev ? prev.recorded : (o.rules ?? { encryptedRegex: ENCRYPTED_REGEX });
  const rules = effectiveRules(recorded);
  const macOnly = prev ? prev.macOnlyEncrypted : (o.macOnlyEncrypted ?? true);
  const sameRecipients = prev !== undefined && [...o.recipients].sort().join() === [...prev.recipients].sort().join();
  const dataKey = sameRecipients ? prev.dataKey : randomBytes(32);
  const stash = sameRecipients ? prev.stash : new Map<string, Buffer>();
  const hash = createHash('sha512');
  if (macOnly) hash.update(createHash('sha256').update('sops').digest());
  let everyValueKept = true;
  for (const { node, path } of [...leaves(doc.contents, [])]) {
    const encrypted = shouldEncrypt(path, rules);
    const type = typeOf(node);
    if (!type) continue;
    const value = node.value as Plain;
    const bytes = (encrypted || !macOnly) && sopsBytes(node, type, `${where}: ${path.join('.')}`);
    if (bytes) hash.update(bytes);
    if (!encrypted || !bytes || value === '') continue;
    const ad = path.join(':') + ':';
    const kept = stash.get(stashKey(ad, value));
    if (!kept) everyValueKept = false;
    node.value = encValue(dataKey, kept ?? randomBytes(IV_BYTES), bytes, ad, type);
    // The type is inside ENC[...]; a tag left outside would make the ciphertext a float or an int to every reader.
    node.tag = undefined;
    node.type = Scalar.PLAIN;
  }
  for (const { node, path } of leaves(doc.contents, [])) {
    if (shouldEncrypt(path, rules) && node.value !== '' && !(typeof node.value === 'string' && ENC.test(node.value))) {
      throw new SopsError(`${path.join('.')}: would be written unencrypted; nothing was written`);
    }
  }
  if (prev && keptAsItWas(prev, sameRecipients, everyValueKept, doc)) return prev.text;

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
  for (const [r, k] of RULE_KEYS) if (recorded[r] !== undefined) meta.set(k, recorded[r]);
  if (macOnly) meta.set('mac_only_encrypted', true);
  meta.set('version', SOPS_FORMAT_VERSION);
  doc.set('sops', meta);
  return doc.toString({ lineWidth: 0 });
}

/**
 * The one rule for writing a file back byte for byte: the same recipients
 * (so the same data key), every value found under its old IV (so the same
 * ciphertext), and nothing else in the document changed. Anything less, and
 * the file is written anew, its MAC and lastmodified with it.
 */
function keptAsItWas(prev: Decrypted, sameRecipients: boolean, everyValueKept: boolean, doc: Document): boolean {
  if (!sameRecipients || !everyValueKept) return false;
  const before = parseDocument(prev.text);
  before.delete('sops');
  return before.toString({ lineWidth: 0 }) === doc.toString({ lineWidth: 0 });
}
