#!/usr/bin/env bash
# kv_test.sh SERVER: a kv server (kv_threads or kv_greenrt) serves
# redis-benchmark (every command kv has, pipelined or not, 50 and 500
# connections) with no error; refuses oversized requests with Redis's
# error and a close, and keeps serving; leaks no fd; exits 0 on SIGTERM.
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
srv=$1
need_bin tests/examples/kv_probe
[[ $srv == *greenrt* ]] && need_bin "$srv" skip || need_bin "$srv"
need_cmd redis-benchmark redis-tools
need_cmd redis-cli redis-tools
PROBE=$BUILD/tests/examples/kv_probe

start_server "$srv"
base=$(fd_count)

# bench ARGS...: redis-benchmark must run every test in -t and report no error
bench() {
  local tests=$1; shift
  local out rc
  out=$(timeout 120 redis-benchmark -p "$SRV_PORT" -t "$tests" --csv "$@" 2>&1); rc=$?
  local want got
  want=$(tr ',' '\n' <<<"$tests" | wc -l)
  got=$(grep -Ec '^"[^"]+","[0-9.]+"' <<<"$out")
  if [[ $rc != 0 ]] || grep -qi 'error' <<<"$out" || ((got < want)); then
    echo "$out" | tail -n 20
    die "redis-benchmark -t $tests $* failed (exit $rc, $got of $want results)"
  fi
  echo "redis-benchmark -t $tests $*: $(awk -F'"' 'NR > 1 { printf "%s %s/s  ", $2, $4 }' <<<"$out")"
}
all=ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,lrange_100,mset
bench "$all" -n 20000 -c 50
bench "$all" -n 50000 -c 50 -P 16
bench set,get -n 20000 -c 500 -r 100000 -d 100
bench set,get -n 50000 -c 500 -r 100000 -d 1000 -P 16
alive

# limits: an argument over the bulk limit, a request over the size limit
printf '*1\r\n$16777217\r\n' | timeout 30 "$PROBE" raw "$SRV_PORT" 2>>"$TMP/probe.err" >"$TMP/big_bulk" \
  || die "no answer to an oversized bulk length"
[[ $(cat "$TMP/big_bulk") == $'-ERR Protocol error: invalid bulk length\r' ]] \
  || die "oversized bulk: got '$(cat "$TMP/big_bulk")'"
{ printf '*3\r\n$3\r\nSET\r\n$16777216\r\n'; head -c 16777216 /dev/zero; printf '\r\n$16777216\r\n'; } \
  | timeout 60 "$PROBE" raw "$SRV_PORT" 2>>"$TMP/probe.err" >"$TMP/big_req" || die "no answer to an oversized request"
[[ $(cat "$TMP/big_req") == $'-ERR Protocol error: request too large\r' ]] \
  || die "oversized request: got '$(head -c 200 "$TMP/big_req")'"
# the biggest allowed argument is stored and read back whole
head -c 16777216 /dev/urandom >"$TMP/v16m"
timeout 60 redis-cli -p "$SRV_PORT" -x SET big <"$TMP/v16m" >/dev/null || die "SET of a 16 MiB value failed"
timeout 60 redis-cli -p "$SRV_PORT" --raw GET big | head -c 16777216 >"$TMP/v16m.back"
cmp -s "$TMP/v16m" "$TMP/v16m.back" || die "a 16 MiB value did not come back whole"
echo "limits ok: oversized argument and request refused, 16 MiB value round-trips"
# an inline line without end and a too long count line
{ head -c 70000 /dev/zero | tr '\0' a; } | timeout 30 "$PROBE" raw "$SRV_PORT" 2>>"$TMP/probe.err" >"$TMP/inl" \
  || die "no answer to a 70,000-byte inline line"
[[ $(cat "$TMP/inl") == $'-ERR Protocol error: too big inline request\r' ]] || die "long inline: got '$(cat "$TMP/inl")'"
printf 'PING\r\nQUIT\r\nPING\r\n' | timeout 30 "$PROBE" raw "$SRV_PORT" 2>>"$TMP/probe.err" >"$TMP/quit" || die "QUIT did not close"
[[ $(tr -d '\r' <"$TMP/quit" | tr '\n' ' ') == '+PONG +OK ' ]] || die "QUIT: got '$(cat "$TMP/quit")'"

wait_fds "$base"
alive
[[ $(timeout 10 redis-cli -p "$SRV_PORT" PING) == PONG ]] || die "not serving after the tests"

# shutdown with live connections: the server drains them and exits 0
timeout 60 "$PROBE" load "$SRV_PORT" 30 30 2 >"$TMP/load.out" 2>&1 &
BG_PIDS+=($!)
for ((i = 0; i < 50; i++)); do
  (( $(fd_count) >= base + 30 )) && break
  sleep 0.1
done
(( $(fd_count) >= base + 30 )) || die "kv_probe's 30 connections never showed up in the server"
stop_server
echo "PASS $srv"
