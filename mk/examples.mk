# examples/: echo and HTTP servers in both models (thread per connection,
# goroutine per connection), the HTTP parser's unit tests and fuzz target,
# and their integration tests (tests/integration/examples/).
#
# The thread-model servers do not need the runtime: `make examples-threads`
# builds them (and loadgen) even while libgreenrt.a does not build.

EX_HDRS := $(wildcard examples/*.h)
EX_COMMON_OBJS := $(BUILD)/examples/server_common.o
EX_THREADS_OBJS := $(EX_COMMON_OBJS) $(BUILD)/examples/threads_server.o
EX_GREENRT_OBJS := $(EX_COMMON_OBJS) $(BUILD)/examples/greenrt_server.o
EX_HTTP_OBJS := $(BUILD)/examples/http_parse.o $(BUILD)/examples/http_serve.o

EXAMPLES_THREADS := $(BUILD)/echo_threads $(BUILD)/http_threads
EXAMPLES_GREENRT := $(BUILD)/echo_greenrt $(BUILD)/http_greenrt
EX_TEST_HTTP_PARSE := $(BUILD)/examples/test_http_parse
EX_HTTP_PROBE := $(BUILD)/tests/examples/http_probe

ALL += $(EXAMPLES_THREADS) $(EXAMPLES_GREENRT) $(EX_TEST_HTTP_PARSE) $(EX_HTTP_PROBE)
TESTS_UNIT += $(EX_TEST_HTTP_PARSE)
TESTS_INTEGRATION += \
	tests/integration/examples/echo_threads.sh \
	tests/integration/examples/echo_greenrt.sh \
	tests/integration/examples/http_threads.sh \
	tests/integration/examples/http_greenrt.sh

.PHONY: examples-threads
examples-threads: $(EXAMPLES_THREADS) $(BUILD)/loadgen $(EX_HTTP_PROBE) $(EX_TEST_HTTP_PARSE)

$(BUILD)/examples/%.o: examples/%.c $(EX_HDRS) runtime/include/greenrt.h
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Iexamples -c $< -o $@

$(BUILD)/echo_threads: $(BUILD)/examples/echo_threads.o $(EX_THREADS_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/http_threads: $(BUILD)/examples/http_threads.o $(EX_THREADS_OBJS) $(EX_HTTP_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/echo_greenrt: $(BUILD)/examples/echo_greenrt.o $(EX_GREENRT_OBJS) $(BUILD)/libgreenrt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(GREENRT_LINK)

$(BUILD)/http_greenrt: $(BUILD)/examples/http_greenrt.o $(EX_GREENRT_OBJS) $(EX_HTTP_OBJS) $(BUILD)/libgreenrt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(GREENRT_LINK)

$(EX_TEST_HTTP_PARSE): $(BUILD)/examples/test_http_parse.o $(BUILD)/examples/http_parse.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(EX_HTTP_PROBE): tests/integration/examples/http_probe.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# libFuzzer: make fuzz [FUZZ_SECONDS=60].  New inputs go to a working
# corpus under $(BUILD); the seed corpus in the tree is only read.
FUZZ_SECONDS ?= 60
FUZZ_HTTP := $(BUILD)/fuzz/fuzz_http_parse

$(FUZZ_HTTP): examples/fuzz_http_parse.c examples/http_parse.c examples/http_parse.h
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Iexamples -o $@ examples/fuzz_http_parse.c examples/http_parse.c

.PHONY: fuzz
fuzz: $(FUZZ_HTTP)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-http
	$(Q)$(FUZZ_HTTP) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-http examples/fuzz-corpus/http
