/* User: attaching the XDP ingress program through libxdp (shared XDP hook),
 * and adopting the one a dead instance left attached. */
#ifndef PF_XDP_H
#define PF_XDP_H

#include <stdbool.h>
#include <linux/types.h>

struct preflightd_bpf;
struct xdp_program;
struct bpf_object;

struct pf_xdp {
	struct xdp_program *prog;   /* attached by libxdp (owns its bpf_object) */
	struct bpf_object *obj;     /* or attached by replacing a dead instance's */
	int prog_fd;                /* ... program: obj's pf_xdp_ingress */
	int ifindex;
	int mode;                   /* enum xdp_attach_mode */
	__u32 replace_id;           /* pf_xdp_prepare: program to replace (adoption) */
	bool replace_dispatcher;    /* ... a libxdp dispatcher holding only ours */
};

/* Before loading: look at ifindex's XDP hook and set x up for
 * pf_xdp_attach (mode: skb when generic, else native). A dead instance's
 * pf_xdp_ingress that uses flows_fd (the pinned flow table being adopted)
 * and is attached in the same mode, alone or as the only program of a
 * libxdp dispatcher, is adopted: pf_xdp_attach replaces it atomically.
 * Refuses with -EEXIST (message printed) what it cannot adopt: a
 * preflightd XDP program when !xdp, without flows_fd (< 0) or using
 * another flow table, in the other mode, or sharing a dispatcher with
 * other programs; and in xdp mode a foreign program attached alone.
 * Returns 0 or -errno. */
int pf_xdp_prepare(struct pf_xdp *x, const char *iface, int ifindex, bool xdp,
		   bool generic, int flows_fd);

/* Load pf_xdp_ingress sharing every map of the already-loaded skel and
 * attach it as pf_xdp_prepare decided: replace the adopted program with
 * one atomic XDP_FLAGS_REPLACE (the hook is never empty, and never runs a
 * program with other maps), or else as a libxdp dispatcher extension
 * (libxdp falls back to a single program where dispatchers fail). Returns
 * 0 or -errno (message printed; a driver without native XDP gets a hint
 * to use --xdp-generic). */
int pf_xdp_attach(struct pf_xdp *x, struct preflightd_bpf *skel);

/* Detach and free what pf_xdp_attach set up (no-op if nothing). */
void pf_xdp_detach(struct pf_xdp *x);

/* Is a pf_xdp_ingress program (a dead instance's) attached to ifindex,
 * alone or in a libxdp dispatcher? With detach, remove it (and libxdp's
 * lock directory when empty). Returns 1 if found, 0 if not, -errno on
 * error. */
int pf_xdp_find_stale(int ifindex, bool detach);

#endif /* PF_XDP_H */
