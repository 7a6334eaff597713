// `bramble init`: the inventory written (or edited) by answering questions.
// Answers go straight into a YAML document, so an existing file keeps its
// comments, its key order and every field the wizard does not ask about. Each
// answer is checked as it is typed, with the rules `bramble validate` uses,
// and the whole file is validated once more before it is written.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Document, isMap, parseDocument } from 'yaml';
import { DEFAULTS } from '../inventory/defaults.ts';
import { parseInventory } from '../inventory/load.ts';
import type { RawInventory } from '../inventory/schema.ts';
import { apiUrl } from '../k3s/config.ts';
import { packageRoot } from '../base/paths.ts';
import { writeAtomic } from '../base/files.ts';
import { ageKeysFile, keepInKeysFile } from '../secrets/keys.ts';
import { setSecretValue } from '../secrets/store.ts';
import { NOTIFY_REF, notifyKey, secretFile } from '../site/secrets.ts';
import type { Io } from '../base/io.ts';
import { inquirerAsk, WizardError, type Ask } from './ask.ts';
import { askClusters } from './clusters.ts';
import { Draft } from './draft.ts';
import type { Pending } from './secrets.ts';
import { askGit, askNas, askSite, askVlans } from './site.ts';
import { askOsUpdates } from './os.ts';

export { COMMON_VLANS } from './site.ts';
export { WizardError, type Ask } from './ask.ts';

function schemaLine(file: string): string {
  const schema = join(packageRoot(), 'docs', 'inventory.schema.json');
  return `# yaml-language-server: $schema=${relative(dirname(file), schema)}`;
}

export interface WizardOptions {
  /** A terminal is attached. */
  interactive: boolean;
  io: Io;
  /** How to ask; inquirer by default. */
  ask?: Ask;
  /** The Git work tree secrets are written into (default: .). */
  repo?: string;
  /** Run `plan` or `apply` on the written file. */
  next?: (command: 'plan' | 'apply', file: string) => Promise<number>;
}

