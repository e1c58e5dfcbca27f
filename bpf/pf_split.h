/* BPF only (TC and XDP ingress): a request head split over segments, held in a socket's storage until whole -- the value and its lock protocol, used by the framing follow (pf_follow.h) and the offload's recorder (pf_ofl_tc.h). */
/*
 * pf_split.h -- each user keeps the held heads in its own SK_STORAGE map
 * of struct pf_split (the follower: client wire seq, the flow's gen; the
 * recorder: the socket's seq). The design, and why socket storage:
 * docs/tcp-splice.md, "Request heads split over segments".
 *
 * The lock orders the bytes before the fields that make them valid (a
 * release and an acquire: on a weakly ordered CPU a reader could
 * otherwise see n before the bytes); the bytes are written and read
 * outside it (helper calls). They cannot change under a reader but to
 * themselves: a value holds one head (b[i] the byte at start + i), its
 * writers are copies of that head's segments, and another head is held
 * in a fresh value (pf_split_fresh), so a writer stalled on another CPU
 * with an older head's value writes where no reader looks.
 */
#ifndef PF_SPLIT_H
#define PF_SPLIT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_common.h"
#include "pf_pkt.h"
#include "pf_sock.h"
#include "pf_structs.h" /* struct pf_split */

/* Does sp hold at least n bytes of the head from start? */
static __always_inline bool pf_split_holds(struct pf_split *sp, __u32 start, __u32 n)
{
	bool have;

	bpf_spin_lock(&sp->lock);
	have = sp->n && sp->n >= n && sp->start == start;
	bpf_spin_unlock(&sp->lock);
	return have;
}

/* The storage in map (an SK_STORAGE map of struct pf_split) of socket sk
 * for the head from start of n bytes about to be held: the one holding
 * it already (the same start, n bytes or more: *have set), the one
 * holding fewer of its bytes (rewritten in place: each byte at its
 * place), else a fresh one -- the socket's previous one deleted, so a
 * program still writing into that (a copy of an older head's segment on
 * a stalled CPU) writes into memory freed after RCU, never into this
 * head's bytes. NULL: no memory (optmem_max). Inlined: map a constant. */
