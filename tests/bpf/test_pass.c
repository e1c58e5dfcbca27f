/* test_pass.c -- BPF tier: packets left alone (unchanged, TC_ACT_UNSPEC / XDP_PASS), and why. */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "harness_int.h"
#include "kfeat.h"

#define S0 1000000u
#define P0 5000000u

/* An allowed preflight that would be answered; cases break one thing.
 * Expected: passed unchanged, pkt_seen +1 and stat +1 (stat < 0: no
 * counter at all, the packet is not even looked at). */
static void pass_fix(struct h_fix *f, const char *payload, int stat)
{
	memset(f, 0, sizeof(*f));
	f->prog = h_in;
	h_req_spec(&f->in, 4, payload, S0, P0, 111, 222);
	f->sock = h_sock(S0, P0);
	h_sock_not_first(&f->sock);
	f->verdict = H_PASS;
	f->unchanged = true;
	if (stat >= 0) {
		f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
		f->d[1] = (struct h_delta){ stat, 1 };
		f->d[2] = (struct h_delta)H_DEND;
	} else {
		f->d[0] = (struct h_delta)H_DEND;
	}
}

/* Run f; nothing may be left in the flow table. */
static void run_pass(const struct h_fix *f)
{
	if (h_fix_run(f, NULL))
		H_EQ(h_flow_count(), 0, "flows in the table");
}

/* A policy-covered preflight the socket state sends to the app on a new
 * connection (its first request): the connection is followed from then
 * on with an identity mapping, the preflight framed (so the next one can
 * be answered once the app has replied). XDP mode:
 * XDP cannot judge socket state (it runs before the stack has seen the
 * segments ahead of this one), so it hands the request to TC, which
 * does exactly this. */
static void run_track(struct h_fix *f)
{
	struct pf_flow fl;
	struct h_fix x;

	f->sock.bytes_received = 0; /* the connection's first request */
	x = *f;
	f->d[2] = (struct h_delta)H_D(FLOW_CREATED, 1);
	f->d[3] = (struct h_delta)H_DEND;
	if (h_xdp()) {
		h_fix_to_tc(&x);
		if (!h_fix_run(&x, NULL) || !H_EQ(h_flow_count(), 0, "flows after XDP alone") ||
		    !h_chain_fix(f, NULL))
			return;
	} else if (!h_fix_run(f, NULL)) {
		return;
	}
	if (!H_CHECK(h_flow(&f->in, &fl), "connection not tracked"))
		return;
	H_EQ(fl.state, PF_FS_FRAMED, "tracked flow state (framed, no answer yet)");
	H_EQX(fl.c_next, f->in.seq + f->in.paylen, "tracked flow c_next");
	H_EQ(fl.resp_acked, 1, "tracked flow resp_acked");
	H_EQ(fl.splices, 0, "tracked flow splices");
	H_CHECK(!(fl.c_pos | fl.c_before | fl.c_after | fl.s_pos | fl.s_before | fl.s_after |
		  fl.req_len | fl.resp_len),
		"tracked flow mapping is not the identity (all positions/offsets/lengths 0)");
}

static void pass_payload(const char *payload, int stat)
{
	struct h_fix f;

	pass_fix(&f, payload, stat);
	run_pass(&f);
}

#define REQ_HEAD \
	"OPTIONS /api/items/7 HTTP/1.1\r\n" \
	"Host: api.example.com\r\n" \
	"Origin: " H_ORIGIN "\r\n" \
	"Access-Control-Request-Method: PUT\r\n"

/* ---- the harness itself ---- */

/* The checksum verifier accepts what the builder makes and catches
 * corruption (a known-answer IPv4 header first). */
