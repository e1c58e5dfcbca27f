/* test_icmp.c -- BPF tier: ICMP errors quoting a spliced connection's server segment (bpf/pf_icmp.h). */
#include <stdio.h>
#include <string.h>

#include "conn.h"

/* Frame offsets of an ICMP error (no outer options) quoting a segment
 * whose IP header has iphl bytes: the ICMP checksum, the quoted seq. */
#define ICMP_CSUM_OFF(fam)      (14 + ((fam) == 4 ? 20 : 40) + 2)
#define ICMP_SEQ_OFF(fam, iphl) (14 + ((fam) == 4 ? 20 : 40) + 8 + (iphl) + 4)

/* A full-sized server data segment's payload. */
static char big[1401];

/* An ICMP error from a router next to the client (10.0.0.254 /
 * 2001:db8::fe) to the server: type, code, rest (the header's second
 * word, host order: the next-hop MTU of 3/4 and packet too big), quoting
 * the first qlen bytes (at most all) of the IP packet of quoted, a server
 * -> client segment; edit (may be NULL) changes the quote first; pad
 * bytes of Ethernet padding after it. Returns the frame's length (0: does
 * not fit). */
static size_t icmp_frame(const struct pkt_spec *quoted, __u8 type, __u8 code, __u32 rest,
			 size_t qlen, void (*edit)(__u8 *quote), unsigned pad, __u8 *buf,
			 size_t cap)
{
	__u8 qb[PKT_MAX], msg[PKT_MAX];
	size_t qn = pkt_build(quoted, qb, sizeof(qb));
	struct pkt_spec o;

	if (qn < 14)
		return 0;
	qn -= 14;
	if (qlen < qn)
		qn = qlen;
	memset(msg, 0, 8);
	msg[0] = type;
	msg[1] = code;
	msg[4] = (__u8)(rest >> 24);
	msg[5] = (__u8)(rest >> 16);
	msg[6] = (__u8)(rest >> 8);
	msg[7] = (__u8)rest;
	memcpy(msg + 8, qb + 14, qn);
	if (edit)
		edit(msg + 8);
	pkt_default(&o, quoted->family);
	pkt_addr(o.family, o.family == 4 ? "10.0.0.254" : "2001:db8::fe", o.saddr);
	o.proto = o.family == 4 ? PKT_PROTO_ICMP : PKT_PROTO_ICMPV6;
	o.frag = 0;
	o.pay = msg;
	o.paylen = (unsigned)(8 + qn);
	o.eth_pad = pad;
	return pkt_build(&o, buf, cap);
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Run ICMP frame b (n bytes, family fam, the quoted IP header iphl
 * bytes) through the current ingress: passed, the quoted seq now
 * want_seq, every other byte but the ICMP checksum as it came, the
 * checksum right (pkt_icmp_parse); counter deltas d. */
static bool icmp_expect(const __u8 *b, size_t n, int fam, size_t iphl, __u32 want_seq,
			const struct h_delta *d)
{
	size_t so = ICMP_SEQ_OFF(fam, iphl), co = ICMP_CSUM_OFF(fam), mn;
	const __u8 *msg;
	struct h_run r;
	int ok;

	if (!h_run(h_in, b, n, NULL, &r) ||
	    !H_CHECK(r.verdict == H_PASS, "verdict %s, want PASS", h_verdict_name(r.verdict)) ||
	    !H_EQ(r.out_len, n, "output length") || !H_EQ(r.meta_len, 0, "XDP metadata bytes"))
		return false;
	H_EQX(get32(r.out + so), want_seq, "quoted seq");
	H_CHECK(!memcmp(r.out, b, co) && !memcmp(r.out + co + 2, b + co + 2, so - co - 2) &&
		!memcmp(r.out + so + 4, b + so + 4, n - so - 4),
		"output differs from the input outside the ICMP checksum and the quoted seq");
	if (H_CHECK(!pkt_icmp_parse(r.out, r.out_len, &msg, &mn, &ok), "output is not ICMP"))
		H_CHECK(ok, "ICMP checksum wrong after the rewrite");
	h_check_deltas(&r, d);
	return h_ok();
}

static const struct h_delta d_translated[] = { H_D(ICMP_TRANSLATED, 1), H_DEND };
static const struct h_delta d_passed[] = { H_D(ICMP_PASSED, 1), H_DEND };
static const struct h_delta d_unread[] = { H_D(ICMP_UNREAD, 1), H_DEND };
static const struct h_delta d_none[] = { H_DEND };

/* A spliced connection (its response acked)'s full-sized server segment
 * at socket seq P + off goes out at wire seq P + off + R (TC egress); a router's error about it
 * (type/code/rest, the first qlen bytes quoted) must reach the server
 * with the socket's seq P + off, the ICMP checksum right -- else
 * tcp_v4_err / tcp_v6_err find the seq outside snd_una..snd_nxt and
 * ignore it (a path MTU drop then black-holes the connection). */
static void icmp_mapped(int fam, __u32 s, __u32 p, __u8 type, __u8 code, __u32 rest,
			size_t qlen, unsigned ip_optlen)
{
	struct conn c;
	struct pkt_spec q;
	__u8 b[PKT_MAX];
	size_t n;
	__u32 off = 2896;

	memset(big, 'x', sizeof(big) - 1);
	if (!conn_splice_acked(&c, fam, s, p) || !conn_expect_sseg(&c, off, big))
		return;
	conn_sseg(&q, &c, c.P + off + c.R, c.S + c.L, big);
	q.ip_optlen = ip_optlen;
	n = icmp_frame(&q, type, code, rest, qlen, NULL, 0, b, sizeof(b));
	if (H_CHECK(n, "test bug: ICMP frame"))
		icmp_expect(b, n, fam, (fam == 4 ? 20 : 40) + ip_optlen, c.P + off, d_translated);
}

/* 3/4 fragmentation needed, 548 bytes quoted (Linux quotes up to 576
 * bytes of IP packet in all). */
static void t_frag_needed_v4(void)
{
	icmp_mapped(4, 1000000, 5000000, 3, 4, 1400, 548, 0);
}

/* Packet too big, the quoted seq across 2^32 (socket P + off wraps). */
static void t_packet_too_big_v6(void)
{
	icmp_mapped(6, 0xffffff00u, 0xfffffa00u, 2, 0, 1280, 1232, 0);
}

/* What RFC 792 guarantees only: the IP header and 8 bytes of TCP. */
static void t_time_exceeded_min_quote_v4(void)
{
	icmp_mapped(4, 1000000, 5000000, 11, 0, 0, 28, 0);
}

/* A redirect (5/1, for the host; the gateway in the second word). */
static void t_redirect_v4(void)
{
	icmp_mapped(4, 1000000, 5000000, 5, 1, 0x0a0000fe, 28, 0);
}

/* The quoted IPv4 header with options (ihl 6): skipped by its length. */
static void t_host_unreach_ip_options_v4(void)
{
	icmp_mapped(4, 1000000, 5000000, 3, 1, 0, 64, 4);
}

/* Destination unreachable (ICMPv6 1/4, port unreachable), 48 bytes. */
static void t_dest_unreach_min_quote_v6(void)
{
	icmp_mapped(6, 1000000, 5000000, 1, 4, 0, 48, 0);
}

/* An ICMP error about seg (a server segment; qlen, edit, pad as
 * icmp_frame) must pass unchanged, counted d. */
static void icmp_unchanged(const struct pkt_spec *seg, size_t qlen, void (*edit)(__u8 *),
			   unsigned pad, const struct h_delta *d, const char *tag)
{
	__u8 b[PKT_MAX];
	size_t n = icmp_frame(seg, seg->family == 4 ? 3 : 2, seg->family == 4 ? 4 : 0, 1400,
			      qlen, edit, pad, b, sizeof(b));

	if (H_CHECK(n, "test bug: ICMP frame"))
		conn_raw_pass(b, n, d, false, tag);
}

/* An error quoting the injected response itself. Its first byte (wire
 * P, a router's quote of the response segment) maps to the response's
 * position, here the same number (nothing inserted before it: counted
 * passed). A seq inside it (P + 10) no router quotes -- only a blind
 * spoofer: passed unchanged too, not mapped to P, which would make every
 * seq of the response one the idle socket accepts (review, stop 33). */
static void t_quoting_response(void)
{
	struct conn c;
	struct pkt_spec q;
	__u8 b[PKT_MAX];
	size_t n;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&q, &c, c.P, c.S + c.L, "");
	n = icmp_frame(&q, 3, 4, 1400, 64, NULL, 0, b, sizeof(b));
	if (H_CHECK(n, "test bug: ICMP frame"))
		icmp_expect(b, n, 4, 20, c.P, d_passed);
	conn_sseg(&q, &c, c.P + 10, c.S + c.L, "");
	icmp_unchanged(&q, 64, NULL, 0, d_passed, "inside the response");
}

