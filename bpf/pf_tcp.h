/* BPF only (TC and XDP): the seqadj mapping of spliced connections (seq, ack), TCP options and SACK blocks. */
/*
 * pf_tcp.h -- every segment of a spliced connection, after the splice, has
 * its sequence space translated so that the client sees the injected
 * response and the server never sees the consumed request. The mapping is
 * documented on struct pf_flow (include/pf_structs.h).
 */
#ifndef PF_TCP_H
#define PF_TCP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_csum.h"
#include "pf_ctx.h"
#include "pf_maps.h"
#include "pf_pkt.h"

/* Serial-number arithmetic (RFC 1982), like the kernel's before/after. */
static __always_inline int pf_before(__u32 a, __u32 b) { return (__s32)(a - b) < 0; }
static __always_inline int pf_after(__u32 a, __u32 b)  { return (__s32)(b - a) < 0; }

/* A copy of the correction fields: consistent when taken under the lock
 * (pf_flow_snapshot); pf_flow_peek's may mix two states. gen identifies
 * the state it was taken from (see struct pf_flow). */
struct pf_adj {
	__u32 gen;
	__u32 c_pos, c_before, c_after;
	__u32 s_pos, s_before, s_after;
	__u32 c_next, s_mark;
	__u16 req_len, resp_len;
	__u8  resp_acked, state;
};

/* The copy's fields from the entry, each read once (volatile): what a
 * copy taken without the lock then uses is what pf_adj_torn compares. */
static __always_inline void pf_adj_read(const volatile struct pf_flow *v, struct pf_adj *a)
{
	a->gen = v->gen;
	a->c_pos = v->c_pos;
	a->c_before = v->c_before;
	a->c_after = v->c_after;
	a->s_pos = v->s_pos;
	a->s_before = v->s_before;
	a->s_after = v->s_after;
	a->req_len = v->req_len;
	a->resp_len = v->resp_len;
	a->resp_acked = v->resp_acked;
	a->state = v->state;
	a->c_next = v->c_next;
	a->s_mark = v->s_mark;
}

/* a, a consistent copy of f under its lock: 0, or -1 (pf_flow_lock
 * failed, a not filled). */
static __always_inline int pf_flow_snapshot(struct pf_flow *f, struct pf_adj *a)
{
	if (pf_flow_lock(f))
		return -1;
	pf_adj_read(f, a);
	pf_flow_unlock(f);
	return 0;
}

/* The same fields read without the lock, for the answer path
 * (pf_try_answer) and the translation (pf_translate_in / _out): one lock
 * window fewer per segment of a tracked connection, two per client data
 * segment. A commit on another CPU meanwhile can make the copy mix two
 * states; under the lock, pf_commit or pf_flow_note then finds a field
 * the guards or the rewrite used no longer the entry's and loses the
 * race as it does when gen moved (pf_adj_torn): the segment is dropped
 * (its sender sends it again). A copy that finds a retransmission is
 * taken again under the lock before anything is re-answered from it (no
 * commit checks a re-answer). */
static __always_inline void pf_flow_peek(const struct pf_flow *f, struct pf_adj *a)
{
	pf_adj_read(f, a);
	/* the copy stays in memory, as the locked one does (past the lock
	 * helper calls): split into registers, its spills made TC's main
	 * frame 304 -> 368 bytes ("combined stack size of 4 calls is 560.
	 * Too large") */
	asm volatile("" : : "r"(a) : "memory");
}

/* Under f's lock: is the copy a no longer f's state -- gen moved (a
 * commit since a was read), or a, read without the lock (pf_flow_peek),
 * mixes two states? Only a commit or a fold (pf_flow_fold) changes the
 * correction fields and the lengths (and gen with them), and only a
 * commit clears resp_acked (set
 * by the client's ACK, pf_flow_note): in a consistent copy with the
 * entry's gen they are all the entry's, and resp_acked is the entry's or
 * an earlier 0 -- no segment is dropped outside the race. Checked by
 * value, whatever wrote the entry: no sequence count. state, c_next and
 * s_mark, which other segments change, pf_commit and pf_flow_note check
 * against the entry themselves. */
