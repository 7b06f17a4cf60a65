# lib.sh - helpers for the library tests (sourced, not run): where things
# are, a scratch directory, and the list of functions the public header
# declares.

BUILD=${BUILD:-build}
LIB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
BUILD=$(cd "$LIB_SRC" && mkdir -p "$BUILD" && cd "$BUILD" && pwd)
HEADER=$LIB_SRC/runtime/include/greenrt.h
MAP=$LIB_SRC/runtime/greenrt.map
GR_CC=${GR_CC:-gcc}
TMP=$(mktemp -d /tmp/gr-library.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
finish() {   # exit 0 if nothing failed
  if [[ $fails -ne 0 ]]; then echo "$fails check(s) failed"; exit 1; fi
  echo "ok"
  exit 0
}

# fail_missing A B FORMAT: a failure for each line of the sorted list in
# file A that is not in the sorted list in file B; FORMAT's %s is the line.
fail_missing() {
  local x
  for x in $(comm -23 "$1" "$2"); do
    # shellcheck disable=SC2059  # the format is ours
    fail "$(printf "$3" "$x")"
  done
}

need() {   # need FILE...: every file must exist (built by make)
  local f
  for f in "$@"; do
    [[ -e $f ]] || { echo "FAIL: $f is missing: run make first"; exit 1; }
  done
}

# The functions greenrt.h declares, one per line, sorted: the compiler's
# own list (gcc -aux-info writes a prototype for every function declared
# in the translation unit, with the file it came from), so macros,
# comments and typedefs cannot fool it.  Static inline helpers, which are
# not exported, are left out.
header_functions() {
  printf '#include <greenrt.h>\n' > "$TMP/aux.c"
  "$GR_CC" -std=gnu11 -I"$LIB_SRC/runtime/include" -fsyntax-only \
      -aux-info "$TMP/aux.txt" "$TMP/aux.c" || return 1
  awk -v hdr="$HEADER" '
    index($0, "/* " hdr ":") == 1 {
      sub(/^\/\*[^*]*\*\/ /, "")
      if ($1 != "extern") next
      if (match($0, /[A-Za-z_][A-Za-z0-9_]* \(/))
        print substr($0, RSTART, RLENGTH - 2)
    }' "$TMP/aux.txt" | sort -u
}

# The global symbols of the version script, sorted.
map_globals() {
  awk -f "$LIB_SRC/mk/map_globals.awk" "$MAP" | sort -u
}
