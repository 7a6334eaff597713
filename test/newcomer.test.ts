// The newcomer's first hour, end to end, as getting-started.md tells it and
// with nothing else: `bramble init` answered at a real terminal (tmux) like a
// person (one Pi 5 staging cluster, three RK1 servers for production, the
// lab's addresses), then preflight with --accept-new-host-keys (the docs'
// step 3), plan, apply at a terminal, the deploy keys added on the Git server
// as the run asks, apply again, and status. No --repo anywhere: the work tree
// is the default one beside the inventory. The inventory's mirror settings
// point at the lab (install script, Flux's manifests, the upgrade
// controller's repository), as a site with a LAN mirror sets them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseInventory } from '../src/inventory/load.ts';
import { FLUX_ARTIFACT } from './lab-standins/flux-install.ts';
import { startGitopsLab } from './lab-helpers.ts';
import { tempDir } from './helpers.ts';
import { drive, Terminal } from './tty.ts';

const { lab, scriptUrl, gitServer, repoUrl } = await startGitopsLab(
  [
    { name: 'pi5-01', board: 'pi5', iscsi: true },
    { name: 'rk1-01', board: 'rk1', iscsi: true },
    { name: 'rk1-02', board: 'rk1', iscsi: true },
    { name: 'rk1-03', board: 'rk1', iscsi: true },
  ],
  'homelab-gitops.git',
);
const home = tempDir('bramble-newcomer-');
const site = join(home, 'homelab');
const inventory = join(site, 'inventory.yaml');
// The newcomer's own machine: a home of their own, and their SSH set up for their Git server (as ~/.ssh/config would).
const env = { HOME: home, GIT_SSH_COMMAND: gitServer.ownerEnv.GIT_SSH_COMMAND!, GIT_SSH_VARIANT: 'ssh' };
const net = lab.gateway.replace(/\.1$/, '');
const addr = (n: string) => lab.node(n).address;

/** A bramble command at a terminal, answered like a person; its exit code and screen. */
async function atTerminal(name: string, args: string[], answers: Parameters<typeof drive>[1] = [], ms = 300_000) {
  const t = new Terminal(name, args, env);
  if (answers.length > 0) return drive(t, answers, ms);
  const { code, screen } = await t.exit(ms);
  return { code, screen, prompts: [] as string[] };
}

