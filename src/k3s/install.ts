// Installing k3s on a cluster's nodes: the first server, then the other
// servers one at a time (concurrent etcd joins fail), then the agents in
// parallel. Each node: prepare, write config and token, install or restart
// only when something differs, wait until it is Ready. Preparing is the
// node's own business, so it runs on every node at once; only a prepare that
// reboots waits for the node's turn, so that servers go down one at a time.
// An agent's token and config are written while the servers join; its turn
// is then the install alone.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ClusterSpec, NodeSpec } from '../inventory/model.ts';
import { fetchKubeconfig } from './kubeconfig.ts';
import type { NodeLink } from '../nodes/connect.ts';
import { prepareNode, type Prepared } from '../nodes/prepare.ts';
import { shQuote, SshError, type Session } from '../ssh/session.ts';
import { readApiNodes } from './cluster.ts';
import { SharedNodeReads, waitApiEndpoint, waitReady } from './ready.ts';
import { ahead, pool } from '../base/wait.ts';
import { checkUpgrade, type UpgradeCheck } from './upgrade.ts';
import { K3S_PROBE, k3sState, missingPieces, onlyStopped, parseFacts, type K3sState } from '../nodes/k3s-state.ts';
import { changedSettings, CONFIG_FILE, firstServer, k3sConfig, SERVER_TOKEN, TOKEN_FILE, unitName } from './config.ts';
import { KUBE_VIP_MANIFEST, placeKubeVip } from './kube-vip.ts';
import { ensureFile } from './files.ts';
import { failed, skipped, type ClusterOutcome, type NodeOutcome } from './outcome.ts';

export interface InstallOptions {
  readyTimeoutMs: number;
  rebootTimeoutMs: number;
  /** How many agents join at once. */
  agentConcurrency: number;
  /** Where to merge the cluster's kubeconfig; undefined to skip. */
  kubeconfig?: string;
  /** Look only: report what each node would get, change nothing (for `bramble plan`). */
  dryRun?: boolean;
  /** A line about one node, for progress. */
  note: (node: string, line: string) => void;
  /** A node's turn has come (progress), and later how it ended. */
  onNode?: (node: string, event: 'start' | NodeOutcome) => void;
  /**
   * Per node, the output of one command that carried K3S_PROBE and prepare's
   * look (plan's readNodeLooks, made for preflight anyway): a dry run makes
   * neither again.
   */
  looks?: Map<string, Promise<string>>;
}

/** What of k3s is on the node (see state.ts). */
export async function inspectNode(s: Session, probe?: Promise<string>): Promise<K3sState> {
  return k3sState(parseFacts(await (probe ?? probeK3s(s))));
}

/** K3S_PROBE's output on one node. */
async function probeK3s(s: Session): Promise<string> {
  return (await s.exec(K3S_PROBE, { step: 'inspect k3s' })).stdout;
}

/** Where an air-gapped install's script is uploaded to. */
export const AIRGAP_DIR = '/usr/local/lib/bramble';

async function runInstallScript(s: Session, cluster: ClusterSpec, node: NodeSpec, completing: boolean): Promise<void> {
  // Completing a cut install: the script's files may already be as it would
  // write them, and then it would skip the start; this makes it start k3s.
  const env = `INSTALL_K3S_VERSION=${shQuote(cluster.k3sVersion)} INSTALL_K3S_EXEC=${node.role}${completing ? ' INSTALL_K3S_FORCE_RESTART=true' : ''}`;
  const airgap = cluster.k3sInstall.airgap;
  if (airgap) {
    // Nodes without internet: the binary and the script come from this machine.
    await s.writeFile('/usr/local/bin/k3s', await readFile(airgap.binary), { sudo: true, mode: 0o755, step: 'upload k3s binary' });
    await s.writeFile(`${AIRGAP_DIR}/k3s-install.sh`, await readFile(airgap.installScript), { sudo: true, mode: 0o755, step: 'upload install script' });
    await s.exec(`INSTALL_K3S_SKIP_DOWNLOAD=true ${env} sh ${AIRGAP_DIR}/k3s-install.sh`, { sudo: true, step: 'install k3s (air-gapped)', timeoutMs: 15 * 60_000 });
    return;
  }
  const url = shQuote(cluster.k3sInstall.scriptUrl);
  await s.exec(`d=$(mktemp -d) && curl -sfL --retry 3 ${url} -o "$d/install.sh" && ${env} sh "$d/install.sh"; rc=$?; rm -rf "$d"; exit $rc`, {
    sudo: true,
    step: 'install k3s',
    timeoutMs: 15 * 60_000,
  });
}

