/* BPF only (TC and XDP ingress, TC egress): following each connection's requests (client framing) and answers (server) for the splice guard. */
/*
 * pf_follow.h -- the bookkeeping behind PF_FS_FRAMED / c_next and
 * PF_FS_ANSWERED / s_mark (the guard on struct pf_flow, in
 * include/pf_structs.h): where the next client request starts, and
 * whether the server has begun a final answer to the current one.
 * Everything that reads packet bytes runs before the flow's lock and
 * yields a struct pf_follow; pf_flow_note (pf_xlate.h) applies it under
 * the lock only if the state it was computed from is still there.
 */
#ifndef PF_FOLLOW_H
#define PF_FOLLOW_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_frame.h"
#include "pf_csum.h"
#include "pf_ctx.h"
#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_sock.h"
#include "pf_split.h"
#include "pf_tcp.h"

/* What one segment tells about the flow's framing or answer. */
struct pf_follow {
	__u32 from;      /* the c_next / s_mark it was computed from */
	__u32 next;      /* the new c_next / s_mark */
	__u8  have;      /* something to apply */
	__u8  ok;        /* client: next is valid (0: the framing is lost) */
	union {
		__u8 answered; /* server: a final answer begins at next */
		__u8 split;    /* client: PF_FOLLOW_STORED or _LET_GO, for
				* PF_FLOW_SPLIT (applied even without have);
				* pf_flow_note may make it PF_FOLLOW_DROP */
	};
	__u8  oow;       /* client: starts past any window of the socket
			  * (pf_client_oow): tells nothing; or
			  * PF_FOLLOW_CSUM */
};

#define PF_FOLLOW_CSUM 2 /* oow: client, a head's start with a wrong TCP
			  * checksum (pf_frame_seg): the stack drops it, so
			  * it frames nothing -- pf_flow_note records only
			  * its bytes (c_hi), not its ack, FIN or time, and
			  * lets nothing go; counted follow_csum, not
			  * translated_in */

#define PF_FOLLOW_STORED 1 /* bytes of the head at c_next held or kept ahead */
#define PF_FOLLOW_LET_GO 2 /* the socket's storage let go of them */
#define PF_FOLLOW_DROP   3 /* it is to let go of them once the segment is
			    * noted (pf_translate_in: a copy dropped for a
			    * race must find them as they were) */

/* Egress scratch: server bytes being looked at (apart from pf_scratch:
 * an ingress program's bpf_clone_redirect runs the egress program in the
 * middle of its own work). */
struct pf_outbuf {
	__u8 b[PF_REQ_BUF];
	struct pf_req r;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_outbuf);
} pf_outbuf SEC(".maps");

/* The request head at the start of s->req (len bytes valid, parsed
 * into s->r): its whole length (pf_frame_len), or -1. And the interim
 * response head at the start of ob->b (into ob->r). Global functions, so
 * the verifier checks each parse once for every caller. (Their arguments
 * are the map values: a global function sees a bare buffer pointer as
 * one byte of memory.) */
__noinline long pf_frame_req(struct pf_scratch *s, __u32 len)
{
	if (!s)
		return -1;
	s->head_n = pf_parse_head(s->req, len, &s->r) == PF_P_OK && len <= PF_REQ_MAX ? len : 0;
	return pf_frame_len(&s->r);
}

__noinline int pf_frame_1xx(struct pf_outbuf *ob, __u32 len)
{
	if (!ob)
		return PF_P_BAD;
	return pf_parse_interim(ob->b, len, &ob->r);
}

/* Load payload bytes [from, from + n) of p (n <= PF_REQ_MAX) into buf. */
static __always_inline int pf_load_at(void *ctx, bool xdp, const struct pf_pkt *p, __u8 *buf,
				      __u32 from, __u32 n)
{
	__u64 len = n;

	/* Verifier workaround: a 64-bit length pinned by a barrier (see
	 * pf_load_req: "R3 min value is outside of the allowed memory
	 * range") */
	barrier_var(len);
	if (len == 0 || len > PF_REQ_MAX)
		return -1;
	return pf_load(ctx, xdp, p->pay_off + from, buf, len) ? -1 : 0;
}

/* Client payload of p from offset from (at most PF_REQ_MAX bytes) into
 * s->req for framing, with proof the bytes are what the stack will see:
 * (TC) a GRO-merged skb, whose segments the stack verified while merging
 * (its header checksum is the first segment's); else the whole segment
 * fits PF_REQ_MAX and its checksum is right. Returns the bytes loaded,
 * PF_BYTES_CSUM (summed, and wrong: the stack drops the segment, and its
 * retransmission brings the bytes), or -1 (cannot be trusted or read:
 * the framing is lost). */
