import type { ClusterSpec } from '../inventory/model.ts';
import type { Session } from '../ssh/session.ts';
import type { Command, Io } from './command.ts';
import { nodeOptions, visitClusters } from './shared.ts';
import type { NodeSpec } from '../inventory/model.ts';
import { ahead } from '../base/wait.ts';

export const status: Command = {
  name: 'status',
  synopsis: '-i FILE [-c NAME]',
  summary: "nodes, Flux objects and the platform's URLs",
  description:
    "the API address (answering, and which server holds it), nodes (role, Ready, version), each node's OS (boot time, kernel, a pending reboot) and kured's reboot lock, upgrades, Flux objects (Ready, revision, message), the platform's URLs and whether your kubeconfig holds the cluster's context; exit 0 when what is installed is healthy (a cluster not handed to Flux yet says so and names `bramble flux`), 1 when a cluster does not answer, a node is not Ready, the API address does not answer or a Flux object is not Ready",
  options: ['inventory', 'cluster', 'known-hosts', 'accept-new-host-keys', 'verbose', 'kubeconfig'],
  notes: { kubeconfig: 'where to look for the cluster\'s context (default $KUBECONFIG or ~/.kube/config)' },
  async run(opts, io) {
    const [{ loadInventory }, { selectClusters }, { readFluxObjects, refText }, { installedFlux }] = await Promise.all([
      import('../inventory/load.ts'),
      import('../inventory/model.ts'),
      import('../flux/watch.ts'),
      import('../flux/install.ts'),
    ]);
    const [{ readApiNodes }, { platformUrls }, { checkUpgrade, readPlans, upgradeLine }, { probeApiAddress, kubeVipHolder }] = await Promise.all([
      import('../k3s/cluster.ts'),
      import('../run/steps.ts'),
      import('../k3s/upgrade.ts'),
      import('../k3s/kube-vip.ts'),
    ]);
    const { defaultKubeconfig, kubeconfigContexts } = await import('../k3s/kubeconfig.ts');
    const inv = await loadInventory(opts.inventory!);
    const allHealthy = await visitClusters(selectClusters(inv, opts.cluster), opts, io, async (cluster, first) => {
      let healthy = true;
      const s = first.session;
      // Every read goes out at once (channels of the first server's session,
      // and one session per node for its OS); the lines are printed in order.
      const fluxRead = ahead(installedFlux(s));
      const apiRead = ahead(probeApiAddress(s, cluster));
      const holderRead = ahead(cluster.kubeVip?.address ? kubeVipHolder(s) : Promise.resolve(undefined));
      const nodesRead = ahead(readApiNodes(s));
      // The nodes' own sessions open beside the first server's reads, not after them; their
      // lines print only when the API answered (as the node lines above them).
      const osRead = ahead(readOs(cluster, first, opts, io));
      const plansRead = readPlans(s).catch((e: Error) => e);
      const objectsRead = readFluxObjects(s).catch(() => undefined);
      const tls: string[] = [];
      const tlsRead = ahead(tlsLines(cluster, s, { out: (l) => tls.push(l), err: io.err }, opts.inventory!));
      const flux = await fluxRead;
      io.out(`cluster ${cluster.name} (via ${first.node.name}; Flux ${flux ? flux.version : 'not installed'})`);
      const api = await apiRead;
      if (!api.answers) healthy = false;
      const holder = await holderRead;
      const by = cluster.kubeVip?.address ? `kube-vip ${holder ? `on ${holder}` : 'holds no lease'}` : cluster.apiEndpoint ? 'the site answers there' : cluster.servers.length > 1 ? "the first server's address; an apiEndpoint would outlive it" : "the server's address";
      io.out(`  api: ${api.url} ${api.answers ? 'answers' : `DOES NOT ANSWER (${api.detail})`} (${by})`);
      io.out('  nodes:');
      const read = await nodesRead;
      if ('error' in read) {
        io.out(`    ${read.error}`);
        healthy = false;
        await osRead.catch(() => undefined);
      } else {
        for (const spec of cluster.nodes) {
          const n = read.nodes.find((i) => i.name === spec.name);
          const state = spec.planned && !n ? 'planned' : !n ? 'MISSING' : n.ready ? 'Ready' : 'NotReady';
          if (state === 'MISSING' || state === 'NotReady') healthy = false;
          io.out(`    ${spec.name.padEnd(16)} ${(n ? n.role : spec.role).padEnd(6)} ${state.padEnd(8)} ${n?.version ?? ''}${n?.unschedulable ? ' (cordoned)' : ''}`.trimEnd());
        }
        for (const l of await osRead) io.out(l);
        io.out('  upgrades:');
        io.out(`    ${upgradeLine(checkUpgrade(cluster, read.nodes))}`);
        const plans = await plansRead;
        if (plans instanceof Error) io.out(`    ${plans.message}`);
        else if (plans.length === 0) io.out('    no upgrade Plans on the cluster yet (Flux applies them with system-upgrade-controller)');
        for (const p of plans instanceof Error ? [] : plans) {
          const where = p.complete ? 'complete' : p.applying.length > 0 ? `upgrading ${p.applying.join(', ')}` : 'waiting';
          io.out(`    Plan ${p.name.padEnd(12)} ${(p.version ?? '?').padEnd(16)} ${where}${p.message ? `: ${p.message}` : ''}`);
        }
      }
      io.out('  flux:');
      if (!flux) {
        // Not a fault: the cluster has not been handed over yet. The next step is named, and the exit code stays 0.
        io.out(`    Flux not installed yet: bramble flux -i ${opts.inventory} -c ${cluster.name} (or bramble apply) hands the cluster over`);
      } else {
        const objects = await objectsRead;
        if (!objects) {
          io.out("    Flux's resource types are not served yet");
          healthy = false;
        }
        for (const o of objects ?? []) {
          if (o.ready !== 'True') healthy = false;
          const state = o.ready === 'True' ? 'Ready' : o.stalled ? 'Failed' : o.ready === 'False' ? 'NotReady' : 'Progressing';
          io.out(`    ${refText(o).padEnd(48)} ${state.padEnd(11)} ${o.revision ?? '-'}${o.ready === 'True' ? '' : `  ${[o.reason, o.message].filter(Boolean).join(': ')}`}`);
        }
      }
      await tlsRead;
      for (const l of tls) io.out(l);
      const file = opts.kubeconfig ?? defaultKubeconfig();
      const contexts = await kubeconfigContexts(file);
      io.out(`  kubeconfig: ${contexts.includes(cluster.name) ? `context "${cluster.name}" in ${file}` : `no context "${cluster.name}" in ${file} (bramble install merges it there)`}`);
      io.out('  urls:');
      for (const [what, url] of platformUrls(cluster)) io.out(`    ${what.padEnd(18)} ${url}`);
      // Where Grafana's admin password is: the cluster's SOPS secret, or the one the chart made.
      io.out(
        `    ${'Grafana admin'.padEnd(18)} ${
          cluster.sops
            ? `bramble secret show -i ${opts.inventory} -c ${cluster.name} monitoring/grafana-admin admin-password`
            : "sudo k3s kubectl -n monitoring get secret kube-prometheus-stack-grafana -o jsonpath='{.data.admin-password}' | base64 -d (on a server)"
        }`,
      );
      return healthy;
    });
    return allHealthy ? 0 : 1;
  },
};

