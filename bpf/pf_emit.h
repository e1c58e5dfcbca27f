/* BPF: rewriting a request skb into a whole new segment (headers, checksums) at TC. */
/*
 * pf_emit.h -- rewrite the request packet (skb or XDP frame) in place into either
 *   - the response to the client (addresses and ports swapped, payload
 *     s->resp), which the caller redirects out of the interface, or
 *   - a pure ACK to the server carrying the acknowledgement that was
 *     piggybacked on the consumed request (the server would otherwise
 *     retransmit, and its segments ack the request for the client).
 */
#ifndef PF_EMIT_H
#define PF_EMIT_H

struct pf_emit {
	__u32 seq;        /* wire seq (host order) */
	__u32 ack;        /* ack (host order) */
	__u16 win;        /* raw (scaled) window, host order */
	__u8  has_ts;
	__u8  to_server;  /* 1: client -> server pure ACK, no payload */
	__u32 tsval;      /* host order */
	__u32 tsecr;      /* host order */
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
	struct ethhdr *eth;
	__u32 ip_hlen, thl, l4, new_len;
	const __u8 *src, *dst;
	__s64 sum;
	__u8 *resp;

	if (!ctx || !p || !s || !e || len > PF_RESP_MAX)
		return -1;
	resp = s->resp;
	/* headers are built in scratch memory, not on the stack (main
	 * program + this frame: "combined stack size ... Too large") */
	tp = (struct pf_tcp_ts_hdr *)s->hdrs;
	__builtin_memset(tp, 0, sizeof(*tp));
	ip_hlen = p->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	thl = sizeof(struct tcphdr) + (e->has_ts ? 12 : 0);
	l4 = ETH_HLEN + ip_hlen;
	new_len = l4 + thl + len;
	src = e->to_server ? p->key.caddr : p->key.saddr;
	dst = e->to_server ? p->key.saddr : p->key.caddr;
	resp[PF_O(len)] = 0;
	resp[PF_O(len + 1)] = 0;
	resp[PF_O(len + 2)] = 0;
	eth = (struct ethhdr *)s->eth;
	/* XDP: the frame was resized and s->eth saved by pf_xdp_make_room */
	if (!xdp && (pf_load(ctx, xdp, 0, eth, sizeof(*eth)) ||
		     pf_resize(ctx, xdp, new_len)))
		return -1;
	{
		/* Ethernet: back to where it came from. A to_server segment is
		 * only ever built over the response just emitted, so swapping
		 * again restores the request's own orientation. */
		__u8 tmp[ETH_ALEN];

		__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
		__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	}
	if (pf_store(ctx, xdp, 0, eth, sizeof(*eth)))
		return -1;
	/* TCP header */
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

		tp->opt[0] = 1;
		tp->opt[1] = 1;
		tp->opt[2] = 8;
		tp->opt[3] = 10;
		__builtin_memcpy(&tp->opt[4], &v, 4);
		__builtin_memcpy(&tp->opt[8], &r, 4);
	}
	/* pseudo header + TCP header + payload */
	sum = pf_csum_pseudo(s->pseudo, p->family, src, dst, thl + len);
	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)tp, thl == 32 ? 32 : 20, (__u32)sum);
	if (sum < 0)
		return -1;
	if (len) {
		sum = pf_csum_buf(resp, len, sum);
		if (sum < 0)
			return -1;
	}
	tp->th.check = (__u16)~pf_csum_fold(sum);
	if (pf_store(ctx, xdp, l4, tp, thl == 32 ? 32 : 20))
		return -1;
	if (len) {
		/* Verifier workaround: a 64-bit copy tested after a barrier
		 * ("R4 min value is negative, either use unsigned ...") */
		__u64 n = len;

		barrier_var(n);
		if (n == 0 || n > PF_RESP_MAX)
			return -1;
		if (pf_store(ctx, xdp, l4 + thl, resp, n))
			return -1;
	}
	/* IP header */
	__builtin_memset(s->iph, 0, sizeof(s->iph));
	if (p->family == 4) {
		struct iphdr *ip = (struct iphdr *)s->iph;

		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = bpf_htons(ip_hlen + thl + len);
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		__builtin_memcpy(&ip->saddr, src, 4);
		__builtin_memcpy(&ip->daddr, dst, 4);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0);
		if (sum < 0)
			return -1;
		ip->check = (__u16)~pf_csum_fold(sum);
		if (pf_store(ctx, xdp, ETH_HLEN, ip, sizeof(*ip)))
			return -1;
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)s->iph;

		ip6->version = 6;
		ip6->payload_len = bpf_htons(thl + len);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, src, 16);
		__builtin_memcpy(&ip6->daddr, dst, 16);
		if (pf_store(ctx, xdp, ETH_HLEN, ip6, sizeof(*ip6)))
			return -1;
	}
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

#endif /* PF_EMIT_H */
