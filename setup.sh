#!/usr/bin/env bash
# dhcp-lab setup: installs everything (Debian packages and the Python environment), links
# `invoke` and `nox` into /usr/local/bin, then runs the four-scenario matrix.
#   sudo ./setup.sh            install, then run the four scenarios
#   sudo ./setup.sh --no-run   install only (what .ci/run does)
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: the lab needs root for network namespaces: run 'sudo ./setup.sh'" >&2
  exit 1
fi

APT_PACKAGES=(iproute2 procps dnsmasq-base isc-dhcp-client tcpdump tshark ethtool kea-admin
              python3 python3-venv python3-pip)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import lab, invoke, nox, dpkt, pyshark" \
  || { echo "setup.sh: the Python environment is incomplete" >&2; exit 1; }

# A new root shell, or sudo (whose PATH has /usr/local/bin), then runs invoke and nox directly.
for tool in invoke nox; do
  target=/usr/local/bin/$tool
  if [ -e "$target" ] && [ ! -L "$target" ]; then
    echo "setup.sh: $target exists and is not ours; leaving it (use .venv/bin/$tool)" >&2
  else
    ln -sfn "$PWD/.venv/bin/$tool" "$target"
  fi
done
echo "setup.sh: ready (invoke and nox are on PATH)"

if [ "${1:-}" != "--no-run" ]; then
  exec .venv/bin/invoke scenarios
fi
