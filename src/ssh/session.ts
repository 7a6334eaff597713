// One SSH connection to one node for the whole run (ssh2), with the host key
// checked against known_hosts, keepalives and timeouts, privileged commands
// through sudo, and every command visible to the logger with secrets removed.
import { randomBytes } from 'node:crypto';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { detailOf } from '../base/errors.ts';
import { credentials } from './auth.ts';
import { SshError } from './errors.ts';
import { verifyHostKey, type HostKeyPolicy } from './host-key.ts';
import type { Secrets, SshTarget } from './target.ts';

export { SshError };
export type { HostKeyPolicy, Secrets, SshTarget };


export interface SessionOptions {
  policy: HostKeyPolicy;
  secrets: Secrets;
  log?: (line: string) => void;
  connectTimeoutMs?: number;
  keepaliveMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What a command said last: its last `lines` lines of stderr (of stdout when stderr is empty), on one line. */
export function lastWords(r: ExecResult, lines: number): string {
  return (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-lines).join(' / ');
}

export interface ExecOptions {
  stdin?: string;
  /** Run as root (through sudo unless the login user is root). */
  sudo?: boolean;
  /** Values to blank out of the logged command. */
  secrets?: string[];
  timeoutMs?: number;
  /** What the command is for, in error messages (defaults to the command). */
  step?: string;
  /** A non-zero exit is an error (default true). */
  check?: boolean;
}

/** POSIX single-quoting: safe in sh, dash and bash alike. */
/** Commands run at once on one connection; below sshd's default MaxSessions of 10. */
const CHANNELS = 8;

/** A line of its own between files in readFiles(): the newline before it ends the previous file's text, whatever that ended with. */
const SEPARATOR = "printf '\\n%s\\n' ";

/** The server refused to open a channel: the command did not start. */
class OpenFailure extends Error {
  readonly error: SshError;
  constructor(error: SshError) {
    super(error.message);
    this.error = error;
  }
}

export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}

export class Session {
  readonly target: SshTarget;
  private readonly client: Client;
  private readonly opts: SessionOptions;
  private sudoPassword: string | undefined;
  private sudoMode: 'root' | 'nopasswd' | 'password' | undefined;
  private sudoProbe: Promise<'root' | 'nopasswd' | 'password'> | undefined;
  private closed = false;
  private lost: Error | undefined;
  private sftpChannel: SFTPWrapper | undefined;
  private readonly secretValues: string[] = [];
  private jump: Session | undefined;

