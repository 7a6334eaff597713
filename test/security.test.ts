// The review's smaller findings, each shown on the built CLI or the module
// that owns it: line separators in inventory values, raw values in comments,
// the inventory's size, where the GitHub token may go, URL redaction, and
// what an unexpected file error prints.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { redactUrl } from '../src/git/repo.ts';
import { GitHub } from '../src/git/github.ts';
import { yamlQuote } from '../src/render/tree.ts';
import { bramble, HOMELAB, linesOf, ROOT, tempDir } from './helpers.ts';

const homelab = readFileSync(HOMELAB, 'utf8');

function inventoryWith(from: string, to: string): string {
  assert.ok(homelab.includes(from), from);
  const file = join(tempDir(), 'site.yaml');
  writeFileSync(file, homelab.replace(from, to));
  return file;
}

test('line separators of every kind are refused in inventory values, at their line', () => {
  const lineOf = (text: string) => homelab.slice(0, homelab.indexOf(text)).split('\n').length;
  const cases: Array<[string, string, string, RegExp]> = [
    // The review's payload: under a YAML 1.1 reading U+2028 ends the comment it was rendered into.
    ['      - path: /k8s', `      - path: "/k8s\u2028allowedTopologies: [{matchLabelExpressions: [{key: x, values: [y]}]}]"`, '      - path:', /nas\.nfs\.exports\[0\]\.path: contains U\+2028 \(line separator\); inventory values are one line of plain text$/],
    ['  name: qnap', '  name: "qnap\u2029x"', '  name: qnap', /nas\.name: contains U\+2029 \(paragraph separator\)/],
    ['  model: QNAP TS-h973AX', '  model: "QNAP\u0085TS"', '  model: QNAP', /nas\.model: contains U\+0085 \(next line\)/],
    ['  url: ssh://git@github.com/tinyhome/homelab-gitops.git', '  url: "ssh://git@github.com/tinyhome/homelab-gitops.git\\r\\nx"', '  url:', /git\.url: contains a carriage return/],
    ['  model: QNAP TS-h973AX', '  model: "QNAP\\u0007"', '  model: QNAP', /nas\.model: contains the control character U\+0007/],
  ];
  for (const [from, to, at, expected] of cases) {
    const r = bramble(['validate', '-i', inventoryWith(from, to)]);
    assert.equal(r.code, 1, to);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^.*site\\.yaml:${lineOf(at)}:\\d+: `));
    assert.match(lines[0]!, expected);
  }
  // A tab is ordinary text.
  assert.equal(bramble(['validate', '-i', inventoryWith('  model: QNAP TS-h973AX', '  model: "QNAP\\tTS-h973AX"')]).code, 0);
});

test('no template puts a raw value into a YAML comment, and quoted values escape every line separator', () => {
  const raw: string[] = [];
  for (const { where, line } of linesOf(join(ROOT, 'templates'), '.yaml.hbs')) {
    const comment = /(^|\s)#(?!\{)(.*)$/.exec(line)?.[2] ?? '';
    // Helpers (#if, /if, else) and {{q ...}} are fine; any other {{value}} in a comment is raw text.
    for (const m of comment.matchAll(/\{\{([^}]*)\}\}/g)) if (!/^(q |#|\/|else)/.test(m[1]!.trim())) raw.push(`${where}: ${m[0]}`);
  }
  assert.deepEqual(raw, []);

  const hostile = '/k8s\u2028allowedTopologies: []\u2029\u0085"\n';
  const quoted = yamlQuote(hostile);
  assert.match(quoted, /^"[^\u2028\u2029\u0085\n]*"$/);
  // Read back as YAML 1.1 (as kustomize does) and 1.2: one scalar, the same text.
  for (const version of ['1.1', '1.2'] as const) {
    assert.deepEqual(parseDocument(`# export ${quoted}\nkey: ${quoted}\n`, { version }).toJS(), { key: hostile });
  }
});

test('an inventory over 1 MiB is refused before it is read, with the reason', () => {
  const file = join(tempDir(), 'huge.yaml');
  writeFileSync(file, homelab + `# ${'x'.repeat(100)}\n`.repeat(12_000));
  const t0 = Date.now();
  const r = bramble(['validate', '-i', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), /^.*huge\.yaml:1:1: \(top level\): the file is 1\.2 MiB; an inventory may be at most 1 MiB .*is this the right file\?$/);
  assert.ok(Date.now() - t0 < 5000);
});

test('the GitHub token goes only to an https API: http is refused by validate and by the client (loopback excepted)', async () => {
  const api = (url: string) => inventoryWith('  url: ssh://git@github.com/tinyhome/homelab-gitops.git', `  url: ssh://git@github.com/tinyhome/homelab-gitops.git\n  apiUrl: ${url}`);
  const r = bramble(['validate', '-i', api('http://ghe.example.invalid/api/v3')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /git\.apiUrl: the GitHub API at http:\/\/ghe\.example\.invalid is not https; the GitHub token is sent there/);
  assert.equal(bramble(['validate', '-i', api('https://ghe.example.invalid/api/v3')]).code, 0);
  assert.equal(bramble(['validate', '-i', api('http://127.0.0.1:8080/api/v3')]).code, 0);
  assert.equal(bramble(['validate', '-i', api('http://[::1]:8080/api/v3')]).code, 0);
  // The client itself refuses before any request could carry the token.
  assert.throws(() => new GitHub({ token: 'ghp_never_sent', baseUrl: 'http://ghe.example.invalid/api/v3' }), { name: 'GitHostError', message: /is not https/ });
  assert.throws(() => new GitHub({ token: 'ghp_never_sent', baseUrl: 'http://127.0.0.1.example.invalid/api/v3' }), /is not https/);
  assert.doesNotThrow(() => new GitHub({ token: 't', baseUrl: 'http://localhost:9/api/v3' }));
});

test('credentials are redacted whole, a raw @ in the password included', () => {
  assert.equal(redactUrl('push to https://user:p@ss@word@git.example.invalid/a/b.git failed'), 'push to https://***@git.example.invalid/a/b.git failed');
  assert.equal(redactUrl('https://x-access-token:ghp_secret@github.com/a/b.git'), 'https://***@github.com/a/b.git');
  // An @ in the path is not a credential, and an ssh:// user name without a password stays.
  assert.equal(redactUrl('https://example.invalid/pkg@1.2'), 'https://example.invalid/pkg@1.2');
  assert.equal(redactUrl('ssh://git@example.invalid/a.git'), 'ssh://git@example.invalid/a.git');
  assert.equal(redactUrl('ssh://git:pw@example.invalid/a.git and ssh://a@b@example.invalid/c'), 'ssh://***@example.invalid/a.git and ssh://***@example.invalid/c');
});

test('an unexpected file error is one line naming the path and the reason; the stack only with -v', () => {
  const notAFolder = join(tempDir(), 'plain-file');
  writeFileSync(notAFolder, 'not a repository\n');
  const r = bramble(['render', '-i', HOMELAB, '--repo', notAFolder]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^bramble: cannot (open|list) ${notAFolder}/clusters/\\S+: not a directory \\(ENOTDIR\\)\\n$`));
  const v = bramble(['render', '-v', '-i', HOMELAB, '--repo', notAFolder]);
  assert.equal(v.code, 1);
  // -v's own lines (phases, stamped) may come first; then the error, then its stack.
  assert.match(v.stderr, /^(\[ *\d+\.\d{3}\] phase: .*\n)*bramble: cannot (open|list) .*\(ENOTDIR\)\n.*ENOTDIR[\s\S]*\n    at /);
});
