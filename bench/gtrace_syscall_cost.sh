#!/usr/bin/env bash
# gtrace_syscall_cost.sh - what gtrace's system call counting costs the
# OTHER processes of the machine: the CPU time per getppid() of a loop
# (build/tests/gtrace/getppid_n N) while gtrace is attached to an
# unrelated, sleeping process.
#
#   bench/gtrace_syscall_cost.sh [-r REPEATS] [-n CALLS] [--only NAME,...]
#
# Configurations, interleaved, REPEATS times each (medians shown):
#
#   none            nothing attached: the baseline
#   default         gtrace attach (system calls by fentry/fexit on
#                   x64_sys_call, or by the tracepoints where the kernel
#                   refuses fentry: the line "via" says which)
#   sys-tracepoints gtrace attach --sys-tracepoints
#   no-syscalls     gtrace attach --no-syscalls (the scheduler
#                   tracepoints only: should cost a getppid loop nothing)
#
# A tracepoint program makes every process take the kernel's slow
# syscall path; a fentry trampoline costs only the call it hooks.  The
# loop's cost is its user + system CPU time (bash's `time`) divided by N.
# Needs root; prints a skip line otherwise.  ~1 minute.
set -u
prog=gtrace-syscall-cost
BUILD=${BUILD:-build}
GTRACE=$BUILD/gtrace LOOP=$BUILD/tests/gtrace/getppid_n
repeats=5 calls=3000000 only=
die() { echo "$prog: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -r) repeats=$2; shift 2 ;;
    -n) calls=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see $0 --help)" ;;
  esac
done
[[ $repeats =~ ^[1-9][0-9]*$ && $calls =~ ^[1-9][0-9]*$ ]] || die "-r and -n need positive whole numbers"
if [[ $(id -u) != 0 ]]; then echo "$prog: skipped: gtrace needs root (eBPF)"; exit 0; fi
for b in "$GTRACE" "$LOOP"; do [[ -x $b ]] || die "$b is not built: run make $b"; done

configs=(none default sys-tracepoints no-syscalls)
if [[ -n $only ]]; then
  keep=(); for c in "${configs[@]}"; do [[ ,$only, == *,$c,* ]] && keep+=("$c"); done
  [[ ${#keep[@]} -gt 0 ]] || die "--only '$only' names no configuration"
  configs=("${keep[@]}")
fi
out=$(mktemp -d /tmp/gtrace-syscall-cost.XXXXXX)
sleep 100000 & target=$!
gpid=
cleanup() { [[ -n $gpid ]] && kill -INT "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
  kill "$target" 2>/dev/null; wait "$target" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

# ns of CPU per call of one loop run
loop_ns() {
  local TIMEFORMAT='%3U %3S' t
  t=$( { time "$LOOP" "$calls" >/dev/null; } 2>&1 ) || return 1
  awk -v t="$t" -v n="$calls" 'BEGIN { split(t, a, " "); printf "%.0f", (a[1] + a[2]) * 1e9 / n }'
}

declare -A res
for ((r = 1; r <= repeats; r++)); do
  for c in "${configs[@]}"; do
    gpid=
    if [[ $c != none ]]; then
      args=(); [[ $c != default ]] && args=("--$c")
      "$GTRACE" attach -p "$target" "${args[@]}" >"$out/$c.txt" 2>"$out/$c.err" & gpid=$!
      for ((i = 0; i < 300; i++)); do
        grep -q '^gtrace: tracing pid' "$out/$c.err" 2>/dev/null && break
        kill -0 "$gpid" 2>/dev/null || die "$c: gtrace failed: $(tail -n 1 "$out/$c.err")"
        sleep 0.1
      done
    fi
    ns=$(loop_ns) || die "$c: $LOOP failed"
    if [[ -n $gpid ]]; then
      kill -INT "$gpid"; wait "$gpid"; gpid=
      via=$(grep -o 'system calls counted by [^;]*' "$out/$c.txt" | head -n 1)
      [[ -n $via ]] && res[$c.via]=$via
    fi
    res[$c]+="$ns "
    printf '  rep %d  %-16s %6s ns/call\n' "$r" "$c" "$ns"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
base=$( [[ -n ${res[none]:-} ]] && median <<< "${res[none]}" )
printf '%-16s %14s %10s   %s\n' configuration "median ns/call" "vs none" "runs"
for c in "${configs[@]}"; do
  m=$(median <<< "${res[$c]}")
  d=-; [[ -n $base && $c != none ]] && d=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%+.0f ns", a - b }')
  printf '%-16s %14s %10s   %s\n' "$c" "$m" "$d" "${res[$c]}"
done
for c in "${configs[@]}"; do
  [[ -n ${res[$c.via]:-} ]] && echo "$c: ${res[$c.via]}"
done
exit 0
