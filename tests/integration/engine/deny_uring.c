/*
 * deny_uring.c - runs a command where io_uring is refused, as Docker's
 * default seccomp profile (and containerd's RuntimeDefault) refuse it:
 *
 *     deny_uring CMD [ARG]...
 *
 * installs a seccomp filter (prctl(PR_SET_NO_NEW_PRIVS) +
 * seccomp(SECCOMP_SET_MODE_FILTER), no privilege needed) under which
 * io_uring_setup, io_uring_enter and io_uring_register fail with EPERM
 * and every other system call is allowed, checks that io_uring_setup is
 * really refused, then execs CMD (the filter is inherited across exec
 * and fork).  Exits 77 (skip) where seccomp filters cannot be installed,
 * 1 on any other failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#else
#error "deny_uring: unknown architecture"
#endif

#define REFUSE(nr)                                                  \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                 \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: deny_uring CMD [ARG]...\n");
        return 1;
    }
    struct sock_filter filter[] = {
        /* A foreign architecture's numbers mean something else: refuse. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        REFUSE(__NR_io_uring_setup),
        REFUSE(__NR_io_uring_enter),
        REFUSE(__NR_io_uring_register),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "deny_uring: skipped: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
        return 77;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
        fprintf(stderr, "deny_uring: skipped: seccomp(SECCOMP_SET_MODE_FILTER): %s\n",
                strerror(errno));
        return 77;
    }
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(__NR_io_uring_setup, 4, &p);
    if (fd >= 0 || errno != EPERM) {
        fprintf(stderr, "deny_uring: the filter does not refuse io_uring_setup (%s)\n",
                fd >= 0 ? "it worked" : strerror(errno));
        return 1;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "deny_uring: cannot run %s: %s\n", argv[1], strerror(errno));
    return 1;
}
