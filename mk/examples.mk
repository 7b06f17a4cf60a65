# examples/: echo, HTTP and kv (Redis protocol) servers in both models
# (thread per connection, goroutine per connection), the HTTP and RESP
# parsers' unit tests and fuzz targets, the kv store's unit tests, and
# their integration tests (tests/integration/examples/).
#
# The thread-model servers do not need the runtime: `make examples-threads`
# builds them (and loadgen) even while libgreenrt.a does not build.

EX_HDRS := $(wildcard examples/*.h)
EX_COMMON_OBJS := $(BUILD)/examples/server_common.o
EX_THREADS_OBJS := $(EX_COMMON_OBJS) $(BUILD)/examples/threads_server.o
EX_GREENRT_OBJS := $(EX_COMMON_OBJS) $(BUILD)/examples/greenrt_server.o
EX_HTTP_OBJS := $(BUILD)/examples/http_parse.o $(BUILD)/examples/http_serve.o
EX_RESP_OBJS := $(BUILD)/examples/resp_parse.o $(BUILD)/examples/resp_reply.o
EX_KVSTORE_OBJS := $(BUILD)/examples/kv_store.o $(BUILD)/examples/kv_list.o
EX_KV_OBJS := $(EX_RESP_OBJS) $(EX_KVSTORE_OBJS) \
	$(BUILD)/examples/kv_cmd.o \
	$(BUILD)/examples/kv_cmd_data.o \
	$(BUILD)/examples/kv_serve.o

EXAMPLES_THREADS := $(BUILD)/echo_threads $(BUILD)/http_threads $(BUILD)/kv_threads
EXAMPLES_GREENRT := $(BUILD)/echo_greenrt $(BUILD)/http_greenrt $(BUILD)/kv_greenrt \
	$(BUILD)/group_echo
EX_TEST_HTTP_PARSE := $(BUILD)/examples/test_http_parse
EX_TEST_RESP_PARSE := $(BUILD)/examples/test_resp_parse
EX_TEST_KV := $(BUILD)/examples/test_kv
EX_UNIT := $(EX_TEST_HTTP_PARSE) $(EX_TEST_RESP_PARSE) $(EX_TEST_KV)
EX_HTTP_PROBE := $(BUILD)/tests/examples/http_probe
EX_KV_PROBE := $(BUILD)/tests/examples/kv_probe

ALL += $(EXAMPLES_THREADS) $(EXAMPLES_GREENRT) $(EX_UNIT) $(EX_HTTP_PROBE) $(EX_KV_PROBE)
TESTS_UNIT += $(EX_UNIT)
TESTS_INTEGRATION += \
	tests/integration/examples/echo_threads.sh \
	tests/integration/examples/http_threads.sh \
	tests/integration/examples/kv_threads.sh \
	tests/integration/examples/shutdown_kv_threads.sh \
	tests/integration/examples/shutdown_http_threads.sh
# The greenrt servers, once per I/O engine (tests/runtests.sh); but
# kv_greenrt's load runs (the longest) on the default engine only: on
# epoll, kv_diff and the shutdown test cover the kv server, echo_greenrt
# and test_seccomp the load (make test stays under 10 minutes).
TESTS_INTEGRATION += tests/integration/examples/kv_greenrt.sh
TESTS_INTEGRATION_ENGINES += \
	tests/integration/examples/echo_greenrt.sh \
	tests/integration/examples/http_greenrt.sh \
	tests/integration/examples/http_clients.sh \
	tests/integration/examples/kv_diff.sh \
	tests/integration/examples/shutdown_kv_greenrt.sh \
	tests/integration/examples/shutdown_http_greenrt.sh
# group_echo checks the README's pattern (its runtime paths are the
# engine-neutral group ones): once.
TESTS_INTEGRATION += tests/integration/examples/group_echo.sh

.PHONY: examples-threads
examples-threads: $(EXAMPLES_THREADS) $(BUILD)/loadgen $(EX_HTTP_PROBE) $(EX_KV_PROBE) $(EX_UNIT)

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

$(BUILD)/kv_threads: $(BUILD)/examples/kv_threads.o $(EX_THREADS_OBJS) $(EX_KV_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/echo_greenrt: $(BUILD)/examples/echo_greenrt.o $(EX_GREENRT_OBJS) $(BUILD)/libgreenrt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(GREENRT_LINK)

$(BUILD)/http_greenrt: $(BUILD)/examples/http_greenrt.o $(EX_GREENRT_OBJS) $(EX_HTTP_OBJS) $(BUILD)/libgreenrt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(GREENRT_LINK)

$(BUILD)/kv_greenrt: $(BUILD)/examples/kv_greenrt.o $(EX_GREENRT_OBJS) $(EX_KV_OBJS) $(BUILD)/libgreenrt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(GREENRT_LINK)

# The README's shutdown pattern, whole (group_echo.sh checks the README
# still quotes it).
$(BUILD)/group_echo: $(BUILD)/examples/group_echo.o $(EX_COMMON_OBJS) $(BUILD)/libgreenrt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(GREENRT_LINK)

$(EX_TEST_HTTP_PARSE): $(BUILD)/examples/test_http_parse.o $(BUILD)/examples/http_parse.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(EX_TEST_RESP_PARSE): $(BUILD)/examples/test_resp_parse.o $(EX_RESP_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(EX_TEST_KV): $(BUILD)/examples/test_kv.o $(EX_KV_OBJS) $(EX_COMMON_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The probes share the checking load (probe_load.c).
EX_PROBE_LOAD := tests/integration/examples/probe_load.c tests/integration/examples/probe_load.h
$(EX_HTTP_PROBE) $(EX_KV_PROBE): $(BUILD)/tests/examples/%: tests/integration/examples/%.c $(EX_PROBE_LOAD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/integration/examples $(LDFLAGS) -o $@ $< tests/integration/examples/probe_load.c

# libFuzzer: make fuzz [FUZZ_SECONDS=60] runs each target that long.  New
# inputs go to a working corpus under $(BUILD); the seed corpora in the
# tree are only read.
FUZZ_SECONDS ?= 60
FUZZ_HTTP := $(BUILD)/fuzz/fuzz_http_parse
FUZZ_RESP := $(BUILD)/fuzz/fuzz_resp_parse

$(FUZZ_HTTP): examples/fuzz_http_parse.c examples/http_parse.c examples/http_parse.h
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Iexamples -o $@ examples/fuzz_http_parse.c examples/http_parse.c

$(FUZZ_RESP): examples/fuzz_resp_parse.c examples/resp_parse.c examples/resp_parse.h
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Iexamples -o $@ examples/fuzz_resp_parse.c examples/resp_parse.c

.PHONY: fuzz fuzz-http fuzz-resp
fuzz: fuzz-http fuzz-resp

fuzz-http: $(FUZZ_HTTP)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-http
	$(Q)$(FUZZ_HTTP) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-http examples/fuzz-corpus/http

fuzz-resp: $(FUZZ_RESP)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus-resp
	$(Q)$(FUZZ_RESP) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus-resp examples/fuzz-corpus/resp