/* No flow entry for the quoted segment's connection. */
static void t_no_flow(void)
{
	struct pkt_spec q;

	pkt_default_out(&q, 4);
	q.seq = 5000000;
	icmp_unchanged(&q, 548, NULL, 0, d_passed, "v4");
	pkt_default_out(&q, 6);
	icmp_unchanged(&q, 548, NULL, 0, d_passed, "v6");
}

/* A tracked connection that was never spliced: nothing inserted. */
static void t_tracked_unspliced(void)
{
	struct h_fix f;
	struct pkt_spec q;

	h_pass_first_fix(&f, 4, PUT_REQ, 1000000, 5000000, PF_STAT_PASS_NOT_OPTIONS);
	if (!h_fix_run(&f, NULL) || !H_EQ(h_flow_count(), 1, "flows (tracked)"))
		return;
	pkt_default_out(&q, 4);
	q.seq = 5000000;
	q.ack = 1000000 + (__u32)strlen(PUT_REQ);
	icmp_unchanged(&q, 548, NULL, 0, d_passed, "tracked");
}

/* A spliced connection's segment from before the splice (socket seq
 * below P: wire and socket seq are the same). */
static void t_before_splice(void)
{
	struct conn c;
	struct pkt_spec q;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&q, &c, c.P - 1400, c.S, "x");
	icmp_unchanged(&q, 548, NULL, 0, d_passed, "before");
}

