// Shared test plumbing: temporary folders, running the built CLI, paths.
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const above = dirname(dirname(fileURLToPath(import.meta.url)));
/** The repository root, from test/ or (for the benchmarks) dist/test/. */
export const ROOT = basename(above) === 'dist' ? dirname(above) : above;
/** The built command, as package.json's bin installs it: the bundle scripts/bundle.ts makes. */
export const CLI = join(ROOT, 'dist', 'bin', 'bramble.js');
export const UPSTREAM = join(ROOT, '..', 'shared', 'upstream');
export const HOMELAB = join(ROOT, 'inventory', 'homelab.yaml');
export const SECOND = join(ROOT, 'test', 'fixtures', 'second-site.yaml');

// git over SSH in every test and every bramble they start: loopback and the lab's hosts only (test/ssh-guard).
// A test that needs its own SSH command (the lab's owner key) passes GIT_SSH_COMMAND itself.
process.env.GIT_SSH_COMMAND ??= join(ROOT, 'test', 'ssh-guard');
process.env.GIT_SSH_VARIANT ??= 'ssh';

const made: string[] = [];
// Each test file runs in its own process: its folders go when it exits.
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test file ends. */
export function tempDir(prefix = 'bramble-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (dist/) as a user would. */
export function bramble(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The same, without blocking this process: needed when this process also
 * serves what the command fetches (the lab's install script).
 */
export function brambleAsync(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<Run> {
  return runAsync(process.execPath, [CLI, ...args], env, timeoutMs);
}

/** Any command, without blocking this process; killed after `timeoutMs`. */
export function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Each line of each file under `dir` (recursively) whose name ends in `ending`, as "path:line" (relative to the repository) and text. */
export function linesOf(dir: string, ending: string): Array<{ where: string; line: string }> {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(ending) ? [join(d, e.name)] : []));
  return walk(dir).flatMap((file) => readFileSync(file, 'utf8').split('\n').map((line, i) => ({ where: `${file.slice(ROOT.length + 1)}:${i + 1}`, line })));
}

/**
 * For each needle, the regular files under `dir` holding it, among the files
 * changed since `sinceMs`. A secret made after `sinceMs` can only be in a file
 * written after it, and a write always moves a file's change time (ctime),
 * which unlike its modification time cannot be set back; so this finds what
 * reading every file would, without reading the rest of a shared folder such
 * as /tmp (a checkout with its node_modules, other runs' files). Folders named
 * in `skip` are not entered, symbolic links are not followed, and entries that
 * vanish mid-walk (other test files' folders) are passed over.
 */
export function filesHolding(dir: string, needles: string[], sinceMs: number, skip: string[] = []): (needle: string) => string[] {
  // The kernel stamps times from a clock that can lag the wall clock by a tick or more.
  const since = sinceMs - 2000;
  const hits = new Map<string, string[]>(needles.map((n) => [n, []]));
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(d, e.name);
      if (e.isDirectory()) {
        if (!skip.includes(e.name)) walk(full);
        continue;
      }
      if (!e.isFile()) continue;
      let text: Buffer;
      try {
        if (lstatSync(full).ctimeMs < since) continue;
        text = readFileSync(full);
      } catch {
        continue;
      }
      for (const n of needles) if (text.includes(n)) hits.get(n)!.push(full);
    }
  };
  walk(dir);
  return (needle) => hits.get(needle) ?? [];
}

