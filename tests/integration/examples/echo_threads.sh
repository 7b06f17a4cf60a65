#!/usr/bin/env bash
# echo_threads under load, fd leaks and SIGTERM shutdown (see echo_test.sh).
exec bash "$(dirname "$0")/echo_test.sh" echo_threads
