// Re-keying a sops file for another age recipient, as `sops updatekeys`
// does: only the data key's copies change, never a value, the MAC or a comment.
import { Encrypter, armor } from 'age-encryption';
import { isSeq, parseDocument, Scalar, type YAMLMap } from 'yaml';
import { decryptSops, metadataOf, OTHER_KEYS } from './sops.ts';
import { SopsError } from './sops-values.ts';

/**
 * The file for other age recipients, as `sops updatekeys` does it: the values,
 * the MAC, the rules and every comment stay exactly as they are, under the same
 * data key; only that key is encrypted again, for `to` in place of `from`
 * (other recipients keep their copies). No value is ever decrypted into the
 * output. The file is opened and its MAC checked first, and the result is
 * opened with the new key and compared, so anything rotation could not carry
 * over is refused, naming the file, before the caller writes a byte.
 */
export async function rekeySops(text: string, identities: string[], o: { from: string; to: { recipient: string; identity: string }; file: string }): Promise<string> {
  const before = await decryptSops(text, identities, o.file);
  const doc = parseDocument(text, { uniqueKeys: true });
  const sops = metadataOf(doc, o.file);
  const others = OTHER_KEYS.filter((k) => {
    const v = sops.get(k);
    return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(isSeq(v) && v.items.length === 0);
  });
  if (others.length > 0) throw new SopsError(`${o.file}: it also has ${others.map((k) => `sops.${k}`).join(', ')}, which bramble does not re-key; rotate it with sops updatekeys (nothing was written)`);
  if (!before.recipients.includes(o.from)) throw new SopsError(`${o.file}: it is not encrypted to ${o.from} (its recipients: ${before.recipients.join(', ')}); nothing was written`);
  const e = new Encrypter();
  e.addRecipient(o.to.recipient);
  const armoured = armor.encode(await e.encrypt(before.dataKey));
  const age = sops.get('age', true) as unknown as { items: YAMLMap[] };
  for (const item of age.items) {
    if (item.get('recipient') !== o.from) continue;
    item.set('recipient', o.to.recipient);
    const enc = new Scalar(armoured);
    enc.type = Scalar.BLOCK_LITERAL;
    item.set('enc', enc);
  }
  const out = doc.toString({ lineWidth: 0 });
  // Everything but the age stanzas must be what it was, and the new key must open it to the same values.
  const strip = (t: string) => {
    const d = parseDocument(t);
    d.deleteIn(['sops', 'age']);
    return JSON.stringify(d.toJS());
  };
  if (strip(out) !== strip(text)) throw new SopsError(`${o.file}: re-keying would change more than its age recipients; nothing was written`);
  const after = await decryptSops(out, [o.to.identity], o.file).catch((err: Error) => {
    throw new SopsError(`${o.file}: the re-keyed file does not open with the new key (${err.message}); nothing was written`);
  });
  if (JSON.stringify(after.doc.toJS()) !== JSON.stringify(before.doc.toJS())) throw new SopsError(`${o.file}: the re-keyed file does not read back to the same values; nothing was written`);
  return out;
}
