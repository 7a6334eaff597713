# Lab stand-in for the k3s binary (see docs/testing.md). It runs no
# Kubernetes. It reads /etc/rancher/k3s/config.yaml and the token file the way
# k3s does, refuses what k3s refuses (a wrong token, a join while another
# server is joining, a critical setting that differs from the first server's),
# writes the files a real install leaves (server token, k3s.yaml), and keeps the
# cluster's node list in a folder shared by the lab's nodes so that
# `k3s kubectl get nodes -o json` answers as the API server would.
# Its kubectl keeps applied objects, applies the auto-deploy manifests folder
# as k3s does, and stands in for Flux's controllers (see flux_controllers):
# sources are fetched with real git over SSH using the flux-system secret,
# Kustomizations are built with real `kubectl kustomize`; charts are not
# installed, and a HelmRelease fails only when a test plants a fault for it.
import json, os, sys, time


class _Later:
    """A module imported when first used: most calls are `--version` or one
    kubectl read, and Python's imports were most of what they cost."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        import importlib
        module = importlib.import_module(self._name)
        globals()[self._name] = module
        return getattr(module, attr)


base64, fcntl, glob, hashlib, re, shutil, socket, yaml = (_Later(n) for n in ("base64", "fcntl", "glob", "hashlib", "re", "shutil", "socket", "yaml"))

VERSION = "@@VERSION@@"
REG = "/var/lib/bramble-lab-cluster"
STATE = "/var/lib/bramble-lab/k3s-state.json"
CONFIG = "/etc/rancher/k3s/config.yaml"
SERVER_TOKEN = "/var/lib/rancher/k3s/server/token"
KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
NODE_PASSWORD = "/etc/rancher/node/password"
CRITICAL = ("disable", "cluster-cidr", "service-cidr", "flannel-backend")


def fail(msg):
    sys.stderr.write("level=fatal msg=\"%s\"\n" % msg)
    sys.exit(1)


def config():
    if not os.path.exists(CONFIG):
        return {}
    return yaml.safe_load(open(CONFIG)) or {}


def entries():
    out = []
    for f in sorted(glob.glob(REG + "/*.json")):
        with open(f) as fh:
            out.append(json.load(fh))
    return out


def save(entry):
    # Every state a node goes through, in the order the cluster saw them (callers hold the Lock).
    with open(REG + "/events.log", "a") as fh:
        fh.write("%s %s\n" % (entry["name"], entry["state"]))
    tmp = "%s/.%s.tmp" % (REG, entry["name"])
    with open(tmp, "w") as fh:
        json.dump(entry, fh)
    os.rename(tmp, "%s/%s.json" % (REG, entry["name"]))


class Lock:
    def __enter__(self):
        os.makedirs(REG, exist_ok=True)
        self.fh = open(REG + "/.lock", "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
    def __exit__(self, *a):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def write_state(running, cfg):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE, "w") as fh:
        json.dump({"running": running, "config": cfg, "version": VERSION, "at": time.time()}, fh)


def write_server_files(cfg, ca, secret):
    """What every server has, the first one and those that joined: the full token and the admin kubeconfig."""
    os.makedirs(os.path.dirname(SERVER_TOKEN), exist_ok=True)
    if not os.path.exists(SERVER_TOKEN):
        with open(SERVER_TOKEN, "w") as fh:
            fh.write("K10%s::server:%s\n" % (ca, secret))
        os.chmod(SERVER_TOKEN, 0o600)
    mode = int(str(cfg.get("write-kubeconfig-mode", "0600")), 8)
    fake = base64.b64encode(("lab-ca-" + ca).encode()).decode()
    with open(KUBECONFIG, "w") as fh:
        yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": fake}}],
            "users": [{"name": "default", "user": {"client-certificate-data": fake, "client-key-data": base64.b64encode(b"lab-key").decode()}}],
            "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
            "current-context": "default",
        }, fh)
    os.chmod(KUBECONFIG, mode)


def start(role):
    cfg = config()
    name = cfg.get("node-name") or socket.gethostname()
    address = cfg.get("node-ip") or ""
    token = cfg.get("token")
    if cfg.get("token-file"):
        try:
            token = open(cfg["token-file"]).read().strip()
        except OSError as e:
            fail("cannot read token file: %s" % e)
    server_url = cfg.get("server")
    first = role == "server" and not server_url
    # A node proves it is the one registered under its name by the password
    # it made on its first start, as k3s's node-passwd check does: a new board
    # under an old name is refused until the old Node object is deleted.
    if not os.path.exists(NODE_PASSWORD):
        os.makedirs(os.path.dirname(NODE_PASSWORD), exist_ok=True)
        with open(NODE_PASSWORD, "w") as fh:
            fh.write(hashlib.sha256(os.urandom(16)).hexdigest())
        os.chmod(NODE_PASSWORD, 0o600)
    password = open(NODE_PASSWORD).read().strip()
    if not token and not first:
        fail("--token is required")
    secret = token.split("::server:")[-1] if token else None
    ca = None
    srv = {}
    prev = next((e for e in entries() if e["name"] == name), None)
    # An etcd member starting again on its own data: etcd finds its peers
    # itself, with no join and no need for the server named in the config to
    # answer first (the cluster has quorum once a majority is up).
    rejoin = (role == "server" and not first and prev is not None and prev.get("etcd")
              and os.path.exists(DB_MARKER) and os.path.exists(SERVER_TOKEN))
    if rejoin:
        ca, srv = prev["ca"], prev
        if secret and secret != prev["secret"]:
            fail("bootstrap data already found and encrypted with different token")
        secret = prev["secret"]
        peer = next((e for e in entries() if e["ca"] == ca and e["name"] != name and e["role"] == "server" and e["state"] == "running"), None)
        for k in CRITICAL if peer else ():
            if cfg.get(k) != peer["critical"].get(k):
                fail("critical configuration value mismatch between servers: %s" % k)
        joining = False
    elif first:
        if os.path.exists(SERVER_TOKEN):
            full = open(SERVER_TOKEN).read().strip()
            ca = full[3:].split("::")[0]
            if secret and secret != full.split("::server:")[-1]:
                fail("bootstrap data already found and encrypted with different token")
        else:
            if not secret:
                secret = hashlib.sha256(os.urandom(32)).hexdigest()
            ca = hashlib.sha256(("ca:" + name + ":" + secret).encode()).hexdigest()
            os.makedirs(os.path.dirname(SERVER_TOKEN), exist_ok=True)
            with open(SERVER_TOKEN, "w") as fh:
                fh.write("K10%s::server:%s\n" % (ca, secret))
            os.chmod(SERVER_TOKEN, 0o600)
        write_server_files(cfg, ca, secret)
        joining = False
    else:
        host = server_url.split("://")[-1].split(":")[0]
        with Lock():
            up = [e for e in entries() if e["address"] == host and e["role"] == "server" and e["state"] == "running"]
            if not up:
                # An API address that kube-vip holds answers from the server that holds it.
                holder = next((h for h in (vip_holder(c, host) for c in sorted({e["ca"] for e in entries()})) if h), None)
                up = [holder] if holder else []
            if not up:
                fail("failed to get CA certs: Get \"%s/cacerts\": dial tcp %s:6443: connect: connection refused" % (server_url, host))
            srv = up[0]
            ca = srv["ca"]
            if secret != srv["secret"] or (token.startswith("K10") and token[3:].split("::")[0] != ca):
                fail("token CA hash does not match the Cluster CA certificate hash")
            if any(e["name"] == name and e["ca"] == ca and e.get("password") not in (None, password) for e in entries()):
                fail("Node password rejected, duplicate hostname or contents of '%s' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag" % NODE_PASSWORD)
            if role == "server":
                if any(e["state"] == "joining" and e["ca"] == ca and e["name"] != name for e in entries()):
                    fail("ETCD join failed: etcdserver: too many learner members in cluster")
                for k in CRITICAL:
                    if cfg.get(k) != srv["critical"].get(k):
                        fail("critical configuration value mismatch between servers: %s" % k)
                # etcd refuses a new member while it has no quorum.
                members = [e for e in entries() if e["ca"] == ca and e.get("etcd") and e["name"] != name]
                if members and sum(1 for e in members if e["state"] == "running") < len(members) // 2 + 1:
                    fail("ETCD join failed: etcdserver: request timed out, possibly due to previous leader failure (cluster has no quorum)")
            save({"name": name, "address": address, "role": role, "state": "joining", "ca": ca, "secret": secret,
                  "critical": {}, "labels": [], "version": VERSION, "etcd": role == "server" and srv.get("etcd", False), "password": password})
        joining = role == "server"
    if joining:
        # etcd's learner window: a second server joining now is refused. Half a second catches two
        # joins started together, which is the mistake to catch; a real join takes longer.
        time.sleep(0.5)
        write_server_files(cfg, ca, secret)
    etcd = role == "server" and (bool(cfg.get("cluster-init")) or (not first and srv.get("etcd", False)))
    if etcd:
        # A member that a cluster reset left out keeps its old etcd data; etcd
        # refuses it until that data is gone (k3s's restore docs: delete
        # server/db on the other servers before they start again).
        generation = cluster_generation(ca)
        mine = open(DB_MARKER).read().strip() if os.path.exists(DB_MARKER) else None
        if mine is not None and int(mine) != generation:
            fail("etcd: member has already been bootstrapped for a cluster that was reset; its data in %s belongs to the old cluster: request cluster ID mismatch" % DB_DIR)
        os.makedirs(os.path.dirname(DB_MARKER), exist_ok=True)
        with open(DB_MARKER, "w") as fh:
            fh.write("%d\n" % generation)
    with Lock():
        save({"name": name, "address": address, "role": role, "state": "running", "ca": ca, "secret": secret,
              "sans": ([address, "127.0.0.1", "localhost", name] + list(cfg.get("tls-san") or [])) if role == "server" else [],
              "critical": {k: cfg.get(k) for k in CRITICAL}, "labels": cfg.get("node-label") or [],
              "taints": cfg.get("node-taint") or [], "version": VERSION, "etcd": etcd, "password": password,
              "unschedulable": any(e.get("unschedulable") for e in entries() if e["name"] == name)})
    write_state(True, cfg)
    if role == "server":
        # k3s's deploy controller applies the auto-deploy folder when the server starts.
        deploy_manifests(ca)


DB_DIR = "/var/lib/rancher/k3s/server/db"
DB_MARKER = DB_DIR + "/etcd/bramble-lab-generation"
SNAPSHOT_DIR = DB_DIR + "/snapshots"


def cluster_generation(ca):
    p = "%s/generation-%s" % (REG, ca[:16])
    return int(open(p).read().strip()) if os.path.exists(p) else 0


def etcd_snapshot(args):
    """`k3s etcd-snapshot save`: a copy of the cluster's objects (the stand-in's
    etcd) in the snapshot folder, an ETCDSnapshotFile for it, and with etcd-s3
    an upload through the settings in the config secret the API serves."""
    cfg = config()
    sub = args[0] if args and not args[0].startswith("-") else "save"
    if sub not in ("save",):
        fail("unsupported in the lab stand-in: etcd-snapshot %s" % sub)
    name = cfg.get("node-name") or socket.gethostname()
    state = json.load(open(STATE)) if os.path.exists(STATE) else {}
    me = next((e for e in entries() if e["name"] == name), None)
    if not state.get("running") or not me or me["role"] != "server":
        fail("etcd-snapshot: the k3s server on this node is not running")
    if not me.get("etcd"):
        fail("etcd datastore disabled: this server runs sqlite (kine); there is no etcd to snapshot")
    ca = me["ca"]
    base = args[args.index("--name") + 1] if "--name" in args else "on-demand"
    now = time.time()
    snap = "%s-%s-%d" % (base, name, int(now))
    folder = cfg.get("etcd-snapshot-dir") or SNAPSHOT_DIR
    os.makedirs(folder, exist_ok=True)
    objects = {}
    root = "%s/objects/%s" % (REG, ca[:16])
    for path in glob.glob(root + "/**/*.json", recursive=True):
        objects[os.path.relpath(path, root)] = json.load(open(path))
    body = json.dumps({"ca": ca, "taken": now, "objects": objects}).encode()
    path = os.path.join(folder, snap)
    with open(path, "wb") as fh:
        fh.write(body)
    os.chmod(path, 0o600)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    with Lock():
        apply_obj(ca, {"apiVersion": "k3s.cattle.io/v1", "kind": "ETCDSnapshotFile", "metadata": {"name": ("local-" + snap).lower()},
                       "spec": {"snapshotName": snap, "nodeName": name, "location": "file://" + path},
                       "status": {"size": str(len(body)), "creationTime": stamp, "readyToUse": True}})
    print("Snapshot %s saved." % snap)
    if not cfg.get("etcd-s3"):
        return
    # etcd-s3-config-secret: every S3 setting from a Secret in kube-system, read when the snapshot is taken.
    sname = cfg.get("etcd-s3-config-secret")
    sec = load_obj(ca, "kube-system", "Secret", sname) if sname else None
    if not sec:
        fail("failed to upload snapshot %s to S3: secrets \"%s\" not found" % (snap, sname))
    data = {k: base64.b64decode(v).decode() for k, v in (sec.get("data") or {}).items()}
    need = ["etcd-s3-endpoint", "etcd-s3-bucket", "etcd-s3-access-key", "etcd-s3-secret-key"]
    missing = [k for k in need if not data.get(k)]
    if missing:
        fail("failed to upload snapshot %s to S3: the config secret %s lacks %s" % (snap, sname, ", ".join(missing)))
    key = "/".join(x for x in (data.get("etcd-s3-folder", "").strip("/"), snap) if x)
    # The lab's stand-in for the NAS's S3 service: a folder per bucket (docs/testing.md).
    dest = "%s/s3/%s/%s" % (REG, data["etcd-s3-bucket"], key)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as fh:
        fh.write(body)
    with Lock():
        apply_obj(ca, {"apiVersion": "k3s.cattle.io/v1", "kind": "ETCDSnapshotFile", "metadata": {"name": ("s3-" + snap).lower()},
                       "spec": {"snapshotName": snap, "nodeName": "s3", "location": "s3://%s/%s" % (data["etcd-s3-bucket"], key),
                                "s3": {"endpoint": data["etcd-s3-endpoint"], "bucket": data["etcd-s3-bucket"], "prefix": data.get("etcd-s3-folder", ""),
                                       "region": data.get("etcd-s3-region", ""), "insecure": data.get("etcd-s3-insecure") == "true"}},
                       "status": {"size": str(len(body)), "creationTime": stamp, "readyToUse": True}})
    print("Snapshot %s uploaded to S3 bucket %s." % (snap, data["etcd-s3-bucket"]))


def cluster_reset(args):
    """`k3s server --cluster-reset --cluster-reset-restore-path=FILE`: the
    cluster's objects become the snapshot's, this server its only etcd
    member; the process exits and k3s is started again without the flags."""
    opts = {}
    for a in args:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            opts[k] = v
    cfg = config()
    name = cfg.get("node-name") or socket.gethostname()
    state = json.load(open(STATE)) if os.path.exists(STATE) else {}
    if state.get("running"):
        fail("listen tcp 127.0.0.1:6444: bind: address already in use (k3s is running on this node: stop it first)")
    me = next((e for e in entries() if e["name"] == name), None)
    if not me or not me.get("etcd"):
        fail("cluster-reset: this node holds no etcd member of a cluster")
    ca = me["ca"]
    path = opts.get("cluster-reset-restore-path")
    if path:
        if path.startswith("file://"):
            path = path[len("file://"):]
        if not os.path.exists(path):
            fail("failed to restore snapshot: stat %s: no such file or directory" % path)
        try:
            snap = json.load(open(path))
        except ValueError:
            fail("failed to restore snapshot %s: snapshot file integrity check failed" % path)
        if snap.get("ca") != ca:
            fail("failed to restore snapshot %s: it was taken from another cluster" % path)
    with Lock():
        # Stricter than k3s, which would reset and leave the cluster split: a
        # server still running its old member is refused (docs/testing.md).
        running = [e["name"] for e in entries() if e["ca"] == ca and e.get("etcd") and e["name"] != name and e["state"] == "running"]
        if running:
            fail("(lab stand-in) servers %s still run their etcd members; stop k3s on every server before a cluster reset" % ", ".join(running))
        if path:
            root = "%s/objects/%s" % (REG, ca[:16])
            shutil.rmtree(root, ignore_errors=True)
            for rel, o in snap["objects"].items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w") as fh:
                    json.dump(o, fh)
        generation = cluster_generation(ca) + 1
        with open("%s/generation-%s" % (REG, ca[:16]), "w") as fh:
            fh.write("%d\n" % generation)
        for e in entries():
            if e["ca"] == ca and e.get("etcd") and e["name"] != name:
                e["etcd"] = False
                save(e)
    os.makedirs(os.path.dirname(DB_MARKER), exist_ok=True)
    with open(DB_MARKER, "w") as fh:
        fh.write("%d\n" % generation)
    print("Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. "
          "Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes.")


def stop():
    cfg = config()
    name = cfg.get("node-name") or socket.gethostname()
    with Lock():
        for e in entries():
            if e["name"] == name:
                e["state"] = "stopped"
                save(e)
    if os.path.exists(STATE):
        write_state(False, cfg)


CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "StorageClass", "ETCDSnapshotFile",
                  "PriorityClass", "PersistentVolume", "CSIDriver", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "ClusterIssuer"}
MANIFESTS = "/var/lib/rancher/k3s/server/manifests"
RESOURCES = {
    "gitrepositories.source.toolkit.fluxcd.io": "GitRepository", "gitrepository": "GitRepository",
    "helmrepositories.source.toolkit.fluxcd.io": "HelmRepository", "helmrepository": "HelmRepository",
    "ocirepositories.source.toolkit.fluxcd.io": "OCIRepository", "ocirepository": "OCIRepository",
    "kustomizations.kustomize.toolkit.fluxcd.io": "Kustomization", "kustomization": "Kustomization",
    "helmreleases.helm.toolkit.fluxcd.io": "HelmRelease", "helmrelease": "HelmRelease",
    "secret": "Secret", "secrets": "Secret",
    "plans.upgrade.cattle.io": "Plan",
    "daemonset": "DaemonSet", "daemonsets": "DaemonSet", "serviceaccount": "ServiceAccount", "serviceaccounts": "ServiceAccount",
    "clusterrole": "ClusterRole", "clusterroles": "ClusterRole", "clusterrolebinding": "ClusterRoleBinding", "clusterrolebindings": "ClusterRoleBinding",
    "etcdsnapshotfiles.k3s.cattle.io": "ETCDSnapshotFile", "etcdsnapshotfile": "ETCDSnapshotFile",
    "backups.longhorn.io": "Backup",
}
# Kinds whose type exists only once their CRD is registered: system-upgrade-controller
# registers plans.upgrade.cattle.io when it starts, and until then the API refuses Plans.
NEEDS_CRD = {"Plan": "plans.upgrade.cattle.io", "Backup": "backups.longhorn.io"}


class NoKind(Exception):
    pass


def object_path(ca, ns, kind, name):
    return "%s/objects/%s/%s/%s/%s.json" % (REG, ca[:16], "_cluster" if kind in CLUSTER_SCOPED else (ns or "default"), kind, name)


def load_obj(ca, ns, kind, name):
    p = object_path(ca, ns, kind, name)
    return json.load(open(p)) if os.path.exists(p) else None


def save_obj(ca, o):
    md = o["metadata"]
    p = object_path(ca, md.get("namespace"), o["kind"], md["name"])
    text = json.dumps(o)
    # The controllers save every object they look at; most calls change none of them.
    try:
        with open(p) as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(p), exist_ok=True)
    tmp = p + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.rename(tmp, p)


BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def apply_obj(ca, o, default_ns="default"):
    """Create or update as the API server does: status is kept, generation counts spec changes."""
    md = o.setdefault("metadata", {})
    crd = NEEDS_CRD.get(o["kind"])
    if crd and not load_obj(ca, None, "CustomResourceDefinition", crd):
        raise NoKind('no matches for kind "%s" in version "%s"' % (o["kind"], o.get("apiVersion")))
    if o["kind"] not in CLUSTER_SCOPED:
        md.setdefault("namespace", default_ns)
        # The API server refuses an object in a namespace that does not exist.
        if md["namespace"] not in BUILTIN_NAMESPACES and not load_obj(ca, None, "Namespace", md["namespace"]):
            raise NoKind('namespaces "%s" not found' % md["namespace"])
    if o["kind"] == "Secret" and "stringData" in o:
        # The API server folds stringData into data and keeps no stringData.
        data = o.setdefault("data", {}) or {}
        for k, v in (o.pop("stringData") or {}).items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        o["data"] = data
    old = load_obj(ca, md.get("namespace"), o["kind"], md["name"])
    # Flux's ssa: IfNotPresent creates an object and never changes it afterwards.
    if old and (md.get("annotations") or {}).get("kustomize.toolkit.fluxcd.io/ssa") == "IfNotPresent":
        return True
    gen = 1
    if old:
        gen = old["metadata"].get("generation", 1) + (0 if old.get("spec") == o.get("spec") else 1)
        if "status" in old:
            o["status"] = old["status"]
        anns = dict(old["metadata"].get("annotations") or {})
        anns.update(md.get("annotations") or {})
        if anns:
            md["annotations"] = anns
    md["generation"] = gen
    save_obj(ca, o)
    return old is not None


def list_objs(ca, kind):
    out = []
    for p in sorted(glob.glob("%s/objects/%s/*/%s/*.json" % (REG, ca[:16], kind))):
        out.append(json.load(open(p)))
    return out


def deploy_manifests(ca):
    """k3s's deploy controller: apply every manifest in the auto-deploy folder that changed."""
    if not os.path.isdir(MANIFESTS):
        return
    seen_file = "%s/objects/%s/.deployed.json" % (REG, ca[:16])
    # The servers share this record and every kubectl call runs the controller: one at a time, or a
    # call reads the record while another rewrites it (status sends its reads at once).
    os.makedirs(os.path.dirname(seen_file), exist_ok=True)
    with open(seen_file + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        deploy_manifests_locked(ca, seen_file)


def deploy_manifests_locked(ca, seen_file):
    seen = json.load(open(seen_file)) if os.path.exists(seen_file) else {}
    changed = False
    for f in sorted(os.listdir(MANIFESTS)):
        if not f.endswith((".yaml", ".yml", ".json")) or f.startswith("."):
            continue
        st = os.stat(os.path.join(MANIFESTS, f))
        stamp = "%d:%d" % (st.st_mtime_ns, st.st_size)
        if seen.get(f) == stamp:
            continue
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs = [d for d in yaml.load_all(open(os.path.join(MANIFESTS, f)), Loader=loader)
                if isinstance(d, dict) and d.get("kind") and d.get("metadata", {}).get("name")]
        docs.sort(key=lambda d: 0 if d["kind"] in ("CustomResourceDefinition", "Namespace") else 1)
        try:
            for doc in docs:
                apply_obj(ca, doc)
        except NoKind:
            # k3s's deploy controller retries a file that did not apply.
            continue
        seen[f] = stamp
        changed = True
    if changed:
        with open(seen_file + ".tmp", "w") as fh:
            json.dump(seen, fh)
        os.rename(seen_file + ".tmp", seen_file)


# --- kube-vip, stood in for ---------------------------------------------
# No address is announced and nothing listens: the stand-in answers for an API
# address only when what kube-vip needs to hold it is in the cluster, as kube-vip
# would: a DaemonSet in control-plane mode for that address, on the host network,
# with its ServiceAccount and the RBAC to take the leader lease, and a running
# server its affinity and tolerations let it onto. The holder is the first such
# server by name; when it stops, the next one holds the address.

def node_labels(e):
    labels = dict(l.split("=", 1) for l in e.get("labels", []))
    labels["kubernetes.io/hostname"] = e["name"]
    if e["role"] == "server":
        labels["node-role.kubernetes.io/control-plane"] = "true"
        labels["node-role.kubernetes.io/master"] = "true"
        if e.get("etcd"):
            labels["node-role.kubernetes.io/etcd"] = "true"
    return labels


def schedulable(e, spec):
    labels = node_labels(e)
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    def term_ok(t):
        for x in t.get("matchExpressions") or []:
            k, op, vals = x["key"], x["operator"], x.get("values") or []
            if (op == "Exists" and k not in labels) or (op == "DoesNotExist" and k in labels) or \
               (op == "In" and labels.get(k) not in vals) or (op == "NotIn" and labels.get(k) in vals):
                return False
        return True
    if terms and not any(term_ok(t) for t in terms):
        return False
    for t in e.get("taints", []):
        key, effect = t.split(":")[0].split("=")[0], t.split(":")[-1]
        value = t.split(":")[0].split("=")[1] if "=" in t.split(":")[0] else ""
        if effect == "PreferNoSchedule":
            continue
        if not any((tol.get("effect") in (None, "", effect)) and (
                (tol.get("operator") == "Exists" and tol.get("key") in (None, "", key)) or
                (tol.get("operator", "Equal") == "Equal" and tol.get("key") == key and tol.get("value", "") == value))
                for tol in spec.get("tolerations") or []):
            return False
    return True


def may_take_leases(ca, ns, sa):
    for b in list_objs(ca, "ClusterRoleBinding"):
        if not any(x.get("kind") == "ServiceAccount" and x.get("name") == sa and x.get("namespace") == ns for x in b.get("subjects") or []):
            continue
        role = load_obj(ca, None, "ClusterRole", b["roleRef"]["name"]) if b["roleRef"]["kind"] == "ClusterRole" else None
        for r in (role or {}).get("rules") or []:
            verbs = set(r.get("verbs") or [])
            if "coordination.k8s.io" in (r.get("apiGroups") or []) and "leases" in (r.get("resources") or []) and ("*" in verbs or {"get", "create", "update"} <= verbs):
                return True
    return False


def vip_holder(ca, host):
    """The registry entry of the server that holds `host` for kube-vip, or None."""
    for ds in list_objs(ca, "DaemonSet"):
        spec = ds["spec"]["template"]["spec"]
        ns = ds["metadata"].get("namespace", "default")
        for c in spec.get("containers") or []:
            env = {x["name"]: x.get("value") for x in c.get("env") or []}
            if (env.get("address") or env.get("vip_address")) != host or env.get("cp_enable") != "true":
                continue
            # Without the host network the address would land in the pod's own namespace.
            if not spec.get("hostNetwork"):
                continue
            sa = spec.get("serviceAccountName") or "default"
            if not load_obj(ca, ns, "ServiceAccount", sa) or (env.get("vip_leaderelection") == "true" and not may_take_leases(ca, ns, sa)):
                continue
            for e in sorted(entries(), key=lambda x: x["name"]):
                if e["ca"] == ca and e["role"] == "server" and e["state"] == "running" and schedulable(e, spec):
                    return dict(e, lease=env.get("vip_leasename", "plndr-cp-lock"), lease_ns=env.get("cp_namespace", "kube-system"))
    return None


def vip_addresses(ca):
    out = []
    for ds in list_objs(ca, "DaemonSet"):
        for c in ds["spec"]["template"]["spec"].get("containers") or []:
            env = {x["name"]: x.get("value") for x in c.get("env") or []}
            if env.get("address") or env.get("vip_address"):
                out.append(env.get("address") or env.get("vip_address"))
    return out


def reach(ca, url):
    """What a client sees connecting to the API at `url`: None when it answers, else kubectl's error."""
    host = url.split("://")[-1].split("/")[0].rsplit(":", 1)[0]
    e = next((x for x in entries() if x["ca"] == ca and x["role"] == "server" and x["state"] == "running" and x["address"] == host), None) or vip_holder(ca, host)
    if not e:
        return "Unable to connect to the server: dial tcp %s:6443: i/o timeout" % host
    if host not in e.get("sans", []):
        return "Unable to connect to the server: tls: failed to verify certificate: x509: certificate is valid for %s, not %s" % (", ".join(e.get("sans", [])), host)
    return None


# --- Flux's controllers, stood in for ---------------------------------------
# They act when the API is read, one wave per read: objects that exist at the
# start of a read are reconciled; what they create waits for the next read.

def set_ready(o, status, reason, message, stalled=None):
    st = o.setdefault("status", {})
    conds = [c for c in st.get("conditions", []) if c["type"] not in ("Ready", "Stalled")]
    conds.append({"type": "Ready", "status": status, "reason": reason, "message": message})
    if stalled:
        conds.append({"type": "Stalled", "status": "True", "reason": stalled[0], "message": stalled[1]})
    st["conditions"] = conds
    st["observedGeneration"] = o["metadata"].get("generation", 1)


def ready(o):
    return o is not None and any(c["type"] == "Ready" and c["status"] == "True" for c in o.get("status", {}).get("conditions", []))


def failed(o):
    conds = {c["type"]: c for c in (o or {}).get("status", {}).get("conditions", [])}
    return conds.get("Stalled", {}).get("status") == "True" or (
        conds.get("Ready", {}).get("status") == "False" and conds["Ready"].get("reason") in ("InstallFailed", "UpgradeFailed", "BuildFailed", "HealthCheckFailed", "GitOperationFailed", "AuthenticationFailed"))


def requested(o):
    return (o["metadata"].get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")


def duration(text):
    total = 0
    for n, unit in __import__("re").findall(r"(\d+)(h|m|s)", text or "1m"):
        total += int(n) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total or 60


def lab_host(host):
    return host.startswith("198.18.") or host.startswith("198.19.") or host.startswith("127.")


def fetch_due(repo, now):
    """Whether a source is fetched in this wave, as source-controller decides
    for a Git or OCI repository: no artifact yet, a requested reconcile, its
    interval past, or a changed spec. When due, the wave is recorded."""
    st, md = repo.setdefault("status", {}), repo["metadata"]
    due = (not st.get("artifact") or requested(repo) != st.get("lastHandledReconcileAt")
           or now - st.get("fetchedAt", 0) >= duration(repo["spec"].get("interval"))
           or st.get("observedGeneration") != md.get("generation"))
    if due:
        st["lastHandledReconcileAt"] = requested(repo)
        st["fetchedAt"] = now
    return due


def fetch_source(ca, repo, now):
    spec, st, md = repo["spec"], repo.setdefault("status", {}), repo["metadata"]
    if not fetch_due(repo, now):
        return
    # Imported only for a fetch: most kubectl calls find no source due.
    import shutil, subprocess, tempfile, urllib.parse
    url = spec["url"]
    host = urllib.parse.urlparse(url).hostname if "://" in url else url.split("@")[-1].split(":")[0]
    if not lab_host(host or ""):
        return set_ready(repo, "False", "GitOperationFailed",
                         "lab stand-in: will not connect to %s; tests reach only lab addresses (198.18.0.0/15) and loopback" % host)
    ref = (spec.get("secretRef") or {}).get("name")
    secret = load_obj(ca, md["namespace"], "Secret", ref) if ref else None
    if ref and not secret:
        return set_ready(repo, "False", "AuthenticationFailed", "secrets \"%s\" not found" % ref)
    tag = (spec.get("ref") or {}).get("tag")
    branch = tag or (spec.get("ref") or {}).get("branch", "master")
    wanted = ("refs/tags/" if tag else "refs/heads/") + branch
    tmp = tempfile.mkdtemp(prefix="flux-source-")
    try:
        env = dict(os.environ)
        if secret:
            data = secret.get("data", {})
            ident, kh = os.path.join(tmp, "identity"), os.path.join(tmp, "known_hosts")
            for path, key in ((ident, "identity"), (kh, "known_hosts")):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.write(fd, base64.b64decode(data.get(key, "")))
                os.close(fd)
            env["GIT_SSH_COMMAND"] = ("ssh -i %s -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=%s "
                                      "-o StrictHostKeyChecking=yes -o ConnectTimeout=10" % (ident, kh))
        r = subprocess.run(["git", "ls-remote", url, wanted], env=env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            last = [l for l in r.stderr.strip().splitlines() if l.strip()]
            return set_ready(repo, "False", "GitOperationFailed",
                             "failed to checkout and determine revision: unable to list remote for '%s': %s" % (url, last[0] if last else r.returncode))
        if not r.stdout.strip():
            return set_ready(repo, "False", "GitOperationFailed", "failed to checkout and determine revision: %s '%s' not found" % ("tag" if tag else "branch", branch))
        sha = r.stdout.split()[0]
        where = "%s/flux/%s/%s-%s-%s" % (REG, ca[:16], md["namespace"], md["name"], sha)
        if not os.path.isdir(where):
            # git's plain HTTP protocol (a static mirror) has no shallow clones.
            depth = [] if url.startswith(("http://", "https://")) else ["--depth", "1"]
            c = subprocess.run(["git", "clone", "-q"] + depth + ["-b", branch, url, where + ".tmp"], env=env, capture_output=True, text=True, timeout=120)
            if c.returncode != 0:
                return set_ready(repo, "False", "GitOperationFailed", "failed to checkout: %s" % c.stderr.strip())
            os.rename(where + ".tmp", where)
        revision = "%s@sha1:%s" % (branch, sha)
        st["artifact"] = {"revision": revision, "path": where}
        set_ready(repo, "True", "Succeeded", "stored artifact for revision '%s'" % revision)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
FLUX_CONTENT = "application/vnd.cncf.flux.content.v1.tar+gzip"


def fetch_oci(ca, repo, now):
    """source-controller's OCIRepository: the tag's manifest and Flux's
    content layer over the OCI distribution API, the layer's digest checked,
    unpacked as the artifact. Like Flux it refuses plain HTTP unless
    spec.insecure is set; it cannot check cosign signatures, so it refuses
    spec.verify rather than pretend to have checked one."""
    spec, st, md = repo["spec"], repo.setdefault("status", {}), repo["metadata"]
    if not fetch_due(repo, now):
        return
    # As in fetch_source: urllib.request alone took 38 ms to import, more than the rest of a call.
    import io, tarfile, urllib.request, urllib.error
    url = spec.get("url", "")
    m = re.match(r"^oci://([^/:]+)(?::(\d+))?/(.+)$", url)
    if not m:
        return set_ready(repo, "False", "OCIOperationFailed", "invalid OCI URL '%s'" % url)
    host, port, name = m.group(1), m.group(2) or "443", m.group(3)
    if not lab_host(host):
        return set_ready(repo, "False", "OCIOperationFailed",
                         "lab stand-in: will not connect to %s; tests reach only lab addresses (198.18.0.0/15) and loopback" % host)
    if spec.get("verify"):
        return set_ready(repo, "False", "VerificationError", "lab stand-in: cannot verify cosign signatures; the lab serves an unsigned artifact")
    if not spec.get("insecure"):
        return set_ready(repo, "False", "OCIOperationFailed",
                         "failed to determine artifact digest: Get \"https://%s:%s/v2/\": http: server gave HTTP response to HTTPS client" % (host, port))
    tag = (spec.get("ref") or {}).get("tag", "latest")
    base = "http://%s:%s/v2/%s" % (host, port, name)
    try:
        req = urllib.request.Request("%s/manifests/%s" % (base, tag), headers={"Accept": OCI_MANIFEST})
        raw = urllib.request.urlopen(req, timeout=30).read()
        manifest = json.loads(raw)
        layer = next((l for l in manifest.get("layers", []) if l.get("mediaType") == FLUX_CONTENT), None)
        if not layer:
            return set_ready(repo, "False", "OCIOperationFailed", "failed to pull artifact from '%s': no layer of type %s" % (url, FLUX_CONTENT))
        blob = urllib.request.urlopen("%s/blobs/%s" % (base, layer["digest"]), timeout=60).read()
    except urllib.error.HTTPError as e:
        return set_ready(repo, "False", "OCIOperationFailed", "failed to determine artifact digest: %s:%s: %s %s" % (url, tag, e.code, "MANIFEST_UNKNOWN" if e.code == 404 else e.reason))
    except (urllib.error.URLError, OSError) as e:
        return set_ready(repo, "False", "OCIOperationFailed", "failed to determine artifact digest: %s" % e)
    if "sha256:" + hashlib.sha256(blob).hexdigest() != layer["digest"]:
        return set_ready(repo, "False", "OCIOperationFailed", "failed to pull artifact: layer digest mismatch")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    where = "%s/flux/%s/%s-%s-%s" % (REG, ca[:16], md["namespace"], md["name"], digest[7:19])
    if not os.path.isdir(where):
        os.makedirs(where + ".tmp", exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as t:
            for member in t.getmembers():
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name.split("/"):
                    return set_ready(repo, "False", "OCIOperationFailed", "failed to extract artifact: unsafe entry '%s'" % member.name)
            t.extractall(where + ".tmp")
        os.rename(where + ".tmp", where)
    revision = "%s@%s" % (tag, digest)
    st["artifact"] = {"revision": revision, "path": where}
    set_ready(repo, "True", "Succeeded", "stored artifact for digest '%s'" % revision)


class DecryptFailed(Exception):
    pass


ENC_VALUE = re.compile(r"^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$")


def sops_data_key(meta, identities):
    """The file's data key, opened with Debian's age binary and the keys of the decryption Secret."""
    import subprocess, tempfile
    fd, path = tempfile.mkstemp(prefix="sops-age-")
    try:
        os.write(fd, ("\n".join(identities) + "\n").encode())
        os.close(fd)
        for stanza in meta.get("age") or []:
            r = subprocess.run(["age", "--decrypt", "-i", path], input=(stanza.get("enc") or "").encode(), capture_output=True, timeout=30)
            if r.returncode == 0 and len(r.stdout) == 32:
                return r.stdout
    finally:
        os.unlink(path)
    raise DecryptFailed("failed to get the data key required to decrypt the SOPS file")


def sops_value(key, text, ad):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    m = ENC_VALUE.match(text)
    if not m:
        raise DecryptFailed("not an encrypted value")
    data, iv, tag = (base64.b64decode(m.group(i)) for i in (1, 2, 3))
    try:
        return AESGCM(key).decrypt(iv, data + tag, ad.encode()), m.group(4)
    except InvalidTag:
        raise DecryptFailed("cipher: message authentication failed")


def sops_decrypt(doc, identities):
    """What kustomize-controller does to a SOPS-encrypted object after the
    build: open the data key and decrypt each ENC[...] value with its key path
    as additional data. Like kustomize-controller it does not check the MAC:
    the build reorders keys and injects fields, so the MAC of a built object
    never matches (kustomize-controller's checkSopsMac is off; each value is
    still authenticated by AES-GCM). Written apart from bramble's TypeScript
    (Python's cryptography and Debian's age binary) so the lab does not read
    bramble's files with bramble's own code."""
    key = sops_data_key(doc.get("sops") or {}, identities)

    def walk(node, path):
        if isinstance(node, dict):
            return {k: walk(v, path + [str(k)]) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, path) for v in node]
        if isinstance(node, str) and node.startswith("ENC[AES256_GCM,"):
            try:
                plain, kind = sops_value(key, node, ":".join(path) + ":")
            except DecryptFailed as e:
                raise DecryptFailed("%s: %s" % (".".join(path), e))
            text = plain.decode()
            return {"int": int, "float": float, "bool": lambda t: t.lower() == "true"}.get(kind, str)(text)
        return node

    return walk({k: v for k, v in doc.items() if k != "sops"}, [])


def decryption_keys(dsec):
    return [l.strip() for k, v in sorted((dsec.get("data") or {}).items()) if k.endswith(".agekey")
            for l in base64.b64decode(v).decode().splitlines() if l.strip().startswith("AGE-SECRET-KEY-")]


def reconcile_kustomization(ca, ks):
    import subprocess
    spec, md, st = ks["spec"], ks["metadata"], ks.setdefault("status", {})
    sref = spec.get("sourceRef", {})
    src = load_obj(ca, sref.get("namespace", md["namespace"]), sref.get("kind", "GitRepository"), sref.get("name"))
    if not src or not (src.get("status") or {}).get("artifact"):
        if src and failed(src):
            return set_ready(ks, "False", "ArtifactFailed", "Source artifact not found, retrying in 30s")
        return set_ready(ks, "Unknown", "Progressing", "waiting for the source artifact")
    for d in spec.get("dependsOn") or []:
        dep = load_obj(ca, d.get("namespace", md["namespace"]), "Kustomization", d["name"])
        if not ready(dep):
            return set_ready(ks, "False", "DependencyNotReady", "dependency '%s/%s' is not ready" % (d.get("namespace", md["namespace"]), d["name"]))
    # Decryption as kustomize-controller sets it up: the named secret must exist and hold an age key.
    dec = spec.get("decryption")
    dsec = None
    if dec:
        dname = (dec.get("secretRef") or {}).get("name")
        dsec = load_obj(ca, md["namespace"], "Secret", dname) if dname else None
        if dname and not dsec:
            return set_ready(ks, "False", "ReconciliationFailed", "cannot get sops SOPS age decryption Secret '%s': secrets \"%s\" not found" % (dname, dname))
        if dname and not any(k.endswith(".agekey") for k in (dsec.get("data") or {})):
            return set_ready(ks, "False", "ReconciliationFailed", "decryption Secret '%s' holds no key ending in .agekey" % dname)
    revision = src["status"]["artifact"]["revision"]
    if (st.get("lastAppliedRevision") != revision or requested(ks) != st.get("lastHandledReconcileAt")
            or st.get("observedGeneration") != md.get("generation")):
        path = os.path.normpath(os.path.join(src["status"]["artifact"]["path"], spec.get("path", "./")))
        r = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, timeout=60)
        st["lastHandledReconcileAt"] = requested(ks)
        if r.returncode != 0:
            return set_ready(ks, "False", "BuildFailed", "kustomize build failed: %s" % r.stderr.strip())
        inventory = []
        docs = [d for d in yaml.safe_load_all(r.stdout) if isinstance(d, dict)]
        # As Flux does: definitions first, so a CRD and its objects can come in one apply.
        docs.sort(key=lambda d: 0 if d.get("kind") in ("CustomResourceDefinition", "Namespace") else 1)
        for i, doc in enumerate(docs):
            if doc.get("sops") and not dec:
                return set_ready(ks, "False", "ReconciliationFailed", "%s/%s is SOPS encrypted, configuring decryption is required for this secret" % (doc["kind"], doc["metadata"]["name"]))
            if doc.get("sops"):
                try:
                    docs[i] = sops_decrypt(doc, decryption_keys(dsec) if dsec else [])
                except DecryptFailed as e:
                    return set_ready(ks, "False", "ReconciliationFailed", "failed to decrypt and format '%s/%s' %s data: %s" % (doc["metadata"].get("namespace", ""), doc["metadata"]["name"], doc["kind"], e))
        for doc in docs:
            try:
                apply_obj(ca, doc, spec.get("targetNamespace", "default"))
            except NoKind as e:
                return set_ready(ks, "False", "ReconciliationFailed", "%s/%s dry-run failed: %s" % (doc["kind"], doc["metadata"]["name"], e))
            inventory.append([doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]])
        st["inventory"] = inventory
        st["lastAppliedRevision"] = revision
    if spec.get("wait"):
        children = [load_obj(ca, ns, kind, name) for kind, ns, name in st.get("inventory", [])
                    if kind in ("HelmRelease", "Kustomization", "HelmRepository", "GitRepository", "OCIRepository")]
        bad = [c for c in children if failed(c)]
        if bad:
            c = bad[0]
            return set_ready(ks, "False", "HealthCheckFailed", "health check failed after 0s: %s/%s/%s status: 'Failed'"
                             % (c["kind"], c["metadata"]["namespace"], c["metadata"]["name"]))
        if not all(ready(c) for c in children):
            return set_ready(ks, "Unknown", "Progressing", "running health checks for revision %s" % revision)
    set_ready(ks, "True", "ReconciliationSucceeded", "Applied revision: %s" % revision)


def reconcile_helmrelease(ca, hr):
    spec, md, st = hr["spec"], hr["metadata"], hr.setdefault("status", {})
    chart = (spec.get("chart") or {}).get("spec") or {}
    release = "%s/%s" % (md["namespace"], spec.get("releaseName", md["name"]))
    fault = "%s/faults/HelmRelease/%s/%s" % (REG, md["namespace"], md["name"])
    if os.path.exists(fault):
        why = open(fault).read().strip()
        return set_ready(hr, "False", "InstallFailed", "Helm install failed for release %s with chart %s@%s: %s" % (release, chart.get("chart"), chart.get("version"), why),
                         stalled=("RetriesExceeded", "Failed to install after 1 attempt(s)"))
    sref = chart.get("sourceRef") or {}
    source = load_obj(ca, sref.get("namespace", md["namespace"]), sref.get("kind", "HelmRepository"), sref.get("name"))
    if not ready(source):
        return set_ready(hr, "Unknown", "Progressing", "HelmChart '%s/%s-%s' is not ready" % (sref.get("namespace", md["namespace"]), md["namespace"], md["name"]))
    for d in spec.get("dependsOn") or []:
        if not ready(load_obj(ca, d.get("namespace", md["namespace"]), "HelmRelease", d["name"])):
            return set_ready(hr, "False", "DependencyNotReady", "dependency '%s/%s' is not ready" % (d.get("namespace", md["namespace"]), d["name"]))
    st["history"] = [{"chartVersion": chart.get("version"), "chartName": chart.get("chart"), "status": "deployed"}]
    set_ready(hr, "True", "InstallSucceeded", "Helm install succeeded for release %s.v1 with chart %s@%s" % (release, chart.get("chart"), chart.get("version")))


def flux_controllers(ca):
    if not all(load_obj(ca, "flux-system", "Deployment", d) for d in ("source-controller", "kustomize-controller", "helm-controller")):
        return
    now = time.time()
    with Lock():
        snapshot = {k: list_objs(ca, k) for k in ("GitRepository", "OCIRepository", "HelmRepository", "HelmRelease", "Kustomization")}
        for repo in snapshot["GitRepository"]:
            fetch_source(ca, repo, now)
            save_obj(ca, repo)
        for repo in snapshot["OCIRepository"]:
            fetch_oci(ca, repo, now)
            save_obj(ca, repo)
        for repo in snapshot["HelmRepository"]:
            set_ready(repo, "True", "Succeeded", "stored artifact: revision 'sha256:%s'" % hashlib.sha256(repo["spec"].get("url", "").encode()).hexdigest()[:12])
            save_obj(ca, repo)
        for hr in snapshot["HelmRelease"]:
            cur = load_obj(ca, hr["metadata"]["namespace"], "HelmRelease", hr["metadata"]["name"])
            reconcile_helmrelease(ca, cur)
            save_obj(ca, cur)
        for ks in snapshot["Kustomization"]:
            cur = load_obj(ca, ks["metadata"]["namespace"], "Kustomization", ks["metadata"]["name"])
            reconcile_kustomization(ca, cur)
            save_obj(ca, cur)


def kubectl(args):
    state = json.load(open(STATE)) if os.path.exists(STATE) else {}
    if not state.get("running") or not os.path.exists(SERVER_TOKEN):
        sys.stderr.write("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n")
        sys.exit(1)
    ca = open(SERVER_TOKEN).read().strip()[3:].split("::")[0]
    # Without an etcd quorum the API server answers nothing.
    members = [e for e in entries() if e["ca"] == ca and e.get("etcd")]
    if members and sum(1 for e in members if e["state"] == "running") < len(members) // 2 + 1:
        sys.stderr.write("Error from server: etcdserver: request timed out\n")
        sys.exit(1)
    deploy_manifests(ca)
    server = None
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--server", "-s"):
            server, i = args[i + 1], i + 2
            continue
        if a.startswith("--server="):
            server = a.split("=", 1)[1]
        elif not a.startswith("--request-timeout"):
            rest.append(a)
        i += 1
    args = rest
    if server:
        problem = reach(ca, server)
        if problem:
            sys.stderr.write(problem + "\n")
            sys.exit(1)
    opt = lambda flag, default=None: args[args.index(flag) + 1] if flag in args else default
    if args[:1] == ["get"] and ("--raw=/readyz" in args or args[1:3] == ["--raw", "/readyz"]):
        print("ok")
        return
    if args[:2] == ["get", "lease"]:
        name, ns = args[2], opt("-n", "default")
        holders = [h for h in (vip_holder(ca, env_addr) for env_addr in vip_addresses(ca)) if h and h["lease"] == name and h["lease_ns"] == ns]
        if not holders:
            sys.stderr.write('Error from server (NotFound): leases.coordination.k8s.io "%s" not found\n' % name)
            sys.exit(1)
        print(json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": ns}, "spec": {"holderIdentity": holders[0]["name"]}}))
        return
    if args[:1] == ["delete"] and any("/" in a for a in args[1:]):
        ns = opt("-n", "default")
        for t in [a for a in args[1:] if "/" in a]:
            kind = RESOURCES.get(t.split("/")[0].lower())
            p = object_path(ca, ns, kind, t.split("/", 1)[1]) if kind else None
            if p and os.path.exists(p):
                os.remove(p)
                print('%s "%s" deleted' % (t.split("/")[0].lower(), t.split("/", 1)[1]))
            elif "--ignore-not-found" not in args:
                sys.stderr.write('Error from server (NotFound): %s not found\n' % t)
                sys.exit(1)
        return
    if args[:1] in (["cordon"], ["uncordon"], ["drain"]) or args[:2] == ["delete", "node"]:
        name = args[2] if args[0] == "delete" else args[1]
        with Lock():
            found = [e for e in entries() if e["ca"] == ca and e["name"] == name]
            if not found:
                sys.stderr.write('Error from server (NotFound): nodes "%s" not found\n' % name)
                sys.exit(1)
            e = found[0]
            if args[0] == "delete":
                # k3s takes a deleted server's etcd member out of the cluster with it.
                os.remove("%s/%s.json" % (REG, name))
                print('node "%s" deleted' % name)
                return
            if args[0] == "drain" and e["state"] != "running":
                sys.stderr.write("error: unable to drain node \"%s\": pods on it are not responding; timed out waiting for the condition (--timeout %s)\n" % (name, opt("--timeout", "0s")))
                sys.exit(1)
            e["unschedulable"] = args[0] != "uncordon"
            e.setdefault("drained", False)
            if args[0] == "drain":
                e["drained"] = True
            save(e)
        print("node/%s %s" % (name, {"cordon": "cordoned", "uncordon": "uncordoned", "drain": "drained"}[args[0]]))
        return
    if args[:2] == ["apply", "-f"] and args[2:3] == ["-"]:
        # Objects are kept as the API server would keep them; apply reads stdin only.
        doc = yaml.safe_load(sys.stdin.read())
        items = doc.get("items", []) if doc.get("kind") == "List" else [doc]
        for o in items:
            try:
                existed = apply_obj(ca, o)
            except NoKind as e:
                sys.stderr.write('Error from server (NotFound): error when creating "STDIN": %s\n' % e)
                sys.exit(1)
            print("%s/%s %s" % (o["kind"].lower(), o["metadata"]["name"], "configured" if existed else "created"))
        return
    if args[:2] == ["get", "deployments"] and "json" in " ".join(args):
        ns = opt("-n", "default")
        items = [o for o in list_objs(ca, "Deployment") if o["metadata"].get("namespace") == ns]
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        return
    if args[:2] in (["get", "daemonset"], ["get", "daemonsets"]) and len(args) > 2 and not args[2].startswith("-"):
        # As the API answers: the object, or NotFound naming the resource as kubectl does.
        name, ns = args[2], opt("-n", "default")
        o = load_obj(ca, ns, "DaemonSet", name)
        if not o:
            sys.stderr.write('Error from server (NotFound): daemonsets.apps "%s" not found\n' % name)
            sys.exit(1)
        print(json.dumps(o))
        return
    if args[:2] == ["get", "secret"]:
        # As kubectl: each name named is read; one name prints the object, several a List of those
        # found; a missing one is an error unless --ignore-not-found, which prints nothing for none found.
        ns, names, rest = opt("-n", "default"), [], iter(args[2:])
        for a in rest:
            if a in ("-n", "-o", "--namespace", "--output"):
                next(rest, None)
            elif not a.startswith("-"):
                names.append(a)
        found = [o for o in (load_obj(ca, ns, "Secret", n) for n in names) if o]
        missing = [n for n in names if not load_obj(ca, ns, "Secret", n)]
        if len(names) == 1 and found:
            print(json.dumps(found[0]))
        elif len(names) > 1 and (found or "--ignore-not-found" not in args):
            print(json.dumps({"apiVersion": "v1", "kind": "List", "items": found, "metadata": {"resourceVersion": ""}}))
        if missing and "--ignore-not-found" not in args:
            for n in missing:
                sys.stderr.write('Error from server (NotFound): secrets "%s" not found\n' % n)
            sys.exit(1)
        return
    if args[:2] == ["delete", "secret"]:
        p = object_path(ca, opt("-n", "default"), "Secret", args[2])
        if os.path.exists(p):
            os.remove(p)
            print('secret "%s" deleted' % args[2])
        elif "--ignore-not-found" not in args:
            sys.stderr.write('Error from server (NotFound): secrets "%s" not found\n' % args[2])
            sys.exit(1)
        return
    if args[:1] == ["wait"] and "condition=established" in " ".join(args):
        for a in args:
            if a.startswith("crd/") and not load_obj(ca, None, "CustomResourceDefinition", a[4:]):
                sys.stderr.write('Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "%s" not found\n' % a[4:])
                sys.exit(1)
        for a in args:
            if a.startswith("crd/"):
                print("customresourcedefinition.apiextensions.k8s.io/%s condition met" % a[4:])
        return
    if args[:1] == ["annotate"]:
        ns = opt("-n", "default")
        targets = [a for a in args[1:] if "/" in a and "=" not in a]
        pairs = [a for a in args[1:] if "=" in a and not a.startswith("-")]
        with Lock():
            for t in targets:
                kind = RESOURCES.get(t.split("/")[0].lower())
                o = load_obj(ca, ns, kind, t.split("/")[1]) if kind else None
                if not o:
                    sys.stderr.write('Error from server (NotFound): %s not found\n' % t)
                    sys.exit(1)
                anns = o["metadata"].setdefault("annotations", {})
                for p in pairs:
                    k, v = p.split("=", 1)
                    anns[k] = v
                save_obj(ca, o)
                print("%s annotated" % t)
        return
    if args[:1] == ["get"] and len(args) > 1 and all(r in RESOURCES for r in args[1].split(",")) and "-A" in args:
        flux_controllers(ca)
        for r in args[1].split(","):
            crd = NEEDS_CRD.get(RESOURCES[r])
            if crd and not load_obj(ca, None, "CustomResourceDefinition", crd):
                sys.stderr.write('error: the server doesn\'t have a resource type "%s"\n' % r.split(".")[0])
                sys.exit(1)
        items = []
        for r in args[1].split(","):
            items.extend(list_objs(ca, RESOURCES[r]))
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        return
    if args[:2] == ["get", "nodes"] and "json" in " ".join(args):
        items = []
        for e in entries():
            if e["ca"] != ca:
                continue
            labels = dict(l.split("=", 1) for l in e.get("labels", []))
            labels["kubernetes.io/hostname"] = e["name"]
            if e["role"] == "server":
                labels["node-role.kubernetes.io/control-plane"] = "true"
            ready = "True" if e["state"] == "running" else "Unknown"
            items.append({"metadata": {"name": e["name"], "labels": labels},
                          "spec": {"unschedulable": e.get("unschedulable", False), "taints": [{"key": t.split(":")[0].split("=")[0], "effect": t.split(":")[-1]} for t in e.get("taints", [])]},
                          "status": {"conditions": [{"type": "Ready", "status": ready, "message": "kubelet is posting ready status" if ready == "True" else "Kubelet stopped posting node status."}],
                                     "nodeInfo": {"kubeletVersion": e["version"]}}})
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        return
    fail("the lab stand-in does not answer: kubectl %s" % " ".join(args))


def main():
    a = sys.argv[1:]
    if not a or a[0] in ("--version", "-v", "version"):
        print("k3s version %s (bramble lab stand-in)" % VERSION)
        print("go version go1.25 (stand-in)")
    elif a[0] == "kubectl":
        kubectl(a[1:])
    elif a[0] == "_stop":
        # What SIGTERM does to k3s's main process; sent by the systemctl stand-in's stop.
        stop()
    elif a[0] == "server" and "--cluster-reset" in a:
        cluster_reset(a[1:])
    elif a[0] in ("server", "agent"):
        # k3s runs from its unit (the install script's); the stand-in is no
        # daemon, so a start by hand would leave a "running" node nothing keeps up.
        if not os.environ.get("INVOCATION_ID"):
            fail("(lab stand-in) k3s %s runs only from its systemd unit: systemctl start %s" % (a[0], "k3s" if a[0] == "server" else "k3s-agent"))
        start(a[0])
    elif a[0] == "etcd-snapshot":
        etcd_snapshot(a[1:])
    else:
        fail("unsupported in the lab stand-in: %s" % " ".join(a))


if __name__ == "__main__":
    main()
