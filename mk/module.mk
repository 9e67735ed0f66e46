# ngx_http_fado_module: a dynamic module built against the distribution's
# nginx sources (nginx-dev), loaded into /usr/sbin/nginx with load_module.
#
# nginx's configure runs once (again only when `config` changes, since it
# lists the sources); a change to a source only recompiles and relinks.

NGX_DIST_SRC   ?= /usr/share/nginx/src
MODULE_NGX_DIR := $(abspath $(BUILD))/nginx-src
MODULE_SO      := $(BUILD)/ngx_http_fado_module.so
MODULE_SRCS    := $(wildcard ngx_fado_module/*.c ngx_fado_module/*.h)

.PHONY: module
module: $(MODULE_SO)
ALL_TARGETS += $(MODULE_SO)

$(MODULE_NGX_DIR)/.configured: config
	rm -rf $(MODULE_NGX_DIR)
	mkdir -p $(dir $(MODULE_NGX_DIR))
	cp -r $(NGX_DIST_SRC) $(MODULE_NGX_DIR)
	cd $(MODULE_NGX_DIR) && bash -c '. ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR)' \
	    >$(MODULE_NGX_DIR)/configure.log 2>&1 \
	    || { tail -n 30 $(MODULE_NGX_DIR)/configure.log; exit 1; }
	touch $@

$(MODULE_SO): $(MODULE_NGX_DIR)/.configured $(MODULE_SRCS)
	$(MAKE) -C $(MODULE_NGX_DIR) -f objs/Makefile modules
	cp $(MODULE_NGX_DIR)/objs/ngx_http_fado_module.so $@.tmp && mv $@.tmp $@

# The record decoder has no nginx dependency, so it is unit tested alone
# (t/unit conventions: mk/unit.mk).
MODULE_RECORD_TEST := $(BUILD)/unit/test_fado_record
UNIT_TESTS += $(MODULE_RECORD_TEST)

MODULE_TEXT_SRCS := ngx_fado_module/ngx_http_fado_text.c ngx_fado_module/ngx_http_fado_text.h

$(MODULE_RECORD_TEST): t/unit/test_fado_record.c t/unit/tap.h \
        ngx_fado_module/ngx_http_fado_record.c ngx_fado_module/ngx_http_fado_record.h \
        $(MODULE_TEXT_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -It/unit -Ingx_fado_module -o $@ \
	    t/unit/test_fado_record.c ngx_fado_module/ngx_http_fado_record.c \
	    ngx_fado_module/ngx_http_fado_text.c $(LDFLAGS_COMMON)

# The escaping of text from outside (log lines, JSON), libc only too.
MODULE_TEXT_TEST := $(BUILD)/unit/test_fado_text
UNIT_TESTS += $(MODULE_TEXT_TEST)

$(MODULE_TEXT_TEST): t/unit/test_fado_text.c t/unit/tap.h $(MODULE_TEXT_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -It/unit -Ingx_fado_module -o $@ \
	    t/unit/test_fado_text.c ngx_fado_module/ngx_http_fado_text.c \
	    $(LDFLAGS_COMMON)

# The route contract (record decoder, policy table, name rules, escaping) is
# libc only; the controller links the same two files, so gateway and
# controller cannot disagree on a token or a name (ROUTE_* for its users).
ROUTE_SRCS   := ngx_fado_module/ngx_http_fado_record.c ngx_fado_module/ngx_http_fado_text.c
ROUTE_HDRS   := ngx_fado_module/ngx_http_fado_record.h ngx_fado_module/ngx_http_fado_text.h
ROUTE_OBJS   := $(BUILD)/route/ngx_http_fado_record.o $(BUILD)/route/ngx_http_fado_text.o
ROUTE_CFLAGS := -Ingx_fado_module

$(BUILD)/route/%.o: ngx_fado_module/%.c $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ROUTE_CFLAGS) -c -o $@ $<

# The golden test's decoder (t/218-route-golden.t): records in, the
# decoder's reading out. Built with the unit tests, run by the suite.
ROUTE_DECODE := $(BUILD)/unit/route_decode
UNIT_TESTS += $(ROUTE_DECODE)

$(ROUTE_DECODE): t/unit/route_decode.c $(ROUTE_SRCS) $(ROUTE_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(ROUTE_CFLAGS) -o $@ t/unit/route_decode.c $(ROUTE_SRCS) \
	    $(LDFLAGS_COMMON)
