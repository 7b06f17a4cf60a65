#!/usr/bin/env bash
# test_gtrace_greenrt.sh - gtrace and the greenrt USDT probes: a program
# spawning exactly K goroutines and making M unbuffered-channel round
# trips, traced both ways:
#   default mode (the runtime's counters, greenrt's `stats` probe): K+1
#     spawns (greenrt counts the main goroutine too), >= 2M switches,
#     >= M parks, and the report says where the figures come from;
#   --goroutines (per-event probes) with --trace: K+1 spawns, >= 2M
#     switches into goroutines, the runtime's own counters (g.rt.*) equal to
#     what the probes counted, and a timeline with goroutine slices.
# After each run nothing of gtrace's stays loaded.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh

K=50 M=2000

# --- default mode: figures from the runtime's counters ---
"$GTRACE" run --json "$TMP/c.json" -- "$H/goroutines" $K $M 2>"$TMP/c.txt"
rc=$?
sp=$(jget "$TMP/c.json" summary.g.spawned)
sw=$(jget "$TMP/c.json" summary.g.switches)
pk=$(jget "$TMP/c.json" summary.g.parks)
fc=$(jget "$TMP/c.json" summary.g.from_counters)
ev=$(jget "$TMP/c.json" summary.g.switches_to_goroutine)   # per-event only
if [[ $rc != 0 || -z $sp || -z $sw ]]; then
  fail "default mode: rc $rc, no goroutine figures"; cat "$TMP/c.txt"
else
  [[ $fc == 1 ]] && ok "default mode: figures from the runtime's counters" ||
    fail "default mode: g.from_counters is '$fc', expected 1"
  [[ -z $ev ]] && ok "default mode: no per-event figures (hot probes not attached)" ||
    fail "default mode: g.switches_to_goroutine=$ev, the per-event probes were attached"
  [[ $sp == $((K + 1)) ]] && ok "default mode: spawns $sp (K=$K + main)" ||
    fail "default mode: spawns $sp, expected $((K + 1))"
  (( sw >= 2 * M )) && ok "default mode: switches $sw >= 2M=$((2 * M))" ||
    fail "default mode: switches $sw < 2M=$((2 * M))"
  # every round trip over unbuffered channels parks a side at least once
  (( ${pk:-0} >= M )) && ok "default mode: parks $pk >= M=$M" ||
    fail "default mode: parks ${pk:-none} < M=$M"
  grep -q "figures from the runtime's counters: final snapshot" "$TMP/c.txt" &&
    ok "default mode: the report names the source (final snapshot)" ||
    fail "default mode: the report does not say the figures are the runtime's final counters"
fi
no_leftovers "greenrt default mode" "$(ids_json "$TMP/c.json")"

# --- the CPU governor's `workers` probe: parked down to one worker ---
GR_PROCS=2 "$GTRACE" run --json "$TMP/w.json" -- "$H/goroutines" 2 10 park 2>"$TMP/w.txt"
rc=$?
wa=$(jget "$TMP/w.json" summary.g.workers_active)
wc=$(jget "$TMP/w.json" summary.g.workers_changes)
if [[ $rc == 0 && $wa == 1 && ${wc:-0} -ge 1 ]]; then
  ok "workers probe: 1 of 2 active at the end, $wc change(s)"
else
  fail "workers probe: rc $rc, g.workers_active '$wa' (want 1), g.workers_changes '$wc' (want >= 1)"
  cat "$TMP/w.txt"
fi

# --- --goroutines: per-event probes, cross-checked with the counters ---
"$GTRACE" run --goroutines --json "$TMP/g.json" --trace "$TMP/t.json" -- "$H/goroutines" $K $M 2>"$TMP/g.txt"
rc=$?
sp=$(jget "$TMP/g.json" summary.g.spawned)
sw=$(jget "$TMP/g.json" summary.g.switches_to_goroutine)
all=$(jget "$TMP/g.json" summary.g.switches)
rt_sw=$(jget "$TMP/g.json" summary.g.rt.switches)
rt_sp=$(jget "$TMP/g.json" summary.g.rt.spawned)
fc=$(jget "$TMP/g.json" summary.g.from_counters)
if [[ $rc != 0 || -z $sp || -z $sw ]]; then
  fail "--goroutines: rc $rc, no goroutine figures"; cat "$TMP/g.txt"
else
  [[ $fc == 0 ]] && ok "--goroutines: figures from per-event probes" ||
    fail "--goroutines: g.from_counters is '$fc', expected 0"
  [[ $sp == $((K + 1)) ]] && ok "--goroutines: spawns $sp (K=$K + main)" ||
    fail "--goroutines: spawns $sp, expected $((K + 1))"
  (( sw >= 2 * M )) && ok "--goroutines: switches into goroutines $sw >= 2M=$((2 * M))" ||
    fail "--goroutines: switches into goroutines $sw < 2M=$((2 * M))"
  # the probes and the runtime's counters sit side by side in the runtime
  [[ -n $rt_sw && $rt_sw == "$all" && $rt_sp == "$sp" ]] &&
    ok "--goroutines: the runtime's counters agree (switches $rt_sw, spawns $rt_sp)" ||
    fail "--goroutines: probes say $all switches / $sp spawns, the runtime's counters ${rt_sw:-none} / ${rt_sp:-none}"
  grep -q '"ph":"X"' "$TMP/t.json" && tail -c 4 "$TMP/t.json" | grep -q ']}' &&
    ok "trace timeline has goroutine slices" || fail "trace timeline incomplete"
fi
no_leftovers "greenrt --goroutines" "$(ids_json "$TMP/g.json")"
[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace greenrt checks passed"
