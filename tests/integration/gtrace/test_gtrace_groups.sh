#!/usr/bin/env bash
# test_gtrace_groups.sh - gtrace's view of greenrt's goroutine groups,
# against a program whose groups are known (groups.c): R, with children
# C1 (itself the parent of G) and C2, and W and E apart; C2 cancelled by
# its deadline, R's subtree by gr_group_cancel(R); W never cancelled; E
# cancelled before its first use (so no member ever joins it).
#   --goroutines --offcpu --trace -i: each group's parent, its members
#     (peak, at the end, started, exited, at its cancellation) exactly,
#     its cause and origin; its drain time >= 0 and <= the traced time,
#     its cancellation and free within the trace; the totals, and their
#     sum over the intervals; the members a cancellation readied are
#     attributed to it (`cancel` wakes naming their group), not to a
#     goroutine; the timeline holds the five cancellations;
#   the default mode loads no group program and shows no groups.
# After each run nothing of gtrace's stays loaded.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh

NR=5 NC1=7 NG=4 NC2=3 NW=6
ALL=$((NR + NC1 + NG + NC2 + NW))
CANCELLED=$((NR + NC1 + NG + NC2))      # members parked when their group was cancelled

"$GTRACE" run --goroutines --offcpu -i 0.1 --json "$TMP/g.json" --trace "$TMP/t.json" -- \
  "$H/groups" $NR $NC1 $NG $NC2 $NW >/dev/null 2>"$TMP/g.txt"
rc=$?
if [[ $rc != 0 ]]; then fail "groups: gtrace or the program failed (rc $rc)"; cat "$TMP/g.txt"; fi
span=$(awk -v d="$(jget "$TMP/g.json" float:duration_s)" 'BEGIN { printf "%.0f", d * 1e9 }')

# gf PEAK FIELD: FIELD of the one group whose members_peak is PEAK
gf() { jget "$TMP/g.json" "get:groups:members_peak=$1:$2"; }
R=$(gf $NR id) C1=$(gf $NC1 id) G=$(gf $NG id) C2=$(gf $NC2 id) W=$(gf $NW id) E=$(gf 0 id)
n=$(jget "$TMP/g.json" len:groups)
if [[ $n == 6 && -n $R && -n $C1 && -n $G && -n $C2 && -n $W && -n $E ]]; then
  ok "6 groups itemised, told apart by their peaks: R=$R C1=$C1 G=$G C2=$C2 W=$W E=$E"
else
  fail "groups itemised: $n (want 6), ids R='$R' C1='$C1' G='$G' C2='$C2' W='$W' E='$E'"
  sed -n '/Goroutine groups/,/^$/p' "$TMP/g.txt"
fi

in_span() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 0 && $1 <= span )); }

