#!/usr/bin/env bash
# compare.sh - the model-vs-model comparison: the same load against a
# goroutine-per-connection server (greenrt), a thread-per-connection one,
# and the servers a user would pick instead, each run under `gtrace run
# --json` so that the kernel itself counts what every request cost (OS
# context switches, syscalls, io_uring enters, goroutine switches).
#
# greenrt runs twice: `greenrt` on its io_uring engine (GR_ENGINE=uring:
# a run fails rather than quietly falling back) and `greenrt-epoll`, the
# same binary on its epoll engine (GR_ENGINE=epoll): the same goroutines
# and scheduler, the other engine.  Beside threads they split the gain:
# threads -> greenrt-epoll is what green threads give (OS switches,
# memory), greenrt-epoll -> greenrt what io_uring gives (system calls and
# CPU per request).
#
# Workloads (--workload):
#   echo (default)  loadgen's closed-loop echo against echo_greenrt,
#                   echo_threads and, when built, Go and State Threads;
#   kv              redis-benchmark -t set,get (-c C, -P P) against
#                   kv_greenrt, redis-server (no persistence: --save ''
#                   --appendonly no) and kv_threads;
#   http            wrk -t1 on GET /hello (a 14-byte body) against
#                   http_greenrt, nginx (one process, access_log off, the
#                   same body, a config generated per run) and http_threads.
#
# How a run goes (run_one): gtrace starts the server (both under `taskset
# -c 0` with --pin), the driver waits until it listens (our servers print
# "listening on HOST:PORT" for port 0; redis-server and nginx get a free
# port and are polled), samples the server's /proc/PID/status (Threads,
# VmRSS) every 0.2 s in the background, runs the load generator (`taskset
# -c 1` with --pin): a warm-up, then the measured run; reads the server's
# CPU time (utime+stime, /proc/PID/stat) and VmHWM, stops it with SIGTERM
# and reads gtrace's JSON.  Per-request figures divide the whole traced
# lifetime's counts by every request served (warm-up + measured), so the
# cost of accepting and tearing down connections is included, in every
# model alike.  The load generator's own CPU is measured too (loadgen
# reports it; for redis-benchmark and wrk, the shell's child rusage).
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
# Outputs in OUT (default $BUILD/compare, $BUILD/compare-kv and
# $BUILD/compare-http for the other workloads): runs.tsv (one line per
# run), results.json (config, every run, medians), report.html (table and
# gnuplot SVG charts inline), and per-run logs under runs/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
prog=compare.sh
BUILD=${BUILD:-build}

usage() {
  cat <<EOF
usage: $prog [OPTIONS]
Runs each server model under the same load, traced by gtrace, and prints a
table of the medians, model beside model.

      --workload W      echo (default), kv or http (see the top of this file)
  -c, --levels LIST     connection counts (default: echo 100,1000,10000;
                        kv 50,1000; http 100,1000)
  -m, --models LIST     models in order (default: echo greenrt,greenrt-epoll,
                        threads, then go and st when built; kv greenrt,
                        redis,threads; http greenrt,nginx,threads;
                        greenrt-epoll is available in every workload)
  -d, --duration S      measured seconds per run (default 5; echo and http)
  -w, --warmup S        warm-up seconds per run (default 1; echo and http)
  -r, --repeats N       runs per model and level, median reported (default 3)
  -s, --size BYTES      echo message size (default 64)
  -t, --lg-threads N    loadgen threads (default 1; echo)
  -P, --pipeline LIST   kv: redis-benchmark -P values, each a level of its
                        own with every -c (default 1,16)
  -n, --requests N      kv: requests per test (SET, then GET) at -P 1, ten
                        times as many when pipelining (default 200000); the
                        warm-up is a tenth of that
      --keyspace N      kv: random keys (redis-benchmark -r N; default 0:
                        one key, as redis-benchmark does by default)
      --pin             server on CPU 0, loadgen on CPU 1 (taskset)
      --no-trace        run without gtrace (kernel counts become n/a)
      --demo            explain each row in one sentence (the first model vs
                        the second; with threads, greenrt-epoll and greenrt,
                        what green threads and what io_uring each gave)
      --why             then run each model once more under gtrace --offcpu
                        --counters and say where it waits: off-CPU time by
                        kernel path, goroutine parks by reason, the waits'
                        distributions, counters per request; the flame
                        graphs side by side in report.html (make demo)
  -o, --out DIR         output directory (default \$BUILD/compare)
      --no-html         skip report.html (no gnuplot needed)
  -q, --quiet           only the table
  -h, --help            this help

Environment: BUILD (default build) locates the binaries: gtrace, loadgen,
echo_greenrt, echo_threads, compare/echo_go, compare/echo_st, kv_greenrt,
kv_threads, http_greenrt, http_threads; redis-server, redis-benchmark,
nginx and wrk come from PATH (make deps installs them).

Examples:
  $prog                                # C = 100, 1,000, 10,000; 3 repeats
  $prog -c 1000 -r 2 -w 1 -d 5 -m threads,greenrt-epoll,greenrt --demo --why
                                       # what \`make demo\` runs
  $prog -c 200 -m greenrt,threads -r 1 -d 2 --pin
  $prog --workload kv --pin            # kv vs redis-server vs kv_threads
  $prog --workload http --pin          # http vs nginx vs http_threads
EOF
}

