#!/usr/bin/env bash
# shutdown_test.sh SERVER: graceful shutdown and per-request deadlines of
# a request-based server (kv_threads, kv_greenrt, http_threads,
# http_greenrt), with real clients:
#   1. SIGTERM in the middle of a load (a checking probe pipelining on 40
#      connections, plus redis-benchmark or wrk): every reply a client
#      received is complete (none torn, none wrong), the server exits 0,
#      no fd is left (the process is gone) and, for greenrt, no goroutine
#      (gr_stats live = 0, which the server checks and reports);
#   2. a request in flight when SIGTERM comes (half of it sent) is
#      finished and answered, then the connection closed, while an idle
#      connection is closed at once;
#   3. a request that never completes is cut off when the grace period
#      (--grace 1) ends, and the server still exits 0;
#   4. silent clients (--idle-timeout) and slow ones (--read-timeout) are
#      cut off while other clients are served, with one worker (GR_PROCS=1
#      for greenrt: a waiting client holds no worker), and their fds go.
# Liveness is asserted with generous bounds; no duration is asserted.
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
srv=$1
need_bin tests/examples/kv_probe
need_bin tests/examples/http_probe
[[ $srv == *greenrt* ]] && need_bin "$srv" skip || need_bin "$srv"
PROBE=$BUILD/tests/examples/kv_probe
case $srv in
  kv_*) svc=kv; need_cmd redis-benchmark redis-tools; need_cmd redis-cli redis-tools ;;
  http_*) svc=http; need_cmd wrk wrk; need_cmd curl curl ;;
  *) die "unknown server $srv" ;;
esac

# One request in pieces: the first CUT bytes, then the rest.
if [[ $svc == kv ]]; then
  printf '*3\r\n$3\r\nSET\r\n$5\r\nfirst\r\n$5\r\nhe' >"$TMP/part1"
  printf 'llo\r\n' >"$TMP/part2"
  want_reply=$'+OK\r'
else
  printf 'GET /hello HTTP/1.1\r\nHo' >"$TMP/part1"
  printf 'st: x\r\n\r\n' >"$TMP/part2"
  want_reply='Hello, world!'
fi
cat "$TMP/part1" "$TMP/part2" >"$TMP/whole"
cut=$(wc -c <"$TMP/part1")

# served PROG ARGS: a normal request still gets its answer
served() {
  if [[ $svc == kv ]]; then
    [[ $(timeout 10 redis-cli -p "$SRV_PORT" PING 2>&1) == PONG ]]
  else
    [[ $(curl -sS --max-time 10 "http://127.0.0.1:$SRV_PORT/hello" 2>&1) == "Hello, world!" ]]
  fi
}

# wait_sent FILE: the probe has sent its first piece and the server has
# read it (the server side's receive queue is empty), so the connection
# is no longer idle but in the middle of a request
wait_sent() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "^sent $cut\$" "$1" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "^sent $cut\$" "$1" || die "the probe never sent the first part of its request: $(cat "$1")"
  for ((i = 0; i < 100; i++)); do
    ss -Htn state established "sport = :$SRV_PORT" | awk '$1 != 0 { q = 1 } END { exit q }' && break
    sleep 0.1
  done
  sleep 0.5
}

# stop_within S: SIGTERM; the server exits 0 within S seconds, says how
# it drained and, for greenrt, that no goroutine was left behind
stop_within() {
  stop_server "$1"
  cat "$TMP/srv.err"
  grep -q 'shut down:' "$TMP/srv.err" || die "no shutdown summary on stderr"
  if [[ $srv == *greenrt ]]; then
    grep -q 'no goroutine left' "$TMP/srv.err" || die "goroutines were left behind"
  fi
}

echo "* 1. SIGTERM during a load"
start_server "$srv" --grace 10
base=$(fd_count)
if [[ $svc == kv ]]; then
  timeout 60 "$PROBE" load "$SRV_PORT" 40 30 8 >"$TMP/load.out" 2>&1 &
  lp=$!
  timeout 60 redis-benchmark -p "$SRV_PORT" -t set,get -c 20 -n 100000000 -P 4 -q \
    >"$TMP/client.out" 2>&1 &
else
  timeout 60 "$BUILD/tests/examples/http_probe" load "$SRV_PORT" 40 30 8 >"$TMP/load.out" 2>&1 &
  lp=$!
  timeout 60 wrk -t1 -c20 -d30 "http://127.0.0.1:$SRV_PORT/hello" >"$TMP/client.out" 2>&1 &