/** The k3s files a node's turn reads in one command; the first server's read adds the token k3s made, for chooseToken. */
function k3sFiles(node: NodeSpec, first = false): string[] {
  return [TOKEN_FILE, CONFIG_FILE, ...(node.role === 'server' ? [KUBE_VIP_MANIFEST] : []), ...(first ? [SERVER_TOKEN] : [])];
}

/**
 * The first server's token, from its k3sFiles(first) read (bramble's token
 * file first, the one k3s made last): what bramble gave it before (re-runs),
 * else the one a cluster installed without bramble already has, else a new one.
 */
async function chooseToken(files: Promise<Array<string | undefined>>): Promise<{ token: string; server?: string }> {
  const got = await files;
  const [ours, theirs] = [got[0], got.at(-1)].map((t) => t?.trim());
  return { token: ours || theirs || randomBytes(32).toString('hex'), server: theirs || undefined };
}

/** A node's k3s files and what of k3s it has: two commands. */
interface K3sReads {
  token: Promise<string | undefined>;
  config: Promise<string | undefined>;
  kubeVip?: Promise<string | undefined>;
  state: Promise<K3sState>;
}

/** What the survey (a dry run of the node) found: prepare's part, taken before the k3s part adds to it, and its k3s reads. */
type Survey = Pick<Prepared, 'changes' | 'disruptive' | 'look'> & { k3s?: K3sReads };

/** How a node's prepare is shared with its turn: one already under way, and a copy of what it found. */
interface PrepareLink {
  given?: Promise<Prepared>;
  seen?: (p: Survey) => void;
  /** The survey's k3s reads, for a turn that follows the survey with nothing changed since: not read again. */
  k3s?: K3sReads;
  /** The node's k3sFiles() already asked for (the first server's survey shares the token's read): not read again. */
  files?: Promise<Array<string | undefined>>;
  /** Called when the turn's long wait begins (install, restart or Ready wait): other nodes' lighter work may run then. */
  waiting?: () => void;
}

/** A node made ready for its turn: prepared, read, its files written. What is left is the install, restart or Ready wait. */
interface Staged {
  node: NodeSpec;
  s: Session;
  outcome: NodeOutcome;
  state: K3sState;
  configBefore: string | null | false;
  tokenBefore: string | null | false;
  prepared: Prepared;
}

/** `token` and `upgrade` may still be read while the node's own reads go out: each is awaited where it is first needed. */
async function installNode(link: NodeLink, cluster: ClusterSpec, token: string | Promise<string>, first: SharedNodeReads, o: InstallOptions, upgradeRead: UpgradeCheck | undefined | Promise<UpgradeCheck | undefined>, prep: PrepareLink = {}): Promise<NodeOutcome> {
  o.onNode?.(link.node.name, 'start');
  return finishNode(await stageNode(link, cluster, token, o, upgradeRead, prep), cluster, first, o, prep.waiting);
}

/**
 * The part of a node's turn that starts nothing: prepare, the reads, and the
 * token and config files, each written only when it differs. An agent's is
 * done while the servers join (installCluster), so its turn is the install alone.
 */
