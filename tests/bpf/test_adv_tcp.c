/* test_adv_tcp.c -- BPF tier: hostile and odd TCP (options, window, flags, cuts, checksums). */
/*
 * Every case runs in both modes; see test_adv_ip.c for the conventions.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"

#define S0 1000000u
#define P0 5000000u

/* ---- TCP ---- */

/* Options of every length 0..40 bytes (TS first when it fits, NOPs,
 * padded with EOL): answered, the response echoes TS iff present. */
static void t_tcp_options_every_length(void)
{
	static const __u8 ts[10] = { 8, 10, 0, 0, 0, 111, 0, 0, 0, 222 };
	static const __u8 nop[40] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
				      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct h_fix f;
	struct h_run r;
	struct h_want w;
	unsigned k;

	for (k = 0; k <= 40 && h_ok(); k++) {
		h_reset_state();
		h_answer_fix(&f, k & 1 ? 6 : 4, H_PREFLIGHT, S0, P0);
		f.in.optlen = 0;
		if (k >= 10) {
			pkt_opt_raw(&f.in, ts, sizeof(ts));
			pkt_opt_raw(&f.in, nop, k - 10);
		} else {
			pkt_opt_raw(&f.in, nop, k);
		}
		if (!h_fix_run(&f, &r)) {
			H_CHECK(false, "with %u option bytes", k);
			break;
		}
		w = h_want_resp(&f, P0, H_RESP_204);
		w.has_ts = k >= 10;
		if (!h_check_response(&r, &w))
			H_CHECK(false, "with %u option bytes", k);
	}
}

/* TS at the very end and at an odd offset, EOL ending the list (what
 * follows is ignored, as Linux does), EOL before a TS (no TS then), a TS
 * kind with the wrong length (ignored), TS behind SACK blocks. */
static void t_tcp_options_layouts(void)
{
	static const struct {
		__u8 b[40];
		unsigned n;
		bool ts;
	} lay[] = {
		/* 30 NOPs, then TS in the last 10 bytes of a full option area */
		{ { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		    1, 1, 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222 }, 40, true },
		{ { 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222, 1 }, 12, true },
		{ { 8, 10, 0, 0, 0, 111, 0, 0, 0, 222, 0, 5, 0xff, 3, 0 }, 15, true },
		{ { 0, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222 }, 11, false },
		{ { 8, 2, 1, 1 }, 4, false },
		{ { 1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9, 1, 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222 },
		  24, true },
	};
	struct h_fix f;
	struct h_run r;
	struct h_want w;
	unsigned k;

	for (k = 0; k < sizeof(lay) / sizeof(lay[0]) && h_ok(); k++) {
		h_reset_state();
		h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
		f.in.optlen = 0;
		pkt_opt_raw(&f.in, lay[k].b, lay[k].n);
		if (!h_fix_run(&f, &r)) {
			H_CHECK(false, "layout %u", k);
			break;
		}
		w = h_want_resp(&f, P0, H_RESP_204);
		w.has_ts = lay[k].ts;
		if (!h_check_response(&r, &w))
			H_CHECK(false, "layout %u", k);
	}
}

/* The request (first on its connection) with option bytes b (n, a
 * multiple of 4) in place of NOP NOP TS: passed to the app unchanged,
 * counted pass_tcp_opt, the connection followed (flow_created) but
 * nothing spliced -- in either mode, at the first program (the options
 * are what they are at XDP too). Returns false after a failed check. */
static bool opt_request_passed(const __u8 *b, unsigned n)
{
	struct h_fix f;
	struct pf_flow fl;

	h_pass_first_fix(&f, 4, H_PREFLIGHT, S0, P0, PF_STAT_PASS_TCP_OPT);
	f.in.optlen = 0;
	pkt_opt_raw(&f.in, b, n);
	if (!h_fix_run(&f, NULL))
		return false;
	return H_CHECK(h_flow(&f.in, &fl) && !fl.splices, "not tracked, or spliced");
}

