# bench/compare: greenrt vs thread-per-connection (and Go, State Threads)
# under the same echo load, every server traced by gtrace.
#
#   make bench-compare   C = 100, 1,000, 10,000; 3 interleaved repeats of
#                        1 s warm-up + 5 s (about 10 minutes with Go and ST);
#                        COMPARE_ARGS="--pin -r 1" adds/overrides options
#                        (bench/compare/compare.sh --help)
#   make demo            a short run (echo at C=1,000, greenrt and threads,
#                        traced, 2 interleaved repeats of 1 s + 5 s) with one
#                        sentence per row saying what it shows
#
# Output: $(BUILD)/compare/results.json and report.html (gnuplot SVG
# inline).  The peers are built only when their toolchains are present:
# $(BUILD)/compare/echo_go needs `go` (Debian golang-go; built offline, every
# Go cache under $(BUILD)), $(BUILD)/compare/echo_st needs libst-dev.

COMPARE_DIR := $(BUILD)/compare
COMPARE_SCRIPTS := bench/compare/compare.sh bench/compare/report.awk \
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

demo-run: $(COMPARE_NEEDS)
	$(Q)BUILD=$(BUILD) bash bench/compare/compare.sh --demo -m greenrt,threads \
	    -c 1000 -r 2 -w 1 -d 5 $(COMPARE_ARGS)

TESTS_INTEGRATION += tests/integration/compare/test_compare.sh
