/*
 * test_stack.c - goroutine stacks and the memory they hold (stack.c).
 *
 *   - After a burst of goroutines with big stacks that touched most of
 *     them, the process's resident memory comes back within 2x of what it
 *     was before the burst, 5 s after the burst (the pools give idle
 *     stacks' pages back: before, 2,000 stacks of 1 MiB stayed resident).
 *   - A long spawn/exit churn mixed with batches of other stack sizes
 *     keeps resident memory flat.
 * (That a steady spawn/exit loop makes no system call for its stacks is
 * test_faults.c's: it sees every mmap and madvise.)
 *
 * Resident memory is /proc/self/statm's second field.  "Flat" means that
 * the RSS never rises more than FLAT_SLACK_MB (16 MB) above the most it
 * reached in the first tenth of the churn (warm-up: pools and slabs
 * filled, every stack size seen), so memory that piles up batch after
 * batch shows.
 */
#include "t_util.h"

#include <sys/syscall.h>

/* Resident set size of this process, in bytes (-1: unknown). */
static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return -1;
    long size, resident;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

#define MB (1024L * 1024)

/* ThreadSanitizer keeps memory of its own per goroutine (each is a fiber
 * with its trace) and shadows what the stacks touched: the RSS figures
 * are printed there, not asserted. */
static void rss_asserted_or_skip(void)
{
#if defined(__SANITIZE_THREAD__)
    print_message("skipped: ThreadSanitizer's own memory dominates the RSS (asserted in the "
                  "other builds)\n");
    skip();
#endif
}

/* ------------------------------------------------------- burst given back */

/* ThreadSanitizer shadows every byte the goroutines touch several times
 * over: a smaller burst there. */
#if defined(__SANITIZE_THREAD__)
#define BURST 20
#else
#define BURST 2000
#endif
enum { BURST_STACK = 1024 * 1024, BURST_TOUCH = 896 * 1024 };
#define BURST_WAIT_NS (5 * T_SEC)

struct burst {
    gr_chan *release;   /* closed when every goroutine has touched its stack */
    atomic_long touched;
    gr_wg wg;
    long before, peak, after;
};

/* Touches BURST_TOUCH bytes of its stack (a page at a time: the stack-
 * clash probes of the alloca do it too), then waits for the others. */
static __attribute__((noinline)) void burst_touch(struct burst *b)
{
    volatile char *a = __builtin_alloca(BURST_TOUCH);
    for (size_t i = 0; i < BURST_TOUCH; i += 4096)
        a[i] = (char)i;
    atomic_fetch_add(&b->touched, 1);
    gr_chan_recv(b->release, NULL);
    (void)a[0];
}

static void burst_goroutine(void *arg)
{
    struct burst *b = arg;
    burst_touch(b);
    gr_wg_done(&b->wg);
}

static void burst_main(void *arg)
{
    struct burst *b = arg;
    b->release = gr_chan_make(0, 0);
    gr_sleep(20 * T_MS); /* the runtime settled */
    b->before = rss_bytes();
    gr_opts o = {.stack_size = BURST_STACK, .name = "burst"};
    gr_wg_add(&b->wg, BURST);
    for (int i = 0; i < BURST; i++)
        t_check(gr_go_opts(burst_goroutine, b, &o) > 0);
    t_wait_for(&b->touched, BURST);
    b->peak = rss_bytes();
    gr_chan_close(b->release);
    gr_wg_wait(&b->wg);
    gr_sleep(BURST_WAIT_NS); /* every worker idle meanwhile */
    b->after = rss_bytes();
    gr_chan_free(b->release);
}

static void test_stack_burst_memory_given_back(void **state)
{
    (void)state;
    static struct burst b;
    memset(&b, 0, sizeof b);
    t_run(burst_main, &b);
    print_message("  RSS %ld MB before %d goroutines with 1 MiB stacks, %ld MB at their peak, "
                  "%ld MB 5 s after they exited\n",
                  b.before / MB, BURST, b.peak / MB, b.after / MB);
    assert_true(b.before > 0);
    rss_asserted_or_skip();
    /* Else the burst did not touch what it was meant to. */
    assert_true(b.peak - b.before > (long)BURST * (BURST_TOUCH / 2));
    assert_true(b.after <= 2 * b.before);
}

