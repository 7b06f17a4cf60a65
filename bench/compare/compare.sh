#!/usr/bin/env bash
# compare.sh - the model-vs-model comparison: the same echo load against a
# goroutine-per-connection server (greenrt), a thread-per-connection one,
# and, when built, Go's goroutines and State Threads, each run under
# `gtrace run --json` so that the kernel itself counts what every request
# cost (OS context switches, syscalls, io_uring enters, goroutine switches).
#
# How a run goes (run_one): gtrace starts the server (both under `taskset
# -c 0` with --pin), the driver waits for "listening on HOST:PORT", samples the
# server's /proc/PID/status (Threads, VmRSS) every 0.2 s in the background,
# runs loadgen (closed loop, SIZE-byte echo, verified replies; `taskset -c
# 1` with --pin) for WARMUP + DURATION seconds, reads the server's CPU time
# (utime+stime, /proc/PID/stat) and VmHWM, stops it with SIGTERM and reads
# gtrace's JSON.  Per-request figures divide the whole traced lifetime's
# counts by every request served (warm-up + measured), so the cost of
# accepting and tearing down connections is included, in every model alike.
#
# Models are interleaved (A B A B ...) within each repeat so that a noisy
# neighbour on this shared machine hurts every model rather than one; the
# table shows medians over the repeats.  A level a model cannot run here
# (pid_max, threads-max, the open-files limit, memory) is recorded as
# "not run: <reason>", and a run that fails as "failed: <reason>": rows are
# never dropped silently.
#
# Rejected: attaching gtrace only for the measured window (`gtrace attach
# -d`) - it would hide connection setup, which is where thread-per-
# connection pays for its clone(2)s; and timing with the load generator's
# CPU included - the server's own CPU per request is the fair efficiency
# figure when both share two cores.
#
# Outputs in OUT (default $BUILD/compare): runs.tsv (one line per run),
# results.json (config, every run, medians), report.html (table and
# gnuplot SVG charts inline), and per-run logs under runs/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
prog=compare.sh
BUILD=${BUILD:-build}

usage() {
  cat <<EOF
usage: $prog [OPTIONS]
Runs each server model under the same closed-loop echo load, traced by
gtrace, and prints a table of the medians, model beside model.

  -c, --levels LIST     connection counts (default 100,1000,10000)
  -m, --models LIST     models in order (default: greenrt,threads, then go
                        and st when their servers are built)
  -d, --duration S      measured seconds per run (default 5)
  -w, --warmup S        warm-up seconds per run (default 1)
  -r, --repeats N       runs per model and level, median reported (default 3)
  -s, --size BYTES      echo message size (default 64)
  -t, --lg-threads N    loadgen threads (default 1)
      --pin             server on CPU 0, loadgen on CPU 1 (taskset)
      --no-trace        run without gtrace (kernel counts become n/a)
      --demo            explain each row in one sentence (greenrt vs the
                        second model)
  -o, --out DIR         output directory (default \$BUILD/compare)
      --no-html         skip report.html (no gnuplot needed)
  -q, --quiet           only the table
  -h, --help            this help

Environment: BUILD (default build) locates the binaries: gtrace, loadgen,
echo_greenrt, echo_threads, compare/echo_go, compare/echo_st.

Examples:
  $prog                                # C = 100, 1,000, 10,000; 3 repeats
  $prog -c 1000 -r 1 -d 5 --demo       # what \`make demo\` runs
  $prog -c 200 -m greenrt,threads -r 1 -d 2 --pin
EOF
}

die() { echo "$prog: $*" >&2; exit 2; }

levels=100,1000,10000 models= duration=5 warmup=1 repeats=3 size=64
lg_threads=1 pin=0 trace=1 demo=0 out= html=1 quiet=0
while [[ $# -gt 0 ]]; do
  case $1 in
    -c|--levels) levels=${2:?}; shift ;;
    -m|--models) models=${2:?}; shift ;;
    -d|--duration) duration=${2:?}; shift ;;
    -w|--warmup) warmup=${2:?}; shift ;;
    -r|--repeats) repeats=${2:?}; shift ;;
    -s|--size) size=${2:?}; shift ;;
    -t|--lg-threads) lg_threads=${2:?}; shift ;;
    --pin) pin=1 ;;
    --no-trace) trace=0 ;;
    --demo) demo=1 ;;
    -o|--out) out=${2:?}; shift ;;
    --no-html) html=0 ;;
    -q|--quiet) quiet=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1': see --help" ;;
  esac
  shift
