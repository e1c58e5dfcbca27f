/* BPF only (TC and XDP): Ethernet/IPv4/IPv6/TCP header parsing into struct pf_pkt (ICMP at ingress recognised); flow key building. */
/*
 * pf_pkt.h -- find the TCP segment of a packet and describe it in
 * struct pf_pkt. Headers are read with the load-bytes helpers (payload and
 * even headers of veth/local traffic may sit outside the linear area).
 */
#ifndef PF_PKT_H
#define PF_PKT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_ctx.h"
#include "pf_maps.h"

#define PF_DIR_IN  0  /* client -> server (TC and XDP ingress) */
#define PF_DIR_OUT 1  /* server -> client (TC egress) */

#define PF_TCPF_FIN 0x01
#define PF_TCPF_SYN 0x02
#define PF_TCPF_RST 0x04
#define PF_TCPF_PSH 0x08
#define PF_TCPF_ACK 0x10
#define PF_TCPF_URG 0x20

struct pf_pkt {
	__u32 l3_off;
	__u32 l4_off;
	__u32 tcp_hlen;
	__u32 pay_off;
	__u32 pay_len;
	__u32 seq;        /* host order */
	__u32 ack;        /* host order */
	__u8  family;     /* 4 or 6 */
	__u8  tflags;     /* PF_TCPF_* */
	__u8  ip_simple;  /* IPv4 without options / IPv6 without ext headers */
	__u8  answer_port; /* preflights to this port are answered */
	__u16 win_raw;    /* window field, host order */
	__u16 pad2;
	struct pf_flow_key key;  /* client first, whatever the direction */
};

/* A malformed frame, counted once: at TC when XDP passes it there
 * untouched (PF_XDP_TC_ALL); never by a parse again of a frame a hook
 * before counted (count 0: pf_reparse_pkt). */
static __always_inline void pf_malformed(bool xdp, bool count)
{
	if (count && !PF_XDP_TC_ALL(xdp))
		pf_count(PF_STAT_MALFORMED);
}

/* Is proto an IPv6 extension header pf_parse_pkt walks? */
static __always_inline int pf_ip6_ext_walked(__u8 proto)
{
	return proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING ||
	       proto == IPPROTO_DSTOPTS || proto == IPPROTO_FRAGMENT;
}

/* The IPv6 extension headers from l4 on (proto: the first one's type),
 * at most PF_IP6_EXT_MAX: the offset of what follows them | its type <<
 * 16 (still a walked type: the chain is longer), or -1 (unreadable, a
 * later fragment). Through pf_ip6_ext_tc / pf_ip6_ext_xdp. */
static __always_inline long pf_ip6_ext_walk(void *ctx, bool xdp, __u32 l4, __u8 proto)
{
	__u32 k;

	for (k = 0; k < PF_IP6_EXT_MAX && pf_ip6_ext_walked(proto); k++) {
		__u8 eh[8];

		if (pf_load(ctx, xdp, l4, eh, sizeof(eh)))
			return -1;
		if (proto == IPPROTO_FRAGMENT) {
			if ((eh[2] << 8 | eh[3]) & 0xfff8)
				return -1; /* not the first fragment */
			l4 += 8;
		} else {
			l4 += (eh[1] + 1) * 8;
		}
		proto = eh[0];
	}
	return l4 | (__u32)proto << 16;
}

/* pf_ip6_ext_walk at each hook, a global function. Verifier workaround:
 * inline, each mix of fragment and other headers left the offset a range
 * of its own, and the rest of the program was walked once per mix
 * (pf_ofl_tc 231k -> 929k processed insns at 8 headers; "BPF program is
 * too large. Processed 1000001 insn"); a global function's result is one
 * unknown value to its caller. Called only for a frame with extension
 * headers. */
__noinline long pf_ip6_ext_tc(struct __sk_buff *skb, __u32 l4, __u32 proto)
{
	return pf_ip6_ext_walk(skb, false, l4, (__u8)proto);
}

