#!/usr/bin/env bash
# bench/instructions.sh — what a feature costs the proxy in CPU instructions per call, counted by callgrind.
#
# Instructions do not depend on what else the machine is doing, so this answers "how much work does X add to a
# proxied call" with a repeatable number where requests/s on a shared 2-core machine moves by several percent
# from run to run (bench/capture.sh measures the throughput itself). One run starts the mock upstream and ONE
# ingate under `valgrind --tool=callgrind` (--threads 1 --workers 1, plain listener), creates two orgs like
# bench/capture.sh (A: capture off; B: the case below), warms both up, then for REPS rounds alternating A / B:
# zeroes the counters, drives the org with wrk for DURATION seconds (bench/capture.lua, 8 connections), waits
# for the log writer to settle, and dumps the counters. Each dump covers every thread of the process (event
# loop, log writer, workers): instructions per call = the dump's total / the calls wrk completed.
#
#   BENCH_CASE=limits (default)  B = per-key requests and tokens per minute limits (never refusing) and an org
#                                budget of $10^9 on Enterprise: the issue 5 target, B/A <= 1.05
#   BENCH_CASE=capture           B = full capture with PII redaction (issue 4)
#   BENCH_CASE=guardrails        B = an Enterprise org with default settings (injection screening log_only)
#
# Prints a Markdown table (medians over the rounds) and the functions whose instructions per call grew the
# most from A to B (self cost, summed over the rounds), also written to bench/out/instructions-<case>.md.
# Knobs: BENCH_DURATION (6 s), BENCH_REPS (2), BENCH_NO_BUILD (0), BENCH_KEEP_TMP (0), BENCH_TIME_LIMIT (600 s).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
DURATION=${BENCH_DURATION:-6}
REPS=${BENCH_REPS:-2}
TIME_LIMIT=${BENCH_TIME_LIMIT:-600}
PIN=0
CASE=${BENCH_CASE:-limits}
case "$CASE" in
limits)
    B_SETTINGS='{"capture":"off","rate_limits":{"requests_per_minute":1000000000,"tokens_per_minute":60000000000},"guardrails":{"pii":"off","injection":"off"}}'
    B_BUDGET='{"scope":"org","name":"bench","period_type":"monthly","hard_limit_usd":1000000000}'
    B_LABEL="rate limits + org budget (never refusing)"
    TARGET=1.05
    ;;
capture)
    B_SETTINGS='{"capture":"full","redaction":{"enabled":true,"mode":"pattern"}}'
    B_BUDGET=
    B_LABEL="full capture + redaction"
    TARGET=
    ;;
guardrails)
    B_SETTINGS='{"capture":"off"}'
    B_BUDGET=
    B_LABEL="Enterprise defaults (prompt-injection screening log_only)"
    TARGET=
    ;;
*) echo "BENCH_CASE must be limits, capture or guardrails" >&2; exit 2 ;;
esac
RESULTS=$OUT/instructions-$CASE.md

BENCH_TAG=instr
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
need_tools "Debian: apt-get install valgrind wrk curl" valgrind callgrind_control wrk curl awk sed sort
bench_start instructions

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    log "building ingate and the mock (make -j2)"
    make -C "$ROOT" -j2 >"$TMP/make.log" 2>&1 || {
        tail -20 "$TMP/make.log" >&2
        die "make failed"
    }
fi
cp "$ROOT/build/ingate" "$TMP/ingate"
cp "$ROOT/build/mock-upstream" "$TMP/mock-upstream"
INGATE=$TMP/ingate
MOCK=$TMP/mock-upstream
ON_LOAD=()
start_mock

DATA=$TMP/ingate-data
# uncompressed names: each dump can then be read on its own
valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" --compress-strings=no --compress-pos=no \
    "$INGATE" serve --data-dir "$DATA" --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 --threads 1 --workers 1 \
    --drain-timeout-ms 1000 --log-level warn --bcrypt-cost 10 --openai-base-url "http://127.0.0.1:$MOCK_PORT" \
    >"$TMP/ingate.out" 2>"$TMP/ingate.log" &
