/*
 * t_util.h - helpers shared by the greenrt cmocka unit tests.
 *
 * cmocka's assert_* macros report a failure by longjmp()ing back to the
 * test runner.  That must never happen on a goroutine stack (the jump
 * would leave a worker thread running on the wrong stack), so code that
 * runs inside gr_run records failures with t_check() instead: the first
 * failing check of a run is kept (file, line, text) and t_run() turns it
 * into a cmocka failure once gr_run has returned on the test's own stack.
 *
 *   static void main_fn(void *arg) { ...; t_check(x == 3); ... }
 *   static void test_chan_something(void **state) { t_run(main_fn, &ctx); }
 *
 * Other helpers: t_unit_test_fds() registers a test that fails if it
 * leaks a descriptor; t_spawn() runs a helper program in a child process
 * with a timeout and collects its stdout, stderr and wait status (fatal
 * paths, which end the process, are tested that way);
 * t_capture_stderr_begin/end capture this process's stderr around a call
 * that is expected to print.
 *
 * Everything is static: each test binary includes this header once.
 */
#ifndef T_UTIL_H
#define T_UTIL_H

#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <greenrt.h>

/* Every helper is static and may go unused in a given test file. */
#define T_FN static __attribute__((unused))

/* ---------------------------------------------------------------- checks */

struct t_failure {
    atomic_int claimed;     /* first failing check claims the slot */
    atomic_int ready;       /* set (release) once file/line/text are written */
    const char *file;
    int line;
    char text[512];
};

static struct t_failure t_fail_rec;

/* Record a failure; only the first one of a run is kept.  Callable from
 * any goroutine on any worker. */
__attribute__((format(printf, 3, 4))) T_FN void
t_fail_at(const char *file, int line, const char *fmt, ...)
{
    if (atomic_exchange(&t_fail_rec.claimed, 1) != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_fail_rec.text, sizeof t_fail_rec.text, fmt, ap);
    va_end(ap);
    t_fail_rec.file = file;
    t_fail_rec.line = line;
    atomic_store_explicit(&t_fail_rec.ready, 1, memory_order_release);
}

#define t_failed() (atomic_load(&t_fail_rec.claimed) != 0)

#define t_check(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            t_fail_at(__FILE__, __LINE__, "check failed: %s", #cond);          \
    } while (0)

#define t_check_msg(cond, ...)                                                 \
    do {                                                                       \
        if (!(cond))                                                           \
            t_fail_at(__FILE__, __LINE__, __VA_ARGS__);                        \
    } while (0)

/* a == b for integers, printing both values. */
#define t_check_eq(a, b)                                                       \
    do {                                                                       \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                \
        if (t_a_ != t_b_)                                                      \
            t_fail_at(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,    \
                      t_a_, t_b_);                                             \
    } while (0)

T_FN void t_reset(void)
{
    atomic_store(&t_fail_rec.claimed, 0);
    atomic_store(&t_fail_rec.ready, 0);
    t_fail_rec.file = NULL;
    t_fail_rec.line = 0;
    t_fail_rec.text[0] = '\0';
}

/* Fail the current cmocka test if a t_check failed.  Test stack only. */
T_FN void t_assert_no_failure(const char *file, int line)
{
    if (!t_failed())
        return;
    /* The recorder may still be writing if a goroutine was abandoned in
     * the middle of t_fail_at; wait briefly for it. */
    for (int i = 0; i < 1000 && !atomic_load_explicit(&t_fail_rec.ready,
                                                      memory_order_acquire); i++)
        usleep(1000);
    if (atomic_load_explicit(&t_fail_rec.ready, memory_order_acquire))
        print_error("%s:%d: %s\n", t_fail_rec.file, t_fail_rec.line,
                    t_fail_rec.text);
    else
        print_error("a t_check failed (record incomplete)\n");
    _fail(file, line);
}

/* cmocka's handler of SIGSEGV & co (installed for each test) reports a
 * fault only in the test's own thread: in any other - a worker, a thread
 * outside the runtime - its message goes to that thread's own buffer,
 * never printed, and the process exits 255 without a word.  t_run puts
 * this one in front of it: in the test's thread it hands over to cmocka's,
 * elsewhere it names the signal, the thread and the address, and the
 * process dies of the signal (a core dump where enabled). */
