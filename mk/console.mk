# The web console (console/): Vite + TypeScript + Preact, pinned by
# console/package-lock.json, built into console/dist and embedded into
# fado-controller (scripts/embed-console.pl, controller/fado_ui.c), which
# serves it under /ui/. One build serves both the normal and the sanitizer
# controller.

CONSOLE_DIST   := console/dist
CONSOLE_STAMP  := $(CONSOLE_DIST)/.built
CONSOLE_INPUTS := $(shell find console/src -type f 2>/dev/null) console/index.html \
                  console/vite.config.ts console/tsconfig.json console/package-lock.json
CONSOLE_OBJS   := $(BUILD)/controller/fado_ui.o $(BUILD)/controller/fado_api_console.o \
                  $(BUILD)/controller/fado_ui_files.o

.PHONY: console
console: $(CONSOLE_STAMP)

# npm ci only when node_modules is missing or older than the lock file
# (scripts/deps.sh runs it too); the build itself needs no network.
$(CONSOLE_STAMP): $(CONSOLE_INPUTS)
	@cd console && if [ ! -f node_modules/.package-lock.json ] \
	    || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; fi
	cd console && npm run --silent build
	@touch $@

$(BUILD)/controller/fado_ui_files.c: $(CONSOLE_STAMP) scripts/embed-console.pl
	@mkdir -p $(dir $@)
	perl scripts/embed-console.pl $(CONSOLE_DIST) >$@.tmp && mv $@.tmp $@

$(BUILD)/controller/fado_ui_files.o: $(BUILD)/controller/fado_ui_files.c controller/fado_ui.h
	$(CC) $(CONTROLLER_CFLAGS) -c -o $@ $<

# The controller links the console's objects too ($^ in its recipe).
$(CONTROLLER_BIN): $(CONSOLE_OBJS)

.PHONY: console-clean
clean: console-clean
console-clean:
	rm -rf $(CONSOLE_DIST)
