#!/bin/sh
# Installs exactly the Debian packages clipsearch builds and tests with.
# Idempotent; works as root or through sudo. Nothing is fetched from anywhere
# but Debian's archive (and, with --browser, the npm registry for the browser
# test driver). Usage: scripts/install-deps.sh [--bench] [--browser]
set -eu

# Build: compiler, CMake, and the libraries the library links.
BUILD="build-essential cmake pkg-config clang libclang-rt-14-dev
  libjansson-dev libutf8proc-dev
  libjpeg62-turbo-dev libpng-dev zlib1g-dev libwebp-dev libgif-dev libtiff-dev libheif-dev
  liblcms2-dev
  libsqlite3-dev libfaiss-dev libopenblas-dev libcurl4-openssl-dev libmicrohttpd-dev
  libopenmpi-dev"
# Tests: HEIC/AVIF encoders to make test files, Python's faiss to prove the
# exported index opens with the Python tutorial's code, a browser and a load generator,
# and the command-line tools the CLI tests call (sqlite3, curl, nm; mpirun
# and ip for the MPI tests: ranks on this host and in network namespaces).
TEST="libheif-examples python3-faiss python3-numpy python3-pil wrk chromium curl sqlite3 binutils
  openmpi-bin iproute2"
# Benchmarks only: the Python reference stack and hyperfine.
BENCH="python3-torch hyperfine"

pkgs="$BUILD $TEST"
# Node.js drives the browser test; take Debian's only where none is installed.
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
browser=0
for a in "$@"; do
  case "$a" in
    --bench) pkgs="$pkgs $BENCH" ;;
    --browser) browser=1 ;;
    *) echo "usage: $0 [--bench] [--browser]" >&2; exit 2 ;;
  esac
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  # another apt (an unattended upgrade, say) may hold the lock: wait for it
  lock="-o DPkg::Lock::Timeout=600"
  $SUDO apt-get $lock update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get $lock install -y -qq --no-install-recommends $missing
else
  echo "install-deps: all Debian packages present"
fi

# The browser test driver (playwright-core drives Debian's chromium).
if [ "$browser" -eq 1 ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  if [ -f "$here/tests/browser/package-lock.json" ] &&
     [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
    (cd "$here/tests/browser" && npm ci --no-audit --no-fund --silent)
  fi
fi
