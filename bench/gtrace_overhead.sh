#!/usr/bin/env bash
# gtrace_overhead.sh - what tracing a server with gtrace costs it in
# requests/s (issue 4, "Performance": <= 3% loss).
#
#   bench/gtrace_overhead.sh [-r REPEATS] [-d SECONDS] [-w SECONDS] [-c CONNS]
#                            [-s SIZE] [--only NAME,...] [--quick]
#
# The server (build/echo_greenrt, and for information build/echo_threads)
# runs under the same closed-loop load each time - build/loadgen -c 1000
# -d 5 -w 1, 64-byte echo - in these configurations:
#
#   greenrt  untraced               the baseline
#   greenrt  gtrace run             default mode: OS tracepoints + the
#                                   runtime's counters (the issue's target)
#   greenrt  gtrace run --goroutines  per-event greenrt probes (information)
#   greenrt  gtrace run --no-syscalls without counting system calls
#                                   (information)
#   greenrt  gtrace run --sys-tracepoints  system calls counted by the
#                                   sys_enter/sys_exit tracepoints rather
#                                   than fentry on x64_sys_call; they send
#                                   loadgen's calls through the slow path
#                                   too (information; = default where the
#                                   kernel refuses fentry)
#   greenrt  gtrace run --offcpu    off-CPU stacks, wakers, distributions:
#                                   uprobes on every goroutine park, ready,
#                                   switch and exit, stack walks (information)
#   greenrt  gtrace run --counters  perf_event_open counters (information)
#   threads  untraced / gtrace run  thread-per-connection (information)
#   threads  gtrace run --offcpu    its threads' stacks at every switch
#                                   (information)
#   greenrt  base gtrace run        with GTRACE_BASE=PATH: the default mode
#                                   of another gtrace build (an older one:
#                                   does a change make the default mode
#                                   slower?), also for threads
#
# The machine has 2 cores shared by the server, the load generator and
# anything else running, so single runs are noisy: each repeat runs every
# configuration once, interleaved (A B A B ...), and the table shows the
# medians over the repeats; loss = 1 - median(traced) / median(untraced),
# and, less sensitive to the other work, the median of the losses of each
# traced run against the untraced run just before it ("paired").  The CPU
# time per request (server + loadgen, from /proc and loadgen's getrusage)
# is shown too: on a CPU-bound machine the extra CPU per request is what
# tracing takes away, whatever else runs.  The traced runs also give
# gtrace's own BPF cost (its report's cost line) per request.
#
# Output: progress lines, a table, how the default mode counted system
# calls (its report's cost line), then one JSON line per configuration
# (also appended to $BUILD/bench/gtrace_overhead/results.jsonl).  Every
# run's files (loadgen JSON, gtrace report) stay in that directory.
# Needs root (eBPF): otherwise prints one "skipped" line and exits 0, as
# make bench must go on.  Exits 1 if a run failed.
set -u
prog=bench-gtrace-overhead
BUILD=${BUILD:-build}
GTRACE=$BUILD/gtrace LOADGEN=$BUILD/loadgen
repeats=3 duration=5 warmup=1 conns=1000 size=64 only=

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "$prog: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -r) repeats=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -w) warmup=$2; shift 2 ;;
    -c) conns=$2; shift 2 ;;
    -s) size=$2; shift 2 ;;
    --quick) repeats=1 duration=2 warmup=0 conns=200; shift ;;
    --only) only=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see $0 --help)" ;;
  esac
done
for v in "$repeats" "$duration" "$warmup" "$conns" "$size"; do
  [[ $v =~ ^[0-9]+$ ]] || die "'$v' is not a whole number (see $0 --help)"
done
[[ $repeats -ge 1 ]] || die "-r needs at least 1 repeat"

if [[ $(id -u) != 0 ]]; then
  echo "$prog: skipped: gtrace needs root (eBPF); run make bench as root"
  exit 0