static __always_inline int pf_adj_torn(const struct pf_flow *f, const struct pf_adj *a)
{
	return f->gen != a->gen ||
	       ((f->c_pos ^ a->c_pos) | (f->c_before ^ a->c_before) |
		(f->c_after ^ a->c_after) | (f->s_pos ^ a->s_pos) |
		(f->s_before ^ a->s_before) | (f->s_after ^ a->s_after) |
		(__u32)(f->req_len ^ a->req_len) | (__u32)(f->resp_len ^ a->resp_len)) != 0 ||
	       (a->resp_acked && !f->resp_acked);
}

/* Is the unlocked copy a (pf_flow_peek) still f's state, read under the
 * lock? For a segment rewritten from a that then takes no pf_flow_note
 * (a helper failed after the seq/ack rewrite): it passes only if what
 * the rewrite used is the entry's, as pf_flow_note's check would. */
static __always_inline int pf_flow_same(struct pf_flow *f, const struct pf_adj *a)
{
	int same;

	if (pf_flow_lock(f))
		return 0;
	same = !pf_adj_torn(f, a);
	pf_flow_unlock(f);
	return same;
}

/* Does payload starting at client wire seq x start inside the consumed
 * request of a? At its first byte (pf_at_consumed) it is a copy of the
 * request: answered again (pf_reanswer) or dropped, never passed -- the
 * app would read the request as its next bytes. Past it (a keepalive
 * probe's garbage octet at the client's snd_una - 1, a re-segmented
 * retransmission) it is translated and passed: pf_seq_in maps wire
 * c_pos + j (j < req_len) to socket c_pos - req_len + j, below the
 * socket's rcv_nxt (old data the kernel acks and trims), and wire
 * c_pos + req_len + k to socket c_pos + k, where it belongs. */
static __always_inline int pf_in_consumed(const struct pf_adj *a, __u32 x)
{
	return a->req_len && !pf_before(x, a->c_pos) && pf_before(x, a->c_pos + a->req_len);
}

/* Does payload at client wire seq x start at the consumed request's
 * first byte (a copy of the request)? */
static __always_inline int pf_at_consumed(const struct pf_adj *a, __u32 x)
{
	return a->req_len && x == a->c_pos;
}

/* Client wire seq -> server socket seq (deletion of the request). The
 * consumed request maps below the socket's rcv_nxt, as if the socket had
 * received it: what reaches the socket from there is old, as it would be
 * without the splice. That is what a zero-length segment inside it is --
 * a keepalive or window probe at the client's snd_una - 1 must reach the
 * server as rcv_nxt - 1, out of window, so the server acks it (mapped
 * onto rcv_nxt, an in-order pure ACK, it got no reply and the client
 * aborted the idle connection); an RST there is out of window, so only
 * the client's real snd_nxt is exact (RFC 5961). Payload that starts
 * past the request's first byte goes below rcv_nxt alike
 * (pf_in_consumed); a copy of the request (at c_pos) never gets here,
 * and a segment that starts before the request and reaches into it is
 * placed by pf_seg_in. */
static __always_inline __u32 pf_seq_in(const struct pf_adj *a, __u32 x)
{
	if (pf_before(x, a->c_pos))
		return x - a->c_before;
	return x - a->c_after;
}

/* Does client payload p start before the consumed request of a and
 * reach into it? Only a retransmission can: the splice answered p's
 * request only when the socket had every byte before it (rcv_nxt ==
 * c_pos - c_before) and nothing past it had gone through (c_hi), so a
 * segment covering both the bytes before the request and the request
 * was sent again -- Linux collapses small segments into one at an RTO
 * (tcp_retrans_try_collapse) when the ack of the data before the
 * request and the answer were both lost -- or merged by GRO from
 * retransmitted segments (TC). */
