/* User: cmd_run.c (the slow path's ring) and the BPF tier -- a ring buffer consumed in bounded turns. */
/*
 * ringturn.h -- libbpf's ring_buffer__poll consumes records for as long
 * as producers add them. The daemon's loop does more than that (its
 * heartbeat, signals, reloads): a flood of punts from many client
 * addresses, each under the datapath's per-address limit, held it in one
 * poll until the heartbeat went stale and the datapath stopped punting
 * (a review finding, stop 51). Here a turn consumes at most max records;
 * the rest stay in the ring for the next turn, whose poll returns at once
 * (the ring's epoll is level-triggered). Usage:
 *
 *	struct pf_ringturn t;
 *
 *	rb = pf_ringturn_new(&t, map_fd, fn, ctx, max);
 *	for (;;)
 *		n = pf_ringturn_poll(rb, &t, timeout_ms);
 */
#ifndef PF_RINGTURN_H
#define PF_RINGTURN_H

#include <bpf/libbpf.h>

struct pf_ringturn {
	ring_buffer_sample_fn fn;   /* each record's consumer */
	void *ctx;                  /* its context */
	unsigned n;                 /* records consumed in this turn */
	unsigned max;               /* at most this many a turn (>= 1) */
};

/* A ring buffer on the BPF ring buffer map_fd whose records go to
 * fn(ctx, ...), at most max (>= 1) in each pf_ringturn_poll; t must
 * outlive it. NULL with errno set when ring_buffer__new fails. Other
 * rings added to it (ring_buffer__add) are consumed without a bound. */
struct ring_buffer *pf_ringturn_new(struct pf_ringturn *t, int map_fd,
				    ring_buffer_sample_fn fn, void *ctx, unsigned max);

/* One turn: wait at most timeout_ms for records in rb (made by
 * pf_ringturn_new with t) and consume at most t->max of its own ring's.
 * Returns how many records it consumed (t->max when the turn ended
 * there), or a negative errno: ring_buffer__poll's (-EINTR: a signal) or
 * the first one fn returned. */
int pf_ringturn_poll(struct ring_buffer *rb, struct pf_ringturn *t, int timeout_ms);

#endif /* PF_RINGTURN_H */
