/* test_flow.c -- BPF tier: a flow over several requests (second splices, tracked flows). */
#include <string.h>

#include "conn.h"

#define WIN (64256u >> 7)  /* h_sock(): rcv_wnd >> wscale */

/* r's output must be exactly want from the EtherType on (every byte but
 * the TCP checksum, which must be right; the IP header checksum is
 * compared too). The MACs are left to
 * answer_piggybacked_ack_pure_ack_keeps_macs. */
static bool check_frame(const struct h_run *r, const struct pkt_spec *want)
{
	__u8 wb[PKT_MAX];
	size_t wn = pkt_build(want, wb, sizeof(wb)), csum, i;
	struct pkt_view v;

	if (!h_out_view(r, &v))
		return false;
	csum = 14 + (want->family == 4 ? 20 : 40) + 16;
	if (!H_EQ(r->out_len, wn, "output length"))
		return false;
	for (i = 12; i < wn; i++)
		if (r->out[i] != wb[i] && i != csum && i != csum + 1)
			break;
	return H_CHECK(i == wn, "output differs from the expected packet at byte %zu "
		       "(0x%02x, want 0x%02x)", i, r->out[i], wb[i]);
}

/* A second preflight before the first response is acked: passed (and
 * translated) so the app answers it. */
static void t_second_pending(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_SPLICE_PENDING, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	struct pf_sockinfo si;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	si = h_sock(c.S, c.P);
	h_set_sock(&si);
	conn_cseg(&in, &c, c.S + c.L, c.P, H_PREFLIGHT);
	want = in;
	want.seq = c.S;
	conn_expect_to_tc(&in, &want, d);
}

/* Splice, a PUT and its answer through the translation, a second
 * splice: offsets accumulate, and later segments use both. pending: the
 * second preflight carries the only ack of the app's answer (the socket
 * has not seen it): the response leaves as a clone, the skb goes on as a
 * pure ACK in the server's sequence space. probes: once the second
 * response is acked, a keepalive probe's octet at the client's snd_una -
 * 1 (inside the second consumed request, the one the entry holds) goes
 * to the socket's rcv_nxt - 1; the tail of the first consumed request
 * (no longer in the entry: only the latest splice is) maps with the
 * offset before the second splice, c_before = L, to below the socket's
 * seq of the first request -- old data either way. */
static void second_splice(int family, __u32 s, __u32 p, bool pending, bool probes)
{
	static const char answer[] = "HTTP/1.1 204 No Content\r\nX-Pad: 0123456789012345\r\n\r\n";
	static const struct h_delta d2[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND,
	};
	static const struct h_delta d_tail[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_TAIL_PASSED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const __u32 D = (__u32)strlen(PUT_REQ), A = (__u32)strlen(answer);
	struct conn c;
	struct pkt_spec in, want, req2;
	struct pf_sockinfo si;
	struct h_run r;
	struct h_want w;
	struct pf_flow fl;
	__u32 S2;

	if (!conn_splice(&c, family, s, p))
		return;
	/* the PUT, acking the first response */
	conn_next_put(&in, &want, &c);
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in_data))
		return;
	/* the app's answer to it */
	conn_sseg(&in, &c, c.P, c.S + D, answer);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + D + c.L;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	/* the second preflight, acking the app's answer */
	S2 = c.S + c.L + D;
	si = h_sock(c.S + D, c.P + A);
	if (pending)
		si.snd_una = c.P;
	h_set_sock(&si);
	h_req_spec(&req2, family, H_PREFLIGHT, S2, c.P + c.R + A, 333, 444);
	/* XDP cannot clone: a pending ack goes to TC (h_run_to_tc) */
	if (pending ? !h_run_to_tc(&req2, &r, d2) : !h_run_spec(h_in, &req2, NULL, &r))
		return;
	w = (struct h_want){ .req = &req2, .seq = c.P + A + c.R, .ack = S2 + c.L, .win = WIN,
			     .has_ts = true, .tsval = H_TS_NOW, .tsecr = 333,
			     .pay = H_RESP_204, .paylen = c.R };
	if (pending) {
		/* the pure ACK: request's socket seq, the ack in socket space */
		want = req2;
		want.seq = c.S + D;
		want.ack = c.P + A;
		want.flags = TH_ACK;
		want.paylen = 0;
		want.ttl = 64;
		want.ip_id = 0;
		if (!h_check_clone(&r, &w) || !H_EQ(r.verdict, H_PASS, "verdict (pure ACK)") ||
		    !check_frame(&r, &want))
			return;
	} else if (!h_check_response(&r, &w) || !h_check_deltas(&r, d2)) {
		return;
	}
	if (!H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		return;
	H_EQX(fl.c_pos, S2, "flow c_pos");
	H_EQ(fl.c_before, c.L, "flow c_before");
	H_EQ(fl.c_after, 2 * c.L, "flow c_after");
	H_EQX(fl.s_pos, c.P + A, "flow s_pos");
	H_EQ(fl.s_before, c.R, "flow s_before");
	H_EQ(fl.s_after, 2 * c.R, "flow s_after");
	H_EQ(fl.splices, 2, "flow splices");
	H_EQ(fl.resp_acked, 0, "flow resp_acked");
	if (!h_ok())
		return;
	if (probes) {
		/* the client's pure ACK of the second response */
		conn_cseg(&in, &c, S2 + c.L, c.P + A + 2 * c.R, "");
		want = in;
		want.seq = c.S + D;
		want.ack = c.P + A;
		if (!conn_expect(h_in, &in, NULL, &want, conn_d_in))
			return;
		/* a keepalive probe with one octet at snd_una - 1 */
		conn_cseg(&in, &c, S2 + c.L - 1, c.P + A + 2 * c.R, "x");
		want = in;
		want.seq = c.S + D - 1;
		want.ack = c.P + A;
		if (!conn_expect(h_in, &in, NULL, &want, d_tail))
			return;
		/* the first request's tail, sent again */
		conn_cseg(&in, &c, c.S + 100, c.P + A + 2 * c.R, H_PREFLIGHT + 100);
		want = in;
		want.seq = c.S + 100 - c.L;
		want.ack = c.P + A;
		if (!conn_expect(h_in, &in, NULL, &want, conn_d_in_data))
			return;
	}
	/* later client data acking both responses: seq - 2L, ack - 2R */
	conn_cseg(&in, &c, S2 + c.L, c.P + A + 2 * c.R, PUT_REQ);
	want = in;
	want.seq = c.S + D;
	want.ack = c.P + A;
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in_data))
		return;
	/* later server data: seq + 2R, ack + 2L */
	conn_sseg(&in, &c, c.P + A, c.S + 2 * D, answer);
	want = in;
	want.seq = c.P + A + 2 * c.R;
	want.ack = c.S + 2 * D + 2 * c.L;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	/* server data from between the two responses (retransmitted):
	 * only the first response is before it; its ack reaches the second
	 * request, which the second response acked already */
	conn_sseg(&in, &c, c.P, c.S + D, answer);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + D + 2 * c.L;
	conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out);
}