die() { echo "$prog: $*" >&2; exit 2; }

workload=echo levels= models= duration=5 warmup=1 repeats=3 size=64
lg_threads=1 pin=0 trace=1 demo=0 why=0 out= html=1 quiet=0
pipelines=1,16 kv_requests=200000 keyspace=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --workload) workload=${2:?}; shift ;;
    -P|--pipeline) pipelines=${2:?}; shift ;;
    -n|--requests) kv_requests=${2:?}; shift ;;
    --keyspace) keyspace=${2:?}; shift ;;
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
    --why) why=1 ;;
    -o|--out) out=${2:?}; shift ;;
    --no-html) html=0 ;;
    -q|--quiet) quiet=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1': see --help" ;;
  esac
  shift
done
case $workload in
  echo) levels=${levels:-100,1000,10000} ;;
  kv) levels=${levels:-50,1000} ;;
  http) levels=${levels:-100,1000} ;;
  *) die "bad --workload '$workload': expected echo, kv or http" ;;
esac
[[ $levels =~ ^[0-9]+(,[0-9]+)*$ ]] || die "bad --levels '$levels': expected counts like 100,1000"
[[ $pipelines =~ ^[0-9]+(,[0-9]+)*$ ]] || die "bad --pipeline '$pipelines': expected depths like 1,16"
[[ $kv_requests =~ ^[0-9]+$ && $kv_requests -ge 100 ]] || die "bad --requests '$kv_requests': expected a count >= 100"
[[ $keyspace =~ ^[0-9]+$ ]] || die "bad --keyspace '$keyspace': expected a count (0: one key)"
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 ]] || die "bad --duration '$duration': expected whole seconds >= 1"
[[ $warmup =~ ^[0-9]+$ ]] || die "bad --warmup '$warmup': expected whole seconds >= 0"
[[ $repeats =~ ^[0-9]+$ && $repeats -ge 1 ]] || die "bad --repeats '$repeats': expected a count >= 1"
[[ $size =~ ^[0-9]+$ && $size -ge 1 ]] || die "bad --size '$size': expected bytes >= 1"
[[ $lg_threads =~ ^[0-9]+$ && $lg_threads -ge 1 ]] || die "bad --lg-threads '$lg_threads'"

GTRACE=$BUILD/gtrace LOADGEN=$BUILD/loadgen
# server[MODEL]: the binary; fixed_port[MODEL]: it takes a port number
# rather than --port 0 (redis-server, nginx); model_env[MODEL]: the
# environment it runs with (greenrt's I/O engine)
declare -A server fixed_port model_env
case $workload in
  echo)
    server=([greenrt]=$BUILD/echo_greenrt [threads]=$BUILD/echo_threads
            [go]=$BUILD/compare/echo_go [st]=$BUILD/compare/echo_st)
    if [[ -z $models ]]; then
      models=greenrt,greenrt-epoll,threads
      for m in go st; do [[ -x ${server[$m]} ]] && models+=,$m; done
    fi
    known="greenrt, greenrt-epoll, threads, go or st" ;;
  kv)
    server=([greenrt]=$BUILD/kv_greenrt [threads]=$BUILD/kv_threads
            [redis]=$(command -v redis-server))
    fixed_port=([redis]=1)
    models=${models:-greenrt,redis,threads}
    known="greenrt, greenrt-epoll, redis or threads" ;;
  http)
    server=([greenrt]=$BUILD/http_greenrt [threads]=$BUILD/http_threads
            [nginx]=$(command -v nginx || echo /usr/sbin/nginx))
    fixed_port=([nginx]=1)
    models=${models:-greenrt,nginx,threads}
    known="greenrt, greenrt-epoll, nginx or threads" ;;
