/* BPF only (TC and XDP ingress): ICMP errors quoting a spliced connection's server segment, mapped back to the socket's seq. */
/*
 * pf_icmp.h -- an ICMP error about a server segment (ICMPv4 destination
 * unreachable -- 3/4, fragmentation needed, is path MTU discovery --,
 * time exceeded, parameter problem; ICMPv6 destination unreachable,
 * packet too big, time exceeded, parameter problem) quotes the segment as
 * it was on the wire: after a splice its seq is the server socket's seq
 * plus the inserted response bytes (pf_seq_out). Linux's tcp_v4_err /
 * tcp_v6_err ignore an error whose quoted seq is not between snd_una and
 * snd_nxt (LINUX_MIB_OUTOFWINDOWICMPS), so without this mapping a
 * spliced connection never learns a lower path MTU and black-holes its
 * full-sized segments. The quoted seq goes back to socket space here, as
 * a client's ack of server data does (pf_ack_in). docs/tcp-splice.md
 * section 1.
 */
#ifndef PF_ICMP_H
#define PF_ICMP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_tcp.h"

/* Is ICMP (family 4) or ICMPv6 (6) type a message that quotes the
 * offending packet after its 8-byte header and that tcp_v4_err /
 * tcp_v6_err check against snd_una..snd_nxt: ICMPv4 destination
 * unreachable (3), redirect (5), time exceeded (11), parameter problem
 * (12); ICMPv6 1 to 4. ICMPv4 4 (source quench) is left out: deprecated
 * (RFC 6633), Linux ignores it; so is an NDISC redirect, whose quote is
 * an option, not at offset 8. */
