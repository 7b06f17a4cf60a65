#!/usr/bin/env bash
# test_gtrace_procs.sh - what gtrace traces, and how the traced command
# ended:
#   children: a program forking 3 children of 20,000 getppid() each is
#     counted as perf stat counts it (60,000), each process is listed and
#     the header names the scope; --no-follow leaves them out and says so;
#   endings: `sh -c 'exit 200'` is an exit, not a signal; a command that
#     ignores SIGINT and SIGTERM is killed (SIGKILL) when gtrace is asked
#     to stop twice, after a grace period, or at -d, and the report gives
#     the status waitpid gave, never one gtrace did not see.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh

# --- children followed by default, as perf stat does ---
"$GTRACE" run --json "$TMP/f.json" -- "$H/forker" 3 20000 2>"$TMP/f.txt"
rc=$?
gp=$(jget "$TMP/f.json" syscall.getppid)
np=$(jget "$TMP/f.json" len:processes)
[[ $rc == 0 && $gp == 60000 ]] && ok "children: getppid $gp of 3 x 20,000" ||
  { fail "children: getppid '$gp', expected 60000 (rc $rc)"; cat "$TMP/f.txt"; }
[[ $np == 4 ]] && ok "children: $np processes listed" || fail "children: $np processes listed, expected 4"
pid=$(jget "$TMP/f.json" target.pid)
grep -q "^gtrace: pid $pid (forker) and 3 children," "$TMP/f.txt" &&
  ok "children: the header says 'pid $pid (forker) and 3 children'" ||
  fail "children: header '$(grep '^gtrace: pid' "$TMP/f.txt")'"
codes=$(for i in 1 2 3; do jget "$TMP/f.json" processes.$i.exit_code; done | sort -u)
[[ $codes == 3 ]] && ok "children: each child's exit status (3) is listed" || fail "children: exit codes '$codes'"
if perf stat -x, -e syscalls:sys_enter_getppid -o "$TMP/perf.txt" "$H/forker" 3 20000 >/dev/null 2>&1; then
  p=$(grep -m1 'sys_enter_getppid' "$TMP/perf.txt" | cut -d, -f1)
  [[ $p == "$gp" ]] && ok "children: perf stat agrees ($p)" || fail "children: perf stat says '$p', gtrace '$gp'"
else
  echo "note: perf stat unavailable here; perf cross-check skipped"
fi
no_leftovers "children" "$(ids_json "$TMP/f.json")"

"$GTRACE" run --no-follow --json "$TMP/n.json" -- "$H/forker" 3 20000 2>"$TMP/n.txt"
rc=$?
gp=$(jget "$TMP/n.json" syscall.getppid)
un=$(jget "$TMP/n.json" summary.procs.children_unfollowed)
[[ $rc == 0 && $gp == 0 && $un == 3 ]] && ok "--no-follow: getppid $gp, $un children not traced" ||
  fail "--no-follow: getppid '$gp' (want 0), children_unfollowed '$un' (want 3), rc $rc"
grep -q "^gtrace: pid [0-9]* (forker); 3 forked children not traced (--no-follow)" "$TMP/n.txt" &&
  ok "--no-follow: the header says the 3 children were not traced" ||
  fail "--no-follow: header '$(grep '^gtrace: pid' "$TMP/n.txt")'"

# past the process table (made small here: GTRACE_MAX_PROCS), children
# are counted together as "others", and every total stays exact
GTRACE_MAX_PROCS=3 "$GTRACE" run --json "$TMP/o.json" -- "$H/forker" 5 1000 2>"$TMP/o.txt"
rc=$?
gp=$(jget "$TMP/o.json" syscall.getppid)
np=$(jget "$TMP/o.json" len:processes)
others=$(jget "$TMP/o.json" processes.3.others)
[[ $rc == 0 && $gp == 5000 && $np == 4 && $others == true ]] &&
  grep -q "^gtrace: pid [0-9]* (forker) and 5 children," "$TMP/o.txt" &&
  ok "a full process table: getppid $gp of 5,000, 3 listed + others, '5 children' said" ||
  fail "a full process table: rc $rc, getppid '$gp', $np processes, others '$others'"

