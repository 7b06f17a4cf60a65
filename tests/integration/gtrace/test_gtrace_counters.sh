#!/usr/bin/env bash
# test_gtrace_counters.sh - `gtrace --counters` and the memory section,
# and the intervals of `-i`:
#   page faults (a program touching 20,000 fresh pages) agree with
#     `perf stat` on the same command within 5%; where the machine has a
#     PMU, instructions do too (skipped, with the reason, where it has
#     none, and the report must then say "not available here");
#   200 threads alive at once: the memory section counts them, measures a
#     kernel stack and a task_struct, and the address space they reserve;
#   -i: the intervals of every figure that adds up add up to the report's
#     total, exactly, in the text's last line count and in the JSON lines.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh
command -v perf >/dev/null || skip "perf is not installed (linux-perf, make deps)"

# within5 A B: |A - B| <= 5% of B
within5() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * 0.05) }'; }
# perf_stat EVENT CMD...: the count perf stat gives for EVENT
perf_stat() {
  local ev=$1; shift
  perf stat -x, -e "$ev" -o "$TMP/perf.txt" -- "$@" >/dev/null 2>&1 || return 1
  awk -F, -v e="$ev" '$3 == e || $3 ~ "^"e"(:|$)" { print $1; exit }' "$TMP/perf.txt"
}

N=20000
"$GTRACE" run --counters --json "$TMP/c.json" -- "$H/touch_pages" $N 2>"$TMP/c.txt"
rc=$?
g=$(jget "$TMP/c.json" summary.pmu.page_faults)
p=$(perf_stat page-faults "$H/touch_pages" $N)
if [[ $rc == 0 && -n $g && -n $p ]] && within5 "$g" "$p" && (( g >= N )); then
  ok "page faults: gtrace $g, perf stat $p (within 5%, >= $N pages)"
else fail "page faults: gtrace '$g', perf stat '$p' (rc $rc)"; sed -n '/^CPU counters/,/^$/p' "$TMP/c.txt"; fi
for k in pmu.task_clock_ns pmu.context_switches pmu.minor_faults; do
  [[ -n $(jget "$TMP/c.json" summary.$k) ]] && ok "software counter $k: $(jget "$TMP/c.json" summary.$k)" ||
    fail "software counter $k missing"
done
if perf stat -x, -e instructions -o "$TMP/hw.txt" -- true >/dev/null 2>&1 && ! grep -q 'not supported\|not counted' "$TMP/hw.txt"; then
  gi=$(jget "$TMP/c.json" summary.pmu.instructions)
  pi=$(perf_stat instructions "$H/touch_pages" $N)
  within5 "$gi" "$pi" && ok "instructions: gtrace $gi, perf stat $pi (within 5%)" ||
    fail "instructions: gtrace '$gi', perf stat '$pi'"
  [[ -n $(jget "$TMP/c.json" summary.pmu.ipc) ]] && ok "IPC: $(jget "$TMP/c.json" summary.pmu.ipc)" || fail "no IPC"
else
  echo "note: hardware counters skipped: perf stat -e instructions says: $(grep -m1 instructions "$TMP/hw.txt")"
  grep -q 'hardware counters .*not available here' "$TMP/c.txt" &&
    [[ -z $(jget "$TMP/c.json" summary.pmu.instructions) ]] &&
    ok "no PMU: the report says hardware counters are not available here, and gives none" ||
    fail "no PMU, but the report does not say so (or gives hardware figures)"
fi
grep -q 'context switches, .* each (calibrated here)' "$TMP/c.txt" &&
  ok "cost: the counters' switch cost is in the cost lines" || fail "cost: no --counters line"
no_leftovers "--counters" "$(ids_json "$TMP/c.json")"