export async function runWizard(file: string, o: WizardOptions): Promise<number> {
  const { io } = o;
  if (!o.interactive && !o.ask) {
    io.err(`bramble init asks questions and needs a terminal; none is attached. Without one, write the inventory by hand (start from inventory/homelab.yaml; docs/inventory.md describes every field), check it with "bramble validate -i FILE", then run "bramble apply -i FILE --yes".`);
    return 1;
  }
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const doc = existing === undefined ? new Document({}) : parseDocument(existing);
  if (doc.errors.length > 0) throw new WizardError(`${file} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it by hand or give init another file`);
  if (existing !== undefined && !isMap(doc.contents)) throw new WizardError(`${file} does not hold an inventory (a mapping at the top); give init another file`);
  const d = new Draft(doc, existing);
  const ask = o.ask ?? (await inquirerAsk());
  const pending: Pending = { repo: o.repo ?? '.', keys: new Map(), notify: new Map(), secrets: [] };
  io.out(existing === undefined ? `Writing a new inventory: ${file}` : `Editing ${file}: its current values are the defaults; comments and everything not asked about stay as they are.`);
  try {
    io.out('\nThe site');
    await askSite(d, ask, io);
    io.out("\nThe boards' OS");
    await askOsUpdates(d, ask);
    io.out('\nVLANs');
    await askVlans(d, ask, io);
    io.out('\nThe NAS');
    await askNas(d, ask);
    io.out('\nThe GitOps repository');
    await askGit(d, ask);
    io.out('\nClusters');
    await askClusters(d, ask, io, pending);
  } catch (e) {
    if ((e as Error).name === 'ExitPromptError' || (e as Error).name === 'AbortPromptError') {
      io.err(`stopped; nothing was written${existing !== undefined ? ` and ${file} is as it was` : ''}`);
      return 130;
    }
    throw e;
  }

  let text = d.text();
  if (!text.startsWith('# yaml-language-server:')) text = `${schemaLine(file)}\n${text.startsWith('#') ? '' : '\n'}${text}`;
  let inv: ReturnType<typeof parseInventory>;
  try {
    inv = parseInventory(text, file);
  } catch (e) {
    io.err(`the answers do not make a valid inventory; nothing was written:\n${(e as Error).message}`);
    return 1;
  }
  // Where notification secrets go: the same default work tree render, plan and apply use (git.ts defaultWorkTree).
  if (o.repo === undefined) pending.repo = await (await import('../git/repo.ts')).defaultWorkTree(file, inv.git.url);
  io.out('\nSummary');
  const raw = parseDocument(text).toJS() as RawInventory;
  io.out(`  site ${raw.site.name} (${raw.site.domain ?? DEFAULTS.domain}), ${raw.vlans.length} VLAN(s), Git ${raw.git.url} (${raw.git.branch ?? DEFAULTS.git.branch})`);
  if (raw.nas) io.out(`  NAS ${raw.nas.name} at ${raw.nas.address}: ${raw.nas.nfs.exports.map((e) => `${e.path} as ${e.storageClass}`).join(', ')}`);
  for (const c of raw.clusters) {
    io.out(`  cluster ${c.name} on VLAN ${c.vlan}: ${c.nodes.map((n) => `${n.name} (${n.hardware} ${n.role} ${n.address}${n.planned ? ', planned' : ''})`).join(', ')}`);
    const spec = inv.clusters.find((x) => x.name === c.name);
    if (spec) io.out(`    API at ${apiUrl(spec)}${spec.kubeVip?.address ? ' (held by kube-vip)' : ''}; Traefik at ${spec.platform.traefik.address ?? 'every node\'s address'}; dashboards open to ${spec.platform.traefik.allowFrom.join(', ')}`);
    if (!c.notifications) io.out('    notifications: none');
    if (c.notifications?.type) io.out(`    notifications: ${c.notifications.type}${pending.notify.has(c.name) ? `, its ${notifyKey(c.notifications.type)} to be encrypted into ${join(pending.repo, secretFile(c, NOTIFY_REF))}` : ''}`);
    if (c.notifications?.email) io.out(`    alerts by e-mail to ${c.notifications.email.to.join(', ')} through ${c.notifications.email.smarthost}`);
    if (spec) io.out(`    TLS: ${spec.platform.tls.issuer === 'letsencrypt' ? `Let's Encrypt (DNS-01 through Cloudflare, account ${spec.platform.tls.email})` : 'a private CA of its own (bramble status prints it, to trust on your devices)'}${spec.platform.scanning ? '; Trivy scans its workloads' : ''}`);
    if (spec?.tunnel) io.out(`    published through a Cloudflare Tunnel: ${spec.tunnel.hostnames.join(', ')}${spec.tunnel.receiver ? `; Flux's webhook Receiver at ${spec.tunnel.receiver}` : ''}`);
    for (const x of pending.secrets.filter((x) => x.cluster === c.name)) io.out(`    ${x.ref.namespace}/${x.ref.name} ${x.key} to be encrypted into ${join(pending.repo, secretFile(c, x.ref))}`);
    if (pending.keys.has(c.name)) io.out(`    a new age key: private key into ${ageKeysFile()}, public key ${pending.keys.get(c.name)!.recipient}`);
  }
  if (existing === text && pending.notify.size === 0 && pending.secrets.length === 0) {
    io.out(`${file} is unchanged`);
  } else {
    if (!(await ask.yes(existing === text ? `Write the secrets (${file} is unchanged)?` : `Write ${file}?`, true))) {
      io.err('not written');
      return 1;
    }
    // The work tree the secrets go into, as publish would make it: before anything is written, so a remote that cannot be read stops here.
    if ((pending.notify.size > 0 || pending.secrets.length > 0) && !existsSync(pending.repo)) {
      const { ensureRepo } = await import('../git/repo.ts');
      io.out(`${(await ensureRepo(pending.repo, inv.git.url, inv.git.branch)) === 'cloned' ? 'cloned' : 'created'} ${pending.repo} for ${inv.git.url}`);
    }
    // The private key first: an inventory naming a key nobody holds would lock its secrets away.
    for (const [name, key] of pending.keys) io.out(`cluster ${name}: age key ${key.recipient}; private key in ${await keepInKeysFile(key, `bramble: cluster ${name} of site ${inv.site.name}`)}`);
    if (existing !== text) {
      await writeAtomic(file, text, 0o644);
      io.out(`wrote ${file}`);
    }
    for (const [name, n] of pending.notify) {
      const r = await setSecretValue(pending.repo, inv.clusters.find((c) => c.name === name)!, NOTIFY_REF, n.key, n.value);
      io.out(`${join(pending.repo, r.file)}: ${n.key} ${r.action === 'unchanged' ? 'unchanged' : 'set, encrypted'}; bramble apply sends it`);
    }
    for (const x of pending.secrets) {
      const r = await setSecretValue(pending.repo, inv.clusters.find((c) => c.name === x.cluster)!, x.ref, x.key, x.value);
      io.out(`${join(pending.repo, r.file)}: ${x.key} ${r.action === 'unchanged' ? 'unchanged' : 'set, encrypted'}; bramble apply sends it`);
    }
  }
  if (o.next && (await ask.yes('Run "bramble plan" now (it reads the nodes and changes nothing)?', false))) {
    const code = await o.next('plan', file);
    if (code !== 0) return code;
    if (await ask.yes('Run "bramble apply" now?', false)) return o.next('apply', file);
  }
  return 0;
}
