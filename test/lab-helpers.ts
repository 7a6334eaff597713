// Starting a lab for a test file, and SSH targets and policies pointing at it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabNodeSpec } from '../scripts/lab/lab.ts';
import { envSecrets } from '../src/ssh/secrets.ts';
import type { SessionOptions, SshTarget } from '../src/ssh/session.ts';
import { tempDir } from './helpers.ts';
import { FLUX_ARTIFACT, serveFlux } from './lab-standins/flux-install.ts';

export async function startLab(specs: LabNodeSpec[]): Promise<Lab> {
  const lab = await Lab.start(specs);
  // Loaded here, not at the top: the benchmarks use this module's inventories outside the test runner.
  const { after } = await import('node:test');
  after(() => lab.stop());
  return lab;
}

export function target(lab: Lab, name: string, over: Partial<SshTarget> = {}): SshTarget {
  const n = lab.node(name);
  return { name, host: n.address, port: n.port, user: lab.user, auth: 'key', privateKey: lab.keyFile, ...over };
}

/** Session options with a known_hosts that already trusts every lab node. */
export function trusting(lab: Lab, log?: string[], env: NodeJS.ProcessEnv = {}): SessionOptions {
  const knownHosts = join(tempDir(), 'known_hosts');
  writeFileSync(knownHosts, lab.knownHosts(), { mode: 0o600 });
  return { policy: { knownHosts, acceptNew: false }, secrets: envSecrets(env), log: log ? (l) => log.push(l) : undefined };
}

export interface LabCluster {
  name: string;
  nodes: Array<{ node: string; role: 'server' | 'agent'; hardware?: string; planned?: boolean; address?: string }>;
}

/**
 * An inventory for lab nodes: one VLAN on the lab's subnet (pool .200-.250),
 * the lab's login user and key, and optionally a NAS at `nasAddress` and
 * the lab's install script URL.
 */
export function labInventory(lab: Lab, clusters: LabCluster[], o: { nasAddress?: string; k3sVersion?: string; installScriptUrl?: string } = {}): string {
  const net = lab.gateway.replace(/\.1$/, '');
  const lines = [
    'apiVersion: bramble/v1alpha1',
    'site:',
    '  name: lab',
    '  ssh:',
    `    user: ${lab.user}`,
    `    privateKey: ${lab.keyFile}`,
    '  k3s:',
    `    version: ${o.k3sVersion ?? 'v1.35.6+k3s1'}`,
    ...(o.installScriptUrl ? [`    installScriptUrl: ${o.installScriptUrl}`] : []),
    // Flux fetches the upgrade controller from the lab, never from GitHub.
    '    upgrade:',
    `      controllerRepository: ${lab.upgradeControllerRepository()}`,
    'vlans:',
    '  - id: 100',
    '    name: Lab',
    `    subnet: ${net}.0/24`,
    `    gateway: ${lab.gateway}`,
    `    dhcp: { start: ${net}.200, end: ${net}.250 }`,
    '    internet: false',
  ];
  if (o.nasAddress) {
    lines.push('nas:', '  name: labnas', `  address: ${o.nasAddress}`, '  vlan: 100', '  nfs:', '    exports:', '      - path: /export/k8s', '        storageClass: nfs-lab');
  }
  lines.push('git:', '  url: ssh://git@example.invalid/lab/gitops.git', 'clusters:');
  for (const c of clusters) {
    lines.push(`  - name: ${c.name}`, '    vlan: 100', '    nodes:');
    for (const n of c.nodes) {
      const board = lab.nodes.find((x) => x.name === n.node);
      lines.push(
        `      - name: ${n.node}`,
        `        hardware: ${n.hardware ?? board?.board ?? 'x86'}`,
        `        address: ${n.address ?? board!.address}`,
        `        role: ${n.role}`,
      );
      if (n.planned) lines.push('        planned: true');
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * A lab inventory whose Git repository is on the lab's SSH Git server (its
 * host key pinned) and whose Flux manifest comes from the lab's HTTP server.
 */
export function gitopsInventory(lab: Lab, clusters: LabCluster[], o: { repoUrl: string; hostKey: string; installScriptUrl?: string }): string {
  return labInventory(lab, clusters, { installScriptUrl: o.installScriptUrl }).replace(/git:\n  url: .*\n/, ['git:', `  url: ${o.repoUrl}`, `  hostKey: "${o.hostKey}"`, ...labFluxDefaults(lab), ''].join('\n'));
}

/** The inventory's defaults that take Flux from the lab's HTTP server: the first start's manifest and the artifact Flux upgrades itself from. */
export function labFluxDefaults(lab: Lab): string[] {
  return ['defaults:', '  platform:', '    flux:', `      installUrl: http://${lab.gateway}:8089/flux/v{version}/install.yaml`, `      manifestsUrl: oci://${lab.gateway}:8089/${FLUX_ARTIFACT}`, '      plainHttp: true'];
}

/**
 * A lab for a whole hand-over: the nodes, the install script and Flux's
 * manifest served, an SSH Git server with one empty repository, and a
 * known_hosts file that trusts the nodes.
 */
export async function startGitopsLab(specs: LabNodeSpec[], repository: string) {
  const lab = await startLab(specs);
  const scriptUrl = await lab.serveInstallScript();
  await serveFlux(lab, '2.9.5');
  const gitServer = await lab.startGitServer();
  const repoUrl = lab.gitRepository(repository);
  const work = tempDir();
  const knownHosts = join(work, 'known_hosts');
  writeFileSync(knownHosts, lab.knownHosts(), { mode: 0o600 });
  return { lab, scriptUrl, gitServer, repoUrl, work, knownHosts };
}
