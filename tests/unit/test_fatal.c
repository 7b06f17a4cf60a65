/*
 * test_fatal.c - the paths that end the process: deadlock detection,
 * stack overflow, misuse of a primitive, blocking calls outside a
 * goroutine.
 *
 * Each test runs t_fatal_helper (built beside this binary) in a child
 * process with a 60 s timeout, inheriting GR_PROCS, and checks its wait
 * status and stderr.  The helper prints on stdout the ids of the
 * goroutines it created ("id NAME N") so that the runtime's report can be
 * matched against them, and prints "survived" (exit 3) if the runtime let
 * it run past the fatal point.
 *
 * Contract checked (greenrt.h, DESIGN.md, issue 2):
 *   deadlock: "fatal: all goroutines are asleep - deadlock!" on stderr,
 *     then one line per goroutine with its id, name and wait reason;
 *     exit status 2.
 *   overflow: "goroutine N (NAME) overflowed its S-byte stack"; the
 *     process exits (WIFEXITED) non-zero - it is not killed by SIGSEGV.
 *   misuse and calls outside a goroutine: a message naming the goroutine
 *     (where there is one) and the call; exit non-zero.
 *   gr_group_destroy with live members (issue 15): "fatal: gr_group_destroy
 *     ..." naming the destroying goroutine, then a line per member as in
 *     the deadlock report; exit status 2.
 */
#include "t_util.h"

#include <ctype.h>

static char helper[PATH_MAX];

static int group_setup(void **state)
{
    char dir[PATH_MAX - 32];
    t_self_dir(dir, sizeof dir);
    snprintf(helper, sizeof helper, "%s/t_fatal_helper", dir);
    if (access(helper, X_OK) != 0) {
        print_error("test_fatal: %s: %s (build it with make)\n", helper,
                    strerror(errno));
        return -1;
    }
    return 0;
}

static void run_helper(const char *mode, struct t_child *c)
{
    char *argv[] = {helper, (char *)mode, NULL};
    int r = t_spawn(argv, NULL, 60, c);
    if (r != 0)
        fail_msg("could not run %s %s: %s", helper, mode, strerror(-r));
    if (c->timed_out) {
        t_child_dump(c);
        fail_msg("%s: no fatal error within 60 s (the runtime did not "
                 "detect it)", mode);
    }
    if (strstr(c->out, "survived")) {
        t_child_dump(c);
        fail_msg("%s: the program ran past the fatal point", mode);
    }
}

/* The id the helper printed for NAME, or -1. */
static long long helper_id(const struct t_child *c, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "id %s ", name);
    const char *p = strstr(c->out, key);
    return p ? atoll(p + strlen(key)) : -1;
}

/* Does line [b, e) contain the decimal number n as a whole token? */
static int has_number(const char *b, const char *e, long long n)
{
    char num[32];
    int len = snprintf(num, sizeof num, "%lld", n);
    for (const char *p = b; p + len <= e; p++) {
        if (memcmp(p, num, (size_t)len) != 0)
            continue;
        if (p > b && isdigit((unsigned char)p[-1]))
            continue;
        if (p + len < e && isdigit((unsigned char)p[len]))
            continue;
        return 1;
    }
    return 0;
}

/* Case-insensitive search within [b, e). */
static int line_has(const char *b, const char *e, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = b; p + n <= e; p++)
        if (strncasecmp(p, word, n) == 0)
            return 1;
    return 0;
}

/* Find, after `from`, a line that contains `name` (may be NULL) and the
 * number id; returns its start and sets *end, or NULL. */
static const char *find_line(const char *from, const char *name, long long id,
                             const char **end)
{
    for (const char *b = from; *b;) {
        const char *e = strchr(b, '\n');
        if (!e)
            e = b + strlen(b);
        if ((!name || line_has(b, e, name)) && has_number(b, e, id)) {
            *end = e;
            return b;
        }
        b = *e ? e + 1 : e;
    }
    return NULL;
}

static const char *const DEADLOCK_MSG =
    "fatal: all goroutines are asleep - deadlock!";

