/* BPF only (TC): the response offload at TC -- the request recorder (pf_ofl_tc, tail-called by pf_tc_ingress) and, at egress, a socket leaving the SK_MSG path for a large body (pf_ofl_egress). */
#ifndef PF_BPF_OFL_TC_H
#define PF_BPF_OFL_TC_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_csum.h"
#include "pf_follow.h"  /* pf_payload_queued, pf_past_edge_tc */
#include "pf_frame.h"
#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_ofl_maps.h"
#include "pf_ofl_read.h"
#include "pf_pkt.h"
#include "pf_sock.h"
#include "pf_split.h"
#include "pf_test.h"

/* The early entry of the request socket whose client ISN is isn, created
 * for its first data segment. */
static __always_inline struct pf_ofl_sk *pf_ofl_early_get(const struct pf_pkt *p, __u32 isn,
							  struct pf_ofl_scratch *sc)
{
	struct pf_ofl_sk *e = bpf_map_lookup_elem(&pf_ofl_early, &p->key), *ns;

	if (e || p->seq != isn + 1)
		return e;
	pf_zero64(sc->nsk, sizeof(sc->nsk) / 8);
	ns = (struct pf_ofl_sk *)sc->nsk;
	ns->isn = isn;
	ns->born_ns = bpf_ktime_get_ns();
	ns->s.next = isn + 1;
	ns->s.in_state = PF_OFL_IN_HEAD;
	if (!bpf_map_update_elem(&pf_ofl_early, &p->key, ns, BPF_NOEXIST))
		pf_count(PF_STAT_OFL_REQ_EARLY);
	return bpf_map_lookup_elem(&pf_ofl_early, &p->key);
}

/* The offload state of p's server socket, or NULL if it is not covered. */
static __always_inline struct pf_ofl_sk *pf_ofl_sk_of(struct __sk_buff *skb,
						      const struct pf_pkt *p,
						      struct pf_ofl_scratch *sc)
{
	struct tcp_request_sock *rq;
	struct pf_ofl_sk *st;
	struct bpf_sock *sk;
	__u32 isn;

	sk = pf_sk_lookup(skb, p);
	if (!sk)
		return NULL;
	if (sk->state == BPF_TCP_NEW_SYN_RECV) {
		rq = bpf_skc_to_tcp_request_sock(sk);
		isn = rq ? rq->rcv_isn : 0;
		bpf_sk_release(sk);
		return rq ? pf_ofl_early_get(p, isn, sc) : NULL;
	}
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	bpf_sk_release(sk);
	return st;
}

/* Stop recording on st (framing lost at next), counting why (stat 0:
 * not counted). */
static __always_inline void pf_ofl_in_stop(struct pf_ofl_sk *st, __u32 next, __u32 stat)
{
	bpf_spin_lock(&st->lock);
	if (st->s.in_state == PF_OFL_IN_HEAD && st->s.next == next)
		st->s.in_state = PF_OFL_IN_STOP;
	bpf_spin_unlock(&st->lock);
	if (stat)
		pf_count(stat);
}

/* pf_tc_ingress parsed this head already when it follows the
 * connection's framing (pf_frame_req, the same pf_parse_head): if its
 * scratch holds that parse of exactly the n bytes at sc->buf, take it
 * into sc->r (pf_parse_head's result depends on the n bytes and n
 * alone) and return 1; else 0. s->head_n says s->r is the parse of
 * s->req's first head_n bytes (struct pf_scratch); the words compare
 * makes them these bytes. Per-CPU scratch written by this CPU's TC/XDP
 * programs, which do not nest within this one. A global function:
 * verified once. */
__noinline int pf_ofl_reuse(struct pf_ofl_scratch *sc, const struct pf_scratch *s, __u32 n)
{
	if (!sc || !s || n == 0 || n > PF_REQ_MAX || s->head_n != n ||
	    !pf_eq_words(sc->buf, 0, s->req, n, PF_REQ_MAX / 8, 0))
		return 0;
	sc->r = s->r;
	return 1;
}

/* Parse (unless parsed: sc->r from pf_ofl_reuse) and decide the request
 * head at sc->buf (n bytes from the segment); a global function so the
 * verifier checks it once. Returns 0 with sc->r / sc->e filled (sc->e:
 * pf_ofl_entry's first half, which the caller completes with
 * pf_ofl_entry_fix), or the stat of why not. */
__noinline int pf_ofl_decide(struct pf_ofl_scratch *sc, __u32 n, __u32 parsed)
{
	__u32 slot = pf_cfg.active_slot & (PF_SLOTS - 1);

	if (!sc)
		return PF_STAT_PASS_ERROR;
	if (!parsed && pf_parse_head(sc->buf, n, &sc->r) != PF_P_OK)
		return PF_STAT_OFL_IN_UNPARSED;
	pf_ofl_entry_rule(sc->buf, &sc->r, &pf_cfg.slot[slot], slot, &sc->m, &sc->e);
	return 0;
}

