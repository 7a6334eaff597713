// Zero-downtime drains, checked on what is rendered: a PodDisruptionBudget
// that leaves its workload nothing to evict blocks every drain (an upgrade
// Plan, a reboot) for good, and one that selects nothing protects nothing.
import type { RenderedDoc } from './validate.ts';

interface Workload {
  kind: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } } };
}

/** Problems, one per budget that cannot work, naming the file. */
export function drainProblems(docs: RenderedDoc[]): string[] {
  const problems: string[] = [];
  const workloads = docs.filter((d) => ['Deployment', 'StatefulSet'].includes(d.object.kind));
  for (const d of docs.filter((x) => x.object.kind === 'PodDisruptionBudget')) {
    const spec = d.object.spec as { minAvailable?: number | string; maxUnavailable?: number | string; selector?: { matchLabels?: Record<string, string> } };
    const ns = d.object.metadata?.namespace;
    const want = spec.selector?.matchLabels ?? {};
    const targets = workloads.filter((w) => {
      const o = w.object as Workload;
      const labels = o.spec?.template?.metadata?.labels ?? {};
      return o.metadata?.namespace === ns && Object.entries(want).every(([k, v]) => labels[k] === v);
    });
    const name = `${d.file}: PodDisruptionBudget ${ns}/${d.object.metadata?.name}`;
    if (targets.length === 0) {
      problems.push(`${name} selects no workload rendered beside it`);
      continue;
    }
    for (const t of targets) {
      const replicas = (t.object as Workload).spec?.replicas ?? 1;
      const blocked = typeof spec.minAvailable === 'number' ? spec.minAvailable >= replicas : spec.maxUnavailable === 0 || spec.maxUnavailable === '0%';
      if (blocked) problems.push(`${name} leaves ${t.object.kind} ${t.object.metadata?.name} (${replicas} replica(s)) nothing a drain may evict: every drain of its node would wait for ever`);
    }
  }
  return problems;
}