static __always_inline struct pf_split *pf_split_fresh(void *map, struct bpf_sock *sk,
							__u32 start, __u32 n, bool *have)
{
	struct pf_split *sp = bpf_sk_storage_get(map, sk, 0, 0);
	__u32 held = 0, same = 0;

	*have = false;
	if (sp) {
		bpf_spin_lock(&sp->lock);
		held = sp->n;
		same = sp->start == start;
		bpf_spin_unlock(&sp->lock);
		if (held && same) {
			*have = held >= n;
			return sp;
		}
		bpf_sk_storage_delete(map, sk);
	}
	return bpf_sk_storage_get(map, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
}

/* The storage in map of socket sk for a piece ahead of the head from
 * start (gen): the one holding that head already (bytes or a piece),
 * else a fresh one (as pf_split_fresh) named by start and gen, nothing
 * held. NULL: no memory (optmem_max). Inlined: map a constant. */
static __always_inline struct pf_split *pf_split_fresh_ahead(void *map, struct bpf_sock *sk,
							      __u32 start, __u32 gen)
{
	struct pf_split *sp = bpf_sk_storage_get(map, sk, 0, 0);
	bool same = false;

	if (sp) {
		bpf_spin_lock(&sp->lock);
		same = (sp->n || sp->o_n) && sp->start == start && sp->gen == gen;
		bpf_spin_unlock(&sp->lock);
		if (same)
			return sp;
		bpf_sk_storage_delete(map, sk);
	}
	sp = bpf_sk_storage_get(map, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (sp) {
		bpf_spin_lock(&sp->lock);
		if (!sp->n && !sp->o_n) {
			sp->start = start;
			sp->gen = gen;
		}
		bpf_spin_unlock(&sp->lock);
	}
	return sp;
}

/* The head from start (gen), whose first bytes were just loaded into
 * sp->b up to the piece ahead (pf_split_waits said 1): held whole now,
 * to the piece's end. Returns the bytes held, or 0 (another copy moved
 * it). */
static __always_inline __u32 pf_split_join_ahead(struct pf_split *sp, __u32 start, __u32 gen)
{
	__u32 all = 0;

	bpf_spin_lock(&sp->lock);
	if (!sp->n && sp->o_n && sp->start == start && sp->gen == gen) {
		all = sp->o_off + sp->o_n;
		sp->n = all;
		sp->o_n = 0;
	}
	bpf_spin_unlock(&sp->lock);
	return all <= PF_REQ_MAX ? all : 0;
}

/* What a piece ahead is kept against (pf_split_ahead_fits). */
struct pf_split_run {
	__u32 n, o_off, o_n;
};

/* May take bytes at offset off of the head from start (gen) be kept in
 * sp as its piece ahead: past the bytes held, and none kept yet, or
 * right behind the piece kept, or right in front of it (segments come
 * last to first: a lost one's copy, then the copy of the one before it,
 * lost again)? 1 with the state read in *r, else 0. */
static __always_inline int pf_split_ahead_fits(struct pf_split *sp, __u32 start, __u32 gen,
					       __u32 off, __u32 take, struct pf_split_run *r)
{
	int fits;

	bpf_spin_lock(&sp->lock);
	r->n = sp->n;
	r->o_off = sp->o_off;
	r->o_n = sp->o_n;
	fits = sp->start == start && sp->gen == gen && off > r->n &&
	       (!r->o_n || off == r->o_off + r->o_n || off + take == r->o_off);
	bpf_spin_unlock(&sp->lock);
	return fits;
}

/* The take bytes loaded at b + off (pf_split_ahead_fits said so, the
 * state read in *r) kept as the piece, or added to its end or its start,
 * unless the state moved meanwhile (another copy): 1 if kept, else 0. */
static __always_inline int pf_split_ahead_put(struct pf_split *sp, __u32 start,
					      const struct pf_split_run *r, __u32 off, __u32 take)
{
	int kept;

	bpf_spin_lock(&sp->lock);
	kept = sp->start == start && sp->n == r->n && sp->o_off == r->o_off && sp->o_n == r->o_n;
	if (kept) {
		sp->o_off = r->o_n && off + take != r->o_off ? r->o_off : off;
		sp->o_n = r->o_n + take;
	}
	bpf_spin_unlock(&sp->lock);
	return kept;
}

/* The value in map of p's server socket, to read (NULL: none, or no full
 * socket). Inlined: map a constant. */
static __always_inline struct pf_split *pf_split_of(void *map, void *ctx, const struct pf_pkt *p)
{
	struct pf_split *sp;
	struct bpf_sock *sk;

	sk = pf_sk_lookup(ctx, p);
	if (!sk)
		return NULL;
	sp = bpf_sk_storage_get(map, sk, 0, 0);
	bpf_sk_release(sk);
	return sp;
}

/* The value in map of p's server socket for the head from start of n
 * bytes (pf_split_fresh), or NULL: no full socket, no memory. */
static __always_inline struct pf_split *pf_split_for(void *map, void *ctx, const struct pf_pkt *p,
						      __u32 start, __u32 n, bool *have)
{
	struct pf_split *sp;
	struct bpf_sock *sk;

	*have = false;
	sk = pf_sk_lookup(ctx, p);
	if (!sk)
		return NULL;
	sp = pf_split_fresh(map, sk, start, n, have);
	bpf_sk_release(sk);
	return sp;
}

/* The value in map of p's server socket for a piece ahead of the head
 * from start (gen; pf_split_fresh_ahead), or NULL. */
static __always_inline struct pf_split *pf_split_for_ahead(void *map, void *ctx,
							    const struct pf_pkt *p, __u32 start,
							    __u32 gen)
{
	struct pf_split *sp;
	struct bpf_sock *sk;

	sk = pf_sk_lookup(ctx, p);
	if (!sk)
		return NULL;
	sp = pf_split_fresh_ahead(map, sk, start, gen);
	bpf_sk_release(sk);
	return sp;
}

/* Not valid any more: its bytes are about to be rewritten. */
static __always_inline void pf_split_clear(struct pf_split *sp)
{
	bpf_spin_lock(&sp->lock);
	sp->n = 0;
	bpf_spin_unlock(&sp->lock);
}

/* Valid: the n bytes written to b are the head from start (gen). */
static __always_inline void pf_split_set(struct pf_split *sp, __u32 start, __u32 gen, __u32 n)
{
	bpf_spin_lock(&sp->lock);
	sp->start = start;
	sp->gen = gen;
	sp->n = n;
	bpf_spin_unlock(&sp->lock);
}

/* The head from start, read with n bytes held: now holding left bytes (0:
 * let go; a piece ahead they reach is theirs now), unless another copy
 * already moved it. */
static __always_inline void pf_split_put_n(struct pf_split *sp, __u32 start, __u32 n, __u32 left)
{
	bpf_spin_lock(&sp->lock);
	if (sp->n == n && sp->start == start) {
		sp->n = left;
		if (left >= sp->o_off)
			sp->o_n = 0;
	}
	bpf_spin_unlock(&sp->lock);
}

/* The bytes held of the head from start (gen) that seq continues
 * exactly, and the piece ahead, if any: 1 with *n, *o_off and *o_n set
 * (*n may be 0 where a piece waits: seq is then the head's first
 * segment, come after it), else 0. */
static __always_inline int pf_split_get_run(struct pf_split *sp, __u32 start, __u32 gen, __u32 seq,
					    __u32 *n, __u32 *o_off, __u32 *o_n)
{
	int held;

	bpf_spin_lock(&sp->lock);
	*n = sp->n;
	*o_off = sp->o_off;
	*o_n = sp->o_n;
	held = (*n || *o_n) && sp->start == start && sp->gen == gen && start + *n == seq;
	bpf_spin_unlock(&sp->lock);
	return held && *n < PF_REQ_MAX && *o_off <= PF_REQ_MAX && *o_n <= PF_REQ_MAX - *o_off;
}

/* Does sp hold, for the head from start (gen), only a piece ahead
 * (nothing from start yet)? 1 if it begins right behind the first n
 * bytes (the first segment, n bytes, is what it waits for), 2 if further
 * on (more segments are missing between), else 0. */
static __always_inline int pf_split_waits(struct pf_split *sp, __u32 start, __u32 gen, __u32 n)
{
	int w = 0;

	bpf_spin_lock(&sp->lock);
	if (!sp->n && sp->o_n && sp->start == start && sp->gen == gen)
		w = sp->o_off == n ? 1 : sp->o_off > n ? 2 : 0;
	bpf_spin_unlock(&sp->lock);
	return w;
}

/* Let go of the head from start (gen) held in sp, read with n bytes
 * held (0: any): 1 if this call let it go (n now 0), 0 if it was not
 * held there (another head, or another copy let go first). */
static __always_inline int pf_split_let_go(struct pf_split *sp, __u32 start, __u32 gen, __u32 n)
{
	int held;

	bpf_spin_lock(&sp->lock);
	held = (sp->n || sp->o_n) && sp->start == start && sp->gen == gen && (!n || sp->n == n);
	if (held)
		sp->n = sp->o_n = 0;
	bpf_spin_unlock(&sp->lock);
	return held;
}

/* Done with the head from start (gen; n as pf_split_let_go) held in map
 * for p's server socket, joined or lost: the value let go and deleted,
 * so that a socket's storage holds a head's 8 KiB only while the head is
 * held, not until the socket closes (optmem_max, and the memory of
 * every connection that ever sent a split head). Only the call that let
 * it go deletes, right after: a newer head is held (in a fresh value,
 * pf_split_fresh) only once the flow moved past this one and the client
 * sent its next request after the answer -- a round trip, which this
 * call would have to stall for between its let-go and its delete to
 * delete the newer head's value (that head then waits for nothing: its
 * connection's preflights go to the app, pass_not_boundary). Inlined:
 * map a constant. */
static __always_inline void pf_split_drop(void *map, void *ctx, const struct pf_pkt *p, __u32 start,
					  __u32 gen, __u32 n)
{
	struct pf_split *sp;
	struct bpf_sock *sk;

	sk = pf_sk_lookup(ctx, p);
	if (!sk)
		return;
	sp = bpf_sk_storage_get(map, sk, 0, 0);
	if (sp && pf_split_let_go(sp, start, gen, n))
		bpf_sk_storage_delete(map, sk);
	bpf_sk_release(sk);
}

/* What pf_split_copy_cb needs: from, to, and the bytes to copy. */
struct pf_split_copy {
	const __u8 *from;
	__u8 *to;
	__u32 n;
};

/* Copy 64 bytes (8 words) at 64 * idx: a bpf_loop callback. */
PF_CALLBACK long pf_split_copy_cb(__u32 idx, void *ctx)
{
	struct pf_split_copy *c = ctx;
	__u32 off = (idx * 64) & (PF_REQ_MAX - 1), k;

	if (idx * 64 >= c->n)
		return 1;
	for (k = 0; k < 64; k += 8)
		*(__u64 *)(c->to + off + k) = *(const __u64 *)(c->from + off + k);
	return 0;
}

/* The first n bytes (at most PF_REQ_MAX; whole 64-byte blocks: up to 63
 * past n) of sp->b into to (a buffer of at least PF_REQ_MAX bytes). Not
 * inlined: its context off the caller's frame (pf_split_join's, inlined
 * in pf_split_join_tc: "combined stack size of 4 calls is 528. Too
 * large" in pf_tc_ingress). */
static __noinline void pf_split_copy(const struct pf_split *sp, __u8 *to, __u32 n)
{
	struct pf_split_copy c = { .from = sp->b, .to = to, .n = n };

	bpf_loop(PF_REQ_MAX / 64, pf_split_copy_cb, &c, 0);
}

#endif /* PF_SPLIT_H */
