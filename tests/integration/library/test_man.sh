#!/usr/bin/env bash
# test_man.sh - the manual is clean and complete:
#   - every page in man/ passes `mandoc -T lint -W warning` (no warning,
#     no error);
#   - every function greenrt.h declares has a page (it is a name in the
#     NAME section of a page in man/, so `man NAME` finds it), and every
#     name documented there, and every function in a SYNOPSIS, is declared;
#   - the link pages made by the build point at pages that exist;
#   - gtrace(8) documents every option `gtrace --help` lists.
# Exit 0 pass, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"

command -v mandoc > /dev/null || { echo "FAIL: mandoc is not installed: run make deps"; exit 1; }
MAN=$LIB_SRC/man
pages=("$MAN"/*.[1-8])
[[ -e ${pages[0]} ]] || { echo "FAIL: no page in $MAN"; exit 1; }
echo "${#pages[@]} pages in man/"

if ! mandoc -T lint -W warning "${pages[@]}" > "$TMP/lint" 2>&1 || [[ -s $TMP/lint ]]; then
  cat "$TMP/lint"
  fail "mandoc -T lint -W warning reports $(wc -l < "$TMP/lint") problem(s)"
fi

header_functions > "$TMP/header" || { echo "FAIL: cannot list greenrt.h's functions"; exit 1; }
# Names in the NAME sections of the section-3 pages, without the overview.
awk '/^\.Sh / { in_name = ($2 == "NAME") } in_name && $1 == ".Nm" { print $2 }' "$MAN"/*.3 \
  | grep -vx greenrt | sort > "$TMP/named"
sort -u "$TMP/named" > "$TMP/named_u"
for f in $(uniq -d "$TMP/named"); do fail "$f is in the NAME section of two pages"; done
fail_missing "$TMP/header" "$TMP/named_u" \
  "%s is declared in greenrt.h but no page in man/ documents it (add it to a page's NAME section)"
fail_missing "$TMP/named_u" "$TMP/header" "man/ documents %s, which greenrt.h does not declare"
# Functions in the SYNOPSIS sections.
awk '/^\.Sh / { syn = ($2 == "SYNOPSIS") } syn && ($1 == ".Fn" || $1 == ".Fo") { print $2 }' "$MAN"/*.3 \
  | sort -u > "$TMP/synopsis"
fail_missing "$TMP/synopsis" "$TMP/header" "a SYNOPSIS shows %s, which greenrt.h does not declare"
fail_missing "$TMP/named_u" "$TMP/synopsis" "%s is named but has no prototype in its page's SYNOPSIS"
echo "$(wc -l < "$TMP/header") functions declared, $(wc -l < "$TMP/named_u") documented"

# The link pages the build made (mk/man.mk).
links=$BUILD/man/man3
if [[ -d $links ]]; then
  n=0
  for l in "$links"/*.3; do
    target=$(sed -n 's/^\.so man3\///p' "$l")
    [[ -n $target && -f $MAN/$target ]] || fail "$(basename "$l") points at '$target', which is not in man/"
    n=$((n + 1))
  done
  name_count=$(wc -l < "$TMP/named_u")
  pages3=$(ls "$MAN"/gr_*.3 2>/dev/null | sed 's/.*\///; s/\.3$//' | sort)
  want=$(comm -23 "$TMP/named_u" <(printf '%s\n' $pages3) | wc -l)
  [[ $n -eq $want ]] || fail "$n link pages in $links, expected $want (one per documented name without a page of its own; rebuild with make)"
  echo "$n link pages"
else
  fail "$links is missing: run make"
fi

# gtrace(8) against gtrace --help.
if [[ -x $BUILD/gtrace ]]; then
  "$BUILD/gtrace" --help | sed -n 's/^ *\(-[A-Za-z?], \)\{0,1\}--\([a-z][a-z-]*\).*/\2/p' | sort -u > "$TMP/opts"
  for o in $(cat "$TMP/opts"); do
    [[ $o == usage ]] && continue   # argp's own short usage
    grep -q -- "^\.It .*Fl \\\\-$o\\b" "$MAN/gtrace.8" || fail "gtrace(8) does not document --$o"
  done
  echo "gtrace --help lists $(wc -l < "$TMP/opts") long options"
else
  fail "$BUILD/gtrace is missing: run make"
fi
finish
