# Example function runtime (examples/fado-fn): reads objects through the
# storage library (lib/storage, mk/storage.mk), so SigV4 has one
# implementation.

FN_BIN := $(BUILD)/fado-fn
ALL_TARGETS += $(FN_BIN)

.PHONY: examples
examples: $(FN_BIN)

$(BUILD)/examples/fado_fn.o: examples/fado-fn/fado_fn.c $(STORAGE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(STORAGE_CFLAGS) $(shell pkg-config --cflags jansson libmicrohttpd libcurl) -c -o $@ $<

$(FN_BIN): $(BUILD)/examples/fado_fn.o $(STORAGE_LIB)
	$(CC) $(LDFLAGS_COMMON) -o $@ $^ $(shell pkg-config --libs libmicrohttpd) $(STORAGE_LIBS)

# WAN emulation: a TCP proxy adding a one-way delay in each direction.
DELAY_BIN := $(BUILD)/fado-delay
ALL_TARGETS += $(DELAY_BIN)
examples: $(DELAY_BIN)

$(DELAY_BIN): examples/fado-delay/fado_delay.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -o $@ $< $(LDFLAGS_COMMON)