static void expect_exit(const struct t_child *c, const char *mode, int want)
{
    if (!WIFEXITED(c->status)) {
        t_child_dump(c);
        fail_msg("%s: the process did not exit normally", mode);
    }
    int code = WEXITSTATUS(c->status);
    if ((want >= 0 && code != want) || (want < 0 && code == 0)) {
        t_child_dump(c);
        if (want >= 0)
            fail_msg("%s: exit status %d, want %d", mode, code, want);
        else
            fail_msg("%s: exit status 0, want non-zero", mode);
    }
}

/* One report line: the goroutine's id, its name when given, and one of
 * the reason words. */
static void expect_goroutine_line(const struct t_child *c, const char *after,
                                  const char *name, long long id,
                                  const char *const reasons[])
{
    const char *e = NULL;
    const char *b = find_line(after, name, id, &e);
    if (!b) {
        t_child_dump(c);
        fail_msg("deadlock report has no line for goroutine %lld (%s)", id,
                 name ? name : "main");
    }
    for (int i = 0; reasons[i]; i++)
        if (line_has(b, e, reasons[i]))
            return;
    t_child_dump(c);
    fail_msg("deadlock report line for goroutine %lld lacks its wait reason "
             "(%s...): %.*s", id, reasons[0], (int)(e - b), b);
}

/* A goroutine the helper named ("id NAME N"), and the words of which
 * its report line must hold one. */
struct named_wait {
    const char *name;
    const char *const *why;
};

/* A report line, after `after`, for each of the n named goroutines. */
static void expect_named_lines(const struct t_child *c, const char *after,
                               const struct named_wait *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long long id = helper_id(c, g[i].name);
        assert_true(id > 0);
        expect_goroutine_line(c, after, g[i].name, id, g[i].why);
    }
}

static void test_fatal_deadlock_report(void **state)
{
    struct t_child c;
    run_helper("deadlock", &c);
    expect_exit(&c, "deadlock", 2);
    const char *hdr = strstr(c.err, DEADLOCK_MSG);
    if (!hdr) {
        t_child_dump(&c);
        fail_msg("no \"%s\" on stderr", DEADLOCK_MSG);
    }
    const char *after = hdr + strlen(DEADLOCK_MSG);
    static const char *const send[] = {"send", NULL};
    static const char *const recv[] = {"recv", "receive", NULL};
    static const char *const mutex[] = {"mutex", "lock", NULL};
    static const char *const wg[] = {"wg", "waitgroup", "wait group", NULL};
    static const char *const sel[] = {"select", NULL};
    static const struct named_wait g[] = {
        {"g-alpha", send}, {"g-bravo", mutex},
        {"g-charlie", wg}, {"g-delta", sel},
    };
    expect_named_lines(&c, after, g, sizeof g / sizeof g[0]);
    long long main_id = helper_id(&c, "main");
    assert_true(main_id > 0);
    expect_goroutine_line(&c, after, NULL, main_id, recv);
}

/* MODE ends in a deadlock report whose line for main says it waits in a
 * channel receive. */
static void expect_main_deadlocked_in_recv(const char *mode)
{
    struct t_child c;
    run_helper(mode, &c);
    expect_exit(&c, mode, 2);
    const char *hdr = strstr(c.err, DEADLOCK_MSG);
    if (!hdr) {
        t_child_dump(&c);
        fail_msg("no \"%s\" on stderr", DEADLOCK_MSG);
    }
    static const char *const recv[] = {"recv", "receive", NULL};
    long long id = helper_id(&c, "main");
    assert_true(id > 0);
    expect_goroutine_line(&c, hdr + strlen(DEADLOCK_MSG), NULL, id, recv);
}

static void test_fatal_deadlock_main_alone(void **state)
{
    expect_main_deadlocked_in_recv("deadlock-alone");
}

/* Dormant workers (parked by the CPU governor) count as asleep. */
static void test_fatal_deadlock_with_parked_workers(void **state)
{
    struct t_child c;
    run_helper("deadlock-parked", &c);
    expect_exit(&c, "deadlock-parked", 2);
    if (!strstr(c.err, DEADLOCK_MSG)) {
        t_child_dump(&c);
        fail_msg("no \"%s\" on stderr", DEADLOCK_MSG);
    }
}