__noinline long pf_ip6_ext_xdp(struct xdp_md *ctx, __u32 l4, __u32 proto)
{
	return pf_ip6_ext_walk(ctx, true, l4, (__u8)proto);
}

/* Is port (host order) one whose connections are translated (xlate_bits:
 * the policy's ports, of this and earlier policies)? */
static __always_inline int pf_xlate_port(__u16 port)
{
	return (pf_cfg.xlate_bits[(port >> 6) & 1023] >> (port & 63)) & 1;
}

/* The flow key's addresses of a packet from src to dst (alen bytes each,
 * a constant: 4 or 16) travelling in direction dir: the client's first
 * whatever the direction. pf_key_ports does the same for the ports. */
static __always_inline void pf_key_addrs(struct pf_flow_key *k, const void *src,
					 const void *dst, __u32 alen, int dir)
{
	if (dir == PF_DIR_IN) {
		__builtin_memcpy(k->caddr, src, alen);
		__builtin_memcpy(k->saddr, dst, alen);
	} else {
		__builtin_memcpy(k->caddr, dst, alen);
		__builtin_memcpy(k->saddr, src, alen);
	}
}

static __always_inline void pf_key_ports(struct pf_flow_key *k, __be16 source, __be16 dest,
					 int dir)
{
	if (dir == PF_DIR_IN) {
		k->cport = source;
		k->sport = dest;
	} else {
		k->cport = dest;
		k->sport = source;
	}
}

/* pf_parse_pkt: an ICMP (IPv4) or ICMPv6 message arriving (dir
 * PF_DIR_IN), for pf_icmp_in (pf_icmp.h). */
#define PF_PARSE_ICMP 1

/* Parse the packet in ctx (count: a malformed one is counted, see
 * pf_malformed); returns 0 for a TCP segment to or from a served port (per
 * direction), -1 otherwise (the caller passes the packet untouched) -- or,
 * at ingress, PF_PARSE_ICMP for an ICMP / ICMPv6 message (not a later
 * fragment, at least its 8-byte header in the packet): p then has only
 * family, ip_simple, l3_off, l4_off (the ICMP header), pay_len (the
 * message's bytes in the packet, Ethernet padding excluded) and the outer
 * addresses in key. */
