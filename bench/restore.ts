// The restore drill measured on the lab (issue 28): a 3-server etcd cluster
// installed, an on-demand snapshot taken, then `bramble restore --yes`, with
// the time of each step as it prints it, against the site's RTO of 15
// minutes. The lab's k3s is a stand-in that starts at once and pulls no
// image, so the figures are bramble's own orchestration (SSH, the order of
// stops and starts, the Ready waits); what a real board adds is printed
// beside them from k3s's and Longhorn's documentation (docs/backup.md).
// Usage (as root): npm run build && node dist/bench/restore.js
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../scripts/lab/lab.ts';
import { packageRoot } from '../src/base/paths.ts';
import { labInventory } from '../test/lab-helpers.ts';

const cli = join(packageRoot(), 'dist', 'bin', 'bramble.js');
const RTO_S = 15 * 60;

/** A bramble run, with the moment each line of its output arrived. */
function timed(argv: string[]): Promise<{ code: number; ms: number; lines: Array<{ at: number; line: string }>; stderr: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<{ at: number; line: string }> = [];
    let partial = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) lines.push({ at: performance.now() - t0, line });
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, ms: performance.now() - t0, lines, stderr }));
  });
}

const work = mkdtempSync(join(tmpdir(), 'bramble-bench-restore-'));
const lab = await Lab.start(['r1', 'r2', 'r3'].map((name) => ({ name, board: 'rk1' as const, iscsi: true })));
try {
  const inv = join(work, 'inventory.yaml');
  writeFileSync(inv, labInventory(lab, [{ name: 'drill', nodes: lab.nodes.map((x) => ({ node: x.name, role: 'server' as const })) }], { installScriptUrl: await lab.serveInstallScript() }));
  const kh = join(work, 'known_hosts');
  writeFileSync(kh, lab.knownHosts(), { mode: 0o600 });
  const ssh = ['-i', inv, '--known-hosts', kh];
  const install = await timed(['install', ...ssh, '--kubeconfig', join(work, 'kubeconfig'), '--timeout', '300']);
  if (install.code !== 0) throw new Error(`install failed:\n${install.lines.map((l) => l.line).join('\n')}${install.stderr}`);
  // The drill's step 1: an on-demand snapshot on the first server.
  const save = lab.nodeExec('r1', 'k3s etcd-snapshot save --name drill');
  if (save.code !== 0) throw new Error(`etcd-snapshot save: ${save.stderr}`);
  const listed = lab.nodeExec('r1', 'ls /var/lib/rancher/k3s/server/db/snapshots');
  const name = /^(drill-r1-\d+)$/m.exec(listed.stdout)?.[1];
  if (!name) throw new Error(`no drill snapshot on r1: ${listed.stdout}${listed.stderr}`);
  const r = await timed(['restore', ...ssh, '-c', 'drill', '--etcd', name, '--yes', '--timeout', '300']);
  if (r.code !== 0) throw new Error(`restore failed:\n${r.lines.map((l) => l.line).join('\n')}${r.stderr}`);

  console.log('etcd restore drill on the lab: 3 servers (k3s stand-in), one run');
  // The plan is printed first, then each step as it starts: the second listing is the run.
  const numbered = r.lines.filter((l) => /^ {2}\d+\. /.test(l.line));
  const steps = numbered.slice(numbered.map((l) => l.line).lastIndexOf(numbered.find((l) => /^ {2}1\. /.test(l.line))!.line));
  steps.forEach((s, i) => {
    const end = steps[i + 1]?.at ?? r.ms;
    console.log(`  ${s.line.trim().slice(0, 72).padEnd(72)} ${((end - s.at) / 1000).toFixed(1).padStart(6)} s`);
  });
  console.log(`  ${'restore, start to every server Ready'.padEnd(72)} ${(r.ms / 1000).toFixed(1).padStart(6)} s = ${((r.ms / 1000 / RTO_S) * 100).toFixed(1)} % of the RTO (${RTO_S / 60} min)`);
} finally {
  await lab.stop();
  rmSync(work, { recursive: true, force: true });
}
