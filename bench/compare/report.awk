# report.awk - turns compare.sh's runs.tsv (one line per run, tab-separated
# key=value pairs) into the comparison: the medians per model and level,
# printed as one table with the models side by side (and, with demo=1, one
# sentence per row computed from the figures, first model vs second - or,
# when threads, greenrt-epoll and greenrt are all there, what green threads
# (threads -> greenrt-epoll) and what io_uring (greenrt-epoll -> greenrt)
# each changed; for echo, the engine targets of issue 14; for kv and http,
# greenrt against the reference server and the targets), and
# written as results.json, table.html / sentences.html fragments and one
# gnuplot data file per charted figure, all in outdir.
#
#   awk -v outdir=DIR -v demo=0|1 -v config="k=v ..." -v models=a,b \
#       -v levels=100,1000 [-v workload=echo|kv|http] -f report.awk runs.tsv
#
# A level is a connection count, or for kv "CpP" (C connections,
# redis-benchmark -P P).
#
# A (model, level) cell is the median of the runs that succeeded; if none
# did, it says "not run" or "failed", and the reason is printed under the
# table (never dropped).  POSIX awk (mawk) only.

BEGIN {
    FS = "\t"
    AUX["kstack_kb"]; AUX["task_struct_kb"]; AUX["socket_kb"]
    if (workload == "") workload = "echo"
    nm = split(models, M, ",")
    nl = split(levels, L, ",")
    # the rows: id, label, kind (how to print)
    nr = 0
    if (workload == "kv") {
        row("set_rps",              "SET ops/s",                     "int")
        row("get_rps",              "GET ops/s",                     "int")
        row("set_p99_ms",           "SET p99 latency (ms)",          "ms")
        row("get_p99_ms",           "GET p99 latency (ms)",          "ms")
        row("cpu_us_per_req",       "server CPU us/op (user+sys)",   "us")
        row("syscalls_per_req",     "syscalls/op",                   "per")
        row("vcsw_per_req",         "OS switches/op, voluntary",     "per")
        row("ivcsw_per_req",        "OS switches/op, involuntary",   "per")
        row("uring_enters_per_req", "io_uring enters/op",            "per")
        row("epoll_waits_per_req",  "epoll waits/op",                "per")
        row("gsw_per_req",          "goroutine switches/op",         "per")
        row("rss_peak_mb",          "server peak RSS (MB)",          "mb")
        row("threads",              "OS threads",                    "int")
        row("lg_cpu_pct",           "redis-benchmark CPU (% of one)", "pct")
        split("set_rps get_rps set_p99_ms get_p99_ms cpu_us_per_req syscalls_per_req vcsw_per_req ivcsw_per_req", CH, " ")
        REF = "redis"; UNIT = "op"
    } else if (workload == "http") {
        row("rps",                  "requests/s",                    "int")
        row("p50_ms",               "p50 latency (ms)",              "ms")
        row("p99_ms",               "p99 latency (ms)",              "ms")
        row("cpu_us_per_req",       "server CPU us/req (user+sys)",  "us")
        row("syscalls_per_req",     "syscalls/req",                  "per")
        row("vcsw_per_req",         "OS switches/req, voluntary",    "per")
        row("ivcsw_per_req",        "OS switches/req, involuntary",  "per")
        row("uring_enters_per_req", "io_uring enters/req",           "per")
        row("epoll_waits_per_req",  "epoll waits/req",               "per")
        row("gsw_per_req",          "goroutine switches/req",        "per")
        row("rss_peak_mb",          "server peak RSS (MB)",          "mb")
        row("threads",              "OS threads",                    "int")
        row("lg_cpu_pct",           "wrk CPU (% of one CPU)",        "pct")
        split("rps p99_ms cpu_us_per_req syscalls_per_req vcsw_per_req ivcsw_per_req", CH, " ")
        REF = "nginx"; UNIT = "req"
    } else {
        row("rps",                  "requests/s",                    "int")
        row("p50_ms",               "p50 latency (ms)",              "ms")
        row("p99_ms",               "p99 latency (ms)",              "ms")
        row("rss_peak_mb",          "server peak RSS (MB)",          "mb")
        row("rss_per_conn_kb",      "RSS per connection (KB)",       "kb")
        row("vsz_per_conn_kb",      "address space per conn (KB)",   "kb")
        row("kern_per_conn_kb",     "kernel memory per conn (KB)",   "kb")
        row("threads",              "OS threads",                    "int")
        row("vcsw_per_req",         "OS switches/req, voluntary",    "per")
        row("ivcsw_per_req",        "OS switches/req, involuntary",  "per")
        row("syscalls_per_req",     "syscalls/req",                  "per")
        row("uring_enters_per_req", "io_uring enters/req",           "per")
        row("epoll_waits_per_req",  "epoll waits/req",               "per")
        row("gsw_per_req",          "goroutine switches/req",        "per")
        row("cpu_us_per_req",       "server CPU us/req (user+sys)",  "us")
        row("lg_cpu_pct",           "loadgen CPU (% of one CPU)",    "pct")
        split("rps p99_ms rss_per_conn_kb kern_per_conn_kb threads vcsw_per_req ivcsw_per_req syscalls_per_req cpu_us_per_req", CH, " ")
    }
}

