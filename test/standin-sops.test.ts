// The lab's Flux stand-in decrypts SOPS Secrets the way kustomize-controller
// does (after the kustomize build, values only, no MAC check), with its own
// code: Python's cryptography for AES-GCM and Debian's age binary for the
// data key. These tests hold it to the real sops's file and to bramble's, and
// make it refuse what kustomize-controller refuses.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { newClusterKey } from '../src/secrets/keys.ts';
import { encryptSops } from '../src/secrets/sops.ts';
import { ROOT, tempDir } from './helpers.ts';

const STANDIN = join(ROOT, 'test', 'lab-standins', 'k3s_standin.py');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'sops');

/** The built object, as `kubectl kustomize` hands it to the stand-in's Flux. */
function built(text: string): string {
  const dir = tempDir('bramble-standin-sops-');
  writeFileSync(join(dir, 'secret.yaml'), text);
  writeFileSync(join(dir, 'kustomization.yaml'), 'resources:\n- secret.yaml\n');
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The stand-in's decryption, called as its Kustomization reconcile calls it. */
function standinDecrypt(builtYaml: string, identities: string[]): { ok: boolean; out: unknown; error?: string } {
  const program = `
import json, runpy, sys, yaml
ns = runpy.run_path(sys.argv[1], run_name="standin")
req = json.load(sys.stdin)
try:
    print(json.dumps({"ok": True, "out": ns["sops_decrypt"](yaml.safe_load(req["doc"]), req["ids"])}))
except ns["DecryptFailed"] as e:
    print(json.dumps({"ok": False, "error": str(e)}))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', program, STANDIN], { input: JSON.stringify({ doc: builtYaml, ids: identities }), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { ok: boolean; out: unknown; error?: string };
}

const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: notify
  namespace: monitoring
type: Opaque
stringData:
  url: https://hooks.example.invalid/a/b
  address: "with: colon and \u00e9"
`;

test("the stand-in opens a file the real sops wrote, after kustomize has rebuilt it, with the fixture's published key", () => {
  const key = readFileSync(join(FIXTURES, 'age.agekey'), 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  const text = built(readFileSync(join(FIXTURES, 'age.yaml'), 'utf8'));
  assert.notEqual(text, readFileSync(join(FIXTURES, 'age.yaml'), 'utf8'), 'kustomize reorders the keys, as in a real reconcile');
  const r = standinDecrypt(text, [key]);
  assert.ok(r.ok, r.error);
  assert.deepEqual(r.out, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'age' }, stringData: { key: 'value' } });
});

test("the stand-in opens bramble's file with the cluster's key and gives the plain values, the sops block gone", async () => {
  const key = await newClusterKey();
  const text = built(await encryptSops(parseDocument(SECRET), { recipients: [key.recipient] }));
  const r = standinDecrypt(text, [key.identity]);
  assert.ok(r.ok, r.error);
  const out = r.out as { stringData: Record<string, string>; sops?: unknown };
  assert.deepEqual(out.stringData, { url: 'https://hooks.example.invalid/a/b', address: 'with: colon and \u00e9' });
  assert.equal(out.sops, undefined);
});

test('the stand-in refuses another key, a value moved to another key, and a changed value, naming where', async () => {
  const [key, other] = [await newClusterKey(), await newClusterKey()];
  const text = await encryptSops(parseDocument(SECRET), { recipients: [key.recipient] });

  const wrong = standinDecrypt(built(text), [other.identity]);
  assert.deepEqual(wrong, { ok: false, error: 'failed to get the data key required to decrypt the SOPS file' });
  assert.equal(standinDecrypt(built(text), []).ok, false, 'a decryption secret with no age key opens nothing');

  // The additional data is the key path: a ciphertext moved under another name no longer authenticates.
  const doc = parseDocument(text);
  const [url, address] = [doc.getIn(['stringData', 'url']), doc.getIn(['stringData', 'address'])];
  doc.setIn(['stringData', 'url'], address);
  doc.setIn(['stringData', 'address'], url);
  const moved = standinDecrypt(built(doc.toString()), [key.identity]);
  assert.equal(moved.ok, false);
  assert.match(moved.error!, /^stringData\.(url|address): cipher: message authentication failed$/);

  const changed = text.replace(/(url: ENC\[AES256_GCM,data:)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
  assert.notEqual(changed, text);
  assert.match(standinDecrypt(built(changed), [key.identity]).error!, /^stringData\.url: cipher: message authentication failed$/);
});
