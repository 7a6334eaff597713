// The rules a k3s version change must pass before it is pushed, on the
// node lists the API server gives (see k3s/upgrade.ts); the lab runs the
// same check end to end in apply-e2e.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseInventory } from '../src/inventory/load.ts';
import type { ApiNode } from '../src/k3s/cluster.ts';
import { checkUpgrade, compareK3s, upgradeLine } from '../src/k3s/upgrade.ts';
import { HOMELAB } from './helpers.ts';

const site = (version: string) => parseInventory(readFileSync(HOMELAB, 'utf8').replace('version: v1.35.6+k3s1', `version: ${version}`), 'h.yaml');
const production = (version: string) => site(version).clusters.find((c) => c.name === 'production')!;
const staging = (version: string) => site(version).clusters.find((c) => c.name === 'staging')!;
const node = (name: string, version: string, o: Partial<ApiNode> = {}): ApiNode => ({ name, role: 'server', ready: true, version, unschedulable: false, ...o });
const three = (v1: string, v2 = v1, v3 = v1, ready = [true, true, true]) => [node('rk1-1', v1, { ready: ready[0] }), node('rk1-2', v2, { ready: ready[1] }), node('rk1-3', v3, { ready: ready[2] })];

test('k3s releases compare by version, then by the k3s build', () => {
  assert.ok(compareK3s('v1.35.6+k3s1', 'v1.35.6+k3s2') < 0);
  assert.ok(compareK3s('v1.36.0+k3s1', 'v1.35.10+k3s1') > 0);
  assert.equal(compareK3s('v1.35.6+k3s1', 'v1.35.6+k3s1'), 0);
});

test('a patch or the next minor release is an upgrade the Plans may run', () => {
  for (const to of ['v1.35.7+k3s1', 'v1.35.6+k3s2', 'v1.36.4+k3s1']) {
    const c = checkUpgrade(production(to), three('v1.35.6+k3s1'));
    assert.equal(c.problem, undefined, to);
    assert.deepEqual(c.behind.map((b) => b.node), ['rk1-1', 'rk1-2', 'rk1-3']);
  }
  assert.deepEqual(checkUpgrade(production('v1.35.6+k3s1'), three('v1.35.6+k3s1')), { to: 'v1.35.6+k3s1', behind: [] });
  assert.equal(upgradeLine(checkUpgrade(production('v1.35.6+k3s1'), three('v1.35.6+k3s1'))), 'k3s v1.35.6+k3s1 on every node');
});

test('half way through (some nodes done), the change still checks against the oldest node', () => {
  const c = checkUpgrade(production('v1.36.4+k3s1'), three('v1.36.4+k3s1', 'v1.35.6+k3s1', 'v1.35.6+k3s1'));
  assert.equal(c.problem, undefined);
  assert.equal(upgradeLine(c), 'k3s upgrade to v1.36.4+k3s1 by the Plans: rk1-2 (v1.35.6+k3s1), rk1-3 (v1.35.6+k3s1) still to go');
  assert.match(checkUpgrade(production('v1.37.0+k3s1'), three('v1.36.4+k3s1', 'v1.35.6+k3s1', 'v1.36.4+k3s1')).problem!, /^rk1-2 runs k3s v1\.35\.6\+k3s1; going to v1\.37\.0\+k3s1 skips a minor release/);
});

test('skipping a minor release, or going back, is refused with what to do instead', () => {
  assert.match(checkUpgrade(production('v1.37.0+k3s1'), three('v1.35.6+k3s1')).problem!, /skips a minor release, and Kubernetes upgrades one minor release at a time: set k3s\.version to the newest v1\.36 release first/);
  assert.match(checkUpgrade(production('v1.35.5+k3s1'), three('v1.35.6+k3s1', 'v1.35.5+k3s1', 'v1.35.5+k3s1')).problem!, /^rk1-1 runs k3s v1\.35\.6\+k3s1, newer than k3s\.version v1\.35\.5\+k3s1: k3s is not downgraded; set k3s\.version to v1\.35\.6\+k3s1 or newer$/);
  assert.match(upgradeLine(checkUpgrade(production('v1.35.5+k3s1'), three('v1.35.6+k3s1'))), /^k3s upgrade to v1\.35\.5\+k3s1 refused: /);
});

test('an HA cluster upgrades only with three Ready servers; a single-server cluster needs none beside itself', () => {
  assert.match(checkUpgrade(production('v1.36.4+k3s1'), three('v1.35.6+k3s1', 'v1.35.6+k3s1', 'v1.35.6+k3s1', [true, false, true])).problem!, /needs at least 3 Ready servers so etcd keeps its quorum; 2 are Ready \(rk1-2 not\)/);
  // Nothing to upgrade: a server down does not block other work.
  assert.equal(checkUpgrade(production('v1.35.6+k3s1'), three('v1.35.6+k3s1', 'v1.35.6+k3s1', 'v1.35.6+k3s1', [true, false, true])).problem, undefined);
  assert.equal(checkUpgrade(staging('v1.36.4+k3s1'), [node('pi5-staging', 'v1.35.6+k3s1')]).problem, undefined);
});
