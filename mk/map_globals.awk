# map_globals.awk - prints the global symbols of a linker version script
# (runtime/greenrt.map), one per line: the names between `global:` and
# `local:` or the node's end, comments skipped.  Used by mk/runtime.mk
# (what libgreenrt.a keeps global) and tests/integration/library/lib.sh.
/^[ \t]*\/?\*/ { next }
/global:/ { on = 1; next }
/local:/ || /}/ { on = 0 }
on { gsub(/[ \t;]/, ""); if ($0 != "") print }
