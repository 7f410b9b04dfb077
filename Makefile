# livetrade — one hand-written Makefile.
#   make            build bin/livetrade-{feeder,engine,sink} and bin/livetrade
#   make deps       install missing Debian packages (apt-get), then check them
#   make run        demo pipeline: sma_cross_close on AAPL and MSFT
#   make test       unit + integration tests, then again under ASan/UBSan
#   make bench      benchmarks (print figures, never fail on time); make
#                   test runs them briefly (make bench-brief)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SAN     ?=
B       := build/$(if $(SAN),san,rel)
BIN     := $(if $(SAN),$(B)/bin,bin)

PKGS    := libzmq msgpack lua5.4 jansson libcurl libwebsockets
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wundef -Wwrite-strings \
           -Wmissing-prototypes -Wstrict-prototypes
comma   := ,
SANFLAGS := -fsanitize=address$(comma)undefined -fno-sanitize-recover=undefined
OPT     := $(if $(SAN),-O1 -g -fno-omit-frame-pointer $(SANFLAGS),-O2 -g)
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -pthread -Icommon -Ilua -Iengine $(PKGCFLAGS) -MMD -MP
LDFLAGS += $(if $(SAN),$(SANFLAGS))
LDLIBS  += $(PKGLIBS) -lm -pthread

