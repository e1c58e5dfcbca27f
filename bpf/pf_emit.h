/* BPF only (TC and XDP): building the response segment in the request's frame (headers, checksums) and sending it. */
/*
 * pf_emit.h -- the answer leaves: pf_send rewrites the request packet
 * (skb or XDP frame) in place (pf_emit) into
 *   - the response to the client (addresses and ports swapped, payload
 *     s->resp), which the caller sends back out of the interface
 *     (TC: bpf_redirect, XDP: XDP_TX), and, at TC, when the request
 *     carried an ack the server has not seen,
 *   - a pure ACK to the server carrying the acknowledgement that was
 *     piggybacked on the consumed request (the server would otherwise
 *     retransmit, and its segments ack the request for the client); the
 *     response then leaves as a clone.
 * XDP frames are resized for the response (pf_xdp_make_room) before the
 * splice is committed. The response's timestamps come from the request's
 * (pf_req_ts).
 */
#ifndef PF_EMIT_H
#define PF_EMIT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_csum.h"
#include "pf_ctx.h"
#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_sock.h"
#include "pf_tcp.h"
#include "pf_test.h"

/* What became of a packet: the result of pf_send and of the answer path
 * (pf_try_answer); the entry points map it to TC_ACT_* / XDP_*. */
enum pf_ans {
	PF_ANS_PASS = 0,  /* not answered: translate (if spliced) and pass */
	PF_ANS_SENT,      /* the packet is now the response: send it back */
	PF_ANS_DROP,      /* drop the segment */
	PF_ANS_ACK,       /* TC: response sent as a clone; the skb is now a
			   * pure ACK for the server, already in its sequence
			   * space: pass it on untranslated */
	PF_ANS_TO_TC,     /* XDP: needs a clone; let TC ingress answer it */
	PF_ANS_FULL,      /* not answered: the flow table is full (counted
			   * pass_table_full): pass, no entry to create */
	PF_ANS_FOLLOW_TC, /* XDP: not answered, its framing may need the
			   * server socket's storage (a split request head,
			   * or a connection's first request: XDP cannot
			   * call for it): let TC ingress follow and
			   * translate it, untouched so far */
};

struct pf_tcp_ts_hdr {
	struct tcphdr th;
	__u8 opt[12];     /* NOP NOP TS(kind 8, len 10, val, ecr) */
};

/* Rewrite the packet in ctx (described by p) into the segment e
 * describes, with payload s->resp[0..len) (len 0: none). Returns 0 or -1
 * (the packet may be half-written: the caller drops it). */
