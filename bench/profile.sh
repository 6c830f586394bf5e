#!/usr/bin/env bash
# bench/profile.sh — where ingate spends its CPU under the bench/run.sh load (plain and TLS).
#
# Starts the mock upstream and ingate exactly as bench/run.sh does (ingate --threads 1 pinned to CPU 0, the load
# on CPU 1), then for plain HTTP and for TLS:
#   1. counts the syscalls of every ingate thread with perf tracepoints (cheap, unlike strace) during a wrk run
#      and divides by the requests wrk completed: syscalls per request, per thread and per syscall;
#   2. samples on-CPU stacks with `perf record -e cpu-clock --call-graph dwarf` during another wrk run and
#      prints the per-thread split, the top self-time symbols and a per-phase breakdown of the event-loop
#      thread (a sample is charged to the first phase, in the listed order, found on its stack).
# Output goes to stdout and bench/out/profile-*.txt. Needs perf (Debian: linux-perf) and root or
# kernel.perf_event_paranoid <= 1. Knobs: PROFILE_SECONDS (6), BENCH_NO_BUILD (0).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
SECS=${PROFILE_SECONDS:-6}
INGATE=$ROOT/build/ingate
MOCK=$ROOT/build/mock-upstream

for tool in perf wrk taskset awk; do
    command -v "$tool" >/dev/null || {
        echo "profile: $tool not found" >&2
        exit 1
    }
done
BENCH_TAG=profile
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh" # wait_line
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ingate-profile.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then make -C "$ROOT" -j2 >"$TMP/make.log" 2>&1 || {
    tail -20 "$TMP/make.log" >&2
    exit 1
}; fi

taskset -c 1 "$MOCK" --port 0 >"$TMP/mock.out" 2>/dev/null &
PIDS+=($!)
wait_line "$TMP/mock.out" '^LISTENING' 10 || exit 1
MOCK_PORT=$(awk '/^LISTENING/{print $2}' "$TMP/mock.out")
DATA=$TMP/data
"$INGATE" admin create-org --slug bench --data-dir "$DATA" >/dev/null 2>&1
"$INGATE" admin create-key --org bench --data-dir "$DATA" >"$TMP/key.json" 2>/dev/null
INGATE_KEY=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$TMP/key.json")
export INGATE_KEY
printf '%s' sk-bench-provider | "$INGATE" admin set-provider-key --org bench --provider openai --data-dir "$DATA" >/dev/null 2>&1
taskset -c 0 "$INGATE" serve --data-dir "$DATA" --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 --threads 1 \
    --workers 1 --drain-timeout-ms 1000 --log-level warn --openai-base-url "http://127.0.0.1:$MOCK_PORT" \
    >"$TMP/ingate.out" 2>"$TMP/ingate.log" &