static const int t_fault_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
static struct sigaction t_fault_prev[sizeof t_fault_sigs / sizeof t_fault_sigs[0]];
static pid_t t_test_tid;

static void t_fault_put(char *buf, size_t *len, const char *s)
{
    while (*s && *len < 200)
        buf[(*len)++] = *s++;
}

static void t_fault_num(char *buf, size_t *len, uint64_t v, unsigned base)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n > 0)
        buf[(*len)++] = d[--n];
}

static void t_fault_handler(int sig, siginfo_t *si, void *uc)
{
    size_t i = 0;
    while (t_fault_sigs[i] != sig)
        i++;
    const struct sigaction *prev = &t_fault_prev[i];
    if (gettid() == t_test_tid && !(prev->sa_flags & SA_SIGINFO) &&
        prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig); /* cmocka's: fails the test */
        return;
    }
    (void)uc;
    char buf[256];
    size_t len = 0;
    t_fault_put(buf, &len, "test: signal ");
    t_fault_num(buf, &len, (uint64_t)sig, 10);
    t_fault_put(buf, &len, sig == SIGSEGV ? " (SIGSEGV)" : "");
    t_fault_put(buf, &len, " in thread ");
    t_fault_num(buf, &len, (uint64_t)gettid(), 10);
    t_fault_put(buf, &len, gettid() == t_test_tid ? " (the test's)" : " (not the test's)");
    t_fault_put(buf, &len, " at address 0x");
    t_fault_num(buf, &len, (uint64_t)(uintptr_t)si->si_addr, 16);
    t_fault_put(buf, &len, "\n");
    if (write(STDERR_FILENO, buf, len) < 0) {
        /* nothing more to say it with */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

T_FN void t_fault_handler_install(void)
{
    t_test_tid = gettid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = t_fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof t_fault_sigs / sizeof t_fault_sigs[0]; i++) {
        struct sigaction cur;
        if (sigaction(t_fault_sigs[i], NULL, &cur) == 0 &&
            (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == t_fault_handler)
            continue; /* already in front (cmocka restores its own per test) */
        sigaction(t_fault_sigs[i], &sa, &t_fault_prev[i]);
    }
}

/* Run fn(arg) as the main goroutine of a fresh runtime; fail the test if
 * gr_run does not return 0 or any t_check failed during the run. */
T_FN void t_run_at(const char *file, int line, void (*fn)(void *), void *arg)
{
    t_reset();
    t_fault_handler_install();
    int rc = gr_run(fn, arg);
    if (rc != 0) {
        print_error("%s:%d: gr_run returned %d (%s)\n", file, line, rc,
                    strerror(-rc));
        _fail(file, line);
    }
    t_assert_no_failure(file, line);
}
#define t_run(fn, arg) t_run_at(__FILE__, __LINE__, (fn), (arg))

/* Spawn a goroutine, recording a failure if gr_go fails. */
T_FN int64_t t_go_at(const char *file, int line, void (*fn)(void *), void *arg)
{
    int64_t id = gr_go(fn, arg);
    if (id <= 0)
        t_fail_at(file, line, "gr_go failed: %lld", (long long)id);
    return id;
}
#define t_go(fn, arg) t_go_at(__FILE__, __LINE__, (fn), (arg))

T_FN void t_noop(void *arg)
{
    (void)arg;
}

/* The I/O engine runtimes run here (GR_ENGINE, or auto's choice):
 * gr_engine() of the last run, or of one made for the purpose. */
T_FN const char *t_engine(void)
{
    const char *e = gr_engine();
    if (!e && gr_run(t_noop, NULL) == 0)
        e = gr_engine();
    return e ? e : "none";
}

T_FN bool t_engine_is(const char *name)
{
    return strcmp(t_engine(), name) == 0;
}

/* Number of workers the runner asked for (GR_PROCS), or 0 when unset. */
T_FN int t_env_procs(void)
{
    const char *s = getenv("GR_PROCS");
    return s ? atoi(s) : 0;
}

/* Monotonic time outside the runtime (gr_now may need a running one). */
T_FN int64_t t_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Load sizes: ThreadSanitizer makes goroutine creation ~1000x dearer
 * (a TSan fiber per goroutine), so the largest loads shrink under
 * `make test-tsan`; every other build runs them at full size. */
#if defined(__SANITIZE_THREAD__)
#define T_BIG(n) ((n) / 50)
#else
#define T_BIG(n) (n)
#endif

/* Goroutines alive at once: TSan makes each a fiber, and its registry
 * holds at most 8,128 threads and fibers together, so tests that park
 * more than that shrink under `make test-tsan`. */
#if defined(__SANITIZE_THREAD__)
#define T_LIVE(n) ((n) < 4000 ? (n) : 4000)
#else
#define T_LIVE(n) (n)
#endif

#define T_MS 1000000LL
#define T_SEC 1000000000LL

/* Wait (yielding, in a goroutine) until *flag >= want, or give up after
 * a generous liveness bound; returns 0, or -ETIMEDOUT after recording a
 * failure. */
#define t_wait_for(flag, want)                                                 \
    t_wait_for_at(__FILE__, __LINE__, (flag), (want), #flag)
T_FN int
t_wait_for_at(const char *file, int line, atomic_long *flag, long want,
              const char *what)
{
    int64_t end = gr_now() + 30 * T_SEC;
    while (atomic_load(flag) < want) {
        if (gr_now() > end) {
            t_fail_at(file, line, "%s stayed at %ld (< %ld) for 30 s", what,
                      atomic_load(flag), want);
            return -ETIMEDOUT;
        }
        gr_sleep(100000); /* 100 us */
    }
    return 0;
}

/* Call first in main(): T_FILTER=glob runs only the matching tests,
 * T_SKIP=glob skips the matching ones (cmocka's filters), e.g.
 *   T_FILTER='*million*' GR_PROCS=2 build/tests/unit/test_sched */
T_FN void t_init(void)
{
    const char *f = getenv("T_FILTER"), *s = getenv("T_SKIP");
    if (f && *f)
        cmocka_set_test_filter(f);
    if (s && *s)
        cmocka_set_skip_filter(s);
}

/* ------------------------------------------------- descriptor leaks */

/* A test run between t_fd_setup and t_fd_teardown fails in its teardown
 * if it leaves a descriptor open (the entries of /proc/self/fd are
 * counted before and after):
 *   t_unit_test_fds(test_stream_poll),      in the tests[] array */

/* Open descriptors of this process, not counting the one used to look. */
T_FN int t_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0, self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (atoi(e->d_name) != self)
            n++;
    }
    closedir(d);
    return n;
}

