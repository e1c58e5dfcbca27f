/* test_adv_ip.c -- BPF tier: hostile and odd packets below TCP (cuts, lengths, IP options, fragments, VLAN). */
/*
 * Every case runs in both modes. The right outcome is almost always
 * "passed to the app unchanged, counted": the stack gets exactly what
 * arrived. Where preflightd cannot even parse the packet (VLAN tags,
 * later fragments) no counter moves; a frame shorter than its IP length
 * counts as malformed; a first fragment or an IPv6 extension header is
 * parsed (a spliced connection's segment must be translated) but never
 * answered (pass_ip).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"

#define S0 1000000u
#define P0 5000000u

static const struct h_delta none[] = { H_DEND };
static const struct h_delta malformed[] = { H_D(MALFORMED, 1), H_DEND };
static const struct h_delta pass_ip[] = { H_D(PKT_SEEN, 1), H_D(PASS_IP, 1), H_DEND };

/* An allowed preflight at S0/P0 (valid socket) in a buffer. */
static size_t preflight_frame(int family, __u8 *b, struct pkt_spec *s)
{
	h_req_spec(s, family, H_PREFLIGHT, S0, P0, 111, 222);
	return pkt_build(s, b, PKT_MAX);
}

/* ---- truncated headers ---- */

/* The frame ends inside the IPv4/IPv6 header, at every length. */
static void trunc_ip(int family)
{
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k, iphl = family == 4 ? 20 : 40;
	char tag[64];

	preflight_frame(family, b, &s);
	for (k = 0; k < iphl && h_ok(); k++) {
		snprintf(tag, sizeof(tag), "frame cut %u bytes into the IP header", k);
		conn_raw_pass(b, 14 + k, none, true, tag);
	}
}

static void t_trunc_ipv4(void) { trunc_ip(4); }
static void t_trunc_ipv6(void) { trunc_ip(6); }

/* The frame ends inside the TCP header (the IP length still claims the
 * whole segment), at every length. */
static void trunc_tcp(int family)
{
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k, iphl = family == 4 ? 20 : 40;
	char tag[64];

	h_set_sock(&(struct pf_sockinfo){ 0 });
	preflight_frame(family, b, &s);
	for (k = 0; k < 20 && h_ok(); k++) {
		snprintf(tag, sizeof(tag), "frame cut %u bytes into the TCP header", k);
		conn_raw_pass(b, 14 + iphl + k, malformed, false, tag);
	}
}

static void t_trunc_tcp_v4(void) { trunc_tcp(4); }
static void t_trunc_tcp_v6(void) { trunc_tcp(6); }

/* IPv4 total length ends inside the TCP header (the frame goes on). */
static void t_ipv4_totlen_short(void)
{
	static const struct h_delta d[] = { H_D(MALFORMED, 1), H_DEND };
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	size_t n = preflight_frame(4, b, &s);

	b[16] = 0;
	b[17] = 30;               /* 20 IP + 10 TCP */
	b[24] = b[25] = 0;        /* IP header checksum: fixed below */
	{
		__u16 c = pkt_csum_fold(pkt_csum_add(0, b + 14, 20));

		b[24] = (__u8)(c >> 8);
		b[25] = (__u8)c;
	}
	conn_raw_pass(b, n, d, false, "tot_len 30");
}

/* The IP length claims more than the frame holds (the TCP checksum is
 * right for the bytes present): the stack drops it (ip_rcv: "len >
 * skb->len"; IPv6: payload_len beyond the skb), so it must not be
 * answered. */