/* ------------------------------------------------------------- churn */

/* 10 million goroutines spawned and exited (fewer under the sanitizers,
 * which make each far dearer), and every CHURN_BATCH_EVERY of them a batch
 * of CHURN_BATCH goroutines alive at once with another stack size: 64
 * sizes from 16 KiB to 1 MiB in turn, each goroutine touching up to
 * CHURN_TOUCH of its stack.  Before the pools were bounded by bytes, the
 * batches' warm stacks piled up there, size after size (100 MB more by
 * the end). */
#if defined(__SANITIZE_ADDRESS__)
#define CHURN_TOTAL (1000 * 1000)
#define CHURN_BATCHES 200
#elif defined(__SANITIZE_THREAD__) /* its RSS is not asserted: a short run */
#define CHURN_TOTAL (20 * 1000)
#define CHURN_BATCHES 20
#else
#define CHURN_TOTAL (10 * 1000 * 1000)
#define CHURN_BATCHES 200
#endif
#define CHURN_BATCH_EVERY (CHURN_TOTAL / CHURN_BATCHES)
#define CHURN_BATCH 50
#define CHURN_SIZES 64
#define CHURN_TOUCH (32 * 1024)
#define FLAT_SLACK_MB 16

struct churn {
    atomic_long done;
    long spawned;
    long rss_warm;      /* the most seen in the first tenth of the churn */
    long rss_later;     /* the most seen after it */
    long rss_end;
    size_t touch;       /* what the batch running now touches */
    gr_wg wg;
};

static void churn_nothing(void *arg)
{
    atomic_fetch_add(&((struct churn *)arg)->done, 1);
}

static __attribute__((noinline)) void churn_touch(size_t n)
{
    volatile char *a = __builtin_alloca(n);
    for (size_t i = 0; i < n; i += 4096)
        a[i] = 1;
}

static void churn_sized(void *arg)
{
    struct churn *c = arg;
    churn_touch(c->touch);
    gr_sleep(100000); /* the batch is alive at once */
    gr_wg_done(&c->wg);
}

static void churn_main(void *arg)
{
    struct churn *c = arg;
    for (long i = 0; i < CHURN_TOTAL; i++) {
        t_check(gr_go(churn_nothing, c) > 0);
        if (i % CHURN_BATCH_EVERY != CHURN_BATCH_EVERY - 1)
            continue;
        gr_opts o = {.stack_size = GR_MIN_STACK_SIZE * (1 + (i / CHURN_BATCH_EVERY) % CHURN_SIZES)};
        c->touch = o.stack_size / 2 < CHURN_TOUCH ? o.stack_size / 2 : CHURN_TOUCH;
        gr_wg_add(&c->wg, CHURN_BATCH);
        for (int k = 0; k < CHURN_BATCH; k++)
            t_check(gr_go_opts(churn_sized, c, &o) > 0);
        gr_wg_wait(&c->wg);
        long r = rss_bytes();
        long *slot = i < CHURN_TOTAL / 10 ? &c->rss_warm : &c->rss_later;
        if (r > *slot)
            *slot = r;
    }
    c->spawned = CHURN_TOTAL;
    t_wait_for(&c->done, CHURN_TOTAL);
    c->rss_end = rss_bytes();
}

static void test_stack_churn_stays_flat(void **state)
{
    (void)state;
    static struct churn c;
    memset(&c, 0, sizeof c);
    t_run(churn_main, &c);
    print_message("  %ld goroutines spawned and exited, %d batches of %d with %d stack sizes "
                  "from 16 KiB to 1 MiB: RSS %ld MB at most in the first tenth, %ld MB at most "
                  "after it, %ld MB at the end\n",
                  c.spawned, CHURN_BATCHES, CHURN_BATCH, CHURN_SIZES, c.rss_warm / MB,
                  c.rss_later / MB, c.rss_end / MB);
    assert_true(c.rss_warm > 0);
    rss_asserted_or_skip();
    assert_true(c.rss_later <= c.rss_warm + FLAT_SLACK_MB * MB);
    assert_true(c.rss_end <= c.rss_warm + FLAT_SLACK_MB * MB);
}

int main(void)
{
    t_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_burst_memory_given_back),
        cmocka_unit_test(test_stack_churn_stays_flat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
