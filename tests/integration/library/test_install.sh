#!/usr/bin/env bash
# test_install.sh - what a packager and then a user get from `make install`:
#   - `make install DESTDIR=$stage PREFIX=/usr` puts the archive, the .so
#     under its real name behind the soname and development links, the
#     header, greenrt.pc (written for /usr), gtrace and the man pages (with
#     link pages: `man gr_chan_send` works) in place;
#   - with PKG_CONFIG_SYSROOT_DIR / PKG_CONFIG_PATH pointing into the
#     stage, the README's example builds with `pkg-config --cflags --libs
#     greenrt` (dynamic) and with `--static` (a fully static program), and
#     both run;
#   - a real test program (tests/unit/test_chan.c) links against the
#     installed .so and passes;
#   - a second install with another PREFIX and LIBDIR gets a greenrt.pc of
#     its own;
#   - `make uninstall` with the same variables removes every file install
#     put there.
# Exit 0 pass, 1 fail, 77 skip (no pkg-config).
set -u
. "$(dirname "$0")/lib.sh"

command -v pkg-config > /dev/null || skip "pkg-config is not installed (make deps)"
need "$LIB_SRC/VERSION" "$LIB_SRC/README.md" "$LIB_SRC/tests/unit/test_chan.c"
version=$(cat "$LIB_SRC/VERSION")
major=${version%%.*}

# A make of our own: not the jobserver of the `make test` that runs us.
gr_make() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$LIB_SRC" BUILD="$BUILD" "$@"
}

stage=$TMP/stage
if ! gr_make install DESTDIR="$stage" PREFIX=/usr > "$TMP/install.log" 2>&1; then
  tail -20 "$TMP/install.log"
  echo "FAIL: make install DESTDIR=$stage PREFIX=/usr failed"
  exit 1
fi
(cd "$stage" && find . ! -type d | sort) > "$TMP/installed"
echo "make install put $(wc -l < "$TMP/installed") files under DESTDIR"

lib=$stage/usr/lib
[[ -f $lib/libgreenrt.a ]] || fail "usr/lib/libgreenrt.a not installed"
[[ -f $lib/libgreenrt.so.$version && ! -L $lib/libgreenrt.so.$version ]] ||
  fail "usr/lib/libgreenrt.so.$version (the real name) not installed as a file"
[[ $(readlink "$lib/libgreenrt.so.$major") == "libgreenrt.so.$version" ]] ||
  fail "usr/lib/libgreenrt.so.$major is not a link to libgreenrt.so.$version"
[[ $(readlink "$lib/libgreenrt.so") == "libgreenrt.so.$major" ]] ||
  fail "usr/lib/libgreenrt.so is not a link to libgreenrt.so.$major"
cmp -s "$stage/usr/include/greenrt.h" "$LIB_SRC/runtime/include/greenrt.h" ||
  fail "usr/include/greenrt.h not installed"
[[ -x $stage/usr/bin/gtrace ]] || fail "usr/bin/gtrace not installed"
gv=$("$stage/usr/bin/gtrace" --version 2>&1 | head -n 1)   # line 2: how syscalls are counted here
[[ $gv == "gtrace $version" ]] || fail "gtrace --version says '$gv', VERSION says $version"
for page in man3/greenrt.3 man3/gr_chan.3 man3/gr_chan_send.3 man8/gtrace.8; do
  [[ -f $stage/usr/share/man/$page ]] || fail "usr/share/man/$page not installed"
done
if command -v man > /dev/null; then
  # `man gr_chan_send` finds the channel page through its link page.
  MANPAGER=cat man -M "$stage/usr/share/man" gr_chan_send 2> /dev/null | grep -q 'gr_chan_try_recv' ||
    fail "man gr_chan_send does not show gr_chan(3) from the installed pages"
fi

pc=$lib/pkgconfig/greenrt.pc
if [[ -f $pc ]]; then
  grep -qx 'prefix=/usr' "$pc" || fail "greenrt.pc: $(grep '^prefix=' "$pc"), want prefix=/usr"
  grep -qx "Version: $version" "$pc" || fail "greenrt.pc: $(grep '^Version:' "$pc"), want $version"
  grep -qx 'Requires.private: liburing' "$pc" || fail "greenrt.pc lacks Requires.private: liburing"
else
  fail "usr/lib/pkgconfig/greenrt.pc not installed"
fi

