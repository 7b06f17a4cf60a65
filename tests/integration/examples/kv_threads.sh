#!/usr/bin/env bash
# kv_threads: redis-benchmark, oversized requests, QUIT, fd leaks, SIGTERM (see kv_test.sh).
exec bash "$(dirname "$0")/kv_test.sh" kv_threads