static void totlen_beyond(int family)
{
	struct h_fix f;
	struct h_run r;
	__u8 b[PKT_MAX];
	size_t n;
	__u16 c;

	h_answer_fix(&f, family, H_PREFLIGHT, S0, P0);
	n = pkt_build(&f.in, b, sizeof(b));
	if (family == 4) {
		c = (__u16)((b[16] << 8 | b[17]) + 100);
		b[16] = (__u8)(c >> 8);
		b[17] = (__u8)c;
		b[24] = b[25] = 0;
		c = pkt_csum_fold(pkt_csum_add(0, b + 14, 20));
		b[24] = (__u8)(c >> 8);
		b[25] = (__u8)c;
	} else {
		c = (__u16)((b[18] << 8 | b[19]) + 100);
		b[18] = (__u8)(c >> 8);
		b[19] = (__u8)c;
	}
	h_set_sock(&f.sock);
	if (!h_run(h_in, b, n, NULL, &r))
		return;
	H_CHECK(r.verdict == H_PASS && r.out_len == n && !memcmp(r.out, b, n),
		"BUG (low): a segment the stack drops (IP length %u bytes beyond the frame) was %s "
		"(verdict %s, answered %+lld)", 100u,
		r.verdict == H_TX ? "answered" : "changed", h_verdict_name(r.verdict),
		r.delta[PF_STAT_ANSWERED]);
}

static void t_ipv4_totlen_beyond(void) { totlen_beyond(4); }

static void t_ipv6_payload_len_beyond(void) { totlen_beyond(6); }

/* EtherType IPv4 but version nibble 6: ip_rcv drops it. */
static void t_ipv4_bad_version(void)
{
	struct h_fix f;
	struct h_run r;
	__u8 b[PKT_MAX];
	size_t n;
	__u16 c;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	n = pkt_build(&f.in, b, sizeof(b));
	b[14] = 0x65;
	b[24] = b[25] = 0;
	c = pkt_csum_fold(pkt_csum_add(0, b + 14, 20));
	b[24] = (__u8)(c >> 8);
	b[25] = (__u8)c;
	h_set_sock(&f.sock);
	if (!h_run(h_in, b, n, NULL, &r))
		return;
	H_CHECK(r.verdict == H_PASS && r.out_len == n && !memcmp(r.out, b, n),
		"BUG (low): an IPv4 frame with IP version 6 (the stack drops it) was %s",
		r.verdict == H_TX ? "answered" : "changed");
}

/* ---- IP options, fragments, extension headers, VLAN ---- */

/* IPv4 options of every length (4..40 bytes): pass_ip. */
static void t_ipv4_options_every_length(void)
{
	static const struct h_delta d[] = { H_D(PKT_SEEN, 1), H_D(PASS_IP, 1), H_DEND };
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k;
	char tag[48];

	for (k = 4; k <= 40 && h_ok(); k += 4) {
		struct pf_sockinfo si = h_sock(S0, P0);

		h_sock_not_first(&si);
		h_reset_state();
		h_set_sock(&si);
		h_req_spec(&s, 4, H_PREFLIGHT, S0, P0, 111, 222);
		s.ip_optlen = k;
		snprintf(tag, sizeof(tag), "%u bytes of IPv4 options", k);
		conn_raw_pass(b, pkt_build(&s, b, sizeof(b)), d, false, tag);
	}
}

/* Fragments: MF, an offset, both; not even parsed. */
static void t_ipv4_fragments(void)
{
	static const __u16 frag[] = { 0x2000, 185, 0x2000 | 185, 0x4000 | 185, 0x1fff };
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k;
	char tag[48];

	for (k = 0; k < sizeof(frag) / sizeof(frag[0]) && h_ok(); k++) {
		struct pf_sockinfo si = h_sock(S0, P0);

		h_sock_not_first(&si);
		h_set_sock(&si);
		h_req_spec(&s, 4, H_PREFLIGHT, S0, P0, 111, 222);
		s.frag = frag[k];
		snprintf(tag, sizeof(tag), "frag_off 0x%04x", frag[k]);
		/* offset 0 with MF: a first fragment (parsed, pass_ip) */
		conn_raw_pass(b, pkt_build(&s, b, sizeof(b)),
			      (frag[k] & 0x1fff) ? none : pass_ip, false, tag);
	}
}

/* Insert an 8-byte IPv6 extension header of type t after the fixed
 * header of frame b (n bytes), in front of the chain there; returns the
 * new length. The TCP checksum stays right (same addresses, same
 * upper-layer length). */