static __always_inline int pf_spans_consumed(const struct pf_adj *a, const struct pf_pkt *p)
{
	return a->req_len && p->pay_len && pf_before(p->seq, a->c_pos) &&
	       pf_after(p->seq + p->pay_len, a->c_pos);
}

/* Client segment p -> the server socket seq of its first byte: pf_seq_in,
 * except for a segment that spans the consumed request's start
 * (pf_spans_consumed). From its start (c_before) such a segment put the
 * request at the socket's rcv_nxt, and the app read it as new data. No
 * seq alone can cut the request out of the middle of a payload, so the
 * socket takes none of it: the whole segment, a FIN included, ends at
 * socket c_pos - c_before, at or below rcv_nxt (rcv_nxt was that at the
 * splice and only grows): old data, which the kernel drops and acks
 * with rcv_nxt. Its bytes before the request are old anyway (the socket
 * had them); bytes after the request, had they been mapped where they
 * belong (the segment placed by its end, c_after), would have been new
 * and moved the server's ack past the request -- and the segment exists
 * only because the client's snd_una was before the request, i.e. it
 * has no ack of the request, so most likely not the answer either: told
 * its request arrived, it would never send it again, and nobody answers
 * it (pipelined, it would even take the next response for the
 * preflight's). Taken as old, the server's ack stays at rcv_nxt: at the
 * request while the response is not acked (pf_ack_out_field's clamp),
 * the client drops the octets before it from its queue and sends again
 * from the request -- answered again (pf_reanswer) -- and then what
 * follows it, which lands where it belongs. A socket that already had
 * some bytes after the request acks past them as it would without this
 * segment. Counted retx_span_passed (pf_try_answer).
 * A pure ACK exactly at the request's first byte was sent before it (the
 * client's snd_nxt moved past the request when it sent it; keepalive and
 * window probes come at snd_una - 1, past or before it), and arrives
 * after the splice: reordered on the way, or overtaken by an XDP answer
 * while TC ingress had not seen it yet (docs/tcp-splice.md section 4).
 * It maps as before the splice, onto the socket's rcv_nxt then: in
 * order, its ack and window taken (mapped after the request, it fell
 * below rcv_nxt by the request's length: a duplicate ACK back, its
 * window ignored). A FIN or RST there keeps the old-data mapping --
 * but for a reset without ACK while the response is not acked: the
 * client's stack answering, with no socket left (a crash, a reboot, a
 * response never received), a server segment whose ack pf_ack_out_field
 * held back at the request; tcp_v4_send_reset takes that ack for its
 * seq. It maps onto rcv_nxt, exact, and resets the socket at once.
 * Mapped after the request it fell below rcv_nxt and was dropped: the
 * server's socket lingered, retransmitting, and a new connection on the
 * tuple got challenge ACKs until it died (a read-only review, stop 52).
 * A live client's reset carries ACK and its snd_nxt, past the request. */
static __always_inline __u32 pf_seg_in(const struct pf_adj *a, const struct pf_pkt *p)
{
	if (pf_spans_consumed(a, p))
		return a->c_pos - a->c_before - p->pay_len - ((p->tflags & PF_TCPF_FIN) ? 1 : 0);
	if (!p->pay_len && a->req_len && p->seq == a->c_pos &&
	    (!(p->tflags & (PF_TCPF_FIN | PF_TCPF_RST | PF_TCPF_SYN)) ||
	     (!a->resp_acked &&
	      (p->tflags & (PF_TCPF_RST | PF_TCPF_ACK | PF_TCPF_FIN | PF_TCPF_SYN)) == PF_TCPF_RST)))
		return p->seq - a->c_before;
	return pf_seq_in(a, p->seq);
}

/* Client wire ack (of server data) -> socket space (insertion of the
 * response). Acks inside the response clamp to its start P. Without a
 * response (resp_len 0: folded, pf_flow_fold, or tracked only) there is
 * nothing to clamp: exactly 2^31 past s_pos, v is both after s_pos and
 * before s_pos + 0 (serial arithmetic), and would clamp to s_pos. */