/* The last reference of a thread outside the runtime (gr_extern_ref) is
 * dropped while every goroutine is parked for good: the deadlock is
 * reported then, not left to hang. */
static void test_fatal_deadlock_after_last_extern_unref(void **state)
{
    expect_main_deadlocked_in_recv("extern-last-unref");
}

static void expect_overflow_of(const char *mode, const char *name, size_t size)
{
    struct t_child c;
    run_helper(mode, &c);
    long long id = helper_id(&c, name);
    assert_true(id > 0);
    if (WIFSIGNALED(c.status)) {
        t_child_dump(&c);
        fail_msg("%s: killed by signal %d instead of an overflow report", mode,
                 WTERMSIG(c.status));
    }
    expect_exit(&c, mode, -1);
    char want[128];
    snprintf(want, sizeof want, "goroutine %lld (%s) overflowed its %zu-byte stack",
             id, name, size);
#if defined(__SANITIZE_ADDRESS__)
    /* A bulk stack has no guard below it: running into the stack below,
     * the frames may hit a parked goroutine's poisoned redzones, and
     * AddressSanitizer reports it (stack-buffer-overflow or -underflow)
     * before the canary check. */
    if (!strcmp(mode, "overflow-bulk") && strstr(c.err, "AddressSanitizer: stack-buffer-"))
        return;
#endif
    if (!strstr(c.err, want)) {
        t_child_dump(&c);
        fail_msg("%s: no \"%s\" on stderr", mode, want);
    }
}

static void expect_overflow(const char *mode, size_t size)
{
    expect_overflow_of(mode, "deep", size);
}

static void test_fatal_stack_overflow(void **state)
{
    expect_overflow("overflow", 65536);
}

/* A stack size that is not a page multiple is rounded up to the page size
 * (sysconf's, not an assumed 4 KiB), whether gr_opts.stack_size or
 * GR_STACK_SIZE asked for it: the report names the size the goroutine
 * had. */
static void test_fatal_stack_size_rounded_to_page(void **state)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t want = (GR_MIN_STACK_SIZE + 1 + pg - 1) / pg * pg;
    expect_overflow("overflow-odd-size", want);
    expect_overflow("overflow-odd-default", want);
}

static void test_fatal_stack_overflow_big_stack(void **state)
{
    expect_overflow("overflow-1m", 1024 * 1024);
}

/* A stack from a bulk mapping (no guard page) overflowing is reported the
 * same way. */
static void test_fatal_stack_overflow_bulk_stack(void **state)
{
#if defined(__SANITIZE_THREAD__)
    /* It parks 40,000 goroutines to get past the guarded budget; TSan's
     * registry stops at 8,128 threads and fibers (see T_LIVE). */
    print_message("skipped: needs 40,000 live goroutines, more than ThreadSanitizer allows\n");
    skip();
#endif
    expect_overflow("overflow-bulk", 65536);
}

/* A frame larger than the stack and its guard page together (72 KiB on
 * 64 KiB, built without stack-clash probes) is caught by the guard gap
 * and reported, for both kinds of guarded stacks, instead of silently
 * overwriting the stack below. */
static void test_fatal_big_frame_chunked_stack(void **state)
{
    expect_overflow_of("overflow-big-frame", "big", 65536);
}

static void test_fatal_big_frame_guarded_stack(void **state)
{
    expect_overflow_of("overflow-big-frame-guarded", "big", 65536);
}

/* Misuse: a message naming the call and (when in a goroutine) the
 * goroutine's name; a normal, non-zero exit. */
static void expect_misuse(const char *mode, const char *const calls[],
                          const char *gname)
{
    struct t_child c;
    run_helper(mode, &c);
    expect_exit(&c, mode, -1);
    if (WEXITSTATUS(c.status) == 3) {
        t_child_dump(&c);
        fail_msg("%s: not detected", mode);
    }
    int named = 0;
    for (int i = 0; calls[i]; i++)
        named |= strstr(c.err, calls[i]) != NULL;
    if (!named) {
        t_child_dump(&c);
        fail_msg("%s: the message does not name the call (%s)", mode, calls[0]);
    }
    if (gname && !strstr(c.err, gname)) {
        t_child_dump(&c);
        fail_msg("%s: the message does not name the goroutine \"%s\"", mode,
                 gname);
    }
}

