// The inventory as it is being answered, and the checks every answer goes
// through: the rules `bramble validate` applies, taken from inventory/.
import { isMap, isScalar, isSeq, stringify, type Document, type Node as YamlNode } from 'yaml';
import { addressTakenProblem, staticAddressProblem } from '../inventory/rules.ts';
import { FORMATS } from '../inventory/formats.ts';
import { NfsExport, Platform, type RawInventory } from '../inventory/schema.ts';

export const format = (name: keyof typeof FORMATS) => (v: string) => (FORMATS[name]!.test(v) ? undefined : `expected ${FORMATS[name]!.describe}`);

/** A whole-number answer, within the bounds the schema sets for its field. */
export const replicasField = Platform.properties.longhorn.properties.replicas;

export const whole = (field: { minimum?: number; maximum?: number }) => (v: string) =>
  /^\d+$/.test(v) && +v >= (field.minimum ?? 0) && +v <= (field.maximum ?? Infinity) ? undefined : `expected a number from ${field.minimum ?? 0} to ${field.maximum ?? 'any'}`;

/** An export's owner as uid:gid, each within the bounds the schema sets for nas.nfs.exports[].owner. */
export const ownerCheck = (v: string) => {
  const owner = NfsExport.properties.owner.properties;
  const [uid, gid, ...rest] = v.split(':');
  if (uid === undefined || gid === undefined || rest.length > 0) return 'expected uid:gid such as 1000:1000';
  const bad = whole(owner.uid)(uid) ?? whole(owner.gid)(gid);
  return bad && `expected uid:gid such as 1000:1000: ${bad} for each`;
};

/**
 * The file as it is being answered: a YAML document changed in place. While
 * the answers only change existing values, the original text is kept and
 * just those values are replaced in it, so quoting and flow style stay as the
 * owner wrote them; adding or removing an entry re-prints the document.
 */
export class Draft {
  readonly doc: Document;
  private readonly source: string | undefined;
  private splices: Array<{ start: number; end: number; text: string }> = [];
  private structural = false;
  constructor(doc: Document, source?: string) {
    this.doc = doc;
    this.source = source;
  }
  get<T = unknown>(path: Array<string | number>): T | undefined {
    const v = this.doc.getIn(path, false) as unknown;
    return (v && typeof v === 'object' && 'toJSON' in v ? (v as { toJSON(): unknown }).toJSON() : v) as T | undefined;
  }
  /** Set a value only when it differs, so untouched values keep their comments and style. */
  set(path: Array<string | number>, value: unknown, flow = false): void {
    if (JSON.stringify(this.get(path)) === JSON.stringify(value)) return;
    const old = this.doc.getIn(path, true);
    if (this.source !== undefined && isScalar(old) && old.range && (value === null || typeof value !== 'object')) {
      const [start, end] = old.range;
      this.splices = this.splices.filter((x) => x.start !== start);
      this.splices.push({ start, end, text: stringify(value).trimEnd() });
      old.value = value;
      return;
    }
    this.structural = true;
    const node = this.doc.createNode(value) as YamlNode;
    if (flow && (isMap(node) || isSeq(node))) node.flow = true;
    this.doc.setIn(path, node);
  }
  delete(path: Array<string | number>): void {
    if (!this.doc.hasIn(path)) return;
    this.structural = true;
    this.doc.deleteIn(path);
  }
  count(path: Array<string | number>): number {
    return (this.get<unknown[]>(path) ?? []).length;
  }
  raw(): Partial<RawInventory> {
    return (this.doc.toJS() ?? {}) as Partial<RawInventory>;
  }
  text(): string {
    if (this.source === undefined || this.structural) return this.doc.toString({ lineWidth: 0 });
    let out = this.source;
    for (const x of [...this.splices].sort((a, b) => b.start - a.start)) out = out.slice(0, x.start) + x.text + out.slice(x.end);
    return out;
  }
}

/** Every address the draft already gives something, but the one at `except`. */
export function usedAddresses(d: Draft, except: string): Map<string, string> {
  const raw = d.raw();
  const used = new Map<string, string>();
  for (const v of raw.vlans ?? []) used.set(v.gateway, `the gateway of VLAN ${v.id}`);
  if (raw.nas && except !== 'nas') used.set(raw.nas.address, 'the NAS');
  (raw.clusters ?? []).forEach((c, ci) => {
    (c.nodes ?? []).forEach((n, ni) => {
      if (except !== `${ci}/${ni}`) used.set(n.address, `node ${n.name}`);
    });
    if (c.apiEndpoint && except !== `api/${ci}`) used.set(c.apiEndpoint, `the API address of cluster ${c.name}`);
    if (c.ingressAddress && except !== `ingress/${ci}`) used.set(c.ingressAddress, `the ingress address of cluster ${c.name}`);
  });
  return used;
}

export function addressCheck(d: Draft, vlanId: () => number, except: string) {
  return (v: string): string | undefined => {
    const shape = format('ipv4')(v);
    if (shape) return shape;
    const vlans = d.raw().vlans ?? [];
    const why = staticAddressProblem(v, vlans.find((x) => x.id === vlanId()), vlans);
    if (why) return why;
    return addressTakenProblem(v, usedAddresses(d, except));
  };
}