static __always_inline __u32 pf_ack_in(const struct pf_adj *a, __u32 x)
{
	__u32 v = x - a->s_before;

	if (!a->resp_len || !pf_after(v, a->s_pos))
		return v;
	if (!pf_before(v, a->s_pos + a->resp_len))
		return x - a->s_after;
	return a->s_pos;
}

/* Server socket seq -> wire seq. */
static __always_inline __u32 pf_seq_out(const struct pf_adj *a, __u32 x)
{
	return pf_before(x, a->s_pos) ? x + a->s_before : x + a->s_after;
}

/* Server ack (socket space of client data) -> wire: acks at or beyond
 * the request position also cover the consumed request. */
static __always_inline __u32 pf_ack_out(const struct pf_adj *a, __u32 x)
{
	return pf_before(x, a->c_pos - a->c_before) ? x + a->c_before :
						       x + a->c_after;
}

/* The right edge of a server SACK block (socket space of client data)
 * -> wire. An edge is exclusive: the block's last octet x - 1 decides
 * the side. A D-SACK (RFC 2883) of client data just before the consumed
 * request ends at its socket seq c_pos - c_before, which pf_ack_out
 * (an ack covers the request) took to c_pos + req_len: the consumed
 * request reported as received twice, past the clamped ack. */
static __always_inline __u32 pf_sack_end_out(const struct pf_adj *a, __u32 x)
{
	return pf_after(x, a->c_pos - a->c_before) ? x + a->c_after : x + a->c_before;
}

/* The ack field of a server segment -> wire. Until the client has acked
 * the latest response (resp_acked), an ack at the request position stops
 * short of the consumed request: were the response lost, an unrelated
 * server segment (a window update, a keepalive, a FIN) would otherwise
 * tell the client its request was delivered, and it would wait forever
 * for an answer nobody sends again. Held back, the client retransmits the
 * request and pf_reanswer answers it again. To the client the clamped ack
 * is an old one: ignored until the response is acked. SACK edges keep
 * pf_ack_out (a clamped left edge would SACK the request). */
static __always_inline __u32 pf_ack_out_field(const struct pf_adj *a, __u32 x,
					      __u8 resp_acked)
{
	if (!resp_acked && x == a->c_pos - a->c_before)
		return a->c_pos;
	return pf_ack_out(a, x);
}

/* Replace the 32-bit word at off, old_h, with new_h (host order), fixing
 * the checksum at csum_off incrementally (correct for CHECKSUM_PARTIAL
 * too). The difference ~o + n is summed by hand (pf_csum_wide), not by
 * bpf_csum_diff: congruent to the helper's, modulo 0xffff, and nonzero
 * like it, so pf_csum_apply folds it to the same checksum -- one helper
 * call and return fewer per rewritten word (seq, ack, SACK edges, an
 * ICMP error's quoted seq). Returns 0, or -1 on a helper failure. */
static __always_inline int pf_put_word(void *ctx, bool xdp, __u32 csum_off, __u32 off,
				       __u32 old_h, __u32 new_h)
{
	__be32 o = bpf_htonl(old_h), n = bpf_htonl(new_h);
	__u32 diff;

	if (o == n)
		return 0;
	diff = pf_csum_wide((__u64)(__u32)~o + (__u32)n);
	if (pf_csum_apply(ctx, xdp, csum_off, diff))
		return -1;
	return pf_store(ctx, xdp, off, &n, sizeof(n)) ? -1 : 0;
}

/* pf_put_word for a word of segment p: its TCP checksum fixed. */
static __always_inline int pf_set_word(void *ctx, bool xdp, const struct pf_pkt *p,
				       __u32 off, __u32 old_h, __u32 new_h)
{
	return pf_put_word(ctx, xdp, p->l4_off + 16, off, old_h, new_h);
}

/* Replace the two words at off and off + 4 (a segment's seq and ack:
 * host order o1 -> n1, o2 -> n2) as two pf_set_word calls would, but
 * when both change with one checksum update and one 8-byte store: the
 * summed difference of both is congruent to the two applied in turn and
 * every sum folded is nonzero either way (pf_csum_wide), so the checksum
 * comes out the same 16 bits -- two helper calls fewer per translated
 * segment at TC, three at XDP. */