done
[[ $levels =~ ^[0-9]+(,[0-9]+)*$ ]] || die "bad --levels '$levels': expected counts like 100,1000"
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 ]] || die "bad --duration '$duration': expected whole seconds >= 1"
[[ $warmup =~ ^[0-9]+$ ]] || die "bad --warmup '$warmup': expected whole seconds >= 0"
[[ $repeats =~ ^[0-9]+$ && $repeats -ge 1 ]] || die "bad --repeats '$repeats': expected a count >= 1"
[[ $size =~ ^[0-9]+$ && $size -ge 1 ]] || die "bad --size '$size': expected bytes >= 1"
[[ $lg_threads =~ ^[0-9]+$ && $lg_threads -ge 1 ]] || die "bad --lg-threads '$lg_threads'"

GTRACE=$BUILD/gtrace LOADGEN=$BUILD/loadgen
declare -A server=(
  [greenrt]=$BUILD/echo_greenrt
  [threads]=$BUILD/echo_threads
  [go]=$BUILD/compare/echo_go
  [st]=$BUILD/compare/echo_st
)
if [[ -z $models ]]; then
  models=greenrt,threads
  for m in go st; do [[ -x ${server[$m]} ]] && models+=,$m; done
fi
IFS=, read -r -a model_list <<< "$models"
IFS=, read -r -a level_list <<< "$levels"
for m in "${model_list[@]}"; do
  [[ -n ${server[$m]+x} ]] || die "unknown model '$m': expected greenrt, threads, go or st"
  [[ -x ${server[$m]} ]] || die "${server[$m]} is not built: run make (go needs golang-go, st needs libst-dev)"
done
[[ -x $LOADGEN ]] || die "$LOADGEN is not built: run make"
if [[ $trace == 1 ]]; then
  [[ -x $GTRACE ]] || die "$GTRACE is not built: run make"
  [[ $(id -u) == 0 ]] || die "gtrace needs root (eBPF): run as root, or pass --no-trace"
fi
if [[ $pin == 1 ]]; then
  command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
  [[ $(nproc) -ge 2 ]] || die "--pin needs 2 CPUs, this machine has $(nproc)"
fi

out=${out:-$BUILD/compare}
mkdir -p "$out/runs" || die "cannot create $out"
tsv=$out/runs.tsv
: > "$tsv"
say() { [[ $quiet == 1 ]] || echo "$@" >&2; }
clk_tck=$(getconf CLK_TCK)

# --- feasibility: why a model cannot run C connections here ----------------
# Prints a reason, or nothing if the level fits.
cannot_run() {
  local model=$1 c=$2 hard pid_max threads_max tasks avail_kb need_kb
  hard=$(ulimit -Hn)
  # the server holds C sockets; loadgen (a separate process) holds C more
  if [[ $hard != unlimited && $((c + 64)) -gt $hard ]]; then
    echo "needs $((c + 64)) fds, open-files hard limit is $hard"; return
  fi
  [[ $model == threads ]] || return 0
  pid_max=$(< /proc/sys/kernel/pid_max)
  threads_max=$(< /proc/sys/kernel/threads-max)
  tasks=$(awk '{split($4, a, "/"); print a[2]}' /proc/loadavg)
  [[ $threads_max -lt $pid_max ]] && pid_max=$threads_max
  if [[ $((tasks + c + 64)) -gt $pid_max ]]; then
    echo "one thread per connection needs $c more tasks, pid_max/threads-max $pid_max with $tasks in use"
    return
  fi
  # 64 KiB stack (a few pages touched) + ~20 KiB kernel stack and task_struct
  avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  need_kb=$((c * 48))
  if [[ $need_kb -gt $((avail_kb / 2)) ]]; then
    echo "one thread per connection needs ~$((need_kb / 1024)) MiB, $((avail_kb / 1024)) MiB available"
  fi
}

# --- one run -----------------------------------------------------------------
kv() { printf '%s=%s\t' "$1" "$2"; }

record() {   # model level rep status reason [k=v pairs already formatted]
  { kv model "$1"; kv level "$2"; kv rep "$3"; kv status "$4"; kv reason "$5"; printf '%s\n' "${6-}"; } >> "$tsv"
}

# jget FLATFILE PATH: a value from jflat.awk's output ("" if absent)
jget() { awk -F'\t' -v k="$2" '$1 == k { print $2; exit }' "$1"; }

sampler() {   # PID OUTFILE: max Threads and VmRSS (kB) until the PID is gone
  local pid=$1 f=$2 k v maxthr=0 maxrss=0
  while [[ -r /proc/$pid/status ]]; do
    while IFS=$' \t:' read -r k v _; do
      case $k in
        Threads) [[ $v -gt $maxthr ]] && maxthr=$v ;;
        VmRSS) [[ $v -gt $maxrss ]] && maxrss=$v ;;
      esac
    done < "/proc/$pid/status" 2>/dev/null
    echo "$maxthr $maxrss" > "$f.tmp" && mv -f "$f.tmp" "$f"
    sleep 0.2
  done
}

