# preflightd -- top-level build. Everything goes to build/ (git-ignored).
#   make            build/preflightd (+ BPF object and skeleton)
#   make test       install deps, build, run unit + bpf + e2e tiers
#   make unit|bpftest|e2e   one tier
#   make demo       throw-away topology, a few requests, counters, teardown
#   V=1             show commands
.DELETE_ON_ERROR:
.SECONDARY:

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH_INC := -I/usr/include/$(shell uname -m)-linux-gnu

Q := @
ifeq ($(V),1)
Q :=
endif

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(BUILD) -MMD -MP
# The policy library (YAML file -> validated policy -> map contents), in
# include order (each file uses only those before it), and what it links.
# The daemon, the unit, BPF and fuzz tiers and bench/kcost build it from here.
POLICY_SRCS   := $(addprefix user/,escape.c policy_diag.c policy_hsort.c \
	policy_rule.c policy_regex.c policy_value.c policy_validate.c \
	policy_schema.c policy_load.c policy_compile.c \
	policy_offload.c)
POLICY_LDLIBS := -lyaml -lpcre2-8 -lpsl
LDLIBS   := -lxdp -lbpf -lelf -lz -lmicrohttpd -lsystemd $(POLICY_LDLIBS)
BPF_CFLAGS := -O2 -g -target bpf $(WARN) -Wno-unused-function $(EXTRA_BPF_CFLAGS) \
	-D__TARGET_ARCH_x86 $(ARCH_INC) -Iinclude -Ibpf

BPF_SRCS  := bpf/preflightd.bpf.c bpf/pf_gc.bpf.c
BPF_OBJS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.bpf.o)
SKELS     := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)

USER_SRCS := $(wildcard user/*.c)
LIB_SRCS  := $(filter-out user/main.c,$(USER_SRCS))
USER_OBJS := $(USER_SRCS:user/%.c=$(BUILD)/user/%.o)
LIB_OBJS  := $(LIB_SRCS:user/%.c=$(BUILD)/user/%.o)

.PHONY: all clean test unit bpftest e2e demo deps check-headers fuzz soak bench
all: $(BUILD)/preflightd

$(BUILD) $(BUILD)/user:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/*.h) | $(BUILD)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@

$(BUILD)/user/%.o: user/%.c $(SKELS) | $(BUILD)/user
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# rebuilt from scratch: a renamed or removed source must not leave its
# old object in the archive
$(BUILD)/libpf.a: $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/preflightd: $(BUILD)/user/main.o $(BUILD)/libpf.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Every header compiles alone (a TU that only includes it), so include
# order never matters: include/*.h under gcc and clang -target bpf (both
# worlds include them; the matcher's look-ups stubbed, as each of its users
# defines them first), bpf/*.h under clang -target bpf with the datapath's
# flags, in the real and the test build (-DPF_TEST_MOCK_SOCK).
check-headers: | $(BUILD)
	$(Q)for h in include/*.h; do \
		printf '%s\n' \
		  '#define PF_TOK_LOOKUP(k) ((void)(k), (const struct pf_tok_val *)0)' \
		  '#define PF_RULE_LOOKUP(i) ((void)(i), (const struct pf_rule *)0)' \
		  '#define PF_ACRH_LOOKUP(k) ((void)(k), (const struct pf_acrh_val *)0)' \
		  '#define PF_HDRS_LOOKUP(s) ((void)(s), (const struct pf_hdr_tab *)0)' \
		  '#define PF_OFL_RULE_LOOKUP(i) ((void)(i), (const struct pf_ofl_rule *)0)' \
		  "#include \"$${h#include/}\"" > $(BUILD)/hdr_check.c; \
		$(CC) $(WARN) -std=gnu11 -fsyntax-only -Iinclude $(BUILD)/hdr_check.c && \
		$(CLANG) $(BPF_CFLAGS) -fsyntax-only $(BUILD)/hdr_check.c || \
		{ echo "  $$h does not compile alone"; exit 1; }; \
	done; \
	for h in bpf/*.h; do \
		printf '#include "%s"\n' "$${h#bpf/}" > $(BUILD)/hdr_check.c; \
		for m in '' -DPF_TEST_MOCK_SOCK; do \
			$(CLANG) $(BPF_CFLAGS) $$m -fsyntax-only $(BUILD)/hdr_check.c || \
			{ echo "  $$h does not compile alone $$m"; exit 1; }; \
		done; \
	done; echo "  headers ok"

deps:
	$(Q)bash scripts/deps.sh

include tests/unit/unit.mk
include tests/bpf/bpf.mk
include tests/e2e/e2e.mk
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
include dist/dist.mk

test: deps
	$(Q)$(MAKE) --no-print-directory all check-headers
	$(Q)bash scripts/run-tests.sh

demo: deps
	$(Q)bash scripts/demo.sh

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/user/*.d)
