// A lab of simulated nodes on this machine. Each node is a network namespace
// with its own address in 198.18.0.0/15 on a lab bridge, its own PID, mount
// and UTS namespaces, copy-on-write views of /etc, /var/lib, /boot,
// /usr/local and /home, a board identity (device-tree model, architecture),
// a non-root login user with sudo, and Debian's real OpenSSH sshd.
// Needs root. Everything is torn down by stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, cpSync, openSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PINNED } from '../../src/inventory/defaults.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, from scripts/lab or dist/scripts/lab. */
const ROOT = [join(HERE, '..', '..'), join(HERE, '..', '..', '..')].find((d) => existsSync(join(d, 'test', 'lab-standins', 'k3s')))!;
const INIT = join(ROOT, 'scripts', 'lab', 'node-init.sh');
const STANDINS = join(ROOT, 'test', 'lab-standins');

export type Board = 'pi5' | 'rk1' | 'x86';

export interface BoardIdentity {
  model?: string;
  compatible?: string[];
  arch: string;
}

export const BOARDS: Record<Board, BoardIdentity> = {
  pi5: { model: 'Raspberry Pi 5 Model B Rev 1.0', compatible: ['raspberrypi,5-model-b', 'brcm,bcm2712'], arch: 'aarch64' },
  rk1: { model: 'Turing Machines RK1', compatible: ['turing,rk1', 'rockchip,rk3588'], arch: 'aarch64' },
  x86: { arch: 'x86_64' },
};

export interface LabNodeSpec {
  name: string;
  board: Board;
  /** Sudo without a password (default) or with the login password. */
  sudo?: 'nopasswd' | 'password';
  /** Seconds a reboot keeps the node down. */
  bootDelay?: number;
  /**
   * Seconds from `reboot` to the end of the node's processes (default 0.3):
   * a slow shutdown, whose sshd still answers meanwhile, as a board's may
   * while it stops its services.
   */
  shutdownDelay?: number;
  /** A fresh Pi image: memory cgroup off until cmdline.txt enables it. Default for pi5. */
  memcgOff?: boolean;
  /**
   * A kernel with iSCSI, as real boards have (this machine's has none): iscsid
   * stays up (a stand-in process of that name) and iscsi_tcp shows as loaded.
   * For the benchmarks' unchanged re-runs; the tests keep the real iscsid.
   */
  iscsi?: boolean;
  /** A kernel that lists nfs4 in /proc/filesystems (this machine's has no NFS client), so mounts are tried and fail in the kernel. */
  nfsClient?: boolean;
  /** The port sshd listens on (default 22). */
  sshPort?: number;
}

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** A plain SSH Git server on the lab network (stands for Gitea, Forgejo or a NAS). */
export interface GitServer {
  address: string;
  /** The host key as known_hosts has it, and its SHA256 fingerprint. */
  hostKey: string;
  fingerprint: string;
  port: number;
  /** ssh:// URL of a bare repository created by repository(). */
  url: (name: string) => string;
  /** Environment for git on this machine to push as the owner (the lab client key). */
  ownerEnv: NodeJS.ProcessEnv;
  /** The folder holding the bare repositories. */
  dir: string;
}

export interface LabNode {
  name: string;
  board: Board;
  address: string;
  port: number;
  dir: string;
  /** The node's host key as a known_hosts key part: "ssh-ed25519 AAAA..." */
  hostKey: string;
  /** SHA256 fingerprint of the host key, as OpenSSH prints it. */
  fingerprint: string;
}

