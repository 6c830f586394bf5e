#!/bin/sh
# Runs each unit-test binary given as an argument and adds up their "# N passed, N failed" lines.
passed=0; failed=0; rc=0
for t in "$@"; do
    out=$("$t" 2>&1); r=$?
    line=$(printf '%s\n' "$out" | grep -E '^# [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ] || [ $r -ne 0 ]; then printf '%s\n' "$out"; fi
    if [ -z "$line" ]; then echo "not ok - $t (crashed or printed no result, exit $r)"; failed=$((failed+1)); rc=1; continue; fi
    p=$(echo "$line" | sed -E 's/^# ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    passed=$((passed+p)); failed=$((failed+f))
    echo "$(basename "$t"): $p passed, $f failed"
    [ $r -ne 0 ] && rc=1
done
echo "unit: $passed passed, $failed failed"
exit $rc