static __always_inline int pf_set_words(void *ctx, bool xdp, const struct pf_pkt *p,
					__u32 off, __u32 o1, __u32 n1, __u32 o2, __u32 n2)
{
	__be32 n[2] = { bpf_htonl(n1), bpf_htonl(n2) };
	__u32 diff;

	if (o1 == n1)
		return pf_set_word(ctx, xdp, p, off + 4, o2, n2);
	if (o2 == n2)
		return pf_set_word(ctx, xdp, p, off, o1, n1);
	diff = pf_csum_wide((__u64)(__u32)~bpf_htonl(o1) + (__u32)n[0] +
			    (__u32)~bpf_htonl(o2) + (__u32)n[1]);
	if (pf_csum_apply(ctx, xdp, p->l4_off + 16, diff))
		return -1;
	return pf_store(ctx, xdp, off, n, sizeof(n)) ? -1 : 0;
}

/* TCP options of one segment. */
struct pf_opts {
	__u8  b[72];     /* 40 used; slack for masked reads */
	__u8  nb[40];    /* rewritten copy (SACK translation, stripping) */
	__u32 len;
	__u32 ts_off;    /* offset of TSval in b, 0: none */
	__u32 sack_off;  /* offset of the SACK kind byte in b */
	__u32 sack_len;  /* option length incl. kind/len, 0: no SACK */
	__u32 i;
	__u32 bad;
	__u32 other;     /* an option besides EOL, NOP, SACK, TS (pf_req_ts) */
};

/* bpf_loop callback: look at the option at o->i. */
PF_CALLBACK long pf_opt_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_opts *o = hd->w;
	__u32 i = o->i, l;
	__u8 kind;

	(void)idx;
	if (i >= o->len || i >= 39)
		return 1;
	kind = o->b[i];
	if (kind == 0)
		return 1;                /* EOL */
	if (kind == 1) {
		o->i = i + 1;            /* NOP */
		return 0;
	}
	if (i + 1 >= o->len) {
		o->bad = 1;
		return 1;
	}
	l = o->b[i + 1];
	if (l < 2 || i + l > o->len) {
		o->bad = 1;
		return 1;
	}
	if (kind == 8 && l == 10)
		o->ts_off = i + 2;
	if (kind == 5 && l >= 10 && (l - 2) % 8 == 0) {
		o->sack_off = i;
		o->sack_len = l;
	}
	if (kind != 5 && kind != 8)
		o->other = 1;
	o->i = i + l;
	return 0;
}

/* TCP options being looked at: per CPU, index PF_DIR_IN or PF_DIR_OUT
 * (kept off the 512-byte stack: "combined stack size ... Too large"). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pf_opts);
} pf_optbuf SEC(".maps");

static __always_inline struct pf_opts *pf_opts_get(int dir)
{
	__u32 k = dir;

	return bpf_map_lookup_elem(&pf_optbuf, &k);
}

/* Walk the o->len option bytes in o->b (o->ts_off etc. were reset by the
 * caller): sets ts_off, sack_off, sack_len, other. Returns 0, or -1 if
 * malformed. Only for a layout other than Linux's NOP NOP TS (e.g. with
 * SACK blocks). A global function, verified once with unknown options,
 * not at every inlined call site in every state reaching it (7.6k of
 * pf_tc_ingress's, 6.5k of pf_xdp_ingress's processed instructions:
 * keeps the programs far from "BPF program is too large. Processed
 * 1000001 insn"). */
__noinline int pf_walk_opts(struct pf_opts *o)
{
	struct pf_hold hd = { .w = o };

	/* pointers of a global function may be NULL as far as the verifier
	 * knows */
	if (!o)
		return -1;
	bpf_loop(40, pf_opt_cb, &hd, 0);
	return o->bad ? -1 : 0;
}