export function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${r.stderr}`);
  return r.stdout;
}

export function git(cwd: string, ...args: string[]): string {
  return sh('git', ['-c', 'user.name=tester', '-c', 'user.email=tester@example.invalid', ...args], cwd).trim();
}

/**
 * The reference site with backups to the NAS's MinIO, as its survey plans
 * them: nas.s3 declared, both clusters keeping secrets (to `recipient`) and
 * backing up to one bucket. Edited with the yaml library, so comments stay.
 */
export async function homelabWithS3Backups(recipient: string): Promise<string> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(readFileSync(HOMELAB, 'utf8'));
  doc.setIn(['nas', 's3'], doc.createNode({ port: 9000 }));
  for (const i of [0, 1]) {
    doc.setIn(['clusters', i, 'secrets'], doc.createNode({ ageRecipient: recipient }));
    doc.setIn(['clusters', i, 'backup'], doc.createNode({ target: 's3', bucket: 'homelab-backups' }));
  }
  return doc.toString();
}

/**
 * The reference site with every optional platform part on (issue 28): S3
 * backups with a critical class, Discord and e-mail, scanning, a tunnel with
 * the webhook Receiver, Let's Encrypt on production (a public domain) and the
 * private CA on staging.
 */
export async function homelabWithEverything(recipient: string): Promise<string> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(await homelabWithS3Backups(recipient));
  doc.setIn(['defaults', 'platform', 'scanning'], doc.createNode({ enabled: true }));
  for (const i of [0, 1]) {
    doc.setIn(['clusters', i, 'backup', 'critical'], doc.createNode({}));
    doc.setIn(['clusters', i, 'notifications'], doc.createNode({ type: 'discord', email: { smarthost: 'smtp.example.com:587', from: 'alerts@example.com', to: ['owner@example.com'], username: 'alerts@example.com' } }));
  }
  doc.setIn(['clusters', 1, 'tunnel'], doc.createNode({ hostnames: ['photos.example.com', 'status.example.com'], receiver: 'flux.example.com' }));
  doc.setIn(['clusters', 1, 'platform', 'tls'], doc.createNode({ issuer: 'letsencrypt', email: 'owner@example.com' }));
  doc.setIn(['clusters', 1, 'platform', 'monitoring', 'grafanaHost'], 'grafana.lan.example.com');
  doc.setIn(['clusters', 1, 'platform', 'traefik'], doc.createNode({ dashboard: { host: 'traefik.lan.example.com' } }));
  return doc.toString();
}

/**
 * The file read by ../shared/tools/sops-check, an independent SOPS reader
 * (sops's own rules, MAC checked, aliases expanded, non-string keys refused):
 * the decrypted document, or an error with its one line.
 */
export function sopsCheck(file: string, identities: string[]): unknown {
  const dir = tempDir('bramble-sops-check-');
  const ids = identities.map((id, i) => {
    const f = join(dir, `id${i}.txt`);
    writeFileSync(f, id + '\n', { mode: 0o600 });
    return f;
  });
  const r = spawnSync(join(UPSTREAM, '..', 'tools', 'sops-check'), [file, ...ids], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`sops-check ${file}: ${(r.stderr || r.error?.message || '').trim()}`);
  return JSON.parse(r.stdout) as unknown;
}

/** A CRD's schema with unknown fields forbidden, the way the API server's strict validation refuses them. */
export function strictify(schema: any): any {
  if (Array.isArray(schema)) return schema.map(strictify);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = strictify(v);
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  return out;
}

/**
 * A work folder for the secret commands: the reference inventory copied in,
 * an empty Git work tree, and an age keys file of its own (SOPS_AGE_KEY_FILE
 * in env), never this machine's.
 */
export function secretsWorkspace(): { work: string; keys: string; env: NodeJS.ProcessEnv; inventory: string; repo: string } {
  const work = tempDir();
  const keys = join(work, 'age', 'keys.txt');
  const inventory = join(work, 'homelab.yaml');
  writeFileSync(inventory, readFileSync(HOMELAB, 'utf8'));
  const repo = join(work, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  return { work, keys, env: { SOPS_AGE_KEY_FILE: keys, SOPS_AGE_KEY: '' }, inventory, repo };
}

/** The located problems of the reference inventory (or `base`) changed by `edit`: none when it is valid. */
export async function problemsOf(edit: (doc: import('yaml').Document) => void, base?: string): Promise<readonly import('../src/inventory/problems.ts').Problem[]> {
  const [{ parseDocument }, { parseInventory }, { InventoryError }] = await Promise.all([import('yaml'), import('../src/inventory/load.ts'), import('../src/inventory/problems.ts')]);
  const doc = parseDocument(base ?? readFileSync(HOMELAB, 'utf8'));
  edit(doc);
  try {
    parseInventory(doc.toString(), 'site.yaml');
    return [];
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    return e.problems;
  }
}