/* Teach the daemon the origin of the request in sc (PF_OFL_E_LEARN: only
 * its regexes decide it), through the slow path's ring buffer and record
 * (see pf_punt_req in pf_answer.h): the daemon inserts its verdict, and
 * the origin's next request is decided here. Nothing is dropped or
 * waited for: this request's response gets Vary only. One punt per
 * origin at a time (pf_punted), none while the daemon is down. Not
 * inlined, like pf_ofl_readd: its locals off pf_ofl_head_cb's frame
 * (see there). */
static __noinline void pf_ofl_learn(struct pf_ofl_scratch *sc, const struct pf_pkt *p)
{
	__u64 now = bpf_ktime_get_ns(), hb = pf_cfg.heartbeat_ns, h = sc->m.oc.h;
	struct pf_punt_src_key src;
	struct pf_punt_rec *rec;
	__u32 n = sc->r.origin.len;
	const __u64 *v;

	if (!hb || now - hb > PF_PUNT_WAIT_NS || n == 0 || n > PF_TOKEN_MAX)
		return;
	/* another punt waits for the origin, or the daemon could not teach
	 * it: nothing to do -- unless the wait is one no record clears any
	 * more (older than PF_PUNT_STALE_NS, see pf_punted) */
	v = bpf_map_lookup_elem(&pf_punted, &h);
	if (v && !pf_punt_wait_stale(*v, now))
		return;
	/* see pf_punt_req */
	if (!pf_ascii_buf((const struct pf_buf *)sc->buf, sc->r.origin.off, n)) {
		pf_count(PF_STAT_PASS_ORIGIN_BYTES);
		return;
	}
	/* the client address's punts, as pf_punt_req's: one connection
	 * sending request after request with a new regex-only origin each
	 * filled the daemon's ring through here too (a read-only review,
	 * stop 52) -- nothing is dropped here, so nothing slowed it */
	pf_punt_src_of(&p->key, p->family, src.addr);
	if (!pf_punt_src_ok(&src, now)) {
		pf_count(PF_STAT_PASS_PUNT_LIMIT);
		return;
	}
	/* no segment: this request goes on to the app, nothing to replay */
	rec = pf_punt_rec_new(h, sc->e.slot, sc->e.rule, n, PF_PUNT_ORIGIN, now);
	if (!rec)
		return;
	pf_copy(rec->data, sc->buf + PF_M(sc->r.origin.off), n & 127);
	/* the wait before the record (see pf_punt_req) */
	bpf_map_update_elem(&pf_punted, &h, &now, BPF_ANY);
	bpf_ringbuf_submit(rec, 0);
	pf_count(PF_STAT_OFL_LEARN);
}

/* Put st's socket, out of pf_ofl_socks for a body (pf_ofl_egress), back
 * in before a request head of it is recorded: TC ingress runs before the
 * app can read the request, so the response's head meets the SK_MSG
 * program again. The socket must be ESTABLISHED (the kernel refuses other
 * states). Returns 0 when the socket is in the map, 1 when the offload
 * is being detached, -2 when an old psock with a message program is still
 * on the socket (see PF_OFL_READD_DROPS), -1 on another failure. Not
 * inlined: its socket tuple and
 * key on pf_ofl_head_cb's frame made the recorder's deepest call chain
 * (pf_ofl_tc, pf_ofl_head_cb, pf_ofl_decide and the parser below it) too
 * deep ("combined stack size of 4 calls is 528. Too large"). */
static __noinline int pf_ofl_readd(struct __sk_buff *skb, const struct pf_pkt *p,
				   struct pf_ofl_sk *st)
{
	struct bpf_sock *sk, *in;
	__u64 cookie = st->cookie;
	long err = -1;

	if (pf_ofl_stopped())
		return 1; /* being detached: the map is being emptied */
	sk = pf_sk_lookup(skb, p);
	if (!sk)
		return -1;
	if (sk->state == BPF_TCP_ESTABLISHED)
		err = bpf_map_update_elem(&pf_ofl_socks, &cookie, sk, BPF_NOEXIST);
	bpf_sk_release(sk);
	if (err == -PF_EEXIST || err == -PF_EBUSY) {
		/* EBUSY: the socket has a psock with our program -- in the
		 * map, or an old one not yet dropped (the map would then lose
		 * it): only a look-up tells */
		in = bpf_map_lookup_elem(&pf_ofl_socks, &cookie);
		if (in)
			bpf_sk_release(in);
		else if (err == -PF_EBUSY)
			return -2;
		err = in ? 0 : -1;
	}
	if (err)
		return -1;
	bpf_spin_lock(&st->lock);
	if (st->s.detached == PF_OFL_DET_OUT) /* (a copy of the segment may have been first) */
		st->s.detached = PF_OFL_DET_IN;
	st->s.readd_busy = 0;
	bpf_spin_unlock(&st->lock);
	pf_count(PF_STAT_OFL_READDED);
	return 0;
}