/* Load and walk the options of p. Returns 0, or -1 if malformed. */
static __always_inline int pf_read_opts(void *ctx, bool xdp, const struct pf_pkt *p,
					struct pf_opts *o)
{
	__u64 n = p->tcp_hlen;

	o->len = 0;
	o->ts_off = 0;
	o->sack_off = 0;
	o->sack_len = 0;
	o->i = 0;
	o->bad = 0;
	o->other = 0;
	if (n <= 20)
		return 0;
	n -= 20;
	/* Verifier workaround: keep test and helper argument on one 64-bit
	 * register ("R4 min value is negative, either use unsigned ..."). */
	barrier_var(n);
	if (n > 40)
		return -1;
	/* 12: NOP NOP TS, what Linux sends */
	if (n == 12 ? pf_load_hdr(ctx, xdp, p->l4_off + 20, o->b, 12) :
		      pf_load(ctx, xdp, p->l4_off + 20, o->b, n))
		return -1;
	o->len = (__u32)n;
	/* Linux sends NOP NOP TS first: skip the walk for the common case
	 * (the 4 bytes 1 1 8 10 compared as one word) */
	if (n == 12 && *(const __u32 *)(const void *)o->b == bpf_htonl(0x0101080a)) {
		o->ts_off = 4;
		return 0;
	}
	return pf_walk_opts(o);
}

/* After pf_read_opts failed: were the options loaded and malformed only
 * past what o holds (o->bad)? Linux's tcp_parse_options stops at a bad
 * option (a length below 2, or past the end) and the segment is taken
 * with the options before it -- a SACK among them is acted on. A load
 * that failed leaves o->bad 0. */
static __always_inline bool pf_opts_partial(const struct pf_opts *o)
{
	return o->bad != 0;
}

static __always_inline __u32 pf_opt_word(const struct pf_opts *o, __u32 off)
{
	if (off + 4 > 40)
		return 0;
	/* Verifier workaround: the test above is on a zero-extended copy
	 * ("invalid unbounded variable-offset read from stack"); mask the
	 * index itself (b has 72 bytes). One (unaligned) 4-byte load: a
	 * __builtin_memcpy of b's bytes would load them one by one. */
	return bpf_ntohl(*(const __u32 *)(const void *)&o->b[off & 63]);
}

/* Write o->nb, the rewritten copy of p's option area (o->len bytes),
 * over it, the checksum fixed with the diff of the whole area: a
 * multiple of 4 bytes, which bpf_csum_diff takes whole, and right
 * wherever the words changed in it lie -- a SACK edge at an odd offset
 * (one NOP before the option, RFC 2018 allows it) spans three 16-bit
 * checksum words, which pf_put_word's difference of one 32-bit word
 * would get wrong. Returns 0, or -1 on a helper failure. */
static __always_inline int pf_opts_commit(void *ctx, bool xdp, const struct pf_pkt *p,
					  struct pf_opts *o)
{
	__u32 n = o->len;
	__s64 diff;

	if (n == 0 || n > 40 || (n & 3))
		return -1;
	diff = bpf_csum_diff((__be32 *)o->b, n, (__be32 *)o->nb, n, 0);
	if (diff < 0)
		return -1;
	if (pf_csum_apply(ctx, xdp, p->l4_off + 16, (__u32)diff))
		return -1;
	return pf_store(ctx, xdp, p->l4_off + 20, o->nb, n) ? -1 : 0;
}

/* Put v (host order) at offset off of the rewritten copy o->nb. */
static __always_inline void pf_opt_put(struct pf_opts *o, __u32 off, __u32 v)
{
	if (off + 4 > 40)
		return;
	/* masked as pf_opt_word's (nb and the fields after it hold 68) */
	*(__u32 *)(void *)&o->nb[off & 63] = bpf_htonl(v);
}

