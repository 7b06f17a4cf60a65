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
#   behind a wrapper (taskset, sh -c 'exec ...', a shell's child): the
#     probes are found in the image exec'ed later, and count from its
#     first instruction (K+1 spawns);
#   --trace with a file that cannot keep up: the lost events are counted
#     and reported; --trace-max-mb caps the file and says what it left out;
#   the cost lines: every uprobe hit counted, times a calibrated cost.
# The default mode's report names the runtime's I/O engine (GR_ENGINE),
# the default one and the other one asked for.
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
# the runtime's I/O engine, from its stats snapshots: the one GR_ENGINE
# asked for (auto: whichever works here), in the JSON and the text
eng=$(jget "$TMP/c.json" runtime_counters.engine)
case ${GR_ENGINE:-auto} in
  auto) [[ $eng == uring || $eng == epoll ]] ;;
  *) [[ $eng == "${GR_ENGINE}" ]] ;;
esac && ok "default mode: I/O engine '$eng' (GR_ENGINE=${GR_ENGINE:-auto})" ||
  fail "default mode: runtime_counters.engine is '$eng' with GR_ENGINE=${GR_ENGINE:-auto}"
grep -q "I/O engine $eng" "$TMP/c.txt" && ok "default mode: the report names the I/O engine" ||
  fail "default mode: no 'I/O engine $eng' in the report"
no_leftovers "greenrt default mode" "$(ids_json "$TMP/c.json")"
# and the other engine, asked for: the report follows the runtime (this
# script runs once, not once per engine: its other checks do no I/O)
other=epoll; [[ $eng == epoll ]] && other=uring
GR_ENGINE=$other "$GTRACE" run --json "$TMP/e.json" -- "$H/goroutines" 5 100 2>"$TMP/e.txt"
rc=$?
eng2=$(jget "$TMP/e.json" runtime_counters.engine)
[[ $rc == 0 && $eng2 == "$other" ]] && grep -q "I/O engine $other" "$TMP/e.txt" &&
  ok "default mode, GR_ENGINE=$other: the report names I/O engine '$other'" ||
  fail "default mode, GR_ENGINE=$other: rc $rc, runtime_counters.engine '$eng2'"
no_leftovers "greenrt default mode, GR_ENGINE=$other" "$(ids_json "$TMP/e.json")"

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

# --- the cost of the probes: every hit counted, times a calibrated cost ---
# Each greenrt probe hit is a uprobe trap; with --goroutines the report
# has a per-event figure for every probe that fires, so the hits gtrace
# charges must be exactly their sum.
hits=$(jget "$TMP/g.json" summary.cost.uprobe_hits)
per=$(jget "$TMP/g.json" summary.cost.uprobe_hit_ns)
est=$(jget "$TMP/g.json" summary.cost.uprobe_ns)
want=0
for k in g.spawned g.exited g.switches g.parks g.ready g.steals g.preempt_sync g.preempt_async \
         g.io_submitted g.io_completed g.workers g.workers_changes g.rt.snapshots; do
  v=$(jget "$TMP/g.json" summary.$k) || v=0
  want=$((want + ${v:-0}))
done
[[ $hits == "$want" ]] && ok "cost: $hits uprobe hits charged = the probes' own counts" ||
  fail "cost: $hits uprobe hits charged, the probes counted $want"
if [[ ${per:-0} -gt 0 && -n $est ]] && (( est >= hits * per * 99 / 100 && est <= hits * per * 101 / 100 + 1 )); then
  ok "cost: $hits hits x ${per} ns (calibrated) = ${est} ns"
else fail "cost: hits $hits x per-hit '${per}' ns != estimate '${est}'"; fi
grep -q "uprobe hits x .* a hit" "$TMP/g.txt" && grep -q "of the target's .* on-CPU time is gtrace's" "$TMP/g.txt" &&
  ok "cost: the report gives the uprobe cost and its share of the target's CPU time" ||
  { fail "cost: the report's cost lines lack the uprobe cost"; grep -A6 "own cost" "$TMP/g.txt"; }

# --- behind a wrapper: the probes of the image exec'ed later ---
wrapped=(
  "taskset -c 0 $H/goroutines $K $M"
  "sh -c 'exec $H/goroutines $K $M'"
  "sh -c '$H/goroutines $K $M; exit 0'"
)
for cmd in "${wrapped[@]}"; do
  eval "\"\$GTRACE\" run --json \"\$TMP/w.json\" -- $cmd" 2>"$TMP/w.txt"
  rc=$?
  sp=$(jget "$TMP/w.json" summary.g.spawned)
  if [[ $rc == 0 && $sp == $((K + 1)) ]] && grep -q "^Goroutines (greenrt probes in .*goroutines" "$TMP/w.txt"; then
    ok "wrapper '$cmd': spawns $sp (K=$K + main)"
  else
    fail "wrapper '$cmd': rc $rc, spawns '${sp}', want $((K + 1)): $(grep -i '^goroutines' "$TMP/w.txt")"
  fi
done
no_leftovers "greenrt behind a wrapper" "$(ids_json "$TMP/w.json")"

# --- --trace into a file that cannot keep up: a FIFO nobody reads until
# the program is done; the events that do not fit are lost, and said so ---
mkfifo "$TMP/fifo"
( exec 4<"$TMP/fifo"
  for i in $(seq 600); do [[ -e $TMP/done ]] && break; sleep 0.1; done
  cat <&4 >"$TMP/slow.json" ) &
reader=$!
"$GTRACE" run --json "$TMP/l.json" --trace "$TMP/fifo" -- \
  sh -c "$H/goroutines 10 100000 && touch $TMP/done" 2>"$TMP/l.txt"
rc=$?
touch "$TMP/done"; wait $reader
lost=$(jget "$TMP/l.json" trace.events_lost)
written=$(jget "$TMP/l.json" trace.events_written)
if [[ $rc == 0 && ${lost:-0} -gt 0 ]] && grep -q "events LOST" "$TMP/l.txt"; then
  ok "slow --trace file: $written events written, $lost lost and reported"
else fail "slow --trace file: rc $rc, lost '${lost}', written '${written}'"; grep -A3 '^Trace' "$TMP/l.txt"; fi
[[ $(jget "$TMP/slow.json" len:traceEvents) -gt 0 ]] && ok "slow --trace file: still valid JSON" ||
  fail "slow --trace file: not valid JSON"

# --- --trace-max-mb: the file stops at the cap, and says what it left out ---
"$GTRACE" run --json "$TMP/k.json" --trace "$TMP/k.trace" --trace-max-mb 1 -- \
  "$H/goroutines" 10 50000 2>"$TMP/k.txt"
rc=$?
size=$(stat -c %s "$TMP/k.trace")
capped=$(jget "$TMP/k.json" trace.events_capped)
n=$(jget "$TMP/k.trace" len:traceEvents)
if [[ $rc == 0 && $size -le 1100000 && ${capped:-0} -gt 0 && ${n:-0} -gt 0 ]] &&
   grep -q "events not recorded: --trace-max-mb 1 reached" "$TMP/k.txt"; then
  ok "--trace-max-mb 1: $size bytes, $n events in valid JSON, $capped not recorded and reported"
else fail "--trace-max-mb 1: rc $rc, $size bytes, capped '${capped}', events '${n}'"; grep -A3 '^Trace' "$TMP/k.txt"; fi
no_leftovers "--trace-max-mb" "$(ids_json "$TMP/k.json")"
[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace greenrt checks passed"
