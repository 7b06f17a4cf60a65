/*
 * loadgen.h - shared types of the load generator: the configuration (read
 * only once the workers start), the per-worker counters (one writer: the
 * worker; read by the main thread for progress lines), and the run phases.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"

enum lg_proto { LG_ECHO, LG_HTTP };

typedef struct lg_config {
    const char *host;
    int port;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int connections;      /* total, over all threads */
    int threads;
    int size;             /* echo message size */
    double rate;          /* open loop: total requests/s; 0 = closed loop */
    double duration;      /* measured seconds */
    double warmup;        /* seconds before measuring */
    int proto;            /* enum lg_proto */
    const char *path;     /* HTTP path */
    int json, quiet;
    char *request;        /* HTTP: the request bytes */
    size_t request_len;
    char *pattern;        /* echo: payload source, size + 256 bytes */
} lg_config;

/* Written only by the owning worker (relaxed atomic stores), read by the
 * main thread at any time. */
typedef struct lg_counters {
    uint64_t requests;         /* verified replies completed while measuring */
    uint64_t warmup_requests;  /* ... completed during the warm-up */
    uint64_t verify_errors;    /* wrong bytes, status != 200, bad framing */
    uint64_t io_errors;        /* reset, unexpected close, send/recv error */
    uint64_t connect_failures; /* connects that failed or timed out */
    uint64_t connected;        /* connections established now */
    uint64_t connects_done;    /* initial connects finished (ok or failed) */
    uint64_t reconnects;       /* HTTP "Connection: close" answered */
    int first_connect_errno;   /* 0 until a connect fails */
    char first_error[128];     /* first verify/io error, for the report */
} lg_counters;

typedef struct lg_worker {
    int index;
    const lg_config *cfg;
    pthread_t tid;
    int first_conn;   /* global id of this worker's first connection */
    int nconns;       /* connections this worker drives */
    lg_counters c;
    hist h;           /* latencies of measured requests */
    void *priv;       /* worker.c's private state */
} lg_worker;

/* Run phases, set by the main thread.  lg_t0 is the start of the load (the
 * warm-up begins there); lg_measure_start is when measuring begins
 * (INT64_MAX until then). */
extern int lg_started;          /* atomic: 1 once all connects are done */
extern int lg_stop;             /* atomic: 1 when the run is over */
extern int64_t lg_t0;           /* atomic */
extern int64_t lg_measure_start; /* atomic */

int64_t lg_now(void);           /* CLOCK_MONOTONIC ns */
void *lg_worker_main(void *w);  /* pthread entry */

#endif
