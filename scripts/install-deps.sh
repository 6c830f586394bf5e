#!/usr/bin/env bash
# Installs the Debian 12 packages ingate needs, only those that are missing. Idempotent; run as root (or with
# sudo available).
#   scripts/install-deps.sh          what building and running the gateway needs (node and npm build the
#                                    dashboard that is embedded in the binary)
#   scripts/install-deps.sh --test   plus what the test suite, sanitizers, fuzzers and benchmark need
#                                    (chromium runs the dashboard's browser tests)
set -euo pipefail

BUILD_PKGS=(build-essential pkg-config libevent-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev
            libhttp-parser-dev libcjson-dev libcrypt-dev libpcre2-dev ca-certificates openssl nodejs npm)
TEST_PKGS=(clang clang-format libclang-rt-14-dev nginx wrk sqlite3 curl procps python3 iproute2 chromium)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
    # nodejs/npm may come from another source (e.g. a newer Node already on the PATH): keep it
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#want[@]} packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx on install; the benchmark runs its own instance
if printf '%s\n' "${missing[@]}" | grep -qx nginx; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
fi
echo "install-deps: done"
