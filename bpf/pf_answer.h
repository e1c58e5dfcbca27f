/* BPF: rewriting a request skb into a whole new segment (headers, checksums) at TC. */
/*
 * pf_answer.h -- rewrite the request packet (skb or XDP frame) in place into either
 *   - the response to the client (addresses and ports swapped, payload
 *     s->resp), which the caller redirects out of the interface, or
 *   - a pure ACK to the server carrying the acknowledgement that was
 *     piggybacked on the consumed request (the server would otherwise
 *     retransmit, and its segments ack the request for the client).
 */
#ifndef PF_ANSWER_H
#define PF_ANSWER_H

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

/* Fold a 32-bit one's complement sum to 16 bits. */
static __always_inline __u16 pf_csum_fold(__s64 s)
{
	__u32 c = (__u32)s;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)c;
}

/* Sum n bytes of buf (zero-padded to a multiple of 4) in chunks the
 * helper accepts (bpf_csum_diff refuses more than 512 bytes at once on
 * older kernels). */
static __always_inline __s64 pf_csum_buf(__u8 *buf, __u32 n, __s64 seed)
{
	__u64 n4 = (n + 3) & ~3u, c1, c2;

	if (n4 > PF_RESP_MAX)
		return -1;
	c1 = n4 > 512 ? 512 : n4;
	c2 = n4 - c1;
	/* Verifier workaround: re-bound both sizes by masking ("R4 min value
	 * is negative, either use unsigned or 'var &= const'"); buf has
	 * 2 * PF_RESP_MAX bytes so buf + 512 + 1023 stays inside. */
	barrier_var(c1);
	barrier_var(c2);
	c1 &= 1023;
	c2 &= 1023;
	if (c1)
		seed = bpf_csum_diff(NULL, 0, (__be32 *)buf, c1, (__u32)seed);
	if (seed < 0)
		return seed;
	if (c2)
		seed = bpf_csum_diff(NULL, 0, (__be32 *)(buf + 512), c2, (__u32)seed);
	return seed;
}

/* Rewrite the packet in ctx (described by p) into the segment e
 * describes, with payload s->resp[0..len) (len 0: none). Returns 0 or -1
 * (the packet may be half-written: the caller drops it). */
static __always_inline int pf_emit_body(void *ctx, bool xdp, const struct pf_pkt *p,
					struct pf_scratch *s, __u32 len,
					const struct pf_emit *e)
{
	struct pf_tcp_ts_hdr *tp;
	struct ethhdr *eth;
	__u32 ip_hlen, thl, l4, new_len, *pseudo;
	const __u8 *src, *dst;
	__s64 sum;
	__u8 *resp;

	if (!ctx || !p || !s || !e || len > PF_RESP_MAX)
		return -1;
	resp = s->resp;
	/* headers are built in scratch memory, not on the stack (main
	 * program + this frame: "combined stack size ... Too large") */
	tp = (struct pf_tcp_ts_hdr *)s->hdrs;
	pseudo = s->pseudo;
	__builtin_memset(tp, 0, sizeof(*tp));
	__builtin_memset(pseudo, 0, sizeof(s->pseudo));
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
	if (p->family == 4) {
		__builtin_memcpy(&pseudo[0], src, 4);
		__builtin_memcpy(&pseudo[1], dst, 4);
		pseudo[2] = bpf_htonl((IPPROTO_TCP << 16) | (thl + len));
		sum = bpf_csum_diff(NULL, 0, (__be32 *)pseudo, 12, 0);
	} else {
		__builtin_memcpy(&pseudo[0], src, 16);
		__builtin_memcpy(&pseudo[4], dst, 16);
		pseudo[8] = bpf_htonl(thl + len);
		pseudo[9] = bpf_htonl(IPPROTO_TCP);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)pseudo, 40, 0);
	}
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

#endif /* PF_ANSWER_H */