# --- exit statuses: an exit is an exit, a signal a signal ---
"$GTRACE" run --json "$TMP/e.json" -- sh -c 'exit 200' 2>"$TMP/e.txt"
rc=$?
line=$(grep '^gtrace: pid' "$TMP/e.txt")
[[ $rc == 200 && $line == *"exited with status 200"* && $line != *signal* ]] &&
  ok "sh -c 'exit 200': rc $rc, '${line#*, }'" || fail "sh -c 'exit 200': rc $rc, '$line'"
[[ $(jget "$TMP/e.json" target.exit_code) == 200 && $(jget "$TMP/e.json" target.signal) == null ]] &&
  ok "sh -c 'exit 200': JSON exit_code 200, signal null" ||
  fail "sh -c 'exit 200': JSON exit_code '$(jget "$TMP/e.json" target.exit_code)' signal '$(jget "$TMP/e.json" target.signal)'"
"$GTRACE" run -- "$H/exit_with" -9 2>"$TMP/e.txt"
rc=$?
grep -q 'killed by signal 9 (SIGKILL)' "$TMP/e.txt" && [[ $rc == 137 ]] &&
  ok "killed by SIGKILL: rc 137, said so" || fail "killed by SIGKILL: rc $rc, '$(grep '^gtrace: pid' "$TMP/e.txt")'"

# --- a command that will not stop: stubborn ignores SIGINT and SIGTERM ---
# stubborn_run LABEL GTRACE-ARGS...: runs it in the background, waits for
# "ready"; leaves gtrace's pid in $gp
stubborn_run() {
  local label=$1; shift
  : >"$TMP/$label.out"
  "$GTRACE" run "$@" --json "$TMP/$label.json" -- "$H/stubborn" 60 >"$TMP/$label.out" 2>"$TMP/$label.txt" &
  gp=$!
  for i in $(seq 300); do grep -q ready "$TMP/$label.out" && break; sleep 0.1; done
}
# stubborn_check LABEL RC WHY: gtrace exited RC, the command is gone,
# the report and the JSON say it was killed by SIGKILL, and why
stubborn_check() {
  local label=$1 rc=$2 why=$3 pid line
  pid=$(jget "$TMP/$label.json" target.pid)
  line=$(grep '^gtrace: pid' "$TMP/$label.txt")
  if [[ $rc == 137 && $line == *"killed by signal 9 (SIGKILL)"*"$why"* ]]; then ok "$label: rc $rc, '${line#*, }'"
  else fail "$label: rc $rc, '$line' (want 137, SIGKILL, '$why')"; fi
  [[ $(jget "$TMP/$label.json" target.exit_status) == 137 && $(jget "$TMP/$label.json" target.signal_sent) == 9 ]] &&
    ok "$label: JSON exit_status 137, signal_sent 9" ||
    fail "$label: JSON exit_status '$(jget "$TMP/$label.json" target.exit_status)', signal_sent '$(jget "$TMP/$label.json" target.signal_sent)'"
  if [[ -n $pid && -e /proc/$pid ]]; then fail "$label: the command (pid $pid) is still running"; kill -9 "$pid"
  else ok "$label: the command is gone"; fi
}
stubborn_run twice
kill -INT $gp; sleep 1.5; kill -INT $gp     # the second while gtrace waits for it
wait $gp; stubborn_check twice $? "second stop request"
stubborn_run grace
kill -TERM $gp
wait $gp; stubborn_check grace $? "still running 2 s after the SIGTERM gtrace got"
stubborn_run deadline -d 1
wait $gp; stubborn_check deadline $? "still running 2 s after SIGTERM when -d 1 s had passed"
no_leftovers "a command that will not stop" "$(ids_json "$TMP/deadline.json")"

[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace process checks passed"
