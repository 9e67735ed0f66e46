# ngx_http_fado_module: a dynamic module built against the distribution's
# nginx sources (nginx-dev), loaded into /usr/sbin/nginx with load_module.
#
# nginx's configure runs once (again only when `config` changes, since it
# lists the sources); a change to a source only recompiles and relinks.

NGX_DIST_SRC   ?= /usr/share/nginx/src
MODULE_NGX_DIR := $(abspath $(BUILD))/nginx-src
MODULE_SO      := $(BUILD)/ngx_http_fado_module.so
# the route contract is compiled into the module from lib/route (mk/route.mk)
MODULE_SRCS    := $(wildcard ngx_fado_module/*.c ngx_fado_module/*.h) \
                  $(ROUTE_SRCS) $(ROUTE_HDRS)

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
