#!/usr/bin/env bash
# test_compare_services.sh - compare.sh's kv and http workloads at small
# scale (kv: C=20, -P 1 and 4, 3,000 requests per test; http: C=20, 2 s),
# every server traced by gtrace: each model ran and answered without an
# error, the reference servers (redis-server, nginx) were started on free
# ports and stopped cleanly, the tables have their rows and the
# comparison with the reference server, and the kernel's counts are real.
# Timing is never asserted.  Exit 0 pass, 1 fail, 77 skip (not root, no
# BTF, a reference server or client missing).
set -u
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1

if [[ $(id -u) != 0 ]]; then echo "skip: gtrace needs root (eBPF)"; exit 77; fi
if [[ ! -r /sys/kernel/btf/vmlinux ]]; then echo "skip: the kernel has no BTF (/sys/kernel/btf/vmlinux), gtrace cannot run"; exit 77; fi
for c in redis-server:redis-server redis-benchmark:redis-tools nginx:nginx-light wrk:wrk; do
  command -v "${c%%:*}" >/dev/null || [[ -x /usr/sbin/${c%%:*} ]] \
    || { echo "skip: ${c%%:*} is not installed (Debian package ${c#*:}; make deps installs it)"; exit 77; }
done
for b in gtrace kv_greenrt kv_threads http_greenrt http_threads; do
  [[ -x $BUILD/$b ]] || { echo "FAIL: $BUILD/$b is not built (run make)"; exit 1; }
done

out=$(mktemp -d /tmp/test_compare_services.XXXXXX) || exit 1
trap 'rm -rf "$out"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# fig DIR MODEL LEVEL KEY: one figure of one run (from runs.tsv)
fig() {
  awk -F'\t' -v m="$2" -v l="$3" -v k="$4" '
    { delete f; for (i = 1; i <= NF; i++) { e = index($i, "="); f[substr($i, 1, e - 1)] = substr($i, e + 1) } }
    f["model"] == m && f["level"] == l { print (k in f) ? f[k] : "missing"; exit }' "$1/runs.tsv"
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

check() {  # check WORKLOAD DIR LEVEL MODELS... : every run ok, real counts, exit 0
  local w=$1 d=$2 l=$3 m; shift 3
  for m in "$@"; do
    [[ $(fig "$d" "$m" "$l" status) == ok ]] || { fail "$w $m $l: $(fig "$d" "$m" "$l" status): $(fig "$d" "$m" "$l" reason)"; continue; }
    gt "$(fig "$d" "$m" "$l" requests)" 100 || fail "$w $m $l: only $(fig "$d" "$m" "$l" requests) requests measured"
    gt "$(fig "$d" "$m" "$l" syscalls_per_req)" 0 || fail "$w $m $l: gtrace counted no syscalls"
    gt "$(fig "$d" "$m" "$l" cpu_us_per_req)" 0 || fail "$w $m $l: no server CPU time read from /proc"
    gt "$(fig "$d" "$m" "$l" lg_cpu_pct)" 0 || fail "$w $m $l: the load generator's CPU was not measured"
    [[ $(awk -F'\t' '$1 == "target/exit_status" { print $2 }' "$d/runs/$m-c$l-r1/gtrace.flat") == 0 ]] \
      || fail "$w $m $l: the server did not exit 0 on SIGTERM"
  done
}

BUILD=$BUILD timeout 120 bash bench/compare/compare.sh --workload kv -c 20 -P 1,4 -n 3000 -r 1 \
    -o "$out/kv" > "$out/kv.txt" 2> "$out/kv.err" || { cat "$out/kv.err"; fail "compare.sh --workload kv exited with $?"; }
cat "$out/kv.txt"
for label in "SET ops/s" "GET ops/s" "SET p99 latency" "GET p99 latency" "server CPU us/op" \
    "syscalls/op" "OS switches/op, voluntary" "redis-benchmark CPU"; do
  grep -q "^  $label" "$out/kv.txt" || fail "the kv table has no '$label' row"
done
grep -Eq '^C = 20 connections, -P 4 +greenrt +redis +threads$' "$out/kv.txt" || fail "the kv table does not show greenrt, redis and threads side by side"
grep -q '^  C = 20 connections, -P 1: greenrt vs redis: SET .*target' "$out/kv.txt" || fail "no comparison with redis-server and its target"
for l in 20p1 20p4; do check kv "$out/kv" $l greenrt redis threads; done
gt "$(fig "$out/kv" greenrt 20p1 uring_enters_per_req)" 0 || fail "kv greenrt: no io_uring_enter counted"

BUILD=$BUILD timeout 120 bash bench/compare/compare.sh --workload http -c 20 -d 2 -w 1 -r 1 \
    -o "$out/http" > "$out/http.txt" 2> "$out/http.err" || { cat "$out/http.err"; fail "compare.sh --workload http exited with $?"; }
cat "$out/http.txt"
for label in "requests/s" "p99 latency" "server CPU us/req" "syscalls/req" "wrk CPU"; do
  grep -q "^  $label" "$out/http.txt" || fail "the http table has no '$label' row"
done
grep -Eq '^C = 20 connections +greenrt +nginx +threads$' "$out/http.txt" || fail "the http table does not show greenrt, nginx and threads side by side"
grep -q '^  C = 20 connections: greenrt vs nginx: .*target' "$out/http.txt" || fail "no comparison with nginx and its target"
check http "$out/http" 20 greenrt nginx threads

if command -v gnuplot >/dev/null; then
  [[ $(grep -c '<svg' "$out/kv/report.html" 2>/dev/null) -ge 6 ]] || fail "the kv report.html lacks its charts"
  [[ $(grep -c '<svg' "$out/http/report.html" 2>/dev/null) -ge 4 ]] || fail "the http report.html lacks its charts"
fi
if [[ $fails != 0 ]]; then echo "test_compare_services: $fails check(s) failed"; exit 1; fi
echo "test_compare_services: ok"
