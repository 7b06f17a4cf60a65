# pipeline.sh: prints the pipelined script of kv_diff.sh: RESP arrays and
# inline commands back to back, sent in one write.  TTLs are read in the
# same batch as they are set, so the answer does not depend on timing.
resp() {  # resp ARG...: one RESP array
  printf '*%d\r\n' $#
  local a
  for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}
resp FLUSHALL
resp SET t v
printf 'EXPIRE t 100\r\nTTL t\r\n'
resp SET t2 v EX 100
resp TTL t2
printf 'SET t3 v PX 100000\r\nTTL t3\r\n'
printf 'PING\r\nping "a b"\r\n'
printf '*2\r\n$4\r\nECHO\r\n$5\r\na\r\n\0b\r\n'
printf '*3\r\n$3\r\nSET\r\n$4\r\nb\0\r\n\r\n$6\r\n\r\n\0\377\r\n\r\n'
printf '*2\r\n$3\r\nGET\r\n$4\r\nb\0\r\n\r\n'
for i in $(seq 1 40); do resp SET "key:$i" "value-$i"; resp GET "key:$i"; resp INCR "n:$((i % 3))"; done
resp MSET x 1 y 2 z 3
resp MGET x y z w
resp LPUSH l a b c
printf 'LRANGE l 0 -1\r\nRPOP l 2\r\n'
printf 'set "q k" '"'"'v\\'"'"'x'"'"'\r\nget "q k"\r\n'
printf 'set "\\x41\\x00B" "\\t\\n"\r\nGET "A\\x00B"\r\n'
resp GET "A"
printf '\r\n\n*0\r\n'
resp nosuch a b
resp GET l
resp DBSIZE
resp QUIT
resp PING