static void t_harness_checksums(void)
{
	static const __u8 ip[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	struct pkt_spec s;
	struct pkt_view v;
	__u8 buf[PKT_MAX];
	size_t n;
	int fam;

	H_EQX(pkt_csum_fold(pkt_csum_add(0, ip, sizeof(ip))), 0xb861, "RFC 1071 IPv4 example");
	for (fam = 4; fam <= 6; fam += 2) {
		h_req_spec(&s, fam, H_PREFLIGHT, 1, 2, 3, 4);
		n = pkt_build(&s, buf, sizeof(buf));
		H_CHECK(!pkt_parse(buf, n, &v, NULL, 0) && v.ip_csum_ok && v.tcp_csum_ok &&
			v.has_ts && v.tsval == 3 && v.paylen == s.paylen, "IPv%d: built packet", fam);
		buf[n - 1] ^= 1;
		H_CHECK(!pkt_parse(buf, n, &v, NULL, 0) && !v.tcp_csum_ok,
			"IPv%d: corrupted payload not caught", fam);
		buf[n - 1] ^= 1;
		buf[14 + (fam == 4 ? 12 : 8)] ^= 1;     /* source address: pseudo header */
		H_CHECK(!pkt_parse(buf, n, &v, NULL, 0) && !v.tcp_csum_ok,
			"IPv%d: corrupted address not caught by the TCP checksum", fam);
		if (fam == 4)
			H_CHECK(!v.ip_csum_ok, "corrupted IPv4 header not caught");
	}
}

/* The image the datapath was loaded from has open-coded loops where this
 * kernel has may_goto -- a may_goto at least in each of the answer path's
 * two loop functions (include/pf_common.h) -- and none left where it has
 * not or the run is as on such a kernel (PF_BPFT_NO_MAY_GOTO=1). */
static void t_may_goto_image(void)
{
	const struct bpf_object_skeleton *sk = h_skel->skeleton;
	long n = pf_kfeat_goto_scan((void *)sk->data, sk->data_sz, false);

	if (h_skel->rodata->pf_may_goto)
		H_CHECK(n >= 2, "open-coded loops in the image: %ld may_goto", n);
	else
		H_CHECK(n == 0, "no may_goto left for a kernel without it: %ld", n);
}

/* ---- the request itself ---- */

static void t_plain_options(void)
{
	pass_payload("OPTIONS /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n"
		     "Origin: " H_ORIGIN "\r\n\r\n", PF_STAT_PASS_PLAIN_OPTIONS);
}

static void t_not_options(void)
{
	pass_payload("GET /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		     PF_STAT_PASS_NOT_OPTIONS);
}

/* Under 8 payload bytes: not even tried (no pass counter). */
static void t_tiny_payload(void)
{
	/* under 8 bytes: cannot be "OPTIONS " -- counted as not an OPTIONS request */
	pass_payload("OPTIONS", PF_STAT_PASS_NOT_OPTIONS);
}

static void t_incomplete(void)
{
	pass_payload(REQ_HEAD "Accept: */*\r\n", PF_STAT_PASS_INCOMPLETE);
}

static void t_body(void)
{
	pass_payload(REQ_HEAD "Content-Length: 5\r\n\r\nhello", PF_STAT_PASS_BODY);
}

static void t_chunked(void)
{
	pass_payload(REQ_HEAD "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", PF_STAT_PASS_BODY);
}

static void t_pipelined(void)
{
	pass_payload(H_PREFLIGHT "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		     PF_STAT_PASS_PIPELINED);
}

static void t_http10(void)
{
	pass_payload("OPTIONS /api/items/7 HTTP/1.0\r\nHost: api.example.com\r\n"
		     "Origin: " H_ORIGIN "\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		     PF_STAT_PASS_HTTP_VERSION);
}

static void t_conn_close(void)
{
	pass_payload(REQ_HEAD "Connection: close\r\n\r\n", PF_STAT_PASS_CONN_CLOSE);
}

static void t_dup_origin(void)
{
	pass_payload(REQ_HEAD "Origin: https://evil.test\r\n\r\n", PF_STAT_PASS_DUP_HEADER);
}

static void t_obs_fold(void)
{
	pass_payload(REQ_HEAD "Accept: a,\r\n b\r\n\r\n", PF_STAT_PASS_OBS_FOLD);
}

static void t_no_host(void)
{
	pass_payload("OPTIONS /api/items/7 HTTP/1.1\r\nOrigin: " H_ORIGIN "\r\n"
		     "Access-Control-Request-Method: PUT\r\n\r\n", PF_STAT_PASS_BAD_REQUEST);
}

/* Rules use paths, so a path with dot segments goes to the app. */
static void t_path_unnormalized(void)
{
	pass_payload("OPTIONS /api/../reject/x HTTP/1.1\r\nHost: api.example.com\r\n"
		     "Origin: " H_ORIGIN "\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		     PF_STAT_PASS_PATH_UNNORM);
}

/* A request-header list of n names "x-header-NN" (n <= 90). */
static void acrh_names(char *req, size_t size, unsigned n_names)
{
	char hdrs[1100];
	unsigned i, n = 0;

	for (i = 0; i < n_names; i++)
		n += (unsigned)snprintf(hdrs + n, sizeof(hdrs) - n, "%sx-header-%02u",
					i ? ", " : "", i);
	snprintf(req, size, REQ_HEAD "Access-Control-Request-Headers: %s\r\n\r\n", hdrs);
}

/* Over the kernel's limits: the daemon's job, and no daemon runs. */
static void t_acrh_daemon_down(void)
{
	char req[1600];

	struct h_fix f;

	acrh_names(req, sizeof(req), 30);
	/* a punt is only considered for a request the kernel could answer:
	 * here the connection's first, followed from then on */
	h_pass_first_fix(&f, 4, req, S0, P0, PF_STAT_PASS_DAEMON_DOWN);
	h_fix_run(&f, NULL);
}

/* 79 names, 1025 bytes: over what the kernel checks and what the daemon
 * checks for it (PF_ACRH_SLOW_MAX): passed, counted as such. */
static void t_acrh_limit(void)
{
	char req[1600];

	acrh_names(req, sizeof(req), 79);
	pass_payload(req, PF_STAT_PASS_ACRH_LIMIT);
}

static void t_too_long(void)
{
	static char req[2200];
	size_t n;

	n = (size_t)snprintf(req, sizeof(req), "%sX-Pad: ", REQ_HEAD);
	memset(req + n, 'a', 2100 - n);
	memcpy(req + 2100, "\r\n\r\n", 5);
	pass_payload(req, PF_STAT_PASS_TOO_LONG);
}

/* ---- the connection ---- */

/* Passed, and no flow entry: a segment without a local socket (spoofed,
 * no handshake) must not take a place in the flow table (issue 10). */
static void run_untracked(struct h_fix *f)
{
	struct h_fix x = *f;

	if (h_xdp()) {
		h_fix_to_tc(&x);
		if (!h_fix_run(&x, NULL) || !h_chain_fix(f, NULL))
			return;
	} else if (!h_fix_run(f, NULL)) {
		return;
	}
	H_EQ(h_flow_count(), 0, "flow entries");
}

static void t_no_socket(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_NO_SOCKET);
	f.sock.valid = 0;
	run_untracked(&f);
}

/* A guard fails on a real connection, but the segment's checksum is
 * wrong (the stack drops it): not tracked either. */
static void t_busy_bad_csum_untracked(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_SERVER_BUSY);
	f.sock.write_seq = P0 + 100;
	f.in.bad_csum = 1;
	run_untracked(&f);
}

static void t_busy_unsent(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_SERVER_BUSY);
	f.sock.write_seq = P0 + 100;
	run_track(&f);
}

static void t_busy_unacked(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_SERVER_BUSY);
	f.in.ack = P0 - 100;     /* the client has not acked all server data */
	f.sock.snd_una = P0 - 100;
	run_track(&f);
}

static void t_not_next(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_NOT_NEXT);
	f.in.seq = S0 + 500;     /* out of order: bytes before it missing */
	f.sock.bytes_received = 0;
	run_untracked(&f);       /* not the connection's first byte */
}

