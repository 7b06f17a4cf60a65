#!/usr/bin/env bash
# test_static_libc.sh - a program linked fully static (cc -static) has
# libc inside the executable, where asynchronous preemption cannot tell
# it apart from the program's code (a goroutine could be switched out
# inside malloc): gr_run must notice and leave asynchronous preemption off
# by default, say so under GR_DEBUG, and let GR_PREEMPT=1 turn it on.
# The same program linked dynamically keeps it on.
#
# The probe: with one worker, a goroutine spins for 200 ms without calling
# greenrt while main waits behind it; gr_stats' preemption count says
# whether the monitor's signal switched it out.
# Exit 0 pass, 1 fail, 77 skip (no static libc or liburing).
set -u
. "$(dirname "$0")/lib.sh"

A=$BUILD/libgreenrt.a
need "$A" "$HEADER"
libdir=$("$GR_CC" -print-file-name=libc.a)
[[ -f $libdir ]] || skip "no static libc (libc.a) to link with"
[[ -f $("$GR_CC" -print-file-name=liburing.a) ]] || skip "no static liburing (liburing.a)"

cat > "$TMP/spin.c" <<'PROG'
#include <greenrt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int done;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void spinner(void *arg)
{
    (void)arg;
    long long end = mono_ms() + 200;
    while (mono_ms() < end)
        ;
    atomic_store(&done, 1);
}

static void main_fn(void *arg)
{
    (void)arg;
    gr_go(spinner, NULL);
    while (!atomic_load(&done))
        gr_sleep(1000000);
    gr_stats st;
    gr_stats_get(&st);
    printf("preemptions=%llu\n", (unsigned long long)st.preemptions);
}

int main(void) { return gr_run(main_fn, NULL) == 0 ? 0 : 1; }
PROG

build() {   # build OUT EXTRA-FLAGS...
  local out=$1; shift
  "$GR_CC" -O1 -std=gnu11 -I"$LIB_SRC/runtime/include" "$@" -o "$out" "$TMP/spin.c" \
      "$A" -luring -pthread 2> "$TMP/cc.err" \
    || { echo "FAIL: cc $* spin.c: $(head -3 "$TMP/cc.err")"; exit 1; }
}
build "$TMP/spin_static" -static
build "$TMP/spin_dynamic"

run() {   # run BINARY ENV... -> sets out, err
  out=$(env GR_PROCS=1 "${@:2}" timeout 60 "$1" 2> "$TMP/err") || fail "$(basename "$1") ${*:2} exited non-zero: $(head -3 "$TMP/err")"
  err=$(cat "$TMP/err")
}
preemptions() { sed -n 's/^preemptions=//p' <<< "$out"; }

run "$TMP/spin_static" GR_DEBUG=1
static_default=$(preemptions)
[[ $static_default == 0 ]] || fail "static libc: the spinner was preempted $(preemptions) times (want 0: preemption off)"
grep -q "asynchronous preemption is off" <<< "$err" \
  || fail "static libc: GR_DEBUG did not say that asynchronous preemption is off: $err"

run "$TMP/spin_static" GR_PREEMPT=1
[[ $(preemptions) -gt 0 ]] || fail "static libc with GR_PREEMPT=1: never preempted"

run "$TMP/spin_dynamic" GR_DEBUG=1
dynamic_default=$(preemptions)
[[ $dynamic_default -gt 0 ]] || fail "dynamic libc: never preempted (want it on by default)"
grep -q "asynchronous preemption is off" <<< "$err" \
  && fail "dynamic libc: GR_DEBUG says asynchronous preemption is off"

echo "preemptions of the spinner by default: static libc $static_default, dynamic libc $dynamic_default"
finish
