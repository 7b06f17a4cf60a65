#!/usr/bin/env bash
# test_archive_symbols.sh - libgreenrt.a defines no global symbol outside
# the API, so a program linked statically may use any name of its own:
#   - the archive's global (and weak) definitions are exactly the functions
#     greenrt.h declares, plus <sys/sdt.h>'s weak hidden `_.stapsdt.base`;
#   - a program that defines `ready`, `sched`, `park` and other names the
#     runtime uses inside links against the .a (and the .so) and runs, the
#     runtime never calling the program's functions;
#   - a program with USDT probes of its own links against the .a and every
#     probe note, greenrt's included, points at the .stapsdt.base section.
# Exit 0 pass, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"

A=$BUILD/libgreenrt.a
need "$A" "$BUILD/libgreenrt.so" "$HEADER"
command -v readelf > /dev/null || skip "readelf (binutils) is not installed"

header_functions > "$TMP/header" || { echo "FAIL: cannot list greenrt.h's functions"; exit 1; }
# Defined symbols of global or weak binding: "BIND VIS NAME".
readelf -sW "$A" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && NF >= 8 { print $5, $6, $8 }' \
  | sort -u > "$TMP/globals"
echo "libgreenrt.a: $(wc -l < "$TMP/globals") global definitions; greenrt.h declares $(wc -l < "$TMP/header") functions"
while read -r bind vis name; do
  if grep -qx -- "$name" "$TMP/header"; then
    continue
  fi
  if [[ $name == _.stapsdt.base && $bind == WEAK && $vis == HIDDEN ]]; then
    continue  # sdt.h's shared COMDAT anchor: weak, it clashes with nothing
  fi
  fail "libgreenrt.a defines $bind $vis $name, which is not in greenrt.h"
done < "$TMP/globals"
awk '{ print $3 }' "$TMP/globals" | sort -u > "$TMP/names"
fail_missing "$TMP/header" "$TMP/names" "%s is declared in greenrt.h but libgreenrt.a does not define it globally"

# A program using the names the runtime uses inside (issue 13: `int
# ready(void)` gave "multiple definition of `ready'").  Its own functions
# abort if the runtime ever calls them.
cat > "$TMP/clash.c" <<'PROG'
#include <greenrt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int sched = 42;
int ready(void) { abort(); }
void park(void) { abort(); }
uint64_t fastrand(void) { abort(); }
int timer_arm(void) { abort(); }
int stack_alloc(void) { abort(); }
void *g_alloc(void) { abort(); }
int env_parse(void) { abort(); }
void lock_slow(void) { abort(); }
int wring_init(void) { abort(); }

static gr_chan *results;

static void square(void *arg)
{
    long n = (long)arg, sq = n * n;
    gr_sleep(1000);                    /* a timer, then park and ready */
    gr_chan_send(results, &sq);
}

static void main_goroutine(void *arg)
{
    (void)arg;
    results = gr_chan_make(sizeof(long), 0);
    for (long i = 1; i <= 10; i++)
        gr_go(square, (void *)i);
    long sum = 0, v;
    for (int i = 0; i < 10; i++)
        if (gr_chan_recv(results, &v) == 0)
            sum += v;
    printf("sum of squares: %ld, sched %d\n", sum, sched);
    gr_chan_free(results);
}

int main(void) { return gr_run(main_goroutine, NULL) == 0 ? 0 : 1; }
PROG
want="sum of squares: 385, sched 42"
if "$GR_CC" -I"$LIB_SRC/runtime/include" "$TMP/clash.c" -o "$TMP/clash_a" "$A" -luring -pthread \
    2> "$TMP/clash_a.err"; then
  got=$(GR_PROCS=2 "$TMP/clash_a" 2>&1)
  [[ $got == "$want" ]] || fail "the program with its own ready/sched/park, linked statically, printed '$got' (want '$want')"
else
  cat "$TMP/clash_a.err"
  fail "a program defining ready, sched, park... does not link against libgreenrt.a"
fi
# Against the .so the danger is quieter: a default-visibility internal
# `ready` would be interposed by the program's and called by the runtime.
if "$GR_CC" -I"$LIB_SRC/runtime/include" "$TMP/clash.c" -o "$TMP/clash_so" -L"$BUILD" -lgreenrt \
    -pthread 2> "$TMP/clash_so.err"; then
  got=$(GR_PROCS=2 LD_LIBRARY_PATH=$BUILD "$TMP/clash_so" 2>&1)
  [[ $got == "$want" ]] || fail "the program with its own ready/sched/park, linked against the .so, printed '$got' (want '$want')"
else
  cat "$TMP/clash_so.err"
  fail "a program defining ready, sched, park... does not link against libgreenrt.so"
fi

# A program with a USDT probe of its own, linked first: greenrt's probe
# notes must still point at the .stapsdt.base section that was kept.
if printf '#include <sys/sdt.h>\n' | "$GR_CC" -E - > /dev/null 2>&1; then
  cat > "$TMP/probes.c" <<'PROG'
#include <greenrt.h>
#include <sys/sdt.h>

static void main_goroutine(void *arg) { (void)arg; DTRACE_PROBE(myapp, started); }

int main(void) { return gr_run(main_goroutine, NULL) == 0 ? 0 : 1; }
PROG
  if "$GR_CC" -I"$LIB_SRC/runtime/include" "$TMP/probes.c" -o "$TMP/probes" "$A" -luring -pthread \
      2> "$TMP/probes.err"; then
    "$TMP/probes" || fail "the program with its own USDT probe does not run"
    # Addresses as bare hex without leading zeros, to compare as strings.
    hex() { sed -e 's/^0x//' -e 's/^0*//'; }
    base=$(readelf -SW "$TMP/probes" | awk '{ sub(/^ *\[ *[0-9]+\] */, "") } $1 == ".stapsdt.base" { print $3 }' | hex)
    readelf -nW "$TMP/probes" | awk '/Name:/ { name = $2 } /Base:/ { sub(/,$/, "", $4); print name, $4 }' > "$TMP/notes"
    nnotes=$(wc -l < "$TMP/notes")
    nbad=0
    while read -r name b; do
      [[ $(hex <<< "$b") == "$base" ]] || nbad=$((nbad + 1))
    done < "$TMP/notes"
    echo "program with its own probe: $nnotes probe notes, .stapsdt.base at 0x$base, $nbad pointing elsewhere"
    [[ -n $base && $nnotes -gt 1 && $nbad -eq 0 ]] ||
      fail "USDT probe notes do not all point at .stapsdt.base ($nbad of $nnotes wrong)"
    grep -q '^started ' "$TMP/notes" && grep -q '^spawn ' "$TMP/notes" ||
      fail "the program's probe or greenrt's spawn probe is missing from the notes"
  else
    sed -n 1,5p "$TMP/probes.err"
    fail "a program with USDT probes of its own does not link against libgreenrt.a"
  fi
else
  echo "note: <sys/sdt.h> missing (systemtap-sdt-dev), the USDT check is left out"
fi
finish
