/* User: the per-interface lock and bpffs pins (/sys/fs/bpf/preflightd/IFACE/): pin.c, pinstage.c. */
#ifndef PF_PIN_H
#define PF_PIN_H

#include <stdbool.h>
#include "layout.h"

#define PF_PIN_ROOT  "/sys/fs/bpf/preflightd"
#define PF_LOCK_ROOT "/run/preflightd"

struct preflightd_bpf;

/* What a dead instance (kill -9, a crash, a restart handover) left pinned
 * for this interface, as pf_pin_inspect classifies it. */
enum pf_left {
	PF_LEFT_NONE = 0,   /* nothing */
	PF_LEFT_ADOPT,      /* this build's flow layout: adopt it */
	PF_LEFT_HANDOVER,   /* another layout with this build's flow key: drain
			     * its programs (pf_detach_dead), then start clean */
	PF_LEFT_STALE,      /* an interface that is gone (deleted and created
			     * again under this name): its programs and
			     * connections went with it */
};

struct pf_pin {
	char dir[256];      /* PF_PIN_ROOT/IFACE */
	char lock[256];     /* PF_LOCK_ROOT/IFACE.lock */
	char clsact[256];   /* PF_LOCK_ROOT/IFACE.clsact: we created clsact */
	int lock_fd;        /* held while running; -1/0 when not */
	bool locked;
	bool pinned;
	bool staged;        /* pf_pin_maps staged ours (adopted): not committed */
	bool adopted;       /* reusing a dead instance's flow table */
	bool handover;      /* a dead instance's state of another layout */
	int ifindex;        /* the interface served */
	enum pf_left left;  /* what was pinned (pf_pin_inspect) */
	struct pf_layout self;   /* this build's layout (recorded in "meta") */
	struct pf_layout old;    /* the pinned state's (left != NONE) */
};

/* A lock file that its holder removes on exit. pf_lock_file opens (creates)
 * and flocks path; returns the held fd, -EBUSY if another process holds
 * it, or -errno. pf_lock_fd is its second half for an fd already open on
 * path: 0 once locked, -EBUSY, or -ESTALE when path no longer names the
 * file fd is open on (its holder released it in between: open again), so
 * two processes never both hold it. pf_lock_release unlinks path, then
 * closes fd. */
int pf_lock_file(const char *path);
int pf_lock_fd(const char *path, int fd);
void pf_lock_release(const char *path, int fd);

/* `preflightd trace`'s lock: one trace per interface at a time, an flock
 * on the instance's pin directory dir (the kernel releases it however
 * the trace ends). pf_trace_lock takes it (exclusive): the held fd,
 * -EBUSY while another trace holds it (retried for 200 ms first: the
 * daemon's check holds it shared for a moment), or -errno; no message.
 * pf_trace_orphan_off is that check (the daemon, once a second): when no
 * trace holds the lock but the control map ctl_fd (pf_trace_ctl) says
 * tracing is on, a trace died without switching it off (SIGKILL), and it
 * is switched off. Returns 1 if it was, else 0. */
int pf_trace_lock(const char *dir);
int pf_trace_orphan_off(const char *dir, int ctl_fd);

/* Take the per-interface lock; -EBUSY if another preflightd serves
 * iface. Unless quiet, a failure's message is printed. */
int pf_pin_lock(struct pf_pin *p, const char *iface, bool quiet);
void pf_pin_unlock(struct pf_pin *p);

/* Classify p->dir's state for ifindex against self (this build's layout):
 * sets p->left, p->old, p->self, p->ifindex. Whose it is: the meta record's
 * ifindex, or (state from before the record) our TC programs on ifindex.
 * First, pins an adopting run staged and was killed before it committed
 * (pf_pin_commit) are settled: committed if its programs replaced the dead
 * instance's on ifindex (pf_pin_settle), else removed.
 * Returns 0 or -errno (message printed): -EEXIST if it belongs to another
 * interface that still exists, -EPROTO if even its keys are unreadable,
 * pf_pin_settle's error. */
int pf_pin_inspect(struct pf_pin *p, const struct pf_layout *self, int ifindex);

/* Call between open and load: pf_pin_inspect with the skeleton's layout,
 * then: adopt (make skel reuse the pinned flow table, and the counters if
 * they count the same things, so spliced connections keep their
 * corrections; p->adopted; the dead instance's TC programs are then
 * replaced in place), hand over (p->handover: the caller drains the old
 * state with pf_detach_dead), or start clean (p->left == PF_LEFT_STALE:
 * the caller removes what is left with pf_detach_dead, ifindex 0). Says
 * which. Returns 0 or -errno (message printed). */
int pf_pin_adopt(struct pf_pin *p, struct preflightd_bpf *skel, int ifindex);

