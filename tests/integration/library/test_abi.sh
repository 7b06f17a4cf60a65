#!/usr/bin/env bash
# test_abi.sh - libgreenrt.so exports exactly the API: every function
# greenrt.h declares is in the version script and in the .so's dynamic
# symbol table (versioned), and nothing else is; a program that calls
# every declared function links and runs against the .so and against the
# .a; the .so carries the VERSION file's version (real name, soname).
# Exit 0 pass, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"

SO=$BUILD/libgreenrt.so
need "$SO" "$BUILD/libgreenrt.a" "$HEADER" "$MAP" "$LIB_SRC/VERSION"

header_functions > "$TMP/header" || { echo "FAIL: cannot list greenrt.h's functions"; exit 1; }
map_globals > "$TMP/map"
# Defined dynamic symbols, without the version nodes themselves (type A).
nm -D --defined-only "$SO" | awk '$2 != "A" { print $3 }' > "$TMP/nm_raw"
sed 's/@.*//' "$TMP/nm_raw" | sort -u > "$TMP/so"
echo "greenrt.h declares $(wc -l < "$TMP/header") functions; the version script lists" \
     "$(wc -l < "$TMP/map"); libgreenrt.so exports $(wc -l < "$TMP/so")"
[[ -s $TMP/header ]] || fail "no function found in $HEADER"

fail_missing "$TMP/header" "$TMP/map" "%s is declared in greenrt.h but missing from runtime/greenrt.map"
fail_missing "$TMP/map" "$TMP/header" "%s is in runtime/greenrt.map but greenrt.h does not declare it"
fail_missing "$TMP/header" "$TMP/so" "%s is declared in greenrt.h but libgreenrt.so does not export it"
fail_missing "$TMP/so" "$TMP/header" "libgreenrt.so exports %s, which greenrt.h does not declare"
# Every export carries a GREENRT_ version (the version script applied).
grep -v '@@GREENRT_' "$TMP/nm_raw" | while read -r s; do
  echo "FAIL: $s is exported without a GREENRT_ symbol version"
done | tee "$TMP/unversioned"
[[ -s $TMP/unversioned ]] && fails=$((fails + 1))

# What a user sees: a program naming every declared function links and
# runs, against the .so and against the .a.
{
  echo '#include <greenrt.h>'
  echo '#include <stdio.h>'
  echo 'typedef void (*fn_t)(void);'
  echo 'static fn_t const fns[] = {'
  sed 's/.*/    (fn_t)&,/' "$TMP/header"
  echo '};'
  echo 'int main(void)'
  echo '{'
  echo '    size_t n = sizeof fns / sizeof fns[0];'
  echo '    for (size_t i = 0; i < n; i++)'
  echo '        if (!fns[i])'
  echo '            return 1;'
  echo '    printf("%zu functions resolved\n", n);'
  echo '    return 0;'
  echo '}'
} > "$TMP/every_function.c"
if "$GR_CC" -I"$LIB_SRC/runtime/include" "$TMP/every_function.c" -o "$TMP/every_so" \
    -L"$BUILD" -lgreenrt -pthread 2> "$TMP/ld_so.err"; then
  LD_LIBRARY_PATH=$BUILD "$TMP/every_so" || fail "the program linked against libgreenrt.so does not run"
else
  cat "$TMP/ld_so.err"
  fail "a program calling every function of greenrt.h does not link against libgreenrt.so"
fi
if "$GR_CC" -I"$LIB_SRC/runtime/include" "$TMP/every_function.c" -o "$TMP/every_a" \
    "$BUILD/libgreenrt.a" -luring -pthread 2> "$TMP/ld_a.err"; then
  "$TMP/every_a" || fail "the program linked against libgreenrt.a does not run"
else
  cat "$TMP/ld_a.err"
  fail "a program calling every function of greenrt.h does not link against libgreenrt.a"
fi

# The version: VERSION is the one source; the .so's real name and soname
# and the header's macros must agree with it.
version=$(cat "$LIB_SRC/VERSION")
major=${version%%.*}
[[ -f $BUILD/libgreenrt.so.$version && ! -L $BUILD/libgreenrt.so.$version ]] ||
  fail "$BUILD/libgreenrt.so.$version (the real name) is missing"
soname=$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libgreenrt.so.$major ]] || fail "soname is '$soname', expected libgreenrt.so.$major"
hv=$(printf '#include <greenrt.h>\nGREENRT_VERSION_MAJOR.GREENRT_VERSION_MINOR.GREENRT_VERSION_PATCH\n' |
     "$GR_CC" -E -P -I"$LIB_SRC/runtime/include" - | tail -1 | tr -d ' ')
[[ $hv == "$version" ]] || fail "greenrt.h says version $hv, VERSION says $version"
echo "version $version, soname $soname"
finish
