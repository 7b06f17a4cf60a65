/*
 * kv_cmd.h - the commands of the kv service (a Redis-protocol server):
 * executes one parsed command against the store and appends its reply.
 * Shared by both models; the replies and error messages are Redis 7.0's,
 * byte for byte, for every command implemented (the differential test
 * tests/integration/examples/kv_diff.sh holds it to that).
 */
#ifndef EXAMPLES_KV_CMD_H
#define EXAMPLES_KV_CMD_H

#include <stdatomic.h>
#include <stdint.h>

#include "kv_store.h"
#include "resp_parse.h"
#include "resp_reply.h"

/* The server, as commands see it. */
typedef struct kv_server {
    kv_store *store;
    const char *model;           /* "greenrt" or "threads" (INFO) */
    int64_t started_ms;          /* kv_now_ms() at start (INFO uptime) */
    int port;                    /* the port it listens on (INFO) */
    int64_t read_timeout_ms;     /* a command, once begun, must arrive within it (0: no limit) */
    int64_t idle_timeout_ms;     /* between commands (0: wait forever, as Redis's timeout 0) */
    atomic_long clients;         /* connections being served */
    atomic_llong next_client_id; /* CLIENT ID: last one given out */
} kv_server;

/* One connection's state. */
typedef struct kv_client {
    long long id;
    char *name;   /* CLIENT SETNAME (malloc'd), or NULL */
    int quit;     /* QUIT: close once the replies so far are written */
} kv_client;

void kv_client_init(kv_server *srv, kv_client *cl);
void kv_client_free(kv_client *cl);

/* Executes the command args[0 .. nargs) (offsets from base: see
 * resp_parse.h) for client cl, appending its reply to out.  now is
 * kv_now_ms(), read once per batch of pipelined commands. */
void kv_exec(kv_server *srv, kv_client *cl, const char *base, const resp_arg *args,
             uint32_t nargs, resp_reply *out, int64_t now);

#endif
