# why.awk - compare.sh --why: where each server model waits, from one more
# run of each under `gtrace run --offcpu --counters` (its folded off-CPU
# stacks, its JSON flattened by jflat.awk, and the load's figures).
#
#   awk -v outdir=OUT -v models=greenrt,threads -v levels=1000 -f why.awk \
#       OUT/why/MODEL-cLEVEL/{offcpu.folded,gtrace.flat,load.flat} ...
#
# Prints one sentence per model and level, and a comparison of the waits'
# distributions and the counters, all computed from the figures, and
# writes OUT/why.html (the sentences; html.sh adds the flame graphs).
#
# The threads' off-CPU time is put in classes by the kernel path it was
# spent in (the first class whose frames a stack holds, in the order
# below), the goroutines' by their wait reason.  POSIX awk (mawk) only.

BEGIN {
    nm = split(models, M, ",")
    nl = split(levels, L, ",")
    # class: a frame pattern, and what it means
    nclass = 0
    class("\\[preempted\\]$", "preempted (runnable, waiting for a CPU)")
    class("io_uring_enter|io_cqring_wait", "io_uring_enter (a worker asleep until completions arrive)")
    class("epoll_wait|ep_poll", "epoll_wait")
    class("futex", "futex (locks, condition variables, joins)")
    class("recvmsg|recvfrom|ksys_read|sys_read|pipe_read", "read/recv (waiting for a request)")
    class("sendmsg|sendto|ksys_write|sys_write|pipe_write", "write/send")
    class("accept", "accept")
    class("do_sys_poll|do_select|core_sys_select", "poll/select")
    class("nanosleep", "sleep")
    class("sigtimedwait|sigsuspend|sys_pause|sigwait", "waiting for a signal (shutdown)")
    class("do_signal_stop", "stopped by a signal")
}

function class(re, what) { nclass++; CRE[nclass] = re; CWHAT[nclass] = what }

# model and level of the file being read (OUT/why/MODEL-cLEVEL/FILE)
function where(f,    n, p, d) {
    n = split(f, p, "/")
    d = p[n - 1]
    KEY = d
    MODEL[d] = substr(d, 1, index(d, "-c") - 1)
    LEVEL[d] = substr(d, index(d, "-c") + 2)
}

FNR == 1 { where(FILENAME) }

# the folded stacks: "process;thread;frames... NS"
FILENAME ~ /offcpu\.folded$/ {
    ns = $NF + 0
    stack = substr($0, 1, length($0) - length($NF) - 1)
    n = split(stack, fr, ";")
    if (fr[2] == "[goroutines]") {
        leaf = fr[n]
        if (leaf == "[runnable]") { grun[KEY] += ns; next }
        gsub(/^\[|\]$/, "", leaf)
        gpark[KEY] += ns; greason[KEY, leaf] += ns; REASONS[leaf] = 1
        next
    }
    toff[KEY] += ns
    for (c = 1; c <= nclass; c++) {
        for (i = n; i >= 3; i--) if (fr[i] ~ CRE[c]) break
        if (i >= 3) break
    }
    tclass[KEY, c <= nclass ? c : 0] += ns
    next
}

FILENAME ~ /gtrace\.flat$/ { F[KEY, $1] = $2; next }
FILENAME ~ /load\.flat$/ { LD[KEY, $1] = $2; next }

