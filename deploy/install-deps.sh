#!/usr/bin/env bash
# Installs every build, run and test dependency of segstream from Debian packages.
# Idempotent: runs `apt-get update` and `apt-get install` only when a package is missing.
#
# Usage: install-deps.sh [--browser]
#   --browser  also installs Debian's `chromium`, used only by the headless dashboard test
#              (ctest label `browser`); the default CI run stays without it.
set -euo pipefail

browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  g++ cmake make ninja-build ccache pkg-config git clang-format clang-tidy
  # libraries named by DESIGN.md
  librdkafka-dev libhiredis-dev libboost-dev libboost-system-dev
  protobuf-compiler libprotobuf-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev zlib1g-dev
  # servers and tools used at run and test time
  redis-server redis-tools kcat procps curl python3
  # tests/deploy_static.py parses the deployment YAML
  python3-yaml
)
if [ "$browser" -eq 1 ]; then
  # Fonts so the dashboard screenshot renders text (chromium pulls no font by itself with
  # --no-install-recommends).
  packages+=(chromium fonts-dejavu-core)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
