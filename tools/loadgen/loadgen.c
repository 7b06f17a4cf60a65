/*
 * loadgen.c - the load generator's command line, run control and report.
 *
 * The main thread parses the flags, raises the open-files limit, starts
 * --threads workers (worker.c), each driving its share of the connections
 * from its own epoll loop, and then only watches: it waits until every
 * connection has connected (or failed), sets lg_t0 and lg_started, lets
 * the warm-up pass, sets lg_measure_start, and after --duration sets
 * lg_stop.  Once a second it prints a progress line (stderr) from the
 * workers' counters and a racy copy of their histograms (the difference
 * with the previous copy gives that second's percentiles).  At the end it
 * merges the histograms and prints requests/s, errors, latency percentiles
 * and its own CPU use (getrusage over the measured window), as text or as
 * one JSON object (--json; its fields are listed in README.md, "loadgen").
 *
 * Exit status: 0 when every measured request was verified and every
 * connection was made; 1 on any error, failed connection, or no request
 * at all; 2 on a usage error.
 */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int lg_started;
int lg_stop;
int64_t lg_t0;
int64_t lg_measure_start = INT64_MAX;

#define CONNECT_PHASE_MAX_S 60

static void usage(FILE *f)
{
    fprintf(f,
        "usage: loadgen --port N [options]\n"
        "  --host ADDR          server address (default 127.0.0.1)\n"
        "  -p, --port N         server port (required)\n"
        "  -c, --connections N  concurrent connections (default 50)\n"
        "  -P, --proto P        echo (default) or http\n"
        "  -s, --size N         echo message size in bytes (default 64)\n"
        "      --path PATH      HTTP path to GET (default /hello)\n"
        "  -r, --rate R         open loop: R requests/s in total, latency from\n"
        "                       the intended send time (default: closed loop)\n"
        "  -d, --duration S     measured seconds (default 10)\n"
        "  -w, --warmup S       seconds of load before measuring (default 0)\n"
        "  -t, --threads N      load-generator threads (default 1)\n"
        "      --json           print one JSON object at the end on stdout\n"
        "  -q, --quiet          no progress lines\n"
        "EXAMPLES\n"
        "  loadgen -p 9000 -c 1000 -d 10                 closed-loop echo\n"
        "  loadgen -p 9000 -c 100 -r 50000 -d 10          open loop, 50k req/s\n"
        "  loadgen -p 8080 -P http --path /hello -c 50 --json\n");
}

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "loadgen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see loadgen --help)\n");
    exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof(msg), "bad %s '%%s': expected %ld..%ld", what, lo, hi);
        die_usage(msg, s);
    }
    return v;
}

static double parse_double(const char *s, double lo, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo) || !isfinite(v)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "bad %s '%%s': expected a number >= %g", what, lo);
        die_usage(msg, s);
    }
    return v;
}

static void parse_args(lg_config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'H'},
        {"port", required_argument, 0, 'p'},
        {"connections", required_argument, 0, 'c'},
        {"proto", required_argument, 0, 'P'},
        {"size", required_argument, 0, 's'},
        {"path", required_argument, 0, 'U'},
        {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 't'},
        {"json", no_argument, 0, 'J'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = -1;
    cfg->connections = 50;
    cfg->size = 64;
    cfg->path = "/hello";
    cfg->duration = 10;
    cfg->threads = 1;
    cfg->proto = LG_ECHO;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "H:p:c:P:s:r:d:w:t:qh", longopts, NULL)) != -1) {
        switch (o) {
        case 'H': cfg->host = optarg; break;
        case 'p': cfg->port = (int)parse_long(optarg, 1, 65535, "--port"); break;
        case 'c': cfg->connections = (int)parse_long(optarg, 1, 1000000, "--connections"); break;
        case 's': cfg->size = (int)parse_long(optarg, 1, 1 << 20, "--size"); break;
        case 'U':
            if (optarg[0] != '/')
                die_usage("bad --path '%s': must start with /", optarg);
            for (const char *q = optarg; *q; q++)
                if ((unsigned char)*q <= ' ' || *q == 0x7f)
                    die_usage("bad --path '%s': no spaces or control characters", optarg);
            cfg->path = optarg;
            break;
        case 'r': cfg->rate = parse_double(optarg, 0, "--rate"); break;
        case 'd': cfg->duration = parse_double(optarg, 0.001, "--duration"); break;
        case 'w': cfg->warmup = parse_double(optarg, 0, "--warmup"); break;
        case 't': cfg->threads = (int)parse_long(optarg, 1, 256, "--threads"); break;
        case 'P':
            if (!strcmp(optarg, "echo"))
                cfg->proto = LG_ECHO;
            else if (!strcmp(optarg, "http"))
                cfg->proto = LG_HTTP;
            else
                die_usage("bad --proto '%s': expected echo or http", optarg);
            break;
        case 'J': cfg->json = 1; break;
        case 'q': cfg->quiet = 1; break;
        case 'h': usage(stdout); exit(0);
        default: die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        die_usage("unexpected argument '%s'", argv[optind]);
    if (cfg->port < 0)
        die_usage("%s--port is required", "");
    if (cfg->threads > cfg->connections)
        cfg->threads = cfg->connections;
}

/* The open-files limit must cover every connection plus a few. */
static void raise_nofile(const lg_config *cfg)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)cfg->connections + 16 + (rlim_t)cfg->threads;
    if (rl.rlim_cur < need) {
        fprintf(stderr,
                "loadgen: %d connections need %llu open files but the limit is %llu\n"
                "(raise the hard limit: ulimit -Hn, /etc/security/limits.conf)\n",
                cfg->connections, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
        exit(2);
    }
}