async function stageNode(link: NodeLink, cluster: ClusterSpec, token: string | Promise<string>, o: InstallOptions, upgradeRead: UpgradeCheck | undefined | Promise<UpgradeCheck | undefined>, prep: PrepareLink = {}): Promise<Staged> {
  const node = link.node;
  // The node's k3s files are read in one command; each is written below only when it differs.
  const readK3s = (s: Session, given?: Promise<Array<string | undefined>>): K3sReads => {
    const files = ahead(given ?? s.readFiles(k3sFiles(node), { sudo: true, step: 'read the k3s files' }));
    const nth = (i: number) => ahead(files.then((f) => f[i]));
    return { token: nth(0), config: nth(1), kubeVip: node.role === 'server' ? nth(2) : undefined, state: ahead(inspectNode(s, o.dryRun ? o.looks?.get(node.name) : undefined)) };
  };
  // Only a reboot in prepare (a Pi's memory cgroup) changes what these reads find: a dry run reboots
  // nothing, so it reads k3s beside prepare's looks; a real run reads after them, or takes the survey's.
  const early = o.dryRun ? readK3s(link.session, prep.files) : prep.k3s;
  const prepared = await (prep.given ?? prepareNode(link, { ...prepareOptions(cluster, o), look: o.dryRun ? o.looks?.get(node.name) : undefined }));
  prep.seen?.({ changes: [...prepared.changes], disruptive: [...prepared.disruptive], look: prepared.look, k3s: early });
  const outcome: NodeOutcome = { node: node.name, role: node.role, status: 'unchanged', changes: prepared.changes, disruptive: prepared.disruptive };
  // After prepare: a reboot there gave the node a new session.
  const s = link.session;
  const reads = early ?? readK3s(s);
  const state = await reads.state;
  if (state.install === 'complete' && state.version !== cluster.k3sVersion) {
    // The Plans in Git change versions; bramble only checks that the change is one the cluster can take.
    if (!(await upgradeRead)) throw new SshError(node.name, 'k3s upgrade', `k3s ${state.version} is installed and the inventory says ${cluster.k3sVersion}, but the cluster's API does not answer, so the upgrade cannot be checked; bring the first server back and run again`);
    outcome.upgrade = `${state.version} -> ${cluster.k3sVersion}, by the ${node.role === 'server' ? 'k3s-server' : 'k3s-agent'} Plan once published`;
  }
  if (state.unit && state.unit !== unitName(node)) {
    throw new SshError(node.name, 'k3s role', `k3s is installed here as ${state.unit === 'k3s' ? 'a server' : 'an agent'} but the inventory says ${node.role}; reset the node first (bramble reset)`);
  }
  const dry = { dryRun: o.dryRun };
  // The files are independent of each other: written side by side, each only when it differs.
  const [tokenBefore, configBefore, kubeVip] = await Promise.all([
    ensureFile(s, TOKEN_FILE, (await token) + '\n', 0o600, 'write token', { ...dry, secret: true, read: reads.token }),
    ensureFile(s, CONFIG_FILE, k3sConfig(cluster, node), 0o600, 'write config', { ...dry, read: reads.config }),
    node.role === 'server' ? placeKubeVip(s, cluster, node.name === firstServer(cluster).name, o.dryRun, reads.kubeVip) : [],
  ]);
  const verb = o.dryRun ? 'write' : 'wrote';
  outcome.changes.push(...kubeVip);
  if (configBefore !== false) outcome.changes.push(configBefore === null ? `${verb} ${CONFIG_FILE}` : `${verb} ${CONFIG_FILE} (${changedSettings(configBefore, k3sConfig(cluster, node)).join(', ')})`);
  if (tokenBefore !== false) outcome.changes.push(`${verb} ${TOKEN_FILE}`);
  return { node, s, outcome, state, configBefore, tokenBefore, prepared };
}