static void t_second_splice_v4(void)
{
	second_splice(4, 1000000, 5000000, false, false);
}

static void t_second_splice_v6_wrap(void)
{
	second_splice(6, 0xffffff00u, 0xffffff80u, false, false);
}

static void t_second_splice_pending_ack(void)
{
	second_splice(4, 1000000, 5000000, true, false);
}

static void t_second_splice_pending_ack_v6(void)
{
	second_splice(6, 0xffffff00u, 0xffffff80u, true, false);
}

static void t_second_splice_probes_v4(void)
{
	second_splice(4, 1000000, 5000000, false, true);
}

static void t_second_splice_probes_v6_wrap(void)
{
	second_splice(6, 0xffffff00u, 0xffffff80u, false, true);
}


/* Client data the app has not answered yet (a PUT), then a preflight
 * right behind it (pipelined): the app must answer in order, so the
 * preflight goes to it (translated), and the connection is not followed
 * any more (a client that pipelines). */
static void t_after_unanswered_data(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_ORDER, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const __u32 D = (__u32)strlen(PUT_REQ);
	struct conn c;
	struct pkt_spec in, want;
	struct pf_sockinfo si;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_next_put(&in, &want, &c);
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in_data))
		return;
	si = h_sock(c.S + D, c.P);
	h_set_sock(&si);
	conn_cseg(&in, &c, c.S + c.L + D, c.P + c.R, H_PREFLIGHT);
	want = in;
	want.seq = c.S + D;
	want.ack = c.P;
	/* the flow's state decides, not the socket's: XDP passes it too */
	conn_expect(h_in, &in, NULL, &want, d);
}

/* A spoofed data segment `ahead` bytes past the bytes passed (valid
 * checksum), past the largest window the socket can have advertised:
 * passed translated (the kernel drops it), but c_hi stays, and the next
 * preflight is answered. */
static void spoofed_data_past(__u32 ahead)
{
	static const struct h_delta d2[] = { H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND };
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;
	struct h_run r;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L + ahead, c.P + c.R, "0123456789");
	want = in;
	want.seq = c.S + ahead;
	want.ack = c.P;
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in_data) ||
	    !H_CHECK(h_flow(&c.req, &fl), "flow gone") ||
	    !H_EQX(fl.c_hi, c.S + c.L, "flow c_hi (after a spoofed segment past the window)"))
		return;
	h_req_spec(&in, 4, H_PREFLIGHT, c.S + c.L, c.P + c.R, 333, 444);
	if (h_run_spec(h_in, &in, NULL, &r))
		h_check_deltas(&r, d2);
}

/* 2^30 ahead, past the largest window any TCP advertises: c_hi moved
 * there kept every later preflight on the connection pass_not_next for
 * ~2^31 bytes. */
static void t_spoofed_data_past_window(void) { spoofed_data_past(1u << 30); }

/* Past the largest window this socket can have advertised (65535 << its
 * rcv_wscale 7: 8 MiB) but inside the largest any TCP can (1 GiB), where a
 * blind random seq lands one time in four (before stop 51 the 1 GiB
 * bound: c_hi moved, pass_not_next; a review finding). Just inside the
 * socket's own largest window, a gap still moves c_hi (below). */
static void t_spoofed_data_past_scaled_window(void) { spoofed_data_past((65535u << 7) + 1000); }

/* A gap's deltas: its bytes are also kept ahead of the missing ones, as
 * a piece of the head that may start there (split_ahead, pf_split_ahead). */
static const struct h_delta d_gap[] = {
	H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(SPLIT_AHEAD, 1), H_D(TRANSLATED_IN, 1),
	H_DEND,
};

/* The other side: a gap inside the receive window (a segment after a
 * lost one) is queued by the socket out of order with the current
 * offsets, so it still moves c_hi (a preflight before it must not be
 * spliced: pf_commit's pass_not_next). */
