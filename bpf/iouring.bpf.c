// SPDX-License-Identifier: GPL-2.0
/*
 * iouring.bpf.c - io_uring traffic of the target.
 *
 * Which events are the target's?  Submissions, cqring waits and task-work
 * runs happen in the context of a thread of the target (or of its sqpoll
 * thread, a PF_IO_WORKER task sharing its tgid, counted apart).
 * Completions and overflows do not: they may be posted from an io-wq
 * worker, from softirq, from another process's context.  So the rings are
 * identified instead: a ring (struct io_ring_ctx *) the target created or
 * submitted to goes into the `rings` set, and completion-side events count
 * when their ctx is in the set.  Rejected: filtering completions on the
 * current tgid (misses completions posted from interrupt context).
 *
 * A ring's address outlives the ring: once the target frees it, another
 * process's new ring may be allocated at the same place, and its
 * completions were counted as the target's (100 NOPs reported as up to
 * 6,901 completions).  So a ring leaves the set when another process
 * creates a ring at its address (on_create), the one way a new ring can
 * get it.
 */
#include "maps.bpf.h"

static __always_inline bool is_target(void)
{
	return traced((__u32)(bpf_get_current_pid_tgid() >> 32));
}

static __always_inline bool current_is_ioworker(bool btf)
{
	if (btf)
		return bpf_get_current_task_btf()->flags & PF_IO_WORKER;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(t, flags) & PF_IO_WORKER;
}

/* The rings set is a hash; a one-entry per-CPU cache of the last ring
 * seen on this CPU spares the lookup for most events (a worker thread
 * submits to, and reaps from, its own ring, mostly on the same CPU).  An
 * entry is good while rings_gen has not moved: a ring leaving the set
 * bumps it, so no CPU keeps believing in a forgotten ring. */
static __always_inline struct gt_ring_cache *ring_cache(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&ringcache, &zero);
}

static __always_inline bool ring_known(void *ring)
{
	__u64 key = (__u64)ring, gen = rings_gen;
	struct gt_ring_cache *c = ring_cache();
	if (c && c->ring == key && c->gen == gen)
		return true;
	if (!bpf_map_lookup_elem(&rings, &key))
		return false;
	if (c) {
		c->ring = key;
		c->gen = gen;
	}
	return true;
}

static __always_inline void ring_add(void *ring)
{
	__u64 key = (__u64)ring, gen = rings_gen;
	struct gt_ring_cache *c = ring_cache();
	__u8 one = 1;
	if (c && c->ring == key && c->gen == gen)
		return;
	if (!bpf_map_lookup_elem(&rings, &key) &&
	    bpf_map_update_elem(&rings, &key, &one, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&rings, &key)) {
		count(GT_IO_RINGS_UNTRACKED, 1);
		return;
	}
	if (c) {
		c->ring = key;
		c->gen = gen;
	}
}

/* A ring is created.  By a traced process: one of ours.  By another:
 * if its io_ring_ctx sits where one of our rings was, ours has been
 * freed (io_ring_ctx is only ever allocated here), so forget it - its
 * address now names the other process's ring, whose completions are not
 * the target's.  (Other tracepoints do not see a ring's teardown: it
 * happens in a kworker, io_ring_exit_work.) */
static __always_inline void on_create(void *ctx)
{
	__u64 key = (__u64)ctx;
	if (is_target()) {
		ring_add(ctx);
		count(GT_IO_RINGS, 1);
		return;
	}
	if (bpf_map_delete_elem(&rings, &key) == 0) {
		__sync_fetch_and_add(&rings_gen, 1);
		count(GT_IO_RINGS_FORGOTTEN, 1);
	}
}

/* btf: req is a BTF pointer (tp_btf), read directly, not with helpers */
static __always_inline void on_submit(struct io_kiocb *req, bool btf)
{
	if (!is_target())
		return;
	ring_add(btf ? (void *)req->ctx : (void *)BPF_CORE_READ(req, ctx));
	count(current_is_ioworker(btf) ? GT_IO_SUBMIT_IOW : GT_IO_SUBMIT, 1);
	__u32 op = btf ? req->opcode : BPF_CORE_READ(req, opcode);
	if (op < GT_MAX_IO_OPS) {
		__u64 *v = bpf_map_lookup_elem(&io_ops, &op);
		if (v)
			(*v)++;
	}
}

static __always_inline void on_complete(void *ctx)
{
	if (ring_known(ctx))
		count(GT_IO_COMPLETE, 1);
}

static __always_inline void on_cqring_wait(void *ctx)
{
	if (is_target())
		count(GT_IO_CQRING_WAIT, 1);
}

static __always_inline void on_task_work(unsigned int n)
{
	if (!is_target())
		return;
	count(GT_IO_TASK_WORK, 1);
	count(GT_IO_TASK_WORK_ITEMS, n);
}

static __always_inline void on_local_work(void *ctx, int n)
{
	if (ring_known(ctx)) {
		count(GT_IO_LOCAL_WORK, 1);
		count(GT_IO_TASK_WORK_ITEMS, n > 0 ? n : 0);
	}
}

static __always_inline void on_async(struct io_kiocb *req)
{
	if (ring_known(BPF_CORE_READ(req, ctx)))
		count(GT_IO_ASYNC_WORK, 1);
}

static __always_inline void on_overflow(void *ctx)
{
	if (ring_known(ctx))
		count(GT_IO_CQE_OVERFLOW, 1);
}

/* A tp_btf program gt_<name>_b and its raw_tp twin gt_<name>_r (program
 * names stay within the kernel's 15 characters). */
#define TWIN(name, tp, args, call)                                          \
	SEC("tp_btf/" #tp) int BPF_PROG(gt_##name##_b, args) { GT_RUN(); call; return 0; } \
	SEC("raw_tp/" #tp) int BPF_PROG(gt_##name##_r, args) { GT_RUN(); call; return 0; }

#define COMMA ,
TWIN(iocreate, io_uring_create, int fd COMMA void *ring, on_create(ring))
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(gt_iosubmit_b, struct io_kiocb *req)
{
	GT_RUN();
	on_submit(req, true);
	return 0;
}
SEC("raw_tp/io_uring_submit_req")
int BPF_PROG(gt_iosubmit_r, struct io_kiocb *req)
{
	GT_RUN();
	on_submit(req, false);
	return 0;
}
TWIN(iocomplete, io_uring_complete, void *ring COMMA void *req COMMA struct io_uring_cqe *cqe,
     on_complete(ring))
TWIN(iocqwait, io_uring_cqring_wait, void *ring COMMA int min_events, on_cqring_wait(ring))
TWIN(iotaskwork, io_uring_task_work_run, void *tctx COMMA unsigned int n, on_task_work(n))
TWIN(iolocalwk, io_uring_local_work_run, void *ring COMMA int n COMMA unsigned int loops,
     on_local_work(ring, n))
TWIN(ioasync, io_uring_queue_async_work, struct io_kiocb *req COMMA int rw, on_async(req))
TWIN(iooverflow, io_uring_cqe_overflow, void *ring COMMA unsigned long long user_data COMMA
     int res COMMA unsigned int cflags COMMA void *ocqe, on_overflow(ring))

char LICENSE[] SEC("license") = "GPL";
