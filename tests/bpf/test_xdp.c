/* test_xdp.c -- BPF tier: what differs between the modes (XDP hand-off to TC, frame resizing, full table). */
/*
 * Cases named "[xdp]" only exercise XDP mode's split of the work between
 * pf_xdp_ingress and pf_tc_ingress; the others run in both modes and
 * stress the frame resizing XDP does before it commits a splice.
 *
 * Not reachable here: pf_resize's head growth (bpf_xdp_adjust_head when
 * the tail cannot grow). BPF_PROG_TEST_RUN gives every frame a full page
 * (256 bytes headroom, up to ~3.5 KB tailroom), and a response frame
 * (at most ~1.1 KB) only grows a request frame shorter than itself, so
 * the tail always grows. Neither is the "no metadata room" fallback of
 * pf_xdp_ingress (the headroom always has room for 4 bytes): the
 * test-only knob pf_test_no_meta (bpf/pf_test.h) makes XDP act as if
 * bpf_xdp_adjust_meta failed. Nor a frame that cannot grow at all (tail
 * and head): pf_test_no_room makes pf_xdp_make_room fail.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"

#define S0 1000000u
#define P0 5000000u
#define VARY PF_EXPECT_VARY

/* XDP mode: TC ingress leaves every packet XDP did not flag alone -- an
 * allowed preflight is not answered twice, and a later segment of a
 * spliced connection is not translated twice. */
static void t_tc_ignores_unflagged(void)
{
	static const struct h_delta none[] = { H_DEND };
	struct conn c;
	struct pkt_spec in;
	struct h_fix f;

	if (!h_need_xdp_meta())
		return; /* there TC takes every frame XDP passes */
	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.prog = &h_tc_in;
	f.verdict = H_PASS;
	f.unchanged = true;
	memcpy(f.d, none, sizeof(none));
	if (!h_fix_run(&f, NULL) || !H_EQ(h_flow_count(), 0, "flows"))
		return;
	/* a connection spliced at XDP, then its next client segment */
	if (!conn_splice(&c, 4, S0, P0))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, PUT_REQ);
	conn_expect(&h_tc_in, &in, NULL, &in, none);
}

/* Full flow table: the request goes to the app byte for byte. XDP grew
 * the frame for the response before pf_commit failed: it must be cut
 * back to exactly the request. */
static void t_table_full(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_TABLE_FULL, 1), H_DEND,
	};
	struct h_fix f;
	struct pf_flow fl;

	if (!H_EQ(h_fill_flows(), H_MAX_FLOWS, "flows after filling the table"))
		return;
	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.verdict = H_PASS;
	f.unchanged = true;
	memcpy(f.d, d, sizeof(d));
	if (h_fix_run(&f, NULL))
		H_CHECK(!h_flow(&f.in, &fl), "the request's connection got a flow entry");
}

/* The same with a request longer than its 204: XDP must not cut the frame
 * to the response before the commit -- grown back when the commit fails,
 * its tail came back zero-filled (the kernel clears grown tailroom), the
 * request's last bytes lost for the app. */
static void t_table_full_long_request(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_TABLE_FULL, 1), H_DEND,
	};
	static char req[1400];
	struct h_fix f;
	size_t n;

	if (!H_EQ(h_fill_flows(), H_MAX_FLOWS, "flows after filling the table"))
		return;
	n = strlen(H_PREFLIGHT) - 2; /* before the empty line */
	memcpy(req, H_PREFLIGHT, n);
	memcpy(req + n, "X-Pad: ", 7);
	memset(req + n + 7, 'p', 600);
	memcpy(req + n + 607, "\r\n\r\n", 5);
	h_answer_fix(&f, 4, req, S0, P0);
	f.verdict = H_PASS;
	f.unchanged = true;
	memcpy(f.d, d, sizeof(d));
	h_fix_run(&f, NULL);
}

