/* User: freeing flow-table entries of connections that have ended (the GC), and its thread. */
/*
 * gc.h -- an entry goes only when the kernel confirms that its connection
 * has no socket left that can exchange data (nor, for a spliced one with
 * recent traffic, a TIME_WAIT socket: it answers a retransmitted FIN, in
 * socket seq space),
 * so a live splice is never evicted. One pass: one sock_diag dump of the
 * live and TIME_WAIT TCP sockets on the translated ports (sockdiag.h),
 * then the whole flow table read in batches and matched against it. A
 * dump can skip a live socket (the kernel resumes a dump inside a hash
 * chain by position, and a socket removed ahead of that position since
 * moves the next one behind it), so an entry is dead only when two
 * consecutive passes of one pf_gc_del missed its socket and the entry did
 * not change in between, or three did whatever changed (segments sent to
 * a connection that has ended -- anyone's, spoofed or not -- refresh its
 * entry's last_ns; counting only unchanged misses, one packet a second
 * per entry kept every entry of ended connections, and a full table
 * passes every new connection to the app); the dead entries are deleted in batches, each
 * only if still as read (pf_gc_delete). The daemon
 * runs passes in a thread of their own (pf_gc_start),
 * so the heartbeat, signals, drain and the slow path never wait on one.
 */
#ifndef PF_GC_H
#define PF_GC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "../include/pf_structs.h"

/* What one pass found. */
struct pf_gc_result {
	__u64 entries;     /* entries left in the table */
	__u64 live;        /* ... of which carry a splice (splices > 0) */
	__u64 checked;     /* entries whose socket was looked for */
	__u64 freed;       /* entries deleted: no live socket, in this pass
			    * and in the previous one */
	__u64 missed;      /* entries kept whose socket this pass missed:
			    * freed by the next pass if it misses it too
			    * (unchanged), or by the third in a row */
	__u64 replaced;    /* read as dead, kept: the entry changed before the
			    * delete (a new connection on the tuple, or a
			    * packet since; see bpf/pf_gc.bpf.c) */
	__u64 sockets;     /* live sockets the dump listed */
};

/* The conditional delete: a BPF_PROG_TYPE_SYSCALL program
 * (bpf/pf_gc.bpf.c) on the flow map fd, loaded at the first delete and
 * kept across passes (its load costs ~10 ms), or, where it cannot load,
 * deletes from userspace that re-read each entry just before (a window
 * of one syscall boundary); and the previous pass's misses, which a pass
 * through it confirms. Start with { .fd = the flow map fd } (all else
 * zero); pf_gc_del_close unloads it and frees the misses. */
struct pf_gc_bpf;
struct pf_gc_del {
	struct pf_gc_bpf *skel;   /* the loaded program, or NULL */
	int fd;                   /* the flow map */
	bool user;                /* deleting from userspace for good */
	struct pf_gc_miss *missed; /* the last pass's misses, sorted by kg */
	size_t n_missed;
};

/* One entry a pass kept though its socket was missed: kg, a hash of its
 * key and gen (not the key and gen themselves: two misses whose hashes
 * collide share one record, and one of them may go a pass early); last_ns
 * as it was read (unchanged at the next miss: gone); run, the passes in a
 * row that missed it (1 to GC_MISS_MAX - 1). */
struct pf_gc_miss {
	__u64 kg;
	__u64 last_ns;
	__u64 run;
};

/* Load d's program now (kernel 6.10 or later: syscall programs with
 * bpf_preempt_disable). Returns 0, or -errno with d set to delete from
 * userspace from now on (warned once per process). */
int pf_gc_del_open(struct pf_gc_del *d);

/* Unload d's program, if loaded (d->user is left as it is), and forget
 * its misses. */
void pf_gc_del_close(struct pf_gc_del *d);

