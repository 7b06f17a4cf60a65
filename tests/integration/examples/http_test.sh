#!/usr/bin/env bash
# http_test.sh SERVER: an HTTP server (http_threads or http_greenrt) serves
# loadgen and curl, answers malformed, oversized, traversal, pipelined and
# reset connections correctly (http_probe), leaks no fd, keeps serving,
# and exits 0 on SIGTERM.
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
srv=$1
need_bin loadgen
need_bin tests/examples/http_probe
[[ $srv == *greenrt* ]] && need_bin "$srv" skip || need_bin "$srv"
command -v curl >/dev/null || die "curl is missing (make deps)"

root=$TMP/root
mkdir -p "$root/sub" "$TMP/outside"
printf 'hello file\n' >"$root/hello.txt"
printf 'inner\n' >"$root/sub/inner.txt"
head -c 300000 /dev/urandom >"$root/big.bin"
printf 'SECRET\n' >"$TMP/secret.txt"
printf 'SECRET\n' >"$TMP/outside/secret.txt"
ln -s hello.txt "$root/inside"
ln -s "$TMP/outside" "$root/escape"
ln -s "$TMP/secret.txt" "$root/secretlink"

start_server "$srv" --root "$root"
base=$(fd_count)
url=http://127.0.0.1:$SRV_PORT

run_loadgen --proto http --path /hello -c 50 -d 2
run_loadgen --proto http --path /hello.txt -c 10 --rate 1000 -d 1
run_loadgen --proto http --path /big.bin -c 4 -d 1

# curl: bodies, HEAD, 404, traversal, keep-alive reuse
[[ $(curl -sS --max-time 5 "$url/hello") == "Hello, world!" ]] || die "curl /hello"
curl -sS --max-time 5 -o "$TMP/big.out" "$url/big.bin" || die "curl /big.bin"
cmp -s "$TMP/big.out" "$root/big.bin" || die "curl /big.bin: content differs"
head=$(curl -sS --max-time 5 -I "$url/big.bin") || die "curl -I"
grep -qi '^content-length: 300000' <<<"$head" || die "HEAD: wrong Content-Length: $head"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$url/nope")
[[ $code == 404 ]] || die "curl /nope gave $code, want 404"
code=$(curl -s --max-time 5 --path-as-is -o /dev/null -w '%{http_code}' "$url/../secret.txt")
[[ $code == 403 || $code == 404 ]] || die "curl traversal gave $code"
reuse=$(curl -sv --max-time 5 "$url/hello" "$url/hello.txt" 2>&1 >/dev/null)
grep -qi 're-using existing connection' <<<"$reuse" || die "curl did not reuse the keep-alive connection"
echo "curl checks ok"

"$BUILD/tests/examples/http_probe" "$SRV_PORT" || die "http_probe reported failures"
wait_fds "$base"
alive
[[ $(curl -sS --max-time 5 "$url/hello") == "Hello, world!" ]] || die "not serving after the probes"
stop_server
echo "PASS $srv"
