// Start a lab of simulated nodes by hand and keep it until Ctrl-C.
// Usage (as root, after npm run build):
//   node dist/scripts/lab-up.js pi5 rk1 rk1 rk1 x86 [--nas] [--iscsi]
// Prints each node's address and host key fingerprint, the login key, and a
// known_hosts file to hand to `bramble preflight --known-hosts`. --iscsi gives
// every node the kernel with iSCSI the benchmarks use (docs/testing.md), so an
// unchanged node plans as unchanged and a command can be timed as bench/ does.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type Board } from './lab/lab.ts';

const args = process.argv.slice(2);
const boards = args.filter((a) => !a.startsWith('--')) as Board[];
if (boards.length === 0 || boards.some((b) => !['pi5', 'rk1', 'x86'].includes(b))) {
  console.error('usage: lab-up.js BOARD... [--nas] [--iscsi]   (BOARD: pi5, rk1 or x86)');
  process.exit(2);
}
const count: Record<string, number> = {};
const iscsi = args.includes('--iscsi');
const lab = await Lab.start(boards.map((board) => ({ name: `${board}-${(count[board] = (count[board] ?? 0) + 1)}`, board, iscsi })));
const url = await lab.serveInstallScript();
const nas = args.includes('--nas') ? await lab.startNas() : undefined;
const knownHosts = join(lab.root, 'known_hosts');
writeFileSync(knownHosts, lab.knownHosts(), { mode: 0o600 });
for (const n of lab.nodes) console.log(`${n.name.padEnd(8)} ${n.address.padEnd(16)} ${n.fingerprint}`);
if (nas) console.log(`nas      ${nas.padEnd(16)} NFSv4.1, export /export/k8s`);
console.log(`\nlogin: ${lab.user} with key ${lab.keyFile} (sudo without a password)`);
console.log(`known_hosts: ${knownHosts}`);
console.log(`install script (k3s's real install.sh behind the lab's download): ${url}`);
console.log('\nCtrl-C stops the lab and removes everything.');
const stop = async () => {
  await lab.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => undefined, 1 << 30);
