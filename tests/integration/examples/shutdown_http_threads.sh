#!/usr/bin/env bash
# http_threads: SIGTERM under load (no torn reply, exit 0, nothing left), a request in flight
# finished, the grace period, read and idle deadlines (see shutdown_test.sh).
exec bash "$(dirname "$0")/shutdown_test.sh" http_threads