static __always_inline int pf_parse_pkt_as(void *ctx, bool xdp, struct pf_pkt *p, int dir,
					   bool count)
{
	struct tcphdr th __attribute__((aligned(8)));  /* pf_load_hdr: 8-byte stores */
	__u32 tot, l4, hl;
	__be16 h_proto;
	__u16 port;
	__u8 proto;

	__builtin_memset(p, 0, sizeof(*p));
	p->l3_off = ETH_HLEN;
	tot = pf_ctx_len(ctx, xdp);
	/* the EtherType as on the wire: VLAN tags are not walked (such
	 * traffic is passed untouched) */
	if (pf_load_hdr(ctx, xdp, 12, &h_proto, sizeof(h_proto)))
		return -1;
	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip __attribute__((aligned(8)));

		if (pf_load_hdr(ctx, xdp, ETH_HLEN, &ip, sizeof(ip)))
			return -1;
		if (ip.version != 4 || ip.ihl < 5)
			return -1;
		proto = ip.protocol;
		if (proto != IPPROTO_TCP && (proto != IPPROTO_ICMP || dir != PF_DIR_IN))
			return -1;
		/* later fragments carry no TCP header: untouched. The first one
		 * does: it is translated (the TCP checksum spans the reassembled
		 * segment, so an incremental header update stays right) but
		 * never answered. */
		if (ip.frag_off & bpf_htons(0x1fff))
			return -1;
		hl = ip.ihl * 4;
		p->family = 4;
		p->ip_simple = ip.ihl == 5 && !(ip.frag_off & bpf_htons(0x2000));
		l4 = ETH_HLEN + hl;
		/* a length beyond the frame: the stack drops it, so do we (tot_len
		 * 0 is a BIG TCP/GSO skb: its length is the skb's) */
		if (ip.tot_len && bpf_ntohs(ip.tot_len) + ETH_HLEN > tot) {
			pf_malformed(xdp, count);
			return -1;
		}
		if (ip.tot_len && bpf_ntohs(ip.tot_len) + ETH_HLEN < tot)
			tot = bpf_ntohs(ip.tot_len) + ETH_HLEN; /* Ethernet padding */
		pf_key_addrs(&p->key, &ip.saddr, &ip.daddr, 4, dir);
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6 __attribute__((aligned(8)));

		if (pf_load_hdr(ctx, xdp, ETH_HLEN, &ip6, sizeof(ip6)))
			return -1;
		if (ip6.version != 6)
			return -1;
		proto = ip6.nexthdr;
		p->family = 6;
		p->ip_simple = 1;
		l4 = ETH_HLEN + sizeof(ip6);
		if (ip6.payload_len && bpf_ntohs(ip6.payload_len) + l4 > tot) {
			pf_malformed(xdp, count);
			return -1;
		}
		if (ip6.payload_len && bpf_ntohs(ip6.payload_len) + l4 < tot)
			tot = bpf_ntohs(ip6.payload_len) + l4;
		/* extension headers (hop-by-hop, routing, destination options,
		 * a first fragment): walked, so a spliced connection's segments
		 * are still translated; such requests are never answered */
		if (pf_ip6_ext_walked(proto)) {
			long w = xdp ? pf_ip6_ext_xdp(ctx, l4, proto) :
				       pf_ip6_ext_tc(ctx, l4, proto);

			if (w < 0)
				return -1;
			l4 = w & 0xffff;
			proto = (__u8)(w >> 16);
			p->ip_simple = 0;
			if (pf_ip6_ext_walked(proto)) {
				/* a chain longer than PF_IP6_EXT_MAX
				 * (pf_common.h): its client sent it so; on a
				 * spliced connection this segment reaches the
				 * app untranslated */
				pf_malformed(xdp, count);
				return -1;
			}
		}
		if (proto != IPPROTO_TCP && (proto != IPPROTO_ICMPV6 || dir != PF_DIR_IN))
			return -1;
		pf_key_addrs(&p->key, &ip6.saddr, &ip6.daddr, 16, dir);
	} else {
		return -1;
	}
	if (proto != IPPROTO_TCP) {
		if (l4 + 8 > tot)
			return -1;
		p->l4_off = l4;
		p->pay_len = tot - l4;
		return PF_PARSE_ICMP;
	}
	if (pf_load_hdr(ctx, xdp, l4, &th, sizeof(th)))
		return -1;
	port = bpf_ntohs(dir == PF_DIR_IN ? th.dest : th.source);
	if (!pf_xlate_port(port))
		return -1;
	p->answer_port = (pf_cfg.port_bits[(port >> 6) & 1023] >> (port & 63)) & 1;
	p->key.family = p->family;
	pf_key_ports(&p->key, th.source, th.dest, dir);
	p->l4_off = l4;
	p->tcp_hlen = th.doff * 4;
	if (p->tcp_hlen < 20 || l4 + p->tcp_hlen > tot) {
		pf_malformed(xdp, count);
		return -1;
	}
	p->pay_off = l4 + p->tcp_hlen;
	p->pay_len = tot - p->pay_off;
	p->seq = bpf_ntohl(th.seq);
	p->ack = bpf_ntohl(th.ack_seq);
	p->tflags = ((__u8 *)&th)[13];
	p->win_raw = bpf_ntohs(th.window);
	return 0;
}

static __always_inline int pf_parse_pkt(void *ctx, bool xdp, struct pf_pkt *p, int dir)
{
	return pf_parse_pkt_as(ctx, xdp, p, dir, true);
}

/* pf_parse_pkt of a TC ingress frame a hook before this program parsed
 * and counted (the offload's recorder, after pf_tc_ingress or XDP): a
 * malformed one is not counted again. */
static __always_inline int pf_reparse_pkt(struct __sk_buff *skb, struct pf_pkt *p)
{
	return pf_parse_pkt_as(skb, false, p, PF_DIR_IN, false);
}

#endif /* PF_PKT_H */