INGATE_PID=$!
PIDS+=("$INGATE_PID")
wait_line "$TMP/ingate.out" '^READY ' 120 "$INGATE_PID" || die "ingate did not start: $(tail -5 "$TMP/ingate.log")"
PORT=$(sed -n 's/.* http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/ingate.out")
BASE=http://127.0.0.1:$PORT
log "ingate under callgrind on :$PORT (pid $INGATE_PID), mock :$MOCK_PORT"

api() { # METHOD PATH OUTFILE [curl args...]: prints the HTTP status
    local m=$1 p=$2 o=$3
    shift 3
    curl -s -o "$o" -w '%{http_code}' --max-time 60 -X "$m" "$BASE$p" "$@"
}
jstr() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1" | head -1; }

make_org() { # NAME SETTINGS [PLAN]: sets KEY_<NAME>, TOKEN_<NAME>
    local name=$1 settings=$2 plan=${3:-} slug=bench-${1,,} st token key
    st=$(api POST /api/v1/signup "$TMP/signup-$name.json" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$slug@bench.example\",\"password\":\"bench-password-$RANDOM$RANDOM\",\"org_slug\":\"$slug\",\"org_name\":\"Bench $name\"}")
    [ "$st" = 201 ] || die "signup $slug: HTTP $st"
    token=$(jstr "$TMP/signup-$name.json" token)
    key=$(jstr "$TMP/signup-$name.json" api_key)
    st=$(api PUT /api/v1/providers/openai "$TMP/provider-$name.json" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"api_key":"sk-bench-provider"}')
    [ "$st" = 200 ] || die "provider key for $slug: HTTP $st"
    [ -z "$plan" ] || "$INGATE" admin set-plan --org "$slug" --plan "$plan" --data-dir "$DATA" >/dev/null 2>>"$TMP/admin.log" ||
        die "set-plan $slug failed"
    for _ in $(seq 1 50); do
        st=$(api PUT /api/v1/org "$TMP/settings-$name.json" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "{\"settings\":$settings}")
        [ "$st" = 200 ] && break
        sleep 0.2
    done
    [ "$st" = 200 ] || die "settings for $slug: HTTP $st $(cat "$TMP/settings-$name.json")"
    printf -v "KEY_$name" '%s' "$key"
    printf -v "TOKEN_$name" '%s' "$token"
}
make_org A '{"capture":"off"}'
make_org B "$B_SETTINGS" enterprise
if [ -n "$B_BUDGET" ]; then
    st=$(api POST /api/v1/budgets "$TMP/budget.json" -H "Authorization: Bearer $TOKEN_B" \
        -H 'Content-Type: application/json' -d "$B_BUDGET")
    [ "$st" = 201 ] || die "budget: HTTP $st $(cat "$TMP/budget.json")"
fi
declare -A KEY=([A]=$KEY_A [B]=$KEY_B)

wrk_run() { # org seconds outfile
    INGATE_KEY=${KEY[$1]} timeout $(($2 + 60)) wrk -t1 -c8 -d"$2"s --timeout 10s -s "$BENCH/capture.lua" \
        "$BASE/v1/chat/completions" >"$3" 2>&1
}
for m in A B A B; do wrk_run "$m" 2 "$TMP/warm-$m.out" || die "warm-up $m failed"; done
for m in A B; do
    r=$(grep '^RESULT' "$TMP/warm-$m.out") || die "$m: no wrk result"
    [ "$(kv "$r" non2xx)" = 0 ] && [ "$(kv "$r" requests)" -gt 0 ] || die "$m: requests fail: $r"
done
log "both orgs answer; measuring $REPS rounds of ${DURATION}s per org"

# self instructions per function of one dump: "count<TAB>function" (a cost line after calls= is the callee's
# inclusive cost, not the caller's own)
self_costs() {
    awk '/^fn=/{fn=substr($0,4); next} /^calls=/{skip=1; next}
         /^[0-9+*-]/{if (skip) {skip=0; next} if (fn != "") c[fn] += $2}
         END{for (f in c) printf "%d\t%s\n", c[f], f}' "$1"
}

printf 'round\torg\tcalls\tinstructions\tper_call\n' >"$TMP/raw.tsv"
n=0
for rep in $(seq 1 "$REPS"); do
    for m in A B; do
        sleep 1
        callgrind_control -z "$INGATE_PID" >/dev/null
        wrk_run "$m" "$DURATION" "$TMP/wrk-$m-$rep.out" || die "wrk $m failed"
        sleep 2 # the log writer settles the calls
        n=$((n + 1))
        callgrind_control -d "r$rep-$m" "$INGATE_PID" >/dev/null
        f="$TMP/cg.$INGATE_PID.$n"
        for _ in $(seq 1 100); do [ -s "$f" ] && grep -q '^totals:' "$f" && break; sleep 0.1; done
        r=$(grep '^RESULT' "$TMP/wrk-$m-$rep.out")
        calls=$(kv "$r" requests)
        [ "$(kv "$r" non2xx)" = 0 ] || die "$m: non-2xx answers: $r"
        ir=$(awk '/^summary:/{print $2}' "$f")
        printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$m" "$calls" "$ir" "$(awk -v a="$ir" -v b="$calls" 'BEGIN{printf "%.0f", a/b}')" >>"$TMP/raw.tsv"
        self_costs "$f" | awk -v c="$calls" -F'\t' '{printf "%.3f\t%s\n", $1 / c, $2}' >"$TMP/self-$m-$rep.tsv"
        log "round $rep $m: $calls calls, $(awk -v a="$ir" -v b="$calls" 'BEGIN{printf "%.0f", a/b}') instructions a call"
    done
done
cp "$TMP/raw.tsv" "$OUT/raw-instructions-$CASE.tsv"

A_PC=$(awk -F'\t' '$2=="A"{print $5}' "$TMP/raw.tsv" | median)
B_PC=$(awk -F'\t' '$2=="B"{print $5}' "$TMP/raw.tsv" | median)
RATIO=$(awk -v a="$A_PC" -v b="$B_PC" 'BEGIN{printf "%.3f", b/a}')
# per function: mean over the rounds of B minus mean of A (self instructions a call)
cat "$TMP"/self-A-*.tsv | awk -F'\t' -v r="$REPS" '{a[$2]+=$1/r} END{for (f in a) printf "%s\t%.1f\n", f, a[f]}' | sort >"$TMP/fa"
cat "$TMP"/self-B-*.tsv | awk -F'\t' -v r="$REPS" '{a[$2]+=$1/r} END{for (f in a) printf "%s\t%.1f\n", f, a[f]}' | sort >"$TMP/fb"
join -t $'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 "$TMP/fa" "$TMP/fb" |
    awk -F'\t' '{printf "%.0f\t%.0f\t%.0f\t%s\n", $3-$2, $2, $3, $1}' | sort -rn >"$TMP/top.all"
head -15 "$TMP/top.all" >"$TMP/top"

{
    echo "## instructions a proxied call: $B_LABEL vs capture off ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo "callgrind, every thread of ingate, medians of $REPS rounds of ${DURATION}s (wrk -c8, bench/capture.lua)."
    echo
    echo "| | A: capture off | B: $B_LABEL | B / A |"
    echo "|---|---:|---:|---:|"
    echo "| instructions a call | $A_PC | $B_PC | $RATIO${TARGET:+ (target ≤ $TARGET)} |"
    echo
    echo "Functions whose own instructions a call grew the most (B − A, mean of the rounds):"
    echo
    echo "| + a call | A | B | function |"
    echo "|---:|---:|---:|---|"
    awk -F'\t' '{printf "| %+d | %d | %d | `%s` |\n", $1, $2, $3, substr($4, 1, 80)}' "$TMP/top"
} | tee "$RESULTS"
STATUS=0