esac
server[greenrt-epoll]=${server[greenrt]}
model_env=([greenrt]=GR_ENGINE=uring [greenrt-epoll]=GR_ENGINE=epoll)
IFS=, read -r -a model_list <<< "$models"
IFS=, read -r -a conn_list <<< "$levels"
IFS=, read -r -a pipe_list <<< "$pipelines"
# a level is a connection count, or for kv "CpP": C connections, pipeline P
level_list=()
for c in "${conn_list[@]}"; do
  if [[ $workload == kv ]]; then
    for p in "${pipe_list[@]}"; do level_list+=("${c}p$p"); done
  else
    level_list+=("$c")
  fi
done
for m in "${model_list[@]}"; do
  [[ -n ${server[$m]+x} ]] || die "unknown model '$m' for --workload $workload: expected $known"
  case $m in
    redis) [[ -x ${server[$m]} ]] || die "redis-server is not installed: apt-get install redis-server (make deps)" ;;
    nginx) [[ -x ${server[$m]} ]] || die "nginx is not installed: apt-get install nginx-light (make deps)" ;;
    *) [[ -x ${server[$m]} ]] || die "${server[$m]} is not built: run make (go needs golang-go, st needs libst-dev)" ;;
  esac
done
case $workload in
  echo) [[ -x $LOADGEN ]] || die "$LOADGEN is not built: run make" ;;
  kv) command -v redis-benchmark >/dev/null || die "redis-benchmark is not installed: apt-get install redis-tools (make deps)" ;;
  http) command -v wrk >/dev/null || die "wrk is not installed: apt-get install wrk (make deps)" ;;
esac
[[ $why == 1 && $trace == 0 ]] && die "--why traces the servers with gtrace: drop --no-trace"
if [[ $trace == 1 ]]; then
  [[ -x $GTRACE ]] || die "$GTRACE is not built: run make"
  [[ $(id -u) == 0 ]] || die "gtrace needs root (eBPF): run as root, or pass --no-trace"
fi
if [[ $pin == 1 ]]; then
  command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
  [[ $(nproc) -ge 2 ]] || die "--pin needs 2 CPUs, this machine has $(nproc)"
fi

case $workload in
  echo) out=${out:-$BUILD/compare} ;;
  *) out=${out:-$BUILD/compare-$workload} ;;
esac
mkdir -p "$out/runs" || die "cannot create $out"
# 1,000 client connections need as many fds in the load generator too
ulimit -n "$(ulimit -Hn)" 2>/dev/null
tsv=$out/runs.tsv
: > "$tsv"
say() { [[ $quiet == 1 ]] || echo "$@" >&2; }
clk_tck=$(getconf CLK_TCK)

# --- feasibility: why a model cannot run C connections here ----------------
# Prints a reason, or nothing if the level fits.
cannot_run() {
  local model=$1 c=${2%%p*} hard pid_max threads_max tasks avail_kb need_kb
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

# The kernel's memory in kB: KernelStack + Slab + PageTables (/proc/meminfo)
kernel_kb() { awk '/^(KernelStack|Slab|PageTables):/ { s += $2 } END { print s + 0 }' /proc/meminfo; }

sampler() {   # PID OUTFILE: max Threads, VmRSS and kernel memory (kB) until the PID is gone
  local pid=$1 f=$2 k v maxthr=0 maxrss=0 maxkern=0 kern
  while [[ -r /proc/$pid/status ]]; do
    while IFS=$' \t:' read -r k v _; do
      case $k in
        Threads) [[ $v -gt $maxthr ]] && maxthr=$v ;;
        VmRSS) [[ $v -gt $maxrss ]] && maxrss=$v ;;
      esac
    done < "/proc/$pid/status" 2>/dev/null
    kern=$(kernel_kb)
    [[ $kern -gt $maxkern ]] && maxkern=$kern
    echo "$maxthr $maxrss $maxkern" > "$f.tmp" && mv -f "$f.tmp" "$f"
    sleep 0.2
  done
}

cpu_ticks() {   # utime+stime of PID, in clock ticks
  local stat
  stat=$(< "/proc/$1/stat") || return 1
  stat=${stat##*) }                 # the fields after "(comm) "
  awk '{ print $12 + $13 }' <<< "$stat"
}

# --- starting a server ------------------------------------------------------

random_port() { echo $((20000 + RANDOM % 12000)); }

# nginx_conf DIR PORT: one process (master_process off), no access log,
# the same 14-byte body as the example servers' GET /hello
nginx_conf() {
  local d=$1 port=$2
  mkdir -p "$d/nginx"
  cat > "$d/nginx/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $d/nginx/body;
  proxy_temp_path $d/nginx/proxy;
  fastcgi_temp_path $d/nginx/fastcgi;
  uwsgi_temp_path $d/nginx/uwsgi;
  scgi_temp_path $d/nginx/scgi;
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:$port;
    location = /hello { default_type "text/plain; charset=utf-8"; return 200 "Hello, world!\n"; }
  }
}
NGINX
}

