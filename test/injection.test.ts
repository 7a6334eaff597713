// Hostile strings in an inventory never reach a shell unquoted. The schema
// already refuses most of them (names, versions, addresses, labels have
// formats); what it lets through as free text (an NFS export path, the
// install script's URL) is sent to a lab node, and a marker file proves
// nothing ran.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { installFlux } from '../src/flux/install.ts';
import { Session } from '../src/ssh/session.ts';
import { bramble, brambleAsync, tempDir } from './helpers.ts';
import { labInventory, startLab, target, trusting } from './lab-helpers.ts';

const lab = await startLab([{ name: 'box', board: 'x86', iscsi: true, nfsClient: true }]);
const nas = await lab.startNas(['/export/k8s']);
const work = tempDir();
const knownHosts = join(work, 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts(), { mode: 0o600 });

/** Every payload writes a marker named after where it was planted. */
const payloads = (where: string) => [`$(touch /tmp/pwned-${where}-1)`, `\`touch /tmp/pwned-${where}-2\``, `'; touch /tmp/pwned-${where}-3; '`, `"; touch /tmp/pwned-${where}-4; "`];

function markers(): string[] {
  const dirs = [join(lab.node('box').dir, 'tmp'), '/tmp', join(lab.root)];
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.startsWith('pwned-')).map((f) => join(d, f)) : []));
}

test('an NFS export path full of shell syntax is refused at its line before anything reaches a node', async () => {
  const base = labInventory(lab, [{ name: 'staging', nodes: [{ node: 'box', role: 'server' }] }], { nasAddress: nas });
  const line = base.split('\n').findIndex((l) => l === '      - path: /export/k8s') + 1;
  for (const [where, payload] of payloads('path').map((p, i) => [i, p] as const)) {
    const inv = join(work, `path-${where}.yaml`);
    writeFileSync(inv, base.replace('      - path: /export/k8s', `      - path: ${JSON.stringify(`/export/k8s${payload}`)}`));
    const v = bramble(['validate', '-i', inv]);
    assert.equal(v.code, 1, v.stdout + v.stderr);
    assert.match(v.stderr, new RegExp(`path-${where}\\.yaml:${line}:15: nas\\.nfs\\.exports\\[0\\]\\.path: export path .* an NFS export path may use letters, digits and \\. _ ~ \\+ @ : , = - / only`));
    const r = await brambleAsync(['preflight', '-i', inv, '--known-hosts', knownHosts], {}, 120_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(lab.sshLogins('box'), 0, 'refused before any SSH login');
  }
  assert.deepEqual(markers(), []);
});

test("an install script URL with shell syntax in its query is one argument to curl: the install runs, nothing else does", async () => {
  const url = (await lab.serveInstallScript()) + `?a=${payloads('url').map(encodeURI).join('&b=')}&c=$(touch${'${IFS}'}/tmp/pwned-url-5)`;
  const inv = join(work, 'url.yaml');
  writeFileSync(inv, labInventory(lab, [{ name: 'staging', nodes: [{ node: 'box', role: 'server' }] }], { installScriptUrl: url }));
  assert.equal(bramble(['validate', '-i', inv]).code, 0, 'the URL is valid');
  const r = await brambleAsync(['install', '-i', inv, '--known-hosts', knownHosts, '--kubeconfig', join(work, 'kubeconfig')], {}, 120_000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(lab.downloads.some((d) => d.startsWith('/install.sh?a=')), 'curl fetched the URL as given');
  assert.deepEqual(markers(), []);
});

test('names, versions, addresses and labels with shell syntax are refused by validate, each on its line', () => {
  const base = labInventory(lab, [{ name: 'staging', nodes: [{ node: 'box', role: 'server' }] }]);
  const cases: Array<[string, RegExp]> = [
    [base.replace('- name: box', '- name: "box;reboot"'), /clusters\[0\]\.nodes\[0\]\.name: .*DNS label/],
    [base.replace(/version: v1\.35\.6\+k3s1/, 'version: "v1.35.6+k3s1$(reboot)"'), /site\.k3s\.version: .*k3s release/],
    [base.replace(/address: (198\.18\.\d+\.\d+)/, 'address: "$1`reboot`"'), /clusters\[0\]\.nodes\[0\]\.address: .*IPv4/],
    [base.replace('        role: server', '        role: server\n        labels: { zone: "$(reboot)" }'), /clusters\[0\]\.nodes\[0\]\.labels\.zone: "\$\(reboot\)" is not a valid Kubernetes label value/],
    [base.replace('        role: server', '        role: server\n        taints: ["a=$(reboot):NoSchedule"]'), /clusters\[0\]\.nodes\[0\]\.taints\[0\]: .*taint/],
  ];
  for (const [text, expected] of cases) {
    const f = join(work, 'bad.yaml');
    writeFileSync(f, text);
    const r = bramble(['validate', '-i', f]);
    assert.equal(r.code, 1, text);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test("a Flux manifest URL that cannot be fetched is named exactly in the error, quoted like every other argument", async () => {
  await lab.serveInstallScript();
  const url = `http://${lab.gateway}:8089/flux/$HOME/"x"/\`touch /tmp/pwned-flux-1\`/install.yaml`;
  const s = await Session.connect(target(lab, 'box'), trusting(lab));
  try {
    await assert.rejects(installFlux(s, '2.9.5', url), (e: Error) => e.message.includes(`cannot download ${url}`));
  } finally {
    s.close();
  }
  assert.deepEqual(markers(), []);
});