static __always_inline int pf_emit_body(void *ctx, bool xdp, const struct pf_pkt *p,
					struct pf_scratch *s, __u32 len,
					const struct pf_emit *e)
{
	struct pf_tcp_ts_hdr *tp;
	__u32 ip_hlen, thl, l4, new_len, cur;
	const __u8 *src, *dst, *eth;
	__u8 *h;
	__u64 n;
	__s64 sum;
	__u8 *resp;

	if (!ctx || !p || !s || !e || len > PF_RESP_MAX)
		return -1;
	resp = s->resp;
	/* The headers are built in scratch memory, not on the stack (main
	 * program + this frame: "combined stack size ... Too large"), one
	 * after the other as on the wire -- Ethernet, IP, TCP -- ending
	 * where the payload (s->resp) begins, and written together with it
	 * by one store: each helper call (and its return) costs more than
	 * the copy. */
	ip_hlen = p->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	thl = sizeof(struct tcphdr) + (e->has_ts ? 12 : 0);
	l4 = ETH_HLEN + ip_hlen;
	new_len = l4 + thl + len;
	/* at most 96 header bytes: the last 96 of s->hdrs, zeroed at a
	 * constant offset (the 4 possible lengths are 54..86 bytes) */
	for (n = 0; n < 96 / 8; n++)  /* typed: a memset would store bytes */
		*(__u64 *)(s->hdrs + 128 - 96 + 8 * n) = 0;
	h = s->hdrs + ((128 - (l4 + thl)) & 127);
	src = e->to_server ? p->key.caddr : p->key.saddr;
	dst = e->to_server ? p->key.saddr : p->key.caddr;
	resp[PF_O(len)] = 0;
	resp[PF_O(len + 1)] = 0;
	resp[PF_O(len + 2)] = 0;
	eth = s->eth;
	/* XDP: the frame was grown if it had to be, and s->eth saved, by
	 * pf_xdp_make_room; a longer one is cut here, after the commit */
	if (!xdp && (pf_load_hdr(ctx, xdp, 0, s->eth, ETH_HLEN) || pf_resize(ctx, xdp, 0, new_len)))
		return -1;
	if (xdp) {
		cur = pf_ctx_len(ctx, true);
		if (cur > new_len && bpf_xdp_adjust_tail(ctx, (int)new_len - (int)cur))
			return -1;
	}
	/* Ethernet: back to where it came from. A to_server segment is only
	 * ever built over the response just emitted, so swapping again
	 * restores the request's own orientation. */
	/* pf_copy_hdr: h's alignment is unknown to the compiler, so a
	 * __builtin_memcpy would copy byte by byte */
	pf_copy_hdr(h, eth + ETH_ALEN, ETH_ALEN);
	pf_copy_hdr(h + ETH_ALEN, eth, ETH_ALEN);
	pf_copy_hdr(h + 2 * ETH_ALEN, eth + 2 * ETH_ALEN, 2);
	/* TCP header */
	tp = (struct pf_tcp_ts_hdr *)(h + l4);
	tp->th.source = e->to_server ? p->key.cport : p->key.sport;
	tp->th.dest = e->to_server ? p->key.sport : p->key.cport;
	tp->th.seq = bpf_htonl(e->seq);
	tp->th.ack_seq = bpf_htonl(e->ack);
	tp->th.doff = thl / 4;
	tp->th.ack = 1;
	tp->th.psh = len ? 1 : 0;
	tp->th.window = bpf_htons(e->win);
	if (e->has_ts) {
		__u32 v = bpf_htonl(e->tsval), r = bpf_htonl(e->tsecr);

		/* NOP NOP kind len as one word; typed stores (h's alignment
		 * is unknown: a memcpy would store bytes) */
		*(__u32 *)&tp->opt[0] = bpf_htonl(0x0101080a);
		*(__u32 *)&tp->opt[4] = v;
		*(__u32 *)&tp->opt[8] = r;
	}
	/* pseudo header + TCP header + payload -- except at TC for a
	 * CHECKSUM_PARTIAL skb (a local or veth sender with tx offload),
	 * which stays so: whatever completes it (the egress device, or
	 * skb_checksum_help where the device cannot) sums from csum_start
	 * (the TCP header, where it was: the same Ethernet and IP header
	 * lengths) and adds the check field, which must then hold the
	 * folded pseudo-header sum, as the stack's own segments do
	 * (tcp_v4_send_check). A full checksum there came out wrong -- a
	 * stall wherever the checksum is completed (a review finding, stop
	 * 51) */
	sum = pf_csum_pseudo(p->family, src, dst, thl + len);
	if (!xdp && pf_skb_ip_summed(ctx) == PF_CHECKSUM_PARTIAL) {
		tp->th.check = (__u16)pf_csum_fold(sum);
	} else {
		sum = pf_csum_words(tp, thl == 32 ? 8 : 5, 8, (__u32)sum);
		if (len) {
			sum = pf_csum_buf(resp, len, sum);
			if (sum < 0)
				return -1;
		}
		tp->th.check = (__u16)~pf_csum_fold(sum);
	}
	/* IP header */
	if (p->family == 4) {
		struct iphdr *ip = (struct iphdr *)(h + ETH_HLEN);

		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = bpf_htons(ip_hlen + thl + len);
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		pf_copy_hdr(&ip->saddr, src, 4); /* word copies: see the Ethernet header */
		pf_copy_hdr(&ip->daddr, dst, 4);
		sum = pf_csum_words(ip, sizeof(*ip) / 4, sizeof(*ip) / 4, 0);
		ip->check = (__u16)~pf_csum_fold(sum);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(h + ETH_HLEN);

		ip6->version = 6;
		ip6->payload_len = bpf_htons(thl + len);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		pf_copy_hdr(&ip6->saddr, src, 16);
		pf_copy_hdr(&ip6->daddr, dst, 16);
	}
	/* headers and payload, contiguous in s (h ends at s->resp).
	 * Verifier workaround: a 64-bit length tested after a barrier ("R4
	 * min value is negative, either use unsigned ...") */
	n = l4 + thl + len;
	barrier_var(n);
	if (n < 54 || n > 96 + PF_RESP_MAX || pf_store_head(ctx, xdp, h, n, 96 + PF_RESP_MAX))
		return -1;
	if (!xdp && !e->to_server)
		((struct __sk_buff *)ctx)->mark = PF_MARK;
	return 0;
}