/* ---- request heads split over segments (pf_split.h) ---- */

/* The head at socket seq next, its n bytes in sc->buf up to the end of
 * segment p, not whole (pf_ofl_decide's PF_STAT_OFL_IN_UNPARSED): hold
 * it for the rest -- its bytes from p where it starts in p (a copy of
 * what is held already: nothing new); where it started before p, the
 * bytes pf_ofl_join put behind the held ones now held too (only now: a
 * segment dropped for a re-add, PF_OFL_READD_DROPS, must find the head as
 * it was when it comes again). next_gen: next, and the socket's count of
 * requests recorded (n_req) << 32, which names the head with its start:
 * a hold left behind by an older head never matches. 0 if held; where
 * its rest waits right behind it, kept ahead (pf_ofl_ahead: it came
 * first, this segment's first copy lost), the whole joined into sc->buf
 * and held: its length; else -1 (not a head's start, over PF_REQ_MAX,
 * no memory). A global function: its frame off the recorder's deepest
 * call chain. */
__noinline int pf_ofl_hold(struct __sk_buff *skb, const struct pf_pkt *p,
			   struct pf_ofl_scratch *sc, __u64 next_gen, __u32 n)
{
	__u32 next = (__u32)next_gen, gen = (__u32)(next_gen >> 32), all;
	struct pf_split *sp;
	bool have;
	int w;

	if (!skb || !p || !sc || n == 0 || !pf_frame_head_start(sc->buf, n, &sc->r))
		return -1;
	if (pf_ofl_before(next, p->seq)) {
		sp = pf_split_of(&pf_ofl_split, skb, p);
		if (sp)
			pf_split_put_n(sp, next, p->seq - next, n);
		return sp ? 0 : -1;
	}
	sp = pf_split_of(&pf_ofl_split, skb, p);
	w = sp ? pf_split_waits(sp, next, gen, n) : 0;
	if (w == 1) {
		if (pf_ofl_load_to(skb, p->pay_off + (next - p->seq), n, sp->b))
			return -1;
		all = pf_split_join_ahead(sp, next, gen);
		if (!all)
			return -1;
		pf_split_copy(sp, sc->buf, all);
		return (int)all;
	}
	/* a piece further on (the segments between lost too): held in
	 * front of it, the piece kept -- not a fresh value (pf_split_for),
	 * which let the piece go, and the head then waited for bytes the
	 * socket had (e2e offload g2: every later response unchanged) */
	if (w != 2) {
		sp = pf_split_for(&pf_ofl_split, skb, p, next, n, &have);
		if (!sp)
			return -1;
		if (have)
			return 0;
	}
	pf_split_clear(sp);
	if (pf_ofl_load_to(skb, p->pay_off + (next - p->seq), n, sp->b))
		return -1;
	pf_split_set(sp, next, gen, n);
	pf_count(PF_STAT_OFL_IN_SPLIT);
	return 0;
}

/* Segment p (checksum verified) past the head at socket seq next (for
 * n_req gen, see pf_ofl_hold) that is still missing -- lost, its copy to
 * come: kept as the head's piece ahead (pf_split.h; up to PF_REQ_MAX from
 * the head's start) when p is the first such, continues the one kept or
 * comes right in front of it,
 * so that the head's segment, when it comes again, joins it whole
 * (pf_ofl_hold) -- before, that segment was held for a rest that had gone
 * through already: the recording waited for good, every later response
 * of the connection went out without its CORS headers (ofl_no_request).
 * Counted ofl_in_ahead. A global function (as pf_ofl_hold). */
__noinline int pf_ofl_ahead(struct __sk_buff *skb, const struct pf_pkt *p, __u64 next_gen)
{
	__u32 next = (__u32)next_gen, gen = (__u32)(next_gen >> 32), off, take;
	struct pf_split_run r;
	struct pf_split *sp;

	if (!skb || !p)
		return 0;
	off = p->seq - next;
	if (!off || off >= PF_REQ_MAX)
		return 0;
	take = p->pay_len < PF_REQ_MAX - off ? p->pay_len : PF_REQ_MAX - off;
	sp = pf_split_for_ahead(&pf_ofl_split, skb, p, next, gen);
	if (!sp || !pf_split_ahead_fits(sp, next, gen, off, take, &r))
		return 0;
	/* Verifier workaround: the mask kept (barrier_var) -- after the
	 * bound test above clang dropped it, and the offset reached the
	 * load unbounded ("R3 unbounded memory access") */
	barrier_var(off);
	if (pf_ofl_load_to(skb, p->pay_off, take, sp->b + (off & (PF_REQ_MAX - 1))))
		return 0;
	if (pf_split_ahead_put(sp, next, &r, off, take))
		pf_count(PF_STAT_OFL_IN_AHEAD);
	return 0;
}

