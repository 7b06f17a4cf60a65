/*
 * trace.c - the --trace timeline: Chrome / Perfetto trace-event JSON.
 *
 * The BPF side records events in a ring buffer only when --trace is on
 * (a const volatile switch, so without it the branches are pruned by the
 * verifier).  Here they become, per OS thread of the target (one track
 * per worker):
 *   - a complete ("X") slice per goroutine run, from its `switch` in to
 *     the next `switch` out on that thread, named "g<id>";
 *   - instants ("i") for parks (with the reason), spawns, exits, steals,
 *     preemptions, readies, and OS switch-out / switch-in of the thread;
 *   - counters ("C"): live goroutines and goroutine I/O in flight;
 *   - greenrt's groups: a counter of members per group ("group N
 *     members", which draws each group's members' lives), an instant for
 *     a group's creation, parent, drain and free, and one across the
 *     process for its cancellation ("group cancel": cause, origin,
 *     members then).
 * Time stamps are CLOCK_MONOTONIC in microseconds.  Events are streamed
 * with fprintf as they arrive (a trace can hold millions), so the file is
 * valid JSON only once gt_trace_close() has written the closing bracket.
 *
 * Writing is a thread of its own (writer()): the main loop copies each
 * event from the ring buffer into a bounded queue and goes back to its
 * other work, so a slow file - a full disk, a pipe nobody reads - never
 * stalls it (a process held at an exec waits for the main loop), and
 * signals never interrupt a write (the writer blocks them).
 *
 * What the file does not get is said, in the report and the JSON: events
 * lost because the file could not take them fast enough (the BPF side
 * found the ring full, GT_RB_DROPS, or the queue was full), and, with
 * --trace-max-mb, events
 * past the cap (a busy server makes ~40 MB a second): once the file
 * reaches it, the BPF side is told to stop recording (trace_capped) and
 * counts what it leaves out.  The file is created, and its header
 * written and flushed, before the run starts, so a path that cannot
 * take it (/dev/full, a read-only directory) is an error up front.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define TRACKS 4096
#define QUEUE_EVENTS (1 << 18)  /* events between the main loop and the writer */
#define WRITE_BATCH 4096        /* events the writer takes at a time */

struct track {
	uint32_t tid;           /* 0 = free slot */
	uint32_t pid;           /* its process */
	int64_t g;              /* goroutine running, 0 none */
	uint64_t since;         /* its switch-in, ns */
};

struct gt_tracer {
	struct gt_session *s;   /* while started */
	/* the queue: the main loop adds, the writer takes (under mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gt_event *q;
	size_t head, count;     /* oldest event, events queued */
	bool closing;           /* no more events: drain and stop */
	long dropped;           /* events lost: the queue was full */
	pthread_t writer;
	bool writer_on;
	/* the writer's own (and, before it starts or after it ends, ours) */
	FILE *f;
	uint64_t max_bytes;     /* --trace-max-mb, 0 = no cap */
	uint64_t bytes;         /* written so far */
	long events;
	long nev;               /* array elements written (events and metadata) */
	uint32_t pids[64];      /* processes named so far (process_name) */
	int npids;
	long capped;            /* events dropped here once the cap was reached */
	uint64_t capped_ts;     /* time stamp of the first of them */
	int err;                /* first write error, -errno */
	int64_t live, io_inflight;
	struct track tracks[TRACKS];
};

