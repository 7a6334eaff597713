#!/bin/sh
# The lab's install script URL (see docs/testing.md): k3s's real install.sh
# (../shared/upstream/k3s/install.sh, unchanged, embedded below) run with
# INSTALL_K3S_SKIP_DOWNLOAD=true. The nodes cannot reach GitHub, so this
# wrapper first does what the real script's download would: it puts the k3s
# stand-in binary for INSTALL_K3S_VERSION in /usr/local/bin/k3s when that
# differs from what is there. The real script would then see a changed hash
# and restart k3s; the wrapper tells it so with INSTALL_K3S_FORCE_RESTART.
# Everything after that (links, killall and uninstall scripts, env file, unit,
# enable, the hash rule that skips the start) is the real script's.
set -e
[ "$(id -u)" = 0 ] || { echo "[ERROR] lab: run the install as root" >&2; exit 1; }
mkdir -p /var/lib/bramble-lab
echo "$(date +%s) INSTALL_K3S_VERSION=${INSTALL_K3S_VERSION:-} INSTALL_K3S_EXEC=${INSTALL_K3S_EXEC:-} INSTALL_K3S_SKIP_DOWNLOAD=${INSTALL_K3S_SKIP_DOWNLOAD:-} INSTALL_K3S_FORCE_RESTART=${INSTALL_K3S_FORCE_RESTART:-} K3S_TOKEN=${K3S_TOKEN:+set} K3S_URL=${K3S_URL:-} args=$*" >> /var/lib/bramble-lab/k3s-install.log

if [ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" != true ]; then
  [ -n "${INSTALL_K3S_VERSION:-}" ] || { echo "[ERROR] lab: the lab's download needs INSTALL_K3S_VERSION" >&2; exit 1; }
  cat > /usr/local/bin/k3s.lab-download <<'K3S_STAND_IN'
@@K3S@@
K3S_STAND_IN
  sed -i "s/@@VERSION@@/${INSTALL_K3S_VERSION}/" /usr/local/bin/k3s.lab-download
  chmod 755 /usr/local/bin/k3s.lab-download
  if cmp -s /usr/local/bin/k3s.lab-download /usr/local/bin/k3s; then
    rm -f /usr/local/bin/k3s.lab-download
  else
    mv -f /usr/local/bin/k3s.lab-download /usr/local/bin/k3s
    export INSTALL_K3S_FORCE_RESTART=true
  fi
fi

# @@AFTER_BINARY@@ (the lab serves variants that fail or stall here, as a cut install would)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/install.sh" <<'K3S_INSTALL_SH'
@@INSTALL_SH@@
K3S_INSTALL_SH
INSTALL_K3S_SKIP_DOWNLOAD=true sh "$d/install.sh" "$@"
