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

# bad LABEL WORDS ARGS...: gtrace ARGS must fail in one line that says
# WORDS (a grep pattern; "" for any), before running its command
# (`touch $TMP/ran`, where there is one)
bad() {
  local label=$1 words=$2; shift 2
  rm -f "$TMP/ran"
  "$GTRACE" "$@" >"$TMP/o.txt" 2>"$TMP/e.txt"
  local rc=$? n
  n=$(wc -l <"$TMP/e.txt")
  if [[ $rc != 0 && $n == 1 && ! -e $TMP/ran ]] && grep -Eq '^gtrace: .*(: |\(see |\(check )' "$TMP/e.txt" &&
     grep -q -- "$words" "$TMP/e.txt"; then
    ok "$label: rc $rc, '$(cat "$TMP/e.txt")'"
  else
    fail "$label: rc $rc, $n line(s), ran: $([[ -e $TMP/ran ]] && echo yes || echo no): '$(cat "$TMP/e.txt")'"
  fi
}
RAN=(touch "$TMP/ran")
bad "--trace /dev/full" 'No space left' run --trace /dev/full -- "${RAN[@]}"
bad "--trace in a missing directory" 'trace file' run --trace "$TMP/no/such/dir/t.json" -- "${RAN[@]}"
bad "--json in a missing directory" 'json' run --json "$TMP/no/such/dir/a.json" -- "${RAN[@]}"
bad "--json to a file no one may write" 'json' run --json /proc/version -- "${RAN[@]}"
bad "-d inf" "invalid duration 'inf'" run -d inf -- "${RAN[@]}"
bad "-d 1e300" 'too large' run -d 1e300 -- "${RAN[@]}"
bad "-d nan" "invalid duration 'nan'" run -d nan -- "${RAN[@]}"
bad "-d -1" "invalid duration '-1'" run -d -1 -- "${RAN[@]}"
bad "--per 0" 'invalid --per' run --per 0 -- "${RAN[@]}"
bad "--trace-max-mb without --trace" 'give --trace' run --trace-max-mb 5 -- "${RAN[@]}"
bad "--trace-max-mb x" 'invalid --trace-max-mb' run --trace "$TMP/t.json" --trace-max-mb x -- "${RAN[@]}"
bad "-p 4294967297" "invalid pid '4294967297'" attach -p 4294967297 -d 1
bad "-p 1e3" "invalid pid '1e3'" attach -p 1e3 -d 1
bad "-p 0x10" "invalid pid '0x10'" attach -p 0x10 -d 1
bad "-p -5" "invalid pid '-5'" attach -p -5 -d 1
bad "-p (empty)" "invalid pid ''" attach -p "" -d 1
bad "-p of no process" 'no process' attach -p "$(free_pid)" -d 1
bad "-p 2 (a kernel thread)" 'kernel thread' attach -p 2 -d 1
bad "top -p of no process" 'no process' top -p "$(free_pid)"
bad "an unknown option" "unknown option '--frobnicate'" run --frobnicate -- "${RAN[@]}"
bad "an option of another command" 'does not apply' top --json "$TMP/a.json" -p 1
bad "an option without its value" 'needs a value' run --json
bad "no command" 'no command' --json "$TMP/a.json"
bad "an unknown command" 'unknown command' frobnicate
bad "run without a command" 'needs a command' run
bad "attach without -p" 'needs a process' attach
bad "diff of one file" 'two files' diff "$TMP/a.json"
bad "a command that is not there" 'not found' run -- "$TMP/no/such/program"

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