COMMON_SRC := $(wildcard common/*.c)
LUA_SRC    := $(wildcard lua/*.c)
ENGINE_SRC := $(filter-out engine/main.c,$(wildcard engine/*.c))
FEEDER_SRC := $(filter-out feeder/main.c,$(wildcard feeder/*.c))
SINK_SRC   := $(filter-out sink/main.c,$(wildcard sink/*.c))
TOOL_SRC   := $(wildcard tools/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard tests/bench/bench_*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))

PROGS := $(BIN)/livetrade-feeder $(BIN)/livetrade-engine \
         $(BIN)/livetrade-sink $(BIN)/livetrade
UNITS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCHES := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))

.SECONDARY:
.PHONY: all deps run test unit integration test-san bench bench-brief soak install clean lint web
all: $(PROGS) web

Q := $(if $(V),,@)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(B)/libsandbox.a: $(call obj,$(LUA_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(B)/libengine.a: $(call obj,$(ENGINE_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(B)/libfeeder.a: $(call obj,$(FEEDER_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(B)/libsink.a: $(call obj,$(SINK_SRC))
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# What links the engine's code: its library, the Lua sandbox, common/.
ENGINE_LIBS := $(B)/libengine.a $(B)/libsandbox.a $(B)/libcommon.a

$(BIN)/livetrade-feeder: $(call obj,feeder/main.c) $(B)/libfeeder.a \
                         $(B)/libcommon.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/livetrade-engine: $(call obj,engine/main.c) $(ENGINE_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/livetrade-sink: $(call obj,sink/main.c) $(B)/libsink.a $(B)/libsandbox.a \
                       $(B)/libcommon.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/livetrade: $(call obj,$(TOOL_SRC)) $(B)/libfeeder.a $(ENGINE_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link every library; each pulls only the objects it needs.
UNIT_LIBS := $(B)/libsink.a $(B)/libfeeder.a $(ENGINE_LIBS)
$(B)/tests/%: $(B)/tests/unit/%.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(B)/bench/%: $(B)/tests/bench/%.o $(ENGINE_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The dashboard of livetrade-sink web: the page (web/) and TradingView's
# lightweight-charts, fetched from npm at a pinned version and checked
# against its sha512, into build/web/ (shared by both builds). The page
# needs nothing else, so it works offline once built.
LWC_VERSION := 4.2.3
LWC_SHA512  := e644bfda1637c0d60dce19d2f066fe1804b4ec35fc18f1766150e777634c0bce6025543a44b53a62b5cd80d27a7a0d009d63f00a7bda1ad6261a4cb71e22d013
LWC_JS      := lightweight-charts.standalone.production.js
WEB_OUT     := build/web
WEB_FILES   := $(patsubst web/%,$(WEB_OUT)/%,$(wildcard web/*)) \
               $(WEB_OUT)/$(LWC_JS) $(WEB_OUT)/lightweight-charts.LICENSE

web: $(WEB_FILES)
$(WEB_OUT)/%: web/%
	@mkdir -p $(dir $@)
	$(Q)cp $< $@
$(WEB_OUT)/lightweight-charts.LICENSE: $(WEB_OUT)/$(LWC_JS)
$(WEB_OUT)/$(LWC_JS):
	@mkdir -p build/npm $(WEB_OUT)
	@$(if $(V),,echo "  NPM     lightweight-charts@$(LWC_VERSION)")
	$(Q)rm -rf build/npm/package
	$(Q)cd build/npm && npm pack --silent --no-audit --no-fund \
	    lightweight-charts@$(LWC_VERSION) >/dev/null
	$(Q)echo "$(LWC_SHA512)  build/npm/lightweight-charts-$(LWC_VERSION).tgz" \
	    | sha512sum -c --quiet
	$(Q)tar -xzf build/npm/lightweight-charts-$(LWC_VERSION).tgz -C build/npm \
	    package/dist/$(LWC_JS) package/LICENSE
	$(Q)cp build/npm/package/LICENSE $(WEB_OUT)/lightweight-charts.LICENSE
	$(Q)cp build/npm/package/dist/$(LWC_JS) $@

# Test helper: the streaming indicators over bars from stdin, for
# tests/integration/test_indicators.py, which finds it from LIVETRADE_BIN
# (bin -> build/rel/tests/tools, build/san/bin -> build/san/tests/tools).
integration: $(B)/tests/tools/ind_dump
$(B)/tests/tools/ind_dump: $(B)/tests/tools/ind_dump.o $(ENGINE_LIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./bin/livetrade run --strategy strategies/sma_cross_close.lua \
	    --symbols AAPL,MSFT --data-source demo --interval 0.5 \
	    --duration $(or $(DURATION),60)

# The whole suite: the normal build, then the same tests under ASan/UBSan.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit corpus integration bench-brief
	@$(MAKE) --no-print-directory SAN=1 all
	@$(MAKE) --no-print-directory SAN=1 unit corpus integration

unit: $(UNITS)
	@sh tests/run_unit.sh $(UNITS)

integration: $(PROGS)
	@LIVETRADE_BIN=$(abspath $(BIN)) /usr/bin/python3 tests/integration/run.py

bench: deps
	@$(MAKE) --no-print-directory all $(BENCHES)
	@LIVETRADE_BIN=$(abspath bin) sh tests/bench/run.sh $(BENCHES)

# The benchmarks once each on small inputs (part of make test), so a
# broken one cannot land; figures only, never a failure on time.
bench-brief: all $(BENCHES)
	@BENCH_BRIEF=1 LIVETRADE_BIN=$(abspath bin) \
	    sh tests/bench/run.sh $(BENCHES)

# The soak run: 1,000 symbols at full speed for SOAK_MINUTES (default 3);
# checks the accounting and that memory per bar held stays level; the feed
# runs on (up to 10 min more) until every symbol is live.
soak: deps
	@$(MAKE) --no-print-directory all
	@LIVETRADE_BIN=$(abspath bin) timeout -k 10 $$(( $(or $(SOAK_MINUTES),3) * 60 + 1080 )) \
	    /usr/bin/python3 tests/bench/soak.py --minutes $(or $(SOAK_MINUTES),3)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/livetrade/strategies
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 strategies/*.lua $(DESTDIR)$(PREFIX)/share/livetrade/strategies/
	install -d $(DESTDIR)$(PREFIX)/share/livetrade/web
	install -m 644 $(WEB_FILES) $(DESTDIR)$(PREFIX)/share/livetrade/web/

lint:
	@! grep -nE '\b(sprintf|strcpy|strtok|atoi|gets)\s*\(' \
	    common/*.[ch] engine/*.[ch] feeder/*.[ch] sink/*.[ch] tools/*.[ch]

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

include tests/fuzz/fuzz.mk