cpu_ticks() {   # utime+stime of PID, in clock ticks
  local stat
  stat=$(< "/proc/$1/stat") || return 1
  stat=${stat##*) }                 # the fields after "(comm) "
  awk '{ print $12 + $13 }' <<< "$stat"
}

run_one() {
  local model=$1 c=$2 rep=$3 dir=$out/runs/$1-c$2-r$3 reason
  local srv=(${server[$model]} --port 0 --max-conns 0)
  local lg=("$LOADGEN")
  rm -rf "$dir"; mkdir -p "$dir"
  reason=$(cannot_run "$model" "$c")
  if [[ -n $reason ]]; then
    say "  $model C=$c: not run: $reason"
    record "$model" "$c" "$rep" notrun "$reason"
    return
  fi
  # Pinned, taskset goes *outside* gtrace: gtrace must exec the server
  # itself to find its USDT probes (under `gtrace run -- taskset ...` it
  # would look in taskset), and the server inherits the CPU mask.
  local pin_srv=()
  if [[ $pin == 1 ]]; then pin_srv=(taskset -c 0); lg=(taskset -c 1 "${lg[@]}"); fi
  # GR_DEBUG: greenrt logs its CPU governor's decisions (others ignore it).
  if [[ $trace == 1 ]]; then
    GR_DEBUG=1 "${pin_srv[@]}" "$GTRACE" run --json "$dir/gtrace.json" -- "${srv[@]}" > "$dir/server.out" 2> "$dir/gtrace.txt" &
  else
    GR_DEBUG=1 "${pin_srv[@]}" "${srv[@]}" > "$dir/server.out" 2> "$dir/gtrace.txt" &
  fi
  local top=$! spid= port= i
  for ((i = 0; i < 200; i++)); do             # up to 20 s (gtrace loads BPF first)
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.out" 2>/dev/null)
    [[ -n $port ]] && break
    kill -0 $top 2>/dev/null || break
    sleep 0.1
  done
  if [[ $trace == 1 ]]; then
    spid=$(cat /proc/$top/task/*/children 2>/dev/null | awk '{print $1; exit}')
  else
    spid=$top
  fi
  if [[ -z $port || -z $spid ]]; then
    kill -TERM $top 2>/dev/null; wait $top 2>/dev/null
    reason="server did not start: $(tail -n 1 "$dir/gtrace.txt" 2>/dev/null)"
    say "  $model C=$c: failed: $reason"
    record "$model" "$c" "$rep" failed "$reason"
    return
  fi
  local idle_kb
  idle_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status")
  sampler "$spid" "$dir/sample" &
  local samp=$!
  "${lg[@]}" -p "$port" -c "$c" -s "$size" -d "$duration" -w "$warmup" -t "$lg_threads" \
      --json -q > "$dir/loadgen.json" 2> "$dir/loadgen.err"
  local lg_rc=$?
  local ticks hwm_kb
  ticks=$(cpu_ticks "$spid")
  hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$spid/status" 2>/dev/null)
  kill -TERM "$spid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do kill -0 $top 2>/dev/null || break; sleep 0.1; done
  kill -KILL $top 2>/dev/null
  wait $top; local srv_rc=$?
  kill $samp 2>/dev/null; wait $samp 2>/dev/null
  local thr=0 rss=0
  [[ -s $dir/sample ]] && read -r thr rss < "$dir/sample"

  awk -f "$here/jflat.awk" "$dir/loadgen.json" > "$dir/loadgen.flat"
  local reqs wreqs errs
  reqs=$(jget "$dir/loadgen.flat" requests)
  wreqs=$(jget "$dir/loadgen.flat" warmup_requests)
  errs=$(jget "$dir/loadgen.flat" errors)
  reason=
  if [[ -z $reqs ]]; then
    reason="loadgen gave no result (exit $lg_rc): $(tail -n 1 "$dir/loadgen.err")"
  elif [[ $lg_rc != 0 || $errs != 0 ]]; then
    reason="loadgen exit $lg_rc, $errs errors: $(jget "$dir/loadgen.flat" first_error)"
  elif [[ $srv_rc != 0 ]]; then
    reason="server exited with status $srv_rc"
  elif [[ -z $ticks || -z $hwm_kb ]]; then
    reason="server vanished before the end of the load"
  fi
  if [[ -n $reason ]]; then
    say "  $model C=$c: failed: $reason"
    record "$model" "$c" "$rep" failed "$reason"
    return
  fi

  local g=$dir/gtrace.flat
  if [[ $trace == 1 ]]; then awk -f "$here/jflat.awk" "$dir/gtrace.json" > "$g"; else : > "$g"; fi
  local line
  line=$(awk -F'\t' -v reqs="$reqs" -v wreqs="$wreqs" -v c="$c" -v ticks="$ticks" \
      -v tck="$clk_tck" -v hwm="$hwm_kb" -v idle="$idle_kb" -v thr="$thr" -v rss="$rss" \
      -v trace="$trace" -v model="$model" '
    FNR == NR { lg[$1] = $2; next }
    { gt[$1] = $2 }
    function per(x) { return sprintf("%.6g", x / total) }
    function kv(k, v) { printf "%s=%s\t", k, v }
    END {
      total = reqs + wreqs
      if (hwm < rss) hwm = rss
      kv("rps", lg["requests_per_s"]); kv("p50_ms", lg["latency_us/p50"] / 1000)
      kv("p99_ms", lg["latency_us/p99"] / 1000); kv("requests", reqs)
      kv("served", total); kv("errors", lg["errors"]); kv("lg_cpu_pct", lg["cpu_pct"])
      kv("rss_peak_mb", sprintf("%.1f", hwm / 1024))
      kv("rss_per_conn_kb", sprintf("%.2f", (hwm - idle) / c))
      kv("threads", thr)
      kv("cpu_us_per_req", sprintf("%.3f", ticks / tck * 1e6 / total))
      if (trace == 1 && ("summary/sched.voluntary" in gt)) {
        kv("vcsw_per_req", per(gt["summary/sched.voluntary"] + gt["summary/iow.voluntary"]))
        kv("ivcsw_per_req", per(gt["summary/sched.involuntary"] + gt["summary/iow.involuntary"]))
        kv("syscalls_per_req", per(gt["summary/syscalls.total"]))
        kv("uring_enters_per_req", per(gt["summary/syscalls.io_uring_enter"]))
        # gtrace default mode counts from the runtime own counters
        # (g.switches, every user-space switch); --goroutines adds the
        # per-event g.switches_to_goroutine.
        if ("summary/g.switches_to_goroutine" in gt)
          kv("gsw_per_req", per(gt["summary/g.switches_to_goroutine"]))
        else if ("summary/g.switches" in gt)
          kv("gsw_per_req", per(gt["summary/g.switches"]))
        kv("trace_s", gt["duration_s"])
      }
    }' "$dir/loadgen.flat" "$g")
  record "$model" "$c" "$rep" ok "" "$line"
  local gov=
  if [[ $model == greenrt ]]; then
    gov=$(grep -o '[0-9]* of [0-9]* workers active' "$dir/gtrace.txt" | tail -n 1)
    gov=", CPU governor: ${gov:-every worker active}"
  fi
  say "$(printf '  %-8s C=%-6s run %s: %s req/s, p99 %s ms%s' "$model" "$c" "$rep" \
      "$(jget "$dir/loadgen.flat" requests_per_s)" \
      "$(awk -v x="$(jget "$dir/loadgen.flat" latency_us/p99)" 'BEGIN{printf "%.2f", x/1000}')" "$gov")"
}

cleanup() {
  local j
  for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null; done
  wait 2>/dev/null
}
trap 'cleanup; exit 130' INT TERM

say "$prog: models ${model_list[*]}; C = ${level_list[*]}; ${warmup} s warm-up + ${duration} s per run, $repeats repeat(s)$([[ $pin == 1 ]] && echo ', pinned (server CPU 0, loadgen CPU 1)')$([[ $trace == 0 ]] && echo ', untraced')"
for c in "${level_list[@]}"; do
  for ((rep = 1; rep <= repeats; rep++)); do
    for m in "${model_list[@]}"; do
      run_one "$m" "$c" "$rep"
    done
  done
done

config="models=$models levels=$levels duration=$duration warmup=$warmup repeats=$repeats size=$size lg_threads=$lg_threads pin=$pin trace=$trace cpus=$(nproc)"
awk -v outdir="$out" -v demo="$demo" -v config="$config" -v models="$models" \
    -v levels="$levels" -f "$here/report.awk" "$tsv" || exit 1
if [[ $html == 1 ]]; then
  bash "$here/html.sh" "$out" || echo "$prog: report.html not written (see above)" >&2
fi
say "$prog: raw figures in $out/results.json$([[ $html == 1 ]] && echo ", report in $out/report.html")"
# exit 1 when a run failed (not when a level could not run here)
! grep -q $'\tstatus=failed\t' "$tsv"