T_FN void t_list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        print_error("  fd %s -> %s\n", e->d_name, target);
    }
    closedir(d);
}

static int t_fds_before;

T_FN int t_fd_setup(void **state)
{
    t_fds_before = t_count_fds();
    return t_fds_before < 0 ? -1 : 0;
}

/* The no-leak check: fails the test if it left a descriptor open. */
T_FN int t_fd_teardown(void **state)
{
    int after = t_count_fds();
    if (after != t_fds_before) {
        print_error("descriptor leak: %d open before the test, %d after\n",
                    t_fds_before, after);
        t_list_fds();
        return -1;
    }
    return 0;
}
#define t_unit_test_fds(f) cmocka_unit_test_setup_teardown(f, t_fd_setup, t_fd_teardown)

/* ------------------------------------------------------- child processes */

struct t_child {
    int status;        /* waitpid status */
    int timed_out;     /* killed after the timeout */
    char out[16384];   /* stdout, NUL-terminated (truncated) */
    char err[16384];   /* stderr, NUL-terminated (truncated) */
};

/* Directory of the running test binary (helpers are built beside it). */
T_FN void t_self_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len < 0)
        len = 0;
    buf[len] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, n, ".");
}

T_FN void t_drain(int *fd, char *buf, size_t cap, size_t *len)
{
    char tmp[4096];
    ssize_t r = read(*fd, tmp, sizeof tmp);
    if (r <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    size_t room = cap - 1 - *len;
    size_t take = (size_t)r < room ? (size_t)r : room;
    memcpy(buf + *len, tmp, take);
    *len += take;
    buf[*len] = '\0';
}

/* Run argv[0] (a path) with extra environment entries ("K=V", or "K" to
 * unset), collect its output and wait status.  The child is killed after
 * timeout_s seconds (res->timed_out).  Returns 0, or -errno if it could
 * not be started.  Called on the test's own stack, outside gr_run. */
T_FN int
t_spawn(char *const argv[], const char *const env[], int timeout_s,
        struct t_child *res)
{
    int po[2], pe[2];
    memset(res, 0, sizeof *res);
    if (pipe2(po, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(pe, O_CLOEXEC) < 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return -e;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
        return -e;
    }
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        for (int i = 0; env && env[i]; i++) {
            char kv[256];
            snprintf(kv, sizeof kv, "%s", env[i]);
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = '\0';
                setenv(kv, eq + 1, 1);
            } else {
                unsetenv(kv);
            }
        }
        /* The test binary's SIGSEGV/abort handlers (cmocka) do not
         * survive exec; nothing else to reset. */
        execv(argv[0], argv);
        dprintf(2, "t_spawn: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    int fo = po[0], fe = pe[0];
    size_t lo = 0, le = 0;
    int64_t end = t_mono_ns() + (int64_t)timeout_s * T_SEC;
    while (fo >= 0 || fe >= 0) {
        struct pollfd p[2] = {{fo, POLLIN, 0}, {fe, POLLIN, 0}};
        int64_t left = end - t_mono_ns();
        if (left <= 0) {
            res->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        int r = poll(p, 2, (int)(left / T_MS) + 1);
        if (r < 0 && errno != EINTR)
            break;
        if (fo >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            t_drain(&fo, res->out, sizeof res->out, &lo);
        if (fe >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            t_drain(&fe, res->err, sizeof res->err, &le);
    }
    if (fo >= 0)
        close(fo);
    if (fe >= 0)
        close(fe);
    /* The pipes closed; the child may still be exiting. */
    for (;;) {
        pid_t w = waitpid(pid, &res->status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0)
            return -errno;
        if (t_mono_ns() > end && !res->timed_out) {
            res->timed_out = 1;
            kill(pid, SIGKILL);
        }
        usleep(1000);
    }
    return 0;
}

/* Print a child's result (on a failure, to help the reader). */
T_FN void t_child_dump(const struct t_child *c)
{
    if (WIFEXITED(c->status))
        print_error("child exited with status %d%s\n", WEXITSTATUS(c->status),
                    c->timed_out ? " (timed out)" : "");
    else if (WIFSIGNALED(c->status))
        print_error("child killed by signal %d (%s)%s\n", WTERMSIG(c->status),
                    strsignal(WTERMSIG(c->status)),
                    c->timed_out ? " (timed out, killed by the test)" : "");
    print_error("child stdout:\n%s\nchild stderr:\n%s\n", c->out, c->err);
}

/* ------------------------------------------------------ stderr capture */

/* Redirect this process's stderr into an anonymous file around a call
 * that is expected to print (gr_run's environment errors), so the test
 * output stays quiet and the text can be checked. */
struct t_capture {
    int saved;
    int fd;
    char text[4096];
};

T_FN void t_capture_stderr_begin(struct t_capture *c)
{
    fflush(stderr);
    c->text[0] = '\0';
    c->fd = memfd_create("t_stderr", MFD_CLOEXEC);
    c->saved = dup(2);
    if (c->fd >= 0 && c->saved >= 0)
        dup2(c->fd, 2);
}

T_FN void t_capture_stderr_end(struct t_capture *c)
{
    fflush(stderr);
    if (c->saved >= 0) {
        dup2(c->saved, 2);
        close(c->saved);
    }
    if (c->fd >= 0) {
        ssize_t n = pread(c->fd, c->text, sizeof c->text - 1, 0);
        c->text[n > 0 ? n : 0] = '\0';
        close(c->fd);
    }
}

#endif /* T_UTIL_H */