# server_argv MODEL DIR PORT: sets SRV, the command line of the server
server_argv() {
  local m=$1 d=$2 port=$3
  case $workload/$m in
    kv/redis) SRV=("${server[$m]}" --port "$port" --bind 127.0.0.1 --save '' --appendonly no
                   --dir "$d" --logfile '' --maxclients 20000) ;;
    http/nginx) nginx_conf "$d" "$port"
                SRV=("${server[$m]}" -p "$d/nginx" -c "$d/nginx/nginx.conf" -e "$d/nginx/error.log") ;;
    *) SRV=("${server[$m]}" --port 0 --max-conns 0) ;;
  esac
}

# start_server MODEL DIR: starts it (traced, pinned), sets TOP (the pid to
# wait for: gtrace's, or the server's), SPID and PORT; 1 if it did not start.
# GT_EXTRA: more gtrace options (--why's runs)
GT_EXTRA=()
start_server() {
  local m=$1 d=$2 try port= i
  local pin_srv=()
  [[ $pin == 1 ]] && pin_srv=(taskset -c 0)
  for ((try = 0; try < 5; try++)); do
    port=0
    [[ -n ${fixed_port[$m]+x} ]] && port=$(random_port)
    server_argv "$m" "$d" "$port"
    # Pinned, taskset goes *outside* gtrace: gtrace must exec the server
    # itself to find its USDT probes (under `gtrace run -- taskset ...` it
    # would look in taskset), and the server inherits the CPU mask.
    # GR_DEBUG: greenrt logs its I/O engine and its CPU governor's
    # decisions (others ignore it).
    local menv=(GR_DEBUG=1 ${model_env[$m]:-})
    if [[ $trace == 1 ]]; then
      env "${menv[@]}" "${pin_srv[@]}" "$GTRACE" run "${GT_EXTRA[@]}" --json "$d/gtrace.json" -- "${SRV[@]}" \
        > "$d/server.out" 2> "$d/gtrace.txt" &
    else
      env "${menv[@]}" "${pin_srv[@]}" "${SRV[@]}" > "$d/server.out" 2> "$d/gtrace.txt" &
    fi
    TOP=$! SPID= PORT=
    for ((i = 0; i < 200; i++)); do           # up to 20 s (gtrace loads BPF first)
      kill -0 $TOP 2>/dev/null || break
      if [[ -z $SPID ]]; then
        if [[ $trace == 1 ]]; then
          SPID=$(cat /proc/$TOP/task/*/children 2>/dev/null | awk '{print $1; exit}')
        else
          SPID=$TOP
        fi
      fi
      if [[ $port == 0 ]]; then
        PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$d/server.out" 2>/dev/null)
      elif [[ -n $SPID ]] && ss -Hltnp "sport = :$port" 2>/dev/null | grep -q "pid=$SPID,"; then
        PORT=$port
      fi
      [[ -n $PORT && -n $SPID ]] && return 0
      sleep 0.1
    done
    kill -TERM $TOP 2>/dev/null; wait $TOP 2>/dev/null
    # a fixed port another program holds: try another one
    [[ $port != 0 ]] && grep -qi 'address already in use' "$d/server.out" "$d/gtrace.txt" "$d/nginx/error.log" 2>/dev/null || break
  done
  return 1
}

# --- the load ---------------------------------------------------------------
# Each writes DIR/load.flat ("key<TAB>value"): requests (measured), served
# (warm-up + measured), rps, p50_ms, p99_ms, errors, lg_cpu_pct, and a
# first_error when something went wrong; kv adds set_rps, get_rps,
# set_p99_ms, get_p99_ms.  Returns the load generator's exit status.

lg_prefix() { LG=(); [[ $pin == 1 ]] && LG=(taskset -c 1); }

# The load generator's CPU: the `times` builtin's children line (user, sys)
# before and after it ran, as a percentage of one CPU over WALL seconds.
# `times` must run in this shell - in $(...) it would report a subshell's
# children - hence the files.
lg_cpu_pct() {  # BEFORE AFTER WALL
  awk -v wall="$3" '
    FNR == 2 { n = split($0, t, " "); s = 0
               for (i = 1; i <= n; i++) { split(t[i], a, "m"); sub(/s$/, "", a[2]); s += a[1] * 60 + a[2] }
               cpu[++f] = s }
    END { printf "%.1f", (wall > 0) ? (cpu[2] - cpu[1]) / wall * 100 : 0 }' "$1" "$2"
}

load_echo() {
  local d=$1 c=$2 port=$3 rc
  lg_prefix
  "${LG[@]}" "$LOADGEN" -p "$port" -c "$c" -s "$size" -d "$duration" -w "$warmup" -t "$lg_threads" \
      --json -q > "$d/loadgen.json" 2> "$d/loadgen.err"
  rc=$?
  awk -f "$here/jflat.awk" "$d/loadgen.json" > "$d/loadgen.flat"
  awk -F'\t' -v err="$(tail -n 1 "$d/loadgen.err")" '
    { f[$1] = $2 }
    END {
      if (!("requests" in f)) { print "first_error\tloadgen gave no result: " err; exit }
      print "requests\t" f["requests"]; print "served\t" f["requests"] + f["warmup_requests"]
      print "rps\t" f["requests_per_s"]; print "errors\t" f["errors"]
      print "p50_ms\t" f["latency_us/p50"] / 1000; print "p99_ms\t" f["latency_us/p99"] / 1000
      print "lg_cpu_pct\t" f["cpu_pct"]; if (f["first_error"] != "") print "first_error\t" f["first_error"]
    }' "$d/loadgen.flat" > "$d/load.flat"
  return $rc
}

# redis-benchmark's --csv: "TEST","rps","avg","min","p50","p95","p99","max"
load_kv() {
  local d=$1 level=$2 port=$3 c=${2%%p*} p=${2##*p} rc n wn w0 w1
  n=$kv_requests
  [[ $p -gt 1 ]] && n=$((n * 10))
  wn=$((n / 10))
  local rnd=()
  [[ $keyspace -gt 0 ]] && rnd=(-r "$keyspace")
  lg_prefix
  "${LG[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -c "$c" -P "$p" -n "$wn" "${rnd[@]}" \
      --csv > "$d/warmup.csv" 2> "$d/bench.err"
  rc=$?
  : > "$d/bench.csv"
  local cpu=0
  if [[ $rc == 0 ]]; then
    times > "$d/times0"; w0=$(date +%s.%N)
    "${LG[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -c "$c" -P "$p" -n "$n" "${rnd[@]}" \
        --csv > "$d/bench.csv" 2>> "$d/bench.err"
    rc=$?
    w1=$(date +%s.%N); times > "$d/times1"
    cpu=$(lg_cpu_pct "$d/times0" "$d/times1" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')")
  fi
  awk -F'","' -v n="$n" -v wn="$wn" -v cpu="$cpu" \
      -v err="$(grep -i -m1 'error' "$d/bench.err" "$d/bench.csv" 2>/dev/null | cut -d: -f2-)" '
    { gsub(/"/, "", $1); gsub(/"/, "", $NF) }
    $1 == "SET" { set_rps = $2; set_p99 = $7; seen++ }
    $1 == "GET" { get_rps = $2; get_p99 = $7; seen++ }
    END {
      if (seen != 2 || err != "") { print "first_error\tredis-benchmark: " (err != "" ? err : "no SET and GET results"); print "errors\t1" }
      else print "errors\t0"
      print "requests\t" 2 * n; print "served\t" 2 * (n + wn)
      print "set_rps\t" set_rps; print "get_rps\t" get_rps
      print "rps\t" (set_rps + get_rps > 0 ? 2 / (1 / set_rps + 1 / get_rps) : 0)
      print "set_p99_ms\t" set_p99; print "get_p99_ms\t" get_p99
      print "p99_ms\t" (set_p99 > get_p99 ? set_p99 : get_p99)
      print "lg_cpu_pct\t" cpu
    }' "$d/bench.csv" > "$d/load.flat"
  return $rc
}

# wrk's latency units: us, ms, s -> ms
load_http() {
  local d=$1 c=$2 port=$3 rc=0 cpu=0
  local url=http://127.0.0.1:$port/hello
  lg_prefix
  : > "$d/warmup.txt"
  if [[ $warmup -gt 0 ]]; then
    "${LG[@]}" wrk -t1 -c "$c" -d "${warmup}s" "$url" > "$d/warmup.txt" 2>&1
    rc=$?
  fi
  : > "$d/wrk.txt"
  if [[ $rc == 0 ]]; then
    times > "$d/times0"
    "${LG[@]}" wrk -t1 -c "$c" -d "${duration}s" --latency "$url" > "$d/wrk.txt" 2>&1
    rc=$?
    times > "$d/times1"
    cpu=$(lg_cpu_pct "$d/times0" "$d/times1" "$duration")
  fi
  awk -v cpu="$cpu" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    FNR == 1 { file++ }
    / requests in / { req[file] = $1 }
    file == 2 && /^ +50% / { p50 = ms($2) }
    file == 2 && /^ +99% / { p99 = ms($2) }
    file == 2 && /^Requests\/sec:/ { rps = $2 }
    /Non-2xx|Socket errors/ { err = err $0 "; " }
    END {
      if (req[2] == "") err = err "wrk gave no result"
      print "errors\t" (err == "" ? 0 : 1); if (err != "") print "first_error\twrk: " err
      print "requests\t" req[2] + 0; print "served\t" req[1] + req[2]
      print "rps\t" rps + 0; print "p50_ms\t" p50 + 0; print "p99_ms\t" p99 + 0
      print "lg_cpu_pct\t" cpu
    }' "$d/warmup.txt" "$d/wrk.txt" > "$d/load.flat"
  return $rc
}

# --- one run -------------------------------------------------------------------

run_one() {
  local model=$1 c=$2 rep=$3 dir=$out/runs/$1-c$2-r$3 reason
  rm -rf "$dir"; mkdir -p "$dir"
  reason=$(cannot_run "$model" "$c")
  if [[ -n $reason ]]; then
    say "  $model C=$c: not run: $reason"
    record "$model" "$c" "$rep" notrun "$reason"
    return
  fi
  if ! start_server "$model" "$dir"; then
    reason="server did not start: $(tail -n 1 "$dir/gtrace.txt" 2>/dev/null)"
    say "  $model C=$c: failed: $reason"
    record "$model" "$c" "$rep" failed "$reason"
    return
  fi
  local top=$TOP spid=$SPID port=$PORT i
  local idle_kb idle_vsz_kb idle_kern_kb idle_thr idle_pte_kb idle_socks
  idle_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status")
  idle_vsz_kb=$(awk '/^VmSize:/ {print $2}' "/proc/$spid/status")
  idle_thr=$(awk '/^Threads:/ {print $2}' "/proc/$spid/status")
  idle_pte_kb=$(awk '/^VmPTE:/ {print $2}' "/proc/$spid/status")
  idle_socks=$(find "/proc/$spid/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null | wc -l)
  idle_kern_kb=$(kernel_kb)
  sampler "$spid" "$dir/sample" &
  local samp=$!
  "load_$workload" "$dir" "$c" "$port"
  local lg_rc=$?
  local ticks hwm_kb vmpeak_kb
  ticks=$(cpu_ticks "$spid")
  hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$spid/status" 2>/dev/null)
  vmpeak_kb=$(awk '/^VmPeak:/ {print $2}' "/proc/$spid/status" 2>/dev/null)
  kill -TERM "$spid" 2>/dev/null
  for ((i = 0; i < 300; i++)); do kill -0 $top 2>/dev/null || break; sleep 0.1; done
  kill -KILL $top 2>/dev/null
  wait $top; local srv_rc=$?
  kill $samp 2>/dev/null; wait $samp 2>/dev/null
  local thr=0 rss=0 kern=0
  [[ -s $dir/sample ]] && read -r thr rss kern < "$dir/sample"

  local reqs errs
  reqs=$(jget "$dir/load.flat" requests)
  errs=$(jget "$dir/load.flat" errors)
  reason=
  if [[ -z $reqs ]]; then
    reason="the load generator gave no result (exit $lg_rc): $(jget "$dir/load.flat" first_error)"
  elif [[ $lg_rc != 0 || $errs != 0 ]]; then
    reason="load generator exit $lg_rc, $errs errors: $(jget "$dir/load.flat" first_error)"
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
  line=$(awk -F'\t' -v c="${c%%p*}" -v ticks="$ticks" \
      -v tck="$clk_tck" -v hwm="$hwm_kb" -v idle="$idle_kb" -v thr="$thr" -v rss="$rss" \
      -v vmpeak="$vmpeak_kb" -v idle_vsz="$idle_vsz_kb" -v kern="$kern" -v idle_kern="$idle_kern_kb" \
      -v idle_thr="$idle_thr" -v idle_pte="$idle_pte_kb" -v idle_socks="$idle_socks" \
      -v trace="$trace" -v model="$model" '
    FNR == NR { lg[$1] = $2; next }
    { gt[$1] = $2 }
    function per(x) { return sprintf("%.6g", x / total) }
    function kv(k, v) { printf "%s=%s\t", k, v }
    END {
      total = lg["served"]
      if (hwm < rss) hwm = rss
      kv("rps", lg["rps"]); kv("p50_ms", lg["p50_ms"]); kv("p99_ms", lg["p99_ms"])
      if ("set_rps" in lg) {
        kv("set_rps", lg["set_rps"]); kv("get_rps", lg["get_rps"])
        kv("set_p99_ms", lg["set_p99_ms"]); kv("get_p99_ms", lg["get_p99_ms"])
      }
      kv("requests", lg["requests"])
      kv("served", total); kv("errors", lg["errors"]); kv("lg_cpu_pct", lg["lg_cpu_pct"])
      kv("rss_peak_mb", sprintf("%.1f", hwm / 1024))
      kv("rss_per_conn_kb", sprintf("%.2f", (hwm - idle) / c))
      # the three parts of the memory of a connection: address space
      # reserved (the whole stack of a thread), resident (RSS above), and
      # the kernel part: what gtrace estimates for the server alone at its
      # peak (threads x (kernel stack + task_struct) + page tables +
      # sockets x their slab objects) over the same for the idle server;
      # and, JSON only, the machine-wide /proc/meminfo growth (KernelStack
      # + Slab + PageTables), a cross-check that other programs disturb
      if (vmpeak != "" && idle_vsz != "") kv("vsz_per_conn_kb", sprintf("%.2f", (vmpeak - idle_vsz) / c))
      if (kern > 0 && idle_kern > 0) kv("kern_meminfo_per_conn_kb", sprintf("%.2f", (kern - idle_kern) / c))
      kv("threads", thr)
      kv("cpu_us_per_req", sprintf("%.3f", ticks / tck * 1e6 / total))
      if (trace == 1 && ("summary/sched.voluntary" in gt)) {
        kv("vcsw_per_req", per(gt["summary/sched.voluntary"] + gt["summary/iow.voluntary"]))
        kv("ivcsw_per_req", per(gt["summary/sched.involuntary"] + gt["summary/iow.involuntary"]))
        kv("syscalls_per_req", per(gt["summary/syscalls.total"]))
        kv("uring_enters_per_req", per(gt["summary/syscalls.io_uring_enter"]))
        # the waits of an event loop: epoll_wait(2) and its variants
        waits = 0
        for (k in gt)
          if (k ~ /^syscalls\/[0-9]+\/name$/ && gt[k] ~ /^epoll_(wait|pwait|pwait2)$/) {
            n = k; sub(/name$/, "count", n); waits += gt[n]
          }
        kv("epoll_waits_per_req", per(waits))
        # gtrace default mode counts from the runtime own counters
        # (g.switches, every user-space switch); --goroutines adds the
        # per-event g.switches_to_goroutine.
        if ("summary/g.switches_to_goroutine" in gt)
          kv("gsw_per_req", per(gt["summary/g.switches_to_goroutine"]))
        else if ("summary/g.switches" in gt)
          kv("gsw_per_req", per(gt["summary/g.switches"]))
        kv("trace_s", gt["duration_s"])
        if ("summary/mem.kernel_peak_bytes" in gt) {
          ks = gt["summary/mem.kernel_stack_bytes"]; ts = gt["summary/mem.task_struct_bytes"]
          idle_k = idle_thr * (ks + ts) + idle_pte * 1024 + idle_socks * gt["summary/mem.socket_bytes"]
          kv("kern_per_conn_kb", sprintf("%.2f", (gt["summary/mem.kernel_peak_bytes"] - idle_k) / 1024 / c))
          kv("kstack_kb", ks / 1024)
          kv("task_struct_kb", sprintf("%.2f", ts / 1024))
          kv("socket_kb", sprintf("%.2f", gt["summary/mem.socket_bytes"] / 1024))
        }
      }
    }' "$dir/load.flat" "$g")
  local gov= eng=
  if [[ $model == greenrt* ]]; then
    gov=$(grep -o '[0-9]* of [0-9]* workers active' "$dir/gtrace.txt" | tail -n 1)
    gov=", CPU governor: ${gov:-every worker active}"
    # the engine the runtime says it ran (GR_DEBUG), never assumed
    eng=$(sed -n 's/^greenrt: I\/O engine \([a-z]*\) .*/\1/p' "$dir/gtrace.txt" | tail -n 1)
    gov+=", I/O engine ${eng:-not reported}"
    line+="engine=${eng:-unknown}"$'\t'
  fi
  record "$model" "$c" "$rep" ok "" "$line"
  local what
  if [[ $workload == kv ]]; then
    what="$(jget "$dir/load.flat" set_rps) SET/s, $(jget "$dir/load.flat" get_rps) GET/s"
  else
    what="$(jget "$dir/load.flat" rps) req/s"
  fi
  say "$(printf '  %-8s C=%-6s run %s: %s, p99 %s ms%s' "$model" "$c" "$rep" "$what" \
      "$(awk -v x="$(jget "$dir/load.flat" p99_ms)" 'BEGIN{printf "%.2f", x}')" "$gov")"
}

# why_one MODEL LEVEL: one more run under gtrace --offcpu --counters, its
# stacks folded and drawn, for the "where they wait" section (why.awk)
why_one() {
  local model=$1 c=$2 dir=$out/why/$1-c$2 reason
  rm -rf "$dir"; mkdir -p "$dir"
  reason=$(cannot_run "$model" "$c")
  if [[ -n $reason ]]; then say "  $model C=$c (--why): not run: $reason"; return; fi
  GT_EXTRA=(--offcpu --counters --folded "$dir/offcpu.folded" --flamegraph "$dir/offcpu.svg")
  if ! start_server "$model" "$dir"; then
    GT_EXTRA=()
    say "  $model C=$c (--why): the server did not start: $(tail -n 1 "$dir/gtrace.txt" 2>/dev/null)"
    return
  fi
  GT_EXTRA=()
  local top=$TOP i
  "load_$workload" "$dir" "$c" "$PORT"
  kill -TERM "$SPID" 2>/dev/null
  for ((i = 0; i < 300; i++)); do kill -0 $top 2>/dev/null || break; sleep 0.1; done
  kill -KILL $top 2>/dev/null
  wait $top 2>/dev/null
  awk -f "$here/jflat.awk" "$dir/gtrace.json" > "$dir/gtrace.flat" 2>/dev/null
  say "$(printf '  %-8s C=%-6s --why: %s req/s traced with --offcpu --counters' "$model" "$c" "$(jget "$dir/load.flat" rps)")"
}

cleanup() {
  local j
  for j in $(jobs -p); do kill -TERM "$j" 2>/dev/null; done
  wait 2>/dev/null
}
trap 'cleanup; exit 130' INT TERM

case $workload in
  kv) plan="redis-benchmark -t set,get, $kv_requests requests per test (x10 pipelined) after a tenth as warm-up" ;;
  *) plan="${warmup} s warm-up + ${duration} s per run" ;;