static void test_fatal_mutex_unlock_unlocked(void **state)
{
    static const char *const calls[] = {"gr_mutex_unlock", NULL};
    expect_misuse("mutex-unlock", calls, "unlocker");
}

static void test_fatal_rwmutex_unlock_unlocked(void **state)
{
    static const char *const calls[] = {"gr_rwmutex_unlock", NULL};
    expect_misuse("rwmutex-unlock", calls, "rw-unlocker");
}

static void test_fatal_wg_negative(void **state)
{
    /* The program called gr_wg_done; a report of the gr_wg_add it is
     * built on is accepted too. */
    static const char *const calls[] = {"gr_wg_done", "gr_wg_add", NULL};
    expect_misuse("wg-negative", calls, "wg-negative");
}

static void test_fatal_recv_outside_goroutine(void **state)
{
    static const char *const calls[] = {"gr_chan_recv", NULL};
    expect_misuse("recv-outside", calls, NULL);
}

static void test_fatal_sleep_outside_goroutine(void **state)
{
    static const char *const calls[] = {"gr_sleep", NULL};
    expect_misuse("sleep-outside", calls, NULL);
}

static void test_fatal_recv_on_foreign_thread(void **state)
{
    static const char *const calls[] = {"gr_chan_recv", NULL};
    expect_misuse("recv-foreign-thread", calls, NULL);
}

/* A group destroyed with live members: the call, the count, and a line
 * per member with its id, name and wait reason (as the deadlock report). */
static void test_fatal_group_destroyed_with_live_members(void **state)
{
    struct t_child c;
    run_helper("group-destroy-live", &c);
    expect_exit(&c, "group-destroy-live", 2);
    const char *hdr = strstr(c.err, "fatal: gr_group_destroy");
    if (!hdr || !strstr(hdr, "3 live members")) {
        t_child_dump(&c);
        fail_msg("no \"fatal: gr_group_destroy: ... 3 live members\" on stderr");
    }
    static const char *const recv[] = {"recv", "receive", NULL};
    static const char *const mutex[] = {"mutex", "lock", NULL};
    static const char *const sleep_[] = {"sleep", NULL};
    static const struct named_wait m[] = {
        {"m-alpha", recv}, {"m-bravo", mutex}, {"m-charlie", sleep_},
    };
    expect_named_lines(&c, hdr, m, sizeof m / sizeof m[0]);
    /* Who destroyed it is named too; main is not listed as a member. */
    long long main_id = helper_id(&c, "main");
    assert_true(main_id > 0);
    const char *e;
    const char *line = find_line(hdr, "main", main_id, &e);
    if (!line || line != hdr) {
        t_child_dump(&c);
        fail_msg("the report does not name the destroying goroutine %lld (main) in its first line",
                 main_id);
    }
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fatal_deadlock_report),
        cmocka_unit_test(test_fatal_deadlock_main_alone),
        cmocka_unit_test(test_fatal_deadlock_with_parked_workers),
        cmocka_unit_test(test_fatal_deadlock_after_last_extern_unref),
        cmocka_unit_test(test_fatal_stack_overflow),
        cmocka_unit_test(test_fatal_stack_overflow_big_stack),
        cmocka_unit_test(test_fatal_stack_size_rounded_to_page),
        cmocka_unit_test(test_fatal_stack_overflow_bulk_stack),
        cmocka_unit_test(test_fatal_big_frame_chunked_stack),
        cmocka_unit_test(test_fatal_big_frame_guarded_stack),
        cmocka_unit_test(test_fatal_mutex_unlock_unlocked),
        cmocka_unit_test(test_fatal_rwmutex_unlock_unlocked),
        cmocka_unit_test(test_fatal_wg_negative),
        cmocka_unit_test(test_fatal_group_destroyed_with_live_members),
        cmocka_unit_test(test_fatal_recv_outside_goroutine),
        cmocka_unit_test(test_fatal_sleep_outside_goroutine),
        cmocka_unit_test(test_fatal_recv_on_foreign_thread),
    };
    return cmocka_run_group_tests_name("fatal", tests, group_setup, NULL);
}
