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
	struct xdp_program *prog;   /* attached through libxdp (owns its bpf_object) */
	struct bpf_object *obj;     /* or loaded here and attached alone */
	int prog_fd;                /* our attached pf_xdp_ingress (pinned as DIR/xdp) */
	int ifindex;
	int mode;                   /* enum xdp_attach_mode */
	int old_fd;                 /* pf_xdp_prepare: program to replace (adoption), -1 */
	__u32 old_id;               /* ... its id (for messages) */
	bool old_dispatcher;        /* ... a libxdp dispatcher holding only ours */
	char ifname[16];
	char dir[256];              /* the pin directory */
};

/* Before loading: look at ifindex's XDP hook (bpf_xdp_query) and set x up
 * for pf_xdp_attach (mode: skb when generic, else native; dir: the pin
 * directory). A dead instance's pf_xdp_ingress that uses flows_fd (the
 * pinned flow table being adopted) and is attached in the same mode, alone
 * or as the only program of a libxdp dispatcher, is adopted: pf_xdp_attach
 * replaces it atomically. It is found through its pin (dir/xdp); any other
 * program through libxdp, by id, which takes CAP_SYS_ADMIN: without it,
 * such a program is refused in XDP mode (it cannot be told from another
 * user's), and in TC mode only if the dead instance pinned a program that
 * is no longer the one attached. Refuses with -EEXIST (message printed)
 * what it cannot adopt: a preflightd XDP program when !xdp, without
 * flows_fd (< 0) or using another flow table, in the other mode, or
 * sharing a dispatcher with other programs; and in xdp mode a foreign
 * program attached alone, or no program of the dead instance to replace
 * while flows_fd is adopted (it ran in TC mode: its TC program translates
 * what ours, in XDP mode, would leave to XDP). Returns 0 or -errno. */
int pf_xdp_prepare(struct pf_xdp *x, const char *iface, int ifindex, const char *dir,
		   bool xdp, bool generic, int flows_fd);

/* Load pf_xdp_ingress sharing every map of the already-loaded skel and
 * attach it as pf_xdp_prepare decided: replace the adopted program with
 * one atomic XDP_FLAGS_REPLACE (the hook is never empty, and never runs a
 * program with other maps); or else, with CAP_SYS_ADMIN, through libxdp
 * (its dispatcher where it loads one, else alone), and without it alone
 * (a dispatcher could only be found again by id). Then pin it as dir/xdp
 * (in place of an adopted one: the adopting run's commit renames the pin
 * it staged there, pf_pin_commit).
 * Returns 0 or -errno (message printed; a driver without native XDP gets
 * a hint to use --xdp-generic; nothing left attached -- but a program that
 * replaced the adopted one stays, whatever fails after: an emptied hook
 * would leave the adopted connections' client segments untranslated). */
int pf_xdp_attach(struct pf_xdp *x, struct preflightd_bpf *skel);

/* Between pf_xdp_prepare and pf_xdp_attach, when a dead instance's
 * program is to be replaced (pf_xdp_replacing): load ours already
 * (x->prog_fd), so that the replace follows the TC programs' at once and
 * the adopting run can stage its pin (pf_pin_maps). No-op otherwise, or
 * when loaded. 0 or -errno (message printed). */
int pf_xdp_load(struct pf_xdp *x, struct preflightd_bpf *skel);

/* Will pf_xdp_attach go through libxdp (CAP_SYS_ADMIN), which then loads
 * the program itself? If not, the caller may load it beforehand, beside
 * the TC programs (load.c, progs.h), and hand it over with pf_xdp_give. */
bool pf_xdp_by_libxdp(void);

/* After pf_xdp_prepare: obj (NULL: nothing), an object whose loaded
 * pf_xdp_ingress shares skel's maps (pf_progs_take), is x's to attach and
 * close; pf_xdp_load and pf_xdp_attach then load none. */
void pf_xdp_give(struct pf_xdp *x, struct bpf_object *obj);

/* Between pf_xdp_prepare and pf_xdp_attach: a dead instance's program is
 * on the hook, to be replaced (it decides what is answered until then). */
bool pf_xdp_replacing(const struct pf_xdp *x);

/* After pf_xdp_attach: our program is on the hook (attached, or it
 * replaced the adopted one and what came after failed). */
bool pf_xdp_attached(const struct pf_xdp *x);

/* Detach and free what pf_xdp_attach set up (no-op if nothing); ours
 * only: attached alone, it is removed only while it is the one attached.
 * The pin goes with the others (pf_unpin_maps). */
void pf_xdp_detach(struct pf_xdp *x);

/* The attached program's pin in the instance's pin directory. */
#define PF_XDP_PIN "xdp"

/* The id of the program on ifindex's XDP hook (*id 0: none; a
 * dispatcher's if libxdp's), by bpf_xdp_query: no privilege needed.
 * 0 or -errno. */
int pf_xdp_hook_id(int ifindex, __u32 *id);

/* Is a pf_xdp_ingress program (a dead instance's) attached to ifindex:
 * the one pinned in dir, or (by id, with CAP_SYS_ADMIN) one alone or in a
 * libxdp dispatcher? With detach, remove it (and libxdp's lock directory
 * when empty). Returns 1 if found, 0 if not, -errno on error. */
int pf_xdp_find_stale(int ifindex, const char *dir, bool detach);

#endif /* PF_XDP_H */
