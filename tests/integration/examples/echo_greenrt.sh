#!/usr/bin/env bash
# echo_greenrt under load, fd leaks and SIGTERM shutdown (see echo_test.sh).
exec bash "$(dirname "$0")/echo_test.sh" echo_greenrt