# "C = 1,000 connections" or, for kv, "C = 1,000 connections, -P 16"
function level_label(c,    a) {
    if (index(c, "p")) { split(c, a, "p"); return "C = " commas(a[1]) " connections, -P " a[2] }
    return "C = " commas(c) " connections"
}
function level_conns(c,    a) { split(c, a, "p"); return a[1] + 0 }
function level_pipe(c,    a) { if (!index(c, "p")) return 1; split(c, a, "p"); return a[2] + 0 }

function row(id, label, kind) { nr++; RID[nr] = id; RLABEL[nr] = label; RKIND[nr] = kind }

{
    delete f
    for (i = 1; i <= NF; i++) {
        eq = index($i, "=")
        if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    m = f["model"]; c = f["level"]; st = f["status"]
    nruns++
    RUN[nruns] = $0
    total[m, c]++
    if (st == "ok") {
        ok[m, c]++
        for (r = 1; r <= nr; r++) {
            id = RID[r]
            if (id in f) { n = ++cnt[m, c, id]; val[m, c, id, n] = f[id] + 0 }
        }
        # figures the sentences quote that are no row of their own
        for (id in AUX)
            if (id in f) { n = ++cnt[m, c, id]; val[m, c, id, n] = f[id] + 0 }
    } else {
        nbad[m, c, st]++
        if (!((m, c, st) in why)) why[m, c, st] = f["reason"]
    }
}

function median(m, c, id,    n, i, j, t, a) {
    n = cnt[m, c, id]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) a[i] = val[m, c, id, i]
    for (i = 2; i <= n; i++) {          # insertion sort: n is a few repeats
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

function commas(x,    s, neg, out) {
    s = sprintf("%.0f", x); neg = ""; out = ""
    if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return neg s out
}

function fmt(kind, x) {
    if (x == "") return "n/a"
    if (kind == "int") return commas(x)
    if (kind == "pct") return sprintf("%.0f%%", x)
    if (kind == "mb") return sprintf("%.1f", x)
    if (kind == "per" || kind == "kb" || kind == "ms" || kind == "us") {
        if (x == 0) return "0"
        if (x < 0.01) return sprintf("%.4f", x)
        if (x < 10) return sprintf("%.3f", x)
        if (x < 1000) return sprintf("%.1f", x)
        return commas(x)
    }
    return x
}

# cell(m, c, id): the printed cell, and the state of (m, c)
function state(m, c) {
    if (ok[m, c] > 0) return "ok"
    if (nbad[m, c, "failed"] > 0) return "failed"
    if (nbad[m, c, "notrun"] > 0) return "not run"
    return "absent"
}

function jstr(s) {
    gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s)
    return "\"" s "\""
}
function jval(s) { return (s ~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) ? s + 0 : jstr(s) }
function html(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }

function ratio(a, b) { return (b > 0) ? a / b : 0 }
function times(a, b,    r) {   # "3.2x" for the larger over the smaller
    if (a == 0 || b == 0) return ""
    r = (a > b) ? a / b : b / a
    return (r >= 100) ? sprintf("%.0fx", r) : sprintf("%.1fx", r)
}

# One sentence per row for --demo: what the measured figures show, A vs B
# (the first two models) at level c.  Every clause depends on the figures.
function sentence(r, c, A, B,    id, a, b, k, fa, fb, s, more, nconn, cpus, kk, kt, ks) {
    id = RID[r]; k = RKIND[r]
    a = median(A, c, id); b = median(B, c, id)
    fa = fmt(k, a); fb = fmt(k, b)
    s = RLABEL[r] ": " A " " fa " vs " B " " fb
    if (a == "" || b == "") {
        if (id == "gsw_per_req" && a != "")
            return s " - each request resumes a " A " goroutine " fa " times in user space (no kernel entry); " B " has no goroutines for gtrace to see"
        return s " - not measured for both"
    }
    a += 0; b += 0
    nconn = commas(c); cpus = CONF["cpus"]
    if (id == "rps") {
        if (a >= b) return s " - " A " served " sprintf("%.2f", ratio(a, b)) "x as many requests per second as " B ", same " nconn " connections, same load generator"
        return s " - " B " served " sprintf("%.2f", ratio(b, a)) "x as many requests per second as " A " here"
    }
    if (id == "p50_ms" || id == "p99_ms") {
        more = (id == "p50_ms") ? "the typical request" : "the slowest 1% of requests"
        if (a <= b) return s " - " more " waited " sprintf("%.2f", ratio(b, a)) "x as long under " B " as under " A
        return s " - " more " waited " sprintf("%.2f", ratio(a, b)) "x as long under " A " as under " B
    }
    if (id == "rss_peak_mb")
        return s " - the whole server's resident memory at its peak" (a < b ? ", " times(a, b) " less for " A : ", " times(a, b) " less for " B)
    if (id == "rss_per_conn_kb") {
        if (a < b) return s " - resident user memory: a parked goroutine keeps only the touched pages of its small stack, a thread the touched pages of its own user stack"
        return s " - " A " paid at least as much resident memory per connection as " B " here"
    }
    if (id == "vsz_per_conn_kb") {
        if (a < b) return s " - address space reserved, touched or not: each " B " connection reserves a whole thread stack up front (" times(a, b) " more than " A "), of which only the touched pages become resident (the row above)"
        return s " - address space reserved per connection, touched or not"
    }
    if (id == "kern_per_conn_kb") {
        kk = median(B, c, "kstack_kb"); kt = median(B, c, "task_struct_kb"); ks = median(B, c, "socket_kb")
        more = (kk != "" && kt != "") ? " (a " fmt("kb", kk) " KB kernel stack and a " fmt("kb", kt) " KB task_struct per thread, measured by gtrace)" : ""
        return s " - the kernel's part, per task (threads' kernel stacks and task_structs, page tables, sockets' slab objects, over the idle server): " (a < b ? B " pays for a thread per connection" more (ks != "" ? ", both for a socket (" fmt("kb", ks) " KB of slab objects)" : "") : "the kernel holds about as much for each") \
            ". Per connection, " A ": " fmt("kb", median(A, c, "vsz_per_conn_kb")) " KB reserved, " fmt("kb", median(A, c, "rss_per_conn_kb")) " KB resident, " fmt("kb", a) " KB in the kernel; " \
            B ": " fmt("kb", median(B, c, "vsz_per_conn_kb")) " KB reserved, " fmt("kb", median(B, c, "rss_per_conn_kb")) " KB resident, " fmt("kb", b) " KB in the kernel - \"a thread costs a megabyte\" is its reserved part, \"a goroutine costs 2 KB\" its resident part, and the kernel's share is left out of both"
    }
    if (id == "threads") {
        if (a < b) return s " - " A " multiplexes " nconn " connections onto a few worker threads; the " B " server runs " commas(b) " OS threads for them"
        return s " - " B " needed no more OS threads than " A
    }
    if (id == "vcsw_per_req") {
        if (a < b) return s " (" times(a, b) " fewer) - " A " parks a waiting goroutine in user space, while the " B " server's threads block in the kernel and are switched out"
        return s " - " A "'s workers blocked in the kernel at least as often as " B "'s threads"
    }
    if (id == "ivcsw_per_req") {
        if (a < b) return s " (" times(a, b) " fewer) - the " B " server gives the kernel " commas(median(B, c, "threads")) " threads to time-slice on " cpus " CPUs; " A "'s few workers are rarely preempted"
        return s " - " A " was preempted by the kernel at least as often as " B
    }
    if (id == "syscalls_per_req") {
        if (a < b && A == "greenrt") return s " (" times(a, b) " fewer) - " A " batches many goroutines' reads and writes into io_uring, one kernel entry per scheduling round, while the " B " server makes its own system calls for every request"
        if (a < b) return s " (" times(a, b) " fewer) - " A " made fewer kernel entries per request than " B
        return s " - " A " did not make fewer kernel entries than " B " here"
    }
    if (id == "uring_enters_per_req") {
        if (a > 0 && b == 0) return s " - " A "'s kernel entries are io_uring_enter(2) calls, each carrying " sprintf("%.1f", ratio(1, a)) " requests on average; " B " does not use io_uring"
        return s " - io_uring_enter(2) calls per request served"
    }
    if (id == "epoll_waits_per_req") {
        if (a > 0 || b > 0) return s " - an event loop's waits for readiness: each epoll_wait(2) harvests many sockets' events"
        return s " - neither waits in epoll"
    }
    if (id == "gsw_per_req")
        return s " - goroutine switches happen in user space and cost no kernel entry"
    if (id == "cpu_us_per_req") {
        if (ratio(a, b) > 0.95 && ratio(a, b) < 1.05) return s " - about the same server CPU per request (user+sys from /proc, within 5%)"
        if (a < b) return s " - " A " spent " times(a, b) " less server CPU per request (user+sys from /proc), the fairest efficiency figure while loadgen shares the " cpus " CPUs"
        return s " - " B " spent " times(a, b) " less server CPU per request (user+sys from /proc)"
    }
    if (id == "lg_cpu_pct") {
        if (a < 90 && b < 90) return s " - loadgen stayed below 90% of a CPU for both, so the servers, not the load generator, set the pace"
        return s " - loadgen was near a full CPU: it may have limited the faster server"
    }
    return s
}

# --- threads, greenrt-epoll, greenrt: what each step changed -------------
# threads -> greenrt-epoll: the same readiness-based system calls, but a
# goroutine per connection on a few workers instead of a thread: green
# threads.  greenrt-epoll -> greenrt: the same goroutines and scheduler,
# the other engine: io_uring.

# "2.3x fewer", "1.4x higher", "about the same": b against a, in the words
# that suit the figure (counts are fewer/more, rates and times lower/higher).
function change(id, a, b,    r, up, down) {
    if (a == 0 && b == 0) return "none either way"
    if (a == 0 || b == 0) return (b == 0) ? "down to none" : "up from none"
    r = b / a
    if (r > 0.95 && r < 1.05) return "about the same (within 5%)"
    if (id ~ /_ms$|_kb$|_mb$|cpu|rps/) { up = "higher"; down = "lower" } else { up = "more"; down = "fewer" }
    return (r > 1) ? sprintf("%.2fx %s", r, up) : sprintf("%.2fx %s", 1 / r, down)
}

# Of the whole change threads -> greenrt, the share of each step, when both
# steps changed the figure (by more than 5%) the same way:
# " (of the whole change: green threads P%, io_uring Q%)".
function shares(id, t, e, u,    d) {
    d = u - t
    if (d == 0 || (e - t) * d <= 0 || (u - e) * d <= 0) return ""
    if (change(id, t, e) ~ /about|none/ || change(id, e, u) ~ /about|none/) return ""
    return sprintf(" (of the whole change: green threads %.0f%%, io_uring %.0f%%)", 100 * (e - t) / d, 100 * (u - e) / d)
}

function better(id, a, b) { return (id == "rps") ? b > a * 1.05 : b < a * 0.95 }

function three(r, c,    id, k, t, e, u, s, w1, w2) {
    id = RID[r]; k = RKIND[r]
    t = median("threads", c, id); e = median("greenrt-epoll", c, id); u = median("greenrt", c, id)
    s = RLABEL[r] ": threads " fmt(k, t) ", greenrt-epoll " fmt(k, e) ", greenrt " fmt(k, u)
    if (t == "" || e == "" || u == "") {
        if (id == "gsw_per_req" && e != "" && u != "")
            return s " - goroutine switches, in user space, on both engines; threads have none for gtrace to see"
        return s " - not measured for all three"
    }
    t += 0; e += 0; u += 0
    w1 = "green threads: " change(id, t, e); w2 = "io_uring: " change(id, e, u)
    if (id == "vcsw_per_req" && better(id, t, e))
        w1 = w1 " (a goroutine waiting for its socket parks in user space; a thread blocks in the kernel)"
    if (id == "ivcsw_per_req" && better(id, t, e))
        w1 = w1 " (" commas(t > 0 ? median("threads", c, "threads") : 0) " threads time-sliced on " CONF["cpus"] " CPUs, against a few workers)"
    if ((id == "rss_per_conn_kb" || id == "rss_peak_mb") && better(id, t, e))
        w1 = w1 " (a goroutine's stack costs the pages it touched; a thread's, a kernel stack too)"
    if (id == "threads" && better(id, t, e))
        w1 = w1 " (" commas(c) " connections on a few workers)"
    if (id == "syscalls_per_req" && better(id, e, u))
        w2 = w2 " (one io_uring_enter per scheduling round carries many goroutines' reads and writes; epoll makes a system call per read, per write, per read that would block)"
    if (id == "syscalls_per_req" && !better(id, t, e))
        w1 = w1 " (threads and greenrt-epoll both make a system call per read and write)"
    if (id == "cpu_us_per_req" && better(id, e, u))
        w2 = w2 " (fewer kernel entries per request)"
    if (id == "epoll_waits_per_req" && u == 0 && e > 0)
        w2 = w2 " (io_uring waits in io_uring_enter)"
    if (id == "uring_enters_per_req" && e == 0 && u > 0)
        w2 = "io_uring: " sprintf("%.1f", ratio(1, u)) " requests per io_uring_enter"
    s = s " - " w1 "; " w2 shares(id, t, e, u)
    # memory: what greenrt against threads explains (the three parts of a
    # connection's memory), in the two-model sentence's words
    if (id == "vsz_per_conn_kb" || id == "kern_per_conn_kb") {
        w1 = sentence(r, c, "greenrt", "threads")
        s = s substr(w1, index(w1, " - "))
    }
    return s
}

# The targets of issue 14 at level c: greenrt-epoll serves at least Go's
# requests/s with at most Go's server CPU per request; greenrt (io_uring)
# makes at least 10x fewer system calls per request than greenrt-epoll,
# with less CPU per request.
function targets(c,    s, a, b, ca, cb, sa, sb, ok) {
    s = ""
    if (state("greenrt-epoll", c) == "ok" && state("go", c) == "ok") {
        a = median("greenrt-epoll", c, "rps"); b = median("go", c, "rps")
        ca = median("greenrt-epoll", c, "cpu_us_per_req"); cb = median("go", c, "cpu_us_per_req")
        ok = (a >= b && ca <= cb)
        s = s sprintf("  %s: greenrt-epoll vs go: %.2fx the requests/s, %.2fx the server CPU per request (%s vs %s us); target (>= 1x the requests/s at <= 1x the CPU): %s\n", level_label(c), ratio(a, b), ratio(ca, cb), fmt("us", ca), fmt("us", cb), ok ? "met" : "not met" (a >= b ? "" : " (rate)") (ca <= cb ? "" : " (CPU)"))
    }
    if (state("greenrt", c) == "ok" && state("greenrt-epoll", c) == "ok") {
        sa = median("greenrt", c, "syscalls_per_req"); sb = median("greenrt-epoll", c, "syscalls_per_req")
        ca = median("greenrt", c, "cpu_us_per_req"); cb = median("greenrt-epoll", c, "cpu_us_per_req")
        if (sa != "" && sb != "") {
            ok = (sa > 0 && sb >= 10 * sa && ca < cb)
            s = s sprintf("  %s: greenrt (io_uring) vs greenrt-epoll: %s system calls per request (%s vs %s), %.2fx the server CPU per request (%s vs %s us); target (>= 10x fewer system calls, less CPU): %s\n", level_label(c), (sa > 0 ? sprintf("%.1fx fewer", sb / sa) : "no"), fmt("per", sa), fmt("per", sb), ratio(ca, cb), fmt("us", ca), fmt("us", cb), ok ? "met" : "not met" ((sa > 0 && sb >= 10 * sa) ? "" : " (syscalls)") (ca < cb ? "" : " (CPU)"))
        }
    }
    return s
}

# kv and http: greenrt against the reference server (redis-server, nginx)
# at level c, and the issue's targets: kv at least the reference's ops/s
# with at most 0.8x its server CPU per op at -P 1; http at least nginx's
# requests/s with no more CPU per request.
function versus(c,    g, r, s, id, a, b, cpu_a, cpu_b, ok_rate, ok_cpu, lim, i) {
    g = "greenrt"; r = REF
    if (state(g, c) != "ok" || state(r, c) != "ok") return ""
    s = level_label(c) ": greenrt vs " r ":"
    ok_rate = 1
    if (workload == "kv") {
        split("set_rps get_rps", id, " ")
        for (i = 1; i <= 2; i++) {
            a = median(g, c, id[i]); b = median(r, c, id[i])
            s = s sprintf(" %s %.2fx", (i == 1 ? "SET" : "GET"), ratio(a, b))
            if (a < b) ok_rate = 0
        }
        s = s " the ops/s,"
        lim = 0.8
    } else {
        a = median(g, c, "rps"); b = median(r, c, "rps")
        s = s sprintf(" %.2fx the requests/s,", ratio(a, b))
        if (a < b) ok_rate = 0
        lim = 1.0
    }
    cpu_a = median(g, c, "cpu_us_per_req"); cpu_b = median(r, c, "cpu_us_per_req")
    ok_cpu = (cpu_b > 0 && cpu_a <= lim * cpu_b)
    s = s sprintf(" %.2fx the server CPU per %s (%s vs %s us)", ratio(cpu_a, cpu_b), UNIT, fmt("us", cpu_a), fmt("us", cpu_b))
    if (workload == "kv" && level_pipe(c) != 1) return s
    return s sprintf("; target (>= 1x the %s/s at <= %.1fx the CPU per %s): %s", UNIT, lim, UNIT,
                     (ok_rate && ok_cpu) ? "met" : "not met" (ok_rate ? "" : " (rate)") (ok_cpu ? "" : " (CPU)"))
}

END {
    nc = split(config, CF, " ")
    for (i = 1; i <= nc; i++) { eq = index(CF[i], "="); CONF[substr(CF[i], 1, eq - 1)] = substr(CF[i], eq + 1) }

    # --- the text table ----------------------------------------------------
    w = 30; cw = 14
    if (workload == "kv")
        what = "kv: redis-benchmark -t set,get, " CONF["requests"] " requests per test (x10 with -P > 1) after a tenth as warm-up" (CONF["keyspace"] > 0 ? ", " CONF["keyspace"] " random keys" : ", one key")
    else if (workload == "http")
        what = "http: wrk -t1, GET /hello (14-byte body), " CONF["warmup"] " s warm-up + " CONF["duration"] " s per run"
    else
        what = CONF["size"] "-byte echo, closed loop, " CONF["warmup"] " s warm-up + " CONF["duration"] " s per run"
    lgname = (workload == "kv") ? "redis-benchmark" : (workload == "http") ? "wrk" : "loadgen"
    printf "\n%s\n", "greenrt vs the other models: " what ", median of " CONF["repeats"] " (interleaved)" (CONF["pin"] == 1 ? ", server pinned to CPU 0 and " lgname " to CPU 1" : ", server and " lgname " sharing " CONF["cpus"] " CPUs") (CONF["trace"] == 1 ? ", servers traced by gtrace" : ", untraced")
    th = "<table>\n<tr><th>C</th><th>figure</th>"
    for (j = 1; j <= nm; j++) th = th "<th>" html(M[j]) "</th>"
    th = th "</tr>\n"
    notes = ""
    for (li = 1; li <= nl; li++) {
        c = L[li]
        printf "\n%-*s", w, level_label(c)
        for (j = 1; j <= nm; j++) printf "%*s", cw, M[j]
        printf "\n"
        for (r = 1; r <= nr; r++) {
            printf "  %-*s", w - 2, RLABEL[r]
            th = th "<tr>" (r == 1 ? "<td rowspan=\"" nr "\" class=\"lvl\">" html(substr(level_label(c), 5)) "</td>" : "") "<td>" html(RLABEL[r]) "</td>"
            for (j = 1; j <= nm; j++) {
                s = state(M[j], c)
                cell = (s == "ok") ? fmt(RKIND[r], median(M[j], c, RID[r])) : (s == "absent" ? "-" : s "*")
                printf "%*s", cw, cell
                th = th "<td" (s == "ok" ? "" : " class=\"bad\"") ">" html(cell) "</td>"
            }
            printf "\n"
            th = th "</tr>\n"
        }
        for (j = 1; j <= nm; j++) {
            m = M[j]; s = state(m, c)
            if (s == "not run" || s == "failed") {
                n = sprintf("  * %s at %s: %s: %s", m, substr(level_label(c), 5), s, why[m, c, s == "failed" ? "failed" : "notrun"])
                print n; notes = notes "<li>" html(substr(n, 5)) "</li>\n"
            } else if (s == "ok" && ok[m, c] < total[m, c]) {
                k = (nbad[m, c, "failed"] > 0) ? "failed" : "notrun"
                n = sprintf("  ! %s at %s: median of %d runs; %d %s: %s", m, substr(level_label(c), 5), ok[m, c], total[m, c] - ok[m, c], k == "failed" ? "failed" : "not run", why[m, c, k])
                print n; notes = notes "<li>" html(substr(n, 5)) "</li>\n"
            }
        }
    }
    printf "\n  per %s = divided by every %s served while traced (warm-up + measured), so\n", (UNIT == "" ? "request" : UNIT == "op" ? "op" : "request"), (UNIT == "op" ? "operation" : "request")
    printf "  accepting and closing the connections is included; OS switches include io_uring workers;\n"
    if (workload == "echo")
        printf "  RSS per connection = (VmHWM - RSS when idle) / C; address space = (VmPeak - VmSize when idle) / C;\n  kernel memory = gtrace's estimate for the server (threads x (kernel stack + task_struct) + page tables\n  + sockets x slab objects) at its peak - when idle, / C; OS threads = most seen in /proc during the run.\n"
    else
        printf "  OS threads = most seen in /proc during the run.\n"
    th = th "</table>\n"
    if (notes != "") th = th "<ul class=\"notes\">\n" notes "</ul>\n"
    print th > (outdir "/table.html")

    # --- kv, http: greenrt against the reference server ---------------------
    if (workload == "kv" || workload == "http") {
        printf "" > (outdir "/sentences.html")
        hdr = 0
        for (li = 1; li <= nl; li++) {
            v = versus(L[li])
            if (v == "") continue
            if (!hdr++) { printf "\nAgainst %s:\n", REF; print "<ul>" > (outdir "/sentences.html") }
            printf "  %s\n", v
            print "<li>" html(v) "</li>" > (outdir "/sentences.html")
        }
        if (hdr) print "</ul>" > (outdir "/sentences.html")
    }

    # --- one sentence per row (demo) --------------------------------------
    for (j = 1; j <= nm; j++) HAVE[M[j]] = 1
    trio = ("threads" in HAVE) && ("greenrt-epoll" in HAVE) && ("greenrt" in HAVE)
    if (nm >= 2 && workload == "echo") {
        printf "" > (outdir "/sentences.html")
        if (demo == 1 && trio)
            printf "\nWhat the figures show (threads -> greenrt-epoll: what green threads change; greenrt-epoll -> greenrt: what io_uring changes):\n"
        else if (demo == 1)
            printf "\nWhat the figures show (%s vs %s):\n", M[1], M[2]
        for (li = 1; li <= nl; li++) {
            c = L[li]
            if (trio) {
                if (state("threads", c) != "ok" || state("greenrt-epoll", c) != "ok" || state("greenrt", c) != "ok") continue
                print "<h3>" level_label(c) ": threads, greenrt-epoll, greenrt</h3>\n<ul>" > (outdir "/sentences.html")
            } else {
                if (state(M[1], c) != "ok" || state(M[2], c) != "ok") continue
                print "<h3>" level_label(c) ": " html(M[1]) " vs " html(M[2]) "</h3>\n<ul>" > (outdir "/sentences.html")
            }
            for (r = 1; r <= nr; r++) {
                s = trio ? three(r, c) : sentence(r, c, M[1], M[2])
                if (demo == 1) printf "  %s%s.\n", (nl > 1 ? "C=" commas(c) ": " : ""), s
                print "<li>" html(s) ".</li>" > (outdir "/sentences.html")
            }
            print "</ul>" > (outdir "/sentences.html")
        }
    }

    # --- echo: the engine targets (issue 14) --------------------------------
    if (workload == "echo") {
        tg = ""
        for (li = 1; li <= nl; li++) tg = tg targets(L[li])
        if (tg != "") {
            printf "\nThe engines against their targets:\n%s", tg
            n = split(tg, TL, "\n")
            print "<h3>The engines against their targets</h3>\n<ul>" > (outdir "/sentences.html")
            for (i = 1; i <= n; i++) if (TL[i] != "") print "<li>" html(substr(TL[i], 3)) "</li>" > (outdir "/sentences.html")
            print "</ul>" > (outdir "/sentences.html")
        }
    }

    # --- results.json -------------------------------------------------------
    J = outdir "/results.json"
    printf "{\n  \"version\": 1,\n  \"tool\": \"greenrt bench/compare\",\n  \"config\": {" > J
    for (i = 1; i <= nc; i++) { eq = index(CF[i], "="); printf "%s%s: %s", (i > 1 ? ", " : ""), jstr(substr(CF[i], 1, eq - 1)), jval(substr(CF[i], eq + 1)) > J }
    printf "},\n  \"figures\": [" > J
    for (r = 1; r <= nr; r++) printf "%s{\"id\": %s, \"label\": %s}", (r > 1 ? ", " : ""), jstr(RID[r]), jstr(RLABEL[r]) > J
    printf "],\n  \"medians\": [\n" > J
    first = 1
    for (li = 1; li <= nl; li++) for (j = 1; j <= nm; j++) {
        m = M[j]; c = L[li]; s = state(m, c)
        printf "%s    {\"model\": %s, \"connections\": %d, %s\"status\": %s, \"runs\": %d, \"runs_ok\": %d", (first ? "" : ",\n"), jstr(m), level_conns(c), (workload == "kv" ? "\"pipeline\": " level_pipe(c) ", " : ""), jstr(s), total[m, c], ok[m, c] > J
        first = 0
        if (s == "not run" || s == "failed") printf ", \"reason\": %s", jstr(why[m, c, s == "failed" ? "failed" : "notrun"]) > J
        printf ", \"median\": {" > J
        k = 0
        for (r = 1; r <= nr; r++) {
            x = median(m, c, RID[r])
            if (x != "") printf "%s%s: %s", (k++ ? ", " : ""), jstr(RID[r]), x + 0 > J
        }
        printf "}}" > J
    }
    printf "\n  ],\n  \"runs\": [\n" > J
    for (i = 1; i <= nruns; i++) {
        n = split(RUN[i], P, "\t"); k = 0
        printf "%s    {", (i > 1 ? ",\n" : "") > J
        for (p = 1; p <= n; p++) {
            eq = index(P[p], "="); if (!eq) continue
            printf "%s%s: %s", (k++ ? ", " : ""), jstr(substr(P[p], 1, eq - 1)), jval(substr(P[p], eq + 1)) > J
        }
        printf "}" > J
    }
    printf "\n  ]\n}\n" > J

    # --- gnuplot data: one file per charted figure, a row per level ---------
    for (q = 1; q in CH; q++) {
        D = outdir "/plot-" CH[q] ".dat"
        printf "level" > D
        for (j = 1; j <= nm; j++) printf "\t%s", M[j] > D
        printf "\n" > D
        for (li = 1; li <= nl; li++) {
            printf "%s", (index(L[li], "p") ? commas(level_conns(L[li])) "/P" level_pipe(L[li]) : commas(L[li])) > D
            for (j = 1; j <= nm; j++) { x = median(M[j], L[li], CH[q]); printf "\t%s", (x == "" ? "?" : x) > D }
            printf "\n" > D
        }
        close(D)
    }
}
