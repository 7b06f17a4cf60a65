#!/usr/bin/env bash
# http_clients.sh: the HTTP servers (http_threads, then http_greenrt) with
# the clients people use: wrk with keep-alive connections on /hello, wrk
# pipelining 16 requests per write, wrk and curl fetching a 1 MiB file
# (curl's copy compared byte for byte), curl reusing one connection, and
# curl sending a bad request with a 1 MiB body, which must get its 400
# (the server drains the body it will not read before closing: the
# lingering close).  No timing is asserted: only that every response was
# a good one.
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
need_cmd wrk wrk
need_cmd curl curl
need_bin http_threads

root=$TMP/root
mkdir -p "$root"
head -c 1048576 /dev/urandom >"$root/1m.bin"
head -c 1048576 /dev/urandom >"$TMP/body.bin"

# wrk_ok LABEL ARGS...: wrk ran, counted requests, and saw no error
wrk_ok() {
  local label=$1; shift
  local out
  out=$(timeout 60 wrk "$@" 2>&1) || { echo "$out"; die "wrk $label failed"; }
  local reqs
  reqs=$(sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p' <<<"$out")
  [[ -n $reqs && $reqs -gt 0 ]] || { echo "$out"; die "wrk $label: no request completed"; }
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "$out"
    die "wrk $label: errors or non-2xx responses"
  fi
  echo "wrk $label: $reqs requests, $(sed -n 's/^Requests\/sec: *//p' <<<"$out") req/s, no error"
}

for srv in http_threads http_greenrt; do
  if [[ $srv == http_greenrt && ! -x $BUILD/http_greenrt ]]; then
    echo "note: $BUILD/http_greenrt not built, skipping it"
    continue
  fi
  start_server "$srv" --root "$root"
  url=http://127.0.0.1:$SRV_PORT
  wrk_ok "keep-alive /hello" -t1 -c50 -d2 "$url/hello"
  wrk_ok "pipelined x16 /hello" -t1 -c20 -d2 -s tests/integration/examples/http_pipeline.lua "$url/hello"
  wrk_ok "1 MiB file" -t1 -c4 -d2 "$url/1m.bin"

  curl -sS --max-time 20 -o "$TMP/1m.out" "$url/1m.bin" || die "$srv: curl of the 1 MiB file failed"
  cmp -s "$TMP/1m.out" "$root/1m.bin" || die "$srv: the 1 MiB file came back different"
  reuse=$(curl -sv --max-time 20 -o /dev/null -o /dev/null "$url/1m.bin" "$url/hello" 2>&1)
  grep -qi 're-using existing connection' <<<"$reuse" || die "$srv: curl did not keep the connection alive after a 1 MiB response"
  code=$(curl -sS --max-time 20 -o "$TMP/bad.out" -w '%{http_code}' -H 'Content-Length: abc' \
      --data-binary @"$TMP/body.bin" "$url/hello") || die "$srv: curl saw an error instead of the 400 (exit $?)"
  [[ $code == 400 ]] || die "$srv: a bad Content-Length got $code, want 400"
  grep -q '^400 Bad Request' "$TMP/bad.out" || die "$srv: the 400 had no body"
  echo "curl: 1 MiB file intact, keep-alive reused, bad request with a 1 MiB body answered 400"
  alive
  stop_server
done
echo "PASS http_clients"