function fmt_s(ns) {
    if (ns >= 1e9) return sprintf("%.1f s", ns / 1e9)
    if (ns >= 1e6) return sprintf("%.1f ms", ns / 1e6)
    if (ns >= 1e3) return sprintf("%.1f us", ns / 1e3)
    return sprintf("%.0f ns", ns)
}
function commas(x,    s, out) {
    s = sprintf("%.0f", x); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
}
function pct(a, b) { return b > 0 ? sprintf("%.1f%%", 100 * a / b) : "0%" }
function html(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
function fig(k, name) { return F[k, "summary/" name] }

# "96.1% blocked in read/recv, 2.3% in write/send, ..." (largest first, >= 0.5%)
function shares(k,    c, best, done, s, n, v) {
    s = ""; n = 0
    delete done
    for (;;) {
        best = -1
        for (c = 0; c <= nclass; c++)
            if (!((c) in done) && (k, c) in tclass && (best < 0 || tclass[k, c] > tclass[k, best])) best = c
        if (best < 0) break
        done[best] = 1
        v = tclass[k, best]
        if (v < toff[k] * 0.005 && n > 0) continue
        s = s (n++ ? ", " : "") pct(v, toff[k]) " " (!best ? "elsewhere" : (CWHAT[best] ~ /^(preempted|stopped|waiting)/ ? "" : "in ") CWHAT[best])
    }
    return s
}

function gshares(k,    r, best, done, s, n) {
    s = ""; n = 0
    delete done
    for (;;) {
        best = ""
        for (r in REASONS)
            if (!(r in done) && (k, r) in greason && (best == "" || greason[k, r] > greason[k, best])) best = r
        if (best == "") break
        done[best] = 1
        if (greason[k, best] < gpark[k] * 0.005 && n > 0) continue
        s = s (n++ ? ", " : "") pct(greason[k, best], gpark[k]) " on " best
    }
    return s
}

function say(s) { print "  " s; print "<li>" html(s) "</li>" > (outdir "/why.html") }

END {
    printf "" > (outdir "/why.html")
    print "\nWhere they wait (one more run of each, traced with gtrace --offcpu --counters; its probes slow the"
    print "greenrt server's goroutine switches, so its speed is not the table's):"
    print "<p>One more run of each server, traced with <code>gtrace run --offcpu --counters</code> (its probes cost the greenrt server a uprobe trap per goroutine park, ready and switch, so this run's speed is not the table's):</p>\n<ul>" > (outdir "/why.html")
    for (li = 1; li <= nl; li++) {
        lv = L[li]
        for (j = 1; j <= nm; j++) {
            k = M[j] "-c" lv
            if (!((k, "duration_s") in F)) { say("C=" commas(lv) ": " M[j] ": no --offcpu run (see OUT/why/" k ")"); continue }
            thr = fig(k, "mem.threads_peak"); if (thr == "") thr = fig(k, "sched.threads")
            s = "C=" commas(lv) ": " M[j] ": its " commas(thr) " threads were off-CPU " fmt_s(toff[k]) " in all: " shares(k)
            if (gpark[k] > 0)
                s = s "; its goroutines were parked " fmt_s(gpark[k]) ": " gshares(k) ", and waited " fmt_s(grun[k]) " for a worker once made ready"
            say(s)
        }
        # the waits on one scale: the OS run queue vs greenrt's
        s = "C=" commas(lv) ": how long a ready task waited to run: "
        n = 0
        for (j = 1; j <= nm; j++) {
            k = M[j] "-c" lv
            if (fig(k, "dist.os_runq.count") != "")
                s = s (n++ ? "; " : "") M[j] ": its threads for a CPU p50 " fmt_s(fig(k, "dist.os_runq.p50_ns")) ", p99 " fmt_s(fig(k, "dist.os_runq.p99_ns")) " (the OS run queue)"
            if (fig(k, "dist.g_runq.count") != "")
                s = s ", its goroutines for a worker p50 " fmt_s(fig(k, "dist.g_runq.p50_ns")) ", p99 " fmt_s(fig(k, "dist.g_runq.p99_ns")) " (greenrt's run queues)"
        }
        if (n) say(s)
        # counters per request
        s = "C=" commas(lv) ": per request (perf counters): "
        n = 0; hw = ""
        for (j = 1; j <= nm; j++) {
            k = M[j] "-c" lv
            req = LD[k, "served"] + 0
            if (req <= 0 || fig(k, "pmu.page_faults") == "") continue
            s = s (n++ ? "; " : "") M[j] " " sprintf("%.3f", fig(k, "pmu.context_switches") / req) " context switches, " sprintf("%.4f", fig(k, "pmu.page_faults") / req) " page faults"
            if (fig(k, "pmu.cycles") != "")
                s = s ", " commas(fig(k, "pmu.cycles") / req) " cycles at " sprintf("%.2f", fig(k, "pmu.ipc")) " instructions per cycle"
            else
                hw = "; cycles, instructions and cache misses: not available here (this machine has no PMU)"
        }
        if (n) say(s hw)
    }
    print "</ul>" > (outdir "/why.html")
}