/* Segment p (checksum verified), starting exactly where the head held at
 * socket seq next (for n_req gen, see pf_ofl_hold) ends: its bytes put
 * behind the held ones (at most up to PF_REQ_MAX; held only by
 * pf_ofl_hold, should the head still not be whole), the whole so far --
 * to the end of the piece kept ahead (pf_ofl_ahead) if p reaches it --
 * copied into sc->buf. Returns its length (for pf_ofl_head_cb:
 * rc.joined), or 0 if p continues no held head. A global function (as
 * pf_ofl_hold). */
__noinline int pf_ofl_join(struct __sk_buff *skb, const struct pf_pkt *p,
			   struct pf_ofl_scratch *sc, __u32 next, __u32 gen)
{
	__u32 n1, o_off, o_n, take, end;
	struct pf_split *sp;

	if (!skb || !p || !sc)
		return 0;
	sp = pf_split_of(&pf_ofl_split, skb, p);
	if (!sp || !pf_split_get_run(sp, next, gen, p->seq, &n1, &o_off, &o_n) || !n1)
		return 0;
	take = p->pay_len < PF_REQ_MAX - n1 ? p->pay_len : PF_REQ_MAX - n1;
	if (pf_ofl_load_to(skb, p->pay_off, take, sp->b + (n1 & (PF_REQ_MAX - 1))))
		return 0;
	/* to the end of the piece kept ahead, if p reaches it exactly */
	end = o_n && o_off == n1 + take ? o_off + o_n : n1 + take;
	pf_split_copy(sp, sc->buf, end);
	return (int)end;
}

/* The head at socket seq next, joined from held bytes, recorded as
 * request rid (next_rid: next | rid << 32; held as n_req rid,
 * pf_ofl_hold): its storage let go and deleted (pf_split_drop). A
 * global function (as pf_ofl_hold). */
__noinline int pf_ofl_split_done(struct __sk_buff *skb, const struct pf_pkt *p, __u64 next_rid)
{
	if (skb && p)
		pf_split_drop(&pf_ofl_split, skb, p, (__u32)next_rid, next_rid >> 32, 0);
	return 0;
}

/* What pf_ofl_head_cb needs of pf_ofl_record's frame (bpf_loop passes
 * one pointer). The segment's bounds are read from p, not kept here: 8
 * bytes fewer on pf_ofl_tc's frame kept the call chain under 512 bytes
 * ("combined stack size of 5 calls is 528. Too large"). */
struct pf_ofl_rec {
	struct __sk_buff *skb;
	const struct pf_pkt *p;
	struct pf_ofl_sk *st;
	struct pf_ofl_scratch *sc;
	__u32 next;
	__u16 drop;   /* drop the segment: the client sends it again */
	__u16 joined; /* the head at next is in sc->buf, this many bytes
		       * (pf_ofl_join): not loaded from the segment */
};

/* Record the request head at rc->next (in segment rc->p, on rc->st): a
 * bpf_loop callback, one head a call. Returns 0 to go on with the next
 * head (rc->next moved to it, or the same head again after a re-add), 1
 * to stop. A callback, not an unrolled loop: the verifier walks its body
 * until its states repeat rather than once per head a segment may hold
 * (PF_OFL_HEADS_SEG; unrolled, pf_ofl_tc took 844k of the 1M processed
 * instructions on 6.18.44 -- "BPF program is too large. Processed
 * 1000001 insn"). */