#define PF_BYTES_CSUM (-2)

static __always_inline long pf_client_bytes(void *ctx, bool xdp, const struct pf_pkt *p,
					    struct pf_scratch *s, __u32 from)
{
	bool gro = !xdp && ((struct __sk_buff *)ctx)->gso_segs > 1;
	__u32 n;
	int ret;

	s->head_n = 0; /* s->req is rewritten (see struct pf_scratch) */
	if (from >= p->pay_len)
		return -1;
	if (!gro) {
		if (p->pay_len > PF_REQ_MAX || pf_load_at(ctx, xdp, p, s->req, 0, p->pay_len))
			return -1;
		ret = pf_verify_csum(ctx, xdp, p, s, false);
		if (ret)
			return ret > 0 ? PF_BYTES_CSUM : -1;
		if (from == 0)
			return p->pay_len;
	}
	n = p->pay_len - from;
	if (n > PF_REQ_MAX)
		n = PF_REQ_MAX;
	return pf_load_at(ctx, xdp, p, s->req, from, n) ? -1 : n;
}

/* The request head starting at client wire seq head inside segment p:
 * where the request after it starts (u->ok, u->next), or the framing is
 * lost (u->ok 0): a head not understood or not whole in this segment, or
 * a second head in the same segment (the client sent it before any
 * answer: it pipelines); nothing (u->have 0, u->oow PF_FOLLOW_CSUM) if
 * p's TCP checksum is wrong -- the stack drops it, and its
 * retransmission is framed (before, such a copy lost the framing: every
 * later preflight of the connection went to the app, review LOW-8).
 * Returns 1 when the head did not end but runs to
 * the end of p, shorter than PF_REQ_MAX, its bytes verified and begun by
 * a method and SP: a split head whose start can be held (pf_split_hold);
 * else 0. */
static __always_inline int pf_frame_seg(void *ctx, bool xdp, const struct pf_pkt *p,
					struct pf_scratch *s, __u32 head, struct pf_follow *u)
{
	long n, len;
	__u32 next;

	u->have = 1;
	u->from = head;
	u->ok = 0;
	n = pf_client_bytes(ctx, xdp, p, s, head - p->seq);
	if (n == PF_BYTES_CSUM) {
		u->have = 0;
		u->oow = PF_FOLLOW_CSUM;
	}
	if (n <= 0)
		return 0;
	len = pf_frame_req(s, (__u32)n);
	if (len <= 0)
		return pf_frame_head_start(s->req, (__u32)n, &s->r) &&
		       head + (__u32)n == p->seq + p->pay_len;
	next = head + (__u32)len;
	if (pf_after(p->seq + p->pay_len, next))
		return 0;
	u->ok = 1;
	u->next = next;
	return 0;
}

/* Does a client segment p at socket seq sseq start past the bound no
 * real segment of the socket passes (pf_sock_rcv_edge)? 0 if there is no
 * full socket to ask (p NULL: a global function's check). */
static __always_inline int pf_past_edge(void *ctx, const struct pf_pkt *p, __u32 sseq)
{
	__u32 edge;

	if (!p || pf_sock_rcv_edge(ctx, p, &edge))
		return 0;
	return pf_after(sseq, edge);
}

/* The two instances of pf_past_edge, global functions (as
 * pf_fix_sack_tc): verified once with unknown arguments -- inline, the
 * look-up was re-walked on every path into the translation
 * (pf_xdp_ingress +22k processed instructions, pf_tc_ingress +12k; as
 * globals, both programs verify in fewer than before this check:
 * -21k and -7k, state pruning). */
__noinline int pf_past_edge_tc(struct __sk_buff *skb, const struct pf_pkt *p, __u32 sseq)
{
	return pf_past_edge(skb, p, sseq);
}

__noinline int pf_past_edge_xdp(struct xdp_md *xdp, const struct pf_pkt *p, __u32 sseq)
{
	return pf_past_edge(xdp, p, sseq);
}

/* Does an established socket queue p's payload at all? Not with RST (a
 * reset, or refused: RFC 5961) nor SYN, nor without ACK
 * (tcp_rcv_established drops such a segment): its bytes frame nothing
 * and move nothing (c_hi) -- pf_track_first takes none of them either.
 * (A review finding, stop 51: one that hit the window moved c_next or
 * c_hi where its sender chose.) */
static __always_inline bool pf_payload_queued(const struct pf_pkt *p)
{
	return p->pay_len && (p->tflags & (PF_TCPF_ACK | PF_TCPF_RST | PF_TCPF_SYN)) == PF_TCPF_ACK;
}

