/*
 * arch.h - the context switch (arch/x86_64/switch.S): saving one
 * goroutine's callee-saved registers and stack pointer and resuming
 * another's.  switch.S describes the frame it leaves on a stack.
 */
#ifndef GR_ARCH_H
#define GR_ARCH_H

/* Saves the caller's frame on its stack, stores the stack pointer in
 * *save_sp, and resumes the frame at new_sp. */
void ctx_switch(void **save_sp, void *new_sp);
/* Where a new goroutine's first switch returns to: calls the entry
 * function (r13) with its argument (r12), which must never return. */
void ctx_trampoline(void);

#endif