PF_CALLBACK long pf_ofl_head_cb(__u32 idx, void *ctx)
{
	struct pf_ofl_rec *rc = ctx;
	struct pf_ofl_scratch *sc = rc->sc;
	struct pf_ofl_sk *st = rc->st;
	__u32 S = rc->p->seq, E = rc->p->seq + rc->p->pay_len, next = rc->next;
	__u32 nn, n, stat, stop, rid, split, zero = 0;
	struct pf_scratch *s;
	int ret, h;

	(void)idx;
	if (rc->joined) {
		n = rc->joined; /* (again after a re-add: sc->buf kept) */
	} else {
		n = E - next < PF_REQ_MAX ? E - next : PF_REQ_MAX;
		if (pf_ofl_load(rc->skb, rc->p->pay_off + (next - S), n, sc)) {
			pf_ofl_in_stop(st, next, PF_STAT_OFL_IN_UNPARSED);
			return 1;
		}
	}
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	ret = pf_ofl_decide(sc, n, s ? pf_ofl_reuse(sc, s, n) : 0);
	if (ret) {
		/* a head split over segments: held for the rest, recording
		 * goes on at next (its rest kept ahead: joined, this head
		 * again); too long or malformed: stopped */
		h = -1;
		if (ret == PF_STAT_OFL_IN_UNPARSED && next + n == E) {
			/* marked before the hold, for this head only: a copy
			 * recording it whole on another CPU meanwhile then
			 * finds the mark (its record lets go) */
			bpf_spin_lock(&st->lock);
			if (st->s.in_state == PF_OFL_IN_HEAD && st->s.next == next)
				st->s.split = 1;
			bpf_spin_unlock(&st->lock);
			h = pf_ofl_hold(rc->skb, rc->p, sc, next | (__u64)st->s.n_req << 32, n);
		}
		if (h > 0) {
			rc->joined = (__u16)h;
			return 0;
		}
		if (h)
			pf_ofl_in_stop(st, next, ret);
		return 1;
	}
	/* pf_ofl_entry's second half, here rather than in pf_ofl_decide:
	 * any call or branch more there made the recorder's deepest call
	 * chain (pf_ofl_tc, this callback, pf_ofl_decide,
	 * pf_origin_rules_buf, pf_origin_cand_cb; at 512 bytes) "combined
	 * stack size of 5 calls is 528. Too large" */
	pf_ofl_entry_fix((const struct pf_buf *)sc->buf, &sc->r,
			 &pf_cfg.slot[sc->e.slot & (PF_SLOTS - 1)], &sc->m, &sc->e);
	nn = next + sc->r.len + ((sc->r.flags & PF_REQF_CLEN) ? sc->r.clen : 0);
	stop = sc->r.flags & (PF_REQF_TE | PF_REQF_UPGRADE);
	stat = 0;
	bpf_spin_lock(&st->lock);
	if (st->s.in_state != PF_OFL_IN_HEAD || st->s.next != next) {
		/* a copy of this segment on another CPU was first */
		bpf_spin_unlock(&st->lock);
		return 1;
	}
	if (st->s.detached == PF_OFL_DET_LEAVING) {
		/* TC egress on another CPU is deleting the socket from
		 * the map right now: a re-add before its delete would
		 * be undone by it (enum pf_ofl_det), and this request's
		 * response would go out unseen. Stop recording: the
		 * connection's responses pass unchanged, counted. */
		st->s.in_state = PF_OFL_IN_STOP;
		bpf_spin_unlock(&st->lock);
		pf_count(PF_STAT_OFL_LEAVE_RACE);
		return 1;
	}
	if (st->s.detached) {
		/* out of the SK_MSG path for a body: back in first, or
		 * this request's response would go out unseen and the
		 * next one take its entry. Then this head again (the
		 * lock was let go). */
		bpf_spin_unlock(&st->lock);
		ret = pf_ofl_readd(rc->skb, rc->p, st);
		if (ret == -2) {
			/* the write before still holds the old psock: this
			 * segment dropped, sent again by the client once
			 * that write has ended (PF_OFL_READD_DROPS) -- if
			 * it is still the head to record, the socket still
			 * out (else a copy on another CPU got in first: this
			 * head again, which tells) */
			bpf_spin_lock(&st->lock);
			if (st->s.in_state != PF_OFL_IN_HEAD || st->s.next != next ||
			    st->s.detached != PF_OFL_DET_OUT) {
				bpf_spin_unlock(&st->lock);
				return 0;
			}
			if (st->s.readd_busy < PF_OFL_READD_DROPS) {
				st->s.readd_busy++;
				rc->drop = 1;
			}
			bpf_spin_unlock(&st->lock);
			if (rc->drop) {
				pf_count(PF_STAT_OFL_READD_BUSY);
				return 1;
			}
		}
		if (ret) {
			pf_ofl_in_stop(st, next, ret < 0 ? PF_STAT_OFL_DETACH_FAILED : 0);
			return 1;
		}
		return 0;
	}
	if (st->s.n_req - st->s.n_resp >= PF_OFL_FIFO) {
		st->s.in_state = PF_OFL_IN_STOP;
		bpf_spin_unlock(&st->lock);
		pf_count(PF_STAT_OFL_FIFO_FULL);
		return 1;
	}
	st->s.q[st->s.n_req & (PF_OFL_FIFO - 1)] = sc->e;
	rid = st->s.n_req++;
	st->s.next = nn;
	split = st->s.split;
	st->s.split = 0;
	if (stop) {
		st->s.in_state = PF_OFL_IN_STOP;
		stat = PF_STAT_OFL_IN_BODY;
	} else if (st->s.has_gap) {
		/* a segment skipped while this head was missing reached
		 * beyond it: it may have held the next head */
		if (pf_ofl_before(nn, st->s.gap_end)) {
			st->s.in_state = PF_OFL_IN_STOP;
			stat = PF_STAT_OFL_IN_GAP;
		} else {
			st->s.has_gap = 0;
		}
	}
	bpf_spin_unlock(&st->lock);
	pf_count(PF_STAT_OFL_REQ_RECORDED);
	/* its held bytes or piece let go, also where this segment brought
	 * the head whole (a GRO-merged copy): before, they stayed until
	 * the socket closed */
	if (rc->joined || split)
		pf_ofl_split_done(rc->skb, rc->p, next | (__u64)rid << 32);
	if (sc->e.flags & PF_OFL_E_PREFLIGHT)
		pf_count(PF_STAT_OFL_PREFLIGHT_APP);
	else if (sc->e.flags & PF_OFL_E_UNNORM)
		pf_count(PF_STAT_OFL_PATH_UNNORM);
	if (sc->e.flags & PF_OFL_E_LEARN)
		pf_ofl_learn(sc, rc->p);
	if (pf_cfg.shadow)
		pf_shd_submit(&rc->p->key, rid, PF_SHD_REQ, sc->r.len, sc);
	if (stat) {
		pf_count(stat);
		return 1;
	}
	if (!pf_ofl_before(nn, E))
		return 1;
	rc->next = nn;
	rc->joined = 0;
	return 0;
}