# --- memory: 200 threads at once ---
T=200
"$GTRACE" run --json "$TMP/m.json" -- "$H/touch_pages" 10 $T 2>"$TMP/m.txt"
rc=$?
thr=$(jget "$TMP/m.json" summary.mem.threads_peak)
ks=$(jget "$TMP/m.json" summary.mem.kernel_stack_bytes)
ts=$(jget "$TMP/m.json" summary.mem.task_struct_bytes)
kt=$(jget "$TMP/m.json" summary.mem.kernel_tasks_bytes)
vp=$(jget "$TMP/m.json" summary.mem.virtual_peak_bytes)
stack=$(( $(ulimit -s) * 1024 ))
if [[ $rc == 0 && ${thr:-0} -ge $((T + 1)) ]] && (( ks >= 8192 && (ks & (ks - 1)) == 0 && ts >= 1024 && ts <= 65536 )) &&
   [[ $kt == $((thr * (ks + ts))) ]]; then
  ok "memory: $thr threads at the peak x ($ks B kernel stack + $ts B task_struct) = $kt B"
else fail "memory: rc $rc, threads '$thr', kernel stack '$ks', task_struct '$ts', kernel '$kt'"; sed -n '/^Memory/,/^$/p' "$TMP/m.txt"; fi
if [[ $(ulimit -s) != unlimited ]] && (( vp >= T * stack )); then
  ok "memory: $vp B reserved >= $T thread stacks of $stack B"
else fail "memory: virtual peak '$vp' < $T x $stack"; fi
kp=$(jget "$TMP/m.json" summary.mem.kernel_peak_bytes)
pte=$(jget "$TMP/m.json" summary.mem.page_tables_peak_bytes)
(( kp >= kt && kp <= kt + pte + 64 * 8192 )) && ok "memory: the kernel estimate $kp B = its threads, page tables and sockets" ||
  fail "memory: kernel estimate '$kp' not between $kt and $kt + $pte + a few sockets"
grep -q '^  kernel, machine-wide growth .*a cross-check only on a busy machine' "$TMP/m.txt" &&
  ok "memory: the machine-wide /proc/meminfo growth is given, and said to be only a cross-check" ||
  fail "memory: no machine-wide growth line"

# --- -i: the intervals add up to the total ---
GR_PROCS=1 "$GTRACE" run -i 0.2 --offcpu --counters --json "$TMP/i.json" -- "$H/chan_park" 12 100 2>"$TMP/i.txt"
rc=$?
n=$(jget "$TMP/i.json" icount)
lines=$(awk '/^ +TIME +CPU%/ { on = 1; next } on && /^ +[0-9.]+s / { n++ } END { print n + 0 }' "$TMP/i.txt")
if [[ $rc == 0 && ${n:-0} -ge 5 && $lines == "$n" ]]; then ok "-i 0.2: $n intervals, as many lines as JSON lines"
else fail "-i 0.2: rc $rc, $n JSON intervals, $lines text lines"; head -5 "$TMP/i.txt"; fi
for k in syscalls.total sched.voluntary sched.involuntary sched.oncpu_ns sched.runq_waits io.cqring_waits \
         g.switches g.parks offcpu.g_parked_ns offcpu.blocked_ns dist.g_park.chan_recv.count \
         dist.os_runq.count pmu.page_faults pmu.context_switches cost.bpf_runs; do
  sum=$(jget "$TMP/i.json" isum:$k)
  tot=$(jget "$TMP/i.json" summary.$k)
  [[ -n $tot && $sum == "$tot" ]] && ok "-i: $k over the intervals $sum = the total" ||
    fail "-i: $k: intervals sum to '$sum', the total is '$tot'"
done
[[ $(jget "$TMP/i.json" version) == 5 && $(jget "$TMP/i.json" type) == report ]] &&
  ok "-i --json: the last line is the report" || fail "-i --json: last line is not the report"
"$GTRACE" diff "$TMP/i.json" "$TMP/m.json" >"$TMP/d.txt" 2>&1 && grep -q 'sched.voluntary\|voluntary' "$TMP/d.txt" &&
  ok "diff reads a -i JSON lines file" || fail "diff of a -i file: $(head -2 "$TMP/d.txt")"
no_leftovers "-i" "$(ids_json "$TMP/i.json")"

[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace counters, memory and interval checks passed"
