/* User: attaching the XDP ingress program through libxdp (shared XDP hook). */
#ifndef PF_XDP_H
#define PF_XDP_H

#include <stdbool.h>

struct preflightd_bpf;
struct xdp_program;

struct pf_xdp {
	struct xdp_program *prog;   /* owns its own bpf_object (maps reused) */
	int ifindex;
	int mode;                   /* enum xdp_attach_mode */
};

/* Load pf_xdp_ingress as a libxdp dispatcher extension sharing every map
 * of the already-loaded skel, and attach it to ifindex (native, or skb
 * mode when generic). Returns 0 or -errno (message printed; a driver
 * without native XDP gets a hint to use --xdp-generic). */
int pf_xdp_attach(struct pf_xdp *x, struct preflightd_bpf *skel, int ifindex,
		  bool generic);

/* Detach and free what pf_xdp_attach set up (no-op if nothing). */
void pf_xdp_detach(struct pf_xdp *x);

/* Is a pf_xdp_ingress program (a dead instance's) attached to ifindex,
 * alone or in a libxdp dispatcher? With detach, remove it. Returns 1 if
 * found, 0 if not, -errno on error. */
int pf_xdp_find_stale(int ifindex, bool detach);

#endif /* PF_XDP_H */