static size_t ins_ext6(__u8 *b, size_t n, __u8 t)
{
	__u8 ext[8] = { b[20], 0, 1, 4, 0, 0, 0, 0 };   /* next: the chain; PadN */
	unsigned pl = (unsigned)(b[18] << 8 | b[19]) + 8;

	if (t == 44) {                                /* atomic fragment */
		memset(ext + 2, 0, 6);
		ext[7] = 0x2a;
	} else if (t == 43) {                         /* routing, segments left 0 */
		ext[2] = 253;
		ext[3] = 0;
	}
	memmove(b + 54 + 8, b + 54, n - 54);
	memcpy(b + 54, ext, 8);
	b[20] = t;
	b[18] = (__u8)(pl >> 8);
	b[19] = (__u8)pl;
	return n + 8;
}

/* Hop-by-hop, routing, fragment and destination options headers. */
static void t_ipv6_ext_headers(void)
{
	static const __u8 types[] = { 0, 43, 44, 60 };
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k;
	size_t n;
	char tag[48];

	for (k = 0; k < sizeof(types) && h_ok(); k++) {
		struct pf_sockinfo si = h_sock(S0, P0);

		h_sock_not_first(&si);
		h_set_sock(&si);
		n = ins_ext6(b, preflight_frame(6, b, &s), types[k]);
		snprintf(tag, sizeof(tag), "extension header %u", types[k]);
		conn_raw_pass(b, n, pass_ip, false, tag);
	}
}

/* 802.1Q (IPv4 and IPv6) and 802.1ad + 802.1Q: passed, not parsed. */
static void t_vlan(void)
{
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	size_t n;
	int k;

	for (k = 0; k < 3 && h_ok(); k++) {
		struct pf_sockinfo si = h_sock(S0, P0);
		static const __u8 q[4] = { 0x81, 0x00, 0x00, 0x64 };
		static const __u8 ad[4] = { 0x88, 0xa8, 0x00, 0x0a };

		h_set_sock(&si);
		n = preflight_frame(k == 1 ? 6 : 4, b, &s);
		memmove(b + 16, b + 12, n - 12);
		memcpy(b + 12, q, 4);
		n += 4;
		if (k == 2) {
			memmove(b + 16, b + 12, n - 12);
			memcpy(b + 12, ad, 4);
			n += 4;
		}
		conn_raw_pass(b, n, none, false, k == 0 ? "802.1Q IPv4" : k == 1 ? "802.1Q IPv6" :
			 "802.1ad + 802.1Q");
	}
}

/* ---- later segments of a spliced connection with such headers ---- */

/* A client segment of a spliced connection that carries IPv4 options:
 * still translated (the TCP header is found behind the options). */
static void t_spliced_ipv4_options(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, S0, P0))
		return;
	conn_next_put(&in, &want, &c);
	in.ip_optlen = 8;
	want.ip_optlen = 8;
	conn_expect(h_in, &in, NULL, &want, conn_d_in_data);
}

/* A client segment of a spliced connection that arrives as the first
 * IPv4 fragment (DF clear, MF set): it holds the whole TCP header, and
 * the server reassembles it -- it must be translated like any segment,
 * or the server gets the client's wire seq (L bytes ahead of its
 * socket) and the connection stalls. */
static void t_spliced_first_fragment(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct h_run r;
	struct pkt_view v;

	if (!conn_splice(&c, 4, S0, P0))
		return;
	conn_next_put(&in, &want, &c);
	in.frag = 0x2000;
	want.frag = 0x2000;
	if (!h_run_spec(h_in, &in, NULL, &r) || !h_out_view(&r, &v))
		return;
	if (!H_CHECK(v.seq != in.seq || v.ack != in.ack,
		     "BUG: first IPv4 fragment (MF) of a spliced connection passed "
		     "untranslated: seq 0x%08x ack 0x%08x reach the server, want 0x%08x/0x%08x",
		     v.seq, v.ack, want.seq, want.ack))
		return;
	conn_expect(h_in, &in, NULL, &want, conn_d_in_data);
}

