# route: the route contract in lib/route/ (docs/routing-contract.md), the
# unit both ends of it build: record decoder and encoder, policy tokens,
# name rules, escaping of outside text. libc only, no nginx header, so the
# nginx module compiles the same files into itself (`config` lists them)
# and everything else links the archive.
#
# A user compiles with $(ROUTE_CFLAGS), depends on $(ROUTE_HDRS) and links
# $(ROUTE_LIB). Every name the unit exports starts with frc_ (types
# frc_*_t, macros FRC_*), as do its files.

ROUTE_DIR    := lib/route
ROUTE_SRCS   := $(addprefix $(ROUTE_DIR)/,frc_record.c frc_encode.c frc_text.c)
ROUTE_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(ROUTE_SRCS))
ROUTE_HDRS   := $(wildcard $(ROUTE_DIR)/frc_*.h)
ROUTE_LIB    := $(BUILD)/$(ROUTE_DIR)/libfadoroute.a
ROUTE_CFLAGS := -I$(ROUTE_DIR)

ALL_TARGETS += $(ROUTE_LIB)

.PHONY: route
route: $(ROUTE_LIB)

$(BUILD)/$(ROUTE_DIR)/%.o: $(ROUTE_DIR)/%.c $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ROUTE_CFLAGS) -c -o $@ $<

# Rebuilt whole, so an object dropped from ROUTE_SRCS leaves the archive.
$(ROUTE_LIB): $(ROUTE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Unit tests (t/unit conventions: mk/unit.mk).
ROUTE_UNIT := $(BUILD)/unit/test_frc_record $(BUILD)/unit/test_frc_text \
              $(BUILD)/unit/test_frc_encode
UNIT_TESTS += $(ROUTE_UNIT)

$(ROUTE_UNIT): $(BUILD)/unit/test_%: t/unit/test_%.c t/unit/tap.h $(ROUTE_LIB) $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ROUTE_CFLAGS) -It/unit -o $@ $< $(ROUTE_LIB) $(LDFLAGS_COMMON)

# The golden test's tool (t/218-route-golden.t): records in, the decoder's
# reading (or, with -e, the encoder's rewrite of it) out. Built with the
# unit tests, run by the suite.
ROUTE_DECODE := $(BUILD)/unit/route_decode
UNIT_TESTS += $(ROUTE_DECODE)

$(ROUTE_DECODE): t/unit/route_decode.c $(ROUTE_LIB) $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ROUTE_CFLAGS) -o $@ $< $(ROUTE_LIB) $(LDFLAGS_COMMON)
