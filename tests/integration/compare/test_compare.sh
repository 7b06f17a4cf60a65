#!/usr/bin/env bash
# test_compare.sh - the comparison at small scale (C=200, 1 s warm-up + 3 s,
# greenrt on io_uring, greenrt-epoll and threads, all traced by gtrace):
# the table has every row; every server answered every request correctly;
# the kernel's counts are real; greenrt shows fewer OS context switches and
# fewer syscalls per request than one thread per connection; greenrt-epoll
# really ran on epoll and greenrt on io_uring (as the runtime said, and as
# the kernel counted), io_uring making fewer syscalls per request; the demo
# splits each row into what green threads and what io_uring changed
# (counts, never times); the memory of a connection in three parts, a
# thread's kernel stack counted in the threads model's; and --why: where
# each waits (threads in read/recv, greenrt's workers in io_uring_enter,
# greenrt-epoll's in epoll_wait), its flame graphs side by side.
# Exit 0 pass, 1 fail, 77 skip (not root, no BTF).
set -u
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root" || exit 1

if [[ $(id -u) != 0 ]]; then echo "skip: gtrace needs root (eBPF)"; exit 77; fi
if [[ ! -r /sys/kernel/btf/vmlinux ]]; then echo "skip: the kernel has no BTF (/sys/kernel/btf/vmlinux), gtrace cannot run"; exit 77; fi
for b in gtrace loadgen echo_greenrt echo_threads; do
  [[ -x $BUILD/$b ]] || { echo "FAIL: $BUILD/$b is not built (run make)"; exit 1; }
done

out=$(mktemp -d /tmp/test_compare.XXXXXX) || exit 1
trap 'rm -rf "$out"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

BUILD=$BUILD timeout 180 bash bench/compare/compare.sh -c 200 -m greenrt,threads,greenrt-epoll \
    -r 1 -w 1 -d 3 -o "$out" --demo --why > "$out/table.txt" 2> "$out/progress.txt"
rc=$?
cat "$out/table.txt"
if [[ $rc != 0 ]]; then
  cat "$out/progress.txt"
  fail "compare.sh exited with $rc"
fi

# every row of the table, and both models in its header
for label in "requests/s" "p50 latency" "p99 latency" "server peak RSS" \
    "RSS per connection" "address space per conn" "kernel memory per conn" \
    "OS threads" "OS switches/req, voluntary" \
    "OS switches/req, involuntary" "syscalls/req" "io_uring enters/req" "epoll waits/req" \
    "goroutine switches/req" "server CPU us/req"; do
  grep -q "^  $label" "$out/table.txt" || fail "the table has no '$label' row"
done
grep -Eq '^C = 200 connections +greenrt +threads +greenrt-epoll$' "$out/table.txt" || fail "the table header does not show greenrt, threads and greenrt-epoll side by side"
[[ $(grep -c '^  [A-Za-z].* - ' "$out/table.txt") -ge 13 ]] || fail "--demo did not explain every row in a sentence"
grep -q '^  syscalls/req: threads .* - green threads: .*; io_uring: ' "$out/table.txt" \
  || fail "--demo did not say what green threads and what io_uring each changed in syscalls/req"

