// The pure parts of planning: which k3s settings differ, what counts as
// disruptive, and when a plan is empty. The plans themselves are exercised
// against lab nodes in apply-e2e.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedSettings } from '../src/k3s/config.ts';
import { disruptiveSteps, planIsEmpty, planLines, type Plan } from '../src/run/plan.ts';

test('changedSettings names the top-level k3s settings that differ, ignoring comments and order', () => {
  const before = '# Written by bramble\nnode-name: a\nnode-label:\n  - x=1\ntls-san: [1.2.3.4]\n';
  assert.deepEqual(changedSettings(before, '# other comment\ntls-san: [1.2.3.4]\nnode-name: a\nnode-label: [x=1]\n'), []);
  assert.deepEqual(changedSettings(before, 'node-name: a\nnode-label: [x=1, y=2]\ntls-san: [1.2.3.4]\nnode-taint: [a=b:NoSchedule]\n'), ['node-label', 'node-taint']);
  assert.deepEqual(changedSettings('not: [valid', 'node-name: a\n'), ['node-name'], 'an unreadable old file counts as empty');
});

function plan(over: Partial<Plan['clusters'][number]> = {}, repo: Partial<Plan['repo']> = {}): Plan {
  return {
    clusters: [
      {
        cluster: 'staging',
        nodes: [{ node: 'pi', role: 'server', action: 'unchanged', changes: [], disruptive: [] }],
        flux: { flux: 'unchanged (2.9.5)', deployKey: 'in place', create: [], existing: 11 },
        preflight: [],
        ...over,
      },
    ],
    repo: { basis: 'the work tree /r', changes: [], conflicts: [], unchanged: 13, secrets: [], ...repo },
  };
}

test('an unchanged cluster with nothing to commit is an empty plan with nothing to ask', () => {
  assert.equal(planIsEmpty(plan()), true);
  assert.deepEqual(disruptiveSteps(plan()), []);
  assert.match(planLines(plan(), new Map([['staging', 'v1.35.6+k3s1']])).join('\n'), /pi +server unchanged\n {2}flux:\n {4}Flux: unchanged \(2\.9\.5\)\n {4}deploy key: in place\n {4}objects: all 11 exist\nrepository, compared with the work tree \/r:\n {2}0 to add, 0 to change, 0 to delete, 13 unchanged$/);
});

test('reboots, restarts, deletions and overwritten edits are what apply asks about; additions are not', () => {
  const p = plan(
    { nodes: [{ node: 'pi', role: 'server', action: 'restart', changes: ['write /etc/rancher/k3s/config.yaml (node-label)'], disruptive: ['restart k3s'] }] },
    {
      changes: [
        { path: 'clusters/staging/old.yaml', action: 'delete' },
        { path: 'clusters/staging/new.yaml', action: 'add' },
      ],
      conflicts: [{ path: 'clusters/staging/traefik.yaml', why: 'edited by hand' }],
    },
  );
  assert.deepEqual(disruptiveSteps(p), ['staging/pi: restart k3s', 'delete clusters/staging/old.yaml (Flux then removes what it defined from the cluster)', 'overwrite clusters/staging/traefik.yaml (edited by hand)']);
  assert.equal(planIsEmpty(p), false);
  assert.equal(planIsEmpty(plan({ flux: { flux: 'install 2.9.5', deployKey: 'create', create: [], existing: 0 } })), false, 'Flux to install is work to do');
});

test('secrets publish would refuse are in the plan, each on its own line', () => {
  const problem = 'clusters/staging/apps/db.yaml: Secret db is in plain text; encrypt it first (bramble secret set, or sops -e -i with the repository\'s .sops.yaml)';
  const lines = planLines(plan({}, { secrets: [problem] }), new Map([['staging', 'v1.35.6+k3s1']]));
  assert.ok(lines.includes(`  ! ${problem}`), lines.join('\n'));
});

test('linking takes the connections apply opened while Git was read when they reach the same nodes; others are closed and made again', async () => {
  const { readFileSync } = await import('node:fs');
  const { linkCluster } = await import('../src/run/steps.ts');
  const { parseInventory } = await import('../src/inventory/load.ts');
  const { sessionOptions } = await import('../src/nodes/connect.ts');
  const { HOMELAB, tempDir } = await import('./helpers.ts');
  type Session = import('../src/ssh/session.ts').Session;
  const production = parseInventory(readFileSync(HOMELAB, 'utf8'), 'homelab.yaml').clusters.find((c) => c.name === 'production')!;
  const opts = await sessionOptions({ knownHosts: `${tempDir('bramble-early-')}/known_hosts`, interactive: false, env: {}, connectTimeoutMs: 2000 });
  const closed: string[] = [];
  const early = () => production.active.map((node) => ({ node, session: { close: () => closed.push(node.name) } as unknown as Session }));

  const opened = early();
  const same = await linkCluster(production, opts, Promise.resolve(opened));
  assert.deepEqual(same.links.map((l) => l.session), opened.map((c) => c.session), 'the early sessions are the links');
  assert.deepEqual(same.links.map((l) => l.node), production.active, 'with the nodes as the final inventory has them');
  assert.deepEqual(closed, []);

  // The same names at another address (loopback, where nothing listens on port 1): the early ones are closed, the nodes reached again.
  const moved = { ...production, active: production.active.map((n) => ({ ...n, address: '127.0.0.1', ssh: { ...n.ssh, port: 1 } })) };
  const again = await linkCluster(moved, opts, Promise.resolve(early()));
  assert.deepEqual(closed.sort(), production.active.map((n) => n.name).sort());
  assert.equal(again.links.length, 0);
  assert.deepEqual(again.unreachable.map((u) => u.node), production.active.map((n) => n.name));
});
