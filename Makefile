# fado: build, test and run the local platform.
#
#   make              build the nginx module, the controller and the examples
#   make test         install what is missing, build, run every suite
#   make sanitize     build the C code with ASan/UBSan and run its tests
#   make fuzz         run each libFuzzer target FUZZ_TIME s (mk/fuzz.mk)
#   make up / down    start / stop the local platform on loopback
#
# Each part keeps its build rules in mk/<part>.mk; this file ties them.

BUILD       ?= build
CC          ?= cc
CSTD        := -std=c11 -D_GNU_SOURCE
WARN        := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT         ?= -O2 -g
SANITIZE    ?=
CFLAGS_COMMON = $(CSTD) $(WARN) $(OPT) $(SANITIZE) -fno-omit-frame-pointer
LDFLAGS_COMMON = $(SANITIZE)

ALL_TARGETS :=
UNIT_TESTS  :=
BENCH_TARGETS :=

.PHONY: all deps test sanitize sanitize-build unit-tests bench-build up down clean
all:

-include mk/route.mk
-include mk/module.mk
-include mk/storage.mk
-include mk/controller.mk
-include mk/console.mk
-include mk/examples.mk
-include mk/async.mk
-include mk/unit.mk
-include mk/fuzz.mk

all: $(ALL_TARGETS)

deps:
	@scripts/deps.sh

# unit-tests builds every C unit test binary (listed in UNIT_TESTS by the
# fragments); scripts/run-tests runs them with the suites.
unit-tests: $(UNIT_TESTS)

# Every benchmark binary (listed in BENCH_TARGETS by the fragments).
bench-build: $(BENCH_TARGETS)

# make test also builds the C code with ASan/UBSan and runs the tests of
# fado's own binaries against that build, in the same summary.
test: deps
	@$(MAKE) --no-print-directory all unit-tests bench-build
	@$(MAKE) --no-print-directory $(SANITIZE_MAKE) sanitize-build
	@FADO_SANITIZE_BUILD=build-asan scripts/run-tests

# The sanitizer build lives in its own tree so it never mixes with the
# normal one; the module is checked under valgrind instead (nginx itself is
# not built with ASan).
# Everything C except the nginx module (built by nginx's own build).
C_TARGETS = $(filter-out %.so,$(ALL_TARGETS))

SANITIZE_MAKE = BUILD=build-asan OPT="-O1 -g" \
	SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all"

sanitize: deps
	@$(MAKE) --no-print-directory $(SANITIZE_MAKE) sanitize-build
	@FADO_BUILD=build-asan FADO_SUITES=sanitize scripts/run-tests

sanitize-build: $(C_TARGETS) unit-tests

up: deps
	@$(MAKE) --no-print-directory all
	@scripts/fado-up

down:
	@scripts/fado-local stop

clean:
	rm -rf build build-asan .run t/servroot*
