/* ringturn.c -- a ring buffer consumed in bounded turns: a record
 * callback that ends the poll once the turn's count is reached. */
#include <errno.h>
#include "ringturn.h"

/* A callback's way to end ring_buffer__poll early: libbpf returns a
 * callback's negative value at once, the record consumed. An errno that
 * epoll_wait does not return. */
#define TURN_FULL (-ECANCELED)

/* ring_buffer callback (ctx: struct pf_ringturn): the record to t->fn,
 * then TURN_FULL if it was the turn's last. */
static int turn_rec(void *ctx, void *data, size_t size)
{
	struct pf_ringturn *t = ctx;
	int err;

	err = t->fn(t->ctx, data, size);
	if (err < 0)
		return err == TURN_FULL ? -EIO : err;
	return ++t->n >= t->max ? TURN_FULL : 0;
}

/* See ringturn.h. */
struct ring_buffer *pf_ringturn_new(struct pf_ringturn *t, int map_fd,
				    ring_buffer_sample_fn fn, void *ctx, unsigned max)
{
	t->fn = fn;
	t->ctx = ctx;
	t->n = 0;
	t->max = max ? max : 1;
	return ring_buffer__new(map_fd, turn_rec, t, NULL);
}

/* See ringturn.h. */
int pf_ringturn_poll(struct ring_buffer *rb, struct pf_ringturn *t, int timeout_ms)
{
	int n;

	t->n = 0;
	n = ring_buffer__poll(rb, timeout_ms);
	return n == TURN_FULL ? (int)t->n : n;
}
