#!/usr/bin/env bash
# What the test suite needs from Debian: git, kubectl (kustomize), and for the
# lab of simulated nodes sshd, sudo, iproute2, nfs-ganesha and what the nodes
# expect to find. As root, installs what is missing; otherwise says what is.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
for pair in git:git sshd:openssh-server ssh:openssh-client sudo:sudo ip:iproute2 openssl:openssl pidof:procps \
            ganesha.nfsd:nfs-ganesha curl:curl python3:python3 modprobe:kmod iscsid:open-iscsi mount.nfs4:nfs-common tmux:tmux zsh:zsh age:age promtool:prometheus unattended-upgrade:unattended-upgrades; do
  cmd=${pair%%:*}
  command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || need+=("${pair#*:}")
done
ls /usr/lib/*/ganesha/libfsalvfs.so >/dev/null 2>&1 || need+=(nfs-ganesha-vfs)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "The tests need these Debian packages: ${need[*]}" >&2
    echo "Install them (sudo apt-get install ${need[*]}) or run the tests as root." >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# kubectl (with kustomize built in) builds every rendered folder.
if ! command -v kubectl >/dev/null; then
  [ "$(id -u)" = 0 ] && { apt-get update -qq; apt-get install -y -qq kubectl || true; }
  command -v kubectl >/dev/null || { echo "The tests need kubectl (kubectl kustomize); install it." >&2; exit 1; }
fi

# The lab needs root (network and mount namespaces).
if [ "$(id -u)" != 0 ]; then
  echo "The lab of simulated nodes needs root: run the tests as root (sudo npm test)." >&2
  exit 1
fi

# Renovate's own config validator checks the rendered renovate.json5. It is
# run, never copied into the project (Renovate is AGPL-3.0), and kept out of
# the package's dependencies: it is about 360 MB.
RENOVATE_VERSION=44.121.2
tools=.test-tools/renovate
# The install takes about a minute, nearly all of it download and unpacking,
# so it runs beside the build and the suite; test/updates.test.ts waits for
# its "ready" mark (or reports its log). The mark, not Renovate's
# package.json, says the install is whole: that file lands before the rest.
if [ "$(cat "$tools/ready" 2>/dev/null)" != "$RENOVATE_VERSION" ] && ! kill -0 "$(cat "$tools/installing" 2>/dev/null)" 2>/dev/null; then
  echo "installing renovate $RENOVATE_VERSION (its config validator) into $tools, beside the suite"
  mkdir -p "$tools"
  rm -f "$tools/ready" "$tools/failed"
  setsid bash -c '
    cd "$1"
    if npm install --prefix . --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "renovate@$2" > install.log 2>&1
    then echo "$2" > ready; else echo "npm install exited $?" > failed; fi
    rm -f installing' bash "$tools" "$RENOVATE_VERSION" < /dev/null > /dev/null 2>&1 &
  echo $! > "$tools/installing"
fi
