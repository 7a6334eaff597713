// Inventory in, the Flux repository's files out: rendered, parsed back,
// validated, and only then handed to the tree writer.
import { stringify } from 'yaml';
import { selectClusters, type Inventory } from '../inventory/model.ts';
import { ENCRYPTED_REGEX } from '../site/secrets.ts';
import { budgetLine, memoryBudget, type Budget } from './budget.ts';
import { clusterContext, CLUSTERS_DIR } from './context.ts';
import { drainProblems } from './drain.ts';
import { RENOVATE_CONFIG, renovateText } from './renovate.ts';
import { loadTemplates, type Template } from './templates.ts';
import { withHeader, type DesiredFile } from './tree.ts';
import { checkReferences, parseRendered, RenderError, validateObjects, type RenderedDoc } from './validate.ts';

export { selectClusters };

export interface RenderOutput {
  /** Generated files (with header) and seeds, repository-relative. */
  files: DesiredFile[];
  /** The cluster folders this render owns, e.g. clusters/staging. */
  scopes: string[];
  /** Every parsed document of the generated files. */
  docs: RenderedDoc[];
  /** Each rendered cluster's memory budget against its smallest node. */
  budgets: Budget[];
}

/** Tidy template output: no leading separator or blank lines, one final newline. */
function tidy(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/\s+$/, ''));
  while (lines.length > 0 && (lines[0] === '' || lines[0] === '---')) lines.shift();
  const out: string[] = [];
  for (const l of lines) if (!(l === '' && out[out.length - 1] === '')) out.push(l);
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** True when a YAML text holds no document, only comments and separators. */
function isEmptyYaml(text: string): boolean {
  return text.split('\n').every((l) => l.trim() === '' || l.trim() === '---' || l.trimStart().startsWith('#'));
}

function runTemplate(t: Template, context: object, cluster: string): string {
  try {
    return tidy(t.run(context));
  } catch (e) {
    throw new RenderError([`templates ${t.path}.hbs for cluster ${cluster}: ${(e as Error).message.split('\n')[0]}`]);
  }
}

/** The sops CLI's configuration at the repository's root, for owners who use sops itself. */
export const SOPS_CONFIG = '.sops.yaml';

/**
 * One creation rule per cluster that keeps secrets, from every cluster of the
 * inventory (not only those being rendered): sops picks the first rule whose
 * path_regex matches a file's path relative to this file.
 */
function sopsCreationRules(inv: Inventory): string | undefined {
  const rules = inv.clusters
    .filter((c) => c.sops)
    .map((c) => ({ path_regex: `^${CLUSTERS_DIR}/${c.name}/.*\\.ya?ml$`, encrypted_regex: ENCRYPTED_REGEX, mac_only_encrypted: true, age: c.sops!.recipient }));
  if (rules.length === 0) return undefined;
  return `# sops encrypts a file under a cluster's folder to that cluster's age key\n# (bramble secret set does the same without sops).\n${stringify({ creation_rules: rules }, { lineWidth: 0 })}`;
}

export async function renderInventory(inv: Inventory, opts: { clusters?: string[]; templatesDir?: string; schemas?: boolean } = {}): Promise<RenderOutput> {
  const templates = await loadTemplates(opts.templatesDir);
  const clusters = selectClusters(inv, opts.clusters);
  const files: DesiredFile[] = [];
  const docs: RenderedDoc[] = [];
  const budgets: Budget[] = [];
  const problems: string[] = [];

  for (const cluster of clusters) {
    const context = clusterContext(inv, cluster);
    const bodies = new Map<string, string>();
    for (const t of templates.cluster) {
      const body = runTemplate(t, context, cluster.name);
      if (body === '' || isEmptyYaml(body)) continue;
      const path = `${context.path}/${t.path}`;
      bodies.set(path, body);
      files.push({ path, content: withHeader(body, `site ${inv.site.name}, cluster ${cluster.name}`) });
    }
    const clusterDocs = [...bodies].flatMap(([path, body]) => parseRendered(path, body, problems));
    // validate's budget needs the documents, not their schemas: it skips loading them.
    if (opts.schemas !== false) await validateObjects(clusterDocs, problems);
    // Seeds count as present for reference checks (apps/kustomization.yaml).
    const seedDocs: RenderedDoc[] = [];
    for (const t of templates.seed) {
      const path = `${context.path}/${t.path}`;
      const body = runTemplate(t, context, cluster.name);
      // A seed whose template has nothing for this cluster is not written.
      if (body === '') continue;
      files.push({ path, content: body, seed: true });
      if (path.endsWith('.yaml')) {
        bodies.set(path, body);
        seedDocs.push(...parseRendered(path, body, problems));
      }
    }
    checkReferences(bodies, [...clusterDocs, ...seedDocs], problems);
    problems.push(...drainProblems(clusterDocs));
    const budget = memoryBudget(cluster, clusterDocs);
    if (!budget.fits) problems.push(`${budgetLine(budget)}: the platform does not fit; give the node more memory (memoryGiB), or turn parts off (platform.scanning) or down (platform.monitoring.prometheus.memory)`);
    budgets.push(budget);
    docs.push(...clusterDocs);
  }

  const sopsConfig = sopsCreationRules(inv);
  if (sopsConfig) files.push({ path: SOPS_CONFIG, content: withHeader(sopsConfig, `site ${inv.site.name}`) });
  const renovate = renovateText(inv);
  if (renovate) files.push({ path: RENOVATE_CONFIG, content: withHeader(renovate, `site ${inv.site.name}`, '//') });

  if (problems.length > 0) throw new RenderError(problems);
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { files, scopes: clusters.map((c) => `${CLUSTERS_DIR}/${c.name}`), docs, budgets };
}