/* Options the kernel verifies over the segment (TCP-MD5, kind 19;
 * TCP-AO, 29) or that carry sequence numbers of their own (MPTCP, 30: a
 * DSS mapping), each with Linux's NOP NOP TS: a spliced response would
 * lack them (no MAC, no mapping) and the connection break -- such a
 * request goes to the app (pass_tcp_opt). So do handshake options on a
 * data segment (MSS, window scale, SACK-permitted): only EOL, NOP, SACK
 * and TS are answered. */
static void t_tcp_md5_option_passed(void)
{
	__u8 o[32] = { 1, 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222, 19, 18 };

	memset(o + 14, 0xab, 16);
	o[30] = o[31] = 1;
	opt_request_passed(o, sizeof(o));
}

static void t_tcp_ao_option_passed(void)
{
	/* key ids 1/1, a 12-byte MAC (HMAC-SHA-1-96) */
	__u8 o[28] = { 1, 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222, 29, 16, 1, 1 };

	memset(o + 16, 0xcd, 12);
	opt_request_passed(o, sizeof(o));
}

static void t_mptcp_dss_option_passed(void)
{
	/* DSS with a 4-byte data ACK */
	static const __u8 o[20] = { 1, 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222,
				    30, 8, 0x20, 0x01, 0x11, 0x22, 0x33, 0x44 };

	opt_request_passed(o, sizeof(o));
}

static void t_handshake_options_passed(void)
{
	static const __u8 o[20] = { 2, 4, 5, 0xb4, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222,
				    4, 2, 3, 3, 7, 0 };

	opt_request_passed(o, sizeof(o));
}

/* Malformed option lists Linux stops parsing at (and accepts the
 * segment): length 0, length 1, longer than the list, a kind byte with
 * no length byte. The app must get the request (pass_tcp_opt, the
 * connection tracked). */
static void t_tcp_options_malformed(void)
{
	static const struct {
		__u8 b[12];
		unsigned n;
	} bad[] = {
		{ { 3, 0, 1, 1 }, 4 },
		{ { 1, 3, 1, 1 }, 4 },
		{ { 1, 1, 8, 40, 0, 0, 0, 111 }, 8 },
		{ { 8, 10, 0, 0, 0, 111, 0, 0, 0, 222, 1, 3 }, 12 },
		{ { 30, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 12 },
	};
	unsigned k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]) && h_ok(); k++) {
		h_reset_state();
		if (!opt_request_passed(bad[k].b, bad[k].n))
			H_CHECK(false, "option list %u", k);
	}
}

/* A zero window: the client cannot take the response. An RFC 9293
 * client still processes the ACK of a segment it cannot queue (3.10.7.4)
 * -- the request is acked, the response dropped, and nothing ever
 * resends it (preflightd keeps no copy): the app, whose TCP respects the
 * window, must answer this one. */
static void t_zero_window(void)
{
	struct h_fix f;
	struct h_run r;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.in.win = 0;
	h_set_sock(&f.sock);
	if (!h_run_spec(h_in, &f.in, NULL, &r))
		return;
	if (r.verdict == H_TX) {
		H_CHECK(false, "BUG: preflight with a zero receive window answered (%u response "
			"bytes sent into a closed window)", (unsigned)strlen(H_RESP_204));
		return;
	}
	H_CHECK(r.verdict == H_PASS, "verdict %s, want PASS", h_verdict_name(r.verdict));
}

/* SYN, FIN, RST (and odd combinations) carrying a preflight: never
 * answered, counted. */
static void t_flags_with_payload(void)
{
	static const __u8 fl[] = {
		TH_SYN, TH_SYN | TH_ACK, TH_FIN | TH_ACK | TH_PSH, TH_RST, TH_RST | TH_ACK,
		TH_FIN | TH_SYN | TH_RST | TH_PSH | TH_ACK | TH_URG, 0, TH_PSH, TH_FIN,
	};
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_TCP_FLAGS, 1), H_DEND,
	};
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k;
	char tag[32];

	for (k = 0; k < sizeof(fl) && h_ok(); k++) {
		struct pf_sockinfo si = h_sock(S0, P0);

		h_sock_not_first(&si);
		h_reset_state();
		h_set_sock(&si);
		h_req_spec(&s, 4, H_PREFLIGHT, S0, P0, 111, 222);
		s.flags = fl[k];
		snprintf(tag, sizeof(tag), "flags 0x%02x", fl[k]);
		conn_raw_pass(b, pkt_build(&s, b, sizeof(b)), d, false, tag);
		H_CHECK(h_flow_count() == 0, "%s: a flow entry", tag);
	}
}

