# bench/bench.mk -- `make bench`: the side-by-side benchmark (bench/run.sh
# measures into bench/results/latest.csv, bench/report.sh writes latest.md
# and latest.png from it).
#   make bench          everything (root, ~7 min)
#   make bench-kernel   BPF_PROG_TEST_RUN figures only (root, no topology)
#   make bench-report   the report again from latest.csv (no root)
#   make bench-gc       GC pass time at 65,536 and 1,048,576 entries
#   make bench-profile  the answer's in-kernel time by source line (root,
#                       perf; bench/results/profile.md)
#   make bench-profile-offload  the response offload's, live (root, perf,
#                       wrk, nginx; bench/results/profile-offload.md)
# Included from the top-level Makefile (-include bench/bench.mk); alone:
#   make -f Makefile -f bench/bench.mk bench
# Tools: bench/floor.bpf.c -> build/bench/floor.bpf.o (+ floor.skel.h)
#        bench/floorctl.c  -> build/bench/floorctl  (loads the floor)
#        bench/kcost.c     -> build/bench/kcost     (BPF_PROG_TEST_RUN cost)
#        bench/gccost.c    -> build/bench/gccost    (flow-table GC pass cost)
#        bench/statsfd.c   -> build/bench/statsfd   (BPF run-time statistics on)
#        bench/rrlat.c     -> build/bench/rrlat     (round-trip latency in ns,
#                             one keep-alive connection)
#        bench/verifstats.c -> build/bench/verifstats (the verifier's work per
#                             program; `make verif-stats`)
#        bench/jitlines.c  -> build/bench/jitlines (a loaded program's JIT
#                             code by source line; `make bench-profile`)
# Read once even when both the Makefile includes it and -f names it.
ifndef PF_BENCH_MK
PF_BENCH_MK := 1

BENCH_DIR   := $(BUILD)/bench
BENCH_TOOLS := $(BENCH_DIR)/floorctl $(BENCH_DIR)/kcost $(BENCH_DIR)/gccost \
	       $(BENCH_DIR)/ofl_floorctl $(BENCH_DIR)/statsfd $(BENCH_DIR)/verifstats \
	       $(BENCH_DIR)/rrlat $(BENCH_DIR)/jitlines

.PHONY: bench bench-tools bench-gc bench-kernel bench-report bench-profile \
	bench-profile-offload verif-stats

$(BENCH_DIR):
	$(Q)mkdir -p $@

$(BENCH_DIR)/floor.bpf.o: bench/floor.bpf.c bench/floor.h | $(BENCH_DIR)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibench -c $< -o $@

$(BENCH_DIR)/floor.skel.h: $(BENCH_DIR)/floor.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(BENCH_DIR)/floorctl: bench/floorctl.c bench/floor.h $(BENCH_DIR)/floor.skel.h
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Ibench -I$(BENCH_DIR) -o $@ $< $(LDLIBS)

# The response offload's skpass variant (bench/offload.sh): a bare SK_MSG
# program, the kernel's SK_MSG send path on every byte.
$(BENCH_DIR)/ofl_floor.bpf.o: bench/ofl_floor.bpf.c | $(BENCH_DIR)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BENCH_DIR)/ofl_floor.skel.h: $(BENCH_DIR)/ofl_floor.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name ofl_floor > $@

$(BENCH_DIR)/ofl_floorctl: bench/ofl_floorctl.c $(BENCH_DIR)/ofl_floor.skel.h
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_DIR) -o $@ $< $(LDLIBS)

# the request files' reader, shared by kcost and rrlat
$(BENCH_DIR)/reqfile.o: bench/reqfile.c bench/reqfile.h | $(BENCH_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BENCH_DIR)/rrlat: bench/rrlat.c bench/reqfile.h $(BENCH_DIR)/reqfile.o
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Ibench -o $@ $< $(BENCH_DIR)/reqfile.o

$(BENCH_DIR)/statsfd: bench/statsfd.c | $(BENCH_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# verifstats loads the production object's programs (its skeleton).
$(BENCH_DIR)/verifstats: bench/verifstats.c $(SKELS) | $(BENCH_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Iuser -o $@ $< $(LDLIBS)

$(BENCH_DIR)/jitlines: bench/jitlines.c | $(BENCH_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# the answer's in-kernel time by source line (root, perf): bench/jitprof.sh
bench-profile: $(BENCH_DIR)/kcost $(BENCH_DIR)/jitlines
	$(Q)BUILD=$(BUILD) bash bench/jitprof.sh $(PROFILE_ARGS)

# the same for the response offload, live (bench/offload.sh's small JSON at 8
# connections; the e2e topology's names from the environment)
bench-profile-offload: all e2e-tools bench-tools
	$(Q)BUILD=$(BUILD) bash bench/jitprof.sh --offload $(PROFILE_ARGS)

# processed instructions, states and verification time per program (root);
# VERIF_ARGS e.g. "--runs 9 --prog pf_tc_ingress --lines 30"
verif-stats: $(BENCH_DIR)/verifstats
	$(Q)$(BENCH_DIR)/verifstats $(VERIF_ARGS)

# kcost links the BPF tier's packet builder, the policy compiler and the
# daemon's policy installer (user/maps.c) as the BPF tier builds them
# (tests/bpf/bpf.mk), and the test build of the datapath (socket state
# mocked) through its skeleton.
KCOST_OBJS := $(BPFT_DIR)/pkt.o $(BPFT_POL:user/%.c=$(BPFT_DIR)/user/%.o) \
	      $(BPFT_MAPS:user/%.c=$(BPFT_DIR)/user/%.o) $(BENCH_DIR)/reqfile.o

$(BENCH_DIR)/kcost: bench/kcost.c bench/floor.h bench/reqfile.h $(BENCH_DIR)/floor.skel.h $(BPFT_SKEL) \
		$(KCOST_OBJS)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Ibench -I$(BENCH_DIR) -I$(BPFT_DIR) -Iuser -Itests/bpf -o $@ $< \
		$(KCOST_OBJS) $(LDLIBS)

# gccost times the daemon's own GC pass (user/gc.c, sockdiag.c).
GCCOST_OBJS := $(BUILD)/user/gc.o $(BUILD)/user/sockdiag.o $(BUILD)/user/log.o

$(BENCH_DIR)/gccost: bench/gccost.c $(GCCOST_OBJS) | $(BENCH_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Iuser -o $@ $< $(GCCOST_OBJS) -lbpf -lpthread

bench-tools: $(BENCH_TOOLS)

# in a network namespace of its own (its sockets on lo, its dump sees
# only them); prints GCCOST lines
bench-gc: $(BENCH_DIR)/gccost
	$(Q)unshare --net sh -c 'ip link set lo up && exec $(BENCH_DIR)/gccost $(GCCOST_ARGS)'

bench:
	$(Q)bash scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) -f bench/bench.mk \
		all e2e-tools bench-tools
	$(Q)bash bench/run.sh

bench-kernel:
	$(Q)$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) -f bench/bench.mk \
		all e2e-tools bench-tools
	$(Q)BENCH_OUT=$(BENCH_DIR)/kernel bash bench/run.sh --kernel-only

bench-report:
	$(Q)bash bench/report.sh

-include $(wildcard $(BENCH_DIR)/*.d)

endif # PF_BENCH_MK
