# bench/lib.sh — the pieces every benchmark script shares; sourced, not run.
#
# Before sourcing, set: ROOT, OUT, BENCH_TAG (the log prefix, e.g. "bench"), PIN (1 = pin CPUs) and
# TIME_LIMIT (seconds). bench_start then gives the script:
#   TMP      a fresh temporary directory, removed at exit (kept with BENCH_KEEP_TMP=1)
#   PIDS     background processes, stopped at exit (TERM, then KILL after 5 s)
#   STATUS   set it to 0 once the run succeeded; otherwise the logs in TMP are copied to $OUT/$FAIL_DIR
#   a hard stop after TIME_LIMIT seconds, so a wedged run ends itself
# and bench_pin sets CPU_LOAD, ON_PROXY and ON_LOAD (command prefixes) for the 2-core placement: the proxy
# under test on CPU 0, the load side on CPU 1 (see bench/README.md for why this is the stable choice).

T_START=$(date +%s)
log() { printf '[%s %3ds] %s\n' "$BENCH_TAG" $(($(date +%s) - T_START)) "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# need_tools HINT TOOL...: dies naming the first missing tool and the HINT (how to install it)
need_tools() {
    local hint=$1 tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found ($hint)"
    done
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$STATUS" != 0 ]; then
        mkdir -p "$OUT/$FAIL_DIR"
        cp "$TMP"/*.log "$TMP"/*.out "$TMP"/*.json "$TMP"/nginx/error.log "$OUT/$FAIL_DIR/" 2>/dev/null || true
        log "failed (exit $rc); logs copied to $OUT/$FAIL_DIR/"
    fi
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit $rc
}

# bench_start NAME: TMP, PIDS, STATUS, the exit trap and the hard stop (NAME names TMP and the failure dir)
bench_start() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/ingate-$1.XXXXXX")
    FAIL_DIR=$1-last-failure
    [ "$1" = bench ] && FAIL_DIR=last-failure
    PIDS=()
    STATUS=1
    trap bench_cleanup EXIT
    trap 'log "interrupted"; exit 130' INT TERM
    (
        trap 'kill "$sp" 2>/dev/null; exit 0' TERM
        sleep "$TIME_LIMIT" &
        sp=$!
        wait "$sp"
        echo "[$BENCH_TAG] time limit of ${TIME_LIMIT}s reached; stopping" >&2
        kill -TERM $$ 2>/dev/null
    ) &
    PIDS+=($!)
    mkdir -p "$OUT"
    rm -rf "${OUT:?}/$FAIL_DIR"
}

# bench_pin DESC: with 2+ CPUs and taskset, the proxy on CPU 0 and the load on CPU 1 (PIN_DESC = DESC)
bench_pin() {
    NCPU=$(getconf _NPROCESSORS_ONLN)
    if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then
        CPU_LOAD=1
        ON_PROXY=(taskset -c 0)
        ON_LOAD=(taskset -c "$CPU_LOAD")
        PIN_DESC=$1
    else
        CPU_LOAD=0
        ON_PROXY=()
        ON_LOAD=()
        PIN_DESC="no CPU pinning"
    fi
}

CLK_TCK=$(getconf CLK_TCK)

# utime+stime of a process (all threads), in clock ticks
cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat") || return 1
    s=${s##*) }
    # fields after "pid (comm) ": state=1 ... utime=12 stime=13
    awk '{print $12 + $13}' <<<"$s"
}

# busy jiffies of one CPU from /proc/stat (total minus idle and iowait)
cpu_busy() {
    awk -v c="cpu$1" '$1==c{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat
}

# wait_line FILE REGEX SECONDS [PID]: waits until FILE has a line matching REGEX, fails if PID dies
wait_line() {
    for _ in $(seq 1 $(($3 * 20))); do
        if grep -qE "$2" "$1" 2>/dev/null; then return 0; fi
        if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
    return 1
}

median() {
    sort -g | awk '{a[NR]=$1} END{if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# kv LINE KEY: the value of key=value in a RESULT line
kv() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<" $1"; }

# fmt X [DECIMALS]: X with DECIMALS (1) decimals
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN{printf "%.*f", d, x}'; }

# start_mock: the mock upstream ($MOCK) on the load CPU; sets MOCK_PID and MOCK_PORT
start_mock() {
    "${ON_LOAD[@]}" "$MOCK" --port 0 --host 127.0.0.1 >"$TMP/mock.out" 2>"$TMP/mock.log" &
    MOCK_PID=$!
    PIDS+=("$MOCK_PID")
    wait_line "$TMP/mock.out" '^LISTENING [0-9]+' 10 "$MOCK_PID" || die "mock upstream did not start"
    MOCK_PORT=$(awk '/^LISTENING/{print $2}' "$TMP/mock.out")
}
