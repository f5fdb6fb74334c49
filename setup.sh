#!/usr/bin/env bash
# Installs every Debian package that toe's build, tests, lab and benchmarks
# need. Idempotent: packages already present are not fetched again, and
# `apt-get update` runs only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang llvm
  # engine and port libraries
  libxdp-dev libbpf-dev liburing-dev libjemalloc-dev libsodium-dev libpcap-dev
  # tests
  libcmocka-dev tcl8.6 tcl-dev lcov libclang-rt-14-dev
  # lab
  iproute2 ethtool tshark xdp-tools iputils-ping netcat-openbsd python3
  # demo and benchmark clients
  curl wrk apache2-utils gnuplot-nox
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: must run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
else
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer once, quietly.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  log=$(mktemp /tmp/toe-setup.XXXXXX.log)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup.sh: apt-get failed; full log in $log" >&2
    exit 1
  fi
  rm -f "$log"
  echo "setup.sh: installed ${#missing[@]} packages"
fi

# libxdp wants bpffs for pinning; mount it once.
if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi
