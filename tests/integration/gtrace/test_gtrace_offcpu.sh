#!/usr/bin/env bash
# test_gtrace_offcpu.sh - `gtrace --offcpu` against known ground truth.
#   a goroutine parked on a channel 10 x 100 ms (chan_park): at least 1 s
#     of park time under its park-site stack (parked_waiter) and reason
#     "chan recv" - a park cannot be shorter than the sleep that ends it -
#     and at most the traced time; woken 10 times by a channel from the
#     sender's code, the sender's sleeps 10 times by a timer; the park
#     distribution agrees (10 parks, p50 >= 100 ms);
#   a thread blocked in read(2) on a pipe for 1 s (pipe_block): at least
#     1 s off-CPU under the kernel's pipe_read stack, woken from the
#     writer's pipe_write;
#   the folded file parses (frames, then a number) and its values add up
#     to the report's; the SVG flame graph is well-formed XML and holds the
#     frames; the default mode loads none of --offcpu's programs.
# Timing is asserted only with physical bounds (no less than the sleeps,
# no more than the traced time), so a loaded machine cannot fail it.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh
command -v xmllint >/dev/null || skip "xmllint not installed (libxml2-utils, make deps)"

# sel JSON PATH FILTERS COND: "NS COUNT MATCHES" (jget sel:)
sel() { "$H/jget" "$1" "sel:$2:$3:$4"; }
# the traced seconds of a report, in ns
traced_ns() { awk -v d="$(jget "$1" float:duration_s)" 'BEGIN { printf "%.0f", d * 1e9 }'; }

# --- a goroutine parked on a channel ---
N=10 MS=100
GR_PROCS=1 "$GTRACE" run --offcpu --json "$TMP/c.json" --folded "$TMP/c.folded" \
  --flamegraph "$TMP/c.svg" -- "$H/chan_park" $N $MS 2>"$TMP/c.txt"
rc=$?
span=$(traced_ns "$TMP/c.json")
lo=$((N * MS * 1000000))
read -r ns cnt m < <(sel "$TMP/c.json" offcpu.goroutines kind=parked,reason=chan_recv stack~parked_waiter+park)
if [[ $rc == 0 && ${ns:-0} -ge $lo && $ns -le $span && $cnt == "$N" ]]; then
  ok "chan_park: $cnt parks, $ns ns under parked_waiter's park site, reason chan recv ($lo..$span)"
else
  fail "chan_park: rc $rc, parked '${ns}' ns in '${cnt}' parks under parked_waiter (want $N parks, $lo..$span ns)"
  sed -n '/^Off-CPU/,/^How long/p' "$TMP/c.txt"
fi
read -r ns cnt m < <(sel "$TMP/c.json" offcpu.goroutine_wakers source=channel,reason=chan_recv waker_stack~main_g)
ch=$(jget "$TMP/c.json" offcpu.goroutine_wakers.0.channel)
[[ $cnt == "$N" && $ch != null && -n $ch ]] &&
  ok "chan_park: woken $cnt times by a channel (0x$(printf %x "$ch")), from the sender main_g" ||
  fail "chan_park: channel wakes from main_g '$cnt' (want $N), channel '$ch'"
read -r ns cnt m < <(sel "$TMP/c.json" offcpu.goroutine_wakers source=timer,reason=sleep -)
[[ $cnt == "$N" ]] && ok "chan_park: the sender's $cnt sleeps ended by a timer" ||
  fail "chan_park: timer wakes of sleeps '$cnt', want $N"
dc=$(jget "$TMP/c.json" summary.dist.g_park.chan_recv.count)
p50=$(jget "$TMP/c.json" summary.dist.g_park.chan_recv.p50_ns)
mx=$(jget "$TMP/c.json" summary.dist.g_park.chan_recv.max_ns)
[[ $dc == "$N" && ${p50:-0} -ge $((MS * 1000000)) && ${mx:-0} -ge $p50 && $mx -le $span ]] &&
  ok "chan_park: park distribution: $dc parks, p50 $p50 ns >= $MS ms, max $mx ns" ||
  fail "chan_park: park distribution: count '$dc', p50 '$p50', max '$mx' (want $N, >= $MS ms, <= $span)"
rq=$(jget "$TMP/c.json" summary.dist.g_runq.count)
(( ${rq:-0} >= N )) && ok "chan_park: $rq ready -> run waits measured" || fail "chan_park: ready -> run waits '$rq' < $N"

# the folded file: "frames value" lines whose values add up to the report's
read -r gns _ < <(sel "$TMP/c.json" offcpu.goroutines - -)
read -r tns _ < <(sel "$TMP/c.json" offcpu.threads - -)
bad=$(awk '!/^[^ ;][^\n]* [0-9]+$/' "$TMP/c.folded" | wc -l)
sum=$(awk '{ s += $NF } END { printf "%.0f", s }' "$TMP/c.folded")
if [[ -s $TMP/c.folded && $bad == 0 && $sum == $((tns + gns)) ]]; then
  ok "folded: $(wc -l <"$TMP/c.folded") lines parse, values sum to $sum ns = the report's threads + goroutines"
