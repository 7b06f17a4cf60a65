#!/usr/bin/env bash
# echo_test.sh SERVER: an echo server (echo_threads or echo_greenrt) answers
# closed- and open-loop load with every byte verified, leaks no fd, and
# exits 0 on SIGTERM while connections are open.
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
srv=$1
need_bin loadgen
[[ $srv == *greenrt* ]] && need_bin "$srv" skip || need_bin "$srv"

start_server "$srv"
base=$(fd_count) # for the drain check below
echo_load

# shutdown with live connections: the server drains them and exits 0
"$BUILD/loadgen" --port "$SRV_PORT" -c 30 -d 30 --quiet >/dev/null 2>&1 &
BG_PIDS+=($!)
for ((i = 0; i < 50; i++)); do
  (( $(fd_count) >= base + 30 )) && break
  sleep 0.1
done
(( $(fd_count) >= base + 30 )) || die "loadgen's 30 connections never showed up in the server"
stop_server
echo "PASS $srv"