static void resolve(lg_config *cfg)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", cfg->port);
    int e = getaddrinfo(cfg->host, ps, &hints, &res);
    if (e) {
        fprintf(stderr, "loadgen: cannot resolve '%s': %s\n", cfg->host, gai_strerror(e));
        exit(2);
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

static void build_payloads(lg_config *cfg)
{
    if (cfg->proto == LG_HTTP) {
        size_t cap = strlen(cfg->path) + strlen(cfg->host) + 128;
        cfg->request = malloc(cap);
        cfg->request_len = (size_t)snprintf(cfg->request, cap,
                                            "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                                            "User-Agent: greenrt-loadgen\r\n\r\n",
                                            cfg->path, cfg->host, cfg->port);
    } else {
        cfg->pattern = malloc((size_t)cfg->size + 256);
        for (int i = 0; i < cfg->size + 256; i++)
            cfg->pattern[i] = (char)((i * 131 + (i >> 8) * 7 + 'a') & 0xff);
    }
}

static double ru_seconds(const struct rusage *ru, int sys)
{
    const struct timeval *t = sys ? &ru->ru_stime : &ru->ru_utime;
    return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

typedef struct totals {
    uint64_t requests, warmup_requests, verify_errors, io_errors, connect_failures,
        connected, connects_done, reconnects;
    int first_connect_errno;
    const char *first_error;
} totals;

static void sum_counters(lg_worker *ws, int n, totals *t)
{
    memset(t, 0, sizeof(*t));
    t->first_error = "";
#define LOAD(f) __atomic_load_n(&ws[i].c.f, __ATOMIC_RELAXED)
    for (int i = 0; i < n; i++) {
        t->requests += LOAD(requests);
        t->warmup_requests += LOAD(warmup_requests);
        t->verify_errors += LOAD(verify_errors);
        t->io_errors += LOAD(io_errors);
        t->connect_failures += LOAD(connect_failures);
        t->connected += LOAD(connected);
        t->connects_done += LOAD(connects_done);
        t->reconnects += LOAD(reconnects);
        if (!t->first_connect_errno)
            t->first_connect_errno = LOAD(first_connect_errno);
        if (!t->first_error[0] && ws[i].c.first_error[0])
            t->first_error = ws[i].c.first_error;
    }
#undef LOAD
}

static void fmt_lat(char *out, size_t n, uint64_t ns)
{
    if (ns < 1000)
        snprintf(out, n, "%lluns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(out, n, "%.1fus", ns / 1e3);
    else if (ns < 1000000000)
        snprintf(out, n, "%.2fms", ns / 1e6);
    else
        snprintf(out, n, "%.2fs", ns / 1e9);
}

static void sleep_until(int64_t t)
{
    int64_t d = t - lg_now();
    if (d <= 0)
        return;
    struct timespec ts = {.tv_sec = d / 1000000000LL, .tv_nsec = d % 1000000000LL};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv)
{
    lg_config cfg;
    parse_args(&cfg, argc, argv);
    raise_nofile(&cfg);
    resolve(&cfg);
    build_payloads(&cfg);

    int nt = cfg.threads;
    lg_worker *ws = calloc((size_t)nt, sizeof(lg_worker));
    hist *prev = calloc(1, sizeof(hist)), *cur = calloc(1, sizeof(hist)),
         *tmp = calloc(1, sizeof(hist)), *iv = calloc(1, sizeof(hist));
    if (!ws || !prev || !cur || !tmp || !iv) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    hist_init(prev);
    int first = 0;
    for (int i = 0; i < nt; i++) {
        ws[i].index = i;
        ws[i].cfg = &cfg;
        ws[i].first_conn = first;
        ws[i].nconns = cfg.connections / nt + (i < cfg.connections % nt);
        first += ws[i].nconns;
        hist_init(&ws[i].h);
        int e = pthread_create(&ws[i].tid, NULL, lg_worker_main, &ws[i]);
        if (e) {
            fprintf(stderr, "loadgen: cannot start thread %d: %s\n", i, strerror(e));
            return 1;
        }
    }

    /* connect phase */
    int64_t cstart = lg_now();
    totals t;
    int64_t tick = cstart;
    for (;;) {
        sum_counters(ws, nt, &t);
        if (t.connects_done >= (uint64_t)cfg.connections)
            break;
        int64_t now = lg_now();
        if (now - cstart > (int64_t)CONNECT_PHASE_MAX_S * 1000000000LL) {
            fprintf(stderr, "loadgen: only %llu of %d connections done after %d s; "
                    "starting anyway\n", (unsigned long long)t.connects_done,
                    cfg.connections, CONNECT_PHASE_MAX_S);
            break;
        }
        if (!cfg.quiet && now - tick >= 1000000000LL) {
            fprintf(stderr, "connecting: %llu/%d established, %llu failed\n",
                    (unsigned long long)t.connected, cfg.connections,
                    (unsigned long long)t.connect_failures);
            tick = now;
        }
        sleep_until(now + 10 * 1000000LL);
    }
    double connect_s = (double)(lg_now() - cstart) / 1e9;
    uint64_t connected_at_start = t.connected;
    if (t.connect_failures) {
        fprintf(stderr, "loadgen: %llu of %d connections failed: %s\n",
                (unsigned long long)t.connect_failures, cfg.connections,
                t.first_connect_errno ? strerror(t.first_connect_errno) : "unknown error");
    }
    if (t.connected == 0) {
        fprintf(stderr, "loadgen: no connection to %s:%d could be made; is the server "
                "running?\n", cfg.host, cfg.port);
        __atomic_store_n(&lg_stop, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < nt; i++)
            pthread_join(ws[i].tid, NULL);
        return 1;
    }

    /* load: warm-up, then the measured window */
    struct rusage ru0, ru1;
    int64_t t0 = lg_now();
    int64_t tmeasure = t0 + (int64_t)(cfg.warmup * 1e9);
    int64_t tend = tmeasure + (int64_t)(cfg.duration * 1e9);
    __atomic_store_n(&lg_t0, t0, __ATOMIC_RELAXED);
    if (cfg.warmup <= 0) {
        getrusage(RUSAGE_SELF, &ru0);
        __atomic_store_n(&lg_measure_start, t0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&lg_started, 1, __ATOMIC_RELEASE);
    int measuring = cfg.warmup <= 0;
    uint64_t prev_req = 0, prev_err = 0;
    int64_t next_tick = t0 + 1000000000LL;
    int sec = 0;
    for (;;) {
        int64_t now = lg_now();
        if (!measuring && now >= tmeasure) {
            getrusage(RUSAGE_SELF, &ru0);
            __atomic_store_n(&lg_measure_start, tmeasure, __ATOMIC_RELAXED);
            measuring = 1;
        }
        if (now >= tend)
            break;
        int64_t wake = next_tick < tend ? next_tick : tend;
        if (!measuring && tmeasure < wake)
            wake = tmeasure;
        sleep_until(wake);
        now = lg_now();
        if (now < next_tick)
            continue;
        next_tick += 1000000000LL;
        sec++;
        sum_counters(ws, nt, &t);
        hist_init(cur);
        for (int i = 0; i < nt; i++) {
            hist_snapshot(tmp, &ws[i].h);
            hist_merge(cur, tmp);
        }
        hist_sub(iv, cur, prev);
        uint64_t done = t.requests + t.warmup_requests;
        uint64_t errs = t.verify_errors + t.io_errors;
        if (!cfg.quiet) {
            char p50[32], p99[32];
            fmt_lat(p50, sizeof(p50), hist_percentile(iv, 50));
            fmt_lat(p99, sizeof(p99), hist_percentile(iv, 99));
            fprintf(stderr, "[%3ds]%s %9.0f req/s  p50 %-9s p99 %-9s errors %llu (+%llu)  "
                    "conns %llu\n", sec, measuring ? "" : " warmup",
                    (double)(done - prev_req), p50, p99, (unsigned long long)errs,
                    (unsigned long long)(errs - prev_err), (unsigned long long)t.connected);
        }
        prev_req = done;
        prev_err = errs;
        hist *sw = prev;
        prev = cur;
        cur = sw;
    }
    getrusage(RUSAGE_SELF, &ru1);
    int64_t tstop = lg_now();
    __atomic_store_n(&lg_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < nt; i++)
        pthread_join(ws[i].tid, NULL);

    /* report */
    sum_counters(ws, nt, &t);
    hist_init(cur);
    for (int i = 0; i < nt; i++)
        hist_merge(cur, &ws[i].h);
    double window = (double)(tstop - tmeasure) / 1e9;
    double rps = window > 0 ? (double)t.requests / window : 0;
    uint64_t errors = t.verify_errors + t.io_errors + t.connect_failures;
    double cpu_user = ru_seconds(&ru1, 0) - ru_seconds(&ru0, 0);
    double cpu_sys = ru_seconds(&ru1, 1) - ru_seconds(&ru0, 1);
    double cpu_pct = window > 0 ? 100.0 * (cpu_user + cpu_sys) / window : 0;
    uint64_t p50 = hist_percentile(cur, 50), p90 = hist_percentile(cur, 90),
             p99 = hist_percentile(cur, 99), p999 = hist_percentile(cur, 99.9),
             mx = cur->max;
    const char *mode = cfg.rate > 0 ? "open" : "closed";

    FILE *text = cfg.json ? (cfg.quiet ? NULL : stderr) : stdout;
    if (text) {
        char a[32], b[32], c[32], d[32], e[32], m[32];
        fmt_lat(a, sizeof(a), p50);
        fmt_lat(b, sizeof(b), p90);
        fmt_lat(c, sizeof(c), p99);
        fmt_lat(d, sizeof(d), p999);
        fmt_lat(e, sizeof(e), mx);
        fmt_lat(m, sizeof(m), (uint64_t)hist_mean(cur));
        fprintf(text, "%s %s loop, %d connections (%llu connected in %.2fs), %d thread%s, %.2fs "
                "measured%s\n", cfg.proto == LG_HTTP ? "http" : "echo", mode,
                cfg.connections, (unsigned long long)connected_at_start, connect_s, nt,
                nt > 1 ? "s" : "", window, cfg.warmup > 0 ? " after warm-up" : "");
        if (cfg.rate > 0)
            fprintf(text, "target rate %.0f req/s (latency from the intended send time)\n",
                    cfg.rate);
        fprintf(text, "requests: %llu  (%.0f req/s)\n", (unsigned long long)t.requests, rps);
        fprintf(text, "errors:   %llu  (verify %llu, io %llu, connect %llu)%s%s\n",
                (unsigned long long)errors, (unsigned long long)t.verify_errors,
                (unsigned long long)t.io_errors, (unsigned long long)t.connect_failures,
                t.first_error[0] ? "  first: " : "", t.first_error);
        fprintf(text, "latency:  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n", a, b,
                c, d, e, m);
        fprintf(text, "loadgen cpu: %.2fs user + %.2fs sys = %.0f%% of one CPU over the "
                "measured window\n", cpu_user, cpu_sys, cpu_pct);
        fflush(text);
    }
    if (cfg.json) {
        printf("{\"proto\":\"%s\",\"mode\":\"%s\",\"host\":", cfg.proto == LG_HTTP ? "http" : "echo",
               mode);
        json_str(stdout, cfg.host);
        printf(",\"port\":%d,\"connections\":%d,\"connected\":%llu,\"connect_failures\":%llu,"
               "\"connect_s\":%.3f,\"threads\":%d,\"size\":%d,\"path\":",
               cfg.port, cfg.connections, (unsigned long long)connected_at_start,
               (unsigned long long)t.connect_failures, connect_s, nt,
               cfg.proto == LG_ECHO ? cfg.size : 0);
        json_str(stdout, cfg.proto == LG_HTTP ? cfg.path : "");
        printf(",\"target_rate\":%.3f,\"warmup_s\":%.3f,\"duration_s\":%.3f,"
               "\"requests\":%llu,\"warmup_requests\":%llu,\"requests_per_s\":%.1f,"
               "\"errors\":%llu,\"verify_errors\":%llu,\"io_errors\":%llu,\"reconnects\":%llu,"
               "\"latency_us\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
               "\"max\":%.3f,\"mean\":%.3f},"
               "\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_pct\":%.1f,\"first_error\":",
               cfg.rate, cfg.warmup, window, (unsigned long long)t.requests,
               (unsigned long long)t.warmup_requests, rps, (unsigned long long)errors,
               (unsigned long long)t.verify_errors, (unsigned long long)t.io_errors,
               (unsigned long long)t.reconnects, p50 / 1e3, p90 / 1e3, p99 / 1e3, p999 / 1e3,
               mx / 1e3, hist_mean(cur) / 1e3, cpu_user, cpu_sys, cpu_pct);
        json_str(stdout, t.first_error);
        printf("}\n");
        fflush(stdout);
    }
    return (errors > 0 || t.requests == 0) ? 1 : 0;
}