fi
for b in "$GTRACE" "$LOADGEN" "$BUILD/echo_greenrt" "$BUILD/echo_threads"; do
  [[ -x $b ]] || die "$b is not built: run make"
done
# the server and loadgen each hold one socket per connection
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -ge $((conns + 64)) ]] ||
  die "$conns connections need $((conns + 64)) open files, the hard limit is $hard"
ulimit -n "$hard" 2>/dev/null || ulimit -n $((conns + 64))

out=$BUILD/bench/gtrace_overhead
mkdir -p "$out" || die "cannot create $out"
lgcmd="$LOADGEN -c $conns -d $duration -w $warmup -s $size --json -q"

# configurations: name server gtrace-args ("-" = untraced)
configs=(
  "greenrt-untraced|echo_greenrt|-"
  "greenrt-traced|echo_greenrt|"
  "greenrt-goroutines|echo_greenrt|--goroutines"
  "greenrt-nosyscalls|echo_greenrt|--no-syscalls"
  "greenrt-systp|echo_greenrt|--sys-tracepoints"
  "greenrt-offcpu|echo_greenrt|--offcpu"
  "greenrt-counters|echo_greenrt|--counters"
  "threads-untraced|echo_threads|-"
  "threads-traced|echo_threads|"
  "threads-offcpu|echo_threads|--offcpu"
)

if [[ -n ${GTRACE_BASE:-} ]]; then
  [[ -x $GTRACE_BASE ]] || die "GTRACE_BASE=$GTRACE_BASE is not an executable gtrace"
  configs+=("greenrt-base|echo_greenrt|@base" "threads-base|echo_threads|@base")