/* A connection's first request with later client bytes already waiting
 * in the socket (a pipelined request reordered ahead of it: queued out of
 * order, or in the backlog): passed and tracked, not spliced -- spliced,
 * its wire seq would map onto that copy (a review finding, stop 51;
 * answered without the fix). */
static void t_first_rcv_later(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_RCV_LATER);
	f.sock.later = 1;
	run_track(&f);
}

static void t_not_copied(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_NOT_NEXT);
	f.sock.copied_seq = S0 - 20;  /* the app has not read everything */
	run_track(&f);
}

static void t_order(void)
{
	struct h_fix f;

	/* a connection whose first request was not seen: its framing is
	 * unknown (this could be body bytes, or behind an unanswered
	 * request); never followed */
	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_FRAMING);
	f.sock.bytes_received = 300;
	run_pass(&f);
}

static void t_mss(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_MSS);
	f.sock.mss = 200;
	run_track(&f);
}

static void t_gso(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_GSO);
	f.env.gso_segs = 2;
	run_pass(&f);
}

static void pass_flags(__u8 flags)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_TCP_FLAGS);
	f.in.flags = flags;
	run_pass(&f);
}

static void t_flag_fin(void) { pass_flags(TH_ACK | TH_PSH | TH_FIN); }
static void t_flag_rst(void) { pass_flags(TH_ACK | TH_RST); }
static void t_flag_urg(void) { pass_flags(TH_ACK | TH_PSH | TH_URG); }
static void t_flag_no_ack(void) { pass_flags(TH_PSH); }
static void t_flag_syn(void) { pass_flags(TH_SYN | TH_ACK); }