/* The two instances, global functions: each is verified once rather than
 * at every call site. */
__noinline int pf_emit_tc(struct __sk_buff *skb, const struct pf_pkt *p,
			  struct pf_scratch *s, __u32 len, const struct pf_emit *e)
{
	return pf_emit_body(skb, false, p, s, len, e);
}

__noinline int pf_emit_xdp(struct xdp_md *xdp, const struct pf_pkt *p,
			   struct pf_scratch *s, __u32 len, const struct pf_emit *e)
{
	return pf_emit_body(xdp, true, p, s, len, e);
}

static __always_inline int pf_emit(void *ctx, bool xdp, const struct pf_pkt *p,
				   struct pf_scratch *s, __u32 len, const struct pf_emit *e)
{
	return xdp ? pf_emit_xdp(ctx, p, s, len, e) : pf_emit_tc(ctx, p, s, len, e);
}

/* Read the request's timestamp option into *t (struct pf_reqts: pf_maps.h).
 * Returns 0, or -1: the option list is malformed, or carries an option
 * besides EOL, NOP, SACK and TS -- one the kernel verifies over the
 * segment (TCP-MD5, kind 19; TCP-AO, 29) or that carries sequence
 * numbers of its own (MPTCP, 30: a DSS mapping), which the response
 * would lack and the later segments' rewrite would break. Such a request
 * is not answered (pass_tcp_opt). The check rides on the walk the
 * timestamp needs; Linux's NOP NOP TS skips it (pf_read_opts). */
static __always_inline int pf_req_ts(void *ctx, bool xdp, const struct pf_pkt *p,
				     struct pf_reqts *t)
{
	struct pf_opts *o = pf_opts_get(PF_DIR_IN);

	if (!o || pf_read_opts(ctx, xdp, p, o) || o->other)
		return -1;
	t->has = o->ts_off != 0;
	if (t->has) {
		t->val = pf_opt_word(o, o->ts_off);
		t->ecr = pf_opt_word(o, o->ts_off + 4);
	}
	return 0;
}

/* Length of the response packet: headers (TCP with the timestamp option
 * if the request had one) plus rlen bytes of payload. */
static __always_inline __u32 pf_resp_len_on_wire(const struct pf_pkt *p,
						 const struct pf_reqts *t, __u32 rlen)
{
	return p->l4_off + 20 + (t->has ? 12 : 0) + rlen;
}

/* Can XDP hand the frame to TC ingress (pf_xdp_ingress: 4 bytes of
 * metadata, PF_ANS_TO_TC)? Tried and undone: a driver without XDP
 * metadata support, or a frame without headroom, cannot. Packet
 * pointers taken before are invalid after. */
static __always_inline bool pf_xdp_meta_ok(void *ctx)
{
	if (pf_xdp_no_meta)
		return true; /* TC takes every frame XDP passes */
	if (PF_TEST_NO_META() || pf_xdp_meta_stub || bpf_xdp_adjust_meta(ctx, -4))
		return false;
	bpf_xdp_adjust_meta(ctx, 4);
	return true;
}