/* A preflight cut at every byte boundary: each prefix is passed
 * unchanged -- no payload: not even looked at; under 8 bytes: not an
 * OPTIONS request; else incomplete, and, as the connection's first
 * bytes, held for the rest (bpf/pf_follow.h, split heads): its entry
 * waits at the head's start. */
static void cut_every_byte(int family)
{
	static const struct h_delta d0[] = { H_D(PKT_SEEN, 1), H_DEND };
	static const struct h_delta dn[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_DEND,
	};
	static const struct h_delta di[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_INCOMPLETE, 1), H_D(SPLIT_HELD, 1),
		H_D(FLOW_CREATED, 1), H_DEND,
	};
	struct pf_flow fl;
	const unsigned L = (unsigned)strlen(H_PREFLIGHT);
	struct pkt_spec s;
	__u8 b[PKT_MAX];
	unsigned k;
	char tag[48];

	for (k = 0; k < L && h_ok(); k++) {
		struct pf_sockinfo si = h_sock(S0, P0);

		h_reset_state();
		h_set_sock(&si);
		h_req_spec(&s, family, H_PREFLIGHT, S0, P0, 111, 222);
		s.paylen = k;
		snprintf(tag, sizeof(tag), "first %u of %u bytes", k, L);
		conn_raw_pass(b, pkt_build(&s, b, sizeof(b)), k == 0 ? d0 : k < 8 ? dn : di, false,
			 tag);
		if (k < 8) {
			H_CHECK(h_flow_count() == 0, "%s: a flow entry", tag);
			continue;
		}
		if (H_CHECK(h_flow(&s, &fl), "%s: no flow entry", tag))
			H_CHECK(fl.state == (PF_FS_FRAMED | PF_FS_ANSWERED) && fl.c_next == S0,
				"%s: entry not waiting at the head (state %u)", tag, fl.state);
	}
}

static void t_cut_every_byte_v4(void) { cut_every_byte(4); }
static void t_cut_every_byte_v6(void) { cut_every_byte(6); }

/* ---- checksums ---- */

/* An otherwise allowed (or rejected) preflight with a bad TCP checksum:
 * the stack drops it, so it is passed, not answered. */
static void bad_csum(int family, const char *req)
{
	static const struct h_delta d[] = { H_D(PKT_SEEN, 1), H_D(PASS_CSUM, 1), H_DEND };
	struct h_fix f;

	h_answer_fix(&f, family, req, S0, P0);
	f.in.bad_csum = 1;
	f.verdict = H_PASS;
	f.unchanged = true;
	memcpy(f.d, d, sizeof(d));
	if (h_fix_run(&f, NULL))
		H_EQ(h_flow_count(), 0, "flows");
}

/* A payload byte changed in flight, the sender's checksum kept: passed
 * (pass_csum), never answered. Every length modulo 32 (the request summed
 * as it is copied, pf_copy_sum: 32-byte steps, 8-byte words, the last 1..7
 * bytes), a byte at each of the last 8 places before the blank line (a
 * header value's); the unchanged request is answered. */
