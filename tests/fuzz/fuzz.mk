# Fuzzing (included by the Makefile).
#   make fuzz [FUZZ_SECONDS=30]   each libFuzzer harness (clang) for a
#                                 bounded time, from the seed corpus
#   make corpus                   the seed corpus through every harness,
#                                 without libFuzzer (part of make test; under
#                                 ASan/UBSan with SAN=1)
FUZZ_SECONDS ?= 30
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FZ := build/fuzz
FUZZ_CFLAGS := $(CSTD) $(WARN) -g -O1 -Icommon -Ilua -Iengine $(PKGCFLAGS) \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_COMMON := $(patsubst %.c,$(FZ)/%.o,$(COMMON_SRC))
FUZZ_FEEDER := $(patsubst %.c,$(FZ)/%.o,$(FEEDER_SRC))

# Replay drivers, built with the normal compiler in $(B).
CORPUS_BINS := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_NAMES))
$(B)/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/driver.o \
                  $(B)/libfeeder.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

corpus: $(CORPUS_BINS)
	@for n in $(FUZZ_NAMES); do \
	    $(B)/fuzz/fuzz_$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# libFuzzer builds: everything with clang, coverage and sanitizers.
$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CLANG   $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FZ)/libcommon.a: $(FUZZ_COMMON)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(FZ)/libfeeder.a: $(FUZZ_FEEDER)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(FZ)/fuzz_%: $(FZ)/tests/fuzz/fuzz_%.o $(FZ)/libfeeder.a $(FZ)/libcommon.a
	@$(if $(V),,echo "  LD      $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz: deps $(patsubst %,$(FZ)/fuzz_%,$(FUZZ_NAMES))
	@for n in $(FUZZ_NAMES); do \
	    mkdir -p $(FZ)/corpus/$$n $(FZ)/crashes; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	    if ! $(FZ)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -rss_limit_mb=2048 -artifact_prefix=$(FZ)/crashes/$$n- \
	        -print_final_stats=1 $(FZ)/corpus/$$n tests/fuzz/corpus/$$n \
	        > $(FZ)/$$n.log 2>&1; then \
	        tail -40 $(FZ)/$$n.log; \
	        echo "fuzz: $$n failed; the input is in $(FZ)/crashes"; exit 1; \
	    fi; \
	    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+.*DONE' \
	        $(FZ)/$$n.log; \
	done; echo "fuzz: no crash"
.PHONY: fuzz corpus