esac
case $workload in kv) lgname=redis-benchmark ;; http) lgname=wrk ;; *) lgname=loadgen ;; esac
say "$prog: $workload; models ${model_list[*]}; levels ${level_list[*]}; $plan, $repeats repeat(s)$([[ $pin == 1 ]] && echo ", pinned (server CPU 0, $lgname CPU 1)")$([[ $trace == 0 ]] && echo ', untraced')"
for c in "${level_list[@]}"; do
  for ((rep = 1; rep <= repeats; rep++)); do
    for m in "${model_list[@]}"; do
      run_one "$m" "$c" "$rep"
    done
  done
done

if [[ $why == 1 ]]; then
  for c in "${level_list[@]}"; do
    for m in "${model_list[@]}"; do why_one "$m" "$c"; done
  done
fi

config="workload=$workload models=$models levels=$levels duration=$duration warmup=$warmup repeats=$repeats size=$size lg_threads=$lg_threads pin=$pin trace=$trace why=$why cpus=$(nproc)"
[[ $workload == kv ]] && config+=" pipelines=$pipelines requests=$kv_requests keyspace=$keyspace"
all_levels=$(IFS=,; echo "${level_list[*]}")
awk -v outdir="$out" -v demo="$demo" -v config="$config" -v models="$models" \
    -v levels="$all_levels" -v workload="$workload" -f "$here/report.awk" "$tsv" || exit 1
rm -f "$out/why.html"
if [[ $why == 1 ]]; then
  why_files=()
  for c in "${level_list[@]}"; do
    for m in "${model_list[@]}"; do
      for f in offcpu.folded gtrace.flat load.flat; do
        [[ -s $out/why/$m-c$c/$f ]] && why_files+=("$out/why/$m-c$c/$f")
      done
    done
  done
  awk -v outdir="$out" -v models="$models" -v levels="$all_levels" -f "$here/why.awk" \
      "${why_files[@]}" /dev/null || exit 1
fi
if [[ $html == 1 ]]; then
  bash "$here/html.sh" "$out" || echo "$prog: report.html not written (see above)" >&2
fi
say "$prog: raw figures in $out/results.json$([[ $html == 1 ]] && echo ", report in $out/report.html")"
# exit 1 when a run failed (not when a level could not run here)
! grep -q $'\tstatus=failed\t' "$tsv"
