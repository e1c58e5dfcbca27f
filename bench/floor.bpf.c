// SPDX-License-Identifier: GPL-2.0
/* floor.bpf.c -- the benchmark floor: bounce a fixed 204 for every OPTIONS segment, nothing else. */
/*
 * The least an XDP responder can do and still keep a keep-alive TCP
 * connection going: no HTTP parsing, no policy, no flow state. For an
 * IPv4 TCP segment to floor_port carrying "OPTIONS " with ACK set and no
 * SYN/FIN/RST/URG, rewrite the frame in place into FLOOR_RESP and XDP_TX
 * it:
 *   MACs, addresses and ports swapped, seq = the request's ack,
 *   ack = the request's seq + payload length, the TCP timestamp option
 *   (NOP NOP TS, the layout Linux sends) swapped: TSval = the request's
 *   TSecr (a value the client already accepted, so PAWS passes),
 *   TSecr = the request's TSval; a full IPv4 header checksum and a full
 *   TCP checksum (pseudo header + header + the payload's sum, which
 *   floorctl precomputes because the payload is fixed).
 * Stateless works for keep-alive because the client's next request acks
 * the previous response; the server socket never sees the requests.
 * Anything else (other option layouts, IP options, fragments, IPv6)
 * passes untouched.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "floor.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by floorctl before load. */
const volatile __u16 floor_port = 8080;   /* TCP port answered (host order) */
const volatile __u32 floor_resp_sum = 0;  /* folded one's complement sum of FLOOR_RESP */

/* placed in .rodata itself (not clang's .rodata.str1.1): one read-only map,
 * like the datapath's tables (see PF_RODATA in include/pf_common.h) */
static const char floor_resp[] __attribute__((section(".rodata"))) = FLOOR_RESP;

/* "OPTIONS " as a little-endian 64-bit load (bpfel, like the host) */
#define OPTIONS_LE 0x20534e4f4954504fULL

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOOR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} floor_stats SEC(".maps");

/* Fold a one's complement sum to 16 bits (not complemented). */
static __always_inline __u16 fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Checksum field value of the 20-byte IPv4 header at ip (its own check
 * field must be 0). */
static __always_inline __u16 ip_csum(const __u16 *ip)
{
	__u64 s = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		s += ip[i];
	return (__u16)~fold(s);
}

/* Write the response headers over the request's (thlen: 20 or 32, the
 * same as the request's) and return the TCP checksum field value. */
static __always_inline __u16 put_headers(struct ethhdr *eth, struct iphdr *ip,
					 struct tcphdr *th, __u32 thlen,
					 const __u8 macs[2 * ETH_ALEN], __u32 saddr,
					 __u32 daddr, __u16 sport, __u16 dport, __u32 seq,
					 __u32 ack)
{
	__u32 pseudo[3];
	__s64 sum;

	__builtin_memcpy(eth->h_dest, macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(eth->h_source, macs, ETH_ALEN);
	ip->tos = 0;
	ip->tot_len = bpf_htons(20 + thlen + FLOOR_RESP_LEN);
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000);
	ip->ttl = 64;
	ip->check = 0;
	ip->saddr = daddr;
	ip->daddr = saddr;
	ip->check = ip_csum((const __u16 *)ip);
	th->source = dport;
	th->dest = sport;
	th->seq = ack;
	th->ack_seq = bpf_htonl(seq);
	/* doff unchanged; flags ACK|PSH */
	((__u8 *)th)[13] = 0x18;
	th->window = bpf_htons(512);
	th->check = 0;
	th->urg_ptr = 0;
	pseudo[0] = daddr;
	pseudo[1] = saddr;
	pseudo[2] = bpf_htonl((IPPROTO_TCP << 16) | (thlen + FLOOR_RESP_LEN));
	sum = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), floor_resp_sum);
	if (sum < 0)
		return 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)th, thlen, (__u32)sum);
	if (sum < 0)
		return 0;
	return (__u16)~fold((__u64)sum);
}

/* floor_xdp: bounce an OPTIONS request as FLOOR_RESP (XDP_TX), or pass. */
SEC("xdp")
int floor_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	__u32 saddr, daddr, seq, ack, tsval = 0, tsecr = 0, paylen, thlen, newlen;
	__u32 zero = 0, *opt;
	__u8 macs[2 * ETH_ALEN];
	__u16 sport, dport;
	__u64 *cnt;
	char *pay;

	if ((void *)(th + 1) > end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->version != 4 ||
	    ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(0x3fff)) ||
	    th->dest != bpf_htons(floor_port))
		return XDP_PASS;
	if (th->syn || th->fin || th->rst || th->urg || !th->ack)
		return XDP_PASS;
	thlen = th->doff * 4;
	if (thlen != 20 && thlen != 32)
		return XDP_PASS;
	paylen = bpf_ntohs(ip->tot_len);
	if (paylen < 20 + thlen + 8)
		return XDP_PASS;
	paylen -= 20 + thlen;
	if (thlen == 32) {
		opt = (__u32 *)(th + 1);
		if ((void *)(opt + 3) > end || opt[0] != bpf_htonl(0x0101080a))
			return XDP_PASS;
		tsval = opt[1];
		tsecr = opt[2];
	}
	pay = (char *)th + thlen;
	if ((void *)(pay + 8) > end || *(__u64 *)pay != OPTIONS_LE)
		return XDP_PASS;

	/* everything the response needs, before the frame is resized */
	__builtin_memcpy(macs, eth->h_dest, 2 * ETH_ALEN); /* dest, source */
	saddr = ip->saddr;
	daddr = ip->daddr;
	sport = th->source;
	dport = th->dest;
	seq = bpf_ntohl(th->seq) + paylen;
	ack = th->ack_seq;

	newlen = sizeof(*eth) + 20 + thlen + FLOOR_RESP_LEN;
	if (bpf_xdp_adjust_tail(ctx, (int)newlen - (int)(end - data)))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	th = (void *)(ip + 1);
	/* one constant header length per branch: every access provably in bounds */
	if (thlen == 32) {
		if ((void *)th + 32 + FLOOR_RESP_LEN > end)
			return XDP_DROP;
		opt = (__u32 *)(th + 1);
		opt[0] = bpf_htonl(0x0101080a);
		opt[1] = tsecr;
		opt[2] = tsval;
		__builtin_memcpy((char *)th + 32, floor_resp, FLOOR_RESP_LEN);
		th->check = put_headers(eth, ip, th, 32, macs, saddr, daddr, sport, dport,
					seq, ack);
	} else {
		if ((void *)th + 20 + FLOOR_RESP_LEN > end)
			return XDP_DROP;
		__builtin_memcpy((char *)th + 20, floor_resp, FLOOR_RESP_LEN);
		th->check = put_headers(eth, ip, th, 20, macs, saddr, daddr, sport, dport,
					seq, ack);
	}
	cnt = bpf_map_lookup_elem(&floor_stats, &zero);
	if (cnt)
		*cnt += 1;
	return XDP_TX;
}