# one figure of one run: fig MODEL KEY (from runs.tsv)
fig() {
  awk -F'\t' -v m="$1" -v k="$2" '
    { delete f; for (i = 1; i <= NF; i++) { e = index($i, "="); f[substr($i, 1, e - 1)] = substr($i, e + 1) } }
    f["model"] == m { print (k in f) ? f[k] : "missing"; exit }' "$out/runs.tsv"
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

for m in greenrt threads greenrt-epoll; do
  st=$(fig $m status)
  [[ $st == ok ]] || { fail "$m: run status '$st': $(fig $m reason)"; continue; }
  # loadgen verified every echoed byte: no verification or I/O errors
  lg=$out/runs/$m-c200-r1/loadgen.flat
  for k in errors verify_errors io_errors connect_failures; do
    v=$(awk -F'\t' -v k=$k '$1 == k { print $2 }' "$lg")
    [[ $v == 0 ]] || fail "$m: loadgen $k = '$v', expected 0"
  done
  [[ $(awk -F'\t' '$1 == "connected" { print $2 }' "$lg") == 200 ]] || fail "$m: not all 200 connections were made"
  gt "$(fig $m requests)" 1000 || fail "$m: only $(fig $m requests) requests measured"
  gt "$(fig $m syscalls_per_req)" 0 || fail "$m: gtrace counted no syscalls"
  gt "$(fig $m cpu_us_per_req)" 0 || fail "$m: no server CPU time read from /proc"
  gt "$(fig $m rss_peak_mb)" 0 || fail "$m: no peak RSS"
  gt "$(fig $m threads)" 0 || fail "$m: no thread count sampled"
  [[ $(awk -F'\t' '$1 == "target/exit_status" { print $2 }' "$out/runs/$m-c200-r1/gtrace.flat") == 0 ]] \
    || fail "$m: the server did not exit 0 on SIGTERM"
done
gt "$(fig threads vcsw_per_req)" 0.5 || fail "threads: $(fig threads vcsw_per_req) voluntary OS switches/req; every blocking read should park a thread"
gt "$(fig threads threads)" 200 || fail "threads: only $(fig threads threads) OS threads seen for 200 connections"
gt "$(fig greenrt gsw_per_req)" 0.5 || fail "greenrt: $(fig greenrt gsw_per_req) goroutine switches/req; the USDT probes were not seen"
gt "$(fig greenrt uring_enters_per_req)" 0 || fail "greenrt: no io_uring_enter counted"
# the engines: what the runtime said (GR_DEBUG), and what the kernel saw
[[ $(fig greenrt engine) == uring ]] || fail "greenrt: ran on engine '$(fig greenrt engine)', expected uring"
[[ $(fig greenrt-epoll engine) == epoll ]] || fail "greenrt-epoll: ran on engine '$(fig greenrt-epoll engine)', expected epoll"
[[ $(fig greenrt-epoll uring_enters_per_req) == 0 ]] || fail "greenrt-epoll: $(fig greenrt-epoll uring_enters_per_req) io_uring enters/req, expected none"
gt "$(fig greenrt-epoll epoll_waits_per_req)" 0 || fail "greenrt-epoll: no epoll_wait counted"
gt "$(fig greenrt-epoll syscalls_per_req)" "$(fig greenrt syscalls_per_req)" \
  || fail "greenrt (io_uring) made $(fig greenrt syscalls_per_req) syscalls/req, greenrt-epoll $(fig greenrt-epoll syscalls_per_req): expected fewer on io_uring"

# the robust difference: counts per request, not times
g_os=$(awk -v a="$(fig greenrt vcsw_per_req)" -v b="$(fig greenrt ivcsw_per_req)" 'BEGIN { print a + b }')
t_os=$(awk -v a="$(fig threads vcsw_per_req)" -v b="$(fig threads ivcsw_per_req)" 'BEGIN { print a + b }')
gt "$t_os" "$g_os" || fail "greenrt made $g_os OS context switches/req, threads $t_os: expected fewer for greenrt"
gt "$(fig threads syscalls_per_req)" "$(fig greenrt syscalls_per_req)" \
  || fail "greenrt made $(fig greenrt syscalls_per_req) syscalls/req, threads $(fig threads syscalls_per_req): expected fewer for greenrt"

# memory: a thread per connection costs the kernel a kernel stack and a
# task_struct more per connection (>= 8 KB), and reserves more address
# space; the sentence names the three parts for both models
k_g=$(fig greenrt kern_per_conn_kb) k_t=$(fig threads kern_per_conn_kb)
gt "$k_t" "$(awk -v g="$k_g" 'BEGIN { print g + 8 }')" || fail "kernel memory per connection: threads $k_t KB, greenrt $k_g KB: a thread's kernel stack missing"
gt "$(fig threads vsz_per_conn_kb)" "$(fig greenrt vsz_per_conn_kb)" || fail "address space per connection: threads $(fig threads vsz_per_conn_kb) <= greenrt $(fig greenrt vsz_per_conn_kb)"
grep -q 'KB reserved, .* KB resident, .* KB in the kernel; threads: .* KB reserved, .* KB resident, .* KB in the kernel' "$out/table.txt" \
  || fail "the memory sentence does not give the three parts for both models"

# --why: where each waits, and the two flame graphs
grep -q '^  C=200: threads: its [0-9,]* threads were off-CPU .* in read/recv' "$out/table.txt" \
  || fail "--why: the threads server's off-CPU time is not said to be in read/recv"
grep -q '^  C=200: greenrt: its [0-9,]* threads were off-CPU .*io_uring_enter.*; its goroutines were parked .* on io' "$out/table.txt" \
  || fail "--why: greenrt's waits (workers in io_uring_enter, goroutines parked on io) are not said"
grep -q 'how long a ready task waited to run: greenrt: its threads for a CPU p50 .*its goroutines for a worker p50' "$out/table.txt" \
  || fail "--why: no run-queue distributions side by side"
grep -q '^  C=200: greenrt-epoll: its [0-9,]* threads were off-CPU .*epoll_wait.*; its goroutines were parked .* on io' "$out/table.txt" \
  || fail "--why: greenrt-epoll's waits (workers in epoll_wait, goroutines parked on io) are not said"
for m in greenrt threads greenrt-epoll; do
  xmllint --noout "$out/why/$m-c200/offcpu.svg" 2>/dev/null || fail "--why: $m's flame graph is not well-formed"
done
[[ $(grep -c '<svg version="1.1" width="100%"' "$out/report.html" 2>/dev/null) == 3 ]] && grep -q 'class="flames"' "$out/report.html" \
  || fail "report.html does not hold the three flame graphs side by side"

# the raw figures and the report
grep -q '"medians"' "$out/results.json" && [[ $(awk -f bench/compare/jflat.awk "$out/results.json" | grep -c '^medians/[0-9]*/median/syscalls_per_req') == 3 ]] \
  || fail "results.json lacks the medians of the three models"
if command -v gnuplot >/dev/null; then
  [[ $(grep -c '<svg' "$out/report.html" 2>/dev/null) -ge 6 ]] || fail "report.html lacks its inline SVG charts"
fi

if [[ $fails != 0 ]]; then echo "test_compare: $fails check(s) failed"; exit 1; fi
echo "test_compare: ok (greenrt $g_os vs threads $t_os OS switches/req; syscalls/req greenrt $(fig greenrt syscalls_per_req), greenrt-epoll $(fig greenrt-epoll syscalls_per_req), threads $(fig threads syscalls_per_req))"