/** The rest of a node's turn: install, start or restart k3s where the staged look says so, then wait until it is Ready. */
async function finishNode(st: Staged, cluster: ClusterSpec, first: SharedNodeReads, o: InstallOptions, waiting?: () => void): Promise<NodeOutcome> {
  const { node, s, outcome, state, configBefore, tokenBefore, prepared } = st;
  const unit = unitName(node);
  if (onlyStopped(state)) {
    // Installed and stopped or disabled: the script would change nothing and skip the start, so start the unit.
    outcome.status = 'installed';
    outcome.changes.push(`${o.dryRun ? 'enable and start' : 'enabled and started'} ${unit}: ${missingPieces(state)}`);
    if (o.dryRun) return outcome;
    o.note(node.name, `${missingPieces(state)}: enabling and starting it`);
    waiting?.();
    await s.exec(`systemctl enable ${unit} && systemctl restart ${unit}`, { sudo: true, step: `start ${unit}` });
  } else if (state.install !== 'complete') {
    // A partial install is completed the way it was begun: the install script, run again.
    outcome.status = 'installed';
    if (state.install === 'partial') outcome.changes.push(`${o.dryRun ? 'complete' : 'completed'} the install: ${missingPieces(state)}`);
    if (o.dryRun) return outcome;
    o.note(node.name, `${state.install === 'partial' ? 'completing the install of' : 'installing'} k3s ${cluster.k3sVersion} as ${node.role}`);
    waiting?.();
    await runInstallScript(s, cluster, node, state.install === 'partial');
  } else if (configBefore !== false || tokenBefore !== false) {
    // The install script restarts k3s only for binary or unit changes; a config change needs this.
    outcome.status = 'restarted';
    outcome.disruptive!.push(`restart ${unitName(node)}`);
    if (o.dryRun) return outcome;
    o.note(node.name, `configuration changed, restarting ${unitName(node)}`);
    waiting?.();
    await s.exec(`systemctl restart ${unitName(node)}`, { sudo: true, step: `restart ${unitName(node)}` });
  }
  if (o.dryRun) return outcome;
  // Every node, changed or not: a node is done only when the API server lists it Ready.
  const isFirst = node.name === firstServer(cluster).name;
  waiting?.();
  await waitReady(isFirst ? s : first, node.name, o.readyTimeoutMs, outcome.status === 'unchanged' ? () => reRegister(s, cluster.name, node, outcome) : undefined);
  // Nodes join through the API address, so it has to answer before any of them tries.
  if (isFirst && cluster.apiEndpoint) await waitApiEndpoint(s, cluster, o.readyTimeoutMs);
  await prepared.settle?.();
  return outcome;
}

/**
 * A running node the API no longer lists (`kubectl delete node`): an agent's
 * k3s registers it again when it restarts, so do that. A server is not
 * restarted behind etcd's back: its member went with the Node, and joining it
 * again is `bramble node replace`.
 */
async function reRegister(s: Session, cluster: string, node: NodeSpec, outcome: NodeOutcome): Promise<string> {
  if (node.role !== 'agent') return `; the API has no Node ${node.name} although its k3s runs: its etcd member was removed with it; join it again with: bramble node replace -i INVENTORY -c ${cluster} ${node.name}`;
  const r = await s.exec('systemctl restart k3s-agent', { sudo: true, check: false, step: 'restart k3s-agent' });
  outcome.status = 'restarted';
  outcome.changes.push('restarted k3s-agent: the API had no Node for it (deleted while its k3s ran), and k3s registers it again when it starts');
  return r.code === 0 ? '' : `; restarting k3s-agent to register it again failed: run sudo systemctl restart k3s-agent on ${node.name}`;
}

function prepareOptions(cluster: ClusterSpec, o: InstallOptions) {
  return { rebootTimeoutMs: o.rebootTimeoutMs, dryRun: o.dryRun, note: o.note, osUpdates: cluster.osUpdates };
}

/**
 * Install or reconcile k3s on every reachable node of the cluster. `links`
 * holds the nodes that are connected; `unreachable` the ones that are not.
 */
