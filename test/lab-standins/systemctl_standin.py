# Lab stand-in for systemd's systemctl (see docs/testing.md): the simulated
# nodes run no systemd. It takes unit names and unit file paths the way real
# systemctl does, runs a unit's ExecStart line (with its EnvironmentFile=
# files and INVOCATION_ID set, as systemd starts a service),
# keeps which units are enabled, records every call, and refuses what systemd
# refuses: an unknown verb, any operation on a unit that has no unit file,
# starting or enabling a masked unit (a link to /dev/null in /etc or /run).
# Queries (is-enabled, is-active, show) work for any user; only root records.
# shlex is imported where a start needs it, and processes are started with
# os.posix_spawnp, not subprocess: a query (is-enabled, is-active) is most
# calls, and Python's imports were most of what a call cost.
import os, sys, time

STATE = "/var/lib/bramble-lab"
ENABLED = STATE + "/enabled"
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
K3S_STATE = STATE + "/k3s-state.json"
VERBS = ("start", "stop", "restart", "try-restart", "enable", "disable", "is-enabled", "is-active", "show",
         "daemon-reload", "reset-failed", "reboot")


def record(argv):
    try:
        os.makedirs(ENABLED, exist_ok=True)
        with open(STATE + "/systemctl.log", "a") as fh:
            fh.write("%d %s\n" % (int(time.time()), " ".join(argv)))
    except OSError:
        pass


def name_of(arg):
    base = os.path.basename(arg) if arg.startswith("/") else arg
    return base[:-len(".service")] if base.endswith(".service") else base


def unit_file(name):
    for d in UNIT_DIRS:
        p = "%s/%s.service" % (d, name)
        if os.path.isfile(p):
            return p
    return None


def masked(name):
    """The unit's mask: a link to /dev/null where the owner's units override the packages'."""
    for d in UNIT_DIRS[:2]:
        p = "%s/%s.service" % (d, name)
        if os.path.islink(p) and os.path.realpath(p) == "/dev/null":
            return p
    return None


def directives(path, key):
    """Every value of `key` in the unit's [Service] section, continuation lines joined."""
    out, section, buf = [], None, None
    for raw in open(path).read().split("\n"):
        line = raw.rstrip()
        if buf is not None:
            buf += " " + line.rstrip("\\").strip()
            if not line.endswith("\\"):
                out.append(buf.strip())
                buf = None
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and line.startswith(key + "="):
            value = line[len(key) + 1:]
            if value.endswith("\\"):
                buf = value.rstrip("\\")
            else:
                out.append(value.strip())
    if buf is not None:
        out.append(buf.strip())
    return out


def environment(path, name):
    env = dict(os.environ)
    for value in directives(path, "EnvironmentFile"):
        optional = value.startswith("-")
        f = value.lstrip("-").replace("%N", name)
        if not os.path.exists(f):
            if optional:
                continue
            return None
        for line in open(f):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v.strip('"')
    # systemd's invocation id: 128 random bits in hex.
    env["INVOCATION_ID"] = os.urandom(16).hex()
    return env


def is_k3s(name):
    return name == "k3s" or name.startswith("k3s-")


def k3s_running():
    try:
        import json
        return bool(json.load(open(K3S_STATE)).get("running"))
    except (OSError, ValueError):
        return False


def inherited():
    """The fds above 2 a child would inherit (the one listdir opens is closed by then)."""
    out = []
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if fd > 2 and os.get_inheritable(fd):
                out.append(fd)
        except OSError:
            pass
    return out


def run(argv, env=None, null=(), daemon=False):
    """argv run to its end, its exit code as subprocess.run gives it, with the
    fds in `null` on /dev/null; a daemon is left running in its own session."""
    actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in null]
    # As subprocess's close_fds: a child that daemonizes (iscsid) and kept a
    # session's pipe would keep the session's command from ending.
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in inherited()]
    pid = os.posix_spawnp(argv[0], argv, os.environ if env is None else env, file_actions=actions, setsid=daemon)
    return 0 if daemon else os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def iscsid_running():
    return run(["pidof", "iscsid"], null=(1,)) == 0


def start_unit(name, path):
    if name == "iscsid":
        if iscsid_running():
            return 0
        # A node given a kernel with iSCSI (lab.ts, iscsi: true): a stand-in daemon that stays up.
        if os.path.exists("/etc/bramble-lab/iscsi"):
            return run(["/usr/local/lib/bramble-lab/iscsid", "infinity"], null=(0, 1, 2), daemon=True)
        return run(["/sbin/iscsid"])
    if not is_k3s(name):
        return 0
    if k3s_running():
        stop_unit(name)
    env = environment(path, name)
    if env is None:
        return 1
    # ExecStartPre is not run: k3s's (modprobe br_netfilter and overlay) would act on this machine's kernel, not the node's.
    starts = directives(path, "ExecStart")
    if not starts:
        return 1
    # The k3s stand-in registers the node and returns; its state file says it runs.
    import shlex
    return run(shlex.split(starts[0]), env=env)