else fail "folded: $bad bad lines, sum $sum, report $tns + $gns"; head -3 "$TMP/c.folded"; fi
grep -q ';\[goroutines\];.*parked_waiter;.*park;\[chan recv\] [0-9]*$' "$TMP/c.folded" &&
  ok "folded: the park-site stack, outermost first, ends in [chan recv]" ||
  fail "folded: no '[goroutines];...parked_waiter;...park;[chan recv]' line"
if xmllint --noout "$TMP/c.svg" 2>"$TMP/x.txt" && grep -q '>parked_waiter<' "$TMP/c.svg" &&
   grep -q '\[chan recv\]' "$TMP/c.svg" && grep -q '<svg' "$TMP/c.svg" && ! grep -q 'href=' "$TMP/c.svg"; then
  ok "flame graph: well-formed XML, self-contained, holds parked_waiter and [chan recv]"
else fail "flame graph: $(head -3 "$TMP/x.txt")"; fi
no_leftovers "--offcpu (greenrt)" "$(ids_json "$TMP/c.json")"

# --- a thread blocked in read(2) on a pipe ---
"$GTRACE" run --offcpu --json "$TMP/p.json" --flamegraph "$TMP/p.svg" -- "$H/pipe_block" 1000 2>"$TMP/p.txt"
rc=$?
span=$(traced_ns "$TMP/p.json")
read -r ns cnt m < <(sel "$TMP/p.json" offcpu.threads kind=blocked,thread=pipe_reader stack~pipe_read)
if [[ $rc == 0 && ${ns:-0} -ge 1000000000 && $ns -le $span ]]; then
  ok "pipe_block: pipe_reader $ns ns off-CPU under the kernel's pipe_read (1 s..$span ns)"
else
  fail "pipe_block: rc $rc, pipe_reader '${ns}' ns under pipe_read (want 1 s..$span ns)"
  sed -n '/^Off-CPU/,/^How long/p' "$TMP/p.txt"
fi
read -r ns cnt m < <(sel "$TMP/p.json" offcpu.wakers wakee_comm=pipe_reader,waker_comm=pipe_block waker_stack~pipe_write)
[[ ${cnt:-0} -ge 1 && ${ns:-0} -ge 1000000000 ]] &&
  ok "pipe_block: pipe_reader woken by the main thread from pipe_write ($cnt, $ns ns)" ||
  fail "pipe_block: no wakeup of pipe_reader by pipe_block from pipe_write ('$cnt', '$ns' ns)"
mx=$(jget "$TMP/p.json" summary.dist.os_blocked.max_ns)
(( ${mx:-0} >= 1000000000 )) && ok "pipe_block: longest blocked wait $mx ns >= 1 s" ||
  fail "pipe_block: dist.os_blocked.max_ns '$mx' < 1 s"
[[ $(jget "$TMP/p.json" offcpu.goroutines) == null ]] && ! grep -q '^  Goroutines:' "$TMP/p.txt" &&
  ok "pipe_block: not greenrt, no goroutine sections" || fail "pipe_block: goroutine sections for a program without greenrt"
xmllint --noout "$TMP/p.svg" && grep -q 'pipe_read' "$TMP/p.svg" && ok "flame graph of a thread program: pipe_read in it" ||
  fail "flame graph of pipe_block"
no_leftovers "--offcpu (threads)" "$(ids_json "$TMP/p.json")"

# --- the default mode runs none of it ---
"$GTRACE" run --json "$TMP/d.json" -- "$H/getppid_n" 10 2>/dev/null
read -r _ _ m < <(sel "$TMP/d.json" bpf_programs name=gt_off_switch_b -)
read -r _ _ m2 < <(sel "$TMP/d.json" bpf_programs name=gt_off_switch_r -)
[[ $m == 0 && $m2 == 0 && $(jget "$TMP/d.json" offcpu) == null && -z $(jget "$TMP/d.json" summary.dist.os_runq.count) ]] &&
  ok "default mode: no --offcpu program loaded, no off-CPU figures" ||
  fail "default mode: --offcpu programs loaded ($m, $m2) or figures present"

# --- attach: a running greenrt program, for a while ---
GR_PROCS=1 "$H/chan_park" 40 100 & cp=$!
sleep 0.5
"$GTRACE" attach -p $cp -d 1.5 --offcpu --json "$TMP/a.json" >"$TMP/a.txt" 2>&1
rc=$?
read -r ns cnt m < <(sel "$TMP/a.json" offcpu.goroutines kind=parked,reason=chan_recv stack~parked_waiter)
[[ $rc == 0 && ${cnt:-0} -ge 1 && ${ns:-0} -gt 0 ]] && ok "attach --offcpu: $cnt parks under parked_waiter ($ns ns)" ||
  fail "attach --offcpu: rc $rc, parks under parked_waiter '$cnt'"
kill $cp 2>/dev/null; wait $cp 2>/dev/null
no_leftovers "attach --offcpu" "$(ids_json "$TMP/a.json")"

[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace --offcpu checks passed"
