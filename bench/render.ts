// Render + validate time for the reference inventory and for a generated one
// of 5 clusters and 60 nodes, measured in one run (after a warm-up).
// Usage: npm run build && node dist/bench/render.js
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseInventory } from '../src/inventory/load.ts';
import { packageRoot } from '../src/base/paths.ts';
import { renderInventory } from '../src/render/render.ts';

function generated(clusters: number, perCluster: number): string {
  const lines = ['apiVersion: bramble/v1alpha1', 'site:', '  name: big', '  k3s:', '    version: v1.35.6+k3s1', 'vlans:'];
  for (let c = 0; c < clusters; c++) {
    lines.push(`  - id: ${100 + c}`, `    name: v${c}`, `    subnet: 10.${c}.0.0/24`, `    gateway: 10.${c}.0.1`, `    dhcp: { start: 10.${c}.0.200, end: 10.${c}.0.250 }`, '    internet: true');
  }
  lines.push('git:', '  url: ssh://git@example.invalid/big.git', 'clusters:');
  for (let c = 0; c < clusters; c++) {
    lines.push(`  - name: c${c}`, `    vlan: ${100 + c}`, '    nodes:');
    for (let n = 0; n < perCluster; n++) {
      lines.push(`      - { name: c${c}-n${n}, hardware: ${n < 3 ? 'rk1' : n % 2 ? 'pi5' : 'x86'}, address: 10.${c}.0.${10 + n}, role: ${n < 3 ? 'server' : 'agent'} }`);
    }
  }
  return lines.join('\n') + '\n';
}

async function measure(label: string, text: string, runs: number): Promise<void> {
  const once = async () => {
    const t0 = performance.now();
    const out = await renderInventory(parseInventory(text, label));
    return { ms: performance.now() - t0, docs: out.docs.length, files: out.files.length };
  };
  await once();
  const times: number[] = [];
  let last = { ms: 0, docs: 0, files: 0 };
  for (let i = 0; i < runs; i++) {
    last = await once();
    times.push(last.ms);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`${label.padEnd(28)} ${String(last.files).padStart(4)} files ${String(last.docs).padStart(4)} docs   median ${median.toFixed(1).padStart(7)} ms   ${(median / last.docs).toFixed(2)} ms/doc   (${runs} runs)`);
}

const reference = readFileSync(join(packageRoot(), 'inventory', 'homelab.yaml'), 'utf8');
await measure('reference (2 clusters)', reference, 20);
await measure('generated (5 clusters, 60)', generated(5, 12), 10);
