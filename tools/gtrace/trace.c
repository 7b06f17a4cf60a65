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
 *   - counters ("C"): live goroutines and goroutine I/O in flight.
 * Time stamps are CLOCK_MONOTONIC in microseconds.  Events are streamed
 * with fprintf as they arrive (a trace can hold millions), so the file is
 * valid JSON only once gt_trace_close() has written the closing bracket.
 * Lost events (ring full) are counted and reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "gtrace_cli.h"
#include "gtrace.skel.h"

#define TRACKS 4096

struct track {
	uint32_t tid;           /* 0 = free slot */
	int64_t g;              /* goroutine running, 0 none */
	uint64_t since;         /* its switch-in, ns */
};

struct gt_tracer {
	FILE *f;
	struct ring_buffer *rb;
	pid_t pid;
	long events;
	int64_t live, io_inflight;
	struct track tracks[TRACKS];
};

static struct track *track(struct gt_tracer *t, uint32_t tid)
{
	for (unsigned i = tid % TRACKS, n = 0; n < TRACKS; i = (i + 1) % TRACKS, n++) {
		if (t->tracks[i].tid == tid)
			return &t->tracks[i];
		if (!t->tracks[i].tid) {
			t->tracks[i].tid = tid;
			fprintf(t->f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%u,"
				"\"args\":{\"name\":\"thread %u\"}}", (int)t->pid, tid, tid);
			return &t->tracks[i];
		}
	}
	return NULL;
}

static void instant(struct gt_tracer *t, const struct gt_event *e, const char *name,
		    const char *args)
{
	fprintf(t->f, ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",\"pid\":%d,\"tid\":%u,"
		"\"ts\":%.3f,\"args\":{%s}}", name, (int)t->pid, e->tid, (double)e->ts / 1e3, args);
}

static void counter(struct gt_tracer *t, const struct gt_event *e, const char *name, int64_t v)
{
	fprintf(t->f, ",\n{\"ph\":\"C\",\"name\":\"%s\",\"pid\":%d,\"ts\":%.3f,\"args\":{\"%s\":%lld}}",
		name, (int)t->pid, (double)e->ts / 1e3, name, (long long)v);
}

static void end_run(struct gt_tracer *t, struct track *k, uint64_t now)
{
	if (!k->g)
		return;
	fprintf(t->f, ",\n{\"ph\":\"X\",\"name\":\"g%lld\",\"cat\":\"goroutine\",\"pid\":%d,"
		"\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"goroutine\":%lld}}",
		(long long)k->g, (int)t->pid, k->tid, (double)k->since / 1e3,
		(double)(now - k->since) / 1e3, (long long)k->g);
	k->g = 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct gt_tracer *t = ctx;
	const struct gt_event *e = data;
	char args[160];
	if (size < sizeof(*e))
		return 0;
	struct track *k = track(t, e->tid);
	if (!k)
		return 0;
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
		fprintf(t->f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%u,"
			"\"args\":{\"name\":\"worker %lld (tid %u)\"}}", (int)t->pid, e->tid,
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
	default:
		t->events--;
	}
	return 0;
}

struct gt_tracer *gt_trace_open(struct gt_session *s, const char *path)
{
	struct gt_tracer *t = calloc(1, sizeof(*t));
	if (!t) {
		gt_err("out of memory");
		return NULL;
	}
	t->pid = s->tgid;
	t->f = fopen(path, "we");
	if (!t->f) {
		gt_err("cannot create %s: %s (check the directory exists and is writable)", path, strerror(errno));
		free(t);
		return NULL;
	}
	t->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_event, t, NULL);
	if (!t->rb) {
		gt_err("cannot open the event ring buffer: %s", strerror(errno));
		fclose(t->f);
		free(t);
		return NULL;
	}
	fprintf(t->f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"tool\":\"gtrace\",\"version\":%d},"
		"\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,"
		"\"args\":{\"name\":\"pid %d\"}}", GT_JSON_VERSION, (int)s->tgid, (int)s->tgid);
	return t;
}

int gt_trace_poll(struct gt_tracer *t, int timeout_ms)
{
	int n = ring_buffer__poll(t->rb, timeout_ms);
	return n == -EINTR ? 0 : n;
}

long gt_trace_close(struct gt_tracer *t, struct gt_session *s)
{
	(void)s;
	ring_buffer__consume(t->rb);
	/* close the goroutine runs still open at the end */
	uint64_t last = 0;
	for (int i = 0; i < TRACKS; i++)
		if (t->tracks[i].tid && t->tracks[i].since > last)
			last = t->tracks[i].since;
	for (int i = 0; i < TRACKS; i++)
		if (t->tracks[i].tid)
			end_run(t, &t->tracks[i], last);
	fprintf(t->f, "\n]}\n");
	long n = t->events;
	if (fclose(t->f))
		n = -EIO;
	ring_buffer__free(t->rb);
	free(t);
	return n;
}
