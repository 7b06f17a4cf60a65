# lib.sh - shared by the gtrace tests (sourced; B = build dir).
GTRACE=$B/gtrace
H=$B/tests/gtrace
TMP=$(mktemp -d /tmp/gtrace-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok()   { echo "ok:   $*"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds, else fail
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

[[ $(id -u) == 0 ]] || skip "gtrace tests need root (BPF)"
[[ -r /sys/kernel/btf/vmlinux ]] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
command -v bpftool >/dev/null || skip "bpftool not installed"

jget() { "$H/jget" "$1" "$2"; }

# The BPF programs and maps one gtrace run loaded, as "prog ID... map
# ID...": from its --json file, or from the line -v prints on stderr.
ids_json() { "$H/jget" "$1" bpf_ids; }
ids_log() { sed -n 's/^gtrace: loaded BPF //p' "$1" | head -n 1; }

# no_leftovers WHAT IDS: none of the programs and maps of that gtrace
# run (IDS, as above) may still be loaded once it has exited.  Only its
# own: other gtrace runs on the machine load programs too.  The kernel
# frees a detached program after an RCU grace period and a map once no
# program holds it, so give them up to 3 s.
no_leftovers() {
  local what=$1 ids=$2 left i id kind
  if [[ $ids != prog\ [0-9]* ]]; then fail "$what: no BPF ids to check ('$ids')"; return; fi
  for i in $(seq 30); do
    left=() kind=
    for id in $ids; do
      case $id in
        prog|map) kind=$id ;;
        *) bpftool "$kind" show id "$id" >/dev/null 2>&1 && left+=("$kind $id") ;;
      esac
    done
    [[ ${#left[@]} == 0 ]] && break
    sleep 0.1
  done
  if [[ ${#left[@]} != 0 ]]; then fail "$what: still loaded after gtrace exited: ${left[*]}"
  else ok "nothing gtrace loaded is left after $what"; fi
}

# An unused pid (no process has it now), for the error paths.
free_pid() {
  local p max; max=$(cat /proc/sys/kernel/pid_max)
  for p in $((max - 1)) $((max - 2)) $((max - 3)) $((max - 5)) $((max - 7)); do
    [[ -e /proc/$p ]] || { echo "$p"; return; }
  done
  echo $((max - 11))
}
