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
#include "pf_tcp.h"

/* What one segment tells about the flow's framing or answer. */
struct pf_follow {
	__u32 from;      /* the c_next / s_mark it was computed from */
	__u32 next;      /* the new c_next / s_mark */
	__u8  have;      /* something to apply */
	__u8  ok;        /* client: next is valid (0: the framing is lost) */
	__u8  answered;  /* server: a final answer begins at next */
	__u8  oow;       /* client: starts past any window of the socket
			  * (pf_client_oow): tells nothing */
};

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
 * fits PF_REQ_MAX and its checksum is right. Returns the bytes loaded, or
 * -1 (cannot be trusted or read: the framing is lost). */
static __always_inline long pf_client_bytes(void *ctx, bool xdp, const struct pf_pkt *p,
					    struct pf_scratch *s, __u32 from)
{
	bool gro = !xdp && ((struct __sk_buff *)ctx)->gso_segs > 1;
	__u32 n;

	s->head_n = 0; /* s->req is rewritten (see struct pf_scratch) */
	if (from >= p->pay_len)
		return -1;
	if (!gro) {
		if (p->pay_len > PF_REQ_MAX ||
		    pf_load_at(ctx, xdp, p, s->req, 0, p->pay_len) || pf_verify_csum(ctx, xdp, p, s, false))
			return -1;
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
 * lost (u->ok 0): a head not understood or not whole in this segment
 * (split heads are not followed), or a second head in the same segment
 * (the client sent it before any answer: it pipelines). */
static __always_inline void pf_frame_seg(void *ctx, bool xdp, const struct pf_pkt *p,
					 struct pf_scratch *s, __u32 head, struct pf_follow *u)
{
	long n, len;
	__u32 next;

	u->have = 1;
	u->from = head;
	u->ok = 0;
	n = pf_client_bytes(ctx, xdp, p, s, head - p->seq);
	if (n <= 0)
		return;
	len = pf_frame_req(s, (__u32)n);
	if (len <= 0)
		return;
	next = head + (__u32)len;
	if (pf_after(p->seq + p->pay_len, next))
		return;
	u->ok = 1;
	u->next = next;
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

/* A client segment of a tracked flow f (snapshot a): does a request head
 * start in it, at c_next? Then frame it (u). A head before an answer to
 * the request in front of it means pipelining: the framing is lost (the
 * connection's preflights go to the app from then on). A segment past
 * the socket's receive window frames nothing (u->oow, pf_client_oow). */
static __always_inline void pf_follow_client(void *ctx, bool xdp, const struct pf_pkt *p,
					     const struct pf_adj *a, const struct pf_flow *f,
					     struct pf_follow *u)
{
	struct pf_scratch *s;
	__u32 zero = 0;

	u->have = 0;
	u->oow = pf_client_oow(ctx, xdp, p, a, f);
	if (!p->pay_len || !(a->state & PF_FS_FRAMED) || u->oow)
		return;
	/* all of it before c_next (body, retransmissions), or after it (a
	 * gap: the head comes with the missing segment) */
	if (!pf_after(p->seq + p->pay_len, a->c_next) || pf_after(p->seq, a->c_next))
		return;
	if (!(a->state & PF_FS_ANSWERED)) {
		u->have = 1;
		u->from = a->c_next;
		u->ok = 0;
		return;
	}
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!s) {
		u->have = 1;
		u->from = a->c_next;
		u->ok = 0;
		return;
	}
	pf_frame_seg(ctx, xdp, p, s, a->c_next, u);
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
 * is understood. Otherwise the connection is never tracked, and its
 * preflights go to the app (pass_framing); a full flow table is counted
 * here (pass_table_full), another CPU's entry for a copy of p not. */
static __always_inline void pf_track_first(void *ctx, bool xdp, const struct pf_pkt *p)
{
	struct pf_follow u = {};
	struct pf_scratch *s;
	struct pf_sockinfo *si;
	struct pf_flow *nf;
	__u32 zero = 0, k;
	__u8 m[8];
	long err;

	if (p->pay_len < 8 || (p->tflags & (PF_TCPF_SYN | PF_TCPF_RST)) ||
	    !(p->tflags & PF_TCPF_ACK) ||
	    pf_load(ctx, xdp, p->pay_off, m, sizeof(m)))
		return;
	/* cheap first: a request line starts with a method token and SP */
	for (k = 0; k < 8; k++)
		if (m[k] < 'A' || m[k] > 'Z')
			break;
	if (k == 0 || k == 8 || m[k] != ' ')
		return;
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!s)
		return;
	si = &s->si;
	if (pf_sock(ctx, p, si) || si->closing || si->bytes_received || p->seq != si->rcv_nxt)
		return;
	pf_frame_seg(ctx, xdp, p, s, p->seq, &u);
	if (!u.ok)
		return;
	nf = (struct pf_flow *)s->nf;
	__builtin_memset(nf, 0, sizeof(*nf));
	nf->gen = bpf_get_prandom_u32();
	nf->resp_acked = 1;
	nf->state = PF_FS_FRAMED;
	nf->c_next = u.next;
	nf->c_hi = p->seq + p->pay_len;
	nf->s_hi = si->write_seq;
	nf->s_mark = si->write_seq;
	nf->hi = PF_FLOW_C_HI | PF_FLOW_S_HI;
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