/** TLS and the way in: the private CA to trust (printed whole), the ACME account, the tunnel's names and the Receiver's URL. */
async function tlsLines(cluster: ClusterSpec, s: Session, io: Io, inventory: string): Promise<void> {
  const { readCaCertificate, receiverUrl } = await import('../k3s/exposure.ts');
  const tls = cluster.platform.tls;
  if (tls.issuer === 'letsencrypt') {
    io.out(`  tls: Let's Encrypt (DNS-01 through Cloudflare), ACME account ${tls.email}`);
  } else {
    const ca = await readCaCertificate(s);
    const { describeCa } = await import('../secrets/ca.ts');
    const d = 'pem' in ca ? describeCa(ca.pem) : undefined;
    if ('missing' in ca) io.out(`  tls: private CA, not on the cluster yet (${ca.missing})`);
    else if (!d) io.out('  tls: private CA, but its Secret holds no readable certificate');
    else {
      io.out(`  tls: private CA "${d.subject}", SHA-256 ${d.fingerprint}, until ${d.notAfter}; trust it on your devices (the PEM below, or bramble status -i ${inventory} -c ${cluster.name} | sed -n '/BEGIN CERT/,/END CERT/p' > ca.crt):`);
      // The whole certificate, unindented, so it can be cut out as a file.
      for (const l of ca.pem.trim().split('\n')) io.out(l);
    }
  }
  if (cluster.tunnel) {
    io.out(`  tunnel: ${cluster.tunnel.hostnames.join(', ')} published through Cloudflare`);
    if (cluster.tunnel.receiver) {
      const url = await receiverUrl(s, cluster);
      io.out(`    GitHub webhook: ${url ?? 'Flux has not made the Receiver yet'} (content type application/json, secret: bramble secret show -i ${inventory} -c ${cluster.name} flux-system/github-receiver token)`);
    }
  }
}

/** Each node's OS (boot, kernel, a pending reboot) and, where kured reboots, its lock: the lines to print. */
async function readOs(cluster: ClusterSpec, first: { node: NodeSpec; session: Session }, opts: Parameters<typeof nodeOptions>[0], io: Io): Promise<string[]> {
  const [{ readOsStates, osLine }, { readRebootLock, lockLine }] = await Promise.all([import('../nodes/os-state.ts'), import('../k3s/reboots.ts')]);
  const u = cluster.osUpdates;
  const [states, lock] = await Promise.all([readOsStates(cluster, await nodeOptions(opts, io), first), u ? readRebootLock(first.session) : undefined]);
  const out: string[] = [];
  out.push(`  os: ${u ? `${u.packages === 'all' ? 'all updates' : 'security updates'} by unattended-upgrades; kured reboots one node at a time, ${u.reboot.days.join(',')} ${u.reboot.start}-${u.reboot.end} ${u.reboot.timeZone}` : 'not kept patched by bramble (site.osUpdates is not set)'}`);
  for (const n of states) out.push(`    ${n.node.padEnd(16)} ${n.state ? osLine(n.state) : `unreachable: ${n.error}`}`);
  if (u && lock !== undefined) out.push(`    ${lockLine(lock, u.reboot.drainTimeout).line}`);
  return out;
}
