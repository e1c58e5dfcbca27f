/* User: what this kernel lets the datapath do, probed before its load (daemon, BPF tier, kcost, verifstats). */
/*
 * kfeat.h -- kernel features the datapath object adapts to at load time
 * through its read-only data. Every loader of the object calls it, so
 * all of them load the program the daemon loads.
 */
#ifndef PF_KFEAT_H
#define PF_KFEAT_H

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "pf_common.h"

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

/* Does this kernel know the may_goto instruction (6.9+)? The answer
 * path's open-coded loops need it (pf_may_goto, include/pf_common.h).
 * Probed by loading a 4-instruction socket filter with one that jumps
 * over an instruction ("may_goto +0" was refused before 6.15: "invalid
 * may_goto off 0 imm 0"). Returns 1 (it loads), 0 (the verifier does not
 * know the opcode: "unknown opcode e5", before 6.9) or -errno (refused
 * for another reason: decides nothing, as pf_kfeat_xdp_meta). force_off:
 * 0, as on a kernel without it (the BPF tier's PF_BPFT_NO_MAY_GOTO,
 * kcost and verifstats --may-goto no). Both variants give every packet
 * the same outcome, so instances of either kind may hand over. */
static inline int pf_kfeat_may_goto(bool force_off)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = PF_MAY_GOTO_CODE, .off = 1 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log),
		    .log_level = 1);
	int fd;

	if (force_off)
		return 0;
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "pf_kfeat_goto", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	fd = -errno;
	return fd == -EINVAL && strstr(log, "unknown opcode") ? 0 : fd;
}

/* The may_goto instructions in the code sections of the BPF ELF image
 * img (sz bytes): their count, or -errno. rewrite: each becomes "if r10
 * == r10 goto" the same target, for a kernel before 6.9, which refuses
 * the opcode even in the dead code pf_may_goto 0 makes of the open-coded
 * loops. A conditional jump, not BPF_JA: the verifier's CFG check refuses
 * a program with an instruction no path reaches ("unreachable insn"), and
 * after an unconditional jump the loop's body would be one. An
 * instruction is an 8-byte slot whose code byte is PF_MAY_GOTO_CODE (the
 * second half of a 16-byte ld_imm64 has code 0). */
static inline long pf_kfeat_goto_scan(void *img, size_t sz, bool rewrite)
{
	unsigned char *b = img;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	long n = 0;
	size_t k;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	e = elf_memory(img, sz);
	if (!e)
		return -EINVAL;
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh)) {
			n = -EINVAL;
			break;
		}
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR) ||
		    sh.sh_offset > sz || sh.sh_size > sz - sh.sh_offset)
			continue;
		for (k = 0; k + 8 <= sh.sh_size; k += 8) {
			if (b[sh.sh_offset + k] != PF_MAY_GOTO_CODE)
				continue;
			n++;
			if (rewrite) {
				b[sh.sh_offset + k] = BPF_JMP | BPF_JEQ | BPF_X;
				b[sh.sh_offset + k + 1] = BPF_REG_10 | BPF_REG_10 << 4;
			}
		}
	}
	elf_end(e);
	return n;
}

/* A copy of the BPF ELF image elf (sz bytes) with every may_goto
 * rewritten (pf_kfeat_goto_scan). It must outlive every object opened
 * from it: libbpf reads it while opening, and user/progs.c opens more
 * objects from the skeleton's image later. Returns 0 (*out malloc'd) or
 * -errno. */
static inline int pf_kfeat_no_may_goto(const void *elf, size_t sz, void **out)
{
	void *img = malloc(sz);
	long n;

	if (!img)
		return -ENOMEM;
	memcpy(img, elf, sz);
	n = pf_kfeat_goto_scan(img, sz, true);
	if (n < 0) {
		free(img);
		return (int)n;
	}
	*out = img;
	return 0;
}

/* Open skeleton s (its create_skeleton done) as this kernel can load it:
 * may_goto 1 from its embedded image, 0 from one without the
 * instruction (pf_kfeat_no_may_goto, made once and kept for the
 * process's life: see there). Returns 0 or
 * -errno. PF_KFEAT_OPEN sets the object's pf_may_goto to match. */
static inline int pf_kfeat_open_skel(struct bpf_object_skeleton *s, int may_goto)
{
	static const void *from;
	static void *img;
	int err;

	if (!may_goto) {
		/* one image per embedded one (a loader opens one kind) */
		if (from != s->data) {
			err = pf_kfeat_no_may_goto(s->data, s->data_sz, &img);
			if (err)
				return err;
			from = s->data;
		}
		s->data = img;
	}
	return bpf_object__open_skeleton(s, NULL);
}

/* NAME__open() (a skeleton of type struct NAME) through
 * pf_kfeat_open_skel, its pf_may_goto set to may_goto with the image that
 * goes with it; NULL with errno set on failure. */
#define PF_KFEAT_OPEN(NAME, may_goto) ({					\
	struct NAME *o_ = calloc(1, sizeof(*o_));				\
	int e_ = o_ ? NAME##__create_skeleton(o_) : -ENOMEM;			\
									\
	if (!e_)							\
		e_ = pf_kfeat_open_skel(o_->skeleton, (may_goto));		\
	if (!e_)							\
		o_->rodata->pf_may_goto = (may_goto);				\
	if (e_) {							\
		if (o_)							\
			NAME##__destroy(o_);				\
		o_ = NULL;						\
		errno = -e_;						\
	}								\
	o_;								\
})

#endif /* PF_KFEAT_H */
