# E2E tier: netns + veth, a real app server and real clients.
# Tools: tests/e2e/tools/<name>.c -> build/tests/e2e/<name>
#        tests/e2e/<name>.bpf.c    -> build/tests/e2e/<name>.bpf.o (+ .skel.h)
#        tests/e2e/preload/<name>.c -> build/tests/e2e/<name>.so (LD_PRELOAD)
E2E_DIR       := $(BUILD)/tests/e2e
E2E_BPF_SRCS  := $(wildcard tests/e2e/*.bpf.c)
E2E_BPF_OBJS  := $(E2E_BPF_SRCS:tests/e2e/%.bpf.c=$(E2E_DIR)/%.bpf.o)
E2E_SKELS     := $(E2E_BPF_SRCS:tests/e2e/%.bpf.c=$(E2E_DIR)/%.skel.h)
E2E_TOOL_SRCS := $(wildcard tests/e2e/tools/*.c)
E2E_TOOLS     := $(E2E_TOOL_SRCS:tests/e2e/tools/%.c=$(E2E_DIR)/%)
E2E_PRELOAD_SRCS := $(wildcard tests/e2e/preload/*.c)
E2E_PRELOADS  := $(E2E_PRELOAD_SRCS:tests/e2e/preload/%.c=$(E2E_DIR)/%.so)

$(E2E_DIR):
	$(Q)mkdir -p $@

$(E2E_DIR)/%.bpf.o: tests/e2e/%.bpf.c | $(E2E_DIR)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(E2E_DIR)/%.skel.h: $(E2E_DIR)/%.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<)) > $@

$(E2E_DIR)/%: tests/e2e/tools/%.c $(E2E_SKELS) | $(E2E_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -I$(E2E_DIR) -pthread -o $@ $< $(LDLIBS)

$(E2E_DIR)/%.so: tests/e2e/preload/%.c | $(E2E_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

e2e-tools: $(E2E_TOOLS) $(E2E_BPF_OBJS) $(E2E_PRELOADS)

# every case in both modes, then the hardening cases (short soak), the
# splice guard (bodies, early responses, a browser-like mix, nginx), a path
# MTU drop on spliced connections (ICMP frag-needed), policy
# reloads under wrk load, the daemon's guarantees (restart adoption,
# detach, drain), its slow path, operators' tooling (a ConfigMap's
# ..data swap, /healthz), the response offload, its TC neighbours (tcx,
# clsact), restarts into other builds (git history), its systemd unit and
# sd_notify; the offload's pairing and byte-exact cases once more with the
# client's checksums computed in software (tx off); the daemon's
# guarantees once more with the legacy clsact attach
e2e: all e2e-tools
	$(Q)rc=0; for m in tc xdp; do \
		bash tests/e2e/run.sh --mode $$m || rc=1; \
		bash tests/e2e/hardening.sh --mode $$m || rc=1; \
		bash tests/e2e/guard.sh --mode $$m || rc=1; \
		bash tests/e2e/pmtu.sh --mode $$m || rc=1; \
		bash tests/e2e/reload.sh --mode $$m || rc=1; \
		bash tests/e2e/daemon.sh --mode $$m || rc=1; \
		bash tests/e2e/slowpath.sh --mode $$m || rc=1; \
		bash tests/e2e/ops.sh --mode $$m || rc=1; \
		bash tests/e2e/offload.sh --mode $$m || rc=1; \
		bash tests/e2e/coexist.sh --mode $$m || rc=1; \
		bash tests/e2e/upgrade.sh --mode $$m || rc=1; \
		bash tests/e2e/systemd.sh --mode $$m || rc=1; \
		PF_TX_OFF=1 PF_CASES='^\[[a-z]+\] [acgh]\. ' bash tests/e2e/offload.sh --mode $$m || rc=1; \
	done; PF_TC_ATTACH=clsact bash tests/e2e/daemon.sh --mode tc || rc=1; \
	PF_XDP_GENERIC=1 bash tests/e2e/slowpath.sh --mode xdp || rc=1; exit $$rc

# longer fault soak: the hardening cases with 60 s for the soak, delay and
# reordering cases, in both modes
SOAK_SECONDS ?= 60
soak: all e2e-tools
	$(Q)rc=0; for m in tc xdp; do \
		bash tests/e2e/hardening.sh --mode $$m --soak $(SOAK_SECONDS) || rc=1; \
	done; exit $$rc

# tcxtool lists TC chains with preflightd's own code (user/tc_chain.c)
$(E2E_DIR)/tcxtool: tests/e2e/tools/tcxtool.c $(E2E_SKELS) $(BUILD)/libpf.a | $(E2E_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -I$(E2E_DIR) -Iuser -o $@ $< $(BUILD)/libpf.a $(LDLIBS)