/* Translate the SACK blocks of p (its options in pf_optbuf[dir]):
 * inbound blocks refer to server data (insertion map), outbound ones to
 * client data (deletion map). Inbound blocks that touch the injected
 * response are not moved but removed, the whole option overwritten with
 * NOPs: shifted, they would land below snd_una, which Linux reads as
 * D-SACK. Both rewrite a copy of the options, written back at once
 * (pf_opts_commit). Returns 0 or -1 on a helper failure. Pointers of a
 * global function (the callers below) may be NULL as far as the
 * verifier knows. */
static __always_inline int pf_fix_sack_body(void *ctx, bool xdp, const struct pf_pkt *p,
					    const struct pf_adj *a, int dir)
{
	__u32 nblk, j, k, base, s, e, ns, ne, rs, re, off, moved = 0;
	struct pf_opts *o = pf_opts_get(dir);

	if (!p || !o || !a)
		return -1;
	nblk = (o->sack_len - 2) / 8;
	base = o->sack_off + 2;
	__builtin_memcpy(o->nb, o->b, 40);
	if (dir == PF_DIR_IN && a->resp_len) {  /* tracked-only flows: none */
		rs = a->s_pos + a->s_before;            /* response on the wire */
		re = rs + a->resp_len;
		for (j = 0; j < 4 && j < nblk; j++) {
			s = pf_opt_word(o, base + j * 8);
			e = pf_opt_word(o, base + j * 8 + 4);
			if (pf_before(s, re) && pf_after(e, rs)) {
				for (k = 0; k < 40; k++)
					if (k >= o->sack_off && k < o->sack_off + o->sack_len)
						o->nb[k] = 1;
				if (pf_opts_commit(ctx, xdp, p, o))
					return -1;
				pf_count(PF_STAT_SACK_STRIPPED);
				return 0;
			}
		}
	}
	for (j = 0; j < 4 && j < nblk; j++) {
		off = base + j * 8;
		s = pf_opt_word(o, off);
		e = pf_opt_word(o, off + 4);
		ns = dir == PF_DIR_IN ? pf_ack_in(a, s) : pf_ack_out(a, s);
		ne = dir == PF_DIR_IN ? pf_ack_in(a, e) : pf_sack_end_out(a, e);
		moved |= (ns ^ s) | (ne ^ e);
		pf_opt_put(o, off, ns);
		pf_opt_put(o, off + 4, ne);
	}
	/* nothing moved (a connection followed, never spliced: every SACK
	 * of its losses): nothing written, no helper called */
	if (moved && pf_opts_commit(ctx, xdp, p, o))
		return -1;
	if (nblk)
		pf_count(PF_STAT_SACK_TRANSLATED);
	return 0;
}

/* The two instances, global functions: each is verified once, with
 * unknown arguments, not once per caller's state -- inline, the SACK
 * walk (4 blocks, the 40-byte strip) was re-walked on every path into
 * the translation, a third of pf_xdp_ingress's processed instructions
 * (keeps the programs far from "BPF program is too large. Processed
 * 1000001 insn"). They look the options up themselves: a pointer to them
 * kept live across the call grew pf_tc_ingress's frame past "combined
 * stack size of 4 calls is 528. Too large". */
__noinline int pf_fix_sack_tc(struct __sk_buff *skb, const struct pf_pkt *p,
			      const struct pf_adj *a, int dir)
{
	return pf_fix_sack_body(skb, false, p, a, dir);
}

__noinline int pf_fix_sack_xdp(struct xdp_md *xdp, const struct pf_pkt *p,
			       const struct pf_adj *a, int dir)
{
	return pf_fix_sack_body(xdp, true, p, a, dir);
}

/* pf_fix_sack_body for a segment with a SACK option (rare: after a
 * loss); the others, every segment of a spliced connection, make no
 * call. */
static __always_inline int pf_fix_sack(void *ctx, bool xdp, const struct pf_pkt *p,
				       struct pf_opts *o, const struct pf_adj *a, int dir)
{
	if (!o->sack_len)  /* sack_off 0 is a SACK first in the list */
		return 0;
	return xdp ? pf_fix_sack_xdp(ctx, p, a, dir) : pf_fix_sack_tc(ctx, p, a, dir);
}

#endif /* PF_TCP_H */
