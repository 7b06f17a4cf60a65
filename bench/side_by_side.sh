#!/usr/bin/env bash
# side_by_side.sh - runs a greenrt benchmark binary and its Go twin, then
# prints their medians side by side with issue 2's targets.
#
#   side_by_side.sh NAME GREENRT_BIN GO_BIN|- [GO_FIGURE...]
#
# NAME labels the messages (bench-sched).  GO_BIN "-" (or a missing file)
# skips the Go side with a one-line message.  GO_FIGURE... selects the Go
# figures (default: go-bench's default set).  BENCH_ARGS (environment) is
# passed to both binaries, e.g. BENCH_ARGS="-r 1 -s 0.1" for a smoke run.
# Each side's full output is kept in NAME-greenrt.txt / NAME-go.txt beside
# GREENRT_BIN; both binaries also append their JSON lines to results.jsonl
# there.  Exits 1 if a greenrt run failed, 0 otherwise.
set -u
name=$1 gr=$2 gobin=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
dir=$(dirname "$gr")
read -r -a args <<< "${BENCH_ARGS:-}"

echo "== $name: greenrt ($gr)"
"$gr" ${args[@]+"${args[@]}"} | tee "$dir/$name-greenrt.txt"
rc=${PIPESTATUS[0]}

if [[ $gobin != - && -x $gobin ]]; then
  echo "== $name: Go twin ($gobin, $(go version 2>/dev/null | awk '{print $3}'))"
  "$gobin" ${args[@]+"${args[@]}"} "$@" | tee "$dir/$name-go.txt"
  [[ ${PIPESTATUS[0]} == 0 ]] || echo "$name: some Go runs failed (see above)"
else
  echo "$name: go is not installed, skipping the Go twin (apt-get install golang-go)"
  : > "$dir/$name-go.txt"
fi

echo "== $name: greenrt vs Go"
awk -f "$here/side_by_side.awk" "$dir/$name-greenrt.txt" "$dir/$name-go.txt"
if [[ $rc != 0 ]]; then
  echo "$name: some greenrt runs failed (exit $rc; see above)"
  exit 1
fi