/* (detach.c) Remove what a dead instance left. State it can read
 * (pf_pin_inspect: ADOPT or HANDOVER, by its own layout record) is drained
 * first: its draining flag set, so that its programs answer nothing new and
 * keep translating, until its spliced connections have closed (at most
 * timeout_s, then they are reset). Then its programs on ifindex (named
 * iface; 0: none) and every pin in p->dir go. Returns the number of
 * programs removed. */
int pf_detach_dead(struct pf_pin *p, const char *iface, int ifindex, unsigned timeout_s);

/* Remember whether preflightd created the clsact qdisc (survives a
 * crash), and read it back. */
void pf_pin_mark_clsact(const struct pf_pin *p, bool created);
bool pf_pin_clsact_created(const struct pf_pin *p);

/* Remove every pin in p->dir (and the directory) if p->pinned; the
 * PF_PIN_ROOT directory stays. */
void pf_unpin_maps(struct pf_pin *p);

/* Pin the meta record (p->self, p->ifindex: set by pf_pin_adopt) and the
 * stats, flows, config and trace maps (`preflightd stats`, `trace` and
 * `detach` read them, a restarted instance adopts them). With p->adopted
 * they are only staged (p->staged), next to the dead instance's pins,
 * which name the maps its still attached programs use, and with them our
 * TC ingress program and, in XDP mode, our XDP program xdp_fd (>= 0: what
 * pf_pin_settle tells a killed run's staged pins by): pf_pin_commit puts
 * them in place once ours have replaced them. 0 or -errno (message
 * printed); on failure what it pinned is removed (and without p->adopted
 * every pin: nothing of a dead instance's is left to keep). */
int pf_pin_maps(struct pf_pin *p, struct preflightd_bpf *skel, int xdp_fd);

/* The staged pins (p->staged) renamed over the dead instance's: the record
 * first, then config (where `detach` sets draining), the trace maps, stats
 * and flows, then in XDP mode our XDP program's pin over "xdp"; each
 * rename is atomic (bpffs), so a reader finds the old pin or the new one,
 * never none; the staged TC ingress program's pin is removed last. No-op
 * unless staged. 0 or -errno (a message per failed rename; every rename
 * is tried, a map's pin not renamed is kept staged, and so is the staged
 * TC ingress program's pin; the XDP program's, or a staged pin gone, is
 * not). A kill between our program replacing the dead one and the last
 * rename, or a map's rename that failed, leaves pins of both instances'
 * maps: the next pf_pin_inspect (`run`, `detach`) completes the commit
 * (pf_pin_settle). */
int pf_pin_commit(struct pf_pin *p);

/* Remove the staged pins, if any (the dead instance's stay in place). */
void pf_pin_unstage(struct pf_pin *p);

/* (pf_pin_inspect's first step) What an adopting run killed before it
 * committed left in p->dir (any staged pin): committed if its programs
 * replaced the dead instance's on ifindex -- its TC ingress program,
 * pinned while staged, is on the ingress hook and, in XDP mode, its XDP
 * program (staged too) on the XDP hook --, else removed: the pins are the
 * answering programs' maps again, where `detach` sets draining and
 * `stats` and `trace` read. Said either way. Program ids from the hooks
 * and from pinned programs: no CAP_SYS_ADMIN needed. Call with the
 * interface's lock held. 0, or -errno (message printed) if the hooks
 * cannot be read (the pins are left as they are) or a map's staged pin
 * cannot be renamed into place (kept staged, with the stager, for the
 * next try): the caller must not act on the pins. */
int pf_pin_settle(const struct pf_pin *p, int ifindex);

/* Are there staged pins in dir (any NAME_next or the stager): a run
 * taking over right now, or one stopped before it committed, which
 * pf_pin_settle has not settled yet? */
bool pf_pin_staged(const char *dir);

/* For the tools that only read the pins (`stats`, `trace`): warn if dir
 * holds staged pins (pf_pin_staged) -- what they read may then be another
 * instance's maps than the answering programs'. Settling takes the
 * interface's lock, which a live instance holds: they do not settle. */
void pf_pin_warn_staged(const char *dir);

/* Pin the BPF object fd (a program, a link) as name in dir, replacing
 * what a dead instance pinned there. 0 or -errno (message printed). */
int pf_pin_fd(const char *dir, const char *name, int fd);

/* The id of BPF program fd; 0 if it cannot be read. */
__u32 pf_prog_id(int fd);

/* The object pinned as name in dir: a new fd, or -errno (-ENOENT: none). */
int pf_pin_get(const char *dir, const char *name);

/* Path of pinned map name for iface (NULL iface: the only one running). */
int pf_pin_path(char *buf, size_t n, const char *iface, const char *name);

#endif /* PF_PIN_H */
