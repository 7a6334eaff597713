// `bramble init` driven through a real pseudo-terminal: tmux runs it, the
// test reads the screen (capture-pane) and types (send-keys) as a person
// would. No network: the wizard only writes a file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseInventory } from '../src/inventory/load.ts';
import { CLI, ROOT, runAsync, tempDir } from './helpers.ts';
import { drive, Terminal, type Answer } from './tty.ts';

const work = tempDir();

const reference = () => parseInventory(readFileSync(join(ROOT, 'inventory', 'homelab.yaml'), 'utf8'), 'inventory.yaml');

test('init writes the reference site from answers at a terminal, rejecting wrong answers where they are typed', { timeout: 180_000 }, async () => {
  const file = join(work, 'new', 'inventory.yaml');
  const t = new Terminal('fresh', ['init', '-i', file]);
  const server = (name: string, address: string): Answer[] => [
    { prompt: /Node \d: hostname/, type: name },
    { prompt: new RegExp(`${name}: hardware`), choose: 'rk1' },
    { prompt: new RegExp(`${name}: static address`), type: address },
    { prompt: new RegExp(`${name}: role`), choose: 'server' },
  ];
  const { screen, code } = await drive(t, [
    { prompt: /Site name/, type: 'Tiny Home', rejected: /expected a lower-case DNS label/ },
    { prompt: /Site name/, type: 'tinyhome' },
    { prompt: /k3s version/, type: 'v1.29.0+k3s1', rejected: /k3s v1\.29\.0\+k3s1 runs Kubernetes 1\.29\.0, but Flux 2\.9\.5 needs Kubernetes 1\.34\.1 or newer/ },
    { prompt: /Change any of these VLANs/, type: 'y' },
    { prompt: /VLAN 30: purpose/, type: 'trusted clients and media (SSID TinyHome)' },
    { prompt: /VLAN 15: purpose/, type: 'IoT and guests (SSIDs TinyGuest, TinyIoT)' },
    { prompt: /VLAN 20: purpose/, type: 'no internet, local only (SSID TinyNoT)' },
    { prompt: /NAS: name/, type: 'qnap' },
    { prompt: /NAS: model/, type: 'QNAP TS-h973AX' },
    { prompt: /NAS: address/, type: '192.168.100.200', rejected: /192\.168\.100\.200 is inside the DHCP pool of VLAN 100 \(ServerLAN\) 192\.168\.100\.150-192\.168\.100\.254; use a static address outside it/ },
    { prompt: /NAS: address/, type: '192.168.30.20', rejected: /192\.168\.30\.20 is outside VLAN 100 \(ServerLAN\) subnet 192\.168\.100\.0\/24/ },
    { prompt: /NAS: address/, type: '192.168.100.20' },
    { prompt: /uid:gid/, type: '1000:1000' },
    { prompt: /Git repository/, type: 'https://github.com/tinyhome/homelab-gitops.git', rejected: /must be an SSH URL: use ssh:\/\/git@github\.com\/tinyhome\/homelab-gitops\.git/ },
    { prompt: /Git repository/, type: 'ssh://git@github.com/tinyhome/homelab-gitops.git' },
    { prompt: /Node 1: hostname/, type: 'pi5-staging' },
    { prompt: /pi5-staging: static address/, type: '192.168.100.10' },
    { prompt: /Add another cluster/, type: 'y' },
    ...server('rk1-1', '192.168.100.11'),
    { prompt: /production: add another node/, type: 'y' },
    { prompt: /Node 2: hostname/, type: 'pi5-staging', rejected: /node name "pi5-staging" is already used in cluster staging; k3s needs unique hostnames/ },
    ...server('rk1-2', '192.168.100.12'),
    { prompt: /production: add another node/, type: 'y' },
    { prompt: /Node 3: hostname/, type: 'rk1-3' },
    { prompt: /rk1-3: hardware/, choose: 'rk1' },
    { prompt: /rk1-3: static address/, type: '192.168.100.12', rejected: /address 192\.168\.100\.12 is already used by node rk1-2/ },
    { prompt: /rk1-3: static address/, type: '192.168.100.13' },
    { prompt: /rk1-3: role/, choose: 'server' },
    { prompt: /production: add another node/, type: 'y' },
    { prompt: /Node 4: hostname/, type: 'rk1-4' },
    { prompt: /rk1-4: hardware/, choose: 'rk1' },
    { prompt: /rk1-4: static address/, type: '192.168.100.14' },
    { prompt: /rk1-4: role/, choose: 'agent' },
    { prompt: /rk1-4: planned only/, type: 'y' },
    { prompt: /production: API address/, type: '192.168.100.13', rejected: /address 192\.168\.100\.13 is already used by node rk1-3/ },
    { prompt: /production: API address/, type: '192.168.100.19' },
    { prompt: /VLANs allowed to open Grafana/, type: '31', rejected: /VLAN 31 is not one of this site's VLANs \(10, 100, 30, 15, 20\)/ },
    { prompt: /VLANs allowed to open Grafana/, type: '30, 192.168.100.0/24' },
  ]);
  assert.equal(code, 0, screen);
  assert.match(screen, /cluster production on VLAN 100: rk1-1 \(rk1 server 192\.168\.100\.11\), rk1-2 .*, rk1-4 \(rk1 agent 192\.168\.100\.14, planned\)/);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^# yaml-language-server: \$schema=\S+inventory\.schema\.json\n/);
  // Equal in meaning to the reference inventory: the same model once loaded.
  assert.deepEqual(parseInventory(text, 'inventory.yaml'), reference());
});

test('editing an existing inventory keeps its comments and order, and changes only what was answered', { timeout: 180_000 }, async () => {
  const file = join(work, 'homelab.yaml');
  copyFileSync(join(ROOT, 'inventory', 'homelab.yaml'), file);
  const before = readFileSync(file, 'utf8');
  const t = new Terminal('edit', ['init', '-i', file]);
  const { screen, code, prompts } = await drive(t, [{ prompt: /rk1-2: static address \(192\.168\.100\.12\)/, type: '192.168.100.22' }]);
  assert.equal(code, 0, screen);
  assert.ok(prompts.some((p) => p.includes('Site name (a short DNS label) (tinyhome)')), 'the current values are the defaults');
  const after = readFileSync(file, 'utf8');
  // One line differs: the answered one. Comments, blank lines and key order are as they were.
  const diff = before.split('\n').map((l, i) => [l, after.split('\n')[i]]).filter(([a, b]) => a !== b);
  assert.deepEqual(diff, [['        address: 192.168.100.12', '        address: 192.168.100.22']]);
  assert.equal(before.split('\n').length, after.split('\n').length);
});

test('a private key that does not exist: the wizard offers to make one, ssh-keygen asks for the passphrase, and the public key is shown with where it goes', { timeout: 120_000 }, async () => {
  const home = tempDir('bramble-home-');
  const file = join(work, 'key.yaml');
  copyFileSync(join(ROOT, 'inventory', 'homelab.yaml'), file);
  const t = new Terminal('key', ['init', '-i', file], { HOME: home });
  const { screen, code } = await drive(t, [{ prompt: /~\/\.ssh\/id_ed25519 does not exist: make an ed25519 key there now\?/, type: 'y' }]);
  assert.equal(code, 0, screen);
  const key = join(home, '.ssh', 'id_ed25519');
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim();
  assert.match(pub, /^ssh-ed25519 \S+ bramble@tinyhome$/);
  assert.match(screen, /made ~\/\.ssh\/id_ed25519; its public key goes into ~bramble\/\.ssh\/authorized_keys on every board \(ssh-copy-id -i ~\/\.ssh\/id_ed25519\.pub bramble@ADDRESS does it\):/);
  assert.ok(screen.replace(/\s+/g, '').includes(pub.split(' ')[1]!.slice(0, 30)), 'the public key is on the screen');
  // Declined, or where no key is made: said, not silently taken.
  const declined = new Terminal('nokey', ['init', '-i', file], { HOME: tempDir('bramble-home-') });
  const other = await drive(declined, []);
  assert.equal(other.code, 0, other.screen);
  assert.match(other.screen, /note: ~\/\.ssh\/id_ed25519 does not exist yet, and bramble reaches no node without it: ssh-keygen -t ed25519 -f ~\/\.ssh\/id_ed25519/);
});

test('a webhook URL typed at the terminal is masked, and reaches neither the screen nor the inventory', { timeout: 180_000 }, async () => {
  const file = join(work, 'notify.yaml');
  copyFileSync(join(ROOT, 'inventory', 'homelab.yaml'), file);
  const url = 'https://discord.com/api/webhooks/998877665544332211/tty-typed_secret-0123456789abcdef';
  spawnSync('git', ['init', '-q', join(work, 'notify-repo')]);
  const t = new Terminal('notify', ['init', '-i', file, '--repo', join(work, 'notify-repo')], { SOPS_AGE_KEY_FILE: join(work, 'notify-keys.txt') });
  const { screen, code, prompts } = await drive(t, [
    { prompt: /production: where do/, choose: 'discord' },
    { prompt: /production: Discord webhook URL/, type: 'https://discord.com/api/nothook', rejected: /expected a Discord webhook URL/ },
    { prompt: /production: Discord webhook URL/, type: url },
  ]);
  assert.equal(code, 0, screen);
  assert.ok(prompts.some((p) => /production: make its age key now\?/.test(p)), 'the cluster had no key, so one is offered');
  assert.ok(!screen.includes(url) && !screen.includes('tty-typed_secret'), 'the URL never appears on the screen');
  assert.match(screen, /production: Discord webhook URL .*\*{20,}/, 'what was typed shows as asterisks');
  assert.match(screen, /clusters\/production\/secrets\/monitoring-notify\.sops\.yaml: address set, encrypted/);
  assert.ok(!readFileSync(file, 'utf8').includes(url));
  assert.match(readFileSync(join(work, 'notify-repo', 'clusters/production/secrets/monitoring-notify.sops.yaml'), 'utf8'), /address: ENC\[AES256_GCM,/);
});

test('Ctrl-C in the middle leaves the file as it was', { timeout: 60_000 }, async () => {
  const file = join(work, 'keep.yaml');
  copyFileSync(join(ROOT, 'inventory', 'homelab.yaml'), file);
  const mtime = statSync(file).mtimeMs;
  const t = new Terminal('abort', ['init', '-i', file]);
  await t.until((s) => /\? Site name/.test(s), 'the first prompt');
  t.keys('Enter');
  await t.until((s) => /\? Local DNS domain/.test(s), 'the second prompt');
  t.keys('C-c');
  const screen = await t.until((s) => /\nEXIT=\d+/.test(s), 'the exit');
  assert.match(screen, /stopped; nothing was written and \S+keep\.yaml is as it was/);
  assert.match(screen, /EXIT=130/);
  assert.equal(statSync(file).mtimeMs, mtime);
  assert.equal(readFileSync(file, 'utf8'), readFileSync(join(ROOT, 'inventory', 'homelab.yaml'), 'utf8'));
});

test('without a terminal init refuses at once, naming the non-interactive way', async () => {
  const file = join(work, 'none.yaml');
  const started = Date.now();
  const r = await runAsync(process.execPath, [CLI, 'init', '-i', file], {}, 20_000);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /bramble init asks questions and needs a terminal; none is attached\. .*"bramble apply -i FILE --yes"/);
  assert.ok(Date.now() - started < 10_000, 'it does not wait for input');
  assert.equal(spawnSync('test', ['-e', file]).status, 1, 'nothing written');
});
