#!/usr/bin/env bash
# test_seccomp.sh: where a seccomp filter refuses io_uring (as Docker's
# default profile does: deny_uring.c), a greenrt server starts on the
# epoll engine (GR_ENGINE=auto, the default) and serves closed- and
# open-loop echo load with every byte verified, then stops cleanly;
# GR_ENGINE=uring fails at start and says why; without the filter, auto
# takes io_uring (where this kernel has it).
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
need_bin loadgen
need_bin echo_greenrt skip
need_bin tests/engine/deny_uring
DENY=$BUILD/tests/engine/deny_uring

# The filter can be installed here (77: it cannot, say why and skip).
"$DENY" true
rc=$?
[[ $rc == 77 ]] && { echo "SKIP: no seccomp filter can be installed here"; exit 77; }
[[ $rc == 0 ]] || die "deny_uring true exited $rc"

# 1. auto, io_uring refused: the epoll engine, serving.
export GR_DEBUG=1
SRV_WRAP=$DENY start_server echo_greenrt
want='greenrt: I/O engine epoll (GR_ENGINE=auto: io_uring_setup failed: Operation not permitted)'
grep -qF "$want" "$TMP/srv.err" || { cat "$TMP/srv.err"; die "no '$want' on the server's stderr"; }
echo "under the filter: $want"
echo_load
stop_server

# 2. uring, io_uring refused: gr_run fails at start, with the reason.
out=$(GR_ENGINE=uring timeout 20 "$DENY" "$BUILD/echo_greenrt" --host 127.0.0.1 --port 0 2>&1)
rc=$?
[[ $rc != 0 && $rc != 124 ]] || { echo "$out"; die "GR_ENGINE=uring under the filter exited $rc, want a start failure"; }
want='greenrt: cannot create an io_uring (Operation not permitted): GR_ENGINE=uring needs io_uring'
grep -qF "$want" <<<"$out" || { echo "$out"; die "no '$want' in its output"; }
grep -q 'cannot start the greenrt runtime: Operation not permitted' <<<"$out" ||
  { echo "$out"; die "gr_run's -EPERM not reported"; }
echo "GR_ENGINE=uring under the filter: exit $rc, '$want...'"

# 3. auto without the filter: io_uring where the kernel lets us have it.
start_server echo_greenrt
if grep -qF 'I/O engine uring (GR_ENGINE=auto' "$TMP/srv.err"; then
  echo "without the filter: $(grep -F 'I/O engine' "$TMP/srv.err")"
else
  echo "without the filter io_uring does not work here either: $(grep -F 'I/O engine' "$TMP/srv.err")"
fi
run_loadgen --proto echo -c 20 -d 1
stop_server
echo "PASS test_seccomp"
