#!/usr/bin/env bash
# http_greenrt: loadgen, curl, malformed/oversize/traversal/pipelined/reset requests, SIGTERM (see http_test.sh).
exec bash "$(dirname "$0")/http_test.sh" http_greenrt
