/*
 * t_io.h - helpers shared by the I/O unit tests (test_stream, test_net,
 * test_deadline, test_blocking, test_bufring, test_batching): the byte
 * pattern and checksum that transfers are verified with, socket helpers,
 * and batches of socketpairs.  Include after t_util.h.
 */
#ifndef T_IO_H
#define T_IO_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "t_util.h"

/* The stream every transfer test sends: byte `pos` of a stream is a
 * hash of its position, so the receiver can check each byte in place
 * (catching reordering, loss and duplication, not just corruption). */
static inline uint8_t t_pat(uint64_t pos)
{
    uint64_t x = (pos >> 3) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (uint8_t)(x >> ((pos & 7) * 8));
}

T_FN void t_fill(uint8_t *buf, size_t n, uint64_t pos)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = t_pat(pos + i);
}

/* Index of the first byte that differs from the pattern, or n. */
T_FN size_t t_verify(const uint8_t *buf, size_t n, uint64_t pos)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != t_pat(pos + i))
            return i;
    return n;
}

/* FNV-1a, 64 bits: the checksum each end computes independently. */
T_FN uint64_t t_fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define T_FNV_INIT 0xcbf29ce484222325ull

T_FN int t_port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

T_FN int t_is_cloexec(int fd)
{
    int f = fcntl(fd, F_GETFD);
    return f >= 0 && (f & FD_CLOEXEC);
}

T_FN pid_t t_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

#define MiB (1024u * 1024u)

/* Closes and frees what t_socketpairs made (NULL: nothing). */
T_FN void t_close_socketpairs(int (*sv)[2], int n)
{
    for (int i = 0; sv && i < n; i++) {
        gr_close(sv[i][0]);
        gr_close(sv[i][1]);
    }
    free(sv);
}

/* n AF_UNIX stream pairs (CLOEXEC), or NULL after a failed check. */
T_FN int (*t_socketpairs(int n))[2]
{
    int (*sv)[2] = calloc((size_t)n, sizeof *sv);
    t_check(sv != NULL);
    if (!sv)
        return NULL;
    int i = 0;
    for (; i < n; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) < 0)
            break;
    t_check_eq(i, n);
    if (i == n)
        return sv;
    t_close_socketpairs(sv, i);
    return NULL;
}

#endif /* T_IO_H */
