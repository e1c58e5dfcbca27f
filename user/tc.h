/* User: attaching preflightd's TC programs (tcx links or clsact filters) without disturbing other TC users. */
#ifndef PF_TC_H
#define PF_TC_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>
#include <linux/bpf.h>

#define PF_TC_HANDLE     0x7066      /* "pf" */
#define PF_TC_PRIO_IN    1           /* head of ingress: see requests first */
#define PF_TC_PRIO_OUT   0xfff0      /* tail of egress: see final segments */

/* tcx (kernel 6.6) as the 6.1 uapi headers of Debian bookworm lack it:
 * enum bpf_attach_type, enum bpf_link_type, the mprog attach flags. */
#define PF_BPF_TCX_INGRESS    46
#define PF_BPF_TCX_EGRESS     47
#define PF_BPF_LINK_TYPE_TCX  11
#define PF_BPF_F_BEFORE       (1U << 3)
#define PF_BPF_F_AFTER        (1U << 4)

/* Link pins (in the instance's pin directory) of the tcx mechanism. */
#define PF_TCX_PIN_IN   "tcx_ingress"
#define PF_TCX_PIN_OUT  "tcx_egress"

/* --tc-attach: how the TC programs are attached. */
enum pf_tc_how {
	PF_TC_AUTO = 0,   /* tcx where the kernel has it, else clsact */
	PF_TC_TCX,
	PF_TC_CLSACT,
};

/* What runs on one TC hook, in the order the kernel runs it. */
struct pf_tc_prog {
	bool tcx;          /* a tcx link's program, else a clsact filter */
	__u32 id;          /* BPF program id; 0: not a BPF filter */
	__u32 prio;        /* clsact: priority */
	__u32 handle;      /* clsact: filter handle */
	char name[32];     /* program name ("?" if unreadable), or the
			    * filter's kind ("u32") */
};

/* The chain watch (pf_tc_watch): one per direction. */
struct pf_tc_dir_watch {
	long long pkts;      /* probe_count when the probe was armed, -1: none */
	bool armed;
	bool blind;          /* reported: our program sees none of the traffic */
	bool suspect;        /* blind at the last watch: said if again at the next */
	bool proven;         /* our program got traffic since the programs
			      * ahead of it last changed (or none are) */
	char ahead[512];     /* last reported programs ahead of ours */
	bool looked;         /* ahead is known */
};

struct pf_tc {
	int ifindex;
	char ifname[IF_NAMESIZE];
	char dir[256];       /* pin directory of the tcx links */
	enum pf_tc_how how;  /* PF_TC_TCX or PF_TC_CLSACT once attached */
	bool hook_created;   /* clsact: we created the qdisc */
	bool in_attached;
	bool out_attached;
	bool in_adopted;     /* a dead instance's link or filter given our */
	bool out_adopted;    /* ... program in place (set once it is; stays
			      * set when a later step fails) */
	int in_link;         /* tcx: link fds, -1 when none */
	int out_link;
	__u32 in_id;         /* our programs' ids */
	__u32 out_id;
	bool paused;         /* pf_tc_watch stopped answering: egress is blind */
	int xdp_stats_fd;    /* XDP mode: the pf_stats map, set by the caller
			      * after pf_tc_attach (its xdp_to_tc: the ingress
			      * probe's count); -1 in TC mode */
	struct pf_tc_dir_watch w[2];   /* [0] ingress, [1] egress */
};

/* Parse "auto", "tcx" or "clsact". 0 or -EINVAL. */
int pf_tc_how_parse(const char *s, enum pf_tc_how *how);
const char *pf_tc_how_name(enum pf_tc_how how);

/* How a previous instance left its programs on ifindex: PF_TC_TCX (tcx
 * links pinned in dir), PF_TC_CLSACT (filters with our handle), or
 * PF_TC_AUTO (neither). */
enum pf_tc_how pf_tc_left(int ifindex, const char *dir);

/* Attach in_fd at the head of ingress and out_fd at the tail of egress of
 * ifindex (named ifname), through how (PF_TC_AUTO: tcx if the kernel has
 * it, else clsact); tcx links are pinned in dir. adopt: replace in place,
 * atomically, what a dead instance left (its mechanism is kept: `auto`
 * follows it; asking for the other one is refused). Reports the programs
 * that run ahead of ours. Returns 0 or a negative errno (message printed);
 * on failure nothing it created is left attached, and what it replaced
 * in place stays (with our program: detaching it would leave the dead
 * instance's connections untranslated; tc->in_adopted then says our
 * ingress program is attached). */
int pf_tc_attach(struct pf_tc *tc, int ifindex, const char *ifname, const char *dir,
		 enum pf_tc_how how, int in_fd, int out_fd, bool adopt);

/* Detach what pf_tc_attach attached (unpinning the links); remove clsact
 * only if we created it and no other filter remains on it. */
void pf_tc_detach(struct pf_tc *tc);

/* Detach what a dead instance left on ifindex (for 'preflightd detach'):
 * the tcx links pinned in dir, filters with preflightd's handle. Returns
 * the number removed. */
int pf_tc_detach_stale(int ifindex, const char *dir);

/* The programs on the ingress or egress hook of ifindex in the order they
 * run: the tcx chain first, then the clsact filters by priority (the
 * order of a dump is the order of classification). Fills at most max
 * entries; returns the number of entries (which may exceed max) or
 * -errno. */
int pf_tc_chain(int ifindex, bool ingress, struct pf_tc_prog *out, int max);
#define PF_TC_CHAIN_MAX 64   /* programs looked at per hook */

/* Right after pf_tc_attach, then once a second while serving: report when
 * the programs that run ahead of ours change, and whether ours runs at
 * all. cfg_seen[0..1] are the datapath's ingress/egress probe words
 * (struct pf_config tc_seen): cleared here, set by our program's next
 * packet. When programs run ahead of ours and the interface received
 * (sent) PF_TC_BLIND_PKTS packets that ours never saw, at two watches in
 * a row, one of them ends the chain: said once, as an ERROR. In XDP mode
 * (tc->xdp_stats_fd) the ingress count is that of the frames XDP left to
 * TC ingress (PF_TC_BLIND_XDP), and egress is not counted: XDP_TX'd
 * frames are counted by the interface but never pass TC. An egress program that misses the server's packets cannot translate spliced
 * connections, so while programs run ahead of ours at egress and ours has
 * not been seen to get traffic since they last changed (or it was found
 * blind), *draining is set (answer nothing new; tc->paused), and cleared
 * once it has; in XDP mode the same for ingress, where XDP leaves frames
 * untranslated for TC. draining NULL: no such gate (shadow mode, which
 * answers nothing: the gate would clear the flag it answers nothing by). */
#define PF_TC_BLIND_PKTS 64
/* XDP mode's ingress count: frames XDP left to TC ingress. Every frame it
 * passes on a kernel without XDP metadata; with metadata only its
 * hand-offs (clones, retransmissions, socket guards), which are rare --
 * but any frame at all that reaches our TC program sets the word, so a
 * few unseen hand-offs over two watches are no accident. */
#define PF_TC_BLIND_XDP 8
void pf_tc_watch(struct pf_tc *tc, __u32 cfg_seen[2], __u32 *draining);

#endif /* PF_TC_H */