static void corrupt_tail(int family)
{
	static const struct h_delta d[] = { H_D(PKT_SEEN, 1), H_D(PASS_CSUM, 1), H_DEND };
	static const char head[] = "OPTIONS /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n"
				   "Origin: " H_ORIGIN "\r\nAccess-Control-Request-Method: PUT\r\n";
	static const char pad[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char req[sizeof(head) + 64], tag[64];
	unsigned p, j, len;
	__u8 b[PKT_MAX];
	struct h_run r;
	struct h_fix f;
	size_t n;

	for (p = 0; p < 32 && h_ok(); p++) {
		len = (unsigned)snprintf(req, sizeof(req), "%sX-Pad: %.*s\r\n\r\n", head,
					 (int)(8 + p), pad);
		for (j = 0; j <= 8 && h_ok(); j++) {
			h_reset_state();
			h_answer_fix(&f, family, req, S0, P0);
			n = pkt_build(&f.in, b, sizeof(b));
			if (!H_CHECK(n > len, "test bug: packet does not build"))
				return;
			h_set_sock(&f.sock);
			if (j == 8) {
				H_CHECK(!h_try_run(h_in, b, n, NULL, &r) && r.verdict == H_TX,
					"%u bytes unchanged: not answered", len);
				continue;
			}
			b[n - 5 - j] ^= 3; /* 'a' -> 'b' */
			snprintf(tag, sizeof(tag), "%u bytes, byte %u changed", len, len - 5 - j);
			conn_raw_pass(b, n, d, false, tag);
			H_CHECK(h_flow_count() == 0, "%s: a flow entry", tag);
		}
	}
}

static void t_corrupt_tail_v4(void) { corrupt_tail(4); }
static void t_corrupt_tail_v6(void) { corrupt_tail(6); }

static void t_bad_csum_v4(void) { bad_csum(4, H_PREFLIGHT); }
static void t_bad_csum_v6(void) { bad_csum(6, H_PREFLIGHT); }

static void t_bad_csum_reject(void)
{
	bad_csum(4, "OPTIONS /reject/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " H_ORIGIN
		 "\r\nAccess-Control-Request-Method: DELETE\r\n\r\n");
}

/* CHECKSUM_PARTIAL (veth/local with offload): the field holds the folded
 * pseudo-header sum, not complemented. XDP, which has no ip_summed, takes
 * such a field for it: accepted and answered. TC asks the skb's
 * ip_summed, and a test run's skb is CHECKSUM_NONE -- what a corrupted
 * segment from a NIC whose field happens to equal that sum is: summed,
 * refused, passed unchanged (pass_csum; answered when TC trusted the
 * field). The e2e csum-offload passes run real CHECKSUM_PARTIAL skbs. */
static void partial_csum(int family, int wrong_len)
{
	static const struct h_delta dc[] = { H_D(PKT_SEEN, 1), H_D(PASS_CSUM, 1), H_DEND };
	struct h_fix f;
	struct h_run r;
	struct h_want w;
	__u8 b[PKT_MAX], ps[40] = { 0 };
	size_t n, l4 = 14 + (family == 4 ? 20 : 40), tl;
	__u16 c;

	h_answer_fix(&f, family, H_PREFLIGHT, S0, P0);
	n = pkt_build(&f.in, b, sizeof(b));
	tl = n - l4 + wrong_len;
	if (family == 4) {
		memcpy(ps, b + 26, 8);
		ps[9] = 6;
		ps[10] = (__u8)(tl >> 8);
		ps[11] = (__u8)tl;
		c = (__u16)~pkt_csum_fold(pkt_csum_add(0, ps, 12));
	} else {
		memcpy(ps, b + 22, 32);
		ps[34] = (__u8)(tl >> 8);
		ps[35] = (__u8)tl;
		ps[39] = 6;
		c = (__u16)~pkt_csum_fold(pkt_csum_add(0, ps, 40));
	}
	b[l4 + 16] = (__u8)(c >> 8);
	b[l4 + 17] = (__u8)c;
	h_set_sock(&f.sock);
	if (!h_run(h_in, b, n, NULL, &r))
		return;
	if (wrong_len || !h_xdp()) {
		H_CHECK(r.verdict == H_PASS && r.out_len == n && !memcmp(r.out, b, n),
			"%s: not passed unchanged",
			wrong_len ? "partial checksum for the wrong length" :
				    "TC, CHECKSUM_NONE with the pseudo-header sum");
		h_check_deltas(&r, dc);
		return;
	}
	w = h_want_resp(&f, P0, H_RESP_204);
	if (h_check_response(&r, &w))
		h_check_deltas(&r, f.d);
}

static void t_partial_csum_v4(void) { partial_csum(4, 0); }
static void t_partial_csum_v6(void) { partial_csum(6, 0); }
static void t_partial_csum_wrong_len(void) { partial_csum(4, 1); }

/* A retransmission of a consumed request with a bad TCP checksum (one
 * bit of the Origin flipped: app -> apq, still allowed by the rule's
 * wildcard origin *.example.com, same response length): the stack would drop it;
 * pf_reanswer does not verify the checksum, so a client that lost the
 * first response accepts one built from the corrupted bytes -- its
 * Access-Control-Allow-Origin no longer matches and the browser fails
 * the preflight. */
static void t_bad_csum_retransmission(void)
{
	static const char corrupt[] =
		"OPTIONS /api/items/7 HTTP/1.1\r\n"
		"Host: api.example.com\r\n"
		"Origin: https://apq.example.com\r\n"
		"Access-Control-Request-Method: PUT\r\n"
		"Access-Control-Request-Headers: content-type\r\n"
		"Accept: */*\r\n"
		"\r\n";
	struct h_fix f;
	struct h_run r;
	struct pkt_view v;
	__u8 b[PKT_MAX], good[PKT_MAX];
	size_t n;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, &r))
		return;
	/* the same segment, its checksum kept, one payload byte flipped */
	n = pkt_build(&f.in, good, sizeof(good));
	h_req_spec(&f.in, 4, corrupt, S0, P0, 111, 222);
	if (!H_EQ(pkt_build(&f.in, b, sizeof(b)), n, "test bug: corrupt length"))
		return;
	b[14 + 20 + 16] = good[14 + 20 + 16];   /* the checksum field */
	b[14 + 20 + 17] = good[14 + 20 + 17];
	if (!H_CHECK(!pkt_parse(b, n, &v, NULL, 0) && !v.tcp_csum_ok, "test bug: csum ok"))
		return;
	if (!h_run(h_in, b, n, NULL, &r))
		return;
	if (r.verdict == H_TX && !pkt_parse(r.out, r.out_len, &v, NULL, 0)) {
		H_CHECK(false, "BUG: retransmission with a bad TCP checksum answered: %u bytes at "
			"seq 0x%08x, built from the corrupted request (%s)", v.paylen, v.seq,
			memmem(v.pay, v.paylen, "apq.example", 11) ? "Access-Control-Allow-Origin: "
			"https://apq.example.com" : "origin not echoed");
		return;
	}
	H_CHECK(r.verdict != H_TX, "answered");
}

