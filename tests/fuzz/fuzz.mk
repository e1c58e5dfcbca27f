# Fuzz tier: libFuzzer targets for the shared parser/matcher and response-head scanner (include/) and the policy stages (user/).
#   make fuzz         each target for FUZZ_SECONDS (default 60) on its corpus copy in $(BUILD)/fuzz/corpus/
#   make fuzz-smoke   each target for 20000 runs or 15 s, whichever first, on a fresh copy (CI)
# Crashes are written to $(BUILD)/fuzz/artifacts/<target>/; reproduce with
#   $(BUILD)/fuzz/fuzz_<target> <artifact>
# Needs clang with libFuzzer (Debian: libclang-rt-14-dev).
FUZZ_SECONDS  ?= 60
FUZZ_CC       ?= $(CLANG)
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   := -O1 -g $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -MMD -MP $(FUZZ_SAN)
FUZZ_TARGETS  := http policy rhead
FUZZ_MAXLEN_http   := 8192
FUZZ_MAXLEN_policy := 8192
FUZZ_MAXLEN_rhead  := 4096
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_LIB_SRCS := $(POLICY_SRCS) user/match.c user/acrh.c
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:user/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-smoke

$(FUZZ_DIR)/obj:
	$(Q)mkdir -p $@

# Library code: sanitizers plus libFuzzer's coverage instrumentation.
$(FUZZ_DIR)/obj/%.o: user/%.c | $(FUZZ_DIR)/obj
	@echo "  FUZZ-CC $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS) $(wildcard include/*.h) | $(FUZZ_DIR)/obj
	@echo "  FUZZ-LD $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(POLICY_LDLIBS) -lbpf

# One target on its (growing) corpus: the seeds are copied over it each time.
fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	$(Q)mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts/$*
	$(Q)cp tests/fuzz/corpus/$*/* $(FUZZ_DIR)/corpus/$*/
	@echo "  FUZZ    $* for $(FUZZ_SECONDS) s"
	$(Q)$< -max_len=$(FUZZ_MAXLEN_$*) -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$*/ -print_final_stats=1 \
		$(FUZZ_DIR)/corpus/$*

# One target, bounded, on a fresh copy of the seeds.
fuzz-smoke-%: $(FUZZ_DIR)/fuzz_%
	$(Q)rm -rf $(FUZZ_DIR)/smoke/$*
	$(Q)mkdir -p $(FUZZ_DIR)/smoke/$* $(FUZZ_DIR)/artifacts/$*
	$(Q)cp tests/fuzz/corpus/$*/* $(FUZZ_DIR)/smoke/$*/
	@echo "  FUZZ    $* (smoke)"
	$(Q)$< -max_len=$(FUZZ_MAXLEN_$*) -runs=20000 -max_total_time=15 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$*/ -print_final_stats=1 \
		$(FUZZ_DIR)/smoke/$*

fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-smoke: $(FUZZ_TARGETS:%=fuzz-smoke-%)

-include $(wildcard $(FUZZ_DIR)/obj/*.d $(FUZZ_DIR)/*.d)