/* Client payload p of flow f (snapshot a) that starts past c_hi (a gap:
 * not contiguous with the bytes passed so far): does it start past
 * rcv_nxt plus the largest window (pf_sock_rcv_edge)? The kernel drops
 * such a segment, so it must move nothing -- not c_hi (a spoofed segment
 * far ahead kept every later preflight pass_not_next for ~2^31 bytes),
 * not the framing. A gap inside the window
 * still moves c_hi: the socket queues it out of order with the current
 * offsets (pf_commit's pass_not_next). Only gapped segments pay the
 * socket look-up. c_hi is read without the lock: it only grows (a commit
 * sets it to its request's end, at or past it), so a segment found
 * contiguous stays so under the lock; one found past the edge is dropped
 * by the kernel whatever c_hi is then. No socket to ask: 0, as before. */
static __always_inline int pf_client_oow(void *ctx, bool xdp, const struct pf_pkt *p,
					 const struct pf_adj *a, const struct pf_flow *f)
{
	const volatile struct pf_flow *v = f;
	__u32 sseq = pf_seq_in(a, p->seq);

	if (!p->pay_len || !(v->hi & PF_FLOW_C_HI) || !pf_after(p->seq, v->c_hi))
		return 0;
	return xdp ? pf_past_edge_xdp(ctx, p, sseq) : pf_past_edge_tc(ctx, p, sseq);
}

/* ---- request heads split over segments ----
 *
 * A head longer than its segment -- a credentialed GET with a large
 * Cookie line, over one MSS (about 1,448 bytes at an MTU of 1,500),
 * wherever nothing merged its segments: XDP, TC without GRO -- used to
 * lose the connection's framing, and every later preflight on it went to
 * the app (pass_framing). Now its bytes are held (pf_split_hold) in the
 * server socket's storage, and the segment that continues them exactly
 * (pf_split_join) completes the head, parsed then by the same
 * pf_frame_req as a whole one: up to PF_REQ_MAX bytes in all, over any
 * number of segments.
 *
 * Why socket storage: it lives as long as the connection and is freed
 * with it (after RCU: a program holding it never sees it reused, unlike
 * a hash map's preallocated element), its memory is charged to the
 * socket (optmem_max), and no table fills up. A held head is named by
 * its start, the flow's c_next (the value and its lock: pf_split.h); the
 * client bytes passed so far must end in its continuation (c_hi); and
 * pf_flow_note applies the result only if c_next is still
 * where the head starts. (Not the flow's gen: a fold changes it while a
 * head is held.)
 *
 * While a head is held nothing moves: c_next stays at the head, so no
 * later segment is at a request boundary (pass_not_boundary), and the
 * server's bytes are still the previous answer's. A continuation that
 * never comes (lost before this hook and retransmitted merged with later
 * bytes, or reordered across CPUs) leaves it so: the connection's
 * preflights go to the app, as with a lost framing.
 *
 * The test build (PF_TEST_MOCK_SOCK) has one mocked socket: its storage
 * is one array element.
 */

#ifdef PF_TEST_MOCK_SOCK
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_split);
} pf_split SEC(".maps");

/* The mocked socket's storage (see pf_sock): for the head from start of
 * n bytes (pf_split_fresh: one value, rewritten), or to read. */
static __always_inline struct pf_split *pf_split_hold_get(void *ctx, const struct pf_pkt *p,
							  __u32 start, __u32 n, bool *have)
{
	struct pf_split *sp;
	__u32 zero = 0;

	(void)ctx;
	(void)p;
	*have = false;
	sp = bpf_map_lookup_elem(&pf_split, &zero);
	if (sp)
		*have = pf_split_holds(sp, start, n);
	return sp;
}

static __always_inline struct pf_split *pf_split_get(void *ctx, const struct pf_pkt *p)
{
	__u32 zero = 0;

	(void)ctx;
	(void)p;
	return bpf_map_lookup_elem(&pf_split, &zero);
}

/* The mocked socket's storage for a piece ahead of the head from start
 * (pf_split_fresh_ahead: one value, named anew unless it holds that
 * head). */
static __always_inline struct pf_split *pf_split_ahead_get(void *ctx, const struct pf_pkt *p,
							   __u32 start)
{
	struct pf_split *sp;
	__u32 zero = 0;

	(void)ctx;
	(void)p;
	sp = bpf_map_lookup_elem(&pf_split, &zero);
	if (sp) {
		bpf_spin_lock(&sp->lock);
		if (!(sp->n || sp->o_n) || sp->start != start || sp->gen) {
			sp->start = start;
			sp->n = sp->gen = sp->o_n = 0;
		}
		bpf_spin_unlock(&sp->lock);
	}
	return sp;
}