/* The longest payload of a segment that is not GRO-merged (an IP
 * packet's 16-bit length): pf_ofl_csum_bad sums up to this many bytes. */
#define PF_OFL_SEG_MAX 65536

/* What pf_ofl_csum_cb needs of pf_ofl_csum_bad's frame. */
struct pf_ofl_csum {
	struct __sk_buff *skb;
	struct pf_ofl_scratch *sc;
	__s64 sum;    /* the partial sum so far; negative: failed */
	__u32 off;    /* skb offset of the next chunk */
	__u32 left;   /* payload bytes not summed yet */
};

/* Payload bytes summed per pf_ofl_csum_cb call (at most PF_REQ_MAX). */
#define PF_OFL_CSUM_CHUNK 2048

/* Add the next chunk of the payload (at most PF_OFL_CSUM_CHUNK bytes, copied
 * into sc->buf) to c->sum: a bpf_loop callback, one chunk a call (a
 * callback, so the verifier walks one chunk, not one per chunk a 64 KiB
 * segment has). Returns 0 to go on, 1 when all is summed or it failed
 * (c->sum negative). */
PF_CALLBACK long pf_ofl_csum_cb(__u32 idx, void *ctx)
{
	struct pf_ofl_csum *c = ctx;
	__u32 n = c->left < PF_OFL_CSUM_CHUNK ? c->left : PF_OFL_CSUM_CHUNK;

	(void)idx;
	if (!n)
		return 1;
	if (pf_ofl_load(c->skb, c->off, n, c->sc)) {
		c->sum = -1;
		return 1;
	}
	c->sum = pf_csum_reqbuf(c->sc->buf, n, c->sum, PF_OFL_CSUM_CHUNK);
	c->off += n;
	c->left -= n;
	return c->sum < 0 || !c->left;
}

/* Is segment p's TCP checksum wrong (or its bytes unreadable)? The
 * stack drops such a segment, so the recorder must take nothing from it
 * (its retransmission brings the bytes again). Trusted as the preflight
 * datapath trusts a request (pf_client_bytes): a GRO-merged skb, whose
 * segments the stack verified while merging; by pf_csum_tcp_head, one
 * the device verified (CHECKSUM_UNNECESSARY) and a CHECKSUM_PARTIAL one
 * (local traffic: veth, lo), which the stack does not verify, both told
 * by the skb's ip_summed. Otherwise summed, the
 * payload in chunks of PF_OFL_CSUM_CHUNK bytes through sc->buf (any length, up
 * to a 64 KiB jumbo segment). A global function: verified once, its
 * frame (the callback's context) off pf_ofl_tc's, the first on the
 * recorder's deepest call chain, at 512 bytes ("combined stack size of 5
 * calls is 528. Too large"); as a static one, pf_ofl_tc took 187k ->
 * 282k processed instructions (the rest of the recorder walked again
 * after each of its exits). */
__noinline int pf_ofl_csum_bad(struct __sk_buff *skb, const struct pf_pkt *p,
			       struct pf_ofl_scratch *sc)
{
	struct pf_ofl_csum c = { .skb = skb, .sc = sc };

