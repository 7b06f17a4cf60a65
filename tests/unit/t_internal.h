/*
 * t_internal.h - the runtime internals a few tests drive directly.
 *
 * Tests use the public API (greenrt.h) and link libgreenrt.a like any
 * program, except for what only a test needs to force: the CPU governor's
 * levers (park and unpark a worker on demand), the stack allocator's
 * fallback kinds, cancelling a goroutine's I/O, and holding a wait
 * group's release half-way, holding an outside thread's ready
 * half-way.  Those tests include
 * this header, which takes the declarations from the runtime's private
 * headers (so the compiler checks them against the definitions), and link
 * the runtime's objects as they are ($(GREENRT_INTERNAL_LINK) in
 * mk/runtime.mk): in libgreenrt.a every internal symbol is local, so a
 * test naming one would not link.
 *
 * Users of it today: tests/unit/test_adapt.c, tests/unit/test_iocancel.c,
 * tests/unit/test_preempt.c, tests/unit/test_sync.c,
 * tests/unit/test_extern.c,
 * tests/unit/t_fatal_helper.c, tests/integration/gtrace/goroutines.c.
 * It is compiled with -iquote runtime; the private headers declare many
 * short names (park, ready, sched...), so a file that includes it must
 * not reuse them.
 */
#ifndef T_INTERNAL_H
#define T_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sched.h"
#include "stack.h" /* stack_no_guard_regions */
#include "adapt.h" /* sched_park_worker, sched_unpark_worker */
#include "io.h"    /* io_cancel_g, io_cancel_clear */
#include "sync.h"  /* wg_release_hook */
#include "extern.h" /* extern_ready_hook */

#endif