/* The mocked socket's head from start, read with n bytes held, let go
 * (its storage cannot be deleted: an array element). */
static __always_inline void pf_split_end(void *ctx, const struct pf_pkt *p, __u32 start, __u32 n)
{
	struct pf_split *sp = pf_split_get(ctx, p);

	if (sp)
		pf_split_let_go(sp, start, 0, n);
}
#else
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pf_split);
} pf_split SEC(".maps");

/* p's server socket's storage for the head from start of n bytes, or
 * to read (pf_split.h). */
static __always_inline struct pf_split *pf_split_hold_get(void *ctx, const struct pf_pkt *p,
							  __u32 start, __u32 n, bool *have)
{
	return pf_split_for(&pf_split, ctx, p, start, n, have);
}

static __always_inline struct pf_split *pf_split_get(void *ctx, const struct pf_pkt *p)
{
	return pf_split_of(&pf_split, ctx, p);
}

/* p's server socket's storage for a piece ahead of the head from start
 * (pf_split.h). */
static __always_inline struct pf_split *pf_split_ahead_get(void *ctx, const struct pf_pkt *p,
							   __u32 start)
{
	return pf_split_for_ahead(&pf_split, ctx, p, start, 0);
}

/* p's server socket's head from start, read with n bytes held: let go,
 * its storage deleted (pf_split_drop). */
static __always_inline void pf_split_end(void *ctx, const struct pf_pkt *p, __u32 start, __u32 n)
{
	pf_split_drop(&pf_split, ctx, p, start, 0, n);
}
#endif

/* Hold the bytes from client wire seq head to the end of segment p (a
 * head not ended in them, fewer than PF_REQ_MAX, checksum verified:
 * pf_frame_seg's 1). passed: client bytes past p went through already
 * (pf_split_passed). 0 if held (or a copy of what is held: nothing new);
 * if passed: 1 where the rest waits as a piece right behind p (p is the
 * head's first segment after its first copy was lost: it joins the
 * piece, pf_split_join); held (0) where a piece waits further on (the
 * segments between, lost too -- a sender's GSO burst dropped whole --
 * come again: pf_split_add); else -2 (nothing will continue it); else
 * -1. */
static __always_inline int pf_split_hold(void *ctx, bool xdp, const struct pf_pkt *p,
					 __u32 head, bool passed)
{
	__u32 n = p->seq + p->pay_len - head;
	struct pf_split *sp;
	bool have;
	int w;

	if (n == 0 || n >= PF_REQ_MAX || head - p->seq >= p->pay_len)
		return -1;
	if (passed) {
		/* a copy of what is held, or its rest kept ahead: the
		 * storage that has it; else nothing will continue it, and
		 * no storage is made for it */
		sp = pf_split_get(ctx, p);
		if (!sp)
			return -2;
		if (pf_split_holds(sp, head, n))
			return 0;
		w = pf_split_waits(sp, head, 0, n);
		if (w == 1 && head == p->seq)
			return 1;
		if (w != 2) {
			pf_split_end(ctx, p, head, 0); /* what it kept, let go */
			return -2;
		}
	} else {
		sp = pf_split_hold_get(ctx, p, head, n, &have);
		if (!sp)
			return -1;
		if (have)
			return 0;
	}
	pf_split_clear(sp);
	if (pf_load_at(ctx, xdp, p, sp->b, head - p->seq, n))
		return -1;
	pf_split_set(sp, head, 0, n);
	pf_count(PF_STAT_SPLIT_HELD);
	return 0;
}

/* Segment p, starting exactly where the head held at the flow's c_next
 * ends (or at c_next itself, where only a piece ahead is held), the
 * client bytes passed so far ending in it or in the piece it reaches
 * (c_hi: p is no segment after a gap, and the hold is no older head's
 * left from before a seq wrap; a copy of p seen first -- corrupted, or
 * dropped by the stack after this hook -- moved c_hi to p's end): its
 * bytes (checksum verified, through s->req) put behind the held ones, at
 * most up to PF_REQ_MAX, and the head so far -- to the piece's end if p
 * reaches it exactly -- copied into s->req; where a piece waits further
 * on (segments between still missing: PF_SPLIT_GAP set) or p reaches
 * one, c_hi may be past p: the bytes past p that went through are the
 * piece's and those behind it. Returns its length | the bytes held
 * before << 16, or 0 when p is not its continuation.
 * (The parse is the caller's: from here, pf_frame_req's call chain was
 * one call deeper than pf_tc_ingress's stack allows -- "combined stack
 * size of 4 calls is 528. Too large".) */
#define PF_SPLIT_GAP (1u << 31) /* pf_split_add: a piece still waits further on */