/* The same with a chain of nh IPv6 extension headers on a later
 * segment (the flow was spliced without one, so "such flows are never
 * spliced" does not hold): translated up to PF_IP6_EXT_MAX, the
 * longest chain RFC 8200 orders and more; a longer one is counted as
 * malformed and passed untouched. */
static void spliced_ext_chain(unsigned nh)
{
	/* wire order: hop-by-hop first, then these from the end */
	static const __u8 types[] = { 60, 44, 43, 60, 60, 60, 60, 60 };
	struct conn c;
	struct pkt_spec in;
	struct h_run r;
	__u8 b[PKT_MAX];
	size_t n;
	__u32 seq, ack, k;
	char tag[48];

	_Static_assert(sizeof(types) >= PF_IP6_EXT_MAX, "a type for each header but the first");
	if (!conn_splice(&c, 6, S0, P0))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, PUT_REQ);
	n = pkt_build(&in, b, sizeof(b));
	for (k = 0; k + 1 < nh; k++)
		n = ins_ext6(b, n, types[k]);
	n = ins_ext6(b, n, 0);
	if (nh > PF_IP6_EXT_MAX) {
		snprintf(tag, sizeof(tag), "%u extension headers", nh);
		conn_raw_pass(b, n, malformed, false, tag);
		return;
	}
	if (!h_run(h_in, b, n, NULL, &r))
		return;
	memcpy(&seq, r.out + 54 + 8 * nh + 4, 4);
	memcpy(&ack, r.out + 54 + 8 * nh + 8, 4);
	H_CHECK(ntohl(seq) == c.S && ntohl(ack) == c.P,
		"BUG: client segment of a spliced IPv6 connection with %u extension "
		"headers passed untranslated: seq 0x%08x ack 0x%08x reach the server, want "
		"0x%08x/0x%08x", nh, ntohl(seq), ntohl(ack), c.S, c.P);
}

static void t_spliced_ipv6_ext_header(void) { spliced_ext_chain(1); }
static void t_spliced_ipv6_ext_chain(void) { spliced_ext_chain(PF_IP6_EXT_MAX); }
static void t_spliced_ipv6_ext_chain_long(void) { spliced_ext_chain(PF_IP6_EXT_MAX + 1); }

void test_adv_ip(void)
{
	h_case("adv_truncated_ipv4_header_every_length", t_trunc_ipv4);
	h_case("adv_truncated_ipv6_header_every_length", t_trunc_ipv6);
	h_case("adv_truncated_tcp_header_every_length_ipv4", t_trunc_tcp_v4);
	h_case("adv_truncated_tcp_header_every_length_ipv6", t_trunc_tcp_v6);
	h_case("adv_ipv4_total_length_inside_tcp_header", t_ipv4_totlen_short);
	h_case("adv_ipv4_total_length_beyond_frame_not_answered", t_ipv4_totlen_beyond);
	h_case("adv_ipv6_payload_length_beyond_frame_not_answered", t_ipv6_payload_len_beyond);
	h_case("adv_ipv4_ethertype_with_version_6_not_answered", t_ipv4_bad_version);
	h_case("adv_ipv4_options_every_length", t_ipv4_options_every_length);
	h_case("adv_ipv4_fragments", t_ipv4_fragments);
	h_case("adv_ipv6_extension_headers", t_ipv6_ext_headers);
	h_case("adv_vlan_tagged_not_parsed", t_vlan);
	h_case("adv_spliced_segment_with_ipv4_options_translated", t_spliced_ipv4_options);
	h_case("adv_spliced_segment_first_fragment_translated", t_spliced_first_fragment);
	h_case("adv_spliced_segment_ipv6_hop_by_hop_translated", t_spliced_ipv6_ext_header);
	h_case("adv_spliced_segment_ipv6_eight_extension_headers_translated",
	       t_spliced_ipv6_ext_chain);
	h_case("adv_spliced_segment_ipv6_nine_extension_headers_malformed",
	       t_spliced_ipv6_ext_chain_long);
}
