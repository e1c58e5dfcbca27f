# BPF tier: bpf_prog_test_run_opts packet-in/packet-out fixtures (TC and XDP).
# The datapath is compiled a second time with -DPF_TEST_MOCK_SOCK (socket
# state from the pf_test_sock map) into its own object and skeleton
# (preflightd_test); the test runner links the policy compiler directly.
#   make bpftest                      load the production object's programs,
#                                     then build and run every case (root)
#   build/tests/bpf/bpftest FILTER    run the cases whose name contains FILTER
BPFT_DIR   := $(BUILD)/tests/bpf
BPFT_OBJ   := $(BPFT_DIR)/preflightd_test.bpf.o
BPFT_SKEL  := $(BPFT_DIR)/preflightd_test.skel.h
BPFT_SRCS  := $(wildcard tests/bpf/*.c)
BPFT_POL   := $(POLICY_SRCS) user/acrh.c
# the daemon's policy installer (and the log it writes to), and the slow
# path's replay of punted segments and its ring's turns
BPFT_MAPS  := user/maps.c user/log.c user/replay.c user/ringturn.c
BPFT_OBJS  := $(BPFT_SRCS:tests/bpf/%.c=$(BPFT_DIR)/%.o) \
	      $(BPFT_POL:user/%.c=$(BPFT_DIR)/user/%.o) \
	      $(BPFT_MAPS:user/%.c=$(BPFT_DIR)/user/%.o)
BPFT_BIN   := $(BPFT_DIR)/bpftest

$(BPFT_DIR) $(BPFT_DIR)/user:
	$(Q)mkdir -p $@

$(BPFT_OBJ): bpf/preflightd.bpf.c $(wildcard bpf/*.h include/*.h) | $(BPFT_DIR)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -DPF_TEST_MOCK_SOCK -c $< -o $@

$(BPFT_SKEL): $(BPFT_OBJ)
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name preflightd_test > $@

$(BPFT_DIR)/%.o: tests/bpf/%.c $(BPFT_SKEL) | $(BPFT_DIR)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Iuser -I$(BPFT_DIR) -c $< -o $@

$(BPFT_DIR)/user/%.o: user/%.c | $(BPFT_DIR)/user
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BPFT_BIN): $(BPFT_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -pthread -o $@ $^ $(LDLIBS)

# First the production object: each of its programs must load. The test
# object above differs (test points, the mocked socket), so a verifier
# limit that only the production build hits -- "combined stack size of 5
# calls is 528. Too large" in pf_xdp_ingress once -- shows only here (and
# at `run`). The rule of build/bench/verifstats is in bench/bench.mk.
# Both of its variants for XDP metadata (user/kfeat.h), whatever this
# kernel allows: stop 40's XDP program called a helper XDP may not call,
# on the metadata variant's paths only -- it loaded on a kernel without
# metadata and on no other. Then the cases, the XDP ones once more as on
# a kernel of the other kind (PF_BPFT_NO_META; a kernel without metadata
# runs them the same way twice). Likewise the flow entry's lock: each
# variant also as on a kernel without bpf_res_spin_lock (before 6.15:
# bpf_spin_lock, user/kfeat.h), and every case again that way (a kernel
# without it runs them the same way twice); the XDP cases also with both
# (a kernel before 6.15 whose driver has no XDP metadata room). And a
# kernel before 6.9: no may_goto either (the parse's bpf_loop callbacks,
# the instruction rewritten: user/kfeat.h), verified and every case run.
bpftest: $(BPFT_BIN) $(BUILD)/bench/verifstats
	$(Q)for v in yes no; do for l in res plain plain-nogoto; do \
		$(BUILD)/bench/verifstats --runs 1 --xdp-meta $$v \
			$$([ $$l != res ] && echo --flow-lock plain) \
			$$([ $$l = plain-nogoto ] && echo --may-goto no) > $(BPFT_DIR)/verif-$$v-$$l.txt || \
		{ echo "bpftest: a program of the production object (--xdp-meta $$v, variant $$l) does not load (above)"; exit 1; }; \
	done; done
	$(Q)$(BPFT_BIN)
	$(Q)echo "bpftest: the XDP cases again, loaded as on a kernel without XDP metadata"
	$(Q)PF_BPFT_NO_META=1 $(BPFT_BIN) '[xdp]'
	$(Q)echo "bpftest: every case again, the flow entry's lock as on a kernel without bpf_res_spin_lock"
	$(Q)PF_BPFT_PLAIN_LOCK=1 $(BPFT_BIN)
	$(Q)echo "bpftest: the XDP cases once more, as on a kernel with neither (both of the above)"
	$(Q)PF_BPFT_NO_META=1 PF_BPFT_PLAIN_LOCK=1 $(BPFT_BIN) '[xdp]'
	$(Q)echo "bpftest: every case again as on a kernel before 6.9: the lock as above, no may_goto (bpf_loop callbacks)"
	$(Q)PF_BPFT_NO_MAY_GOTO=1 PF_BPFT_PLAIN_LOCK=1 $(BPFT_BIN)

-include $(wildcard $(BPFT_DIR)/*.d $(BPFT_DIR)/user/*.d)