test('init at a terminal: a Pi 5 staging cluster and three RK1 servers, the defaults following each node', { timeout: 180_000 }, async () => {
  const t = new Terminal('init', ['init', '-i', inventory], env);
  const { code, screen } = await drive(t, [
    { prompt: /Site name/, type: 'lab' },
    { prompt: /SSH private key/, type: lab.keyFile },
    { prompt: /Start from the common VLAN layout/, type: 'n' },
    { prompt: /VLAN 1: id/, type: '100' },
    { prompt: /VLAN 100: name/, type: 'Lab' },
    { prompt: /VLAN 100: subnet/, type: `${net}.0/24` },
    { prompt: /first address of the DHCP pool/, type: `${net}.200` },
    { prompt: /last address of the DHCP pool/, type: `${net}.250` },
    { prompt: /can its hosts reach the internet/, type: 'n' },
    { prompt: /VLAN 100: trusted/, type: 'y' },
    { prompt: /Is there a NAS/, type: 'n' },
    { prompt: /Git repository/, type: repoUrl },
    { prompt: /Node 1: hostname/, type: 'pi5-01' },
    { prompt: /pi5-01: static address/, type: addr('pi5-01') },
    { prompt: /Add another cluster/, type: 'y' },
    { prompt: /Node 1: hostname/, type: 'rk1-01' },
    { prompt: /rk1-01: hardware/, choose: 'rk1' },
    { prompt: /rk1-01: static address/, type: addr('rk1-01') },
    { prompt: /production: add another node/, type: 'y' },
    // The next nodes: Enter takes the board and role of the one before.
    { prompt: /Node 2: hostname/, type: 'rk1-02' },
    { prompt: /rk1-02: static address/, type: addr('rk1-02') },
    { prompt: /production: add another node/, type: 'y' },
    { prompt: /Node 3: hostname/, type: 'rk1-03' },
    { prompt: /rk1-03: static address/, type: addr('rk1-03') },
  ]);
  assert.equal(code, 0, screen);
  assert.match(screen, /API at https:\/\/198\.18\.\d+\.\d+:6443; Traefik at every node's address; dashboards open to 198\.18\.\d+\.0\/24/);
  const inv = parseInventory(readFileSync(inventory, 'utf8'), inventory);
  assert.deepEqual(inv.clusters.map((c) => c.nodes.map((n) => `${n.name} ${n.hardware} ${n.role}`)), [['pi5-01 pi5 server'], ['rk1-01 rk1 server', 'rk1-02 rk1 server', 'rk1-03 rk1 server']]);

  // The site's mirrors, here the lab's (inventory fields a site with a LAN mirror sets), and the Git server's host key pinned as step 3 says.
  const doc = parseDocument(readFileSync(inventory, 'utf8'));
  doc.setIn(['site', 'k3s', 'installScriptUrl'], scriptUrl);
  doc.setIn(['site', 'k3s', 'upgrade', 'controllerRepository'], lab.upgradeControllerRepository());
  doc.setIn(['defaults', 'platform', 'flux', 'installUrl'], `http://${lab.gateway}:8089/flux/v{version}/install.yaml`);
  doc.setIn(['defaults', 'platform', 'flux', 'manifestsUrl'], `oci://${lab.gateway}:8089/${FLUX_ARTIFACT}`);
  doc.setIn(['defaults', 'platform', 'flux', 'plainHttp'], true);
  doc.setIn(['git', 'hostKey'], gitServer.fingerprint);
  writeFileSync(inventory, doc.toString());
});

test('preflight trusts the nodes once; plan and apply need no --repo; the deploy keys are added as asked; status exits 0', { timeout: 900_000 }, async () => {
  const pre = await atTerminal('preflight', ['preflight', '-i', inventory, '--accept-new-host-keys']);
  assert.equal(pre.code, 0, pre.screen);

  const plan = await atTerminal('plan', ['plan', '-i', inventory]);
  assert.equal(plan.code, 0, plan.screen);
  assert.doesNotMatch(plan.screen, /plan incomplete/);
  assert.match(plan.screen, /pi5-01 +server +install k3s/);

  // apply at a terminal asks before the Pi's reboot (its memory cgroup); a person says yes.
  const first = await atTerminal('apply1', ['apply', '-i', inventory], [{ prompt: /Go ahead\?/, type: 'y' }]);
  assert.equal(first.code, 1, first.screen);
  const tree = join(site, 'homelab-gitops');
  assert.ok(existsSync(join(tree, '.git')), 'the work tree beside the inventory');
  for (const cluster of ['staging', 'production']) {
    const key = new RegExp(`(ssh-ed25519 \\S+ flux-${cluster})`).exec(first.screen.replace(/\n/g, ' '));
    assert.ok(key, `the deploy key of ${cluster} is shown:\n${first.screen}`);
    lab.addDeployKey(key[1]!);
  }

  const second = await atTerminal('apply2', ['apply', '-i', inventory]);
  assert.equal(second.code, 0, second.screen);
  assert.match(second.screen, /staging: Flux reconciled/);
  assert.match(second.screen, /production: Flux reconciled/);

  const status = await atTerminal('status', ['status', '-i', inventory]);
  assert.equal(status.code, 0, status.screen);
  for (const n of ['pi5-01', 'rk1-01', 'rk1-02', 'rk1-03']) assert.match(status.screen, new RegExp(`${n} +server +Ready`));
  assert.match(status.screen, new RegExp(`kubeconfig: context "production" in ${join(home, '.kube', 'config').replaceAll('/', '\\/')}`));
});