/** Labs started and not stopped, removed when the process exits (see Lab.abandon). */
const LIVE = new Set<Lab>();
process.on('exit', () => {
  for (const lab of LIVE) lab.abandon();
});

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lab: ${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A new host key of `type` in `file` (replacing any), read back as known_hosts and ssh-keygen show it. */
function makeHostKey(file: string, type: HostKeyType, comment: string): { hostKey: string; fingerprint: string } {
  rmSync(file, { force: true });
  rmSync(file + '.pub', { force: true });
  run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', file]);
  const pub = readFileSync(file + '.pub', 'utf8').trim().split(/\s+/);
  const fingerprint = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', file + '.pub']).split(/\s+/)[1]!;
  return { hostKey: `${pub[0]} ${pub[1]}`, fingerprint };
}

/** How known_hosts names a host: [host]:port on a port other than 22 (written here as OpenSSH does, not by bramble's code). */
function knownName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** A lab's namespaces and host-side links, named from its bridge's name (see wire()), as left in /run/netns and /sys/class/net. */
function labNames(bridge: string): RegExp {
  return new RegExp(`^${bridge}(n\\d+|git|nas|v\\d+|vg|vn)$`);
}

function leftovers(bridge: string): string[] {
  const mine = labNames(bridge);
  return ['/run/netns', '/sys/class/net'].flatMap((d) => (existsSync(d) ? readdirSync(d) : []).filter((n) => mine.test(n)).map((n) => `${d}/${n}`));
}

function tryRun(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}

/** True when something accepts a TCP connection on host:port now. */
function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect({ host, port, timeout: 500 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Until nothing listens on host:port any more: a killed namespace's sshd can outlive its init for a moment. */
async function waitForPortClosed(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await portOpen(host, port)) {
    if (Date.now() > deadline) throw new Error(`lab: ${host}:${port} still answers ${timeoutMs} ms after power-off`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await portOpen(host, port);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`lab: ${host}:${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const UID = 1500;

/** Labs are numbered 2 to 251: lab N's addresses are 198.18.N.0/24 and its links bl<N>*. */
const INDICES = 250;

/** The node's own copy-on-write folders, and their names under its upper/ dir. */
const PER_NODE: Array<[string, string]> = [['/etc/', 'etc'], ['/var/lib/', 'var-lib'], ['/boot/', 'boot'], ['/usr/local/', 'usr-local'], ['/home/', 'home']];

export class Lab {
  readonly root: string;
  readonly index: number;
  readonly gateway: string;
  readonly user = 'bramble';
  readonly password = 'lab-password-' + Math.random().toString(36).slice(2, 10);
  /** Unencrypted ed25519 client key, and the same kind of key under a passphrase. */
  readonly keyFile: string;
  readonly encryptedKeyFile: string;
  readonly passphrase = 'lab-passphrase';
  readonly nodes: LabNode[] = [];
  private readonly inits = new Map<string, ChildProcess>();
  private http: Server | undefined;
  /** Requests the lab's HTTP server answered, by path. */
  readonly downloads: string[] = [];
  private nas: { ns: string; address: string; dir: string; proc?: ChildProcess } | undefined;
  private readonly specs = new Map<string, LabNodeSpec>();
  private git: GitServer | undefined;
  private gitProc: ChildProcess | undefined;
  private readonly served = new Map<string, { type: string; body: string | Buffer }>();

  private constructor(root: string, index: number) {
    this.root = root;
    this.index = index;
    this.gateway = `198.18.${index}.1`;
    this.keyFile = join(root, 'client', 'id_ed25519');
    this.encryptedKeyFile = join(root, 'client', 'id_ed25519_enc');
  }

  get bridge(): string {
    return `bl${this.index}`;
  }

  static async start(specs: LabNodeSpec[]): Promise<Lab> {
    if (process.getuid?.() !== 0) throw new Error('lab: needs root (network and mount namespaces)');
    // /var/tmp, not /tmp: each node mounts its own /tmp.
    const root = mkdtempSync('/var/tmp/bramble-lab-');
    let lab: Lab | undefined;
    const stale: string[] = [];
    // Every index once, from a random one: labs started at once seldom try the same.
    const first = Math.floor(Math.random() * INDICES);
    for (let k = 0; k < INDICES && !lab; k++) {
      const index = 2 + ((first + k) % INDICES);
      const bridge = `bl${index}`;
      // A live lab's; this is no claim yet, only the way past it without starting a process.
      if (existsSync(`/sys/class/net/${bridge}`)) continue;
      // Names under an index whose bridge is gone are an earlier lab's that its stop did not remove: use another index.
      const before = leftovers(bridge);
      if (before.length > 0) {
        stale.push(...before);
        continue;
      }
      // The bridge is the claim: no other lab makes names under its index while it is there.
      if (spawnSync('ip', ['link', 'add', bridge, 'type', 'bridge'], { stdio: 'ignore' }).status !== 0) continue;
      // Looked at again once claimed: a lab stopping in between may have left some.
      const after = leftovers(bridge);
      if (after.length === 0) lab = new Lab(root, index);
      else {
        stale.push(...after);
        tryRun('ip', ['link', 'del', bridge]);
      }
    }
    if (!lab) {
      rmSync(root, { recursive: true, force: true });
      throw new Error(`lab: could not create a bridge${stale.length ? ` (${stale.length} names left over by earlier labs, such as ${stale.slice(0, 3).join(', ')})` : ''}`);
    }
    LIVE.add(lab);
    try {
      run('ip', ['addr', 'add', `${lab.gateway}/24`, 'dev', lab.bridge]);
      run('ip', ['link', 'set', lab.bridge, 'up']);
      mkdirSync(join(root, 'client'), { recursive: true, mode: 0o700 });
      mkdirSync(join(root, 'cluster'), { recursive: true });
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lab-client', '-f', lab.keyFile]);
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', lab.passphrase, '-C', 'lab-client-enc', '-f', lab.encryptedKeyFile]);
      lab.compileStandins();
      for (const spec of specs) await lab.addNode(spec);
    } catch (e) {
      await lab.stop();
      throw e;
    }
    return lab;
  }

  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`lab: no node ${name}`);
    return n;
  }

  /** known_hosts lines for every node, as `ssh-keyscan` would give them. */
  knownHosts(): string {
    return this.nodes.map((n) => `${knownName(n.address, n.port)} ${n.hostKey}\n`).join('');
  }

  /**
   * The node is reinstalled, or someone stands in its place: it comes back
   * with a new host key of `type` (its old one gone). Returns the new key.
   */
  async replaceHostKey(name: string, type: HostKeyType = 'ed25519'): Promise<LabNode> {
    const node = this.node(name);
    await this.powerOff(name);
    const ssh = join(node.dir, 'upper', 'etc', 'ssh');
    for (const t of ['ed25519', 'ecdsa', 'rsa']) for (const f of [`ssh_host_${t}_key`, `ssh_host_${t}_key.pub`]) rmSync(join(ssh, f), { force: true });
    Object.assign(node, makeHostKey(join(ssh, `ssh_host_${type}_key`), type, `root@${name}`));
    const config = readFileSync(join(ssh, 'sshd_config'), 'utf8').replace(/^HostKey .*$/m, `HostKey /etc/ssh/ssh_host_${type}_key`);
    writeFileSync(join(ssh, 'sshd_config'), config);
    await this.powerOn(name);
    return node;
  }

  private async addNode(spec: LabNodeSpec): Promise<void> {
    const i = this.nodes.length;
    const address = `198.18.${this.index}.${10 + i}`;
    const ns = `${this.bridge}n${i}`;
    const dir = join(this.root, 'nodes', spec.name);
    const etc = join(dir, 'upper', 'etc');
    mkdirSync(join(etc, 'ssh'), { recursive: true });
    mkdirSync(join(etc, 'sudoers.d'), { recursive: true });
    mkdirSync(join(etc, 'bramble-lab'), { recursive: true });

    // Identity
    const board = BOARDS[spec.board];
    writeFileSync(join(etc, 'bramble-lab', 'arch'), board.arch + '\n');
    if (board.model) writeFileSync(join(etc, 'bramble-lab', 'model'), board.model);
    if (board.compatible) writeFileSync(join(etc, 'bramble-lab', 'compatible'), board.compatible.join('\n'));
    if (spec.memcgOff ?? spec.board === 'pi5') writeFileSync(join(etc, 'bramble-lab', 'memcg-off-unless-cmdline'), '');
    if (spec.iscsi) writeFileSync(join(etc, 'bramble-lab', 'iscsi'), '');
    if (spec.nfsClient) writeFileSync(join(etc, 'bramble-lab', 'nfs4'), '');
    if (spec.shutdownDelay !== undefined) writeFileSync(join(etc, 'bramble-lab', 'shutdown-delay'), `${spec.shutdownDelay}\n`);
    writeFileSync(join(etc, 'hostname'), spec.name + '\n');
    writeFileSync(join(etc, 'hosts'), readFileSync('/etc/hosts', 'utf8') + `127.0.1.1 ${spec.name}\n`);
    writeFileSync(join(dir, 'boot-delay'), String(spec.bootDelay ?? 1));
    if (spec.board === 'pi5') {
      mkdirSync(join(dir, 'upper', 'boot', 'firmware'), { recursive: true });
      writeFileSync(join(dir, 'upper', 'boot', 'firmware', 'cmdline.txt'), 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n');
      writeFileSync(join(dir, 'upper', 'boot', 'firmware', 'config.txt'), '[all]\ndtparam=pciex1\n');
    }

    // The login user, with sudo
    const hash = run('openssl', ['passwd', '-6', this.password]).trim();
    writeFileSync(join(etc, 'passwd'), readFileSync('/etc/passwd', 'utf8') + `${this.user}:x:${UID}:${UID}:bramble lab user:/home/${this.user}:/bin/bash\n`);
    writeFileSync(join(etc, 'group'), readFileSync('/etc/group', 'utf8') + `${this.user}:x:${UID}:\n`);
    writeFileSync(join(etc, 'shadow'), readFileSync('/etc/shadow', 'utf8') + `${this.user}:${hash}:20000:0:99999:7:::\n`, { mode: 0o640 });
    const sudoers = join(etc, 'sudoers.d', 'bramble-lab');
    writeFileSync(sudoers, spec.sudo === 'password' ? `${this.user} ALL=(ALL:ALL) ALL\n` : `${this.user} ALL=(ALL:ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    const home = join(dir, 'upper', 'home', this.user);
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'authorized_keys'), readFileSync(this.keyFile + '.pub', 'utf8') + readFileSync(this.encryptedKeyFile + '.pub', 'utf8'), { mode: 0o600 });
    for (const p of [home, join(home, '.ssh'), join(home, '.ssh', 'authorized_keys')]) chownSync(p, UID, UID);
    chmodSync(join(home, '.ssh'), 0o700);

    // sshd, with a host key of the node's own
    const port = spec.sshPort ?? 22;
    const { hostKey, fingerprint } = makeHostKey(join(etc, 'ssh', 'ssh_host_ed25519_key'), 'ed25519', `root@${spec.name}`);
    writeFileSync(
      join(etc, 'ssh', 'sshd_config'),
      [
        `ListenAddress ${address}`,
        `Port ${port}`,
        'HostKey /etc/ssh/ssh_host_ed25519_key',
        'PidFile /run/sshd.pid',
        'UsePAM no',
        'PermitRootLogin no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'AuthorizedKeysFile .ssh/authorized_keys',
        'Subsystem sftp internal-sftp',
        'MaxStartups 50:30:100',
        '',
      ].join('\n'),
    );

    // Stand-ins for what this machine cannot be: see docs/testing.md.
    mkdirSync(join(dir, 'upper', 'usr-local', 'bin'), { recursive: true });
    mkdirSync(join(dir, 'upper', 'usr-local', 'sbin'), { recursive: true });
    copyFileSync(join(STANDINS, 'uname'), join(dir, 'upper', 'usr-local', 'bin', 'uname'));
    // systemctl in bin too: a login user's PATH has no sbin, and on a board that user's systemctl is the real one.
    for (const [file, where] of [['uname', 'bin'], ['reboot', 'sbin'], ['systemctl', 'sbin'], ['systemctl', 'bin']] as const) {
      copyFileSync(join(STANDINS, file), join(dir, 'upper', 'usr-local', where, file));
      chmodSync(join(dir, 'upper', 'usr-local', where, file), 0o755);
    }
    // The Python stand-ins' code, byte-compiled once per lab (compileStandins); the launchers above import it.
    cpSync(join(this.root, 'standins'), join(dir, 'upper', 'usr-local', 'lib', 'bramble-lab'), { recursive: true });
    if (spec.iscsi) {
      // A process whose name is iscsid, for pidof: sleep under that name.
      copyFileSync('/bin/sleep', join(dir, 'upper', 'usr-local', 'lib', 'bramble-lab', 'iscsid'));
    }

    // Network
    this.wire(ns, `${this.bridge}v${i}`, address);

    const node: LabNode = { name: spec.name, board: spec.board, address, port, dir, hostKey, fingerprint };
    this.nodes.push(node);
    this.specs.set(spec.name, spec);
    await this.boot(node);
  }

  /**
   * The k3s and systemctl stand-ins' modules, compiled by the nodes' own
   * Python into .pyc files that are used without checking their source's
   * time (the copies in each node have new times), so no call compiles them.
   */
  private compileStandins(): void {
    const dir = join(this.root, 'standins');
    mkdirSync(dir, { recursive: true });
    const modules = ['k3s_standin.py', 'systemctl_standin.py'].map((f) => {
      copyFileSync(join(STANDINS, f), join(dir, f));
      return join(dir, f);
    });
    run('/usr/bin/python3', ['-c', 'import py_compile, sys\nfor f in sys.argv[1:]: py_compile.compile(f, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)', ...modules]);
  }

  /** A network namespace on the lab bridge: eth0 at `address`, the gateway as its default route. */
  private wire(ns: string, veth: string, address: string): void {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run('ip', ['link', 'set', veth, 'master', this.bridge]);
    run('ip', ['link', 'set', veth, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', this.gateway]);
  }

  /** A node's network namespace, named as addNode() made it. */
  private namespace(node: LabNode): string {
    return `${this.bridge}n${this.nodes.indexOf(node)}`;
  }

  private async boot(node: LabNode): Promise<void> {
    rmSync(join(node.dir, 'halt'), { force: true });
    const ns = this.namespace(node);
    const child = spawn('ip', ['netns', 'exec', ns, 'unshare', '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc', '--uts', 'bash', INIT, node.dir, node.name], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    this.inits.set(node.name, child);
    await waitForPort(node.address, node.port, 15000);
  }

  /**
   * A command run as root inside the running node (its namespaces), as its
   * owner would at the board's console: `systemctl stop k3s-agent`.
   */
  nodeExec(name: string, command: string): { code: number; stdout: string; stderr: string } {
    const pid = this.inits.get(name)?.pid;
    if (!pid) throw new Error(`lab: node ${name} is not running`);
    // ip execs unshare, which forks the node's init: enter that child's namespaces.
    const init = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    if (!init) throw new Error(`lab: node ${name} has no init process`);
    const r = spawnSync('nsenter', ['-t', init, '-m', '-n', '-p', '-u', '--', 'sh', '-c', command], {
      encoding: 'utf8',
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' },
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** The node loses power: everything in it stops, and it stays down. */
  async powerOff(name: string): Promise<void> {
    const node = this.node(name);
    writeFileSync(join(node.dir, 'halt'), '');
    const child = this.inits.get(name);
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    this.inits.delete(name);
    await waitForPortClosed(node.address, node.port, 10_000);
  }

  async powerOn(name: string): Promise<void> {
    await this.boot(this.node(name));
  }

  /**
   * The board hangs: every process on it stops where it is (sshd too), while
   * its kernel, this machine's, still answers TCP. A connection to it stays
   * open and nothing on it ever answers, as with a board thrashing out of
   * memory. resume() lets it go on.
   */
  hang(name: string): void {
    this.signalAll(name, 'STOP');
  }

  resume(name: string): void {
    this.signalAll(name, 'CONT');
  }

  private signalAll(name: string, signal: 'STOP' | 'CONT'): void {
    const pids = run('ip', ['netns', 'pids', this.namespace(this.node(name))]).split('\n').filter(Boolean);
    if (pids.length === 0) throw new Error(`lab: nothing runs on ${name}`);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), `SIG${signal}`);
      } catch (e) {
        // One that ended meanwhile is no longer there to stop.
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
  }

  /**
   * The board is replaced by a new one with the same OS image, name and
   * address: nothing of k3s on it, and a host key of its own.
   */
  async reimage(name: string): Promise<LabNode> {
    const node = this.node(name);
    await this.powerOff(name);
    const upper = join(node.dir, 'upper');
    for (const p of ['usr-local/bin/k3s', 'usr-local/bin/k3s-killall.sh', 'usr-local/bin/k3s-uninstall.sh', 'usr-local/bin/k3s-agent-uninstall.sh', 'usr-local/lib/bramble', 'etc/rancher', 'etc/systemd/system', 'etc/modules-load.d', 'var-lib/rancher', 'var-lib/bramble-lab']) {
      rmSync(join(upper, p), { recursive: true, force: true });
    }
    return this.replaceHostKey(name);
  }

  /** The node's k3s is down (crashed, or the board died): the API lists it NotReady. */
  k3sDown(name: string): void {
    this.setK3sState(name, 'stopped');
  }

  /** The node's k3s runs again, as an enabled unit does when its board is back. */
  k3sUp(name: string): void {
    this.setK3sState(name, 'running');
  }

  /** Replaced whole, as the k3s stand-in saves it: a read beside it never finds the entry half written. */
  private setK3sState(name: string, state: 'running' | 'stopped'): void {
    const entry = join(this.root, 'cluster', `${name}.json`);
    const tmp = join(this.root, 'cluster', `.${name}.lab.tmp`);
    writeFileSync(tmp, JSON.stringify({ ...JSON.parse(readFileSync(entry, 'utf8')), state }));
    renameSync(tmp, entry);
  }

  /** How many times a node has gone down for a reboot. */
  reboots(name: string): number {
    const f = join(this.node(name).dir, 'boots.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
  }

  /** How many SSH logins a node's sshd has accepted since it started (from its log). */
  sshLogins(name: string): number {
    const f = join(this.node(name).dir, 'sshd.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => /Accepted (publickey|password|keyboard-interactive)/.test(l)).length : 0;
  }

  /** A file as the node sees it: its own overlay first, then this machine's. */
  readNodeFile(name: string, path: string): string | undefined {
    const hit = PER_NODE.find(([prefix]) => path.startsWith(prefix));
    if (!hit) throw new Error(`lab: ${path} is not a per-node path`);
    const f = join(this.node(name).dir, 'upper', hit[1], path.slice(hit[0].length));
    if (existsSync(f)) return readFileSync(f, 'utf8');
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  }

  /**
   * A NAS host: Debian's nfs-ganesha serving NFSv4.1 from its own network
   * namespace at .5, exporting `exports` (pseudo paths) read-write.
   */
  async startNas(exports: string[] = ['/export/k8s']): Promise<string> {
    const address = `198.18.${this.index}.5`;
    if (!this.nas) {
      const ns = `${this.bridge}nas`;
      const dir = join(this.root, 'nas');
      mkdirSync(dir, { recursive: true });
      this.wire(ns, `${this.bridge}vn`, address);
      this.nas = { ns, address, dir };
    }
    const { ns, dir } = this.nas;
    const blocks = exports.map((pseudo, i) => {
      const path = join(dir, 'data', String(i + 1));
      mkdirSync(path, { recursive: true });
      chownSync(path, 1000, 1000);
      return `EXPORT { Export_Id = ${i + 1}; Path = ${path}; Pseudo = ${pseudo}; Access_Type = RW; Squash = No_Root_Squash; Protocols = 4; Transports = TCP; SecType = sys; FSAL { Name = VFS; } CLIENT { Clients = 198.18.${this.index}.0/24; Access_Type = RW; } }`;
    });
    writeFileSync(
      join(dir, 'ganesha.conf'),
      [
        `NFS_CORE_PARAM { Protocols = 4; NFS_Port = 2049; Bind_addr = ${address}; Enable_NLM = false; Enable_RQUOTA = false; }`,
        'NFSV4 { Graceless = true; Minor_Versions = 1, 2; }',
        ...blocks,
        'LOG { Default_Log_Level = WARN; }',
        '',
      ].join('\n'),
    );
    await this.stopNas();
    this.nas.proc = spawn('ip', ['netns', 'exec', ns, 'ganesha.nfsd', '-F', '-f', join(dir, 'ganesha.conf'), '-L', join(dir, 'ganesha.log'), '-p', join(dir, 'ganesha.pid')], { stdio: 'ignore' });
    await waitForPort(address, 2049, 15000);
    return address;
  }

  /** The NAS goes down (its address stays, nothing answers on 2049). */
  async stopNas(): Promise<void> {
    const proc = this.nas?.proc;
    if (proc && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    if (this.nas) this.nas.proc = undefined;
  }

  /**
   * A Git server at .4: Debian's sshd in its own network and mount namespace,
   * with a \`git\` user whose keys may only run git-shell. The owner (the lab client
   * key) may push; keys added with addDeployKey() may only fetch.
   */
  async startGitServer(o: { port?: number } = {}): Promise<GitServer> {
    if (this.git) return this.git;
    const port = o.port ?? 22;
    const address = `198.18.${this.index}.4`;
    const ns = `${this.bridge}git`;
    const dir = join(this.root, 'git');
    const repos = join(dir, 'repos');
    mkdirSync(join(dir, 'etc'), { recursive: true });
    mkdirSync(repos, { recursive: true });
    // The git user reads its keys and repositories below the lab's folder.
    chmodSync(this.root, 0o711);
    this.wire(ns, `${this.bridge}vg`, address);

    const gitUid = UID + 1;
    writeFileSync(join(dir, 'etc', 'passwd'), readFileSync('/etc/passwd', 'utf8') + `git:*:${gitUid}:${gitUid}:lab git server:${repos}:/bin/sh\n`);
    writeFileSync(join(dir, 'etc', 'group'), readFileSync('/etc/group', 'utf8') + `git:x:${gitUid}:\n`);
    const hostKeyFile = join(dir, 'etc', 'ssh_host_key');
    const key = makeHostKey(hostKeyFile, 'ed25519', 'root@labgit');
    // Deploy keys run through this: fetches only, as a read-only deploy key on a forge.
    const readOnly = join(dir, 'etc', 'read-only');
    writeFileSync(readOnly, '#!/bin/sh\ncase "$SSH_ORIGINAL_COMMAND" in\n  git-upload-pack\\ *) exec git-shell -c "$SSH_ORIGINAL_COMMAND" ;;\n  *) echo "this deploy key is read-only" >&2; exit 1 ;;\nesac\n', { mode: 0o755 });
    const authorized = join(dir, 'etc', 'authorized_keys');
    // Every key runs git-shell: the owner's may push, deploy keys only fetch.
    writeFileSync(authorized, `command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",restrict ${readFileSync(this.keyFile + '.pub', 'utf8')}`, { mode: 0o644 });
    writeFileSync(
      join(dir, 'etc', 'sshd_config'),
      [
        `ListenAddress ${address}`,
        `Port ${port}`,
        `HostKey ${hostKeyFile}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        'PermitRootLogin no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        `AuthorizedKeysFile ${authorized}`,
        'StrictModes no',
        'MaxStartups 50:30:100',
        // Classic key exchange only, as a Git host with an OpenSSH before 9.0 offers: OpenSSH 9's
        // default (sntrup761x25519, post-quantum) costs about 0.1 s of this machine's CPU per
        // connection, and the suite opens hundreds. bramble's git uses whatever the two ends agree.
        'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org',
        // "Connection from" is logged as a connection is accepted: gitConnections() sees one before it ends.
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const knownHosts = join(dir, 'owner_known_hosts');
    const repoPath = (name: string) => (port === 22 ? `${address}${join(repos, name)}` : `${address}:${port}${join(repos, name)}`);
    this.git = {
      address,
      port,
      ...key,
      dir: repos,
      url: (name) => `ssh://git@${repoPath(name)}`,
      // Through the tests' SSH guard: a push that went anywhere but the lab would be refused.
      ownerEnv: { GIT_SSH_COMMAND: `${join(ROOT, 'test', 'ssh-guard')} -i ${this.keyFile} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes` },
    };
    await this.runGitServer();
    return this.git;
  }

  private async runGitServer(): Promise<void> {
    const git = this.git!;
    const dir = join(this.root, 'git');
    writeFileSync(join(dir, 'owner_known_hosts'), `${knownName(git.address, git.port)} ${git.hostKey}\n`);
    const proc = spawn(
      'ip',
      ['netns', 'exec', `${this.bridge}git`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1/etc/passwd" /etc/passwd && mount --bind "$1/etc/group" /etc/group && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f "$1/etc/sshd_config"', 'sh', dir],
      { stdio: ['ignore', 'ignore', openSync(join(dir, 'sshd.log'), 'a')] },
    );
    this.gitProc = proc;
    await waitForPort(git.address, git.port, 15000);
  }

  private async stopGitServer(): Promise<void> {
    if (this.gitProc && this.gitProc.exitCode === null) {
      const gone = new Promise((r) => this.gitProc!.once('exit', r));
      this.gitProc.kill('SIGKILL');
      await gone;
      if (this.git) await waitForPortClosed(this.git.address, this.git.port, 10_000);
    }
    this.gitProc = undefined;
  }

  /** The Git server comes back with a new host key of `type`, as after a reinstall or with an impostor in its place. */
  async replaceGitHostKey(type: HostKeyType = 'ed25519'): Promise<GitServer> {
    if (!this.git) throw new Error('lab: start the Git server first');
    await this.stopGitServer();
    Object.assign(this.git, makeHostKey(join(this.root, 'git', 'etc', 'ssh_host_key'), type, 'root@labgit'));
    await this.runGitServer();
    return this.git;
  }

  /** A bare repository on the Git server, owned by its git user. */
  gitRepository(name: string): string {
    if (!this.git) throw new Error('lab: start the Git server first');
    const path = join(this.git.dir, name);
    run('git', ['init', '-q', '--bare', '-b', 'main', path]);
    run('chown', ['-R', `${UID + 1}:${UID + 1}`, path]);
    return this.git.url(name);
  }

  /** What the owner does on a forge: add a read-only deploy key. */
  /**
   * Every SSH connection the Git server has seen from `address`, in order (from
   * its log): the key it logged in with (its SHA256 fingerprint), or undefined
   * for one that never logged in (a host key scan, a refused key).
   */
  gitConnections(address: string): Array<{ port: number; key?: string }> {
    const f = join(this.root, 'git', 'sshd.log');
    const all: Array<{ port: number; key?: string }> = [];
    // By source port while the connection is open: a port is used again by a later connection.
    const open = new Map<number, { port: number; key?: string }>();
    for (const line of existsSync(f) ? readFileSync(f, 'utf8').split('\n') : []) {
      const m = new RegExp(` ${address.replace(/\./g, '\\.')} port (\\d+)\\b`).exec(line);
      if (!m) continue;
      const port = Number(m[1]);
      let c = open.get(port);
      if (!c) all.push((c = { port }));
      open.set(port, c);
      const login = /^Accepted publickey for .* ssh2: \S+ (SHA256:\S+)/.exec(line);
      if (login) c.key = login[1];
      if (/^(Disconnected from|Connection closed by|Connection reset by)/.test(line)) open.delete(port);
    }
    return all;
  }

  addDeployKey(publicKey: string): void {
    if (!this.git) throw new Error('lab: start the Git server first');
    const readOnly = join(this.root, 'git', 'etc', 'read-only');
    writeFileSync(join(this.root, 'git', 'etc', 'authorized_keys'), `command="${readOnly}",restrict ${publicKey.trim()}\n`, { flag: 'a' });
  }

  /** Serve a file on the lab's HTTP server (where nodes download from); returns its URL. */
  async serve(path: string, body: string, type = 'application/octet-stream'): Promise<string> {
    this.served.set(path, { type, body });
    await this.serveInstallScript();
    return `http://${this.gateway}:8089${path}`;
  }

  /**
   * An OCI artifact laid out as `flux push artifact` makes one (a Flux config
   * blob and one tar+gzip content layer), served under /v2/NAME/ by the lab's
   * HTTP server as the OCI distribution API serves it. Returns its oci:// URL.
   */
  async serveArtifact(name: string, tag: string, files: Record<string, string>): Promise<string> {
    const dir = join(this.root, 'oci', name, tag);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    const tgz = `${dir}.tar.gz`;
    run('tar', ['-czf', tgz, '-C', dir, '.']);
    const digest = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const layer = readFileSync(tgz);
    const config = Buffer.from('{}');
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.flux.config.v1+json', digest: digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip', digest: digest(layer), size: layer.length }],
    });
    this.served.set(`/v2/${name}/manifests/${tag}`, { type: 'application/vnd.oci.image.manifest.v1+json', body: manifest });
    this.served.set(`/v2/${name}/blobs/${digest(config)}`, { type: 'application/octet-stream', body: config });
    this.served.set(`/v2/${name}/blobs/${digest(layer)}`, { type: 'application/octet-stream', body: layer });
    await this.serveInstallScript();
    return `oci://${this.gateway}:8089/${name}`;
  }

  /**
   * k3s's real install script, unchanged from upstream (shared/upstream/k3s,
   * beside the checkout). The lab has no other: a missing copy is an error.
   */
  static realInstallScript(): string {
    const file = [join(ROOT, '..', 'shared', 'upstream', 'k3s', 'install.sh'), process.env.BRAMBLE_K3S_INSTALL_SH].find((f) => f && existsSync(f));
    if (!file) throw new Error(`lab: k3s's install.sh not found at ${join(ROOT, '..', 'shared', 'upstream', 'k3s', 'install.sh')} (or BRAMBLE_K3S_INSTALL_SH)`);
    return readFileSync(file, 'utf8');
  }

  /** The script the lab serves: the real install script behind the lab's download of the k3s stand-in (test/lab-standins/k3s-install.sh). */
  static installScript(): string {
    return readFileSync(join(STANDINS, 'k3s-install.sh'), 'utf8')
      .replace('@@K3S@@', () => readFileSync(join(STANDINS, 'k3s'), 'utf8').trimEnd())
      .replace('@@INSTALL_SH@@', () => Lab.realInstallScript().trimEnd());
  }

  /**
   * The install script served at `path`: /install.sh; /install-delay-N.sh
   * (the benchmarks' install that takes N s, as a download would);
   * /install-fail-after-binary.sh (on every node, or -on-HOST,HOST.sh on
   * those) and /install-stall-after-binary-N.sh: the binary is in place, then
   * the script fails, or waits N s for a power cut; /install-fail-after-links.sh:
   * the real script stops after its kubectl/crictl/ctr links.
   */
  static installVariant(body: string, path: string): string | undefined {
    const slow = /^\/install-delay-(\d+)\.sh$/.exec(path);
    const stall = /^\/install-stall-after-binary-(\d+)\.sh$/.exec(path);
    const marker = /^# @@AFTER_BINARY@@.*$/m;
    if (path === '/install.sh') return body;
    if (slow) return body.replace('\nset -e\n', `\nset -e\nsleep ${slow[1]}\n`);
    const failOn = /^\/install-fail-after-binary(?:-on-([\w,-]+))?\.sh$/.exec(path);
    if (failOn) {
      const hosts = failOn[1] ? failOn[1].split(',') : undefined;
      const fail = 'echo "[ERROR] lab: the install fails after placing the binary" >&2; exit 1';
      return body.replace(marker, hosts ? `case "$(hostname)" in ${hosts.join('|')}) ${fail} ;; esac` : fail);
    }
    if (stall) return body.replace(marker, `sleep ${stall[1]}`);
    // The real script fails where it writes the killall script: after the binary and its kubectl/crictl/ctr links.
    if (path === '/install-fail-after-links.sh') return body.replace(marker, 'export KILLALL_K3S_SH=/proc/bramble-lab-unwritable/k3s-killall.sh');
    return undefined;
  }

  /**
   * system-upgrade-controller's repository as the nodes fetch it (Flux's
   * GitRepository of the upgrades layer): the stand-in tree, committed and
   * tagged with the release bramble pins, served read-only over git's plain
   * HTTP protocol by the lab's HTTP server. Returns its URL.
   */
  upgradeControllerRepository(): string {
    return `http://${this.gateway}:8089/git/system-upgrade-controller.git`;
  }

  private buildGitRepos(): void {
    const bare = join(this.root, 'http-git', 'system-upgrade-controller.git');
    if (existsSync(bare)) return;
    const work = join(this.root, 'http-git', 'work');
    run('git', ['init', '-q', '-b', 'master', work]);
    run('cp', ['-r', `${join(STANDINS, 'system-upgrade-controller')}/.`, work]);
    const git = (...args: string[]) => run('git', ['-C', work, '-c', 'user.name=lab', '-c', 'user.email=lab@lab.invalid', ...args]);
    git('add', '-A');
    git('commit', '-q', '-m', 'lab stand-in of the release tree');
    git('tag', PINNED.systemUpgradeController);
    run('git', ['clone', '-q', '--bare', work, bare]);
    run('git', ['-C', bare, 'update-server-info']);
  }

  /** The k3s stand-in binary as an air-gapped install would upload it. */
  static k3sBinary(version: string): string {
    return readFileSync(join(STANDINS, 'k3s'), 'utf8').replace('@@VERSION@@', version);
  }

  /**
   * Serve the install script stand-in on the lab's gateway address, where the
   * nodes reach it; returns its URL (bramble's installScriptUrl).
   */
  async serveInstallScript(): Promise<string> {
    if (!this.http) {
      const body = Lab.installScript();
      this.buildGitRepos();
      const gitRoot = join(this.root, 'http-git');
      this.http = createServer((req, res) => {
        this.downloads.push(req.url ?? '');
        // As a static file server: the query string does not choose the file.
        const path = (req.url ?? '').split('?')[0]!;
        const file = this.served.get(path);
        const variant = Lab.installVariant(body, path);
        const repoFile = path.startsWith('/git/') ? join(gitRoot, normalize(path.slice(5)).replace(/^(\.\.\/)+/, '')) : undefined;
        if (repoFile && existsSync(repoFile) && statSync(repoFile).isFile()) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(readFileSync(repoFile));
        } else if (variant !== undefined) {
          res.writeHead(200, { 'content-type': 'text/x-shellscript' });
          res.end(variant);
        } else if (file) {
          res.writeHead(200, { 'content-type': file.type });
          res.end(file.body);
        } else {
          res.writeHead(404);
          res.end('not found\n');
        }
      });
      await new Promise<void>((r) => this.http!.listen(8089, this.gateway, r));
    }
    return `http://${this.gateway}:8089/install.sh`;
  }

  async stop(): Promise<void> {
    LIVE.delete(this);
    for (const name of [...this.inits.keys()]) await this.powerOff(name);
    await this.stopNas();
    await this.stopGitServer();
    if (this.http) await new Promise((r) => this.http!.close(r));
    this.removeNetwork();
  }

  /** The network and files, once nothing runs in them. */
  private removeNetwork(): void {
    // Only the namespaces that are there: a process per name tried cost more than the rest of the stop.
    const mine = labNames(this.bridge);
    for (const ns of existsSync('/run/netns') ? readdirSync('/run/netns') : []) if (mine.test(ns)) tryRun('ip', ['netns', 'del', ns]);
    tryRun('ip', ['link', 'del', this.bridge]);
    rmSync(this.root, { recursive: true, force: true });
  }

  /**
   * The test process ends with the lab still up (a file that failed before
   * its after() hook was set): kill what runs in it and remove the rest, with
   * the synchronous calls an exit handler can make.
   */
  abandon(): void {
    LIVE.delete(this);
    for (const child of [...this.inits.values(), this.nas?.proc, this.gitProc]) if (child && child.exitCode === null) child.kill('SIGKILL');
    this.removeNetwork();
  }
}