static __always_inline __u32 pf_split_add(void *ctx, bool xdp, const struct pf_pkt *p,
					  __u32 c_next, __u32 c_hi)
{
	__u32 n1, o_off, o_n, take, end, gap, zero = 0;
	struct pf_scratch *s;
	struct pf_split *sp;
	long n2;

	if (pf_after(p->seq, c_hi))
		return 0; /* after a gap: a piece ahead (pf_split_ahead) */
	sp = pf_split_get(ctx, p);
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!sp || !s || !pf_split_get_run(sp, c_next, 0, p->seq, &n1, &o_off, &o_n))
		return 0;
	/* verified as any segment framed (pf_client_bytes); a bad one is
	 * dropped by the stack, and its retransmission joins */
	n2 = pf_client_bytes(ctx, xdp, p, s, 0);
	if (n2 <= 0)
		return 0;
	take = (__u32)n2 < PF_REQ_MAX - n1 ? (__u32)n2 : PF_REQ_MAX - n1;
	end = o_n && o_off == n1 + take ? o_off + o_n : n1 + take;
	gap = o_n && o_off > n1 + take ? PF_SPLIT_GAP : 0;
	/* c_hi past p: only where p reaches a piece (the bytes past it
	 * went through; its own may be cut at PF_REQ_MAX, those behind it
	 * not kept: pf_split_join's tests) or one waits further on */
	if (end == n1 + take && !gap && pf_after(c_hi, p->seq + p->pay_len))
		return 0;
	if (pf_load_at(ctx, xdp, p, sp->b + (n1 & (PF_REQ_MAX - 1)), 0, take))
		return 0;
	pf_split_copy(sp, s->req, end);
	return end | n1 << 16 | gap;
}

/* Segment p, after the head at the flow's c_next that is not all here
 * (its first segment missing -- lost, or reordered behind p -- or one of
 * its rest): its bytes (checksum verified, through the scratch) kept as
 * the head's piece ahead (pf_split.h) when p is the first such (past any
 * bytes held), continues the one kept or comes right in front of it
 * (past any bytes held), so that the segment missing, once it comes,
 * joins the head whole (pf_split_add) -- before, the head was lost
 * (split_lost: its first segment's copy found its rest passed), or
 * waited for nothing (a middle segment's copy did not contain c_hi).
 * Counted split_ahead. One piece, up to PF_REQ_MAX bytes from the head's
 * start (a head ends before): a segment with a gap to it is not kept.
 * Where the head does not end in what is then held, it is lost
 * (split_lost), as before. Returns 1 if p's bytes were kept, else 0. */
static __always_inline int pf_split_ahead(struct __sk_buff *skb, const struct pf_pkt *p,
					  __u32 c_next)
{
	__u32 off = p->seq - c_next, take, zero = 0;
	struct pf_split_run r;
	struct pf_scratch *s;
	struct pf_split *sp;

	if (!off || off >= PF_REQ_MAX)
		return 0;
	/* up to PF_REQ_MAX from the head's start: a head ends before it */
	take = p->pay_len < PF_REQ_MAX - off ? p->pay_len : PF_REQ_MAX - off;
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	/* verified first: a bad segment (dropped by the stack) makes no
	 * storage */
	if (!s || pf_client_bytes(skb, false, p, s, 0) <= 0)
		return 0;
	sp = pf_split_ahead_get(skb, p, c_next);
	if (!sp || !pf_split_ahead_fits(sp, c_next, 0, off, take, &r) ||
	    pf_load_at(skb, false, p, sp->b + (off & (PF_REQ_MAX - 1)), 0, take) ||
	    !pf_split_ahead_put(sp, c_next, &r, off, take))
		return 0;
	pf_count(PF_STAT_SPLIT_AHEAD);
	return 1;
}

/* The head held at c_next, read with n1 bytes held: now left bytes, or
 * (left 0: joined or lost) let go, its storage deleted (pf_split_end). */
static __always_inline void pf_split_done(void *ctx, const struct pf_pkt *p, __u32 c_next,
					  __u32 n1, __u32 left)
{
	struct pf_split *sp;

	if (!left) {
		pf_split_end(ctx, p, c_next, n1);
		return;
	}
	sp = pf_split_get(ctx, p);
	if (sp)
		pf_split_put_n(sp, c_next, n1, left);
}

/* pf_split_hold, pf_split_add and pf_split_done, global functions (as
 * pf_past_edge_tc): verified once, not on every path into the framing
 * follow. TC only: XDP cannot call for socket storage ("program of this
 * type cannot use helper bpf_sk_storage_get#107"), it hands such a
 * segment to TC ingress (pf_follow_client). head_passed: the head's wire
 * seq, pf_split_hold's passed << 32; next_hi: the flow's c_next, its
 * c_hi << 32; arg: c_next, n1 << 32, left << 48. */