/* The same over IPv6 with Ethernet padding behind the request: the IP
 * packet comes back byte for byte. (XDP cuts the frame back to the IP
 * packet's end, dropping the padding: harmless, the stack trims it.) */
static void t_table_full_padded_v6(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_TABLE_FULL, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run r;
	__u8 in[PKT_MAX];
	size_t n, ip_end;

	if (!H_EQ(h_fill_flows(), H_MAX_FLOWS, "flows after filling the table"))
		return;
	h_answer_fix(&f, 6, H_PREFLIGHT, S0, P0);
	f.in.eth_pad = 24;
	n = pkt_build(&f.in, in, sizeof(in));
	ip_end = n - f.in.eth_pad;
	h_set_sock(&f.sock);
	if (!h_run(h_in, in, n, NULL, &r) || !H_EQ(r.verdict, H_PASS, "verdict"))
		return;
	H_CHECK(r.out_len >= ip_end && r.out_len <= n && !memcmp(r.out, in, ip_end),
		"IP packet changed (%u bytes out, frame %zu, IP packet ends at %zu)", r.out_len,
		n, ip_end);
	if (r.kind == H_KIND_XDP)
		H_EQ(r.meta_len, 0, "XDP metadata bytes");
	h_check_deltas(&r, d);
}

/* A request much longer than its 403: the frame shrinks to exactly the
 * response. */
static void t_response_shrinks(void)
{
	static char req[1400];
	static const char resp[] = "HTTP/1.1 403 Forbidden\r\n" VARY "Content-Length: 0\r\n\r\n";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(REJECTED, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run r;
	struct h_want w;
	size_t n;

	n = (size_t)snprintf(req, sizeof(req),
			     "OPTIONS /reject/x HTTP/1.1\r\nHost: api.example.com\r\n"
			     "Origin: " H_ORIGIN "\r\nAccess-Control-Request-Method: DELETE\r\n"
			     "X-Pad: ");
	memset(req + n, 'p', 1000);
	memcpy(req + n + 1000, "\r\n\r\n", 5);
	h_answer_fix(&f, 4, req, S0, P0);
	memcpy(f.d, d, sizeof(d));
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, resp);
	h_check_response(&r, &w);
}

/* Ethernet padding behind an allowed request (IPv4 and IPv6): the
 * response frame has exactly its own length (no trailing bytes). */
static void padded_request(int family)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, family, H_PREFLIGHT, S0, P0);
	f.in.eth_pad = 40;
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	h_check_response(&r, &w);
}

static void t_padded_request_v4(void)
{
	padded_request(4);
}

static void t_padded_request_v6(void)
{
	padded_request(6);
}

/* A request TC answered after XDP's hand-off (its ack was pending), then
 * the client's retransmission, which acks nothing new any more: handed
 * to TC again (XDP never re-answers), answered from the splice TC
 * recorded. */
static void t_handoff_then_retx_from_tc(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_fix f, tcf;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.sock.snd_una = P0 - 300;
	f.verdict = H_PASS;
	f.clones = 1;
	tcf = f;
	h_fix_to_tc(&f);
	if (!h_fix_run(&f, NULL) || !h_chain_fix(&tcf, &r))
		return;
	/* the server has processed the ACK (snd_una = snd_nxt) */
	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 333, 222);
	h_set_sock(&f.sock);
	if (!h_run_to_tc(&f.in, &r, d))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.tsecr = 333;
	h_check_response(&r, &w);
}

/* A hand-off to TC that TC passes (server data not acked yet):
 * the next request, with the server idle, is answered at XDP on the flow
 * TC started tracking. */
