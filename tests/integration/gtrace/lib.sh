# lib.sh - shared by the gtrace accuracy tests (sourced; B = build dir).
GTRACE=$B/gtrace
H=$B/tests/gtrace
TMP=$(mktemp -d /tmp/gtrace-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok()   { echo "ok:   $*"; }

[[ $(id -u) == 0 ]] || skip "gtrace tests need root (BPF)"
[[ -r /sys/kernel/btf/vmlinux ]] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
command -v bpftool >/dev/null || skip "bpftool not installed"

jget() { "$H/jget" "$1" "$2"; }

# After every gtrace run, none of our programs (all named gt_*) may stay.
# The kernel frees a detached program after an RCU grace period, so give
# it up to 3 s to disappear from bpftool's list.  Programs a live process
# still holds (a prog_id in some /proc/PID/fdinfo: another gtrace running
# on the machine at the same time) are not leftovers; a leaked one has no
# holder (pinned, or kept by the kernel).
gt_unheld() {
  { grep -h '^prog_id:' /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '{ print "held", $2 }'
    bpftool prog show 2>/dev/null | awk -F: '/^[0-9]+: .* name gt_/ { print "gt", $1 }'
  } | awk '$1 == "held" { h[$2] = 1; next } !($2 in h) { n++ } END { print n + 0 }'
}
no_leftovers() {
  local n i
  for i in $(seq 30); do
    n=$(gt_unheld)
    [[ $n == 0 ]] && break
    sleep 0.1
  done
  if [[ $n != 0 ]]; then fail "$n gtrace BPF programs still loaded after: $1"; else ok "nothing left loaded after $1"; fi
}
