# greenrt - top-level Makefile.
#
#   make                 build the library, tools, examples and tests
#   make test            install missing deps, build, run every test
#   make demo            the goroutine vs thread-per-connection comparison
#   make bench           benchmarks (a table, and a JSON line per figure)
#   make install PREFIX=/usr/local DESTDIR=   (also BINDIR LIBDIR INCLUDEDIR MANDIR)
#   make uninstall       the same variables: removes what install put there
#   make SANITIZE=address,undefined test    (or: make test-asan / test-tsan)
#   make test-soak       5 minutes of churn, RSS and descriptors must stay flat
#   make V=1             show full commands
#
# Each component describes its own targets in mk/<component>.mk and
# appends to ALL (built by `make`), TESTS_UNIT / TESTS_INTEGRATION
# (executables run by `make test`; TESTS_INTEGRATION_ENGINES: those run
# once per I/O engine) and BENCH_RUNS (phony targets of `make bench`).
# Generated files live only under $(BUILD).

BUILD ?= build

# Where `make install` puts things (DESTDIR is prepended to each; the
# installed greenrt.pc names these directories, without DESTDIR).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

# The version, from its one source: the VERSION file (MAJOR.MINOR.PATCH).
# It names the shared library (libgreenrt.so.MAJOR.MINOR.PATCH, soname
# libgreenrt.so.MAJOR), goes into greenrt.pc, and must equal greenrt.h's
# GREENRT_VERSION_* macros (checked before the runtime is compiled); gtrace
# --version reads those macros.
VERSION := $(shell cat VERSION)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
ifeq ($(filter 3,$(words $(subst ., ,$(VERSION)))),)
$(error VERSION must hold MAJOR.MINOR.PATCH, it holds '$(VERSION)')
endif

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang
BPFTOOL ?= bpftool
CFLAGS ?= -O2 -g
# -fstack-clash-protection: a frame larger than a stack's guard gap probes
# it page by page instead of jumping over it (greenrt.pc asks the same of
# programs that use greenrt).
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
                   -fPIC -pthread -fno-omit-frame-pointer -fstack-clash-protection \
                   -Iruntime/include -I$(BUILD)
override LDFLAGS += -pthread
LDLIBS_RUNTIME := -luring

ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -DGR_SANITIZE=1
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

ALL :=
TESTS_UNIT :=
TESTS_INTEGRATION :=
TESTS_INTEGRATION_ENGINES :=
BENCH_RUNS :=
DEMO_DEPS :=

# The runtime first: other fragments name $(LIBGREENRT_A) in prerequisites.
include mk/runtime.mk
include $(filter-out mk/runtime.mk,$(sort $(wildcard mk/*.mk)))

.PHONY: all deps test test-run test-asan test-tsan bench demo clean

all: $(ALL)

deps:
	$(Q)bash mk/deps.sh

# `make test` = deps, then a fresh make (so headers installed by deps are
# seen), then every test through the runner (timeouts, skips, a summary).
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test-run

test-run: $(TESTS_UNIT) $(TESTS_INTEGRATION) $(TESTS_INTEGRATION_ENGINES)
	$(Q)BUILD=$(BUILD) bash tests/runtests.sh $(TESTS_UNIT) -- $(TESTS_INTEGRATION) \
	    -- $(TESTS_INTEGRATION_ENGINES)

test-asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined \
	    CFLAGS="-O1 -g -fno-sanitize-recover=undefined" test-run-unit

test-tsan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread CFLAGS="-O1 -g" test-run-unit

.PHONY: test-run-unit
test-run-unit: $(TESTS_UNIT)
	$(Q)BUILD=$(BUILD) bash tests/runtests.sh $(TESTS_UNIT) --

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory bench-run

.PHONY: bench-run
bench-run: $(BENCH_RUNS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory demo-run

clean:
	rm -rf build
