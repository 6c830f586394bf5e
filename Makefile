# ingate build. One Makefile, no generated build system.
#   make            release build      -> build/ingate
#   make SAN=1      ASan+UBSan build   -> build-san/ingate
#   make test-unit  build and run the unit tests
#   make mock       the mock upstream  -> build/mock-upstream
#   make fuzz       libFuzzer targets (clang) -> build-fuzz/
#   make ui         the dashboard's production build -> build/ui-dist (embedded by every build above)
SAN ?= 0
ifeq ($(SAN),1)
  B       ?= build-san
  CC      := clang
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT     := -O1 -g
else
  B       ?= build
  CC      ?= cc
  SANFLAGS :=
  OPT     := -O2 -g
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  += -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -Isrc -DINGATE_VERSION='"$(VERSION)"' -fstack-protector-strong -D_FORTIFY_SOURCE=2 -pthread -MMD -MP
LDLIBS  := -levent_openssl -levent_pthreads -levent -lcurl -lcjson -lsqlite3 -lhttp_parser -lpcre2-8 -lcrypt -lssl -lcrypto -lpthread -lm
LDFLAGS += $(SANFLAGS) -pthread

LIB_SRC  := $(sort $(filter-out src/main.c,$(wildcard src/*/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/ui_assets.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

.SECONDARY:
.PHONY: all clean test-unit mock fuzz docs check-docs format-check banned ui
all: $(B)/ingate $(B)/mock-upstream

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The dashboard (ui/, docs/dashboard.md): npm ci when the lockfile changes, a production build into
# build/ui-dist when a source changes, then scripts/embed-ui.mjs turns it into a C table linked into the
# binary (an empty table while there is no ui/). Shared by every build variant.
UI_DIST := build/ui-dist
UI_SRC  := $(shell find ui/src -type f 2>/dev/null) $(wildcard ui/build.mjs ui/package.json)
build/ui-npm.stamp: $(wildcard ui/package-lock.json)
	@if [ -f ui/package.json ]; then cd ui && npm ci --no-audit --no-fund --loglevel=error; fi
	@mkdir -p build && touch $@
build/ui-dist.stamp: $(UI_SRC) build/ui-npm.stamp
	@rm -rf $(UI_DIST) && mkdir -p $(UI_DIST)
	@if [ -f ui/package.json ]; then cd ui && node build.mjs --out ../$(UI_DIST); fi
	@touch $@
$(B)/gen/ui_assets.c: build/ui-dist.stamp scripts/embed-ui.mjs
	@node scripts/embed-ui.mjs $(UI_DIST) $@
$(B)/gen/ui_assets.o: $(B)/gen/ui_assets.c
	$(CC) $(CFLAGS) -c $< -o $@
ui: build/ui-dist.stamp

$(B)/libingate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/ingate: $(B)/src/main.o $(B)/libingate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/mock-upstream: $(B)/tests/mock/mock_upstream.o
	$(CC) $(LDFLAGS) -o $@ $^ -levent -lcjson -lpthread

mock: $(B)/mock-upstream

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libingate.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test-unit: $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

# Fuzz targets: clang's libFuzzer with ASan+UBSan; `make fuzz` builds, fuzz/run.sh replays corpora.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build-fuzz/%.o) build-fuzz/gen/ui_assets.o
build-fuzz/gen/ui_assets.c: build/ui-dist.stamp scripts/embed-ui.mjs
	@node scripts/embed-ui.mjs $(UI_DIST) $@
build-fuzz/gen/ui_assets.o: build-fuzz/gen/ui_assets.c
	clang -std=c17 -O1 -Isrc -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang -std=c17 -D_GNU_SOURCE -O1 -g -Isrc -DINGATE_VERSION='"$(VERSION)"' -pthread -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build-fuzz/fuzz_%: build-fuzz/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	clang -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ $(LDLIBS)
fuzz: $(FUZZ_BIN)

docs: $(B)/ingate
	$(B)/ingate docs-config > docs/configuration.md

check-docs: $(B)/ingate
	@$(B)/ingate docs-config | diff -u docs/configuration.md - >/dev/null || { echo "docs/configuration.md is stale: run 'make docs'"; exit 1; }
	@echo "docs/configuration.md is up to date"

format-check:
	@command -v clang-format >/dev/null || { echo "clang-format missing"; exit 1; }
	clang-format --dry-run -Werror $(LIB_SRC) src/main.c $(wildcard src/*/*.h)

# Unsafe libc calls are banned in our sources.
banned:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)\s*\(' $(LIB_SRC) src/main.c $(wildcard src/*/*.h) || { echo "banned call found"; exit 1; }

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) build-fuzz -name '*.d' 2>/dev/null)
