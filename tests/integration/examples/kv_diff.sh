#!/usr/bin/env bash
# kv_diff.sh: the differential test.  The same scripted commands go to a
# real redis-server (no persistence) and to kv_threads and kv_greenrt, and
# the replies must be identical: through redis-cli (errors, every command
# and option kv implements, binary-safe keys and values with \r\n and NUL,
# expiry after a sleep, -x from stdin), and as raw bytes through kv_probe
# (a pipelined script of RESP arrays and inline commands sent in one write,
# then in small pieces; protocol errors, each answered and then closed).
# Expired keys that are never read must vanish (the active-expiry sweeper).
set -u
cd "$(dirname "$0")/../../.."
source tests/integration/examples/lib.sh
need_cmd redis-server redis-server
need_cmd redis-cli redis-tools
need_bin tests/examples/kv_probe
need_bin kv_threads
D=tests/integration/examples/kv_diff
PROBE=$BUILD/tests/examples/kv_probe

models=(kv_threads)
if [[ -x $BUILD/kv_greenrt ]]; then models+=(kv_greenrt); else echo "note: $BUILD/kv_greenrt not built, only kv_threads is compared"; fi

start_redis
declare -A port
port[redis]=$REDIS_PORT
declare -A pid
for m in "${models[@]}"; do
  "$BUILD/$m" --host 127.0.0.1 --port 0 >"$TMP/$m.out" 2>"$TMP/$m.err" &
  pid[$m]=$!
  BG_PIDS+=("${pid[$m]}")
  for ((i = 0; i < 100; i++)); do
    port[$m]=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/$m.out" 2>/dev/null)
    [[ -n ${port[$m]} ]] && break
    sleep 0.1
  done
  [[ -n ${port[$m]} ]] || die "$m did not start: $(cat "$TMP/$m.err")"
  echo "$m listening on port ${port[$m]}"
done
targets=(redis "${models[@]}")

# same NAME: every target's $TMP/NAME.<target> must equal redis's
same() {
  local name=$1 t
  for t in "${models[@]}"; do
    if ! cmp -s "$TMP/$name.redis" "$TMP/$name.$t"; then
      diff <(od -c "$TMP/$name.redis") <(od -c "$TMP/$name.$t") | head -n 20
      diff "$TMP/$name.redis" "$TMP/$name.$t" | head -n 40
      die "$t differs from redis-server on $name"
    fi
  done
  echo "ok $name ($(wc -c <"$TMP/$name.redis") bytes of replies, identical)"
}

cli() { timeout 20 redis-cli -p "${port[$1]}" --no-raw "${@:2}"; }

# 1. redis-cli, one command per line (redis-cli quotes what it prints)
for t in "${targets[@]}"; do cli "$t" <"$D/cli.txt" >"$TMP/cli.$t" 2>&1; done
same cli
[[ $(wc -l <"$TMP/cli.redis") -ge 150 ]] || die "redis-cli printed too little: $(head "$TMP/cli.redis")"

# 2. expiry: a key with PX 100 is gone 300 ms later, the others are not
for t in "${targets[@]}"; do cli "$t" <"$D/expire1.txt" >"$TMP/expire1.$t" 2>&1; done
same expire1
sleep 0.3
for t in "${targets[@]}"; do cli "$t" <"$D/expire2.txt" >"$TMP/expire2.$t" 2>&1; done
same expire2

# 3. binary value from stdin (redis-cli -x), read back raw
for t in "${targets[@]}"; do
  printf 'a\r\nb\0c\377' | timeout 20 redis-cli -p "${port[$t]}" -x SET xbin >/dev/null
  timeout 20 redis-cli -p "${port[$t]}" GET xbin >"$TMP/xbin.$t"
done
same xbin
[[ $(od -An -c "$TMP/xbin.redis" | tr -d ' \n') == 'a\r\nb\0c377\n' ]] || die "GET xbin gave $(od -c "$TMP/xbin.redis")"

# 4. raw RESP, pipelined: one write, then 3-byte pieces 100 us apart
raw() {  # raw NAME TARGET [CHUNK GAP]
  timeout 30 "$PROBE" raw "${port[$2]}" "${@:3}" <"$TMP/$1.in" >"$TMP/$1.$2" 2>"$TMP/$1.$2.err" \
    || die "kv_probe raw to $2 failed on $1"
}
bash "$D/pipeline.sh" >"$TMP/pipeline.in"
for t in "${targets[@]}"; do raw pipeline "$t"; done
same pipeline
cp "$TMP/pipeline.in" "$TMP/split.in"
for t in "${targets[@]}"; do raw split "$t" 3 100; done
same split
cmp -s "$TMP/pipeline.redis" "$TMP/split.redis" || die "redis-server itself answered the split script differently"
grep -q '^:100' "$TMP/pipeline.redis" || die "the pipelined TTLs are missing"

# 5. protocol errors: the commands before it answered, the error, the close
n=0
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  n=$((n + 1))
  printf "$line" >"$TMP/perr$n.in"
  for t in "${targets[@]}"; do raw "perr$n" "$t"; done
  same "perr$n"
  grep -q 'Protocol error' "$TMP/perr$n.redis" || die "case $n ($line) is not a protocol error for redis-server"
done <"$D/protocol_errors.txt"

# 6. active expiry: 50 keys with PX 100, never read, must vanish
printf '*1\r\n$8\r\nFLUSHALL\r\n' >"$TMP/sweep.in"
for ((i = 0; i < 50; i++)); do printf 'SET sweep:%d x PX 100\r\n' "$i" >>"$TMP/sweep.in"; done
printf 'DBSIZE\r\nQUIT\r\n' >>"$TMP/sweep.in"
for t in "${targets[@]}"; do raw sweep "$t"; done
same sweep
for t in "${targets[@]}"; do
  for ((i = 0; i < 100; i++)); do
    k=$(timeout 20 redis-cli -p "${port[$t]}" DBSIZE)
    [[ $k == 0 ]] && break
    sleep 0.1
  done
  [[ $k == 0 ]] || die "$t: $k expired keys still counted 10 s later: no active expiry"
  echo "ok $t removed 50 expired keys that nobody read"
done

for t in "${models[@]}"; do
  kill -0 "${pid[$t]}" 2>/dev/null || die "$t died"
  kill -TERM "${pid[$t]}"
  wait "${pid[$t]}"; rc=$?
  [[ $rc == 0 ]] || die "$t exited $rc after SIGTERM"
done
echo "PASS kv_diff: ${models[*]} answer as redis-server does"
