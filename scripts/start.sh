#!/usr/bin/env bash
# README command 1: install what is missing, build, and start the gateway on its embedded default
# (SQLite, generated TLS certificate and master key in ./ingate-data) on https://127.0.0.1:8443.
# Extra arguments go to `ingate serve` (e.g. --listen 0.0.0.0:8443).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" build/ingate >/dev/null
echo "start: built $(build/ingate version); starting (Ctrl-C stops it gracefully)"
exec build/ingate serve "$@"
