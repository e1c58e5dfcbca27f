# BPF tier: bpf_prog_test_run_opts packet-in/packet-out fixtures (TC and XDP).
bpftest:
	@echo "bpf tier: not built yet"
