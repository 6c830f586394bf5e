#!/usr/bin/env bash
# README command 2: install what the tests need, build everything, and run the whole suite:
#   1. static checks (banned calls, docs/configuration.md up to date)
#   2. unit tests (release build)
#   3. integration tests against the real binary and the mock upstream, incl. the official SDKs, then the
#      dashboard's browser tests (tests/e2e, Debian's chromium; release build only)
#   4. unit + integration tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   5. fuzz targets built with libFuzzer, their corpora replayed
# Prints one closing line "N passed, N failed" and exits non-zero on any failure.
# SKIP_SAN=1 or SKIP_FUZZ=1 skip stages 4/5 for a quick local run (CI runs everything).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/tests/out"
mkdir -p "$OUT"
bash scripts/install-deps.sh --test || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }

total_pass=0
total_fail=0
stage_fail=()

# count passes/fails from a log: unit ("unit: N passed, N failed"), node ("# pass N" / "# fail N"), fuzz
add_counts() { # stage log
    local stage=$1 log=$2 p f
    p=$(grep -E '^(unit|fuzz|checks): [0-9]+ passed' "$log" | tail -n1 | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(grep -E '^(unit|fuzz|checks): [0-9]+ passed' "$log" | tail -n1 | sed -E 's/.* ([0-9]+) failed.*/\1/')
    if [ -z "$p" ]; then
        p=$(grep -E '^# pass [0-9]+' "$log" | tail -n1 | awk '{print $3}')
        f=$(grep -E '^# fail [0-9]+' "$log" | tail -n1 | awk '{print $3}')
    fi
    p=${p:-0}; f=${f:-0}
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    echo "== $stage: $p passed, $f failed"
}

run_stage() { # name command...
    local name=$1; shift
    local log="$OUT/$name.log"
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    add_counts "$name" "$log"
    if [ $rc -ne 0 ]; then
        stage_fail+=("$name")
        echo "-- $name failed (exit $rc); last lines of $log:"
        tail -n 60 "$log"
        # a stage that failed without counting a failure still counts as one
        if ! grep -qE '(^# fail [1-9]|[1-9][0-9]* failed)' "$log"; then total_fail=$((total_fail + 1)); fi
    fi
}

checks() {
    local p=0 f=0
    if make -s banned; then p=$((p+1)); else f=$((f+1)); fi
    if make -s check-docs; then p=$((p+1)); else f=$((f+1)); fi
    if make -s format-check; then p=$((p+1)); else f=$((f+1)); fi
    if bash scripts/check-openapi.sh; then p=$((p+1)); else f=$((f+1)); fi
    echo "checks: $p passed, $f failed"
    [ $f -eq 0 ]
}

integration() { # binary-dir
    local dir=$1
    (cd tests/integration && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } &&
        INGATE_BIN="$ROOT/$dir/ingate" MOCK_BIN="$ROOT/$dir/mock-upstream" \
        node --test --test-concurrency=2 --test-reporter=tap)
}

e2e() { # binary-dir: the dashboard end to end in chromium (tests/e2e, docs/dashboard.md)
    local dir=$1
    (cd tests/e2e && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } &&
        INGATE_BIN="$ROOT/$dir/ingate" MOCK_BIN="$ROOT/$dir/mock-upstream" \
        node --test --test-concurrency=1 --test-reporter=tap)
}

echo "== build"
if ! make -j"$(nproc)" all >"$OUT/build.log" 2>&1; then
    tail -n 40 "$OUT/build.log"; echo "0 passed, 1 failed"; exit 1
fi
run_stage checks checks
run_stage unit make -j"$(nproc)" test-unit
run_stage integration integration build
run_stage e2e e2e build

if [ "${SKIP_SAN:-0}" != 1 ]; then
    echo "== build (ASan+UBSan)"
    if make -j"$(nproc)" SAN=1 all >"$OUT/build-san.log" 2>&1; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        run_stage unit-san make -j"$(nproc)" SAN=1 test-unit
        run_stage integration-san integration build-san
        unset ASAN_OPTIONS UBSAN_OPTIONS
    else
        tail -n 40 "$OUT/build-san.log"; stage_fail+=(build-san); total_fail=$((total_fail + 1))
    fi
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    run_stage fuzz bash fuzz/run.sh
fi

echo
if [ ${#stage_fail[@]} -gt 0 ]; then echo "failed stages: ${stage_fail[*]}"; fi
echo "$total_pass passed, $total_fail failed"
[ ${#stage_fail[@]} -eq 0 ] && [ "$total_fail" -eq 0 ]