__noinline int pf_split_hold_tc(struct __sk_buff *skb, const struct pf_pkt *p, __u64 head_passed)
{
	if (!skb || !p)
		return -1;
	return pf_split_hold(skb, false, p, (__u32)head_passed, head_passed >> 32);
}

__noinline __u32 pf_split_add_tc(struct __sk_buff *skb, const struct pf_pkt *p, __u64 next_hi)
{
	if (!skb || !p)
		return 0;
	return pf_split_add(skb, false, p, (__u32)next_hi, (__u32)(next_hi >> 32));
}

__noinline int pf_split_done_tc(struct __sk_buff *skb, const struct pf_pkt *p, __u64 arg)
{
	if (skb && p)
		pf_split_done(skb, p, (__u32)arg, (arg >> 32) & 0xffff, arg >> 48);
	return 0;
}

__noinline int pf_split_ahead_tc(struct __sk_buff *skb, const struct pf_pkt *p, __u32 c_next)
{
	if (skb && p)
		return pf_split_ahead(skb, p, c_next);
	return 0;
}

/* Segment p after the flow's c_next (snapshot a; f's c_hi): the rest of
 * a head held there (pf_split_add), parsed by pf_frame_req in s->req. u
 * as pf_frame_seg fills it: the head whole (u->ok, u->next), or lost
 * (not understood, longer than PF_REQ_MAX, a second head behind it);
 * nothing (u->have 0) while it is still not whole, or when p is not its
 * continuation. */
static __always_inline void pf_split_join(struct __sk_buff *skb, const struct pf_pkt *p,
					  const struct pf_adj *a, __u32 c_hi, struct pf_follow *u)
{
	__u64 arg = a->c_next | (__u64)c_hi << 32;
	__u32 r, total, n1, left, zero = 0;
	struct pf_scratch *s;
	long len;

	u->have = 0;
	r = pf_split_add_tc(skb, p, arg);
	if (!r) {
		/* nothing kept (a gap to the piece, or past PF_REQ_MAX):
		 * the mark left as it is -- set, it sends the next whole
		 * head at XDP to TC for nothing (pf_follow_client) */
		if (pf_split_ahead_tc(skb, p, a->c_next))
			u->split = PF_FOLLOW_STORED;
		return;
	}
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!s)
		return;
	total = r & 0xffff;
	n1 = (r >> 16) & 0x7fff;
	u->have = 1;
	u->from = a->c_next;
	u->ok = 0;
	len = pf_frame_req(s, total);
	/* still not whole, all of p added, and the client bytes past it
	 * that went through held too (or a piece still waits further on:
	 * the missing ones between come again): held on; else let go */
	left = len <= 0 && total < PF_REQ_MAX && pf_frame_head_start(s->req, total, &s->r) &&
	       !pf_after(p->seq + p->pay_len, a->c_next + total) &&
	       ((r & PF_SPLIT_GAP) || !pf_after(c_hi, a->c_next + total)) ? total : 0;
	arg = a->c_next | (__u64)n1 << 32 | (__u64)left << 48;
	pf_split_done_tc(skb, p, arg);
	u->split = left ? PF_FOLLOW_STORED : PF_FOLLOW_LET_GO;
	if (left) {
		u->have = 0;
		return;
	}
	/* not understood, too long, or a second head behind it in p, in
	 * the piece it reached or in the client bytes past them that went
	 * through (pipelining, as pf_frame_seg) */
	if (len <= 0 || (__u32)len < total || pf_after(p->seq + p->pay_len, a->c_next + (__u32)len) ||
	    pf_after(c_hi, a->c_next + (__u32)len)) {
		pf_count(PF_STAT_SPLIT_LOST);
		return;
	}
	u->ok = 1;
	u->next = a->c_next + (__u32)len;
	pf_count(PF_STAT_SPLIT_JOINED);
}

/* Have client bytes past segment p gone through (c_hi, read without
 * the lock: it only grows)? Then the rest of a head starting in p passed
 * already (p is a retransmission after its first copy was lost, the
 * segments behind it were not), and holding it would wait for nothing. */
static __always_inline int pf_split_passed(const struct pf_pkt *p, const struct pf_flow *f)
{
	const volatile struct pf_flow *v = f;

	return (v->hi & PF_FLOW_C_HI) && pf_after(v->c_hi, p->seq + p->pay_len);
}

