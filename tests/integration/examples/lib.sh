# lib.sh - helpers for the example-server tests (sourced, not run).
# Starting a server on port 0, reading its "listening on" line, counting
# its fds, and stopping it with SIGTERM (exit status must be 0).

BUILD=${BUILD:-build}
TMP=$(mktemp -d /tmp/gr-examples.XXXXXX)
SRV_PID=
BG_PIDS=()

cleanup() {
  for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
  if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then kill -KILL "$SRV_PID"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

die() { echo "FAIL: $*"; exit 1; }

need_bin() {   # need_bin NAME [skip-if-missing]
  if [[ ! -x $BUILD/$1 ]]; then
    if [[ ${2:-} == skip ]]; then
      echo "SKIP: $BUILD/$1 was not built (greenrt runtime missing or failing to build)"
      exit 77
    fi
    die "$BUILD/$1 is missing: run make first"
  fi
}

# start_server BIN ARGS...: sets SRV_PID and SRV_PORT.  SRV_WRAP, if set,
# is a launcher the server runs under (its path; it must exec the server,
# so that SRV_PID is the server's).
start_server() {
  local bin=$1; shift
  rm -f "$TMP/srv.out" "$TMP/srv.err"   # a test may start several: no stale port
  ${SRV_WRAP:+"$SRV_WRAP"} "$BUILD/$bin" --host 127.0.0.1 --port 0 "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
  SRV_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    SRV_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/srv.out" 2>/dev/null)
    [[ -n $SRV_PORT ]] && { echo "$bin listening on port $SRV_PORT (pid $SRV_PID)"; return 0; }
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$TMP/srv.err"; die "$bin exited at start"; }
    sleep 0.1
  done
  die "$bin did not print 'listening on' within 10 s"
}

fd_count() { ls "/proc/$SRV_PID/fd" | wc -l; }

# wait_fds N: the server's fd count comes back to N within 10 s
wait_fds() {
  local want=$1 i n
  for ((i = 0; i < 100; i++)); do
    n=$(fd_count)
    ((n <= want)) && { echo "fds back to $n (baseline $want)"; return 0; }
    sleep 0.1
  done
  ls -l "/proc/$SRV_PID/fd"
  die "fd leak: server has $n fds, baseline $want"
}

alive() { kill -0 "$SRV_PID" 2>/dev/null || { cat "$TMP/srv.err"; die "server died"; }; }

# run_loadgen ARGS...: loadgen must exit 0 with zero errors and requests > 0
run_loadgen() {
  local out
  out=$("$BUILD/loadgen" --port "$SRV_PORT" --json --quiet "$@") || {
    echo "$out"; die "loadgen $* failed"; }
  echo "loadgen $*: $out" | cut -c1-400
  local errors requests
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$out")
  requests=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$out")
  [[ $errors == 0 ]] || die "loadgen reported $errors errors"
  ((requests > 0)) || die "loadgen completed no requests"
}

# echo_load: the echo servers' load - closed loop, large messages, open
# loop - each verified, then no descriptor left and the server alive
echo_load() {
  local base
  base=$(fd_count)
  run_loadgen --proto echo -c 50 -d 2
  run_loadgen --proto echo -c 20 --size 3000 -d 1
  run_loadgen --proto echo -c 20 --rate 2000 -d 1
  wait_fds "$base"
  alive
}

# stop_server [SECONDS]: SIGTERM; the server must exit 0 within SECONDS
# (default 10)
stop_server() {
  local limit=${1:-10} i
  kill -TERM "$SRV_PID"
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$SRV_PID" 2>/dev/null && die "server still running $limit s after SIGTERM"
  local rc=0
  wait "$SRV_PID" || rc=$?
  SRV_PID=
  [[ $rc == 0 ]] || { cat "$TMP/srv.err"; die "server exited $rc after SIGTERM, want 0"; }
  echo "server exited 0 after SIGTERM"
}

# --- real servers: redis-server, nginx -----------------------------------
# They take a port number, not port 0: pick one outside the ephemeral range
# (so no port-0 bind of another test can hold it) at random, and retry on
# another if the server cannot bind it.

# need_cmd CMD PACKAGE: exit 77 (skip) with the reason if CMD is missing
need_cmd() {
  command -v "$1" >/dev/null && return 0
  echo "SKIP: $1 is not installed (Debian package $2; make deps installs it)"
  exit 77
}

random_port() { echo $((20000 + RANDOM % 12000)); }

# start_redis: a redis-server with no persistence on a free port; sets
# REDIS_PID and REDIS_PORT.  Stopped by cleanup.
REDIS_PID=
start_redis() {
  local try p i
  mkdir -p "$TMP/redis"
  for ((try = 0; try < 20; try++)); do
    p=$(random_port)
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TMP/redis" --logfile "$TMP/redis/redis.log" --daemonize no &
    REDIS_PID=$!
    BG_PIDS+=("$REDIS_PID")
    for ((i = 0; i < 100; i++)); do
      kill -0 "$REDIS_PID" 2>/dev/null || break
      if grep -q 'Ready to accept connections' "$TMP/redis/redis.log" 2>/dev/null; then
        REDIS_PORT=$p
        echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') listening on port $p (pid $REDIS_PID)"
        return 0
      fi
      sleep 0.1
    done
    kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null
    : > "$TMP/redis/redis.log"
  done
  die "redis-server did not start on any of 20 ports; last log: $(tail -n 3 "$TMP/redis/redis.log")"
}
