#!/usr/bin/env bash
# bench/capture.sh — what full call capture with PII redaction costs the proxy, and how fast the log pipeline is.
#
# One run: starts the mock upstream and ONE ingate (--threads 1 --workers 1, plain listener on loopback, fresh
# data dir), creates two orgs through the API (POST /api/v1/signup, PUT /api/v1/providers/openai, PUT /api/v1/org):
#   OFF   settings {"capture":"off"}                       (no bodies, no attribution; the usage row is still written)
#   FULL  enterprise plan, settings {"capture":"full","redaction":{"enabled":true,"mode":"pattern"}}
# then drives both with wrk (1 thread, 64 connections, bench/capture.lua: a ~1.6 KB chat-completion body with an
# email, a Luhn-valid card and a phone number, plus X-Ingate-User-Id), REPS rounds alternating OFF / FULL, and
# measures for each round: requests/s, proxy CPU µs/request (whole process, and per thread: event loop and log
# writer), and from GET /metrics the records written, queue depth (sampled during the round, and after it),
# spooled / dropped records, redaction bytes and seconds. The log pipeline's capacity is the writer thread's CPU
# time per record (records/s = 1e6 / µs per record): thread CPU, not wall time, so a busy machine does not skew it.
# Optionally (perf present and usable) it profiles the writer thread during one more FULL run.
# Prints a Markdown table (medians), also written to bench/out/capture-results.md; raw numbers go to
# bench/out/raw-capture.tsv. See bench/README.md. Knobs (environment): BENCH_CASE (capture | limits, see below),
# BENCH_DURATION (10 s), BENCH_WARMUP (2 s),
# BENCH_REPS (3), BENCH_CONNS (64), BENCH_PIN (1), BENCH_PERF (auto|0|1), BENCH_PERF_SECONDS (4),
# BENCH_NO_BUILD (0), BENCH_KEEP_TMP (0), BENCH_TIME_LIMIT (300 s hard stop), BENCH_REV (the revision named in the
# results; default: git rev-parse --short HEAD, marked when src/ has uncommitted changes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
REPS=${BENCH_REPS:-3}
CONNS=${BENCH_CONNS:-64}
PIN=${BENCH_PIN:-1}
PERF_MODE=${BENCH_PERF:-auto}
PERF_SECONDS=${BENCH_PERF_SECONDS:-4}
TIME_LIMIT=${BENCH_TIME_LIMIT:-300}
TARGET_RATIO=0.90
# BENCH_CASE=limits measures the per-key rate limits and budgets instead (issue 5: they must cost < 5% of proxy
# throughput): the second org ("FULL" in the variables below) has capture off like the first, plus
# requests/tokens-per-minute limits high enough never to refuse, so every call takes both limits and settles,
# and (Enterprise) an org budget of $10^9 that every call reserves on and settles.
CASE=${BENCH_CASE:-capture}
case "$CASE" in
capture)
    FULL_SETTINGS='{"capture":"full","redaction":{"enabled":true,"mode":"pattern"}}'
    FULL_PLAN=enterprise
    B_LABEL="full capture + redaction"
    TITLE="capture and redaction cost"
    ;;
limits)
    FULL_SETTINGS='{"capture":"off","rate_limits":{"requests_per_minute":1000000000,"tokens_per_minute":60000000000},"guardrails":{"pii":"off","injection":"off"}}'
    FULL_PLAN=enterprise
    FULL_BUDGET='{"scope":"org","name":"bench","period_type":"monthly","hard_limit_usd":1000000000}'
    B_LABEL="rate limits + org budget (never refusing)"
    TITLE="per-key rate limit and budget cost"
    TARGET_RATIO=0.95
    PERF_MODE=0
    ;;
*) echo "BENCH_CASE must be capture or limits" >&2; exit 2 ;;
esac
RESULTS=$OUT/$CASE-results.md

BENCH_TAG=capture
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
need_tools "Debian: apt-get install wrk curl build-essential" wrk curl awk sed sort
bench_start capture
# the log databases grow by ~0.5 GB per FULL round (~3-4 KB a record on disk); refuse to fill a small disk
FREE_KB=$(df -Pk "$TMP" | awk 'NR==2{print $4}')
[ "${FREE_KB:-0}" -ge $((3 * 1024 * 1024)) ] ||
    die "less than 3 GB free under ${TMPDIR:-/tmp} ($((${FREE_KB:-0} / 1024)) MB); the log databases need ~2.5 GB (set TMPDIR)"
rm -f "$OUT"/wrk-capture-*.out "$OUT/raw-capture.tsv" "$RESULTS" "$OUT/capture-profile.txt"

