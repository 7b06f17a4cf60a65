#!/usr/bin/env bash
# group_echo: the README's shutdown pattern cannot rot.
#   1. the README's code block marked "checked: examples/group_echo.c" is
#      still the program's code: each of its paragraphs (runs of lines
#      between blank lines) appears verbatim, in order, in the file;
#   2. the program does what the README says: after SIGTERM the listener
#      refuses connections, a connection made before it is still served
#      during the grace period, an idle one is closed when the group's
#      deadline cancels it, and the server exits 0 with no goroutine left.
# Liveness is asserted with generous bounds; no duration is asserted.
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
SRC=examples/group_echo.c
MARK="<!-- checked: $SRC -->"

echo "* 1. the README quotes $SRC"
grep -qxF "$MARK" README.md || die "README.md has no block marked '$MARK'"
# The fenced block after the mark, then its paragraphs found in order.
awk -v mark="$MARK" '
  $0 == mark { want = 1; next }
  want == 1 && /^```/ { want = 2; next }
  want == 2 && /^```/ { exit }
  want == 2 { print }
' README.md >"$TMP/block"
[[ -s $TMP/block ]] || die "the block after '$MARK' is empty or not fenced"
awk '
  NR == FNR { src[++n] = $0; next }
  { block[++m] = $0 }
  END {
    pos = 1
    for (i = 1; i <= m; ) {
      while (i <= m && block[i] == "") i++
      if (i > m) break
      j = i
      while (j <= m && block[j] != "") j++
      # block[i .. j-1] must be consecutive lines of src, at pos or after
      found = 0
      for (s = pos; s + (j - i) - 1 <= n && !found; s++) {
        ok = 1
        for (k = 0; k < j - i; k++) if (src[s + k] != block[i + k]) { ok = 0; break }
        if (ok) { found = 1; pos = s + (j - i) }
      }
      if (!found) {
        printf "FAIL: README lines %d.. are not (in order) in the source:\n", i
        for (k = i; k < j; k++) print "  | " block[k]
        exit 1
      }
      i = j
    }
    printf "ok: %d README lines found in order in the source\n", m
  }
' "$SRC" "$TMP/block" || die "README.md and $SRC disagree: change both together"

echo "* 2. SIGTERM: refuse new connections, serve the old, cancel at the deadline, exit 0"
need_bin group_echo skip
start_server group_echo
exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT" || die "cannot connect (idle client)"
exec 4<>"/dev/tcp/127.0.0.1/$SRV_PORT" || die "cannot connect (active client)"
printf 'one\n' >&4
IFS= read -r -t 10 line <&4 || die "no echo before SIGTERM"
[[ $line == one ]] || die "echoed '$line', want 'one'"

kill -TERM "$SRV_PID"
# The listener is shut down: a new connection is refused.
refused=0
for ((i = 0; i < 100; i++)); do
  if ! (exec 5<>"/dev/tcp/127.0.0.1/$SRV_PORT") 2>/dev/null; then refused=1; break; fi
  sleep 0.1
done
((refused)) || die "still accepting connections 10 s after SIGTERM"
t0=$SECONDS
# Within the 5 s of grace the connection made before is still served.
printf 'two\n' >&4
if IFS= read -r -t 10 line <&4 && [[ $line == two ]]; then
  echo "ok: refused new connections, still served an old one after SIGTERM"
elif ((SECONDS - t0 >= 4)); then
  echo "note: the machine took $((SECONDS - t0)) s to send one line: the grace check is inconclusive"
else
  die "the connection was not served during the grace period (got '${line:-nothing}')"
fi
# The deadline cancels the members: both connections see end of file.
for fd in 3 4; do
  if IFS= read -r -t 30 line <&$fd; then die "fd $fd received '$line', want end of file"; fi
  (($? > 128)) && die "fd $fd not closed 30 s after SIGTERM (the deadline is 5 s)"
done
exec 3<&- 4<&-
echo "ok: both connections closed by the group's deadline"
for ((i = 0; i < 300; i++)); do
  kill -0 "$SRV_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SRV_PID" 2>/dev/null && die "group_echo still running 30 s after SIGTERM"
rc=0
wait "$SRV_PID" || rc=$?
SRV_PID=
cat "$TMP/srv.err"
[[ $rc == 0 ]] || die "group_echo exited $rc, want 0"
grep -q 'no goroutine left' "$TMP/srv.err" || die "goroutines were left behind"
echo "ok: exit 0, no goroutine left"