# group NAME PEAK PARENT CAUSE ORIGIN: the figures of one group
group() {
  local name=$1 peak=$2 parent=$3 cause=$4 origin=$5 bad=()
  local v
  [[ $(gf "$peak" parent) == "$parent" ]] || bad+=("parent $(gf "$peak" parent), want $parent")
  for v in members_started members_exited; do
    [[ $(gf "$peak" $v) == "$peak" ]] || bad+=("$v $(gf "$peak" $v), want $peak")
  done
  [[ $(gf "$peak" members_end) == 0 ]] || bad+=("members_end $(gf "$peak" members_end)")
  [[ $cause == null || $peak != 0 || $(gf "$peak" drain_ns) == 0 ]] || bad+=("drain time of no member $(gf "$peak" drain_ns)")
  [[ $(gf "$peak" from_start) == true ]] || bad+=("not seen from its creation")
  [[ $(gf "$peak" freed) == true ]] && in_span "$(gf "$peak" freed_ns)" ||
    bad+=("freed $(gf "$peak" freed) at $(gf "$peak" freed_ns)")
  [[ $(gf "$peak" cause) == "$cause" ]] || bad+=("cause $(gf "$peak" cause), want $cause")
  if [[ $cause == null ]]; then
    [[ $(gf "$peak" cancelled) == false && $(gf "$peak" drained) == false ]] || bad+=("cancelled or drained")
  else
    [[ $(gf "$peak" origin) == "$origin" ]] || bad+=("origin $(gf "$peak" origin), want $origin")
    [[ $(gf "$peak" members_at_cancel) == "$peak" ]] ||
      bad+=("members at cancellation $(gf "$peak" members_at_cancel), want $peak")
    in_span "$(gf "$peak" cancelled_ns)" || bad+=("cancelled at $(gf "$peak" cancelled_ns) ns, not in 0..$span")
    [[ $(gf "$peak" drained) == true ]] && in_span "$(gf "$peak" drain_ns)" ||
      bad+=("drain time '$(gf "$peak" drain_ns)' ns, not in 0..$span")
  fi
  if [[ ${#bad[@]} == 0 && $cause == null ]]; then
    ok "$name: parent $parent, $peak members started and at the peak, 0 at the end, not cancelled, freed"
  elif [[ ${#bad[@]} == 0 ]]; then
    ok "$name: parent $parent, $peak members started, at the peak and when cancelled ($cause, origin $origin), 0 at the end, drained and freed within the trace"
  else
    fail "$name: $(IFS=";"; echo "${bad[*]}")"
  fi
}
group W $NW 0 null ""
group R $NR 0 cancel "$R"
group C1 $NC1 "$R" cancel "$R"
group G $NG "$C1" cancel "$R"
group C2 $NC2 "$R" deadline "$C2"
group E 0 0 cancel "$E"

# the totals, and the intervals add up to them
want="created=6 cancelled=5 cancelled_by_deadline=1 drained=5 freed=6 members_started=$ALL members_exited=$ALL unlisted=0 drain.count=5"
got= isum=
for kv in $want; do
  k=${kv%%=*}
  got+="$k=$(jget "$TMP/g.json" summary.groups.$k) "
  [[ $k == unlisted || $k == drain.count ]] || isum+="$k=$(jget "$TMP/g.json" isum:groups.$k) "
done
[[ "$got" == "$want " ]] && ok "totals: $want" || fail "totals: $got, want $want"
wi=$(for kv in $want; do [[ ${kv%%=*} == unlisted || ${kv%%=*} == drain.count ]] || printf '%s ' "$kv"; done)
(( $(jget "$TMP/g.json" icount) >= 1 )) && [[ "$isum" == "$wi" ]] &&
  ok "the $(jget "$TMP/g.json" icount) intervals add up to the totals" || fail "intervals: $isum, want $wi"
mx=$(jget "$TMP/g.json" summary.groups.drain.max_ns)
in_span "$mx" && ok "longest drain $mx ns, within the trace" || fail "groups.drain.max_ns '$mx' not in 0..$span"

# the members the cancellations readied: attributed to them, naming the group
read -r _ cw _ < <(jget "$TMP/g.json" "sel:offcpu.goroutine_wakers:source=cancel:-")
read -r _ _ nameless < <(jget "$TMP/g.json" "sel:offcpu.goroutine_wakers:source=cancel,group_id=null:-")
sc=$(jget "$TMP/g.json" summary.offcpu.g_wakes.cancel)
if (( ${cw:-0} >= 1 && cw <= CANCELLED )) && [[ $nameless == 0 && $sc == "$cw" ]]; then
  ok "wakers: $cw goroutines made runnable by a group cancel (of $CANCELLED parked members), each naming its group"
else
  fail "wakers: cancel wakes '$cw' (want 1..$CANCELLED, = offcpu.g_wakes.cancel '$sc'), $nameless without their group"
  sed -n '/What made the goroutines runnable/,/^$/p' "$TMP/g.txt"
fi
grep -q 'group cancel *sleep .*(group [0-9]*)' "$TMP/g.txt" && ok "the text report says \"group cancel\" and names the group" ||
  fail "the text report has no 'group cancel ... (group N)' waker line"
grep -q "^ *$C2 *$R *$NC2 *0 *$NC2 .* deadline " "$TMP/g.txt" &&
  grep -q "^ *$G *$C1 *$NG *0 *$NG .* cancel of $R " "$TMP/g.txt" &&
  ok "the text table: C2 under R by a deadline, G under C1 cancelled by R" ||
  { fail "the text table lacks C2's or G's row"; sed -n '/GROUP *PARENT/,/^$/p' "$TMP/g.txt"; }

# the timeline
nc=$(grep -c '"name":"group cancel"' "$TMP/t.json")
[[ $(jget "$TMP/t.json" displayTimeUnit) == ns && $nc == 5 ]] && grep -q "\"name\":\"group $C1 members\"" "$TMP/t.json" &&
  ok "timeline: 5 group cancel instants, member counters" ||
  fail "timeline: $nc group cancel instants (want 5), or no 'group $C1 members' counter, or not JSON"
no_leftovers "groups (--goroutines)" "$(ids_json "$TMP/g.json")"

# --- the default mode: no group probes, no groups ---
"$GTRACE" run --json "$TMP/d.json" -- "$H/groups" $NR $NC1 $NG $NC2 $NW >/dev/null 2>"$TMP/d.txt"
rc=$?
read -r _ _ m < <(jget "$TMP/d.json" "sel:bpf_programs:name=gt_grp_join:-")
if [[ $rc == 0 && $m == 0 && $(jget "$TMP/d.json" groups) == null && -z $(jget "$TMP/d.json" summary.groups.created) ]] &&
   ! grep -q 'Goroutine groups' "$TMP/d.txt"; then
  ok "default mode: no group program loaded, no groups reported"
else
  fail "default mode: rc $rc, group programs loaded ($m) or groups reported"
fi
no_leftovers "groups (default mode)" "$(ids_json "$TMP/d.json")"

[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace groups checks passed"
