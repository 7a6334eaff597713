// The lab itself: a lab that starts beside what an earlier one left behind.
// A fresh-clone CI once failed a whole file in under a second: its lab's
// `ip netns add` met a namespace file of an earlier lab with the same number.
// Run in a network and mount namespace of its own (its own /run/netns, /sys
// and /var/tmp), so the leftovers made here cannot reach the suite's labs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.ts';

/** Runs `script` (an ES module, the lab module as `Lab`) in a namespace of its own; its stdout's last line is JSON. */
function isolated(script: string): unknown {
  const lab = join(ROOT, 'scripts', 'lab', 'lab.ts');
  const body = `import { Lab } from ${JSON.stringify(lab)};\nimport * as fs from 'node:fs';\n${script}`;
  const shell = 'mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns && mount -t sysfs sysfs /sys && mount -t tmpfs tmpfs /var/tmp && exec "$0" --input-type=module -e "$1"';
  const r = spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', 'sh', '-c', shell, process.execPath, body], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const leaveBehind = `
// What earlier labs left: a namespace file for every number but 77, and for 5 a host-side link instead.
for (let i = 2; i <= 251; i++) if (i !== 77 && i !== 5) fs.writeFileSync('/run/netns/bl' + i + 'n0', '');
const { spawnSync } = await import('node:child_process');
if (spawnSync('ip', ['link', 'add', 'bl5v0', 'type', 'veth', 'peer', 'name', 'eth5']).status !== 0) throw new Error('no veth');
`;

test('a lab takes a number nothing is left under; with none free it says what is in the way, and leaves no folder', () => {
  const got = isolated(`${leaveBehind}
const lab = await Lab.start([]);
const index = lab.index, bridge = fs.existsSync('/sys/class/net/bl77');
await lab.stop();
const left = fs.readdirSync('/run/netns').length;
const gone = !fs.existsSync('/sys/class/net/bl77') && fs.existsSync('/sys/class/net/bl5v0');
fs.writeFileSync('/run/netns/bl77git', '');
let error = '';
try { await Lab.start([]); } catch (e) { error = e.message; }
console.log(JSON.stringify({ index, bridge, left, gone, error, varTmp: fs.readdirSync('/var/tmp'), links: fs.readdirSync('/sys/class/net').filter((n) => /^bl\\d+$/.test(n)) }));
`) as Record<string, unknown>;
  assert.equal(got.index, 77, 'the one number with nothing left under it');
  assert.equal(got.bridge, true);
  assert.equal(got.left, 248, 'the stop removes its own names only');
  assert.equal(got.gone, true);
  assert.match(got.error as string, /^lab: could not create a bridge \(250 names left over by earlier labs, such as \/(run\/netns|sys\/class\/net)\/bl\d+(n0|v0|git)/);
  assert.deepEqual(got.varTmp, [], 'the failed start leaves no folder');
  assert.deepEqual(got.links, [], 'nor a bridge');
});