/* Quotes too short for the seq (the IP header and 0..7 bytes of TCP, or
 * less): passed unchanged, counted icmp_unread, at every length -- also
 * with Ethernet padding after the message (a short frame padded to the
 * 60-byte minimum), which must not be read as quoted bytes. */
static void t_truncated(void)
{
	struct conn c;
	struct pkt_spec q;
	char tag[32];
	size_t k, iphl;
	int fam;

	for (fam = 4; fam <= 6; fam += 2) {
		h_reset_state();
		if (!conn_splice(&c, fam, 1000000, 5000000))
			return;
		conn_sseg(&q, &c, c.P + c.R + 100, c.S + c.L, "x");
		iphl = fam == 4 ? 20 : 40;
		for (k = 0; k < 2 * (iphl + 8); k++) {
			snprintf(tag, sizeof(tag), "v%d quote of %zu bytes%s", fam, k / 2,
				 k & 1 ? ", padded" : "");
			icmp_unchanged(&q, k / 2, NULL, k & 1 ? 24 : 0, d_unread, tag);
			if (!h_ok())
				return;
		}
	}
}

/* A spliced connection's full-sized server segment quoted by an ICMP
 * error (family fam), the quote edited by edit: the seq cannot be read,
 * passed unchanged, counted icmp_unread. */
static void icmp_quote_unread(int fam, void (*edit)(__u8 *), const char *tag)
{
	struct conn c;
	struct pkt_spec q;

	if (!conn_splice(&c, fam, 1000000, 5000000))
		return;
	conn_sseg(&q, &c, c.P + c.R + 100, c.S + c.L, "x");
	icmp_unchanged(&q, 548, edit, 0, d_unread, tag);
}

/* The quoted IPv6 header's next header a hop-by-hop header: TCP may be
 * behind it, not walked. */
static void quote_hopopts(__u8 *quote)
{
	quote[6] = 0;
}

static void t_v6_ext_header(void)
{
	icmp_quote_unread(6, quote_hopopts, "hop-by-hop");
}

/* A later IPv4 fragment quoted: no TCP header in it. */
static void quote_later_frag(__u8 *quote)
{
	quote[6] = 0x00;
	quote[7] = 0xb9;
}

static void t_v4_later_fragment(void)
{
	icmp_quote_unread(4, quote_later_frag, "fragment");
}

/* Not ours, not counted: an error about another port's segment, one
 * about UDP, an echo request. */
static void t_not_ours(void)
{
	struct conn c;
	struct pkt_spec q;
	__u8 b[PKT_MAX], echo[16] = { 8, 0, 0, 0, 0, 1, 0, 1 };
	size_t n;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&q, &c, c.P + c.R + 100, c.S + c.L, "x");
	q.sport = 9999;
	icmp_unchanged(&q, 548, NULL, 0, d_none, "other port");
	conn_sseg(&q, &c, c.P + c.R + 100, c.S + c.L, "x");
	q.proto = PKT_PROTO_UDP;
	icmp_unchanged(&q, 548, NULL, 0, d_none, "udp");
	pkt_default(&q, 4);
	q.proto = PKT_PROTO_ICMP;
	q.pay = echo;
	q.paylen = sizeof(echo);
	n = pkt_build(&q, b, sizeof(b));
	if (H_CHECK(n, "test bug: echo frame"))
		conn_raw_pass(b, n, d_none, false, "echo request");
}

void test_icmp(void)
{
	h_case("icmp_frag_needed_v4_quoted_seq_mapped_to_socket", t_frag_needed_v4);
	h_case("icmp_packet_too_big_v6_quoted_seq_mapped_to_socket_wrap", t_packet_too_big_v6);
	h_case("icmp_time_exceeded_v4_8_tcp_bytes_quoted_mapped", t_time_exceeded_min_quote_v4);
	h_case("icmp_redirect_v4_quoted_seq_mapped", t_redirect_v4);
	h_case("icmp_host_unreachable_v4_quote_with_ip_options_mapped",
	       t_host_unreach_ip_options_v4);
	h_case("icmp_dest_unreachable_v6_8_tcp_bytes_quoted_mapped", t_dest_unreach_min_quote_v6);
	h_case("icmp_quoting_injected_response_start_passed_inside_not_mapped", t_quoting_response);
	h_case("icmp_no_flow_passed_unchanged", t_no_flow);
	h_case("icmp_tracked_unspliced_flow_passed_unchanged", t_tracked_unspliced);
	h_case("icmp_segment_before_splice_passed_unchanged", t_before_splice);
	h_case("icmp_truncated_quote_passed_unchanged_every_length", t_truncated);
	h_case("icmp_v6_quote_with_extension_header_passed_unchanged", t_v6_ext_header);
	h_case("icmp_v4_quote_of_later_fragment_passed_unchanged", t_v4_later_fragment);
	h_case("icmp_other_port_udp_echo_not_counted", t_not_ours);
}
