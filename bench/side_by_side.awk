# side_by_side.awk - sets greenrt's benchmark medians beside Go's.
#
#   awk -f bench/side_by_side.awk GREENRT_OUTPUT [GO_OUTPUT...]
#
# Reads the JSON lines that bench_sched / bench_io (impl "greenrt") and
# go-bench (impl "go") print, ignores every other line, and prints one row
# per quantity: the median for each GR_PROCS / GOMAXPROCS value, the ratio
# greenrt / Go per value (below 1: greenrt is faster or smaller), and
# issue 2's target with "met" (every greenrt value within it) or "missed".
# Plain POSIX awk (mawk is Debian's default): no gawk extensions.

function field(s, k,    re, v) {
    re = "\"" k "\":(\"[^\"]*\"|[^,}]*)"
    if (!match(s, re))
        return ""
    v = substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
    gsub(/"/, "", v)
    return v
}

function num(v) {
    if (v == "" || v == "null")
        return "-"
    v += 0
    if (v >= 1000 || v <= -1000) return sprintf("%.0f", v)
    if (v >= 1 || v <= -1) return sprintf("%.1f", v)
    return sprintf("%.4f", v)
}

function ratio(a, b, u) {
    if (u == "ratio")
        return "-"
    if (a == "" || a == "null" || b == "" || b == "null" || b + 0 == 0)
        return "-"
    return sprintf("%.2f", (a + 0) / (b + 0))
}

BEGIN {
    # issue 2, "Benchmarks": targets for greenrt, at every GR_PROCS value
    target["spawn_join"] = 60
    target["chan_roundtrip"] = 80
    target["yield"] = 15
    target["parked_rss"] = 4600
    target["pipe_roundtrip"] = ""
    nb = 0; np = 0
}

/^\{"bench":/ {
    b = field($0, "bench"); impl = field($0, "impl"); p = field($0, "procs") + 0
    if (!(b in seen)) { seen[b] = 1; order[++nb] = b }
    if (!(p in pseen)) {
        pseen[p] = 1; procs[++np] = p
        for (i = np; i > 1 && procs[i - 1] > procs[i]; i--) {
            t = procs[i]; procs[i] = procs[i - 1]; procs[i - 1] = t
        }
    }
    u = field($0, "unit")
    if (u != "") unit[b] = u
    val[b, impl, p] = field($0, "median")
    have[impl] = 1
}

END {
    if (nb == 0) {
        print "side_by_side: no benchmark results in the input"
        exit 1
    }
    pl = ""
    for (i = 1; i <= np; i++) pl = pl (i > 1 ? "/" : "") procs[i]
    hdr = sprintf("%-20s %-5s", "figure", "unit")
    for (i = 1; i <= np; i++) hdr = hdr sprintf(" %10s", "greenrt " procs[i])
    for (i = 1; i <= np; i++) hdr = hdr sprintf(" %9s", "go " procs[i])
    for (i = 1; i <= np; i++) hdr = hdr sprintf(" %8s", "gr/go " procs[i])
    hdr = hdr sprintf("  %-8s %s", "target", "met?")
    print hdr
    line = hdr; gsub(/./, "-", line); print line
    for (k = 1; k <= nb; k++) {
        b = order[k]
        row = sprintf("%-20s %-5s", b, unit[b])
        for (i = 1; i <= np; i++) row = row sprintf(" %10s", num(val[b, "greenrt", procs[i]]))
        for (i = 1; i <= np; i++) row = row sprintf(" %9s", num(val[b, "go", procs[i]]))
        for (i = 1; i <= np; i++) row = row sprintf(" %8s", ratio(val[b, "greenrt", procs[i]], val[b, "go", procs[i]], unit[b]))
        verdict = ""; tgt = "-"
        if ((b in target) && target[b] != "") {
            tgt = "<= " target[b]
            verdict = "met"; any = 0
            for (i = 1; i <= np; i++) {
                v = val[b, "greenrt", procs[i]]
                if (v == "" || v == "null") { verdict = (verdict == "met" ? "n/a" : verdict); continue }
                any = 1
                if (v + 0 > target[b]) verdict = "missed"
            }
            if (!any) verdict = "n/a"
        }
        print row sprintf("  %-8s %s", tgt, verdict)
    }
    print ""
    print "procs = GR_PROCS for greenrt, GOMAXPROCS for go (" pl "); medians of the runs;"
    print "gr/go below 1: greenrt faster or smaller. Targets: issue 2, at every procs value."
    if (!("go" in have)) print "(no Go results: the Go twin was skipped)"
    if (!("greenrt" in have)) print "(no greenrt results)"
}