PID=$!
PIDS+=("$PID")
wait_line "$TMP/ingate.out" '^READY' 20 || exit 1
TLS_PORT=$(sed -n 's/^READY https=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/ingate.out")
PLAIN_PORT=$(sed -n 's/.* http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/ingate.out")

SYSCALLS="read write readv writev recvfrom sendto epoll_wait epoll_ctl poll ioctl futex getpid clock_gettime
          pread64 pwrite64 fdatasync fsync fcntl madvise mmap munmap brk accept4 close"

wrk_bg() { # url seconds outfile
    taskset -c 1 wrk -t1 -c64 -d"$2"s --timeout 5s -s "$BENCH/post.lua" "$1" >"$3" 2>&1 &
    WRK_PID=$!
}

profile_one() {
    local mode=$1 url=$2 f=$OUT/profile-$1.txt
    {
        echo "### ingate $mode — $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        taskset -c 1 wrk -t1 -c64 -d2s -s "$BENCH/post.lua" "$url" >/dev/null 2>&1 # warm-up

        # 1. syscalls per request (perf tracepoints, per thread)
        local ev=raw_syscalls:sys_enter s
        for s in $SYSCALLS; do
            [ -e "/sys/kernel/tracing/events/syscalls/sys_enter_$s" ] ||
                [ -e "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$s" ] || continue
            ev="$ev,syscalls:sys_enter_$s"
        done
        local c0 c1
        c0=$(awk '{s=$0; sub(/.*\) /, "", s); split(s, a, " "); print a[12] + a[13]}' "/proc/$PID/stat")
        perf stat -e "$ev" --per-thread -p "$PID" -x, -o "$TMP/stat.csv" -- sleep $((SECS + 1)) &
        local sp=$!
        sleep 0.3
        taskset -c 1 wrk -t1 -c64 -d"$SECS"s --timeout 5s -s "$BENCH/post.lua" "$url" >"$TMP/wrk.out" 2>&1
        wait "$sp" || true
        c1=$(awk '{s=$0; sub(/.*\) /, "", s); split(s, a, " "); print a[12] + a[13]}' "/proc/$PID/stat")
        local r n
        r=$(grep '^RESULT' "$TMP/wrk.out")
        n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$r")
        echo
        echo "wrk: $r"
        awk -v n="$n" -v dc="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
            'BEGIN{printf "ingate CPU: %.1f µs/request (all threads)\n", dc * 1e6 / hz / n}'
        echo
        echo "syscalls per request, by thread (thread role guessed from its syscalls):"
        awk -F, -v n="$n" '
            $4 ~ /sys_enter/ && $2 ~ /^[0-9]+$/ {
                k = split($1, a, "-"); tid = a[k]; ev = $4; sub(/.*sys_enter_?/, "", ev); if (ev == "") ev = "ALL"
                c[tid, ev] += $2; tids[tid] = 1; evs[ev] = 1
            }
            END {
                for (t in tids) {
                    if (c[t, "ALL"] == 0) continue
                    role = c[t, "epoll_wait"] > 0 ? "event loop" : (c[t, "pwrite64"] > 0 ? "capture writer" : "other")
                    printf "%s\t%s\t%s\t%.3f\n", t, role, "ALL", c[t, "ALL"] / n
                    for (e in evs) if (e != "ALL" && c[t, e] / n >= 0.005) printf "%s\t%s\t%s\t%.3f\n", t, role, e, c[t, e] / n
                }
            }' "$TMP/stat.csv" | sort -t$'\t' -k1,1 -k4,4gr |
            awk -F'\t' '$3 == "ALL" { printf "  tid %s (%s): %.2f syscalls/request\n", $1, $2, $4; next }
                         { printf "    %-14s %6.2f\n", $3, $4 }'
        echo

        # 2. on-CPU profile
        wrk_bg "$url" $((SECS + 3)) "$TMP/wrk2.out"
        sleep 1.5
        perf record -q -e cpu-clock -F 1999 --call-graph dwarf,16384 -p "$PID" -o "$TMP/perf.data" -- sleep "$SECS" \
            >/dev/null 2>&1 || true
        wait "$WRK_PID" || true
        perf script -i "$TMP/perf.data" -F tid,ip,sym,dso 2>/dev/null >"$TMP/perf.txt" || true
        awk -f - "$TMP/perf.txt" >"$TMP/agg.tsv" <<'AWK'
function flush() {
    if (tid == "") return
    N++; T[tid]++
    if (nf > 0) { SELF[tid, top]++ }
    for (k = 1; k <= np; k++) if (PH[k] in seen) { P[tid, k]++; break }
    if (k > np) P[tid, np + 1]++
    delete seen; tid = ""; nf = 0
}
BEGIN {
    np = split("ig_capture_submit|__GI_epoll_ctl|__GI___poll|__GI_getpid|__vdso_clock_gettime|SSL_write|SSL_read|RAND_bytes_ex|ig_apikey_check|ig_sha256|ig_authcache_get|ig_open|build_headers|ig_xfer_start|ig_resp_start|conn_parse|on_multi_timer|on_sock_event|evbuffer_write_atmost|evbuffer_read|conn_close|epoll_wait", PH, "|")
    split("capture submit (queue lock, wake-ups)|epoll_ctl (interest changes)|poll() (curl connection checks)|getpid()|clock_gettime|client TLS writes (SSL_write)|client TLS reads (SSL_read)|RAND_bytes|API key format check|SHA-256 (key hash)|auth cache lookup|provider key decrypt (ig_open)|upstream header list (build_headers)|transfer setup (ig_xfer_start)|response head (ig_resp_start)|HTTP parse, route, rest of conn_parse|curl timer callback (starts the upstream request)|curl socket events (upstream I/O, relay, finish)|client plain writes (evbuffer_write)|client plain reads (evbuffer_read)|connection close|epoll_wait|other", LBL, "|")
}
/^[^ \t]/ { flush(); tid = $1; next }
/^[ \t]*$/ { flush(); next }
{
    line = $0; sub(/^[ \t]*[0-9a-f]+ /, "", line)
    dso = line; sub(/.*\(/, "", dso); sub(/\)$/, "", dso); n = split(dso, d, "/"); dso = d[n]
    sym = line; sub(/ \([^(]*\)$/, "", sym)
    if (sym ~ /^\[unknown\]/) sym = "[" dso "]"
    nf++; if (nf == 1) top = sym " (" dso ")"
    seen[sym] = 1
}
END {
    flush()
    if (N == 0) { print "NONE"; exit }
    for (t in T) printf "TID\t%s\t%.1f\t%d\n", t, 100 * T[t] / N, (T[t] >= N * 0.05)
    for (key in SELF) { split(key, kk, SUBSEP); printf "SELF\t%s\t%.1f\t%s\n", kk[1], 100 * SELF[key] / T[kk[1]], kk[2] }
    for (t in T) for (k = 1; k <= np + 1; k++) if (P[t, k] > 0) printf "PHASE\t%s\t%.1f\t%02d %s\n", t, 100 * P[t, k] / T[t], k, LBL[k]
}
AWK
        if grep -q '^NONE' "$TMP/agg.tsv"; then
            echo "no samples (perf record failed?)"
        else
            printf 'on-CPU samples by thread:'
            awk -F'\t' '$1 == "TID" {printf "  tid %s %s%%", $2, $3}' "$TMP/agg.tsv"
            echo
            local t
            for t in $(awk -F'\t' '$1 == "TID" && $4 == 1 {print $2}' "$TMP/agg.tsv"); do
                echo
                echo "tid $t — top self-time symbols (% of this thread's samples):"
                awk -F'\t' -v t="$t" '$1 == "SELF" && $2 == t {printf "  %5.1f%%  %s\n", $3, $4}' "$TMP/agg.tsv" |
                    sort -rn | head -25 || true
                # phases only for the thread that runs the request path (the event loop)
                awk -F'\t' -v t="$t" '$1 == "PHASE" && $2 == t && $4 !~ / other$/' "$TMP/agg.tsv" | grep -q . || continue
                echo "tid $t — phases (% of this thread; a sample counts for the first phase of the list on its stack):"
                awk -F'\t' -v t="$t" '$1 == "PHASE" && $2 == t {print $4 "\t" $3}' "$TMP/agg.tsv" | sort |
                    awk -F'\t' '{sub(/^[0-9]+ /, "", $1); printf "  %5.1f%%  %s\n", $2, $1}'
            done
        fi
    } | tee "$f"
    echo "(written to $f)"
}

profile_one plain "http://127.0.0.1:$PLAIN_PORT/v1/chat/completions"
profile_one tls "https://127.0.0.1:$TLS_PORT/v1/chat/completions"
