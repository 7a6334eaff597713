#!/bin/sh
# Lab stand-in for the k3s install script (see docs/testing.md), served by the
# lab's HTTP server through bramble's ordinary install-script URL. It records
# how it was invoked and then works in the real script's order: the k3s
# stand-in binary (unless INSTALL_K3S_SKIP_DOWNLOAD=true, as in an air-gapped
# install), the killall and uninstall scripts, the env file, the unit file,
# then `systemctl enable` and `systemctl restart` (the lab's systemctl).
set -e
[ "$(id -u)" = 0 ] || { echo "[ERROR] You need to be root to perform this install" >&2; exit 1; }
mkdir -p /var/lib/bramble-lab
echo "$(date +%s) INSTALL_K3S_VERSION=${INSTALL_K3S_VERSION:-} INSTALL_K3S_EXEC=${INSTALL_K3S_EXEC:-} INSTALL_K3S_SKIP_DOWNLOAD=${INSTALL_K3S_SKIP_DOWNLOAD:-} K3S_TOKEN=${K3S_TOKEN:+set} K3S_URL=${K3S_URL:-} args=$*" >> /var/lib/bramble-lab/k3s-install.log
role=$(echo "${INSTALL_K3S_EXEC:-${1:-server}}" | awk '{print $1}')
case "$role" in server|agent) ;; *) echo "[ERROR] unknown role $role" >&2; exit 1;; esac

if [ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" = true ]; then
  [ -x /usr/local/bin/k3s ] || { echo "[ERROR] Executable k3s binary not found at /usr/local/bin/k3s" >&2; exit 1; }
else
  [ -n "${INSTALL_K3S_VERSION:-}" ] || { echo "[ERROR] the lab stand-in needs INSTALL_K3S_VERSION" >&2; exit 1; }
  cat > /usr/local/bin/k3s.tmp <<'K3S_STAND_IN'
@@K3S@@
K3S_STAND_IN
  sed -i "s/@@VERSION@@/${INSTALL_K3S_VERSION}/" /usr/local/bin/k3s.tmp
  chmod 755 /usr/local/bin/k3s.tmp
  mv -f /usr/local/bin/k3s.tmp /usr/local/bin/k3s
fi

# @@AFTER_BINARY@@ (the lab serves variants that fail or stall here, as a cut install would)
unit=k3s
[ "$role" = agent ] && unit=k3s-agent
printf '#!/bin/sh\n/usr/local/bin/k3s _stop\n' > /usr/local/bin/k3s-killall.sh
uninstall=/usr/local/bin/k3s-uninstall.sh
[ "$role" = agent ] && uninstall=/usr/local/bin/k3s-agent-uninstall.sh
cat > $uninstall <<UNINSTALL
#!/bin/sh
set -e
[ "\$(id -u)" = 0 ] || exec sudo \$0 "\$@"
/usr/local/bin/k3s _stop || true
/usr/local/bin/k3s _uninstall || true
systemctl disable $unit >/dev/null 2>&1 || true
rm -rf /etc/rancher/k3s /etc/rancher/node /var/lib/rancher/k3s /etc/systemd/system/$unit.service /etc/systemd/system/$unit.service.env /var/lib/bramble-lab/k3s-state.json
rm -f /usr/local/bin/k3s /usr/local/bin/k3s-killall.sh
rm -f \$0
UNINSTALL
chmod 755 /usr/local/bin/k3s-killall.sh $uninstall
mkdir -p /etc/systemd/system /etc/rancher/k3s
: > /etc/systemd/system/$unit.service.env
chmod 600 /etc/systemd/system/$unit.service.env
printf '[Unit]\nDescription=Lightweight Kubernetes (lab stand-in)\n[Service]\nEnvironmentFile=-/etc/systemd/system/%s.service.env\nExecStart=/usr/local/bin/k3s %s\n' "$unit" "$role" > /etc/systemd/system/$unit.service

systemctl enable $unit
systemctl daemon-reload
systemctl restart $unit
echo "[INFO]  lab stand-in: k3s $role started"