static void t_handoff_tracked_then_xdp_answer(void)
{
	static const char answer[] = "HTTP/1.1 204 No Content\r\n\r\n";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_SERVER_BUSY, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	static const struct h_delta d2[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND,
	};
	const __u32 L = (__u32)strlen(H_PREFLIGHT), A = (__u32)strlen(answer);
	struct pkt_spec req, out;
	struct pf_sockinfo busy = h_sock(S0, P0), si;
	struct h_run r;
	struct h_want w;
	struct conn c;

	h_req_spec(&req, 4, H_PREFLIGHT, S0, P0, 111, 222);
	req.ack = P0 - 100;      /* the client has not acked all server data */
	busy.snd_una = P0 - 100;
	h_set_sock(&busy);
	if (!h_run_to_tc(&req, &r, d) || !H_EQ(r.verdict, H_PASS, "verdict"))
		return;
	/* the app answers it (identity translation at egress) */
	memset(&c, 0, sizeof(c));
	c.family = 4;
	conn_sseg(&out, &c, P0, S0 + L, answer);
	if (!conn_expect(&h_tc_out, &out, NULL, &out, conn_d_out))
		return;
	si = h_sock(S0 + L, P0 + A);
	si.bytes_received = L;
	h_set_sock(&si);
	h_req_spec(&req, 4, H_PREFLIGHT, S0 + L, P0 + A, 333, 444);
	if (!h_run_spec(h_in, &req, NULL, &r))
		return;
	w = (struct h_want){ .req = &req, .seq = P0 + A, .ack = S0 + 2 * L,
			     .win = (__u16)(si.rcv_wnd >> si.wscale), .has_ts = true,
			     .tsval = H_TS_NOW, .tsecr = 333, .pay = H_RESP_204,
			     .paylen = strlen(H_RESP_204) };
	if (h_check_response(&r, &w))
		h_check_deltas(&r, d2);
}

/* No metadata room (a driver without XDP metadata support): a spliced
 * request's retransmission cannot go to TC, and the fallback translating
 * it dropped it as the consumed request (race_lost), every time -- the
 * client was never answered if the first answer was lost. It is
 * answered again from XDP: XDP_TX, the same response at the same seq. */
static void t_no_meta_retx_answered_at_xdp(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(XDP_NO_META_RETX, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run first, r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, &first) ||
	    !H_CHECK(first.verdict == H_TX, "first request not answered"))
		return;
	h_set_no_meta(true);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 333, 222);
	h_set_sock(&f.sock);
	if (!h_run_spec(h_in, &f.in, NULL, &r) ||
	    !H_CHECK(r.verdict == H_TX, "retransmission: verdict %s, want TX",
		     h_verdict_name(r.verdict)))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.tsecr = 333;
	if (!h_check_response(&r, &w) || !h_check_deltas(&r, d))
		return;
	H_CHECK(r.out_len == first.out_len, "answer again %u bytes, first %u", r.out_len,
		first.out_len);
}

/* No metadata room, and the retransmission would need a clone (the
 * socket as if the server had not processed the client's ack: snd_una
 * behind it): XDP cannot clone and has no TC to hand it to, so it is
 * dropped there, counted retx_dropped -- not handed back to the
 * fallback, which dropped it as the consumed request (race_lost). The
 * server's retransmission brings the client's ack on its own. */
static void t_no_meta_retx_clone_dropped(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(XDP_NO_META_RETX, 1), H_D(RETX_DROPPED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run r;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, NULL))
		return;
	h_set_no_meta(true);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 333, 222);
	f.sock.snd_una = P0 - 300;
	h_set_sock(&f.sock);
	if (!h_run_spec(h_in, &f.in, NULL, &r) ||
	    !H_CHECK(r.verdict == H_DROP, "retransmission: verdict %s, want DROP",
		     h_verdict_name(r.verdict)))
		return;
	h_check_deltas(&r, d);
}

/* No metadata room, and the frame cannot grow to the response (little
 * tailroom and headroom: pf_xdp_make_room fails, forced with
 * pf_test_no_room as BPF_PROG_TEST_RUN's page-sized frames always grow):
 * no TC to hand it to, so it stays dropped and counted
 * (docs/tcp-splice.md section 4) -- nothing sent, the flow entry as it
 * was; the next retransmission, whose frame can grow, is answered at the
 * same seq with the first answer's bytes. */