/* A client segment of a tracked flow f (snapshot a): does a request head
 * start in it, at c_next? Then frame it (u). A head before an answer to
 * the request in front of it means pipelining: the framing is lost (the
 * connection's preflights go to the app from then on). A segment past
 * the socket's receive window frames nothing (u->oow, pf_client_oow),
 * nor does a head's start with a wrong TCP checksum (pf_frame_seg,
 * PF_FOLLOW_CSUM). Returns 1 at XDP for a segment whose framing needs
 * the socket's storage -- a split head to hold, or the rest of one -- which XDP
 * cannot call for: hand (a constant) set, the segment is to go to TC
 * ingress untouched (PF_ANS_FOLLOW_TC), which frames it; else (no
 * metadata room to hand it over) the hold is lost, a continuation
 * frames nothing. Else 0. */
static __always_inline int pf_follow_client(void *ctx, bool xdp, const struct pf_pkt *p,
					    const struct pf_adj *a, const struct pf_flow *f,
					    struct pf_follow *u, const bool hand)
{
	const volatile struct pf_flow *v = f;
	struct pf_scratch *s;
	__u32 zero = 0;
	__u64 hg;
	int ret;

	u->have = 0;
	u->split = 0;
	u->oow = pf_client_oow(ctx, xdp, p, a, f);
	/* urgent data: with SO_OOBINLINE off (the default) the socket takes
	 * the byte at seq + urg_ptr - 1 out of the stream the app reads, and
	 * a head framed here would count it -- a pure ACK's pointer may aim
	 * at later bytes too. The framing is lost instead: the connection's
	 * preflights go to the app (a read-only review, stop 52) */
	if ((p->tflags & (PF_TCPF_URG | PF_TCPF_ACK | PF_TCPF_RST | PF_TCPF_SYN)) ==
	    (PF_TCPF_URG | PF_TCPF_ACK) && (a->state & PF_FS_FRAMED) && !u->oow) {
		u->have = 1;
		u->from = a->c_next;
		u->ok = 0;
		return 0;
	}
	if (!pf_payload_queued(p) || !(a->state & PF_FS_FRAMED) || u->oow)
		return 0;
	/* all of it before c_next (body, retransmissions) */
	if (!pf_after(p->seq + p->pay_len, a->c_next))
		return 0;
	/* after it: the rest of a head held (pf_split_join), or a gap (the
	 * head comes with the missing segment) */
	if (pf_after(p->seq, a->c_next)) {
		if (!(a->state & PF_FS_ANSWERED) || !(v->hi & PF_FLOW_C_HI))
			return 0;
		if (xdp)
			return hand;
		pf_split_join(ctx, p, a, v->c_hi, u);
		return 0;
	}
	if (!(a->state & PF_FS_ANSWERED)) {
		u->have = 1;
		u->from = a->c_next;
		u->ok = 0;
		return 0;
	}
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!s) {
		u->have = 1;
		u->from = a->c_next;
		u->ok = 0;
		return 0;
	}
	if (!pf_frame_seg(ctx, xdp, p, s, a->c_next, u)) {
		/* whole here (or lost) after bytes behind it went through,
		 * or where the storage may hold some of it (PF_FLOW_SPLIT: a
		 * GRO-merged copy of a head whose first segment was held,
		 * say): what was held or kept ahead of it (pf_split_ahead:
		 * its body's first bytes, say) is let go -- TC's storage,
		 * once the segment is noted (PF_FOLLOW_DROP). Before, only
		 * a join let go: the rest stayed until the socket closed.
		 * Not for a copy with a wrong checksum (PF_FOLLOW_CSUM): it
		 * frames nothing, and what is held stays for the head */
		if (u->oow != PF_FOLLOW_CSUM && (pf_split_passed(p, f) || (v->hi & PF_FLOW_SPLIT))) {
			if (xdp)
				return hand;
			u->split = PF_FOLLOW_DROP;
		}
		return 0;
	}
	if (xdp) {
		if (hand) {
			u->have = 0;
			return 1;
		}
		pf_count(PF_STAT_SPLIT_LOST); /* framing lost (u) */
		return 0;
	}
	hg = a->c_next | (__u64)pf_split_passed(p, f) << 32;
	ret = pf_split_hold_tc(ctx, p, hg);
	if (ret == 1) {
		pf_split_join(ctx, p, a, v->c_hi, u); /* its rest came first */
	} else if (!ret) {
		u->have = 0; /* held: nothing moves until it is whole */
		u->split = PF_FOLLOW_STORED;
	} else if (ret == -2) {
		pf_count(PF_STAT_SPLIT_LOST);
	}
	return 0;
}

