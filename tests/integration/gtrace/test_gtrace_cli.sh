#!/usr/bin/env bash
# test_gtrace_cli.sh - gtrace's command line and names:
#   input errors: each is one line "gtrace: ..." with a hint, a non-zero
#     exit, and is found before the command is started (it never runs);
#   names that are not UTF-8 (a comm cut in the middle of a character, a
#     \xff argument) are all in the JSON, none dropped;
#   help: every command prints its own (`gtrace run --help`), and every
#     build/ binary an example names exists.
set -u
B=@BUILD@
source @SRCDIR@/lib.sh

# bad LABEL ARGS...: gtrace ARGS must fail in one line, before running
# its command (`touch $TMP/ran`, where there is one)
bad() {
  local label=$1; shift
  rm -f "$TMP/ran"
  "$GTRACE" "$@" >"$TMP/o.txt" 2>"$TMP/e.txt"
  local rc=$? n
  n=$(wc -l <"$TMP/e.txt")
  if [[ $rc != 0 && $n == 1 && ! -e $TMP/ran ]] && grep -Eq '^gtrace: .*(: |\(see |\(check )' "$TMP/e.txt"; then
    ok "$label: rc $rc, '$(cat "$TMP/e.txt")'"
  else
    fail "$label: rc $rc, $n line(s), ran: $([[ -e $TMP/ran ]] && echo yes || echo no): '$(cat "$TMP/e.txt")'"
  fi
}
RAN=(touch "$TMP/ran")
bad "--trace /dev/full" run --trace /dev/full -- "${RAN[@]}"
bad "--trace in a missing directory" run --trace "$TMP/no/such/dir/t.json" -- "${RAN[@]}"
bad "--json in a missing directory" run --json "$TMP/no/such/dir/a.json" -- "${RAN[@]}"
mkdir -p "$TMP/ro"; chmod 555 "$TMP/ro"
if [[ ! -w $TMP/ro ]] || ! touch "$TMP/ro/x" 2>/dev/null; then
  bad "--json in a read-only directory" run --json "$TMP/ro/a.json" -- "${RAN[@]}"
else
  echo "note: root writes to a 555 directory here; read-only --json case skipped"
fi
bad "-d inf" run -d inf -- "${RAN[@]}"
bad "-d 1e300" run -d 1e300 -- "${RAN[@]}"
bad "-d nan" run -d nan -- "${RAN[@]}"
bad "-d -1" run -d -1 -- "${RAN[@]}"
bad "--per 0" run --per 0 -- "${RAN[@]}"
bad "--trace-max-mb without --trace" run --trace-max-mb 5 -- "${RAN[@]}"
bad "--trace-max-mb x" run --trace "$TMP/t.json" --trace-max-mb x -- "${RAN[@]}"
bad "-p 4294967297" attach -p 4294967297 -d 1
bad "-p 1e3" attach -p 1e3 -d 1
bad "-p 0x10" attach -p 0x10 -d 1
bad "-p -5" attach -p -5 -d 1
bad "-p (empty)" attach -p "" -d 1
bad "-p of no process" attach -p "$(free_pid)" -d 1
bad "-p 2 (a kernel thread)" attach -p 2 -d 1
grep -q 'kernel thread' "$TMP/e.txt" && ok "-p 2: says it is a kernel thread" || fail "-p 2: '$(cat "$TMP/e.txt")'"
bad "top -p of no process" top -p "$(free_pid)"
bad "an unknown option" run --frobnicate -- "${RAN[@]}"
bad "an option of another command" top --json "$TMP/a.json" -p 1
bad "an option without its value" run --json
bad "no command" --json "$TMP/a.json"
bad "an unknown command" frobnicate
bad "run without a command" run
bad "attach without -p" attach
bad "diff of one file" diff "$TMP/a.json"
bad "a command that is not there" run -- "$TMP/no/such/program"

# --- names that are not UTF-8 ---
# the comm is the program's name cut to 15 bytes: here in the middle of
# the 2-byte "é"; and an argument that is a lone \xff byte
ln -s "$H/getppid_n" "$TMP/abcdefghijklmné"
"$GTRACE" run --json "$TMP/u.json" -- "$TMP/abcdefghijklmné" $'\xff' 2>"$TMP/u.txt"
rc=$?
comm=$(jget "$TMP/u.json" target.comm)
hex=$(jget "$TMP/u.json" target.comm_hex)
nthr=$(jget "$TMP/u.json" len:threads)
tcomm=$(jget "$TMP/u.json" threads.0.comm)
arg=$(jget "$TMP/u.json" target.command_hex.1)
[[ $rc == 0 && -n $comm && $hex == 6162636465666768696a6b6c6d6ec3 ]] &&
  ok "a comm cut mid-character: comm '$comm', comm_hex $hex" || fail "cut comm: rc $rc, comm '$comm', comm_hex '$hex'"
[[ ${nthr:-0} -ge 1 && -n $tcomm ]] && ok "a comm cut mid-character: $nthr thread(s) listed ('$tcomm')" ||
  fail "cut comm: threads[] has '$nthr' entries"
[[ $arg == ff && -n $(jget "$TMP/u.json" target.command.1) ]] && ok "a \\xff argument: in command[1], command_hex[1] = $arg" ||
  fail "\\xff argument: command_hex[1] '$arg', command[1] '$(jget "$TMP/u.json" target.command.1)'"
no_leftovers "names" "$(ids_json "$TMP/u.json")"

# --- help: each command its own, and the examples name real binaries ---
for c in run attach top diff; do
  "$GTRACE" $c --help >"$TMP/h.txt" 2>&1
  rc=$?
  [[ $rc == 0 ]] && grep -q "^Usage: gtrace $c " "$TMP/h.txt" && ok "gtrace $c --help: its own usage" ||
    fail "gtrace $c --help: rc $rc, '$(head -1 "$TMP/h.txt")'"
done
"$GTRACE" run --help | grep -q -- '--no-follow' && ! "$GTRACE" run --help | grep -q -- '--pid' &&
  ok "gtrace run --help: run's options only" || fail "gtrace run --help lists options that are not run's"
"$GTRACE" attach --help | grep -q -- '-p, --pid' && ok "gtrace attach --help: has -p" || fail "attach --help lacks -p"
"$GTRACE" --help >"$TMP/h.txt" && grep -q '^  run ' "$TMP/h.txt" && ok "gtrace --help: lists the commands" ||
  fail "gtrace --help"
missing=
for c in "" run attach top diff; do "$GTRACE" $c --help; done >"$TMP/all.txt" 2>&1
for p in $(grep -o 'build/[A-Za-z0-9_./-]*' "$TMP/all.txt" | sort -u); do
  [[ -x $B/${p#build/} ]] || missing+=" $p"
done
[[ -z $missing ]] && ok "help examples: every build/ binary named exists" || fail "help examples name missing binaries:$missing"
"$GTRACE" --version | grep -q '^gtrace ' && ok "--version" || fail "--version"

[[ $fails == 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all gtrace command-line checks passed"
