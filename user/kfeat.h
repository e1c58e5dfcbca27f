/* User: what this kernel lets the datapath do, probed before its load (daemon, BPF tier, kcost, verifstats). */
/*
 * kfeat.h -- kernel features the datapath object adapts to at load time
 * through its read-only data. Every loader of the object calls it, so
 * all of them load the program the daemon loads.
 */
#ifndef PF_KFEAT_H
#define PF_KFEAT_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

/* Does this kernel let XDP programs call bpf_xdp_adjust_meta? Some
 * builds refuse it at load ("program of this type cannot use helper
 * bpf_xdp_adjust_meta#54"); the datapath then hands nothing to TC by
 * metadata (pf_xdp_no_meta, bpf/pf_ctx.h). Probed by loading a
 * 4-instruction XDP program that calls it: libbpf_probe_bpf_helper cannot
 * tell, it reads "supported" into any verifier message but "invalid func"
 * and "unknown func". Returns 1 (it loads), 0 (the verifier refuses the
 * helper) or -errno: a load that fails for another reason (memory,
 * privilege) decides nothing -- guessed, an instance taking over from
 * one that decided the other way would leave frames translated twice or
 * not at all between its TC and its XDP replace. */
static inline int pf_kfeat_xdp_meta(void)
{
	const struct bpf_insn insns[] = {
		/* r1 = ctx on entry; r2 = 0; call; r0 = XDP_PASS; exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_meta },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "pf_kfeat_meta", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), &opts);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	fd = -errno;
	if (fd == -EINVAL && (strstr(log, "cannot use helper") || strstr(log, "unknown func") ||
			      strstr(log, "invalid func")))
		return 0;
	return fd;
}

/* The flow entry's lock for this kernel (struct bpf_res_spin_lock,
 * include/pf_structs.h): 0 when it has the kfunc bpf_res_spin_lock
 * (6.15+; its vmlinux BTF names it), or 1 after renaming the lock's type
 * to bpf_spin_lock in obj's BTF (opened, not loaded), so that the map
 * is created with the lock the helper takes -- what the caller then
 * sets pf_flow_lock_plain to (bpf/pf_maps.h). plain forces the rename
 * on any kernel (build/bench/verifstats --flow-lock plain, the BPF
 * tier's PF_BPFT_PLAIN_LOCK: the older kernels' variant verified and
 * run here). Every loader of the object calls it, before anything reads
 * the object's BTF (user/layout.c fingerprints it). -errno: no vmlinux
 * BTF, no memory. */
static inline int pf_kfeat_flow_lock(struct bpf_object *obj, bool plain)
{
	struct btf *vmlinux, *btf = bpf_object__btf(obj);
	struct btf_type *t;
	int id, off;

	if (!btf)
		return -ENOENT;
	if (!plain) {
		vmlinux = btf__load_vmlinux_btf();
		if (!vmlinux)
			return -errno;
		id = btf__find_by_name_kind(vmlinux, "bpf_res_spin_lock", BTF_KIND_FUNC);
		btf__free(vmlinux);
		if (id > 0)
			return 0;
	}
	id = btf__find_by_name_kind(btf, "bpf_res_spin_lock", BTF_KIND_STRUCT);
	if (id < 0)
		return id;
	/* the new string first: adding it may move the type data */
	off = btf__add_str(btf, "bpf_spin_lock");
	if (off < 0)
		return off;
	t = (struct btf_type *)btf__type_by_id(btf, id);
	if (!t)
		return -ENOENT;
	t->name_off = off;
	return 1;
}

/* Does this kernel run XDP programs on live frames from
 * BPF_PROG_TEST_RUN (BPF_F_TEST_XDP_LIVE_FRAMES, 5.18+)? The slow path's
 * replay needs it (user/replay.h). Some builds refuse it (seen: a 6.18
 * build answers EPERM, whatever the program -- the same build refuses
 * bpf_xdp_adjust_meta to XDP). Probed by one live run of a 2-instruction
 * XDP program that drops the frame, on the loopback device. Returns 1, 0
 * (EPERM or EOPNOTSUPP: refused) or -errno (the program did not load, or
 * the run failed otherwise -- EINVAL would be this probe's own fault:
 * every kernel since 5.18 has the flag -- decides nothing). */
static inline int pf_kfeat_xdp_live(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	unsigned char frame[64] = { 0 };
	struct xdp_md md = { .data_end = sizeof(frame), .ingress_ifindex = 1 /* lo */ };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "pf_kfeat_live", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	if (fd < 0)
		return -errno;
	err = bpf_prog_test_run_opts(fd, &o) ? -errno : 0;
	close(fd);
	if (!err)
		return 1;
	return err == -EPERM || err == -EOPNOTSUPP ? 0 : err;
}

#endif /* PF_KFEAT_H */