static void t_gap_in_window(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L + 1000, c.P + c.R, "0123456789");
	want = in;
	want.seq = c.S + 1000;
	want.ack = c.P;
	if (conn_expect(h_in, &in, NULL, &want, d_gap) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQX(fl.c_hi, c.S + c.L + 1010, "flow c_hi (a gap inside the window)");
}

static void t_gap_inside_scaled_window(void)
{
	/* too far ahead to be kept as a head's piece (split_ahead) */
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const __u32 win = 65535u << 7;
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L + win - 1000, c.P + c.R, "0123456789");
	want = in;
	want.seq = c.S + win - 1000;
	want.ack = c.P;
	if (conn_expect(h_in, &in, NULL, &want, d) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQX(fl.c_hi, c.S + c.L + win - 990, "flow c_hi (a gap inside the window)");
}

/* The client's bytes 2^30 (PF_FOLD_DIST) past c_next, which stayed (a
 * held head whose rest never came): the framing is lost -- 2^32 bytes on,
 * a segment would be "at c_next" again and body bytes framed as a head
 * (a review finding, stop 51; kept without the fix). c_hi is put there
 * by hand, a contiguous segment then takes it past; short of it, the
 * framing stays. */
static void c_hi_far_past_c_next(__u32 short_by, bool lost)
{
	struct conn c;
	struct pkt_spec in;
	struct pf_flow fl;
	struct h_run r;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000) ||
	    !H_CHECK(h_flow(&c.req, &fl), "flow gone") ||
	    !H_CHECK(fl.state & PF_FS_FRAMED, "framed after the splice"))
		return;
	fl.c_hi = fl.c_next + (1u << 30) - short_by;
	fl.hi |= PF_FLOW_C_HI;
	h_flow_put(&c.req, &fl);
	conn_cseg(&in, &c, fl.c_hi, c.P + c.R, "0123456789");
	if (!h_run_spec(h_in, &in, NULL, &r) || !H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		return;
	H_EQ(fl.state & PF_FS_FRAMED, lost ? 0 : PF_FS_FRAMED, "framing");
}

static void t_c_hi_far_past_c_next_framing_lost(void) { c_hi_far_past_c_next(5, true); }
static void t_c_hi_short_of_fold_dist_framing_kept(void) { c_hi_far_past_c_next(20, false); }

/* A gap the socket's advertised edge says is past the window, but that
 * is inside the largest one: the advertised edge can move left
 * (tcp_shrink_window) or be read torn without the socket lock, and the
 * kernel may still queue the segment out of order -- so it moves c_hi
 * (a splice before it would misplace its bytes). The mock's advertised
 * window is 0 here, the segment 1000 bytes ahead. */
static void t_gap_past_advertised_edge(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_sockinfo si;
	struct pf_flow fl;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	si = h_sock(c.S, c.P);
	si.rcv_wnd = 0;
	h_set_sock(&si);
	conn_cseg(&in, &c, c.S + c.L + 1000, c.P + c.R, "0123456789");
	want = in;
	want.seq = c.S + 1000;
	want.ack = c.P;
	if (conn_expect(h_in, &in, NULL, &want, d_gap) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQX(fl.c_hi, c.S + c.L + 1010, "flow c_hi (a gap past the advertised edge)");
}

/* A segment whose payload the stack never queues -- no ACK (dropped by
 * tcp_rcv_established), or RST -- carrying a whole request head at
 * c_next (a spoof that hit the window) frames nothing and moves nothing:
 * c_next and c_hi stay, and the real preflight at c_next is answered
 * (before stop 51 the head was framed: c_next moved past it, and the
 * preflight went to the app, pass_not_boundary; a review finding). */
static void stray_head(__u8 flags, bool then_answer)
{
	static const struct h_delta d2[] = { H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND };
	static const char head[] = "GET /x HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
	struct conn c;
	struct pkt_spec in;
	struct pf_flow before, after;
	struct h_run r;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000) ||
	    !H_CHECK(h_flow(&c.req, &before), "flow gone"))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, head);
	in.flags = flags;
	if (!h_run_spec(h_in, &in, NULL, &r) ||
	    !H_CHECK(h_flow(&c.req, &after), "flow gone"))
		return;
	H_EQX(after.c_next, before.c_next, "flow c_next (a head the stack drops)");
	H_EQX(after.c_hi, before.c_hi, "flow c_hi (a head the stack drops)");
	if (!then_answer)
		return;
	h_req_spec(&in, 4, H_PREFLIGHT, c.S + c.L, c.P + c.R, 333, 444);
	if (h_run_spec(h_in, &in, NULL, &r))
		h_check_deltas(&r, d2);
}

static void t_head_without_ack_frames_nothing(void) { stray_head(TH_PSH, true); }
static void t_head_with_rst_frames_nothing(void) { stray_head(TH_RST | TH_ACK, false); }

/* Urgent data on a framed connection: the socket takes the byte at seq +
 * urg_ptr - 1 out of the stream the app reads (SO_OOBINLINE off), so a
 * head in such a segment -- or after a pure ACK whose pointer aims at
 * it -- is not the head the app parses. The framing is lost: the flow's
 * state cleared, and the next preflight goes to the app. Before (a
 * read-only review, stop 52) the head was framed byte for byte. */
