/*
 * switch.S - goroutine context switch for x86_64 (System V ABI).
 *
 * A switch is a function call: the caller-saved registers are already
 * dead by the ABI, so only the callee-saved ones (rbx, rbp, r12-r15), the
 * stack pointer, and the two FPU control words the ABI also makes
 * callee-saved (MXCSR and the x87 control word) are saved.  No system call
 * (swapcontext makes one per switch to save the signal mask: goroutines
 * share their worker's mask, so there is nothing to save).
 *
 * Frame left on a switched-out stack, from the saved sp upward:
 *   +0  (pad)  +8 mxcsr (4)  +12 x87 cw (2)
 *   +16 r15  +24 r14  +32 r13  +40 r12  +48 rbx  +56 rbp  +64 return address
 * g_start_stack (sched.c) builds the same frame for a new goroutine,
 * with ctx_trampoline as return address, the entry function in r13 and
 * its argument in r12.
 */
	/* In the runtime's own section: preempt.c never interrupts code there. */
	.section greenrt_text,"ax",@progbits

/* void ctx_switch(void **save_sp, void *new_sp) */
	.globl	ctx_switch
	.hidden	ctx_switch
	.type	ctx_switch, @function
	.p2align 4
ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$16, %rsp
	stmxcsr	8(%rsp)
	fnstcw	12(%rsp)
	movl	8(%rsp), %ecx		/* keep ours to compare (scratch regs) */
	movzwl	12(%rsp), %edx
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	/* Loading a control word is slow (it serialises FP work); almost
	 * every goroutine has the same ones, so only load what differs. */
	cmpl	8(%rsp), %ecx
	je	1f
	ldmxcsr	8(%rsp)
1:	cmpw	12(%rsp), %dx
	je	2f
	fldcw	12(%rsp)
2:	addq	$16, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	ctx_switch, .-ctx_switch

/* First code a new goroutine runs: entry(arg) with entry in r13 and arg in
 * r12.  entry never returns.  The undefined return address ends unwinding
 * (backtraces, debuggers) here instead of in garbage. */
	.globl	ctx_trampoline
	.hidden	ctx_trampoline
	.type	ctx_trampoline, @function
	.p2align 4
ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	ctx_trampoline, .-ctx_trampoline

	.section .note.GNU-stack,"",@progbits
