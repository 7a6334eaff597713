// The wizard checks each answer with the rule `bramble validate` applies to the
// same field, so a wrong answer is refused with validate's own words. Here the
// wizard edits the reference inventory through a scripted Ask; every check it
// offers is fed a wrong answer, and the same wrong value, written into the
// file by hand, must fail validate with the same message at that field.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseInventory } from '../src/inventory/load.ts';
import { formatPath, InventoryError } from '../src/inventory/problems.ts';
import { runWizard, type Ask } from '../src/wizard/run.ts';
import { HOMELAB, tempDir } from './helpers.ts';

type Check = (v: string) => string | undefined;

interface Case {
  prompt: RegExp;
  bad: string;
  /** Where the same value goes in the file, and as what. */
  path: Array<string | number>;
  value: unknown;
}

const CASES: Case[] = [
  { prompt: /^VLAN 2: id/, bad: '10', path: ['vlans', 1, 'id'], value: 10 },
  { prompt: /^VLAN 100: name/, bad: 'Default', path: ['vlans', 1, 'name'], value: 'Default' },
  { prompt: /^VLAN 100: subnet/, bad: '192.168.10.0/24', path: ['vlans', 1, 'subnet'], value: '192.168.10.0/24' },
  { prompt: /^VLAN 100: subnet/, bad: '192.168.100.7/24', path: ['vlans', 1, 'subnet'], value: '192.168.100.7/24' },
  { prompt: /^VLAN 100: gateway/, bad: '192.168.30.1', path: ['vlans', 1, 'gateway'], value: '192.168.30.1' },
  { prompt: /^VLAN 100: last address of the DHCP pool/, bad: '192.168.100.140', path: ['vlans', 1, 'dhcp', 'end'], value: '192.168.100.140' },
  { prompt: /^SSH user/, bad: '-root', path: ['site', 'ssh', 'user'], value: '-root' },
  { prompt: /^NAS: address/, bad: '192.168.100.200', path: ['nas', 'address'], value: '192.168.100.200' },
  { prompt: /^Export 1: path/, bad: 'k8s', path: ['nas', 'nfs', 'exports', 0, 'path'], value: 'k8s' },
  { prompt: /^Export 1: Kubernetes StorageClass/, bad: 'longhorn', path: ['nas', 'nfs', 'exports', 0, 'storageClass'], value: 'longhorn' },
  { prompt: /^Git repository/, bad: 'https://github.com/tinyhome/homelab-gitops.git', path: ['git', 'url'], value: 'https://github.com/tinyhome/homelab-gitops.git' },
  { prompt: /^Cluster 2: name/, bad: 'staging', path: ['clusters', 1, 'name'], value: 'staging' },
  { prompt: /^Node 2: hostname/, bad: 'pi5-staging', path: ['clusters', 1, 'nodes', 1, 'name'], value: 'pi5-staging' },
  { prompt: /^rk1-2: static address/, bad: '192.168.100.11', path: ['clusters', 1, 'nodes', 1, 'address'], value: '192.168.100.11' },
  { prompt: /^production: API address/, bad: '192.168.100.13', path: ['clusters', 1, 'apiEndpoint'], value: '192.168.100.13' },
  { prompt: /^production: API address/, bad: '192.168.100.160', path: ['clusters', 1, 'apiEndpoint'], value: '192.168.100.160' },
  { prompt: /^production: one address for Traefik/, bad: '192.168.100.19', path: ['clusters', 1, 'ingressAddress'], value: '192.168.100.19' },
  { prompt: /^staging: one address for Traefik/, bad: '192.168.100.200', path: ['clusters', 0, 'ingressAddress'], value: '192.168.100.200' },
  { prompt: /^production: Longhorn replicas/, bad: '4', path: ['clusters', 1, 'platform', 'longhorn', 'replicas'], value: 4 },
  { prompt: /^Reboot window opens at/, bad: '2am', path: ['site', 'osUpdates', 'reboot', 'start'], value: '2am' },
  { prompt: /^Reboot window closes at/, bad: '01:30', path: ['site', 'osUpdates', 'reboot', 'end'], value: '01:30' },
  { prompt: /^Time zone of the window/, bad: 'Mars/Olympus', path: ['site', 'osUpdates', 'reboot', 'timeZone'], value: 'Mars/Olympus' },
];

/** Walk the wizard over the reference inventory, keeping each prompt's check (the first prompt that matches). */
async function checksOfTheWizard(): Promise<Map<RegExp, Check>> {
  const file = join(tempDir(), 'homelab.yaml');
  copyFileSync(HOMELAB, file);
  const checks = new Map<RegExp, Check>();
  const keep = (message: string, check: Check | undefined) => {
    for (const c of CASES) if (!checks.has(c.prompt) && c.prompt.test(message) && check) checks.set(c.prompt, check);
  };
  const ask: Ask = {
    async text(message, o = {}) {
      keep(message, o.check);
      return o.default ?? '';
    },
    async choose(_message, choices, def) {
      return def ?? choices[0]!;
    },
    async secret(message) {
      throw new Error(`the reference site keeps no secret the wizard asks for, yet it asked: ${message}`);
    },
    // Into every VLAN and the production cluster's sizes, so their questions are asked too.
    async yes(message, def) {
      return /^Change any of these VLANs|^production: .*Change these/.test(message) || (def && !/^(Write|Run) /.test(message));
    },
  };
  const code = await runWizard(file, { interactive: true, ask, io: { out: () => {}, err: () => {} } });
  // Every answer was the current value: the file is found unchanged and left alone.
  assert.equal(code, 0);
  assert.equal(readFileSync(file, 'utf8'), readFileSync(HOMELAB, 'utf8'));
  return checks;
}

function validateMessages(path: Array<string | number>, value: unknown): string[] {
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(path, value);
  try {
    parseInventory(doc.toString(), 'bad.yaml');
  } catch (e) {
    if (e instanceof InventoryError) return e.problems.filter((p) => formatPath(p.path) === formatPath(path)).map((p) => p.message);
    throw e;
  }
  return [];
}

test('each answer the wizard refuses, validate refuses in the same file field with the same words', async () => {
  const checks = await checksOfTheWizard();
  assert.deepEqual(
    CASES.filter((c) => !checks.has(c.prompt)).map((c) => String(c.prompt)),
    [],
    'the wizard asked every question in the table',
  );
  for (const c of CASES) {
    const said = checks.get(c.prompt)!(c.bad);
    assert.ok(said, `the wizard accepts ${c.bad} at ${c.prompt}`);
    const validate = validateMessages(c.path, c.value);
    assert.ok(
      validate.some((m) => m === said || m.startsWith(`${said},`) || m.endsWith(said) || m.includes(`${said} `)),
      `${c.prompt}: the wizard says "${said}"; validate at ${formatPath(c.path)} says ${JSON.stringify(validate)}`,
    );
  }
});

test('the wizard takes the reference values it is offered as defaults', async () => {
  const checks = await checksOfTheWizard();
  const raw = parseDocument(readFileSync(HOMELAB, 'utf8'));
  for (const c of CASES) {
    const current = raw.getIn(c.path);
    if (current === undefined) continue;
    // The second VLAN's id prompt is answered by the id it already has.
    assert.equal(checks.get(c.prompt)!(String(current)), undefined, `${c.prompt} refuses the reference's own ${String(current)}`);
  }
});