/* XDP only: grow the frame to len bytes now, before anything is
 * committed; veth and many drivers have little tailroom, and a frame that
 * cannot grow goes to TC instead (which can). A frame longer than len
 * keeps its length: pf_emit cuts it after the commit -- cut before it, a
 * commit that fails would grow it back for the app zero-filled (the
 * kernel clears grown tailroom), the request's last bytes lost. Returns
 * 0 or -1. */
static __always_inline int pf_xdp_make_room(void *ctx, struct pf_scratch *s, __u32 len)
{
	__u32 old = pf_ctx_len(ctx, true);
	long r;

	/* the Ethernet header first: growing at the head moves it */
	if (pf_load_hdr(ctx, true, 0, s->eth, ETH_HLEN))
		return -1;
	s->grown = 0;
	if (len <= old)
		return PF_TEST_NO_ROOM() ? -1 : 0;
	r = PF_TEST_NO_ROOM() ? -1 : pf_resize(ctx, true, old, len);
	if (r < 0)
		return -1;
	s->grown = r == PF_GREW_HEAD ? len - old : 0;
	return 0;
}

/* Undo pf_xdp_make_room (nothing has been written): the frame is the
 * request again, byte for byte (len: where its IP packet ends; Ethernet
 * padding behind it is cut). */
static __always_inline void pf_xdp_undo_room(void *ctx, struct pf_scratch *s, __u32 len)
{
	if (s->grown)
		bpf_xdp_adjust_head(ctx, (int)s->grown);
	else
		bpf_xdp_adjust_tail(ctx, (int)len - (int)pf_ctx_len(ctx, true));
}

/* Send the response in s->resp (rlen bytes) at wire seq rseq. TSval: the
 * socket's clock, or the request's TSecr if later (a value the client
 * already accepted) -- never below what the server last sent, or the
 * client's PAWS check drops it. If the request carried an ack the server
 * has not processed (ack_s != snd_una), the response leaves as a clone
 * and the skb becomes a pure ACK to the server: otherwise the server
 * retransmits, and its segments ack the consumed request, so the client
 * would stop retransmitting it even if our response was lost. XDP cannot
 * clone: pf_try_answer hands such requests to TC before calling this. */
static __always_inline int pf_send(void *ctx, bool xdp, const struct pf_pkt *p,
				   struct pf_scratch *s, __u32 rlen, __u32 rseq,
				   const struct pf_sockinfo *si, __u32 ack_s, __u32 srv_seq,
				   const struct pf_reqts *tp)
{
	struct pf_emit *ep = &s->e;
	__u32 mark;

	__builtin_memset(ep, 0, sizeof(*ep));
	ep->seq = rseq;
	ep->ack = p->seq + s->r.len;
	ep->win = pf_raw_window(si);
	ep->has_ts = (__u8)tp->has;
	/* "has a clock" first: any ts_now is a valid reading, and a TSecr
	 * compared with an unknown clock of 0 would lose for half of all
	 * values (the response then carrying TSval 0) */
	ep->tsval = !si->ts_ok || pf_after(tp->ecr, si->ts_now) ? tp->ecr : si->ts_now;
	ep->tsecr = tp->val;
	if (xdp || ack_s == si->snd_una) {
		if (pf_emit(ctx, xdp, p, s, rlen, ep))
			return PF_ANS_DROP;
		return PF_ANS_SENT;
	}
	mark = ((struct __sk_buff *)ctx)->mark;
	if (pf_emit(ctx, xdp, p, s, rlen, ep))
		return PF_ANS_DROP;
	if (bpf_clone_redirect(ctx, ((struct __sk_buff *)ctx)->ifindex, 0))
		pf_count(PF_STAT_PASS_ERROR); /* the retransmitted request heals it */
	ep->to_server = 1;
	ep->seq = srv_seq;
	ep->ack = ack_s;
	ep->win = p->win_raw;
	ep->tsval = tp->val;
	ep->tsecr = tp->ecr;
	if (pf_emit(ctx, xdp, p, s, 0, ep))
		return PF_ANS_DROP;
	((struct __sk_buff *)ctx)->mark = mark;
	return PF_ANS_ACK;
}

#endif /* PF_EMIT_H */