def stop_unit(name):
    if is_k3s(name) and os.path.exists("/usr/local/bin/k3s"):
        # What SIGTERM to k3s's main process does, for a binary that is no daemon.
        run(["/usr/local/bin/k3s", "_stop"], null=(2,))


def active(name):
    if is_k3s(name):
        return unit_file(name) is not None and k3s_running()
    if name == "iscsid":
        return iscsid_running()
    return False


def enabled(name):
    return os.path.exists("%s/%s" % (ENABLED, name))


def main(argv):
    record(argv)
    flags = {a for a in argv if a.startswith("-")}
    props = []
    args = []
    it = iter(argv)
    for a in it:
        if a in ("-p", "--property"):
            props += next(it, "").split(",")
        elif a.startswith("--property="):
            props += a.split("=", 1)[1].split(",")
        elif not a.startswith("-"):
            args.append(a)
    if not args:
        sys.stderr.write("systemctl (lab stand-in): listing units is not supported\n")
        return 1
    verb, units = args[0], args[1:]
    quiet = "--quiet" in flags or "-q" in flags
    if verb not in VERBS:
        sys.stderr.write("Unknown command verb %s.\n" % verb)
        return 1
    if verb == "daemon-reload":
        return 0
    if verb == "reboot":
        os.execv("/usr/local/sbin/reboot", ["reboot"])
    if not units:
        sys.stderr.write("Too few arguments.\n")
        return 1

    if verb in ("start", "restart", "try-restart", "stop"):
        for u in units:
            name = name_of(u)
            path = unit_file(name)
            if u.startswith("/") or path is None:
                if verb == "stop":
                    sys.stderr.write("Failed to stop %s.service: Unit %s.service not loaded.\n" % (name, name))
                else:
                    sys.stderr.write("Failed to %s %s.service: Unit %s.service not found.\n" % (verb, name, name))
                return 5
            if verb != "stop" and masked(name):
                sys.stderr.write("Failed to %s %s.service: Unit %s.service is masked.\n" % (verb, name, name))
                return 1
            if verb == "stop":
                stop_unit(name)
            elif verb == "try-restart" and not active(name):
                continue
            elif "--no-block" in flags:
                # The job is queued and systemctl returns; whether the unit came up is for is-active to say.
                start_unit(name, path)
            elif start_unit(name, path) != 0:
                sys.stderr.write("Job for %s.service failed because the control process exited with error code.\n" % name)
                return 1
        return 0

    if verb in ("enable", "disable"):
        for u in units:
            name = name_of(u)
            mask = masked(name) if verb == "enable" else None
            if mask:
                sys.stderr.write("Failed to enable unit: Unit file %s is masked.\n" % mask)
                return 1
            path = u if u.startswith("/") else unit_file(name)
            if path is None or not os.path.isfile(path):
                if u.startswith("/"):
                    sys.stderr.write("Failed to %s unit, unit %s does not exist.\n" % (verb, u))
                else:
                    sys.stderr.write("Failed to %s unit: Unit file %s.service does not exist.\n" % (verb, name))
                return 1
            if verb == "enable":
                open("%s/%s" % (ENABLED, name), "w").close()
                if "--now" in flags and start_unit(name, path) != 0:
                    sys.stderr.write("Job for %s.service failed because the control process exited with error code.\n" % name)
                    return 1
            else:
                try:
                    os.remove("%s/%s" % (ENABLED, name))
                except FileNotFoundError:
                    pass
                if "--now" in flags:
                    stop_unit(name)
        return 0

    if verb == "reset-failed":
        name = name_of(units[0])
        if unit_file(name) is None:
            sys.stderr.write("Failed to reset failed state of unit %s.service: Unit %s.service not loaded.\n" % (name, name))
            return 1
        return 0

    name = name_of(units[0])
    path = unit_file(name)
    if verb == "is-enabled":
        if masked(name):
            if not quiet:
                print("masked")
            return 1
        if path is None:
            sys.stderr.write("Failed to get unit file state for %s.service: No such file or directory\n" % name)
            return 1
        state = "enabled" if enabled(name) else "disabled"
        if not quiet:
            print(state)
        return 0 if state == "enabled" else 1
    if verb == "is-active":
        state = "active" if active(name) else "inactive"
        if not quiet:
            print(state)
        return 0 if state == "active" else 3
    # show: the properties bramble and the tests read, as systemd names them.
    mask = masked(name)
    values = {
        "Id": name + ".service",
        "LoadState": "masked" if mask else "loaded" if path else "not-found",
        "ActiveState": "active" if active(name) else "inactive",
        "SubState": "running" if active(name) else "dead",
        "UnitFileState": "masked" if mask else ("enabled" if enabled(name) else "disabled") if path else "",
        "FragmentPath": path or "",
    }
    for k in props or list(values):
        if k in values:
            print("%s=%s" % (k, values[k]) if "--value" not in flags else values[k])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