static void urgent(bool pure)
{
	static const char head[] = "GET /x HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
	struct conn c;
	struct pkt_spec in;
	struct pf_flow fl;
	struct h_run r;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, pure ? "" : head);
	in.flags |= TH_URG;
	if (!h_run_spec(h_in, &in, NULL, &r) || !H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		return;
	H_EQ(fl.state, 0, "flow state (the framing lost)");
	h_req_spec(&in, 4, H_PREFLIGHT, c.S + c.L + (pure ? 0 : sizeof(head) - 1), c.P + c.R,
		   333, 444);
	if (h_run_spec(h_in, &in, NULL, &r))
		H_EQ(r.delta[PF_STAT_ANSWERED], 0, "answered after urgent data");
}

static void t_urgent_head_framing_lost(void) { urgent(false); }
static void t_urgent_pure_ack_framing_lost(void) { urgent(true); }

/* A simple request (no preflight): the connection's first request. */
#define GET_REQ "GET /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\n\r\n"

/* Start a tracked (identity) flow: the connection's first request, a
 * simple GET the app answers, is followed from its first byte (at XDP in
 * XDP mode: no socket state decides it). */
static bool track(struct conn *c, __u32 s, __u32 p)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	struct pf_sockinfo si = h_sock(s, p);
	struct pkt_spec in;
	struct pf_flow fl;

	memset(c, 0, sizeof(*c));
	c->family = 4;
	c->S = s;
	c->P = p;
	c->L = (__u32)strlen(GET_REQ);
	h_req_spec(&c->req, 4, GET_REQ, s, p, 111, 222);
	h_set_sock(&si);
	in = c->req;
	if (!conn_expect(h_in, &c->req, NULL, &in, d) || !H_EQ(h_flow_count(), 1, "flows") ||
	    !H_CHECK(h_flow(&c->req, &fl), "flow gone"))
		return false;
	return H_EQ(fl.state, PF_FS_FRAMED, "flow state (followed, no answer yet)") &&
	       H_EQX(fl.c_next, s + c->L, "flow c_next (after the GET)");
}

/* A full flow table at a connection's first request (a GET): it goes
 * to the app untracked, and that is counted (pass_table_full) -- else
 * the connection's later preflights showed only as pass_framing. */
static void t_track_table_full(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(PASS_TABLE_FULL, 1), H_DEND,
	};
	struct pf_sockinfo si = h_sock(1000000, 5000000);
	struct pkt_spec in;
	struct pf_flow fl;

	if (!H_EQ(h_fill_flows(), H_MAX_FLOWS, "flows after filling the table"))
		return;
	h_req_spec(&in, 4, GET_REQ, 1000000, 5000000, 111, 222);
	h_set_sock(&si);
	if (conn_expect(h_in, &in, NULL, &in, d))
		H_CHECK(!h_flow(&in, &fl), "the GET's connection got a flow entry");
}

/* The first preflight on a connection that carried another request
 * before: answered once the app has answered that one (it went to the
 * app as pass_order when the datapath did not follow connections from
 * their first byte -- ~1 in 100 preflights of a browser's mix, more
 * behind a reverse proxy's pooled connections). */
/* The app answers the tracked connection c's first request; the first
 * preflight after it is answered. */
static void next_answered(struct conn *c0)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND,
	};
	const __u32 L = (__u32)strlen(H_PREFLIGHT), A = (__u32)strlen(answer);
	struct conn c;
	struct pkt_spec in;
	struct pf_sockinfo si;
	struct h_run r;
	struct h_want w;
	struct pf_flow fl;

	c = *c0;
	/* the app's answer: identity, but it marks the GET answered */
	conn_sseg(&in, &c, c.P, c.S + c.L, answer);
	if (!conn_expect(&h_tc_out, &in, NULL, &in, conn_d_out) ||
	    !H_CHECK(h_flow(&c.req, &fl), "flow gone") ||
	    !H_EQ(fl.state, PF_FS_FRAMED | PF_FS_ANSWERED, "flow state (the GET answered)"))
		return;
	si = h_sock(c.S + c.L, c.P + A);
	si.bytes_received = c.L;
	h_set_sock(&si);
	h_req_spec(&in, 4, H_PREFLIGHT, c.S + c.L, c.P + A, 333, 444);
	if (!h_run_spec(h_in, &in, NULL, &r))
		return;
	w = (struct h_want){ .req = &in, .seq = c.P + A, .ack = c.S + c.L + L, .win = WIN,
			     .has_ts = true, .tsval = H_TS_NOW, .tsecr = 333,
			     .pay = H_RESP_204, .paylen = strlen(H_RESP_204) };
	if (!h_check_response(&r, &w) || !h_check_deltas(&r, d) ||
	    !H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		return;
	H_EQX(fl.c_pos, c.S + c.L, "flow c_pos");
	H_EQ(fl.c_before, 0, "flow c_before");
	H_EQ(fl.c_after, L, "flow c_after");
	H_EQX(fl.s_pos, c.P + A, "flow s_pos");
	H_EQ(fl.s_before, 0, "flow s_before");
	H_EQ(fl.s_after, w.paylen, "flow s_after");
	H_EQ(fl.splices, 1, "flow splices");
}

static void t_tracked_next_answered(void)
{
	struct conn c;

	if (track(&c, 1000000, 5000000))
		next_answered(&c);
}

/* A connection's first request head split over two segments (a simple
 * credentialed GET with a large Cookie line, no preflight before it):
 * held on the socket, the entry created waiting at the head's start; the
 * second segment completes it, and the connection is followed as if it
 * had come whole. */