	if (!p || !sc)
		return 1;
	if (skb->gso_segs > 1)
		return 0;
	c.off = p->pay_off;
	c.left = p->pay_len;
	c.sum = pf_csum_tcp_head(skb, false, p, sc->buf, PF_OFL_SEG_MAX);
	if (c.sum == PF_CSUM_TRUSTED)
		return 0;
	if (c.sum < 0)
		return 1;
	bpf_loop(PF_OFL_SEG_MAX / PF_OFL_CSUM_CHUNK, pf_ofl_csum_cb, &c, 0);
	return c.sum < 0 || c.left || pf_csum_fold(c.sum) != 0xffff;
}

/* Record the request heads that start in segment p on st. Returns 1 if
 * the segment must be dropped (pf_ofl_head_cb: rc.drop), else 0. */
static __always_inline int pf_ofl_record(struct __sk_buff *skb, const struct pf_pkt *p,
					 struct pf_ofl_sk *st, struct pf_ofl_scratch *sc)
{
	struct pf_ofl_rec rc = { .skb = skb, .p = p, .st = st, .sc = sc };
	__u32 S, E = p->seq + p->pay_len;

	/* a first look without the lock (a lock pair per request was a tenth
	 * of the recorder's time): in_state and next only move forward, and
	 * the commit below checks both again under the lock */
	if (st->s.in_state != PF_OFL_IN_HEAD || !pf_ofl_before(st->s.next, E))
		return 0; /* body bytes, or bytes already parsed */
	/* a segment the stack drops moves nothing, not next, not the gap:
	 * its retransmission is recorded (summed: only segments with bytes
	 * at or past next, a head's or a gap's) */
	if (pf_ofl_csum_bad(skb, p, sc)) {
		pf_count(PF_STAT_OFL_IN_CSUM);
		return 0;
	}
	/* read after the call: fewer values kept across it (pf_ofl_tc's
	 * frame 8 bytes larger made "combined stack size of 5 calls is
	 * 528. Too large"); next read again, it only moves forward */
	S = p->seq;
	E = p->seq + p->pay_len;
	rc.next = st->s.next;
	if (!pf_ofl_before(rc.next, E))
		return 0;
	if (pf_ofl_before(rc.next, S)) {
		/* the rest of a head held at next: that head whole, or held on */
		rc.joined = (__u16)pf_ofl_join(skb, p, sc, rc.next, st->s.n_req);
		if (rc.joined) {
			bpf_loop(PF_OFL_HEADS_SEG, pf_ofl_head_cb, &rc, 0);
			return rc.drop;
		}
		/* past the largest window the socket can have advertised: the
		 * kernel drops it -- a blind spoof with a random seq marked a
		 * gap up to 2 GiB ahead, and every later request of the
		 * connection went unrecorded (ofl_in_gap; a read-only review,
		 * stop 52) */
		if (pf_past_edge_tc(skb, p, S)) {
			pf_count(PF_STAT_OFL_IN_OOW);
			return 0;
		}
		/* beyond the next head: body of a request whose head is still
		 * missing, or a later request -- told apart once that head is
		 * parsed (gap_end); or that head's rest, kept ahead of it */
		pf_ofl_ahead(skb, p, rc.next | (__u64)st->s.n_req << 32);
		bpf_spin_lock(&st->lock);
		if (st->s.in_state == PF_OFL_IN_HEAD && pf_ofl_before(st->s.next, S)) {
			if (!st->s.has_gap || pf_ofl_before(st->s.gap_end, E))
				st->s.gap_end = E;
			st->s.has_gap = 1;
			st->s.split = 1;
		}
		bpf_spin_unlock(&st->lock);
		return 0;
	}
	bpf_loop(PF_OFL_HEADS_SEG, pf_ofl_head_cb, &rc, 0);
	return rc.drop;
}

/* The request recorder is its own TC program (pf_ofl_tc), reached through
 * pf_ofl_tail (pf_ofl_maps.h) once the preflight datapath has passed a
 * client segment (already in the socket's sequence space) that it parsed
 * and pf_ofl_wants, or, in XDP mode with metadata, one XDP did not flag
 * for it (handled at XDP: pf_tc_ingress does not parse it again): its
 * verification does not count against pf_tc_ingress's, and it is loaded
 * only with the offload. Continues (TC_ACT_UNSPEC), but for a request
 * segment that came before its socket could go back in the SK_MSG path
 * (PF_OFL_READD_DROPS): dropped (TC_ACT_SHOT), the client sends it again
 * (the preflight datapath, which passed it, follows a request's framing
 * once: a copy before c_next is a retransmission to it). */

/* Does segment p bring what the recorder reads: request bytes on an
 * answered port that the socket queues (pf_payload_queued: ACK, no SYN or
 * RST -- a segment without ACK, which tcp_rcv_established drops, was
 * recorded as a request the app never read: a spoof at the right seq then
 * gave the real request's response its verdict; a read-only review, stop
 * 52)? */