void test_adv_tcp(void)
{
	h_case("adv_tcp_options_every_length_0_to_40", t_tcp_options_every_length);
	h_case("adv_tcp_options_layouts_ts_odd_offset_eol", t_tcp_options_layouts);
	h_case("adv_tcp_options_malformed_passed_to_app", t_tcp_options_malformed);
	h_case("adv_tcp_md5_option_request_passed", t_tcp_md5_option_passed);
	h_case("adv_tcp_ao_option_request_passed", t_tcp_ao_option_passed);
	h_case("adv_mptcp_dss_option_request_passed", t_mptcp_dss_option_passed);
	h_case("adv_handshake_options_on_request_passed", t_handshake_options_passed);
	h_case("adv_zero_window_not_answered", t_zero_window);
	h_case("adv_syn_fin_rst_with_payload", t_flags_with_payload);
	h_case("adv_request_cut_at_every_byte_ipv4", t_cut_every_byte_v4);
	h_case("adv_request_cut_at_every_byte_ipv6", t_cut_every_byte_v6);
	h_case("adv_bad_tcp_checksum_allowed_ipv4", t_bad_csum_v4);
	h_case("adv_bad_tcp_checksum_allowed_ipv6", t_bad_csum_v6);
	h_case("adv_bad_tcp_checksum_rejected", t_bad_csum_reject);
	h_case("adv_payload_byte_changed_every_length_mod_32_ipv4", t_corrupt_tail_v4);
	h_case("adv_payload_byte_changed_every_length_mod_32_ipv6", t_corrupt_tail_v6);
	h_case("adv_checksum_partial_xdp_accepted_tc_summed_ipv4", t_partial_csum_v4);
	h_case("adv_checksum_partial_xdp_accepted_tc_summed_ipv6", t_partial_csum_v6);
	h_case("adv_checksum_partial_wrong_length", t_partial_csum_wrong_len);
	h_case("adv_bad_tcp_checksum_retransmission_not_answered", t_bad_csum_retransmission);
}
