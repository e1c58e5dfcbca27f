/* User: the datapath's programs in objects of their own that share the skeleton's maps (load.c, xdp.c). */
/*
 * progs.h -- a program of the skeleton's ELF loaded in a second
 * bpf_object whose every map is the loaded skeleton's (pf_prog_open), and
 * the skeleton's programs verified side by side that way (pf_progs_load).
 *
 * libbpf loads an object's programs one after the other, and the kernel
 * verifies each program on the thread that loads it; verifiers for a
 * caller with CAP_BPF run concurrently. Here (verifstats): pf_tc_ingress
 * ~260 ms, pf_xdp_ingress ~320, pf_ofl_msg ~280, pf_shd_tc_out ~160,
 * pf_ofl_tc ~90, pf_tc_egress ~30 -- one after the other, XDP mode's
 * and the response offload's start took their sum.
 *
 * pf_progs_load creates the maps by loading the skeleton with none of
 * its programs, then loads the programs the skeleton would have loaded
 * in objects sharing those maps, each on a thread: the ones progs.c
 * names alone (the verifier's longest) one to an object, the others
 * together in one. Each object costs its load's own work besides the
 * verifier (10-25 ms: BTF, CO-RE, the programs' fixups), hence not one
 * per program, and none where only one of the long ones loads (TC mode
 * without the offload: the skeleton loads its programs itself, as
 * another object would cost about what pf_tc_egress's 30 ms beside it
 * saves). pf_xdp_ingress is among them only where xdp.c loads it itself
 * (load.c: without CAP_SYS_ADMIN, the systemd unit's and the Helm
 * chart's case); libxdp, which loads it as its dispatcher's extension
 * where the kernel allows one, verifies it when attaching it. Measured
 * here (2 cores, the policy read meanwhile, 100,000 origins, start to
 * attached, means of 5 alternating runs): --cgroup with `responses:
 * true` 720 -> 546 ms, --shadow 626 -> 508; XDP mode without
 * CAP_SYS_ADMIN 811 -> 675 (a CI run beside it).
 *
 * The skeleton's program pointers (skel->progs.NAME) are set to the
 * loaded programs, so its callers need not know; its own programs stay
 * unloaded. The objects live until pf_progs_close, which comes after
 * everything that uses a program fd (attach, pin, detach from the
 * cgroup) -- but for XDP's, which xdp.c takes (pf_progs_take). They are
 * opened like the skeleton (kfeat.h: the flow lock's type), under the
 * skeleton's object name: internal maps are matched by names made from
 * it.
 */
#ifndef PF_PROGS_H
#define PF_PROGS_H

struct preflightd_bpf;
struct bpf_object;

/* Objects pf_progs_load may make: one per program named alone, and one. */
#define PF_PROGS_MAX 5
/* Blocks kept for pf_progs_trim: two loads' threads (a wrong guess's,
 * user/load.h, then the in-line one) and load.c's own thread. */
#define PF_PROGS_TRIMS (2 * PF_PROGS_MAX + 1)

struct pf_progs {
	struct bpf_object *obj[PF_PROGS_MAX];
	unsigned n;
	void *trim[PF_PROGS_TRIMS];  /* pf_progs_trim's blocks */
	unsigned ntrim;
};

/* Open a second object from skel's embedded ELF in which only the n
 * programs names[] load, every map of it set to the same-named map of
 * skel (which must be loaded). Returns 0 (*objp set, not loaded) or
 * -errno (message printed). */
int pf_prog_open(struct preflightd_bpf *skel, const char *const *names, unsigned n,
		 struct bpf_object **objp);

/* pf_prog_open, then load the object: 0 (*objp loaded) or -errno
 * (message printed; nothing left open). */
int pf_prog_load(struct preflightd_bpf *skel, const char *const *names, unsigned n,
		 struct bpf_object **objp);

/* Load skel (opened, sized, prepared: what autoloads is what loads) with
 * its maps only, then its programs side by side (see above) into ps
 * (empty: {0}), and point skel's program pointers at them. Returns 0 or
 * -errno (message printed; the objects made are in ps either way). */
int pf_progs_load(struct pf_progs *ps, struct preflightd_bpf *skel);

/* The object of ps in which the program name (one loaded alone) was
 * loaded, now the caller's to close, skel's pointer set back to its own
 * unloaded program; NULL if none. xdp.c attaches pf_xdp_ingress from
 * it (pf_xdp_give). */
struct bpf_object *pf_progs_take(struct pf_progs *ps, struct preflightd_bpf *skel,
				 const char *name);

/* After pf_heap_done (heap.h): give back what the loading threads freed.
 * A thread's mallocs come from an arena of its own, and what it frees
 * (each object's parse of the kernel's BTF, ~11 MB) stays in that arena's
 * top: glibc trims a thread arena's top only when a free in that arena
 * asks it to, under the thresholds then in force -- the policy pass's
 * (64 MiB of padding) while the threads run -- and malloc_trim(3) does
 * not trim it. Each thread leaves a block behind, kept in ps across
 * pf_progs_close; freed here, under the daemon's thresholds, each
 * block's free trims its arena (shadow mode with 100,000 origins: 94 ->
 * 61 MB resident, as one object). Safe to call again. */
void pf_progs_trim(struct pf_progs *ps);

/* At the end of another thread that loaded (load.c's start-up thread):
 * leave a block from its arena for pf_progs_trim. Not while another
 * thread uses ps. */
void pf_progs_thread_done(struct pf_progs *ps);

/* Close ps's objects (their program fds); their blocks for
 * pf_progs_trim stay. */
void pf_progs_close(struct pf_progs *ps);

#endif /* PF_PROGS_H */
