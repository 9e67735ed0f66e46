# fado-async (async/): asynchronous invocation over Redis Streams, one
# binary with two roles, the HTTP front nginx proxies /async-function/ to
# and the queue worker (docs/async.md). It logs with the controller's
# fado_log (one logfmt writer), compiled in from its source.

ASYNC_SRCS := async/fado_async_main.c async/fado_async_queue.c \
              async/fado_async_front.c async/fado_async_worker.c
ASYNC_OBJS := $(patsubst async/%.c,$(BUILD)/async/%.o,$(ASYNC_SRCS)) \
              $(BUILD)/async/fado_log.o
ASYNC_PKGS := hiredis libcurl libmicrohttpd jansson libcrypto
ASYNC_CFLAGS = $(CFLAGS_COMMON) -Iasync -Icontroller $(shell pkg-config --cflags $(ASYNC_PKGS))
ASYNC_LIBS = $(shell pkg-config --libs $(ASYNC_PKGS)) -pthread
ASYNC_BIN := $(BUILD)/fado-async

ALL_TARGETS += $(ASYNC_BIN)

.PHONY: async
async: $(ASYNC_BIN)

$(BUILD)/async/%.o: async/%.c async/fado_async.h controller/fado_log.h
	@mkdir -p $(dir $@)
	$(CC) $(ASYNC_CFLAGS) -c -o $@ $<

$(BUILD)/async/fado_log.o: controller/fado_log.c controller/fado_log.h
	@mkdir -p $(dir $@)
	$(CC) $(ASYNC_CFLAGS) -c -o $@ $<

$(ASYNC_BIN): $(ASYNC_OBJS)
	$(CC) $(LDFLAGS_COMMON) -o $@ $^ $(ASYNC_LIBS)