static __always_inline int pf_ofl_wants(const struct pf_pkt *p)
{
	return p->answer_port && pf_payload_queued(p);
}

/* The hook in pf_tc_ingress: returns only if the recorder is not there. */
static __always_inline void pf_ofl_ingress_hook(struct __sk_buff *skb)
{
	if (pf_cfg.ofl_on)
		bpf_tail_call(skb, &pf_ofl_tail, PF_OFL_TAIL_REC);
}

/* Record what segment skb brings; 1 if it must be dropped, else 0. */
static __always_inline int pf_ofl_ingress(struct __sk_buff *skb)
{
	struct pf_ofl_scratch *sc;
	struct pf_ofl_sk *st;
	struct pf_pkt p;

	if (!pf_cfg.ofl_on)
		return 0;
	if (pf_reparse_pkt(skb, &p) || !pf_ofl_wants(&p))
		return 0;
	sc = pf_ofl_scratch_get(PF_OFL_SCR_TC);
	if (!sc)
		return 0;
	st = pf_ofl_sk_of(skb, &p, sc);
	return st ? pf_ofl_record(skb, &p, st, sc) : 0;
}

SEC("tc")
int pf_ofl_tc(struct __sk_buff *skb)
{
	return pf_ofl_ingress(skb) ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

/* ================================================================
 * TC egress: a socket leaves the SK_MSG path for a large body
 * ================================================================ */

/* Called by pf_tc_egress for each server segment (socket sequence
 * space). A socket whose SK_MSG program asked for it (pf_ofl_leave)
 * leaves pf_ofl_socks; the recorder puts it back at its next request
 * (pf_ofl_readd). Only when that is safe:
 * - no request is waiting for its response (n_req == n_resp, under the
 *   lock the recorder takes): a pipelined request recorded meanwhile
 *   keeps the socket in, or its response would go out unseen;
 * - nothing is held back (corked, pf_ofl_held): the kernel frees held
 *   bytes with the psock. TC egress of the socket's own segments runs
 *   where its SK_MSG program cannot (the socket is locked: its sender's
 *   transmit, or softirq/timers that defer while the socket is owned),
 *   and the program never corks once the socket is out (pf_ofl_cork).
 * The psock (and the kernel's copying of sendfile pages) goes when the
 * write that sent the head ends; a failed delete (but for a socket gone
 * from the map already: out) leaves the socket in
 * (marked in again). Between the two lock sections the socket is
 * LEAVING, which the recorder does not undo (enum pf_ofl_det). */
static __always_inline void pf_ofl_egress(struct __sk_buff *skb, const struct pf_pkt *p)
{
	struct pf_ofl_sk *st;
	struct bpf_sock *sk;
	__u64 *ck, cookie;
	__u32 ok = 0;
	long err;

	if (!pf_cfg.ofl_on || !p->pay_len)
		return;
	ck = bpf_map_lookup_elem(&pf_ofl_leave, &p->key);
	if (!ck)
		return;
	cookie = *ck;
	bpf_map_delete_elem(&pf_ofl_leave, &p->key);
	sk = pf_sk_lookup(skb, p);
	if (!sk)
		return;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	bpf_sk_release(sk);
	if (!st || st->cookie != cookie)
		return;
	if (!st->corked && !bpf_map_lookup_elem(&pf_ofl_held, &cookie)) {
		bpf_spin_lock(&st->lock);
		if (st->s.detach_req && st->s.detached == PF_OFL_DET_IN &&
		    st->s.n_req == st->s.n_resp) {
			st->s.detached = PF_OFL_DET_LEAVING;
			ok = 1;
		}
		st->s.detach_req = 0;
		bpf_spin_unlock(&st->lock);
	}
	if (!ok)
		return;
	/* LEAVING until the delete is done: a request the recorder sees
	 * meanwhile stops the recording (enum pf_ofl_det) */
	PF_TEST_POINT(PF_TP_OFL_LEAVE);
	err = bpf_map_delete_elem(&pf_ofl_socks, &cookie);
	/* not in the map (ENOENT): out already -- the app closed the
	 * socket (the kernel unlinks it) before this segment left, as a
	 * "Connection: close" response's head retransmitted after the
	 * close does (e2e offload g2). Counted as a failure before, though
	 * nothing failed */
	if (err == -PF_ENOENT)
		err = 0;
	bpf_spin_lock(&st->lock);
	st->s.detached = err ? PF_OFL_DET_IN : PF_OFL_DET_OUT;
	bpf_spin_unlock(&st->lock);
	pf_count(err ? PF_STAT_OFL_DETACH_FAILED : PF_STAT_OFL_DETACHED);
}

#endif /* PF_BPF_OFL_TC_H */