  private constructor(target: SshTarget, client: Client, opts: SessionOptions) {
    this.target = target;
    this.client = client;
    this.opts = opts;
    client.on('error', (e) => {
      this.lost = e;
    });
    client.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(target: SshTarget, opts: SessionOptions): Promise<Session> {
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: opts.connectTimeoutMs ?? 15000,
      keepaliveInterval: opts.keepaliveMs ?? 10000,
      keepaliveCountMax: 3,
    };
    const step = 'connect';
    const secretValues = await credentials(target, opts.secrets, config);

    let hostKeyProblem: string | undefined;
    config.hostVerifier = (key: Buffer, verify: (ok: boolean) => void) => {
      verifyHostKey(target, key, opts.policy)
        .then((problem) => {
          hostKeyProblem = problem;
          verify(problem === undefined);
        })
        .catch((e: Error) => {
          hostKeyProblem = e.message;
          verify(false);
        });
    };

    let jump: Session | undefined;
    if (target.jump) {
      jump = await Session.connect(target.jump, opts).catch((e: SshError) => {
        throw new SshError(target.name, `jump host ${target.jump!.name}`, e instanceof SshError ? `${e.step}: ${e.detail}` : detailOf(e));
      });
      try {
        config.sock = await jump.forward(target.host, target.port);
      } catch (e) {
        jump.close();
        throw new SshError(target.name, 'connect', `through ${target.jump.name}: ${(e as Error).message}`);
      }
    }

    const client = new Client();
    // A failed connection can still report errors later (a reset socket):
    // they must not become uncaught exceptions.
    client.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error & { level?: string }) => {
        client.removeAllListeners('ready');
        client.end();
        if (hostKeyProblem) reject(new SshError(target.name, 'host key', hostKeyProblem));
        else if (e.level === 'client-authentication') reject(new SshError(target.name, 'authenticate', `${target.user}@${target.host}:${target.port} refused ${target.auth} authentication`));
        else if (e.level === 'client-timeout') reject(new SshError(target.name, step, `no SSH answer from ${target.host}:${target.port} within ${config.readyTimeout} ms`));
        else reject(new SshError(target.name, step, `${target.host}:${target.port}: ${e.message.includes('passphrase') || e.message.includes('decrypt') ? 'cannot decrypt the private key (wrong passphrase?)' : e.message}`));
      };
      client.once('ready', () => {
        client.removeListener('error', fail);
        resolve();
      });
      client.once('error', fail);
      try {
        client.connect(config);
        // Every command is a few small packets each way (channel open, exec request, its
        // answers); with Nagle's algorithm on, one waits for the other end's delayed ACK:
        // about 85 ms a command on the lab.
        client.setNoDelay(true);
      } catch (e) {
        fail(e as Error);
      }
    }).catch((e) => {
      jump?.close();
      throw e;
    });
    const session = new Session(target, client, opts);
    session.secretValues.push(...secretValues);
    session.jump = jump;
    return session;
  }

  private log(line: string): void {
    this.opts.log?.(`${this.target.name}: ${redact(line, this.secretValues)}`);
  }

  /** Run a command; with `sudo`, as root. */
  /** A command that exited non-zero, in its last words (at most three lines), secrets blanked out. */
  private exited(step: string, r: ExecResult, secrets: string[] = []): SshError {
    const why = lastWords(r, 3);
    return new SshError(this.target.name, step, `exited ${r.code}${why ? `: ${redact(why, secrets)}` : ''}`);
  }

  async exec(command: string, o: ExecOptions = {}): Promise<ExecResult> {
    const step = o.step ?? command;
    // Before sudo's way is known, a sudo command goes out as if no password were needed (most
    // boards): that saves the probe's round trip. sudo -n refuses before running anything when
    // one is needed, and only then is the command sent again the way the probe finds.
    const guess = o.sudo && this.sudoMode === undefined && this.target.user !== 'root';
    if (o.sudo && !guess) await this.ensureSudo();
    let full = command;
    let stdin = o.stdin;
    if (o.sudo && (guess || this.sudoMode === 'nopasswd')) full = `sudo -n -- sh -c ${shQuote(command)}`;
    if (o.sudo && !guess && this.sudoMode === 'password') {
      // The password goes in on stdin, ahead of the command's own input; never on a command line.
      full = `sudo -S -p '' -- sh -c ${shQuote(command)}`;
      stdin = `${this.sudoPassword}\n${stdin ?? ''}`;
    }
    this.log(`$ ${redact(command, o.secrets ?? [])}${o.sudo && this.sudoMode !== 'root' ? '   (sudo)' : ''}`);
    const result = await this.run(full, stdin, o.timeoutMs, step);
    if (guess && result.code === 1 && /^sudo: /.test(result.stderr)) {
      // sudo itself refused (a password, no rights): the probe says which, or fails with why.
      if ((await this.ensureSudo()) === 'password') return this.exec(command, o);
    } else if (guess && this.sudoMode === undefined) this.sudoMode = 'nopasswd';
    const clean = { ...result, stdout: result.stdout, stderr: redact(result.stderr, [...this.secretValues, this.sudoPassword]) };
    if ((o.check ?? true) && clean.code !== 0) {
      throw this.exited(step, clean, o.secrets);
    }
    return clean;
  }

  /**
   * sshd serves at most MaxSessions (10 by default) channels per connection;
   * past that a channel open fails. Commands beyond CHANNELS wait their turn
   * (one channel stays free for SFTP), so many nodes can share one session to
   * the first server (e.g. 13 agents waiting to be Ready).
   */
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  private async run(command: string, stdin: string | undefined, timeoutMs: number | undefined, step: string): Promise<ExecResult> {
    if (this.running >= CHANNELS) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      // sshd frees a closed channel's session a moment after the close: an
      // open refused then never started the command, so it is safe to try again.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.runNow(command, stdin, timeoutMs, step);
        } catch (e) {
          if (!(e instanceof OpenFailure) || attempt >= 30) throw e instanceof OpenFailure ? e.error : e;
          await new Promise((r) => setTimeout(r, 50 * Math.min(attempt, 6)));
        }
      }
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private runNow(command: string, stdin: string | undefined, timeoutMs: number | undefined, step: string): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new SshError(this.target.name, step, `the connection is closed${this.lost ? ` (${this.lost.message})` : ''}`));
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) {
          const error = new SshError(this.target.name, step, `cannot start the command: ${err.message}`);
          return reject(/open failed|Channel open failure/i.test(err.message) ? new OpenFailure(error) : error);
        }
        let stdout = '';
        let stderr = '';
        let code: number | undefined;
        let timer: NodeJS.Timeout | undefined;
        const onClientClose = () => reject(new SshError(this.target.name, step, `the connection to ${this.target.host} was lost${this.lost ? ` (${this.lost.message})` : ''}`));
        this.client.once('close', onClientClose);
        if (timeoutMs) {
          timer = setTimeout(() => {
            stream.close();
            reject(new SshError(this.target.name, step, `no result within ${Math.round(timeoutMs / 1000)} s`));
          }, timeoutMs);
        }
        stream.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        stream.on('exit', (c: number | null) => {
          if (c !== null) code = c;
        });
        stream.on('close', () => {
          if (timer) clearTimeout(timer);
          this.client.removeListener('close', onClientClose);
          if (code === undefined) reject(new SshError(this.target.name, step, `the command ended without an exit status (connection lost?)`));
          else resolve({ code, stdout, stderr });
        });
        if (stdin !== undefined) stream.end(stdin);
        else stream.end();
      });
    });
  }

  /** How this session becomes root; asks for the sudo password once, when needed. */
  async ensureSudo(): Promise<'root' | 'nopasswd' | 'password'> {
    if (this.sudoMode) return this.sudoMode;
    // Commands sent at once share one probe, and one password prompt.
    this.sudoProbe ??= this.probeSudo().finally(() => (this.sudoProbe = undefined));
    return this.sudoProbe;
  }

  private async probeSudo(): Promise<'root' | 'nopasswd' | 'password'> {
    if (this.target.user === 'root') return (this.sudoMode = 'root');
    const probe = await this.run('sudo -n true', undefined, 15000, 'sudo');
    if (probe.code === 0) return (this.sudoMode = 'nopasswd');
    if (!/password is required|a terminal is required/.test(probe.stderr)) {
      throw new SshError(this.target.name, 'sudo', `${this.target.user} cannot use sudo: ${probe.stderr.trim() || `exit ${probe.code}`}`);
    }
    const pw = await this.opts.secrets.get('sudo-password', `sudo password for ${this.target.user} on ${this.target.name}`);
    if (!pw) throw new SshError(this.target.name, 'sudo', `sudo needs a password for ${this.target.user}; set BRAMBLE_SUDO_PASSWORD or run interactively`);
    const check = await this.run(`sudo -S -p '' -- true`, pw + '\n', 15000, 'sudo');
    if (check.code !== 0) throw new SshError(this.target.name, 'sudo', `the sudo password for ${this.target.user} was not accepted`);
    this.sudoPassword = pw;
    this.secretValues.push(pw);
    return (this.sudoMode = 'password');
  }

  private async sftp(): Promise<SFTPWrapper> {
    if (this.sftpChannel) return this.sftpChannel;
    this.sftpChannel = await new Promise<SFTPWrapper>((resolve, reject) =>
      this.client.sftp((err, s) => (err ? reject(new SshError(this.target.name, 'sftp', err.message)) : resolve(s))),
    );
    return this.sftpChannel;
  }

  /**
   * Write a file atomically (temporary name, then rename). With `sudo`, the
   * file is uploaded to a private temporary folder and installed as root with
   * the given mode, so a secret is never readable by others in between.
   */
  async writeFile(path: string, content: string | Buffer, o: { mode?: number; sudo?: boolean; step?: string; secret?: boolean } = {}): Promise<void> {
    const mode = o.mode ?? 0o644;
    const step = o.step ?? `write ${path}`;
    const sftp = await this.sftp();
    // A fresh name, created exclusively (O_EXCL) and 0600 by SFTP itself: nothing
    // else can have made it or read it, with no round trip for mktemp.
    const tmp = `/tmp/bramble-upload-${randomBytes(12).toString('hex')}`;
    this.log(`sftp put ${path} (${Buffer.byteLength(content)} bytes, mode ${mode.toString(8)})${o.secret ? ' [secret]' : ''}`);
    let removed = false;
    try {
      await new Promise<void>((resolve, reject) =>
        sftp.writeFile(tmp, content, { mode: 0o600, flag: 'wx' }, (err) => (err ? reject(new SshError(this.target.name, step, `upload failed: ${err.message}`)) : resolve())),
      );
      const m = mode.toString(8);
      const q = shQuote(path);
      // Put in place and remove the upload in one command; it exits as the placing did.
      const r = await this.exec(`mkdir -p "$(dirname ${q})" && install -m ${m} ${shQuote(tmp)} ${q}.bramble-new && mv -f ${q}.bramble-new ${q}; s=$?; rm -f ${shQuote(tmp)}; exit $s`, { sudo: o.sudo, step, check: false });
      removed = true;
      if (r.code !== 0) throw this.exited(step, r);
    } finally {
      if (!removed) await this.exec(`rm -f ${shQuote(tmp)}`, { check: false, step });
    }
  }

  /** A file's content, or undefined when it does not exist. */
  async readFile(path: string, o: { sudo?: boolean; step?: string } = {}): Promise<string | undefined> {
    return (await this.readFiles([path], o))[0];
  }

  /**
   * Several files in one command: one channel, one sudo, each file's
   * content or undefined when it does not exist, in the order asked. Each
   * file's text follows a line of a mark no file holds.
   */
  async readFiles(paths: string[], o: { sudo?: boolean; step?: string } = {}): Promise<Array<string | undefined>> {
    const step = o.step ?? `read ${paths.join(', ')}`;
    const mark = 'bramble-file-' + randomBytes(9).toString('hex');
    const say = (word: string) => SEPARATOR + shQuote(mark + ':' + word);
    const script = paths.map((p) => ['if [ -e', shQuote(p), ']; then', say('here') + '; cat', shQuote(p), '|| exit 4; else', say('absent') + '; fi'].join(' ')).join('\n');
    const r = await this.exec(script, { sudo: o.sudo, check: false, step });
    if (r.code !== 0) throw new SshError(this.target.name, step, r.stderr.trim() || `exit ${r.code}`);
    // split with a group keeps the marks: ['', 'here', text, 'absent', '', ...]
    const parts = r.stdout.split(new RegExp('\n' + mark + ':(here|absent)\n'));
    const out: Array<string | undefined> = [];
    for (let k = 1; k < parts.length; k += 2) out.push(parts[k] === 'here' ? parts[k + 1]! : undefined);
    if (out.length !== paths.length) throw new SshError(this.target.name, step, `read ${out.length} of ${paths.length} files`);
    return out;
  }

  /** A TCP stream to host:port, opened from this node (for jump hosts). */
  forward(host: string, port: number): Promise<import('node:stream').Duplex> {
    return new Promise((resolve, reject) =>
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(new Error(`cannot reach ${host}:${port}: ${err.message}`)) : resolve(stream))),
    );
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): void {
    this.closed = true;
    this.client.end();
    // A node that goes away as the connection ends (a reboot, a lab stopped)
    // never answers the close, and the half-closed socket would keep the
    // process alive: it is dropped after a moment. ssh2's destroy() leaves a
    // socket alone once end() has made it unwritable, so its socket is
    // destroyed itself.
    const drop = setTimeout(() => (this.client as unknown as { _sock?: { destroy(): void } })._sock?.destroy(), 2000);
    drop.unref();
    this.client.once('close', () => clearTimeout(drop));
    this.jump?.close();
  }
}
