# fado-controller: the control plane daemon.
#
# sql/*.sql and docs/fado-publish.lua are embedded into the binary through
# a generated C file, so it runs from any directory and the publish script
# has one copy.

CONTROLLER_SRCS := controller/fado_main.c controller/fado_log.c controller/fado_db.c \
                   controller/fado_placement.c controller/fado_publisher.c \
                   controller/fado_reconcile.c controller/fado_http.c \
                   controller/fado_api.c controller/fado_auth.c controller/fado_jobs.c \
                   controller/fado_events.c controller/fado_objects.c \
                   controller/fado_lifecycle.c controller/fado_import.c \
                   controller/fado_accept.c controller/fado_pool.c controller/fado_valid.c \
                   controller/fado_router.c controller/fado_err.c controller/fado_api_events.c \
                   controller/fado_api_objects.c controller/fado_api_page.c \
                   controller/fado_api_valid.c controller/fado_api_tokens.c controller/fado_api_metrics.c \
                   controller/fado_api_copies.c \
                   controller/fado_resolve.c \
                   controller/fado_policy.c controller/fado_route_view.c
# The /v1 resources: a handler file and a domain file each.
CONTROLLER_SRCS += controller/fado_api_zones.c controller/fado_api_clusters.c \
                   controller/fado_api_buckets.c controller/fado_api_routes.c \
                   controller/fado_api_settings.c controller/fado_api_import.c \
                   controller/fado_zones.c controller/fado_clusters.c controller/fado_buckets.c \
                   controller/fado_settings.c controller/fado_routes.c
CONTROLLER_SRCS := $(wildcard $(CONTROLLER_SRCS))
CONTROLLER_OBJS := $(patsubst controller/%.c,$(BUILD)/controller/%.o,$(CONTROLLER_SRCS)) \
                   $(BUILD)/controller/fado_sql.o
CONTROLLER_HDRS := $(wildcard controller/fado_*.h)
CONTROLLER_PKGS := libpq jansson hiredis libcurl libmicrohttpd openssl
CONTROLLER_CFLAGS = $(CFLAGS_COMMON) -Icontroller $(STORAGE_CFLAGS) $(ROUTE_CFLAGS) $(shell pkg-config --cflags $(CONTROLLER_PKGS))
CONTROLLER_LIBS = $(shell pkg-config --libs $(CONTROLLER_PKGS)) -pthread
CONTROLLER_BIN := $(BUILD)/fado-controller
SQL_FILES := $(sort $(wildcard sql/*.sql))

ifneq ($(wildcard controller/fado_main.c),)
ALL_TARGETS += $(CONTROLLER_BIN)
endif

.PHONY: controller
controller: $(CONTROLLER_BIN)

$(BUILD)/controller/fado_sql.c: $(SQL_FILES) docs/fado-publish.lua scripts/embed-files.pl
	@mkdir -p $(dir $@)
	perl scripts/embed-files.pl $(SQL_FILES) docs/fado-publish.lua >$@.tmp && mv $@.tmp $@

$(BUILD)/controller/fado_sql.o: $(BUILD)/controller/fado_sql.c controller/fado_sql.h
	$(CC) $(CONTROLLER_CFLAGS) -c -o $@ $<

$(BUILD)/controller/fado_%.o: controller/fado_%.c $(CONTROLLER_HDRS) $(STORAGE_HDRS) $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CONTROLLER_CFLAGS) -c -o $@ $<

$(CONTROLLER_BIN): $(CONTROLLER_OBJS) $(ROUTE_LIB) $(STORAGE_LIB)
	$(CC) $(LDFLAGS_COMMON) -o $@ $^ $(CONTROLLER_LIBS) $(STORAGE_LIBS)

UNIT_TESTS += $(BUILD)/unit/test_placement

$(BUILD)/unit/test_placement: t/unit/test_placement.c controller/fado_placement.c \
        controller/fado_placement.h t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Icontroller -It/unit -o $@ t/unit/test_placement.c \
	    controller/fado_placement.c $(LDFLAGS_COMMON)

# Benchmarks (bench/controller.sh builds and runs them).
.PHONY: bench-controller
bench-controller: $(BUILD)/bench/placement $(BUILD)/bench/publish

$(BUILD)/bench/placement: bench/placement.c controller/fado_placement.c controller/fado_placement.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Icontroller -o $@ bench/placement.c controller/fado_placement.c

# The publisher and what it stands on (the storage library for its hex),
# nothing of the API (which the events, objects and jobs code needs).
BENCH_PUBLISH_OBJS := $(addprefix $(BUILD)/controller/,fado_publisher.o fado_db.o fado_err.o \
                      fado_log.o fado_sql.o)

$(BUILD)/bench/publish: bench/publish.c $(BENCH_PUBLISH_OBJS) $(STORAGE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CONTROLLER_CFLAGS) -o $@ $^ $(CONTROLLER_LIBS) $(STORAGE_LIBS)

# make test builds every bench target, so none can rot unnoticed.
BENCH_TARGETS += $(BUILD)/bench/placement $(BUILD)/bench/publish

# Function endpoint forms (controller/fado_valid.c, fado_valid_endpoint).
UNIT_TESTS += $(BUILD)/unit/test_fado_endpoint

$(BUILD)/unit/test_fado_endpoint: t/unit/test_fado_endpoint.c t/unit/tap.h controller/fado_valid.c \
        controller/fado_valid.h $(ROUTE_LIB) $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -Icontroller $(ROUTE_CFLAGS) -It/unit -o $@ t/unit/test_fado_endpoint.c \
	    controller/fado_valid.c $(ROUTE_LIB) $(LDFLAGS_COMMON)