# As a packager builds against a staged tree.
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$lib/pkgconfig
awk '/^## Example/ { sect = 1 } sect && /^```c/ { code = 1; next }
     code && /^```/ { exit } code' "$LIB_SRC/README.md" > "$TMP/demo.c"
grep -q 'gr_run' "$TMP/demo.c" || fail "no C example found under README.md's '## Example'"
want="sum of squares: 385"

if flags=$(pkg-config --cflags --libs greenrt 2> "$TMP/pc.err"); then
  echo "pkg-config --cflags --libs greenrt: $flags"
  # shellcheck disable=SC2086  # the flags are words
  if "$GR_CC" -O2 "$TMP/demo.c" $flags -o "$TMP/demo" 2> "$TMP/cc.err"; then
    readelf -d "$TMP/demo" | grep -q "NEEDED.*\[libgreenrt.so.$major\]" ||
      fail "the example is not linked against libgreenrt.so.$major"
    got=$(LD_LIBRARY_PATH=$lib "$TMP/demo" 2>&1)
    [[ $got == "$want" ]] || fail "the example (dynamic) printed '$got', want '$want'"
  else
    cat "$TMP/cc.err"; fail "the README example does not build with pkg-config --cflags --libs greenrt"
  fi
else
  cat "$TMP/pc.err"; fail "pkg-config --cflags --libs greenrt failed"
fi

if flags=$(pkg-config --static --cflags --libs greenrt 2> "$TMP/pc.err"); then
  echo "pkg-config --static --cflags --libs greenrt: $flags"
  # shellcheck disable=SC2086
  if "$GR_CC" -static -O2 "$TMP/demo.c" $flags -o "$TMP/demo_static" 2> "$TMP/cc.err"; then
    ! readelf -d "$TMP/demo_static" 2>/dev/null | grep -q NEEDED ||
      fail "the --static example still needs shared libraries"
    got=$("$TMP/demo_static" 2>&1)
    [[ $got == "$want" ]] || fail "the example (static) printed '$got', want '$want'"
  else
    cat "$TMP/cc.err"; fail "the README example does not link statically with pkg-config --static"
  fi
else
  cat "$TMP/pc.err"; fail "pkg-config --static --cflags --libs greenrt failed"
fi

# A real test program against the installed .so.
if printf '#include <stdarg.h>\n#include <stddef.h>\n#include <setjmp.h>\n#include <cmocka.h>\n' |
    "$GR_CC" -E - > /dev/null 2>&1; then
  # shellcheck disable=SC2046
  if "$GR_CC" -O2 -I"$LIB_SRC/tests/unit" "$LIB_SRC/tests/unit/test_chan.c" \
      $(pkg-config --cflags --libs greenrt) -lcmocka -o "$TMP/test_chan" 2> "$TMP/cc.err"; then
    readelf -d "$TMP/test_chan" | grep -q "NEEDED.*\[libgreenrt.so.$major\]" ||
      fail "test_chan is not linked against libgreenrt.so.$major"
    if GR_PROCS=2 LD_LIBRARY_PATH=$lib "$TMP/test_chan" > "$TMP/test_chan.out" 2>&1; then
      echo "test_chan against the installed .so: $(grep -c '^\[       OK \]' "$TMP/test_chan.out") tests passed"
    else
      tail -20 "$TMP/test_chan.out"; fail "test_chan fails against the installed libgreenrt.so"
    fi
  else
    cat "$TMP/cc.err"; fail "tests/unit/test_chan.c does not link against the installed libgreenrt.so"
  fi
else
  fail "cmocka is not installed (make deps): cannot build test_chan against the .so"
fi
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH

# Another prefix and libdir: greenrt.pc follows them (it is written per
# install, not frozen at the first build).
stage2=$TMP/stage2
if gr_make install-lib DESTDIR="$stage2" PREFIX=/opt/greenrt LIBDIR=/opt/greenrt/lib64 \
    > "$TMP/install2.log" 2>&1; then
  pc2=$stage2/opt/greenrt/lib64/pkgconfig/greenrt.pc
  if [[ -f $pc2 ]]; then
    grep -qx 'prefix=/opt/greenrt' "$pc2" || fail "second install: $(grep '^prefix=' "$pc2")"
    grep -qx 'libdir=${prefix}/lib64' "$pc2" || fail "second install: $(grep '^libdir=' "$pc2")"
    got=$(PKG_CONFIG_SYSROOT_DIR=$stage2 PKG_CONFIG_PATH=$stage2/opt/greenrt/lib64/pkgconfig \
          pkg-config --libs greenrt)
    [[ $got == *"-L$stage2/opt/greenrt/lib64 "* ]] || fail "second install: pkg-config --libs says '$got'"
  else
    fail "second install: no greenrt.pc under LIBDIR/pkgconfig"
  fi
else
  tail -20 "$TMP/install2.log"; fail "make install-lib PREFIX=/opt/greenrt LIBDIR=/opt/greenrt/lib64 failed"
fi

# Uninstall removes exactly what install put there.
if gr_make uninstall DESTDIR="$stage" PREFIX=/usr > "$TMP/uninstall.log" 2>&1; then
  (cd "$stage" && find . ! -type d | sort) > "$TMP/left"
  if [[ -s $TMP/left ]]; then
    sed 's/^/  left: /' "$TMP/left"; fail "make uninstall left $(wc -l < "$TMP/left") files"
  fi
else
  tail -20 "$TMP/uninstall.log"; fail "make uninstall failed"
fi
finish
