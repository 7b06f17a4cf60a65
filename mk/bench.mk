# bench/: micro-benchmarks of the runtime and their Go twins.
#
#   make bench-sched   spawn+join, parked RSS, channel round trip, yield,
#                      contended mutex: greenrt vs Go 1.19, side by side
#   make bench-io      pipe round trip through gr_read/gr_write vs Go
#   BENCH_ARGS="-r 1 -s 0.1"   passed to both binaries (a quick smoke run;
#                      see build/bench/bench_sched -h)
#
# The Go twins (bench/go) are built only when `go` is installed, offline
# (no dependencies, GOPROXY=off) and with every Go cache under $(BUILD),
# so nothing is written to $HOME.

BENCH_DIR := $(BUILD)/bench
BENCH_BINS := $(BENCH_DIR)/bench_sched $(BENCH_DIR)/bench_io
BENCH_HARNESS := bench/bench_harness.c bench/bench_harness.h
ALL += $(BENCH_BINS)

$(BENCH_BINS): $(BENCH_DIR)/%: bench/%.c $(BENCH_HARNESS) runtime/include/greenrt.h \
		$(LIBGREENRT_A)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< bench/bench_harness.c $(LDFLAGS) $(GREENRT_LINK)

GO ?= go
GO_FOUND := $(shell command -v $(GO) 2>/dev/null)
GO_BENCH := $(BENCH_DIR)/go-bench
GO_BENCH_SRCS := $(sort $(wildcard bench/go/*.go)) bench/go/go.mod
GO_BENCH_ENV := GOFLAGS=-mod=mod GOPROXY=off GOENV=off GOTOOLCHAIN=local \
	GOTELEMETRY=off CGO_ENABLED=0 \
	GOCACHE=$(abspath $(BENCH_DIR))/go/cache \
	GOPATH=$(abspath $(BENCH_DIR))/go/path \
	GOMODCACHE=$(abspath $(BENCH_DIR))/go/modcache

$(GO_BENCH): $(GO_BENCH_SRCS)
	$(call msg,GO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)cd bench/go && $(GO_BENCH_ENV) $(GO) build -o $(abspath $@) .

.PHONY: bench-sched bench-io
BENCH_RUNS += bench-sched bench-io

bench-sched: $(BENCH_DIR)/bench_sched $(if $(GO_FOUND),$(GO_BENCH))
	$(Q)bash bench/side_by_side.sh bench-sched $(BENCH_DIR)/bench_sched \
	    $(if $(GO_FOUND),$(GO_BENCH),-)

bench-io: $(BENCH_DIR)/bench_io $(if $(GO_FOUND),$(GO_BENCH))
	$(Q)bash bench/side_by_side.sh bench-io $(BENCH_DIR)/bench_io \
	    $(if $(GO_FOUND),$(GO_BENCH),-) pipe_roundtrip