static void t_draining(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_DRAINING);
	h_cfg()->draining = 1;
	run_pass(&f);
}

/* ---- the IP/TCP headers ---- */

static void t_ip_options(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_IP);
	f.in.ip_optlen = 4;
	run_pass(&f);
}

/* Served only on 8080/8443. */
static void t_other_port(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, -1);
	f.in.dport = 9090;
	run_pass(&f);
}

static void t_udp(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, -1);
	f.in.proto = PKT_PROTO_UDP;
	run_pass(&f);
}

/* A first fragment carries the TCP header: parsed (a spliced connection's
 * segment is translated) but never answered. */
static void t_fragment_first(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_PASS_IP);
	f.in.frag = 0x2000;          /* MF */
	run_pass(&f);
}

static void t_fragment_later(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, -1);
	f.in.frag = 185;             /* offset 1480 */
	run_pass(&f);
}

static void t_ihl_small(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, -1);
	f.in.ihl = 4;
	run_pass(&f);
}

/* The IP header claims 60 bytes, the frame ends before the TCP header.
 * (A frame that ends inside the first 20 bytes of the IPv4 header cannot
 * be tested here: BPF_PROG_TEST_RUN refuses it with EINVAL.) */
static void t_ip_header_truncated(void)
{
	struct h_fix f;

	pass_fix(&f, "", -1);
	f.in.optlen = 0;
	f.in.ihl = 15;
	run_pass(&f);
}

/* The frame ends inside the TCP header (so before the IP length says). */
static void t_tcp_header_truncated(void)
{
	struct h_fix f;

	pass_fix(&f, "", -1);
	f.d[0] = (struct h_delta)H_D(MALFORMED, 1);
	f.d[1] = (struct h_delta)H_DEND;
	f.in.optlen = 0;
	f.in.cut = 8;
	run_pass(&f);
}

static void t_doff_small(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, PF_STAT_MALFORMED);
	f.d[0] = (struct h_delta)H_D(MALFORMED, 1);   /* before pkt_seen */
	f.d[1] = (struct h_delta)H_DEND;
	f.in.doff = 4;
	run_pass(&f);
}

static void t_doff_beyond_packet(void)
{
	struct h_fix f;

	pass_fix(&f, "", -1);
	f.d[0] = (struct h_delta)H_D(MALFORMED, 1);
	f.d[1] = (struct h_delta)H_DEND;
	f.in.doff = 15;
	run_pass(&f);
}

