#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and replays each corpus as a regression test, then fuzzes
# each target briefly (FUZZ_SECONDS, default 20; 0 = replay only). New findings leave crash-* files in
# build-fuzz/ and fail the run. Prints "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
make -j"$(nproc)" fuzz >build-fuzz.log 2>&1 || { tail -n 30 build-fuzz.log; echo "fuzz: 0 passed, 1 failed"; exit 1; }
pass=0; fail=0
for bin in build-fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin"); name=${name#fuzz_}
    corpus="fuzz/corpus/$name"
    mkdir -p "$corpus"
    if "$bin" -runs=0 "$corpus" >"build-fuzz/$name-replay.log" 2>&1; then
        echo "ok - replay $name ($(ls "$corpus" | wc -l) inputs)"; pass=$((pass+1))
    else
        echo "not ok - replay $name"; tail -n 30 "build-fuzz/$name-replay.log"; fail=$((fail+1))
    fi
    if [ "$secs" -gt 0 ]; then
        work=$(mktemp -d)
        if (cd build-fuzz && "./fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 "$work" "../$corpus") \
            >"build-fuzz/$name-fuzz.log" 2>&1; then
            echo "ok - fuzz $name for ${secs}s"; pass=$((pass+1))
        else
            echo "not ok - fuzz $name"; tail -n 40 "build-fuzz/$name-fuzz.log"; fail=$((fail+1))
        fi
        rm -rf "$work"
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