/* Delete each of the n candidates only if its entry's gen and last_ns
 * are still those the pass read (c[i]), loading d first if need be.
 * *changed is increased by how many were kept because their entry
 * changed. Returns how many were deleted. */
__u64 pf_gc_delete(struct pf_gc_del *d, const struct pf_gc_cand *c, __u32 n, __u64 *changed);

/* One pass over the flow map del->fd (see above), deleting through del.
 * ports: local ports to dump (1024-word bitmap, NULL:
 * all). now_ns: CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns. Entries
 * idle for less than min_idle_ns and not finished (FIN/RST seen), or
 * active since the dump began, are kept unchecked; one whose socket the
 * dump lacks is deleted only if del's previous pass missed it too with
 * the same gen and last_ns, or its two previous passes missed it with the
 * same gen, else remembered in del. stop (may be NULL):
 * checked between batches, a pass ends early when it becomes non-zero.
 * Returns 0 (*res filled) or -errno (message printed; nothing deleted
 * when the dump failed). */
int pf_gc_pass(struct pf_gc_del *del, const __u64 *ports, __u64 now_ns, __u64 min_idle_ns,
	       const volatile int *stop, struct pf_gc_result *res);

/* pf_gc_pass over every port without a stop: returns the number of live
 * spliced connections left (only those need draining; those missed once
 * count until the next call confirms them), or -errno;
 * *freed gets the entries deleted. */
int pf_gc_flows(struct pf_gc_del *del, __u64 now_ns, __u64 min_idle_ns, unsigned *freed);

/* Reset every connection left in the flow map (fd) that carries a
 * splice (splices > 0) through SOCK_DESTROY, one log line each, and
 * delete those entries; returns how many were reset. Identity-tracked
 * entries are left alone: the app's stack serves them. */
int pf_gc_reset_all(int fd);

/* What the GC thread publishes (pf_gc_get). */
struct pf_gc_stats {
	struct pf_gc_result last;     /* of the last complete pass */
	__u64 passes;                 /* complete passes */
	__u64 pass_ns;                /* the last one's duration */
	__u64 replaced;               /* pf_gc_result.replaced, all passes */
};

/* The daemon's GC thread. */
struct pf_gc {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int flows_fd;
	const __u64 *ports;           /* pf_config xlate_bits (only grows) */
	struct pf_config *cfg;        /* flows_freed is counted here, gc_entries
				       * and gc_passes published */
	volatile int stop;
	bool inited;                  /* mu and cond initialized (pf_gc_free) */
	bool started;
	bool draining;
	unsigned drain_req;           /* pf_gc_drain calls */
	unsigned drain_done;          /* drain_req when the last pass began */
	struct pf_gc_stats pub;       /* under mu */
};

/* Start the thread (named pf-gc): a pass every second, entries idle for
 * 30 s checked. Start it with the daemon's signals already blocked.
 * Returns 0 or -errno (message printed). */
int pf_gc_start(struct pf_gc *g, int flows_fd, const __u64 *ports, struct pf_config *cfg);

/* From now on check every entry, a pass every 200 ms, and start one now. */
void pf_gc_drain(struct pf_gc *g);

/* Has a pass that began after pf_gc_drain completed? Then *live gets its
 * live spliced connections. Never waits for a pass. */
bool pf_gc_drained(struct pf_gc *g, __u64 *live);

/* What the passes so far found (zeroes before the first). */
void pf_gc_get(struct pf_gc *g, struct pf_gc_stats *st);

/* Stop the thread (a pass in progress ends at its next batch) and join
 * it. What it found stays readable (pf_gc_get, the /metrics thread's)
 * until pf_gc_free. Safe on a zeroed g, and again. */
void pf_gc_stop(struct pf_gc *g);

/* pf_gc_stop, then free what pf_gc_start set up (after every reader of
 * pf_gc_get has stopped). Safe on a zeroed g. */
void pf_gc_free(struct pf_gc *g);

#endif /* PF_GC_H */
