// Orchestration on the lab of simulated nodes, measured in one run each:
//  1. scaling: `bramble install` on clusters of 1, 4 and 16 nodes (1 or 3
//     servers, the rest agents) with the install script stand-in taking a
//     fixed D seconds; wall time against the ideal for the join order (first
//     server, the other servers one by one, the agents together, so
//     (servers + 1) x D) and against every node one after another (n x D);
//  2. re-run: `bramble apply` on a 4-node lab, then again with nothing
//     changed: the second run's time as a ratio of the first application, and
//     every remote command it ran that changes something, counted from -v;
//  3. SSH logins per node per run, from each node's sshd log.
// The lab's nodes are given a kernel with iSCSI (lab.ts, iscsi: true), as real
// boards have; otherwise every run would retry iscsid on them.
// Usage (as root): npm run build && node dist/bench/lab.js [--delay SECONDS] [--only scaling|rerun] [--nodes N] [--timeline]
// --nodes N: the scaling run at N nodes only; --timeline: its -v lines, each
// stamped with the seconds since bramble started (where a join step's time goes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../scripts/lab/lab.ts';
import { bramble } from './cli.ts';
import { serveFlux } from '../test/lab-standins/flux-install.ts';
import { gitopsInventory, labInventory } from '../test/lab-helpers.ts';
import { machineLine } from '../scripts/machine.ts';

const args = process.argv.slice(2);
// Figures from different machines of one class differ more than most changes do.
console.log(`the machine: ${machineLine()}`);
const delay = args.includes('--delay') ? Number(args[args.indexOf('--delay') + 1]) : 20;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const sizes = args.includes('--nodes') ? [Number(args[args.indexOf('--nodes') + 1])] : [1, 4, 16];
const timeline = args.includes('--timeline');

/** Remote commands that change a node, as -v prints them. */
const CHANGING = /sftp put |\$ .*(apt-get install|systemctl (enable|start|restart)|hostnamectl|\breboot\b|modprobe|install\.sh|kubectl (apply|annotate|delete)|mv -f|cp -p)/;

async function scaling(n: number): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bramble-bench-'));
  const lab = await Lab.start(Array.from({ length: n }, (_, i) => ({ name: `b${i}`, board: 'x86' as const, iscsi: true })));
  try {
    const base = await lab.serveInstallScript();
    const url = base.replace('/install.sh', `/install-delay-${delay}.sh`);
    const servers = n >= 3 ? 3 : 1;
    const inv = join(work, 'inventory.yaml');
    writeFileSync(inv, labInventory(lab, [{ name: 'bench', nodes: lab.nodes.map((x, i) => ({ node: x.name, role: i < servers ? ('server' as const) : ('agent' as const) })) }], { installScriptUrl: url }));
    const kh = join(work, 'known_hosts');
    writeFileSync(kh, lab.knownHosts(), { mode: 0o600 });
    const r = await bramble(['install', '-i', inv, '--known-hosts', kh, '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '600', ...(timeline ? ['-v'] : [])]);
    if (r.code !== 0) throw new Error(`install on ${n} nodes failed:\n${r.stdout}${r.stderr}`);
    const agents = n - servers;
    const ideal = (servers + (agents > 0 ? 1 : 0)) * delay * 1000;
    const serial = n * delay * 1000;
    const logins = lab.nodes.map((x) => lab.sshLogins(x.name));
    console.log(
      `${String(n).padStart(2)} nodes (${servers} server(s), ${agents} agent(s))  wall ${(r.ms / 1000).toFixed(1).padStart(6)} s  ` +
        `ideal ${(ideal / 1000).toFixed(0).padStart(4)} s  wall/ideal ${(r.ms / ideal).toFixed(2)}x  wall/serial ${(r.ms / serial).toFixed(2)}x  ` +
        `SSH logins per node ${Math.min(...logins)}-${Math.max(...logins)}`,
    );
    // A command's first line only: the scripts bramble sends are long.
    if (timeline) for (const l of r.stderr.split('\n').filter((x) => /^\[\s*[\d.]+\]/.test(x))) console.log(`  ${l.slice(0, 160)}`);
  } finally {
    await lab.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function rerun(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bramble-bench-'));
  const lab = await Lab.start([
    { name: 's1', board: 'rk1', iscsi: true },
    { name: 'a1', board: 'x86', iscsi: true },
    { name: 'a2', board: 'x86', iscsi: true },
    { name: 'a3', board: 'x86', iscsi: true },
  ]);
  try {
    // The same install that takes D seconds as in the scaling runs: a first install is never instant.
    const url = (await lab.serveInstallScript()).replace('/install.sh', `/install-delay-${delay}.sh`);
    await serveFlux(lab, '2.9.5');
    const git = await lab.startGitServer();
    const repoUrl = lab.gitRepository('bench.git');
    const inv = join(work, 'inventory.yaml');
    const nodes = lab.nodes.map((x, i) => ({ node: x.name, role: i === 0 ? ('server' as const) : ('agent' as const) }));
    writeFileSync(inv, gitopsInventory(lab, [{ name: 'bench', nodes }], { installScriptUrl: url, repoUrl, hostKey: git.fingerprint }));
    const kh = join(work, 'known_hosts');
    writeFileSync(kh, lab.knownHosts(), { mode: 0o600 });
    const argv = ['apply', '-i', inv, '--known-hosts', kh, '--repo', join(work, 'repo'), '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '120', '-v'];
    const env = git.ownerEnv;
    // The first application is two runs: a plain SSH Git host needs its owner to add the deploy key in between.
    const first = await bramble(argv, env);
    const key = /(ssh-ed25519 \S+ flux-bench)/.exec(first.stdout)?.[1];
    if (first.code !== 1 || !key) throw new Error(`the first apply should stop for the deploy key:\n${first.stdout}${first.stderr}`);
    lab.addDeployKey(key);
    const second = await bramble(argv, env);
    if (second.code !== 0) throw new Error(`apply failed:\n${second.stdout}${second.stderr}`);
    const before = lab.nodes.map((x) => lab.sshLogins(x.name));
    const again = await bramble(argv, env);
    if (again.code !== 0) throw new Error(`the re-run failed:\n${again.stdout}${again.stderr}`);
    const logins = lab.nodes.map((x, i) => lab.sshLogins(x.name) - before[i]!);
    const commands = again.stderr.split('\n').filter((l) => /: (\$ |sftp put )/.test(l));
    const changing = commands.filter((l) => CHANGING.test(l));
    const firstMs = first.ms + second.ms;
    console.log(`first application (two runs)  ${(firstMs / 1000).toFixed(1)} s`);
    console.log(`re-run, nothing changed        ${(again.ms / 1000).toFixed(1)} s   ${((again.ms / firstMs) * 100).toFixed(1)} % of the first`);
    console.log(`re-run remote commands         ${commands.length}, of which change something: ${changing.length}`);
    for (const l of changing) console.log(`    ${l.replace(/^\s+/, '')}`);
    console.log(`re-run SSH logins per node     ${logins.join(', ')} (nodes ${lab.nodes.map((x) => x.name).join(', ')})`);
  } finally {
    await lab.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(`bramble on the lab, one run each (install stand-in delay D = ${delay} s)`);
if (!only || only === 'scaling') for (const n of sizes) await scaling(n);
if (!only || only === 'rerun') await rerun();
