/*
 * probe_load.h - the checking load both probes run (kv_probe load,
 * http_probe load): CONNS connections, each sending batches of PIPELINE
 * requests and checking every reply, until SECONDS pass or the server
 * closes them all (a shutdown).  A connection the server closes in the
 * middle of a reply counts as torn; a batch not answered at all does not
 * (a draining server may drop requests it never read).  The protocol
 * supplies the requests and the reply parser.
 */
#ifndef TESTS_PROBE_LOAD_H
#define TESTS_PROBE_LOAD_H

#include <stddef.h>

typedef struct probe_conn {
    int fd;
    int id;            /* 0 .. CONNS-1 */
    int open;
    int pending;       /* replies still expected for the batch in flight */
    long round;        /* batches sent */
    size_t len;
    char buf[1 << 16]; /* received, not yet parsed */
} probe_conn;

typedef struct probe_proto {
    const char *unit; /* "replies", "responses": the name in the summary */
    /* Sends c's next batch of pipeline requests: 0, or -1. */
    int (*send_batch)(probe_conn *c, int pipeline);
    /* The reply at the front of c->buf, the index-th of its batch: its
     * length, 0 if incomplete, -1 if wrong. */
    long (*parse)(probe_conn *c, int index);
} probe_proto;

/* A TCP connection to 127.0.0.1:port with TCP_NODELAY; exits 2 on failure. */
int probe_dial(int port);

/* Runs the load and prints "UNIT=N torn=N wrong=N closed=N"; returns 0
 * if nothing was torn or wrong, else 1. */
int probe_load(int port, int nconns, int seconds, int pipeline, const probe_proto *p);

#endif