static void t_track_split_first(void)
{
	static const char part1[] = "GET /api/items/7 HTTP/1.1\r\nHost: api.exa";
	static const char part2[] = "mple.com\r\nAccept: */*\r\n\r\n";
	static const struct h_delta d1[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(SPLIT_HELD, 1),
		H_D(FLOW_CREATED, 1), H_DEND,
	};
	static const struct h_delta d2[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(SPLIT_JOINED, 1),
		H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const __u32 S = 1000000, P = 5000000, P1 = (__u32)strlen(part1);
	struct pf_sockinfo si = h_sock(S, P);
	struct pkt_spec in;
	struct pf_flow fl;
	struct conn c;

	memset(&c, 0, sizeof(c));
	c.family = 4;
	c.S = S;
	c.P = P;
	c.L = P1 + (__u32)strlen(part2);
	h_req_spec(&c.req, 4, part1, S, P, 111, 222);
	h_set_sock(&si);
	in = c.req;
	if (!conn_expect(h_in, &c.req, NULL, &in, d1) || !H_CHECK(h_flow(&c.req, &fl), "no flow") ||
	    !H_EQ(fl.state, PF_FS_FRAMED | PF_FS_ANSWERED, "flow state (waiting at the head)") ||
	    !H_EQX(fl.c_next, S, "flow c_next (the held head's start)"))
		return;
	si = h_sock(S + P1, P);
	si.bytes_received = P1;
	h_set_sock(&si);
	h_req_spec(&in, 4, part2, S + P1, P, 111, 222);
	if (!conn_expect(h_in, &in, NULL, &in, d2) || !H_CHECK(h_flow(&c.req, &fl), "flow gone") ||
	    !H_EQ(fl.state, PF_FS_FRAMED, "flow state (followed, no answer yet)") ||
	    !H_EQX(fl.c_next, S + c.L, "flow c_next (after the GET)"))
		return;
	next_answered(&c);
}

/* A tracked flow has no response: a SACK block that straddles seq 0
 * overlaps nothing and must be kept (translated by 0), not stripped. */
static void t_tracked_sack_across_zero(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in;
	__u32 blk[1][2] = { { 0xffffff00u, 0x100u } };

	if (!track(&c, 1000000, 0xfffff000u))
		return;
	conn_cseg(&in, &c, c.S + c.L, 0xfffff000u, "");
	pkt_opt_sack(&in, 1, blk);
	if (!conn_expect(h_in, &in, NULL, &in, d))
		return;
	/* its blocks map to themselves: nothing is written, so no failing
	 * write can drop it (pf_test_write_fail; dropped, xlate_error, when
	 * the unchanged options were written back) */
	h_set_write_fail(true);
	conn_expect(h_in, &in, NULL, &in, d);
}

/* ---- a new connection on the 4-tuple of an ended one ---- */

/* A handshake segment of c: client SYN (out false) or server SYN-ACK
 * (out true) at seq/ack, with MSS and TS options as Linux sends them. */
static void hs_seg(struct pkt_spec *s, const struct conn *c, bool out, __u32 seq, __u32 ack)
{
	static const __u8 mss[4] = { 2, 4, 0x05, 0xb4 };

	if (out)
		pkt_default_out(s, c->family);
	else
		pkt_default(s, c->family);
	s->seq = seq;
	s->ack = ack;
	s->flags = out ? TH_SYN | TH_ACK : TH_SYN;
	s->win = 64240;
	pkt_opt_raw(s, mss, sizeof(mss));
	pkt_opt_ts(s, out ? 900 : 800, out ? 800 : 0);
}

/* The client SYN at seq passes untranslated, and the entry changes only
 * by what it records (syn_end = seq + 1, PF_FLOW_SYN): fa is updated to
 * that and compared with the entry. */
static bool syn_recorded(const struct conn *c, struct pf_flow *fa, __u32 seq, const char *what)
{
	static const struct h_delta d_syn[] = {
		H_D(PKT_SEEN, 1), H_D(SYN_UNTRANSLATED, 1), H_DEND,
	};
	struct pkt_spec in;

	hs_seg(&in, c, false, seq, 0);
	if (!conn_expect(h_in, &in, NULL, &in, d_syn))
		return false;
	fa->syn_end = seq + 1;
	fa->hi |= PF_FLOW_SYN;
	return conn_flow_kept(c, fa, what);
}

/* Connection A spliced (a preflight answered, its response acked), then
 * a new connection B on the same 4-tuple (the client reused its port:
 * the server's TIME_WAIT took B's SYN, or A ended with an RST): B's SYN
 * passes untranslated and leaves A's entry (a SYN proves nothing); the
 * server's SYN-ACK, which only a socket-less tuple gets, passes
 * untranslated and frees A's entry; B's handshake ACK, first request
 * (a GET, followed from its first byte) and its response pass as they
 * are, and B's preflight is answered as B's own, at B's positions.
 * With A's entry still translating, B's SYN, SYN-ACK and GET would be
 * shifted by A's offsets. */
static void new_conn_same_tuple(int family, __u32 s, __u32 p, __u32 sb, __u32 pb)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	static const struct h_delta d_synack[] = { H_D(FLOW_REUSED, 1), H_DEND };
	static const struct h_delta d_ack[] = { H_D(PKT_SEEN, 1), H_DEND };
	static const struct h_delta d_get[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	static const struct h_delta d_opt[] = { H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND };
	const __u32 G = (__u32)strlen(GET_REQ), A = (__u32)strlen(answer);
	struct conn c, b;
	struct pkt_spec in;
	struct pf_sockinfo si;
	struct pf_flow fa, fl;
	struct h_run r;
	struct h_want w;

	if (!conn_splice_acked(&c, family, s, p) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	b = c;
	/* B's SYN: untranslated, A's entry untouched but for the record of
	 * the SYN (pf_syn_in) */
	if (!syn_recorded(&b, &fa, sb, "after B's SYN"))
		return;
	/* the server's SYN-ACK: untranslated, A's entry freed */
	hs_seg(&in, &b, true, pb, sb + 1);
	if (!conn_expect(&h_tc_out, &in, NULL, &in, d_synack) ||
	    !H_EQ(h_flow_count(), 0, "flow entries after B's SYN-ACK"))
		return;
	/* B's handshake ACK */
	conn_cseg(&in, &b, sb + 1, pb + 1, "");
	if (!conn_expect(h_in, &in, NULL, &in, d_ack))
		return;
	/* B's first request, a GET: followed from its first byte */
	si = h_sock(sb + 1, pb + 1);
	h_set_sock(&si);
	h_req_spec(&in, family, GET_REQ, sb + 1, pb + 1, 811, 901);
	if (!conn_expect(h_in, &in, NULL, &in, d_get) ||
	    !H_CHECK(h_flow(&c.req, &fl), "B's flow entry missing") ||
	    !H_EQ(fl.state, PF_FS_FRAMED, "B's flow state") ||
	    !H_EQX(fl.c_next, sb + 1 + G, "B's flow c_next") ||
	    !H_EQ(fl.splices, 0, "B's flow splices"))
		return;
	/* the app's answer to it: unchanged */
	conn_sseg(&in, &b, pb + 1, sb + 1 + G, answer);
	if (!conn_expect(&h_tc_out, &in, NULL, &in, conn_d_out))
		return;
	/* B's preflight: answered at B's own positions */
	si = h_sock(sb + 1 + G, pb + 1 + A);
	si.bytes_received = G;
	h_set_sock(&si);
	h_req_spec(&in, family, H_PREFLIGHT, sb + 1 + G, pb + 1 + A, 812, 902);
	if (!h_run_spec(h_in, &in, NULL, &r))
		return;
	w = (struct h_want){ .req = &in, .seq = pb + 1 + A, .ack = sb + 1 + G + c.L, .win = WIN,
			     .has_ts = true, .tsval = H_TS_NOW, .tsecr = 812,
			     .pay = H_RESP_204, .paylen = c.R };
	if (!h_check_response(&r, &w) || !h_check_deltas(&r, d_opt) ||
	    !H_CHECK(h_flow(&c.req, &fl), "B's flow entry gone"))
		return;
	H_EQX(fl.c_pos, sb + 1 + G, "B's flow c_pos");
	H_EQ(fl.c_before, 0, "B's flow c_before");
	H_EQX(fl.s_pos, pb + 1 + A, "B's flow s_pos");
	H_EQ(fl.s_before, 0, "B's flow s_before");
	H_EQ(fl.splices, 1, "B's flow splices");
}

static void t_new_conn_same_tuple_v4(void)
{
	new_conn_same_tuple(4, 1000000, 5000000, 1000000 + 70000, 0x70000000u);
}

/* B's ISN inside A's consumed request (the old entry would also have
 * dropped or re-answered B's GET: pf_in_consumed), across seq 0 */
static void t_new_conn_same_tuple_v6_in_consumed(void)
{
	new_conn_same_tuple(6, 0xffffff00u, 0xffffff80u, 0xffffff00u + 9, 0xfffffffeu);
}

/* A spoofed SYN on A's 4-tuple while A lives (the kernel answers it
 * with a challenge ACK, RFC 5961): untranslated, A's entry untouched,
 * the challenge ACK and A's next request translated as before. */
static void t_spoofed_syn_live(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fa;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	if (!syn_recorded(&c, &fa, c.S + 5, "after the SYN"))
		return;
	/* the challenge ACK: socket snd_nxt / rcv_nxt, translated */
	if (!conn_expect_sseg(&c, 0, ""))
		return;
	conn_next_put(&in, &want, &c);
	conn_expect(h_in, &in, NULL, &want, conn_d_in_data);
}

/* A SYN-ACK that is the entry's own connection's (retransmitted after a
 * splice answered while the server's socket was a request socket: seq
 * one below the first server byte) keeps the entry. */
static void t_own_synack_kept(void)
{
	static const struct h_delta d[] = { H_D(SYN_UNTRANSLATED, 1), H_DEND };
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fa;

	if (!conn_splice(&c, 4, 1000000, 5000000) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	hs_seg(&in, &c, true, c.P - 1, c.S);
	if (!conn_expect(&h_tc_out, &in, NULL, &in, d) ||
	    !conn_flow_kept(&c, &fa, "after its own SYN-ACK"))
		return;
	conn_next_put(&in, &want, &c);
	conn_expect(h_in, &in, NULL, &want, conn_d_in_data);
}

/* The entry's lock not taken (pf_test_lock_fail: the resilient lock
 * giving up) on the tuple of a spliced connection: a new connection's
 * client SYN is dropped, the entry unchanged (recorded, the RST refusing
 * it would go out translated, which its client ignores); its server
 * SYN-ACK is dropped too, the entry kept: whose SYN-ACK it is cannot be
 * told, and kept while the SYN-ACK passed, the entry would translate the
 * new connection with the old one's offsets (review H1 of stop 43). The
 * server's copy, with the lock, frees the entry. */
static void t_lock_fail_syn(void)
{
	static const struct h_delta d_syn[] = {
		H_D(PKT_SEEN, 1), H_D(FLOW_LOCK_FAILED, 1), H_DEND,
	};
	static const struct h_delta d_synack[] = { H_D(FLOW_LOCK_FAILED, 1), H_DEND };
	static const struct h_delta d_reused[] = { H_D(FLOW_REUSED, 1), H_DEND };
	const __u32 sb = 7000000, pb = 9000000;
	struct pkt_spec in;
	struct pf_flow fa;
	struct h_run r;
	struct conn c;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	h_set_lock_fail(true);
	hs_seg(&in, &c, false, sb, 0);
	if (!h_run_spec(h_in, &in, NULL, &r) || !H_EQ(r.verdict, H_DROP, "the client SYN's verdict") ||
	    !h_check_deltas(&r, d_syn) || !conn_flow_kept(&c, &fa, "after the client SYN"))
		return;
	hs_seg(&in, &c, true, pb, sb + 1);
	if (!h_run_spec(&h_tc_out, &in, NULL, &r) ||
	    !H_EQ(r.verdict, H_DROP, "the server SYN-ACK's verdict") ||
	    !h_check_deltas(&r, d_synack) || !conn_flow_kept(&c, &fa, "after the server SYN-ACK"))
		return;
	h_set_lock_fail(false);
	if (conn_expect(&h_tc_out, &in, NULL, &in, d_reused))
		H_EQ(h_flow_count(), 0, "flow entries after the SYN-ACK's copy");
}

/* A server SYN without ACK (a simultaneous open from a port no live
 * socket holds) at the seq the own-handshake exception would keep: it is
 * not the entry's SYN-ACK, so it frees the entry and passes untranslated. */
static void t_server_syn_frees(void)
{
	static const struct h_delta d[] = { H_D(FLOW_REUSED, 1), H_DEND };
	struct pf_flow fa;
	struct pkt_spec in;
	struct conn c;

	if (!conn_splice(&c, 4, 1000000, 5000000) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	hs_seg(&in, &c, true, c.P - 1, 0);
	in.flags = TH_SYN;
	if (!conn_expect(&h_tc_out, &in, NULL, &in, d))
		return;
	H_CHECK(!h_flow(&c.req, &fa), "the entry outlived a server SYN");
}

/* ---- a new connection refused on the 4-tuple of an ended one ---- */

/* The kernel's reset of a segment without ACK (tcp_v4_send_reset,
 * tcp_v6_send_reset): seq 0, RST|ACK, ack_seq = that segment's seq + 1
 * for a bare SYN, window 0, no options. */
static void refusal_rst(struct pkt_spec *s, const struct conn *c, __u32 ack)
{
	pkt_default_out(s, c->family);
	s->seq = 0;
	s->ack = ack;
	s->flags = TH_RST | TH_ACK;
	s->win = 0;
	s->ip_id = 0;
}

/* Connection A spliced, then a new connection B from A's port to a port
 * nothing listens on any more (A's entry not yet freed by the GC): B's
 * SYN is recorded, and the kernel's RST refusing it passes untranslated
 * (B's connect fails at once) and frees A's entry. With A's offsets the
 * RST would go out at seq R, ack sb + 1 + L: B would ignore it (SYN-SENT
 * takes an RST only if it acks the SYN) and send SYNs until the GC freed
 * the entry. spoofed: a SYN at another seq recorded first (a spoofed one,
 * or B's earlier attempt): the latest SYN's answer is the refusal. */
static void refused_new_conn(int family, __u32 s, __u32 p, __u32 sb, bool spoofed)
{
	static const struct h_delta d_rst[] = { H_D(FLOW_REFUSED, 1), H_DEND };
	const struct pf_sockinfo gone = { .valid = 0 };
	struct pkt_spec in;
	struct pf_flow fa;
	struct conn c;

	if (!conn_splice_acked(&c, family, s, p) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	if (spoofed && !syn_recorded(&c, &fa, sb + 0x12345, "after the earlier SYN"))
		return;
	if (!syn_recorded(&c, &fa, sb, "after B's SYN"))
		return;
	/* A's socket is gone: nothing holds the tuple (pf_sock_holds) */
	h_set_sock(&gone);
	refusal_rst(&in, &c, sb + 1);
	if (!conn_expect(&h_tc_out, &in, NULL, &in, d_rst))
		return;
	H_EQ(h_flow_count(), 0, "flow entries after the refusal");
}

static void t_refused_v4(void)
{
	refused_new_conn(4, 1000000, 5000000, 1000000 + 70000, false);
}

/* B's ISN across seq 0 (its SYN's answer acks 0), after an earlier SYN */
static void t_refused_v6_wrap(void)
{
	refused_new_conn(6, 0xffffff00u, 0xffffff80u, 0xffffffffu, true);
}

/* A spoofed SYN on live A's 4-tuple, at the seq that makes its recorded
 * answer the ack of A's own RST (wire seq S - 1: syn_end S, the socket's
 * rcv_nxt): the challenge ACK is translated, and so are an RST at seq 0
 * acking anything else, one acking exactly that SYN while A's socket is
 * there (a firewall's reject), and A's own RST (seq P, ack S); the entry
 * stays. stale: an RST at seq 0 answering an older SYN (not the latest
 * recorded) is translated too. */
static void live_rst_translated(bool stale)
{
	struct pkt_spec in, want;
	struct pf_flow fa;
	struct conn c;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000) || !H_CHECK(h_flow(&c.req, &fa), "no flow"))
		return;
	if (stale && !syn_recorded(&c, &fa, c.S + 0x4000, "after the older SYN"))
		return;
	if (!syn_recorded(&c, &fa, c.S - 1, "after the spoofed SYN"))
		return;
	/* the challenge ACK: socket snd_nxt / rcv_nxt, translated */
	if (!conn_expect_sseg(&c, 0, ""))
		return;
	/* an RST at seq 0 that does not answer the latest SYN */
	refusal_rst(&in, &c, stale ? c.S + 0x4000 + 1 : c.S + 7);
	want = in;
	want.seq = 0; /* before P: + s_before, 0 */
	want.ack = in.ack + c.L;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	/* a firewall's reject of the spoofed SYN (iptables REJECT
	 * --reject-with tcp-reset): the refusal's very shape, seq 0 acking
	 * the SYN, but A's socket is there -- translated, the entry kept */
	refusal_rst(&in, &c, c.S);
	want = in;
	want.ack = in.ack + c.L;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	H_CHECK(h_flow(&c.req, &fa), "a firewall's reset of a spoofed SYN freed a live entry");
	/* A's own RST: at its snd_nxt, acking its rcv_nxt */
	conn_sseg(&in, &c, c.P, c.S, "");
	in.flags = TH_RST | TH_ACK;
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + c.L;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	H_CHECK(h_flow(&c.req, &fa), "a live connection's RST freed its entry");
}

static void t_live_rst_after_spoofed_syn(void)
{
	live_rst_translated(false);
}

static void t_stale_syn_rst(void)
{
	live_rst_translated(true);
}

/* XDP without room to hand a frame to TC (a driver without XDP metadata:
 * pf_test_no_meta): a connection's first request is followed at XDP, as
 * TC would -- stop 41's hand-over of first requests to TC left such a
 * connection untracked (review M1), every later preflight to the app. */
static void t_track_at_xdp_without_meta_room(void)
{
	struct conn c;

	h_set_no_meta(true);
	track(&c, 1000000, 5000000);
}

void test_flow(void)
{
	h_case("second_preflight_before_ack_pending", t_second_pending);
	h_case("second_preflight_after_unanswered_data_order", t_after_unanswered_data);
	h_case("second_splice_offsets_accumulate_ipv4", t_second_splice_v4);
	h_case("second_splice_offsets_accumulate_ipv6_wrap", t_second_splice_v6_wrap);
	h_case("second_splice_pending_ack_clone_ipv4", t_second_splice_pending_ack);
	h_case("second_splice_pending_ack_clone_ipv6_wrap", t_second_splice_pending_ack_v6);
	h_case("second_splice_keepalive_octet_and_first_tail_below_rcv_nxt_ipv4",
	       t_second_splice_probes_v4);
	h_case("second_splice_keepalive_octet_and_first_tail_below_rcv_nxt_ipv6_wrap",
	       t_second_splice_probes_v6_wrap);
	h_case("tracked_flow_first_preflight_after_a_get_answered", t_tracked_next_answered);
	h_case("tracked_flow_split_first_head_followed", t_track_split_first);
	h_case_m("tracked_flow_first_request_at_xdp_without_meta_room",
		 t_track_at_xdp_without_meta_room, H_M_XDP);
	h_case("tracked_flow_table_full_counted", t_track_table_full);
	h_case("spoofed_data_past_window_c_hi_kept", t_spoofed_data_past_window);
	h_case("gap_inside_window_moves_c_hi", t_gap_in_window);
	h_case("gap_past_advertised_edge_moves_c_hi", t_gap_past_advertised_edge);
	h_case("spoofed_data_past_scaled_window_c_hi_kept", t_spoofed_data_past_scaled_window);
	h_case("gap_inside_scaled_window_moves_c_hi", t_gap_inside_scaled_window);
	h_case("head_without_ack_frames_nothing", t_head_without_ack_frames_nothing);
	h_case("urgent_head_framing_lost", t_urgent_head_framing_lost);
	h_case("urgent_pure_ack_framing_lost", t_urgent_pure_ack_framing_lost);
	h_case("head_with_rst_frames_nothing", t_head_with_rst_frames_nothing);
	h_case("c_hi_far_past_c_next_framing_lost", t_c_hi_far_past_c_next_framing_lost);
	h_case("c_hi_short_of_fold_dist_framing_kept", t_c_hi_short_of_fold_dist_framing_kept);
	h_case("tracked_flow_sack_across_seq_zero_kept", t_tracked_sack_across_zero);
	h_case("new_connection_same_tuple_after_splice_ipv4", t_new_conn_same_tuple_v4);
	h_case("new_connection_same_tuple_isn_in_consumed_ipv6_wrap",
	       t_new_conn_same_tuple_v6_in_consumed);
	h_case("spoofed_syn_on_live_splice_keeps_entry", t_spoofed_syn_live);
	h_case("own_synack_retransmitted_keeps_entry", t_own_synack_kept);
	h_case("server_syn_without_ack_frees_entry", t_server_syn_frees);
	h_case("lock_fail_syn_and_synack_dropped_entry_kept", t_lock_fail_syn);
	h_case("refused_new_connection_rst_untranslated_frees_entry_ipv4", t_refused_v4);
	h_case("refused_new_connection_after_earlier_syn_ipv6_wrap", t_refused_v6_wrap);
	h_case("spoofed_syn_then_live_rsts_translated_entry_kept", t_live_rst_after_spoofed_syn);
	h_case("rst_answering_an_older_syn_translated", t_stale_syn_rst);
}
