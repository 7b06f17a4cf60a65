#!/usr/bin/env bash
# test_gtrace_greenrt.sh - gtrace and the greenrt USDT probes: a program
# spawning exactly K goroutines and making M unbuffered-channel round
# trips shows K+1 spawns (greenrt fires `spawn` for the main goroutine
# too) and at least 2M switches into goroutines; --trace writes a
# timeline; nothing stays loaded.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh

K=50 M=2000
"$GTRACE" run --json "$TMP/g.json" --trace "$TMP/t.json" -- "$H/goroutines" $K $M 2>"$TMP/g.txt"
rc=$?
sp=$(jget "$TMP/g.json" summary.g.spawned)
sw=$(jget "$TMP/g.json" summary.g.switches_to_goroutine)
if [[ $rc != 0 || -z $sp ]]; then
  fail "goroutines: rc $rc, no goroutine figures"; cat "$TMP/g.txt"
else
  [[ $sp == $((K + 1)) ]] && ok "spawns: $sp (K=$K + main)" || fail "spawns: $sp, expected $((K + 1))"
  (( sw >= 2 * M )) && ok "switches into goroutines: $sw >= 2M=$((2 * M))" ||
    fail "switches into goroutines: $sw < 2M=$((2 * M))"
  grep -q '"ph":"X"' "$TMP/t.json" && tail -c 4 "$TMP/t.json" | grep -q ']}' &&
    ok "trace timeline has goroutine slices" || fail "trace timeline incomplete"
fi
no_leftovers "greenrt"
[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace greenrt checks passed"