export async function installCluster(cluster: ClusterSpec, links: NodeLink[], unreachable: NodeOutcome[], o: InstallOptions): Promise<ClusterOutcome> {
  const byName = new Map(links.map((l) => [l.node.name, l]));
  const outcomes = new Map<string, NodeOutcome>();
  const record = (r: NodeOutcome) => {
    outcomes.set(r.node, r);
    o.onNode?.(r.node, r);
  };
  for (const u of unreachable) record(u);
  const firstSpec = firstServer(cluster);
  const firstLink = byName.get(firstSpec.name);
  const done = (): ClusterOutcome => {
    const nodes = cluster.active.map((n) => outcomes.get(n.name) ?? skipped(n, 'not reached'));
    return { cluster: cluster.name, nodes, ok: nodes.every((n) => n.status !== 'failed' && n.status !== 'skipped') };
  };

  if (!firstLink) {
    for (const n of cluster.active) if (!outcomes.has(n.name)) record(skipped(n, `the first server ${firstSpec.name} is not reachable`));
    return done();
  }
  // The API's node list, the cluster's token and every node are read at once:
  // a dry run is only reads, and a real run needs its join order only for the
  // nodes that change. A node that would change nothing and that the API
  // listed Ready is done when read.
  // Ready waits ask the first server for its node list; agents joining side by side share those reads.
  const readyReads = new SharedNodeReads(() => firstLink.session);
  const apiRead = ahead(readApiNodes(firstLink.session, 'check the k3s version').catch(() => undefined));
  const upgradeRead = ahead(apiRead.then((api) => (api && !('error' in api) ? checkUpgrade(cluster, api.nodes) : undefined)));
  // The first server's k3s files and the token k3s made there, in one read shared by its survey and the token's choice.
  const firstFiles = ahead(firstLink.session.readFiles(k3sFiles(firstSpec, true), { sudo: true, step: 'read the k3s files' }));
  const tokenRead = ahead(chooseToken(firstFiles).catch(() => ({ token: randomBytes(32).toString('hex'), server: undefined })));
  const others = [...cluster.servers.slice(1), ...cluster.agents].filter((n) => !outcomes.has(n.name));
  const survey = new Map<string, NodeOutcome>();
  const surveyPrep = new Map<string, Survey>();
  const quiet = { ...o, dryRun: true, note: () => undefined, onNode: undefined };
  const surveyed = Promise.all(
    [firstSpec, ...others].map(async (n) => {
      // Others join with the full token, which pins the cluster's CA.
      const tokenFor = tokenRead.then((c) => (n === firstSpec ? c.token : (c.server ?? c.token)));
      const seen = (p: Survey) => surveyPrep.set(n.name, p);
      const files = n === firstSpec ? firstFiles : undefined;
      survey.set(n.name, await installNode(byName.get(n.name)!, cluster, tokenFor, readyReads, quiet, upgradeRead, { seen, files }).catch((e: unknown) => failed(n, e)));
    }),
  );
  const [api, upgrade, chosen] = await Promise.all([apiRead, upgradeRead, tokenRead, surveyed]);
  // A version change the cluster cannot take stops everything: nothing was changed.
  if (upgrade?.problem) {
    for (const n of cluster.active) if (!outcomes.has(n.name)) record({ node: n.name, role: n.role, status: 'failed', changes: [], step: 'k3s upgrade', detail: upgrade.problem });
    return { ...done(), upgrade };
  }
  const token = chosen.token;
  const joinToken = chosen.server ?? token;
  const readyInApi = new Set(api && !('error' in api) ? api.nodes.filter((n) => n.ready).map((n) => n.name) : []);
  const settled = (n: NodeSpec) => {
    const r = survey.get(n.name)!;
    return r.status === 'unchanged' && r.changes.length === 0 && readyInApi.has(n.name);
  };
  // Every node whose prepare reboots nothing is prepared now, all at once.
  // A node whose k3s was done when read is then done: it needs no turn.
  const early = new Map<string, Promise<Prepared>>();
  const quick = new Map<string, Promise<NodeOutcome>>();
  for (const n of o.dryRun ? [] : [firstSpec, ...others]) {
    const seen = surveyPrep.get(n.name);
    if (!seen || seen.disruptive.length > 0 || settled(n)) continue;
    const r = survey.get(n.name)!;
    const k3sDone = r.status === 'unchanged' && r.changes.length === seen.changes.length && readyInApi.has(n.name);
    // The survey's look, a moment old, with nothing changed since: the node is not read twice.
    const prepared = ahead(prepareNode(byName.get(n.name)!, { ...prepareOptions(cluster, o), seen: seen.look }));
    early.set(n.name, prepared);
    if (k3sDone) {
      quick.set(n.name, ahead(prepared.then(async (p) => {
        await p.settle?.();
        return { ...r, changes: p.changes, disruptive: p.disruptive };
      })).catch((e: unknown) => failed(n, e)));
    }
  }
  /** A node left out: what its early prepare changed is still said. */
  const skip = async (n: NodeSpec, why: string): Promise<NodeOutcome> => {
    const p = await early.get(n.name)?.catch(() => undefined);
    await p?.settle?.().catch(() => undefined);
    return { ...skipped(n, why), changes: p?.changes ?? [] };
  };
  // The first server is installed now unless it was done when read.
  const firstRuns = !o.dryRun && !settled(firstSpec) && !quick.has(firstSpec.name);
  // A node that joins does so through the API address: when the first
  // server was done when read, its address is checked before the first join.
  // One check, awaited by every node that joins (agents join side by side).
  let addressCheck: Promise<void> | undefined = firstRuns || o.dryRun || !cluster.apiEndpoint ? Promise.resolve() : undefined;
  /** Agents whose files were written while the servers joined. */
  const staged = new Map<string, Promise<Staged>>();
  /** A node's turn: in a dry run, or for a node done when read, what the read found; else its install (a failure is its outcome). */
  const turn = async (n: NodeSpec, tokenFor: string, waiting?: () => void): Promise<NodeOutcome> => {
    if (o.dryRun || settled(n)) {
      o.onNode?.(n.name, 'start');
      return survey.get(n.name)!;
    }
    const done = quick.get(n.name);
    if (done) {
      o.onNode?.(n.name, 'start');
      return done;
    }
    try {
      await (addressCheck ??= waitApiEndpoint(firstLink.session, cluster, o.readyTimeoutMs));
      const ready = staged.get(n.name);
      // The first server's turn follows the survey and a prepare that reboots nothing: the survey's k3s reads still hold.
      const k3s = n === firstSpec && early.has(n.name) && survey.get(n.name)!.status !== 'failed' ? surveyPrep.get(n.name)?.k3s : undefined;
      if (!ready) return await installNode(byName.get(n.name)!, cluster, tokenFor, readyReads, o, upgrade, { given: early.get(n.name), waiting, k3s });
      o.onNode?.(n.name, 'start');
      return await finishNode(await ready, cluster, readyReads, o);
    } catch (e) {
      return failed(n, e);
    }
  };

  const first = await turn(firstSpec, token);
  record(first);
  if (first.status === 'failed') {
    for (const n of cluster.active) if (!outcomes.has(n.name)) record(await skip(n, `the first server ${firstSpec.name} failed`));
    return { ...done(), upgrade };
  }
  // A first server installed just now made the cluster's token: read it.
  const joinWith = firstRuns ? (await firstLink.session.readFile(SERVER_TOKEN, { sudo: true, step: 'read the join token' }))?.trim() || token : joinToken;
  // Every agent prepared early gets its token and config while a server
  // joins, once that server's install is under way (not beside its own
  // writes): the agents' turn is then only their installs. Nothing starts
  // k3s before that turn, and an agent's files are its own.
  const stageAgents = () => {
    for (const a of cluster.agents) {
      // `early` holds only nodes reached and not done when read, whose prepare reboots nothing.
      if (staged.has(a.name) || quick.has(a.name) || !early.has(a.name)) continue;
      staged.set(a.name, ahead(stageNode(byName.get(a.name)!, cluster, joinWith, o, upgrade, { given: early.get(a.name) })));
    }
  };

  let serverFailed: string | undefined;
  for (const server of cluster.servers.slice(1)) {
    if (outcomes.has(server.name)) continue;
    if (serverFailed) {
      record(await skip(server, `server ${serverFailed} failed to join; servers join one at a time`));
      continue;
    }
    const r = await turn(server, joinWith, stageAgents);
    record(r);
    if (r.status === 'failed') serverFailed = server.name;
  }
  const agents = cluster.agents.filter((a) => !outcomes.has(a.name));
  await pool(agents, o.agentConcurrency, (a) => turn(a, joinWith).then(record));

  const result = { ...done(), upgrade };
  if (o.kubeconfig && !o.dryRun) result.kubeconfig = await fetchKubeconfig(cluster, firstLink.session, o.kubeconfig);
  return result;
}