# ---------------------------------------------------------------------------------------------------------
# CPU placement, as in run.sh: every ingate thread (event loop, log writer, workers) on CPU 0, the load side
# (wrk, the mock upstream, curl for /metrics) on CPU 1. The log writer therefore competes with the event loop
# for one core, so its cost shows up in requests/s.
bench_pin "every ingate thread pinned to CPU 0; wrk, mock upstream and the /metrics reader pinned to CPU 1"

# CPU time of one thread in ns: sum_exec_runtime from schedstat when the kernel has it, else utime+stime ticks
thread_ns() {
    local f=/proc/$1/task/$2
    if [ -r "$f/schedstat" ]; then
        awk '{print $1}' "$f/schedstat"
    else
        local s
        s=$(cat "$f/stat") || return 1
        s=${s##*) }
        awk -v hz="$CLK_TCK" '{printf "%.0f\n", ($12 + $13) * 1e9 / hz}' <<<"$s"
    fi
}

# jstr FILE KEY: the first string value of "KEY":"..." in a JSON answer (the answers we read are flat enough)
jstr() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1" | head -1; }

# ---------------------------------------------------------------------------------------------------------
# build; the binaries are copied so that a rebuild by someone else during the run changes nothing (and perf
# can still resolve ingate's symbols)
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    log "building ingate and the mock (make -j2)"
    make -C "$ROOT" -j2 >"$TMP/make.log" 2>&1 || {
        tail -20 "$TMP/make.log" >&2
        die "make failed"
    }
fi
[ -x "$ROOT/build/ingate" ] && [ -x "$ROOT/build/mock-upstream" ] || die "build/ingate or build/mock-upstream missing"
cp "$ROOT/build/ingate" "$TMP/ingate"
cp "$ROOT/build/mock-upstream" "$TMP/mock-upstream"
INGATE=$TMP/ingate
MOCK=$TMP/mock-upstream

ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

# ---------------------------------------------------------------------------------------------------------
# mock upstream and ingate
log "CPU placement: $PIN_DESC"
start_mock

DATA=$TMP/ingate-data
# bcrypt cost 10 only makes the two signups quicker; it is not on the measured path
"${ON_PROXY[@]}" "$INGATE" serve --data-dir "$DATA" --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 \
    --threads 1 --workers 1 --drain-timeout-ms 1000 --log-level warn --bcrypt-cost 10 \
    --openai-base-url "http://127.0.0.1:$MOCK_PORT" >"$TMP/ingate.out" 2>"$TMP/ingate.log" &
INGATE_PID=$!
PIDS+=("$INGATE_PID")
wait_line "$TMP/ingate.out" '^READY ' 20 "$INGATE_PID" || die "ingate did not start: $(tail -5 "$TMP/ingate.log")"
PORT=$(sed -n 's/.* http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/ingate.out")
[ -n "$PORT" ] || die "cannot parse READY line: $(cat "$TMP/ingate.out")"
BASE=http://127.0.0.1:$PORT
log "mock :$MOCK_PORT (pid $MOCK_PID); ingate plain :$PORT (pid $INGATE_PID)"

# api METHOD PATH OUTFILE [curl args...]: prints the HTTP status, the body goes to OUTFILE
api() {
    local m=$1 p=$2 o=$3
    shift 3
    curl -s -o "$o" -w '%{http_code}' --max-time 30 -X "$m" "$BASE$p" "$@"
}

# make_org NAME SETTINGS_JSON [PLAN]: signup, provider key, (plan), settings; sets KEY_<NAME>
make_org() {
    local name=$1 settings=$2 plan=${3:-} slug st
    slug=bench-${name,,}
    st=$(api POST /api/v1/signup "$TMP/signup-$name.json" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$slug@bench.example\",\"password\":\"bench-password-$RANDOM$RANDOM\",\"org_slug\":\"$slug\",\"org_name\":\"Bench $name\"}")
    [ "$st" = 201 ] || die "signup $slug: HTTP $st $(cat "$TMP/signup-$name.json")"
    local token key
    token=$(jstr "$TMP/signup-$name.json" token)
    key=$(jstr "$TMP/signup-$name.json" api_key)
    [ -n "$token" ] && [ -n "$key" ] || die "signup $slug: no token or api_key in the answer"
    st=$(api PUT /api/v1/providers/openai "$TMP/provider-$name.json" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"api_key":"sk-bench-provider"}')
    [ "$st" = 200 ] || die "provider key for $slug: HTTP $st $(cat "$TMP/provider-$name.json")"
    if [ -n "$plan" ]; then
        "$INGATE" admin set-plan --org "$slug" --plan "$plan" --data-dir "$DATA" >"$TMP/plan-$name.json" \
            2>>"$TMP/admin.log" || die "set-plan $slug $plan failed: $(tail -1 "$TMP/admin.log")"
    fi
    # the running gateway learns of the plan through its control socket; retry briefly in case it is not there yet
    for _ in $(seq 1 20); do
        st=$(api PUT /api/v1/org "$TMP/settings-$name.json" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "{\"settings\":$settings}")
        [ "$st" = 200 ] && break
        sleep 0.1
    done
    [ "$st" = 200 ] || die "settings for $slug: HTTP $st $(cat "$TMP/settings-$name.json")"
    printf -v "KEY_$name" '%s' "$key"
    printf -v "TOKEN_$name" '%s' "$token"
    log "org $slug: $(sed -n 's/.*"plan":"\([^"]*\)".*"settings":\({.*}\),"created_at".*/plan \1, settings \2/p' "$TMP/settings-$name.json")"
}
make_org OFF '{"capture":"off"}'
make_org FULL "$FULL_SETTINGS" $FULL_PLAN
if [ -n "${FULL_BUDGET:-}" ]; then
    st=$(api POST /api/v1/budgets "$TMP/budget.json" -H "Authorization: Bearer $TOKEN_FULL" \
        -H 'Content-Type: application/json' -d "$FULL_BUDGET")
    [ "$st" = 201 ] || die "budget: HTTP $st $(cat "$TMP/budget.json")"
    log "org bench-full: budget $FULL_BUDGET"
fi
declare -A KEY=([OFF]=$KEY_OFF [FULL]=$KEY_FULL)
MODES=(OFF FULL)

# ---------------------------------------------------------------------------------------------------------
# metrics
metrics() { "${ON_LOAD[@]}" curl -s --max-time 10 "$BASE/metrics" >"$1" || die "GET /metrics failed"; }
# mval FILE NAME: the value of a sample line (NAME may carry its labels)
mval() { awk -v n="$2" '$1==n{print $2; f=1} END{if(!f) print 0}' "$1"; }
queue_depth() { "${ON_LOAD[@]}" curl -s --max-time 5 "$BASE/metrics" | awk '$1=="ingate_capture_queue_depth"{print $2}'; }
# waits (up to 10 s) until the writer has emptied the queue; prints the milliseconds it took
drain() {
    local t0 d
    t0=$(date +%s%N)
    for _ in $(seq 1 200); do
        d=$(queue_depth)
        [ "${d:-1}" = 0 ] && break
        sleep 0.05
    done
    echo $((($(date +%s%N) - t0) / 1000000))
}

# threads (they are not named): the writer is the first thread serve starts (ig_capture_start, before the worker
# pool, retention, control and event-loop threads), so the earliest-created thread after the main one; checked
# below against behaviour (under load the loop is the busiest thread, the writer the next)
FIRST_TID=$(for t in /proc/"$INGATE_PID"/task/*; do
    s=$(cat "$t/stat") && s=${s##*) } && echo "$(awk '{print $20}' <<<"$s") ${t##*/}"
done | sort -n -k1,1 -k2,2 | awk -v main="$INGATE_PID" '$2 != main {print $2; exit}')
all_threads_ns() { for t in /proc/"$INGATE_PID"/task/*; do echo "${t##*/} $(thread_ns "$INGATE_PID" "${t##*/}")"; done; }

wrk_run() { # mode seconds outfile
    INGATE_KEY=${KEY[$1]} timeout $(($2 + 30)) "${ON_LOAD[@]}" wrk -t1 -c"$CONNS" -d"$2"s --timeout 5s \
        -s "$BENCH/capture.lua" "$BASE/v1/chat/completions" >"$3" 2>&1
}

# sanity and warm-up of both orgs; then the event-loop thread is the busiest one
all_threads_ns >"$TMP/threads0"
for m in "${MODES[@]}"; do
    wrk_run "$m" 1 "$TMP/sanity-$m.out" || die "$m: wrk failed: $(cat "$TMP/sanity-$m.out")"
    r=$(grep '^RESULT' "$TMP/sanity-$m.out") || die "$m: no wrk result: $(cat "$TMP/sanity-$m.out")"
    [ "$(kv "$r" non2xx)" = 0 ] && [ "$(kv "$r" requests)" -gt 0 ] || die "$m: requests fail: $r"
done
BODY_BYTES=$(kv "$r" body_bytes)
all_threads_ns >"$TMP/threads1"
awk 'NR==FNR{a[$1]=$2; next} {print $2 - a[$1], $1}' "$TMP/threads0" "$TMP/threads1" | sort -rn >"$TMP/busy"
LOOP_TID=$(awk 'NR==1{print $2}' "$TMP/busy")
WRITER_TID=$(awk 'NR==2{print $2}' "$TMP/busy")
[ -n "$LOOP_TID" ] && [ -n "$WRITER_TID" ] || die "cannot find the event-loop and log-writer threads"
[ "$WRITER_TID" = "$FIRST_TID" ] ||
    log "WARNING: the second-busiest thread ($WRITER_TID) is not the first one created ($FIRST_TID); taking it as the writer"
log "both orgs answer; threads: event loop $LOOP_TID, log writer $WRITER_TID; request body $BODY_BYTES bytes"

# the stored records: FULL redacted and attributed, OFF without bodies or attribution
check_record() { # mode
    local k=${KEY[$1]} id st
    st=$(api GET "/api/v1/logs?limit=1&status=200" "$TMP/list-$1.json" -H "X-Ingate-Key: $k")
    [ "$st" = 200 ] || die "$1: GET /api/v1/logs: HTTP $st"
    id=$(jstr "$TMP/list-$1.json" id)
    [ -n "$id" ] || die "$1: no log record"
    st=$(api GET "/api/v1/logs/$id" "$TMP/record-$1.json" -H "X-Ingate-Key: $k")
    [ "$st" = 200 ] || die "$1: GET /api/v1/logs/$id: HTTP $st"
}
if [ "$CASE" = capture ]; then
    check_record FULL
    grep -q '\[REDACTED\]' "$TMP/record-FULL.json" || die "FULL: the stored request body has no [REDACTED]"
    ! grep -qE 'jane\.doe@example\.com|4111 1111 1111 1111|555-0132' "$TMP/record-FULL.json" ||
        die "FULL: PII reached the log database"
    grep -q '"user_id":"user-4821"' "$TMP/record-FULL.json" || die "FULL: no user_id in the record"
    REDACTED_N=$(grep -o '\[REDACTED\]' "$TMP/record-FULL.json" | wc -l)
    check_record OFF
    grep -q '"req_body":null' "$TMP/record-OFF.json" && grep -q '"user_id":null' "$TMP/record-OFF.json" ||
        die "OFF: the record has a body or attribution: $(head -c 600 "$TMP/record-OFF.json")"
    log "stored records check out: FULL has $REDACTED_N [REDACTED] and no PII; OFF has no body and no user id"
else
    REDACTED_N=0
fi

# ---------------------------------------------------------------------------------------------------------
# rounds: OFF, FULL, OFF, FULL, ...
RAW=$OUT/raw-capture.tsv
printf 'mode\trep\trps\tp50_us\tp99_us\tcpu_us_per_req\tloop_us_per_req\twriter_us_per_req\tproxy_cpu_util\tload_cpu_util\trecords\trecords_per_s\twriter_us_per_record\tqueue_max\tqueue_end\tdrain_ms\tspooled\tdropped\tredact_mb\tredact_s\tredact_mb_per_s\terrors\tredact_share_of_writer\tredact_bytes_per_record\n' >"$RAW"

# samples the queue depth every 0.25 s into FILE until killed
sampler() {
    while :; do
        queue_depth >>"$1" 2>/dev/null || true
        sleep 0.25
    done
}

for rep in $(seq 1 "$REPS"); do
    for m in "${MODES[@]}"; do
        wrk_run "$m" "$WARMUP" "$TMP/warm.out" || die "$m: wrk warm-up failed: $(cat "$TMP/warm.out")"
        drain >/dev/null
        metrics "$TMP/m0"
        c0=$(cpu_ticks "$INGATE_PID")
        w0=$(thread_ns "$INGATE_PID" "$WRITER_TID")
        lp0=$(thread_ns "$INGATE_PID" "$LOOP_TID")
        read -r -a l0 <<<"$(cpu_busy "$CPU_LOAD")"
        : >"$TMP/depth"
        sampler "$TMP/depth" &
        SP=$!
        PIDS+=("$SP")
        wrk_run "$m" "$DURATION" "$TMP/wrk-capture-$m-$rep.out" || die "$m: wrk failed: $(cat "$TMP/wrk-capture-$m-$rep.out")"
        kill "$SP" 2>/dev/null || true
        wait "$SP" 2>/dev/null || true
        c1=$(cpu_ticks "$INGATE_PID")
        lp1=$(thread_ns "$INGATE_PID" "$LOOP_TID")
        read -r -a l1 <<<"$(cpu_busy "$CPU_LOAD")"
        qend=$(queue_depth)
        dms=$(drain)
        w1=$(thread_ns "$INGATE_PID" "$WRITER_TID")
        metrics "$TMP/m1"
        r=$(grep '^RESULT' "$TMP/wrk-capture-$m-$rep.out") || die "$m: no wrk result: $(cat "$TMP/wrk-capture-$m-$rep.out")"
        cp "$TMP/wrk-capture-$m-$rep.out" "$OUT/" 2>/dev/null || true
        n=$(kv "$r" requests)
        dur=$(kv "$r" duration_us)
        errs=$(($(kv "$r" non2xx) + $(kv "$r" err_connect) + $(kv "$r" err_read) + $(kv "$r" err_write) + $(kv "$r" err_timeout)))
        d() { awk -v a="$(mval "$TMP/m1" "$1")" -v b="$(mval "$TMP/m0" "$1")" 'BEGIN{printf "%.6f", a - b}'; }
        written=$(d 'ingate_capture_records_total{outcome="written"}')
        spooled=$(d 'ingate_capture_records_total{outcome="spooled"}')
        dropped=$(d 'ingate_capture_records_total{outcome="dropped"}')
        rbytes=$(d ingate_redaction_bytes_total)
        rsecs=$(d ingate_redaction_seconds_total)
        qmax=$(sort -n "$TMP/depth" | tail -1)
        line=$(awk -v m="$m" -v rep="$rep" -v n="$n" -v dur="$dur" -v p50="$(kv "$r" p50_us)" -v p99="$(kv "$r" p99_us)" \
            -v dc="$((c1 - c0))" -v hz="$CLK_TCK" -v lb="$((l1[0] - l0[0]))" -v lt="$((l1[1] - l0[1]))" \
            -v lpn="$((lp1 - lp0))" -v wn="$((w1 - w0))" -v wr="$written" -v sp="$spooled" -v dr="$dropped" \
            -v qm="${qmax:-0}" -v qe="${qend:-0}" -v dms="$dms" -v rb="$rbytes" -v rs="$rsecs" -v e="$errs" '
            BEGIN{ s = dur / 1e6
                   printf "%s\t%d\t%.0f\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%d\t%.0f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.3f\t%.0f\t%d\t%.3f\t%.0f\n",
                       m, rep, n / s, p50, p99, dc * 1e6 / hz / n, lpn / 1e3 / n, wn / 1e3 / n, dc / hz / s,
                       (lt > 0 ? lb / lt : 0), wr, wr / s, (wr > 0 ? wn / 1e3 / wr : 0), qm, qe, dms, sp, dr,
                       rb / 1e6, rs, (rs > 0 ? rb / 1e6 / rs : 0), e, (wn > 0 ? rs * 1e9 / wn : 0), (wr > 0 ? rb / wr : 0) }')
        printf '%s\n' "$line" >>"$RAW"
        log "round $rep/$REPS $(awk -F'\t' '{printf "%-4s %6s req/s  %5s us/req (loop %s, writer %s)  proxy %s cpu  load %s cpu  %s records, writer %s us/record, queue max %s end %s (drained in %s ms), spooled %s dropped %s, redaction %s MB/s  errors %s", $1, $3, $6, $7, $8, $9, $10, $11, $13, $14, $15, $16, $17, $18, $21, $22}' <<<"$line")"
        [ "$errs" = 0 ] || log "WARNING: $m: $errs errors in round $rep"
    done
done

# ---------------------------------------------------------------------------------------------------------
# optional: where the writer's time goes (perf, one more FULL run)
PROFILE_NOTE=""
RS_SHARE=0 # redaction's share of the writer's CPU samples, %
perf_ok=0
if [ "$PERF_MODE" != 0 ] && command -v perf >/dev/null; then
    if [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 3)" -le 1 ]; then
        perf_ok=1
    fi
fi
[ "$PERF_MODE" = 1 ] && [ "$perf_ok" = 0 ] && log "BENCH_PERF=1 but perf is missing or not permitted; no profile"
if [ "$perf_ok" = 1 ]; then
    log "profiling the log writer thread for ${PERF_SECONDS}s (FULL load, perf record -e cpu-clock --call-graph dwarf)"
    INGATE_KEY=${KEY[FULL]} timeout $((PERF_SECONDS + 40)) "${ON_LOAD[@]}" wrk -t1 -c"$CONNS" -d"$((PERF_SECONDS + 2))"s \
        --timeout 5s -s "$BENCH/capture.lua" "$BASE/v1/chat/completions" >"$TMP/wrk-perf.out" 2>&1 &
    WP=$!
    PIDS+=("$WP")
    sleep 1
    if timeout $((PERF_SECONDS + 30)) perf record -q -e cpu-clock --call-graph dwarf,8192 -t "$WRITER_TID" \
        -o "$TMP/perf.data" -- sleep "$PERF_SECONDS" >"$TMP/perf-record.log" 2>&1; then
        wait "$WP" 2>/dev/null || true
        timeout 120 perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
            grep -vE '^#|^$' >"$TMP/perf-inclusive.txt" || true
        {
            echo "# log writer thread (TID $WRITER_TID) under FULL load: self time by library"
            timeout 120 perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
                grep -vE '^#|^$' | head -12
            echo
            echo "# inclusive time (children included), top entries"
            grep -v '\] 0x0000' "$TMP/perf-inclusive.txt" | head -60
        } >"$OUT/capture-profile.txt" || true
        pi() { # inclusive share of a symbol, in % ("—" when it has no samples)
            awk -v s="$1" 'index($0, "] " s " ") {sub("%", "", $1); print $1; f = 1; exit} END {if (!f) print "—"}' \
                "$TMP/perf-inclusive.txt"
        }
        PROFILE_NOTE="SQLite (sqlite3_step) $(pi sqlite3_step)%, of it WAL checkpoints $(pi sqlite3WalCheckpoint)%,"
        PROFILE_NOTE+=" commits' WAL writes $(pi sqlite3WalFrames)%, B-tree inserts $(pi sqlite3BtreeInsert)%;"
        PROFILE_NOTE+=" sealing (ig_field_seal) $(pi ig_field_seal)%, of it AES-GCM (EVP_EncryptUpdate)"
        PROFILE_NOTE+=" $(pi EVP_EncryptUpdate)%, RAND_bytes_ex $(pi RAND_bytes_ex)%;"
        PROFILE_NOTE+=" blind-index tag (ig_field_tag) $(pi ig_field_tag)%; model (ig_capture_model_of) $(pi ig_capture_model_of)%;"
        PROFILE_NOTE+=" redaction (ig_redact_body) $(pi ig_redact_body)%; fdatasync $(pi '__GI_fdatasync (inlined)')%"
        RS_SHARE=$(awk -v a="$(pi ig_redact_body)" -v b="$(pi ig_redact_field)" 'BEGIN{print (a == "—" ? 0 : a) + (b == "—" ? 0 : b)}')
        log "profile written to $OUT/capture-profile.txt: $PROFILE_NOTE"
    else
        log "perf record failed: $(tail -2 "$TMP/perf-record.log")"
        wait "$WP" 2>/dev/null || true
    fi
fi

# ---------------------------------------------------------------------------------------------------------
# results
med() { awk -F'\t' -v t="$1" -v k="$2" 'NR>1 && $1==t {print $k}' "$RAW" | median; }
colmax() { awk -F'\t' -v t="$1" -v k="$2" 'NR>1 && $1==t && $k>x {x=$k} END{print x+0}' "$RAW"; }
colsum() { awk -F'\t' -v t="$1" -v k="$2" 'NR>1 && $1==t {x+=$k} END{print x+0}' "$RAW"; }
declare -A M
names=(rps:3 p50:4 p99:5 cpu:6 loop:7 writer:8 util:9 load:10 recs:12 wrec:13 drain:16 rmbs:21 rshare:23 rbpr:24)
for m in "${MODES[@]}"; do
    for nk in "${names[@]}"; do M[$m.${nk%%:*}]=$(med "$m" "${nk##*:}"); done
    M[$m.qmax]=$(colmax "$m" 14)
    M[$m.qend]=$(colmax "$m" 15)
    M[$m.drainmax]=$(colmax "$m" 16)
    M[$m.spooled]=$(colsum "$m" 17)
    M[$m.dropped]=$(colsum "$m" 18)
    M[$m.errors]=$(colsum "$m" 22)
done
TOTAL_ERRORS=$((${M[OFF.errors]} + ${M[FULL.errors]}))
RATIO=$(awk -v a="${M[FULL.rps]}" -v b="${M[OFF.rps]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
CPU_RATIO=$(awk -v a="${M[OFF.cpu]}" -v b="${M[FULL.cpu]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
LOOP_RATIO=$(awk -v a="${M[OFF.loop]}" -v b="${M[FULL.loop]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
# requests/s measure the proxy only when its core is the bottleneck: both modes near a full core
PROXY_BOUND=$(awk -v a="${M[OFF.util]}" -v b="${M[FULL.util]}" 'BEGIN{print (a >= 0.85 && b >= 0.85) ? 1 : 0}')
met() { awk -v r="$1" -v t="$TARGET_RATIO" 'BEGIN{print (r >= t ? "✅" : "❌")}'; }
if [ "$PROXY_BOUND" = 1 ]; then
    RPS_VERDICT="target ≥ ${TARGET_RATIO}× $(met "$RATIO")"
else
    RPS_VERDICT="⚠️ not conclusive: ingate's core was not the bottleneck (busy OFF $(awk -v x="${M[OFF.util]}" 'BEGIN{printf "%.2f", x}'), FULL $(awk -v x="${M[FULL.util]}" 'BEGIN{printf "%.2f", x}')); see the next row"
fi
KEPT_UP=$(awk -v s="${M[FULL.spooled]}" -v r="${M[FULL.dropped]}" -v d="${M[FULL.drainmax]}" -v q="${M[FULL.qmax]}" \
    'BEGIN{ print ((s == 0 && r == 0 && d <= 1000 && q <= 8192) ? "✅ yes" : "❌ no") }')
cap() { awk -v x="$1" 'BEGIN{ if (x > 0) printf "%.0f", 1e6 / x; else print "n/a" }'; }
row() { printf '| %s | %s | %s | %s |\n' "$@"; }

table() {
    echo "| metric | capture off | $B_LABEL | FULL / OFF, target |"
    echo "|---|---:|---:|---|"
    row "requests/s ($CONNS conns)" "$(fmt "${M[OFF.rps]}" 0)" "$(fmt "${M[FULL.rps]}" 0)" "**${RATIO}×**, $RPS_VERDICT"
    row "requests/s when ingate's one core is the bottleneck: 1e6 ÷ process CPU µs/request" \
        "$(cap "${M[OFF.cpu]}")" "$(cap "${M[FULL.cpu]}")" "**${CPU_RATIO}×**, target ≥ ${TARGET_RATIO}× $(met "$CPU_RATIO")"
    row "… when the writer has a core of its own: 1e6 ÷ event-loop µs/request" \
        "$(cap "${M[OFF.loop]}")" "$(cap "${M[FULL.loop]}")" "${LOOP_RATIO}× (if the writer keeps up, see below)"
    row "proxy CPU µs/request (whole process)" "$(fmt "${M[OFF.cpu]}")" "$(fmt "${M[FULL.cpu]}")" \
        "$(awk -v a="${M[FULL.cpu]}" -v b="${M[OFF.cpu]}" 'BEGIN{printf "%.2f×", a / b}')"
    row "… event-loop thread µs/request" "$(fmt "${M[OFF.loop]}")" "$(fmt "${M[FULL.loop]}")" \
        "$(awk -v a="${M[FULL.loop]}" -v b="${M[OFF.loop]}" 'BEGIN{printf "%.2f×", a / b}')"
    row "… log-writer thread µs/request" "$(fmt "${M[OFF.writer]}")" "$(fmt "${M[FULL.writer]}")" \
        "$(awk -v a="${M[FULL.writer]}" -v b="${M[OFF.writer]}" 'BEGIN{printf "%.2f×", a / b}')"
    row "latency p50 / p99, ms ($CONNS conns)" \
        "$(fmt "$(awk -v x="${M[OFF.p50]}" 'BEGIN{print x/1000}')" 2) / $(fmt "$(awk -v x="${M[OFF.p99]}" 'BEGIN{print x/1000}')" 2)" \
        "$(fmt "$(awk -v x="${M[FULL.p50]}" 'BEGIN{print x/1000}')" 2) / $(fmt "$(awk -v x="${M[FULL.p99]}" 'BEGIN{print x/1000}')" 2)" "—"
    row "records written/s during the round" "$(fmt "${M[OFF.recs]}" 0)" "$(fmt "${M[FULL.recs]}" 0)" "—"
    row "queue kept up: max sampled depth / depth at the end / drained in (ms, worst round)" \
        "${M[OFF.qmax]} / ${M[OFF.qend]} / ${M[OFF.drainmax]}" "${M[FULL.qmax]} / ${M[FULL.qend]} / ${M[FULL.drainmax]}" \
        "FULL kept up: $KEPT_UP"
    row "records spooled / dropped (all rounds)" "${M[OFF.spooled]} / ${M[OFF.dropped]}" \
        "${M[FULL.spooled]} / ${M[FULL.dropped]}" "must be 0 / 0"
    row "**log pipeline: writer CPU µs/record**" "$(fmt "${M[OFF.wrec]}" 2)" "**$(fmt "${M[FULL.wrec]}" 2)**" "—"
    row "**log pipeline capacity, records/s into SQLite (one core)**" "$(cap "${M[OFF.wrec]}")" \
        "**$(cap "${M[FULL.wrec]}")**" \
        "one writer serves $(awk -v w="${M[FULL.wrec]}" -v l="${M[FULL.loop]}" 'BEGIN{printf "%.2f", l / w}') FULL event loops"
    row "**redaction in situ, MB/s** (bytes ÷ redaction seconds)" "—" "**$(fmt "${M[FULL.rmbs]}" 0)**" "—"
    row "redaction, MB/s per core of CPU time (bytes per record ÷ the redaction share of writer CPU in the profile)" "—" \
        "$(awk -v b="${M[FULL.rbpr]}" -v s="$RS_SHARE" -v w="${M[FULL.wrec]}" 'BEGIN{ if (s > 0 && w > 0) printf "%.0f", b / (s / 100 * w); else print "— (no profile)"}')" "—"
    row "redaction: share of the writer's time (wall, from /metrics); bytes scanned per record" "—" \
        "$(fmt "$(awk -v x="${M[FULL.rshare]}" 'BEGIN{print 100 * x}')" 0) %; $(fmt "${M[FULL.rbpr]}" 0) B" "—"
    row "wrk errors (non-2xx + socket), all rounds" "${M[OFF.errors]}" "${M[FULL.errors]}" "0"
}

notes() {
    echo "- Medians of $REPS rounds per org, alternating OFF / FULL, each \`wrk -t1 -c$CONNS -d${DURATION}s\` after a ${WARMUP}s"
    echo "  warm-up and after the capture queue has drained. One ingate (\`--threads 1 --workers 1\`, plain HTTP); $PIN_DESC."
    echo "- Request: \`bench/capture.lua\`, a $BODY_BYTES-byte chat-completion body (an email, a Luhn-valid card, a US phone"
    echo "  number and ~1 KB of prose) plus \`X-Ingate-User-Id\`; the mock answers with a ~630-byte completion. A stored"
    echo "  FULL record was read back: $REDACTED_N \`[REDACTED]\` marks and none of the PII; the OFF record has no body and no user id."
    echo "- CPU µs/request: utime+stime of the ingate process (all threads) ÷ requests. The loop / writer split is each"
    echo "  thread's own CPU time (\`/proc/PID/task/TID/schedstat\`). The writer thread is shared by both orgs' records."
    echo "- Busy share of ingate's core (1.00 = one full core): OFF $(fmt "${M[OFF.util]}" 2), FULL $(fmt "${M[FULL.util]}" 2);" \
        "of the load core (wrk + mock + anything else running there): OFF $(fmt "${M[OFF.load]}" 2), FULL $(fmt "${M[FULL.load]}" 2)."
    if [ "$PROXY_BOUND" != 1 ]; then
        echo "  **ingate's core was not saturated, so requests/s was capped by the load side (or by other work on the"
        echo "  machine) in at least one mode, and the requests/s ratio says nothing about capture. The CPU-derived rows are"
        echo "  the comparison: with all of ingate on one core, requests/s = 1e6 ÷ CPU µs/request.**"
    fi
    echo "- The last of the three requests/s rows is where ingate runs with more than one core (the writer is a separate"
    echo "  thread and the event loops do not wait for it): then the loops set the pace, as long as the writer keeps up, i.e."
    echo "  (records/s of all loops) ≤ the log pipeline's capacity."
    echo "- Log pipeline capacity = 1e6 ÷ (writer thread CPU µs ÷ records written in the round): what one writer thread"
    echo "  sustains with a core of its own (model parse, tokens and cost, redaction, sealing, one SQLite transaction per"
    echo "  org and batch). Thread CPU time, not wall time, so other load on the machine does not skew it."
    echo "- Redaction MB/s: \`ingate_redaction_bytes_total\` ÷ \`ingate_redaction_seconds_total\` over the FULL rounds. The"
    echo "  seconds are wall-clock (CLOCK_MONOTONIC) on the writer thread, which shares its core with the event loop, so a"
    echo "  preempted redaction counts in full: this is a lower bound on the redactor's speed."
    echo "- Queue: \`ingate_capture_queue_depth\` sampled every 0.25 s during the round (max), read right after wrk stops"
    echo "  (end; the writer commits every 20 ms, so a few hundred records in flight is normal), and the time until it"
    echo "  reads 0. \"Kept up\" = no record spooled or dropped, queue ≤ 8192 and drained within 1 s in every round."
    if [ -n "$PROFILE_NOTE" ]; then
        echo "- Writer profile (\`perf record -e cpu-clock --call-graph dwarf\` on the writer thread, ${PERF_SECONDS}s of FULL"
        echo "  load; inclusive shares of its time): $PROFILE_NOTE. Details: \`bench/out/capture-profile.txt\`."
    fi
    echo "- wrk errors over all rounds: $TOTAL_ERRORS."
}

if [ -n "${BENCH_REV:-}" ]; then
    REV=$BENCH_REV # e.g. when running from a `git archive` export
else
    REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -z "$(git -C "$ROOT" status --porcelain -- src Makefile 2>/dev/null)" ] || REV="$REV + uncommitted changes under src/"
fi
{
    echo "# ingate $TITLE — $(date -u +%Y-%m-%dT%H:%M:%SZ), $REV ($(nproc) CPUs, $(uname -r))"
    echo
    table
    echo
    notes
} >"$RESULTS"
echo
cat "$RESULTS"
log "results written to $RESULTS (raw data: $RAW)"
[ "$TOTAL_ERRORS" = 0 ] || log "WARNING: wrk reported $TOTAL_ERRORS errors"
STATUS=0
