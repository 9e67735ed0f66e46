# Fuzzing: libFuzzer targets (clang, Debian's) for the parsers that read
# what other programs send: the route record decoder (lib/route/, as the
# gateway compiles it, with the encoder's round trip), MinIO's webhook
# payload, the S3 XML readers and the replication configuration parser.
# Seeds live in fuzz/corpus/<name>/.
#
#   make fuzz                 build, then run each target FUZZ_TIME seconds
#   make fuzz FUZZ_TIME=600   longer
#
# `make unit-tests` builds the targets too; t/240-fuzz.t runs each for a few
# seconds in every `make test`, so they cannot rot. Inputs a run finds go to
# $(BUILD)/fuzz/corpus-<name>, crashes to $(BUILD)/fuzz/crash-<name>-*.
#
# Also here: the unit test of the input rules and log escaping.

FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_FLAGS    = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := route_record events s3_xml replcfg
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

FUZZ_CTRL_CFLAGS = -Icontroller $(shell pkg-config --cflags libpq jansson)

# The route contract's sources are compiled in (with the fuzzer's
# instrumentation), not taken from the archive.
$(BUILD)/fuzz/fuzz_route_record: fuzz/fuzz_route_record.c $(ROUTE_SRCS) $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(ROUTE_CFLAGS) -o $@ fuzz/fuzz_route_record.c $(ROUTE_SRCS)

$(BUILD)/fuzz/fuzz_events: $(ROUTE_SRCS) $(ROUTE_HDRS) \
        fuzz/fuzz_events.c controller/fado_events.c controller/fado_log.c \
        controller/fado_valid.c controller/fado_err.c $(CONTROLLER_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CTRL_CFLAGS) $(ROUTE_CFLAGS) -o $@ fuzz/fuzz_events.c \
	    $(ROUTE_SRCS) \
	    controller/fado_events.c controller/fado_log.c controller/fado_valid.c \
	    controller/fado_err.c \
	    $(shell pkg-config --libs libpq jansson)

# The storage sources are compiled in (with the fuzzer's instrumentation),
# not taken from the archive.
$(BUILD)/fuzz/fuzz_s3_xml: fuzz/fuzz_s3_xml.c lib/storage/fst_s3_xml.c lib/storage/fst_s3_xml.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(STORAGE_CFLAGS) -o $@ fuzz/fuzz_s3_xml.c lib/storage/fst_s3_xml.c

$(BUILD)/fuzz/fuzz_replcfg: fuzz/fuzz_replcfg.c lib/storage/fst_replcfg.c \
        lib/storage/fst_buf.c lib/storage/fst_replcfg.h lib/storage/fst_buf.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(STORAGE_CFLAGS) -o $@ fuzz/fuzz_replcfg.c \
	    lib/storage/fst_replcfg.c lib/storage/fst_buf.c -lexpat

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

# Each target starts from the seeds and what earlier runs found; a crash
# stops `make fuzz` with the reproducer's path.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	    echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/crash-$$t- \
	        $(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

# Built with the unit tests (when clang is there: scripts/deps.sh installs it).
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
UNIT_TESTS += $(FUZZ_BINS)
endif

UNIT_TESTS += $(BUILD)/unit/test_fado_valid

$(BUILD)/unit/test_fado_valid: $(ROUTE_LIB) $(ROUTE_HDRS) \
        t/unit/test_fado_valid.c t/unit/tap.h controller/fado_valid.c \
        controller/fado_valid.h controller/fado_log.c controller/fado_log.h \
        $(STORAGE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Icontroller $(STORAGE_CFLAGS) -It/unit $(ROUTE_CFLAGS) -o $@ t/unit/test_fado_valid.c \
	    controller/fado_valid.c controller/fado_log.c $(ROUTE_LIB) $(STORAGE_LIB) $(LDFLAGS_COMMON) -lexpat