/* IPv6 extension headers are not walked. */
static void t_ipv6_ext_header(void)
{
	struct h_fix f;

	pass_fix(&f, H_PREFLIGHT, -1);
	f.in.family = 6;
	pkt_addr(6, "2001:db8::2", f.in.saddr);
	pkt_addr(6, "2001:db8::1", f.in.daddr);
	f.in.proto = 0;              /* hop-by-hop */
	run_pass(&f);
}

/* A server segment of a connection without a flow, at egress. */
static void t_egress_no_flow(void)
{
	struct h_fix f;

	pass_fix(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", -1);
	f.prog = &h_tc_out;
	pkt_default_out(&f.in, 4);
	f.in.pay = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	f.in.paylen = (unsigned)strlen(f.in.pay);
	run_pass(&f);
}

void test_pass(void)
{
	h_case_once("harness_checksum_verifier", t_harness_checksums);
	h_case_once("may_goto_image", t_may_goto_image);
	h_case("pass_plain_options", t_plain_options);
	h_case("pass_not_options", t_not_options);
	h_case("pass_tiny_payload", t_tiny_payload);
	h_case("pass_incomplete", t_incomplete);
	h_case("pass_body_content_length", t_body);
	h_case("pass_body_chunked", t_chunked);
	h_case("pass_pipelined", t_pipelined);
	h_case("pass_http_1_0", t_http10);
	h_case("pass_connection_close", t_conn_close);
	h_case("pass_duplicate_origin", t_dup_origin);
	h_case("pass_obs_fold", t_obs_fold);
	h_case("pass_no_host", t_no_host);
	h_case("pass_path_unnormalized", t_path_unnormalized);
	h_case("pass_acrh_daemon_down", t_acrh_daemon_down);
	h_case("pass_acrh_over_limit", t_acrh_limit);
	h_case("pass_request_too_long", t_too_long);
	h_case("pass_no_socket_not_tracked", t_no_socket);
	h_case("pass_guard_bad_checksum_not_tracked", t_busy_bad_csum_untracked);
	h_case("pass_server_busy_unsent", t_busy_unsent);
	h_case("pass_server_busy_unacked", t_busy_unacked);
	h_case("pass_not_next_seq", t_not_next);
	h_case("pass_not_next_unread", t_not_copied);
	h_case("pass_first_request_later_bytes_queued", t_first_rcv_later);
	h_case("pass_framing_first_request_not_seen", t_order);
	h_case("pass_mss", t_mss);
	h_case_m("pass_gso", t_gso, H_M_TC);        /* skb only */
	h_case("pass_tcp_flags_fin", t_flag_fin);
	h_case("pass_tcp_flags_rst", t_flag_rst);
	h_case("pass_tcp_flags_urg", t_flag_urg);
	h_case("pass_tcp_flags_no_ack", t_flag_no_ack);
	h_case("pass_tcp_flags_syn", t_flag_syn);
	h_case("pass_draining", t_draining);
	h_case("pass_ipv4_options", t_ip_options);
	h_case("ignore_other_port", t_other_port);
	h_case("ignore_udp", t_udp);
	h_case("ignore_ipv4_fragment_mf", t_fragment_first);
	h_case("ignore_ipv4_fragment_offset", t_fragment_later);
	h_case("ignore_ipv4_ihl_below_5", t_ihl_small);
	h_case("ignore_ipv4_header_truncated", t_ip_header_truncated);
	h_case("ignore_tcp_header_truncated", t_tcp_header_truncated);
	h_case("malformed_tcp_doff_below_5", t_doff_small);
	h_case("malformed_tcp_doff_beyond_packet", t_doff_beyond_packet);
	h_case("ignore_ipv6_extension_header", t_ipv6_ext_header);
	h_case("egress_no_flow_untouched", t_egress_no_flow);
}
