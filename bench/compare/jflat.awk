# jflat.awk - flattens a JSON document into one "path<TAB>value" line per
# scalar, so that shell and awk can pick figures out of gtrace's and
# loadgen's --json output without a JSON tool (POSIX awk: mawk works).
#
#   awk -f jflat.awk FILE     ->  summary/sched.voluntary<TAB>3025.0
#                                 latency_us/p99<TAB>9371.647
#                                 syscalls/0/name<TAB>read
#
# Path components are object keys (which may contain dots, as gtrace's
# summary keys do) and array indices from 0, joined by "/".  Strings are
# printed without their quotes; of the escapes only \" \\ \/ \t \n are
# decoded (enough for figures and names).  Malformed input is not
# diagnosed: the consumers check that the figures they need are there.
# The whole file as one record: RS is a byte JSON text never holds (a raw
# control character), so the file is read in one go - appending it line
# by line cost quadratic time (minutes for a 5 MB report).
BEGIN { RS = "\001" }
{ buf = buf $0 }

function emit(v,    p, d) {
    p = ""
    for (d = 1; d <= depth; d++)
        p = p (d > 1 ? "/" : "") (type[d] == "o" ? key[d] : idx[d])
    print p "\t" v
}

END {
    n = length(buf); i = 1; depth = 0
    while (i <= n) {
        c = substr(buf, i, 1)
        if (c == " " || c == "\t" || c == "\n" || c == "\r") { i++; continue }
        if (c == "{" || c == "[") {
            depth++
            type[depth] = (c == "{") ? "o" : "a"
            idx[depth] = 0; key[depth] = ""; expect_key[depth] = 1
            i++; continue
        }
        if (c == "}" || c == "]") { depth--; i++; continue }
        if (c == ",") {
            if (type[depth] == "o") expect_key[depth] = 1; else idx[depth]++
            i++; continue
        }
        if (c == ":") { expect_key[depth] = 0; i++; continue }
        if (c == "\"") {
            s = ""; i++
            while (i <= n) {
                c = substr(buf, i, 1)
                if (c == "\"") break
                if (c == "\\") {
                    i++; c = substr(buf, i, 1)
                    if (c == "n") c = "\n"; else if (c == "t") c = "\t"
                }
                s = s c; i++
            }
            i++
            if (type[depth] == "o" && expect_key[depth]) key[depth] = s
            else emit(s)
            continue
        }
        # number, true, false, null
        j = i
        while (j <= n && substr(buf, j, 1) !~ /[ \t\r\n,}\]]/) j++
        emit(substr(buf, i, j - i))
        i = j
    }
}
