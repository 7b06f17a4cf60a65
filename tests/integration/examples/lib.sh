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

# start_server BIN ARGS...: sets SRV_PID and SRV_PORT
start_server() {
  local bin=$1; shift
  "$BUILD/$bin" --host 127.0.0.1 --port 0 "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
  SRV_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    SRV_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/srv.out")
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

# stop_server: SIGTERM, the server must exit 0 within 10 s
stop_server() {
  kill -TERM "$SRV_PID"
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$SRV_PID" 2>/dev/null && die "server still running 10 s after SIGTERM"
  local rc=0
  wait "$SRV_PID" || rc=$?
  SRV_PID=
  [[ $rc == 0 ]] || { cat "$TMP/srv.err"; die "server exited $rc after SIGTERM, want 0"; }
  echo "server exited 0 after SIGTERM"
}
