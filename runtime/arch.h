/*
 * arch.h - the context switch (arch/x86_64/switch.S): saving one
 * goroutine's callee-saved registers and stack pointer and resuming
 * another's.  switch.S describes the frame it leaves on a stack.
 */
#ifndef GR_ARCH_H
#define GR_ARCH_H

#include <stdint.h>

/* Saves the caller's frame on its stack, stores the stack pointer in
 * *save_sp, and resumes the frame at new_sp. */
void ctx_switch(void **save_sp, void *new_sp);
/* Where a new goroutine's first switch returns to: calls the entry
 * function (r13) with its argument (r12), which must never return. */
void ctx_trampoline(void);

/* Asynchronous preemption's injected call (arch/x86_64/preempt.S, whose
 * prose gives the frame the signal handler prepares): saves every
 * register on the goroutine's stack, calls preempt_async_park (preempt.c),
 * restores them and returns to the interrupted instruction. */
void async_preempt(void);
void preempt_async_park(void);
/* How async_preempt saves the extended state (preempt.c fills them):
 * XSAVE of an area this large, or FXSAVE's 512 bytes. */
extern uint64_t preempt_xsave_size;
extern uint8_t preempt_use_xsave;

#endif