fi
cp=$!
BG_PIDS+=("$lp" "$cp")
for ((i = 0; i < 100; i++)); do
  (( $(fd_count) >= base + 60 )) && break
  sleep 0.1
done
(( $(fd_count) >= base + 60 )) || die "the 60 client connections never showed up in the server"
sleep 1
stop_within 30
wait "$lp"; lrc=$?
kill "$cp" 2>/dev/null; wait "$cp" 2>/dev/null
cat "$TMP/load.out"
[[ $lrc == 0 ]] || die "the probe saw torn or wrong replies (exit $lrc)"
grep -q ' torn=0 wrong=0 ' "$TMP/load.out" || die "the probe's counts are missing"
grep -Eq '^(replies|responses)=[1-9]' "$TMP/load.out" || die "the probe got no reply at all"
grep -qi 'protocol error\|invalid' "$TMP/client.out" && die "the client saw a malformed reply: $(grep -i 'protocol error\|invalid' "$TMP/client.out" | head -n 3)"
echo "ok: no torn reply, exit 0"

echo "* 2. a request in flight finishes, an idle connection closes"
start_server "$srv" --grace 10
timeout 30 "$PROBE" raw "$SRV_PORT" "$cut" 2000000 <"$TMP/whole" >"$TMP/inflight.out" 2>"$TMP/inflight.err" &
ip=$!
timeout 30 "$PROBE" raw "$SRV_PORT" </dev/null >"$TMP/idle.out" 2>"$TMP/idle.err" &
dp=$!
BG_PIDS+=("$ip" "$dp")
wait_sent "$TMP/inflight.err"
stop_within 30
wait "$ip" || die "the in-flight request's connection: probe exit $? ($(cat "$TMP/inflight.err"))"
wait "$dp" || die "the idle connection was not closed (probe exit $?)"
grep -q "$want_reply" "$TMP/inflight.out" || die "the request in flight got no answer: '$(cat "$TMP/inflight.out")'"
[[ ! -s $TMP/idle.out ]] || die "the idle connection received '$(cat "$TMP/idle.out")'"
grep -q '1 idle connections closed, 1 finished their requests, 0 cut off' "$TMP/srv.err" \
  || die "the summary does not say 1 idle closed, 1 finished, 0 cut off"
echo "ok: answered, then closed; the idle one closed at once"

echo "* 3. the grace period ends a request that never completes"
start_server "$srv" --grace 1 --read-timeout 60000
timeout 60 "$PROBE" raw "$SRV_PORT" "$cut" 40000000 <"$TMP/whole" >"$TMP/stuck.out" 2>"$TMP/stuck.err" &
sp=$!
BG_PIDS+=("$sp")
wait_sent "$TMP/stuck.err"
stop_within 30
wait "$sp" || die "the stuck connection was not closed by the server (probe exit $?)"
grep -q '0 finished their requests, 1 cut off after the 1000 ms grace period' "$TMP/srv.err" \
  || die "the summary does not say 1 cut off"
echo "ok: cut off at the end of the grace period, exit 0"

echo "* 4. deadlines: silent and slow clients are cut off, others served"
if [[ $srv == *greenrt ]]; then export GR_PROCS=1; fi
start_server "$srv" --read-timeout 1000 --idle-timeout 2000
unset GR_PROCS
base=$(fd_count)
pids=()
for ((i = 0; i < 20; i++)); do
  timeout 60 "$PROBE" raw "$SRV_PORT" </dev/null >"$TMP/silent$i.out" 2>/dev/null &
  pids+=($!)
  timeout 60 "$PROBE" raw "$SRV_PORT" "$cut" 40000000 <"$TMP/whole" >"$TMP/slow$i.out" 2>/dev/null &
  pids+=($!)
done
BG_PIDS+=("${pids[@]}")
for ((i = 0; i < 100; i++)); do
  (( $(fd_count) >= base + 40 )) && break
  sleep 0.1
done
(( $(fd_count) >= base + 40 )) || die "the 40 waiting clients never showed up in the server"
served || die "not serving while 40 clients wait"
for p in "${pids[@]}"; do
  wait "$p" || die "a silent or slow client was not cut off (probe exit $?)"
done
for ((i = 0; i < 20; i++)); do
  [[ ! -s $TMP/silent$i.out && ! -s $TMP/slow$i.out ]] || die "a cut-off client received a reply"
done
wait_fds "$base"
served || die "not serving after cutting the clients off"
echo "ok: 20 silent and 20 slow clients cut off, others served"
stop_within 30
echo "PASS $srv"
