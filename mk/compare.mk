# bench/compare: greenrt (on io_uring, and on epoll: greenrt-epoll) vs
# thread-per-connection (and Go, State Threads) under the same echo load,
# and greenrt's kv and HTTP servers against redis-server and nginx; every
# server traced by gtrace.
#
#   make bench-compare   C = 100, 1,000, 10,000; 3 interleaved repeats of
#                        1 s warm-up + 5 s (about 10 minutes with Go and ST);
#                        COMPARE_ARGS="--pin -r 1" adds/overrides options
#                        (bench/compare/compare.sh --help)
#   make bench-compare-kv    kv_greenrt vs redis-server vs kv_threads,
#                        redis-benchmark -t set,get at -c 50 and 1,000,
#                        -P 1 and 16, pinned, 3 interleaved repeats
#                        (about 8 minutes); output in $(BUILD)/compare-kv
#   make bench-compare-http  http_greenrt vs nginx vs http_threads, wrk -t1
#                        -c 100 and 1,000 on GET /hello, pinned, 3 repeats
#                        of 1 s + 5 s (about 3 minutes); $(BUILD)/compare-http
#   make bench-compare-services  both
#   make demo            a short run (echo at C=1,000: threads, greenrt-epoll
#                        and greenrt, traced, 2 interleaved repeats of 1 s +
#                        5 s) with one sentence per row saying what green
#                        threads and what io_uring each changed, then one
#                        more run of each under gtrace --offcpu --counters:
#                        where each waits, and their flame graphs side by side
#
# Output: $(BUILD)/compare/results.json and report.html (gnuplot SVG
# inline).  The peers are built only when their toolchains are present:
# $(BUILD)/compare/echo_go needs `go` (Debian golang-go; built offline, every
# Go cache under $(BUILD)), $(BUILD)/compare/echo_st needs libst-dev.

COMPARE_DIR := $(BUILD)/compare
COMPARE_SCRIPTS := bench/compare/compare.sh bench/compare/report.awk bench/compare/why.awk \
	bench/compare/jflat.awk bench/compare/html.sh
COMPARE_NEEDS := $(BUILD)/gtrace $(BUILD)/loadgen $(BUILD)/echo_greenrt $(BUILD)/echo_threads

GO ?= go
COMPARE_GO := $(shell command -v $(GO) 2>/dev/null)
COMPARE_ST := $(wildcard /usr/include/st.h)
COMPARE_PEERS := $(if $(COMPARE_GO),$(COMPARE_DIR)/echo_go) \
	$(if $(COMPARE_ST),$(COMPARE_DIR)/echo_st)
ALL += $(COMPARE_PEERS)

COMPARE_GO_ENV := GOFLAGS=-mod=mod GOPROXY=off GOENV=off GOTOOLCHAIN=local \
	GOTELEMETRY=off CGO_ENABLED=0 \
	GOCACHE=$(abspath $(COMPARE_DIR))/go/cache \
	GOPATH=$(abspath $(COMPARE_DIR))/go/path \
	GOMODCACHE=$(abspath $(COMPARE_DIR))/go/modcache

$(COMPARE_DIR)/echo_go: bench/go/echo/main.go bench/go/echo/go.mod
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)cd bench/go/echo && $(COMPARE_GO_ENV) $(GO) build -trimpath -o $(abspath $@) .

$(COMPARE_DIR)/echo_st: bench/st/echo_st.c
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lst

.PHONY: compare-peers-note bench-compare demo-run
compare-peers-note:
	$(if $(COMPARE_GO),,@echo "bench-compare: go is not installed, skipping the Go peer (apt-get install golang-go)")
	$(if $(COMPARE_ST),,@echo "bench-compare: libst-dev is not installed, skipping the State Threads peer (apt-get install libst-dev)")

BENCH_RUNS += bench-compare
bench-compare: $(COMPARE_NEEDS) $(COMPARE_PEERS) compare-peers-note
	$(Q)BUILD=$(BUILD) bash bench/compare/compare.sh $(COMPARE_ARGS)

COMPARE_KV_NEEDS := $(BUILD)/gtrace $(BUILD)/kv_greenrt $(BUILD)/kv_threads
COMPARE_HTTP_NEEDS := $(BUILD)/gtrace $(BUILD)/http_greenrt $(BUILD)/http_threads

.PHONY: bench-compare-kv bench-compare-http bench-compare-services
BENCH_RUNS += bench-compare-kv bench-compare-http
bench-compare-kv: $(COMPARE_KV_NEEDS)
	$(Q)BUILD=$(BUILD) bash bench/compare/compare.sh --workload kv --pin $(COMPARE_ARGS)

bench-compare-http: $(COMPARE_HTTP_NEEDS)
	$(Q)BUILD=$(BUILD) bash bench/compare/compare.sh --workload http --pin $(COMPARE_ARGS)

bench-compare-services: bench-compare-kv bench-compare-http

demo-run: $(COMPARE_NEEDS)
	$(Q)BUILD=$(BUILD) bash bench/compare/compare.sh --demo --why -m threads,greenrt-epoll,greenrt \
	    -c 1000 -r 2 -w 1 -d 5 $(COMPARE_ARGS)

TESTS_INTEGRATION += tests/integration/compare/test_compare.sh \
	tests/integration/compare/test_compare_services.sh
