/*
 * preempt.S - asynchronous preemption's injected call, for x86_64.
 *
 * The preemption signal's handler runs on the worker's alternate signal
 * stack, which the goroutine cannot take with it when it parks: so the
 * handler does not park.  It makes the interrupted goroutine call
 * async_preempt instead (Go's asyncPreempt), by editing the signal
 * frame before returning from it:
 *
 *   rsp  <- interrupted rsp - 128 (the red zone, which the interrupted
 *           function may be using) - 8
 *   0(rsp) = interrupted rip
 *   rip  <- async_preempt
 *
 * async_preempt then runs on the goroutine's own stack with every other
 * register as it was: it saves them all (general registers, flags, and
 * the whole extended state with XSAVE - the vector registers of any
 * width the kernel enabled, MXCSR, the x87 state), calls
 * preempt_async_park (which yields; the goroutine may resume on another
 * worker), restores them and returns to the interrupted instruction
 * with `ret $128`, which also gives the red zone back.  Frame, from the
 * interrupted rsp downward:
 *
 *   -128 .. -1        red zone (untouched)
 *   -136              interrupted rip        <- CFA - 136
 *   -144              rflags
 *   -152 .. -264      rax rcx rdx rbx rbp rsi rdi r8-r15  (15 registers)
 *   below, 64-aligned the XSAVE area (preempt_xsave_size bytes; FXSAVE's
 *   512 where the CPU has no XSAVE), then preempt_async_park's frames.
 *
 * The handler injects the call only when the goroutine's stack has room
 * for all of it (preempt.c: PREEMPT_ROOM).
 */
	/* In the runtime's own section: preempt.c never interrupts code there. */
	.section greenrt_text,"ax",@progbits

	.hidden	preempt_xsave_size
	.hidden	preempt_use_xsave
	.hidden	preempt_async_park

	.globl	async_preempt
	.hidden	async_preempt
	.type	async_preempt, @function
	.p2align 4
async_preempt:
	.cfi_startproc
	.cfi_def_cfa rsp, 136
	.cfi_offset rip, -136
	pushfq
	.cfi_adjust_cfa_offset 8
	pushq	%rax
	.cfi_adjust_cfa_offset 8
	pushq	%rcx
	.cfi_adjust_cfa_offset 8
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbx, 0
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	pushq	%r8
	.cfi_adjust_cfa_offset 8
	pushq	%r9
	.cfi_adjust_cfa_offset 8
	pushq	%r10
	.cfi_adjust_cfa_offset 8
	pushq	%r11
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r15, 0
	movq	%rsp, %rbx		/* the saved registers; callee-saved */
	.cfi_def_cfa_register rbx
	subq	preempt_xsave_size(%rip), %rsp
	andq	$-64, %rsp
	cmpb	$0, preempt_use_xsave(%rip)
	je	1f
	/* XRSTOR faults unless the header's reserved bytes are zero, and
	 * XSAVE writes only its first 8. */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	$-1, %eax		/* every component the kernel enabled */
	movl	$-1, %edx
	xsave64	(%rsp)
	jmp	2f
1:	fxsave64 (%rsp)
2:	/* The ABI's state at a call: direction flag clear, x87 stack empty
	 * (MMX code may have been interrupted). */
	cld
	emms
	call	preempt_async_park
	cmpb	$0, preempt_use_xsave(%rip)
	je	4f
	movl	$-1, %eax
	movl	$-1, %edx
	xrstor64 (%rsp)
	jmp	5f
4:	fxrstor64 (%rsp)
5:	movq	%rbx, %rsp
	.cfi_def_cfa_register rsp
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore r12
	popq	%r11
	.cfi_adjust_cfa_offset -8
	popq	%r10
	.cfi_adjust_cfa_offset -8
	popq	%r9
	.cfi_adjust_cfa_offset -8
	popq	%r8
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbp
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbx
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	popq	%rax
	.cfi_adjust_cfa_offset -8
	popfq
	.cfi_adjust_cfa_offset -8
	ret	$128
	.cfi_endproc
	.size	async_preempt, .-async_preempt

	.section .note.GNU-stack,"",@progbits
