# C unit tests: conventions shared by every part.
#
# A unit test is t/unit/test_<name>.c, producing TAP through t/unit/tap.h.
# The part that owns the code under test builds it into
# $(BUILD)/unit/test_<name> and appends that path to UNIT_TESTS;
# scripts/run-tests runs every $(FADO_BUILD)/unit/test_* binary.
#
# UNIT_CFLAGS gives a test the common flags plus the TAP header's directory.

UNIT_CFLAGS = $(CFLAGS_COMMON) -It/unit

$(BUILD)/unit/test_tap_selftest: t/unit/test_tap_selftest.c t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(LDFLAGS_COMMON)

UNIT_TESTS += $(BUILD)/unit/test_tap_selftest