fi
if [[ -n $only ]]; then   # a subset, e.g. --only greenrt-untraced,greenrt-traced
  keep=()
  for c in "${configs[@]}"; do [[ ,$only, == *,${c%%|*},* ]] && keep+=("$c"); done
  [[ ${#keep[@]} -gt 0 ]] || die "--only '$only' names no configuration (see $0 --help)"
  configs=("${keep[@]}")
fi
failed=0
jl=()
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; }
trap cleanup EXIT INT TERM

ticks() { local st; st=$(< "/proc/$1/stat") || return 1; st=${st##*) }
  awk '{ print $12 + $13 }' <<< "$st"; }
clk_tck=$(getconf CLK_TCK)

# run_one NAME SERVER GTRACE_ARGS REP: prints "RPS BPF_NS_PER_REQ CPU_US_PER_REQ" or fails
run_one() {
  local name=$1 srv=$2 gargs=$3 rep=$4 dir=$out/$1-r$4 top spid port i
  rm -rf "$dir"; mkdir -p "$dir"
  local cmd=("$BUILD/$srv" --port 0)
  if [[ $gargs == - ]]; then
    "${cmd[@]}" > "$dir/server.out" 2> "$dir/server.err" &
  elif [[ $gargs == @base ]]; then
    "$GTRACE_BASE" run -- "${cmd[@]}" > "$dir/server.out" 2> "$dir/gtrace.txt" &
  else
    # shellcheck disable=SC2086  # gargs: zero or one word
    "$GTRACE" run $gargs -- "${cmd[@]}" > "$dir/server.out" 2> "$dir/gtrace.txt" &
  fi
  top=$!
  pids=("$top")
  for ((i = 0; i < 200; i++)); do     # up to 20 s (gtrace loads its programs first)
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.out" 2>/dev/null)
    [[ -n $port ]] && break
    kill -0 "$top" 2>/dev/null || break
    sleep 0.1
  done
  if [[ $gargs == - ]]; then spid=$top
  else spid=$(awk '{print $1; exit}' /proc/"$top"/task/*/children 2>/dev/null); fi
  if [[ -z $port || -z $spid ]]; then
    kill -TERM "$top" 2>/dev/null; wait "$top" 2>/dev/null
    echo "$prog: $name: server did not start: $(tail -n 1 "$dir/gtrace.txt" "$dir/server.err" 2>/dev/null | tail -n 1)" >&2
    return 1
  fi
  local t0 t1
  t0=$(ticks "$spid")
  $lgcmd -p "$port" > "$dir/loadgen.json" 2> "$dir/loadgen.err"
  local lg_rc=$?
  t1=$(ticks "$spid")
  kill -TERM "$spid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do kill -0 "$top" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$top" 2>/dev/null
  wait "$top" 2>/dev/null
  pids=()
  local rps reqs errs
  rps=$(grep -o '"requests_per_s":[0-9.]*' "$dir/loadgen.json" | cut -d: -f2)
  reqs=$(grep -o '"requests":[0-9]*' "$dir/loadgen.json" | cut -d: -f2)
  errs=$(grep -o '"errors":[0-9]*' "$dir/loadgen.json" | cut -d: -f2)
  if [[ $lg_rc != 0 || -z $rps || $errs != 0 ]]; then
    echo "$prog: $name: loadgen failed (exit $lg_rc, errors ${errs:-?}): $(tail -n 1 "$dir/loadgen.err")" >&2
    return 1
  fi
  # gtrace's cost line: "... N BPF program runs, 1.01 s in BPF ..." over the
  # whole traced lifetime; divide by the requests served while measured
  # and in warm-up (an upper bound: start-up and shutdown add a little)
  local bpf=-
  if [[ $gargs != - ]]; then
    local wreqs
    wreqs=$(grep -o '"warmup_requests":[0-9]*' "$dir/loadgen.json" | cut -d: -f2)
    bpf=$(awk -v n=$((reqs + ${wreqs:-0})) '
      /^gtrace.s own cost:/ {
        for (i = 1; i <= NF; i++) if ($(i+1) == "in" && $(i+2) == "BPF") {
          v = $(i-1); u = $i
          f = (u == "s") ? 1e9 : (u == "ms") ? 1e6 : (u == "us") ? 1e3 : 1
          printf "%.0f", v * f / n; exit
        }
      }' "$dir/gtrace.txt")
    [[ -n $bpf ]] || bpf=-
  fi
  # CPU per request: the server's over the whole load (warm-up included),
  # loadgen's over its measured window
  local cpu
  cpu=$(awk -v t0="${t0:-0}" -v t1="${t1:-0}" -v hz="$clk_tck" -v n="$reqs" \
        -v w="$(grep -o '"warmup_requests":[0-9]*' "$dir/loadgen.json" | cut -d: -f2)" \
        -v u="$(grep -o '"cpu_user_s":[0-9.]*' "$dir/loadgen.json" | cut -d: -f2)" \
        -v k="$(grep -o '"cpu_sys_s":[0-9.]*' "$dir/loadgen.json" | cut -d: -f2)" \
        'BEGIN { if (n <= 0) { print "-"; exit }
                 printf "%.2f", ((t1 - t0) / hz / (n + w) + (u + k) / n) * 1e6 }')
  echo "$rps $bpf $cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "$prog: $repeats repeat(s) of ${#configs[@]} interleaved runs; load: $lgcmd -p PORT"
echo "$prog: servers: $BUILD/echo_greenrt, $BUILD/echo_threads --port 0; traced by $GTRACE run [--goroutines] --"
declare -A rps bpf cpu paired last_untraced
for ((r = 1; r <= repeats; r++)); do
  for c in "${configs[@]}"; do
    IFS='|' read -r name srv gargs <<< "$c"
    if res=$(run_one "$name" "$srv" "$gargs" "$r"); then
      read -r x y z <<< "$res"
      rps[$name]+="$x "
      bpf[$name]+="$y "
      cpu[$name]+="$z "
      base_now=${last_untraced[${name%%-*}]:-}
      if [[ $gargs != - && -n $base_now ]]; then
        paired[$name]+="$(awk -v a="$x" -v b="$base_now" 'BEGIN { printf "%.2f", 100 * (1 - a / b) }') "
      fi
      [[ $gargs == - ]] && last_untraced[${name%%-*}]=$x
      printf '  rep %d  %-20s %10.0f req/s  %6s us CPU/req%s\n' "$r" "$name" "$x" "$z" \
        "$([[ $y != - ]] && echo "   BPF $y ns/req")"
    else
      failed=1
    fi
  done
done

med() { tr ' ' '\n' <<< "${1:-}" | grep -v '^-\?$' | median; }
echo
printf '%-20s %12s %7s %7s %10s %9s %11s   %s\n' configuration "median req/s" loss paired "CPU us/req" "CPU loss" "BPF ns/req" "runs (req/s)"
jsonl=$out/results.jsonl
ts=$(date +%s)
for c in "${configs[@]}"; do
  IFS='|' read -r name srv gargs <<< "$c"
  m=$(med "${rps[$name]:-}")
  base=$(med "${rps[${name%%-*}-untraced]:-}")
  loss=-
  if [[ $gargs != - && $m != - && $base != - ]]; then
    loss=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.1f%%", 100 * (1 - a / b) }')
  fi
  b=$(med "${bpf[$name]:-}")
  pl=$(med "${paired[$name]:-}")
  [[ $pl != - ]] && pl=$(printf '%.1f%%' "$pl")
  cu=$(med "${cpu[$name]:-}") cb=$(med "${cpu[${name%%-*}-untraced]:-}") closs=-
  if [[ $gargs != - && $cu != - && $cb != - ]]; then
    closs=$(awk -v a="$cu" -v b="$cb" 'BEGIN { printf "%.1f%%", 100 * (1 - b / a) }')
  fi
  printf '%-20s %12s %7s %7s %10s %9s %11s   %s\n' "$name" "$(printf '%.0f' "$m" 2>/dev/null || echo -)" \
    "$loss" "$pl" "$cu" "$closs" "$b" "${rps[$name]:-}"
  runs=$(tr -s ' ' ',' <<< "${rps[$name]:-}" | sed 's/,$//')
  line=$(printf '{"bench":"gtrace_overhead","config":"%s","unit":"req/s","median":%s,"runs":[%s],"loss_pct":%s,"paired_loss_pct":%s,"cpu_us_per_req":%s,"cpu_loss_pct":%s,"bpf_ns_per_req":%s,"connections":%d,"duration_s":%d,"ts":%d}' \
    "$name" "${m/-/null}" "$runs" "$([[ $loss == - ]] && echo null || echo "${loss%\%}")" \
    "$([[ $pl == - ]] && echo null || echo "${pl%\%}")" "$([[ $cu == - ]] && echo null || echo "$cu")" \
    "$([[ $closs == - ]] && echo null || echo "${closs%\%}")" \
    "$([[ $b == - ]] && echo null || echo "$b")" "$conns" "$duration" "$ts")
  echo "$line" >> "$jsonl"
  jl+=("$line")
done
via=$(grep -ho 'system calls counted by [^;]*' "$out"/greenrt-traced-r*/gtrace.txt 2>/dev/null | sort | uniq -c)
[[ -n $via ]] && echo && echo "default mode (greenrt-traced), runs: $via"
echo
printf '%s\n' "${jl[@]}"
target=$(med "${rps[greenrt-traced]:-}") base=$(med "${rps[greenrt-untraced]:-}")
if [[ $target != - && $base != - ]]; then
  pl=$(med "${paired[greenrt-traced]:-}")
  awk -v a="$target" -v b="$base" -v p="$pl" 'BEGIN { l = 100 * (1 - a / b)
    printf "%s: greenrt traced by gtrace (default mode) loses %.1f%% of its requests/s (medians; paired: %s%%): target <= 3%% %s\n",
      "'"$prog"'", l, p, (l <= 3) ? "met" : "NOT met" }'
fi
exit $failed