static __always_inline int pf_icmp_is_error(__u8 family, __u8 type)
{
	if (family == 4)
		return type == 3 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/* The ICMP message of p (pf_parse_pkt's PF_PARSE_ICMP: l4_off its
 * header, pay_len its bytes): if it is an error quoting a server segment
 * of a spliced connection, rewrite the quoted seq from wire to socket
 * space (pf_ack_in on a locked copy of the flow's offsets; the injected
 * response's first byte maps to its position s_pos, a seq inside it is
 * passed unchanged: only a spoofer quotes one) and fix the ICMP checksum
 * incrementally (pf_put_word: the ICMPv4 sum has no pseudo-header, the
 * ICMPv6 one has, but a changed quoted word is the same difference
 * either way). Only the first 8 bytes of the quoted TCP header are
 * certain (RFC 792: ports and seq), so only they are read; the quoted
 * ack (server ack of client data, wire view) is left as it is -- the
 * kernel checks the quoted seq only -- and so is the quoted TCP checksum,
 * which no kernel verifies (the quote is mostly truncated anyway). Fails
 * open: anything it cannot read or map is passed unchanged. Counted:
 * icmp_translated; icmp_passed (a translated port's segment with no flow
 * entry, or one with nothing inserted); icmp_unread (a quote too short
 * for the seq, a later IPv4 fragment, IPv6 extension headers in the
 * quote); pass_error (a helper failed). Errors about other ports or
 * protocols, and other ICMP messages, are not counted. Returns nothing:
 * the packet always continues. */
static __always_inline void pf_icmp_in(void *ctx, bool xdp, const struct pf_pkt *p)
{
	__u8 q[40] __attribute__((aligned(8)));   /* the quoted IP header */
	struct {
		__be16 source, dest;
		__be32 seq;
	} th __attribute__((aligned(8)));         /* what RFC 792 guarantees */
	__u32 end, il4, old_s, new_s;
	struct pf_flow_key k = {};
	struct pf_flow *f;
	struct pf_adj a;
	__u8 ih[2] __attribute__((aligned(8)));   /* ICMP type, code */

	if (!p)  /* a global function's pointer may be NULL to the verifier */
		return;
	end = p->l4_off + p->pay_len;
	if (pf_load_hdr(ctx, xdp, p->l4_off, ih, sizeof(ih)) || !pf_icmp_is_error(p->family, ih[0]))
		return;
	if (p->family == 4) {
		const struct iphdr *ip = (const void *)q;

		if (p->l4_off + 8 + sizeof(*ip) > end ||
		    pf_load_hdr(ctx, xdp, p->l4_off + 8, q, sizeof(*ip)))
			goto unread;
		if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_TCP)
			return;
		/* a later fragment has no TCP header */
		if (ip->frag_off & bpf_htons(0x1fff))
			goto unread;
		il4 = p->l4_off + 8 + ip->ihl * 4;
		pf_key_addrs(&k, &ip->saddr, &ip->daddr, 4, PF_DIR_OUT);
	} else {
		const struct ipv6hdr *ip6 = (const void *)q;

		if (p->l4_off + 8 + sizeof(*ip6) > end ||
		    pf_load_hdr(ctx, xdp, p->l4_off + 8, q, sizeof(*ip6)))
			goto unread;
		if (ip6->version != 6)
			return;
		if (ip6->nexthdr != IPPROTO_TCP) {
			/* extension headers: TCP may be behind them, not walked */
			if (ip6->nexthdr == IPPROTO_HOPOPTS || ip6->nexthdr == IPPROTO_ROUTING ||
			    ip6->nexthdr == IPPROTO_DSTOPTS || ip6->nexthdr == IPPROTO_FRAGMENT)
				goto unread;
			return;
		}
		il4 = p->l4_off + 8 + sizeof(*ip6);
		pf_key_addrs(&k, &ip6->saddr, &ip6->daddr, 16, PF_DIR_OUT);
	}
	if (il4 + sizeof(th) > end || pf_load_hdr(ctx, xdp, il4, &th, sizeof(th)))
		goto unread;
	/* the quoted segment went server -> client: the server's port is its
	 * source, the key is built as TC egress builds it for that segment */
	if (!pf_xlate_port(bpf_ntohs(th.source)))
		return;
	pf_key_ports(&k, th.source, th.dest, PF_DIR_OUT);
	k.family = p->family;
	f = bpf_map_lookup_elem(&pf_flows, &k);
	if (!f)
		goto passed;
	/* a rare packet: a consistent copy under the lock (pf_flow_peek's
	 * torn copies are caught by pf_flow_note, which this path has not) */
	if (pf_flow_snapshot(f, &a))
		goto passed;
	old_s = bpf_ntohl(th.seq);
	/* a seq past the injected response's first byte and inside it: no
	 * router quotes one (the response leaves as one segment, and a quote
	 * names a segment's first byte), only a blind spoofer. Mapped to
	 * s_pos, as an ack there is, it would widen the one seq an idle
	 * connection's socket accepts (snd_una == snd_nxt == s_pos) to the
	 * response's length: passed as it is, out of the socket's window. */
	new_s = old_s - a.s_before;
	if (a.resp_len && pf_after(new_s, a.s_pos) && pf_before(new_s, a.s_pos + a.resp_len))
		goto passed;
	/* wire -> socket: the inverse of pf_seq_out, which is pf_ack_in's
	 * mapping (an ack names a server seq as the quote does) */
	new_s = pf_ack_in(&a, old_s);
	if (new_s == old_s)
		goto passed;
	if (pf_put_word(ctx, xdp, p->l4_off + 2, il4 + 4, old_s, new_s)) {
		pf_count(PF_STAT_PASS_ERROR);
		return;
	}
	pf_count(PF_STAT_ICMP_TRANSLATED);
	return;
passed:
	pf_count(PF_STAT_ICMP_PASSED);
	return;
unread:
	pf_count(PF_STAT_ICMP_UNREAD);
}

/* The two instances, global functions: verified once each, with unknown
 * arguments, not in every state of the ingress programs that reaches a
 * non-TCP packet (a cold path: ICMP errors are rare). */
__noinline int pf_icmp_tc(struct __sk_buff *skb, const struct pf_pkt *p)
{
	pf_icmp_in(skb, false, p);
	return 0;
}

__noinline int pf_icmp_xdp(struct xdp_md *xdp, const struct pf_pkt *p)
{
	pf_icmp_in(xdp, true, p);
	return 0;
}

#endif /* PF_ICMP_H */