static void out(struct gt_tracer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One event of the array: the separator, then fmt. */
#define ev(t, ...)                                      \
	do {                                            \
		out(t, "%s", (t)->nev++ ? ",\n" : "\n"); \
		out(t, __VA_ARGS__);                    \
	} while (0)

/* fprintf to the trace, counting bytes and keeping the first error. */
static void out(struct gt_tracer *t, const char *fmt, ...)
{
	va_list ap;
	if (t->err)
		return;
	va_start(ap, fmt);
	int n = vfprintf(t->f, fmt, ap);
	va_end(ap);
	if (n < 0)
		t->err = -(errno ? errno : EIO);
	else
		t->bytes += (uint64_t)n;
}

/* A "pid N" track group for each process, the first time it appears. */
static void name_process(struct gt_tracer *t, uint32_t pid)
{
	for (int i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return;
	if (t->npids < (int)(sizeof(t->pids) / sizeof(t->pids[0])))
		t->pids[t->npids++] = pid;
	ev(t, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"args\":{\"name\":\"pid %u\"}}",
	   pid, pid);
}

static struct track *track(struct gt_tracer *t, const struct gt_event *e)
{
	uint32_t tid = e->tid;
	for (unsigned i = tid % TRACKS, n = 0; n < TRACKS; i = (i + 1) % TRACKS, n++) {
		if (t->tracks[i].tid == tid)
			return &t->tracks[i];
		if (!t->tracks[i].tid) {
			name_process(t, e->tgid);
			t->tracks[i].tid = tid;
			t->tracks[i].pid = e->tgid;
			ev(t, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,"
			    "\"args\":{\"name\":\"thread %u\"}}", e->tgid, tid, tid);
			return &t->tracks[i];
		}
	}
	return NULL;
}

/* An instant on the event's thread; scope 'p': across its process. */
static void instant_s(struct gt_tracer *t, const struct gt_event *e, const char *name, const char *args,
		      char scope)
{
	ev(t, "{\"ph\":\"i\",\"s\":\"%c\",\"name\":\"%s\",\"pid\":%u,\"tid\":%u,"
	    "\"ts\":%.3f,\"args\":{%s}}", scope, name, e->tgid, e->tid, (double)e->ts / 1e3, args);
}

static void instant(struct gt_tracer *t, const struct gt_event *e, const char *name,
		    const char *args)
{
	instant_s(t, e, name, args, 't');
}

static void counter(struct gt_tracer *t, const struct gt_event *e, const char *name, int64_t v)
{
	ev(t, "{\"ph\":\"C\",\"name\":\"%s\",\"pid\":%u,\"ts\":%.3f,\"args\":{\"%s\":%lld}}",
	    name, e->tgid, (double)e->ts / 1e3, name, (long long)v);
}

static void end_run(struct gt_tracer *t, struct track *k, uint64_t now)
{
	if (!k->g)
		return;
	ev(t, "{\"ph\":\"X\",\"name\":\"g%lld\",\"cat\":\"goroutine\",\"pid\":%u,"
	    "\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"goroutine\":%lld}}",
	    (long long)k->g, k->pid, k->tid, (double)k->since / 1e3,
	    (double)(now - k->since) / 1e3, (long long)k->g);
	k->g = 0;
}

/* One event into the file (the writer). */
static void write_event(struct gt_tracer *t, const struct gt_event *e)
{
	char args[160], name[48];
	if (t->max_bytes && t->bytes >= t->max_bytes) {
		/* the cap: tell the BPF side to stop recording, and count
		 * the events already in the ring that are dropped here */
		if (!t->capped++) {
			t->capped_ts = e->ts;
			t->s->skel->bss->trace_capped = 1;
		}
		return;
	}
	struct track *k = track(t, e);
	if (!k)
		return;
	t->events++;
	switch (e->type) {
	case GT_EV_G_SWITCH:
		end_run(t, k, e->ts);
		if (e->b > 0) {
			k->g = e->b;
			k->since = e->ts;
		}
		break;
	case GT_EV_G_PARK:
		snprintf(args, sizeof(args), "\"goroutine\":%lld,\"reason\":\"%s\"", (long long)e->a,
			 gt_wait_reason_name((unsigned)e->b));
		instant(t, e, "park", args);
		break;
	case GT_EV_G_READY:
		snprintf(args, sizeof(args), "\"goroutine\":%lld,\"by\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, "ready", args);
		break;
	case GT_EV_G_SPAWN:
		snprintf(args, sizeof(args), "\"goroutine\":%lld,\"parent\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, "spawn", args);
		counter(t, e, "goroutines", ++t->live);
		break;
	case GT_EV_G_EXIT:
		snprintf(args, sizeof(args), "\"goroutine\":%lld", (long long)e->a);
		instant(t, e, "exit", args);
		counter(t, e, "goroutines", --t->live);
		break;
	case GT_EV_G_STEAL:
		snprintf(args, sizeof(args), "\"thief\":%lld,\"victim\":%lld,\"count\":%lld",
			 (long long)e->a, (long long)e->b, (long long)e->c);
		instant(t, e, "steal", args);
		break;
	case GT_EV_G_PREEMPT:
		snprintf(args, sizeof(args), "\"goroutine\":%lld,\"async\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, "preempt", args);
		break;
	case GT_EV_G_WORKER:
		ev(t, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,"
		    "\"args\":{\"name\":\"worker %lld (tid %u)\"}}", e->tgid, e->tid,
		    (long long)e->a, e->tid);
		break;
	case GT_EV_G_IO_SUBMIT:
		counter(t, e, "io in flight", ++t->io_inflight);
		break;
	case GT_EV_G_IO_COMPLETE:
		counter(t, e, "io in flight", --t->io_inflight);
		break;
	case GT_EV_OS_OUT:
		snprintf(args, sizeof(args), "\"voluntary\":%lld,\"goroutine\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, e->a ? "os switch-out (blocked)" : "os switch-out (preempted)", args);
		break;
	case GT_EV_OS_IN:
		snprintf(args, sizeof(args), "\"goroutine\":%lld", (long long)e->a);
		instant(t, e, "os switch-in", args);
		break;
	case GT_EV_GRP_NEW:
		snprintf(args, sizeof(args), "\"group\":%lld,\"address\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, "group new", args);
		break;
	case GT_EV_GRP_PARENT:
		snprintf(args, sizeof(args), "\"group\":%lld,\"parent\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, "group parent", args);
		break;
	case GT_EV_GRP_JOIN:
	case GT_EV_GRP_LEAVE:
		/* a member's life: the group's member count over time */
		snprintf(name, sizeof(name), "group %lld members", (long long)e->a);
		counter(t, e, name, e->c);
		break;
	case GT_EV_GRP_CANCEL:
		snprintf(args, sizeof(args), "\"group\":%lld,\"cause\":\"%s\",\"origin\":%lld,\"members\":%lld",
			 (long long)e->a, e->d == GT_GRP_CAUSE_DEADLINE ? "deadline" : "cancel", (long long)e->b,
			 (long long)e->c);
		instant_s(t, e, "group cancel", args, 'p');
		break;
	case GT_EV_GRP_DRAINED:
		snprintf(args, sizeof(args), "\"group\":%lld,\"drain_ns\":%lld", (long long)e->a, (long long)e->b);
		instant(t, e, "group drained", args);
		break;
	case GT_EV_GRP_FREE:
		snprintf(args, sizeof(args), "\"group\":%lld", (long long)e->a);
		instant(t, e, "group free", args);
		break;
	default:
		t->events--;
	}
}

static void *writer(void *arg)
{
	struct gt_tracer *t = arg;
	struct gt_event *batch = malloc(WRITE_BATCH * sizeof(*batch));
	size_t n;
	if (!batch)
		return NULL;    /* the events stay queued: written at close */
	for (;;) {
		pthread_mutex_lock(&t->mu);
		while (!t->count && !t->closing)
			pthread_cond_wait(&t->cv, &t->mu);
		for (n = 0; n < WRITE_BATCH && t->count; n++) {
			batch[n] = t->q[t->head];
			t->head = (t->head + 1) % QUEUE_EVENTS;
			t->count--;
		}
		bool done = !n && t->closing;
		pthread_mutex_unlock(&t->mu);
		if (done)
			break;
		for (size_t i = 0; i < n; i++)
			write_event(t, &batch[i]);
	}
	free(batch);
	return NULL;
}

/* An event from the ring buffer (the main loop): queue it. */
static int on_event(void *ctx, void *data, size_t size)
{
	struct gt_session *sess = ctx;
	struct gt_tracer *t = sess->tracer;     /* NULL once closed */
	if (!t || size < sizeof(struct gt_event))
		return 0;
	pthread_mutex_lock(&t->mu);
	if (t->count == QUEUE_EVENTS) {
		t->dropped++;
	} else {
		memcpy(&t->q[(t->head + t->count) % QUEUE_EVENTS], data, sizeof(struct gt_event));
		if (t->count++ == 0)
			pthread_cond_signal(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	return 0;
}

struct gt_tracer *gt_trace_create(const char *path, double max_mb)
{
	struct gt_tracer *t = calloc(1, sizeof(*t));
	if (t)
		t->q = malloc(QUEUE_EVENTS * sizeof(*t->q));
	if (!t || !t->q) {
		gt_err("out of memory for the --trace queue");
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->max_bytes = (uint64_t)(max_mb * 1e6);
	t->f = fopen(path, "we");
	if (!t->f) {
		gt_err("cannot create the trace file %s: %s (check the directory exists and is writable)",
		       path, strerror(errno));
		free(t->q);
		free(t);
		return NULL;
	}
	out(t, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"tool\":\"gtrace\",\"version\":%d},"
	    "\"traceEvents\":[", GT_JSON_VERSION);
	if (!t->err && fflush(t->f))
		t->err = -errno;
	if (t->err) {
		gt_err("cannot write the trace file %s: %s (give a file on a disk with room)",
		       path, strerror(-t->err));
		fclose(t->f);
		free(t->q);
		free(t);
		return NULL;
	}
	return t;
}

int gt_trace_start(struct gt_tracer *t, struct gt_session *s)
{
	int err = ring_buffer__add(s->rb, bpf_map__fd(s->skel->maps.events), on_event, s);
	if (err) {
		gt_err("cannot open the event ring buffer: %s", strerror(-err));
		return err;
	}
	t->s = s;
	/* the writer takes no signals: they would interrupt its writes */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&t->writer, NULL, writer, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		gt_err("cannot start the --trace writer: %s", strerror(-err));
		return err;
	}
	t->writer_on = true;
	s->tracer = t;
	return 0;
}

struct gt_trace_result gt_trace_close(struct gt_tracer *t, struct gt_session *s)
{
	struct gt_trace_result r = { 0 };
	if (s && s->rb && t->s)
		ring_buffer__consume(s->rb);
	if (s)
		s->tracer = NULL;
	pthread_mutex_lock(&t->mu);
	t->closing = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (t->writer_on)
		pthread_join(t->writer, NULL);
	for (; t->count; t->count--, t->head = (t->head + 1) % QUEUE_EVENTS)
		write_event(t, &t->q[t->head]);    /* (only if the writer could not run) */
	/* close the goroutine runs still open at the end */
	uint64_t last = 0;
	for (int i = 0; i < TRACKS; i++)
		if (t->tracks[i].tid && t->tracks[i].since > last)
			last = t->tracks[i].since;
	for (int i = 0; i < TRACKS; i++)
		if (t->tracks[i].tid)
			end_run(t, &t->tracks[i], last);
	out(t, "\n]}\n");
	if (fclose(t->f) && !t->err)
		t->err = -(errno ? errno : EIO);
	r.written = t->events;
	r.lost = t->dropped;
	r.bytes = t->bytes;
	r.capped = t->capped;
	r.capped_at_s = t->capped && s ? ((double)t->capped_ts - (double)s->t_start) / 1e9 : 0;
	r.err = t->err;
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t->q);
	free(t);
	return r;
}
