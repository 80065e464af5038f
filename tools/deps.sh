#!/usr/bin/env bash
# tools/deps.sh - install the Debian packages fhirlake needs to build and test.
# Idempotent: only installs what is missing. Runs as root (or via sudo when available).
# Set FL_DEPS_SKIP=1 to skip entirely (e.g. on a machine you manage yourself).
set -euo pipefail
[ "${FL_DEPS_SKIP:-0}" = 1 ] && exit 0

PKGS=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev llvm
  zlib1g-dev libzstd-dev libsnappy-dev liblz4-dev
  libssl-dev libcurl4-openssl-dev libmicrohttpd-dev
  libsqlite3-dev libpq-dev librdkafka-dev libpcre2-dev
  libjansson-dev
  python3-venv
  postgresql curl
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "deps: need root to install: ${missing[*]}" >&2; exit 1; fi
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
for i in 1 2 3; do
  if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "deps: apt-get failed (try $i), retrying" >&2; sleep $((i * 5))
done
echo "deps: could not install ${missing[*]}" >&2
exit 1