/* A server segment of a tracked flow (snapshot a) whose current request
 * has no answer yet: do bytes at s_mark begin in it? Interim responses
 * (1xx heads) move s_mark past them; anything else is the answer
 * (u->answered). Bytes it cannot read leave the request unanswered (its
 * next preflight goes to the app). */
static __always_inline void pf_follow_server(void *ctx, const struct pf_pkt *p,
					     const struct pf_adj *a, struct pf_follow *u)
{
	struct pf_outbuf *ob;
	__u32 zero = 0, off, n, k;

	u->have = 0;
	u->answered = 0;
	if (!p->pay_len || (a->state & (PF_FS_FRAMED | PF_FS_ANSWERED)) != PF_FS_FRAMED)
		return;
	if (pf_after(p->seq, a->s_mark) || !pf_after(p->seq + p->pay_len, a->s_mark))
		return;
	ob = bpf_map_lookup_elem(&pf_outbuf, &zero);
	if (!ob)
		return;
	u->from = a->s_mark;
	u->next = a->s_mark;
	off = a->s_mark - p->seq;
	/* a 100 Continue and a 103 Early Hints before the answer, at most */
	for (k = 0; k < 3; k++) {
		n = p->pay_len - off;
		if (n > PF_RHEAD_MAX)
			n = PF_RHEAD_MAX;
		if (n < 10 || pf_load_at(ctx, false, p, ob->b, off, n))
			break;
		if (!pf_frame_is_interim(ob->b, 0)) {
			u->answered = 1;
			break;
		}
		if (pf_frame_1xx(ob, n) != PF_P_OK)
			break;
		off += ob->r.len;
		u->next = p->seq + off;
	}
	u->have = u->answered || u->next != a->s_mark;
}

/* The first payload of a connection on an answered port: follow it from
 * here (a flow entry with its framing), if it is a real connection's
 * first byte -- an established socket that has received nothing, the
 * segment at its rcv_nxt, a valid checksum -- and its first request head
 * is understood, or held for the rest (split over segments). Otherwise
 * the connection is never tracked, and its preflights go to the app
 * (pass_framing); a full flow table is counted here (pass_table_full),
 * another CPU's entry for a copy of p not. TC's (XDP hands such a
 * segment to TC, PF_ANS_FOLLOW_TC: a split head is held in socket
 * storage), or XDP's where it has no metadata room to: a split head then
 * not followed. */
static __always_inline void pf_track_first(void *ctx, bool xdp, const struct pf_pkt *p)
{
	struct pf_follow u = {};
	struct pf_scratch *s;
	struct pf_sockinfo *si;
	struct pf_flow *nf;
	__u32 zero = 0;
	__u8 m[8];
	int split;
	long err;

	if (p->pay_len < 8 || (p->tflags & (PF_TCPF_SYN | PF_TCPF_RST | PF_TCPF_URG)) ||
	    !(p->tflags & PF_TCPF_ACK) ||
	    pf_load(ctx, xdp, p->pay_off, m, sizeof(m)))
		return;
	/* cheap first: a request line starts with a method token and SP */
	if (!pf_frame_starts_request(m, sizeof(m)))
		return;
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!s)
		return;
	si = &s->si;
	if (pf_sock(ctx, p, si) || si->closing || si->bytes_received || p->seq != si->rcv_nxt)
		return;
	split = pf_frame_seg(ctx, xdp, p, s, p->seq, &u);
	/* a split first head: held first, the entry then waits at its start
	 * as at any later one -- "the request before answered" (there is
	 * none), c_next at the head */
	if (!u.ok && (!split || xdp || pf_split_hold_tc(ctx, p, p->seq)))
		return;
	nf = (struct pf_flow *)s->nf;
	__builtin_memset(nf, 0, sizeof(*nf));
	nf->gen = bpf_get_prandom_u32();
	nf->resp_acked = 1;
	nf->state = u.ok ? PF_FS_FRAMED : PF_FS_FRAMED | PF_FS_ANSWERED;
	nf->c_next = u.ok ? u.next : p->seq;
	nf->c_hi = p->seq + p->pay_len;
	nf->s_hi = si->write_seq;
	nf->s_mark = si->write_seq;
	nf->hi = PF_FLOW_C_HI | PF_FLOW_S_HI | (u.ok ? 0 : PF_FLOW_SPLIT);
	nf->last_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&pf_flows, &p->key, nf, BPF_NOEXIST);
	if (!err)
		pf_count(PF_STAT_FLOW_CREATED);
	else if (err != -PF_EEXIST)
		/* full: the connection goes untracked, and its preflights
		 * to the app (pass_framing): counted where it is decided */
		pf_count(PF_STAT_PASS_TABLE_FULL);
}

#endif /* PF_FOLLOW_H */