static void t_no_meta_retx_no_room_dropped(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(XDP_NO_META_RETX, 1), H_D(RETX_DROPPED, 1), H_DEND,
	};
	static const struct h_delta d2[] = {
		H_D(PKT_SEEN, 1), H_D(XDP_NO_META_RETX, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	const size_t hl = 14 + 20 + 32;  /* Ethernet, IPv4, TCP with NOP NOP TS */
	struct pf_flow before, after;
	struct h_fix f;
	struct h_run first, r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, &first) ||
	    !H_CHECK(first.verdict == H_TX, "first request not answered") ||
	    !H_CHECK(h_flow(&f.in, &before), "no flow entry after the answer"))
		return;
	h_set_no_meta(true);
	h_set_no_room(true);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 333, 222);
	h_set_sock(&f.sock);
	if (!h_run_spec(h_in, &f.in, NULL, &r) ||
	    !H_CHECK(r.verdict == H_DROP, "retransmission: verdict %s, want DROP",
		     h_verdict_name(r.verdict)) ||
	    !h_check_deltas(&r, d) || !H_EQ(r.n_tx, 0, "frames sent"))
		return;
	if (!H_CHECK(h_flow(&f.in, &after), "flow entry gone after the drop") ||
	    !H_CHECK(!memcmp(&before, &after, sizeof(before)),
		     "flow entry changed by the drop (gen %u -> %u, splices %u -> %u)",
		     before.gen, after.gen, before.splices, after.splices))
		return;
	/* the frame can grow again: answered as the first time */
	h_set_no_room(false);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 444, 222);
	if (!h_run_spec(h_in, &f.in, NULL, &r) ||
	    !H_CHECK(r.verdict == H_TX, "later retransmission: verdict %s, want TX",
		     h_verdict_name(r.verdict)))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.tsecr = 444;
	if (!h_check_response(&r, &w) || !h_check_deltas(&r, d2) ||
	    !H_EQ(r.out_len, first.out_len, "answer again: bytes") ||
	    !H_CHECK(r.out_len > hl && !memcmp(r.out + hl, first.out + hl, r.out_len - hl),
		     "answer again: payload differs from the first answer's"))
		return;
	H_CHECK(h_flow(&f.in, &after) && !memcmp(&before, &after, sizeof(before)),
		"flow entry changed by the answer again");
}

void test_xdp(void)
{
	h_case_m("xdp_mode_tc_ingress_ignores_unflagged", t_tc_ignores_unflagged, H_M_XDP);
	h_case_m("xdp_no_meta_retransmission_answered_at_xdp", t_no_meta_retx_answered_at_xdp,
		 H_M_XDP);
	h_case_m("xdp_no_meta_retransmission_needing_clone_dropped", t_no_meta_retx_clone_dropped,
		 H_M_XDP);
	h_case_m("xdp_no_meta_retransmission_frame_cannot_grow_dropped",
		 t_no_meta_retx_no_room_dropped, H_M_XDP);
	h_case_m("xdp_handoff_then_retransmission_answered_from_tc", t_handoff_then_retx_from_tc,
		 H_M_XDP);
	h_case_m("xdp_handoff_tracked_then_next_answered_at_xdp",
		 t_handoff_tracked_then_xdp_answer, H_M_XDP);
	h_case("table_full_request_restored", t_table_full);
	h_case("table_full_long_request_restored", t_table_full_long_request);
	h_case("table_full_request_restored_padded_ipv6", t_table_full_padded_v6);
	h_case("response_shorter_than_request_frame_shrinks", t_response_shrinks);
	h_case("request_with_ethernet_padding_ipv4", t_padded_request_v4);
	h_case("request_with_ethernet_padding_ipv6", t_padded_request_v6);
}
