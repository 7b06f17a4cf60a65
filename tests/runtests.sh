#!/usr/bin/env bash
# Runs the test executables given on the command line and prints a summary.
#
#   runtests.sh UNIT... -- INTEGRATION... [-- PER_ENGINE...]
#
# Unit tests (cmocka binaries) run once per configuration of
# unit_configs below: an environment each (GR_PROCS=1; 2; 2 with the run
# queues' order randomised, so that no test leans on an order greenrt does
# not promise; 8, more workers than CPUs, for the stealing, spinning and
# hand-off paths of a bigger machine; and GR_PROCS=1 and 2 on the epoll
# engine, the default being io_uring where it works).  UNIT_CONFIGS, one
# per line, replaces the list (UNIT_CONFIGS="GR_PROCS=2" for a quick run).
# Integration tests are standalone programs or scripts that exit 0
# (pass), 77 (skip, having printed why) or anything else (fail); those
# after the second -- exercise the runtime's I/O (the example servers)
# and run once per engine_configs entry.
# Every test has a timeout (TEST_TIMEOUT seconds, default 300); the
# summary ends with "N passed, N failed, N skipped" and the script exits
# non-zero if anything failed.
set -u
timeout_s=${TEST_TIMEOUT:-300}
passed=0 failed=0 skipped=0
failures=() skips=()

run_one() {   # label, then the command
  local label=$1; shift
  local start=$SECONDS rc
  echo "=== RUN  $label"
  timeout --kill-after=10 "$timeout_s" "$@"
  rc=$?
  local took=$((SECONDS - start))
  case $rc in
    0)  passed=$((passed + 1)); echo "--- PASS $label (${took}s)" ;;
    77) skipped=$((skipped + 1)); skips+=("$label"); echo "--- SKIP $label" ;;
    124|137) failed=$((failed + 1)); failures+=("$label (timeout after ${timeout_s}s)"); echo "--- FAIL $label: timed out" ;;
    *)  failed=$((failed + 1)); failures+=("$label (exit $rc)"); echo "--- FAIL $label (exit $rc)" ;;
  esac
}

unit=() integ=() per_engine=() seen_sep=0
for a in "$@"; do
  if [[ $a == -- ]]; then seen_sep=$((seen_sep + 1)); continue; fi
  case $seen_sep in
    0) unit+=("$a") ;;
    1) integ+=("$a") ;;
    *) per_engine+=("$a") ;;
  esac
done

unit_configs=(
  "GR_PROCS=1"
  "GR_PROCS=2"
  "GR_PROCS=2 GR_SCHED_RANDOM=1"
  "GR_PROCS=8"
  "GR_ENGINE=epoll GR_PROCS=1"
  "GR_ENGINE=epoll GR_PROCS=2"
)
if [[ -n ${UNIT_CONFIGS:-} ]]; then
  mapfile -t unit_configs <<< "$UNIT_CONFIGS"
fi
# The default engine (auto: io_uring where it works), then epoll.
engine_configs=("GR_ENGINE=auto" "GR_ENGINE=epoll")

for t in "${unit[@]+"${unit[@]}"}"; do
  for cfg in "${unit_configs[@]}"; do
    # shellcheck disable=SC2086  # cfg is a list of VAR=value words
    run_one "$(basename "$t") $cfg" env $cfg "$t"
  done
done
for t in "${integ[@]+"${integ[@]}"}"; do
  run_one "$(basename "$t")" "$t"
done
for t in "${per_engine[@]+"${per_engine[@]}"}"; do
  for cfg in "${engine_configs[@]}"; do
    # shellcheck disable=SC2086
    run_one "$(basename "$t") $cfg" env $cfg "$t"
  done
done

echo
for s in "${skips[@]+"${skips[@]}"}"; do echo "skipped: $s"; done
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED:  $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
