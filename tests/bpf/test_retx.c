/* test_retx.c -- BPF tier: retransmissions of a consumed request. */
#include <stdio.h>
#include <string.h>

#include "conn.h"

#define S0 1000000u        /* client seq of the request */
#define P0 5000000u        /* server snd_nxt */

/* Answer H_PREFLIGHT at S0/P0 into *first (fixture f). */
static bool splice(struct h_fix *f, struct h_run *first)
{
	h_answer_fix(f, 4, H_PREFLIGHT, S0, P0);
	return h_fix_run(f, first) && H_CHECK(first->verdict == H_TX, "first request not answered");
}

/* f's request again, with TSval tsval, the socket mock f.sock: must be
 * answered again -- the same response at the same seq, TSecr tsval. XDP
 * mode hands every retransmission to TC (h_run_to_tc), whose answer goes
 * through the device's queue. */
static bool reanswered(struct h_fix *f, __u32 tsval, struct h_run *r)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_want w;

	h_req_spec(&f->in, 4, H_PREFLIGHT, S0, P0, tsval, 222);
	h_set_sock(&f->sock);
	if (!h_run_to_tc(&f->in, r, d))
		return false;
	w = h_want_resp(f, P0, H_RESP_204);
	w.tsecr = tsval;
	return h_check_response(r, &w);
}

/* The same request again: the same response at the same seq, fresh TS. */
static void t_retx_reanswered(void)
{
	struct h_fix f;
	struct h_run first, r;
	struct pf_flow fl;

	if (!splice(&f, &first) || !reanswered(&f, 333, &r))
		return;
	H_CHECK(r.out_len == first.out_len, "retransmitted answer length %u, first %u",
		r.out_len, first.out_len);
	if (H_CHECK(h_flow(&f.in, &fl), "flow gone"))
		H_EQ(fl.splices, 1, "flow splices after a retransmission");
}

/* A retransmission while draining is still answered (the app never saw
 * the request). */
static void t_retx_while_draining(void)
{
	struct h_fix f;
	struct h_run first, r;

	if (!splice(&f, &first))
		return;
	h_cfg()->draining = 1;
	reanswered(&f, 111, &r);
}

/* A retransmission coalesced with the next request's first bytes:
 * answered again, the extra bytes dropped (the client resends them). */
static void t_retx_coalesced(void)
{
	static const char both[] = H_PREFLIGHT "PUT /api/items/7 HTTP/1.1\r\n";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run first, r;
	struct h_want w;

	if (!splice(&f, &first))
		return;
	f.in.pay = both;
	f.in.paylen = strlen(both);
	h_set_sock(&f.sock);
	if (!h_run_to_tc(&f.in, &r, d))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.ack = S0 + strlen(H_PREFLIGHT);
	h_check_response(&r, &w);
}

/* Only the first bytes of the request again (same seq: a retransmission
 * re-segmented for a lower path MTU): dropped, and counted on its own --
 * it can never be answered again (no copy of the request is kept). */
static void t_retx_partial_same_seq(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_SHORT_DROPPED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run first;

	if (!splice(&f, &first))
		return;
	f.in.paylen = 40;
	f.verdict = H_DROP;
	memcpy(f.d, d, sizeof(d));
	h_fix_run(&f, NULL);
}

/* A segment that starts inside the consumed request, past its first
 * byte (a re-segmented retransmission's tail; more after the request:
 * extra bytes of the next one): old data to the socket. Translated and
 * passed, counted retx_tail_passed: every byte of the request's tail at
 * socket seq below rcv_nxt (S0), as if the socket had received the
 * request (wire S0 + j -> S0 + j - L), the bytes after the request at
 * S0 on, where they belong (the socket trims the duplicate part). Not
 * dropped: a keepalive probe's octet at the client's snd_una - 1 is one
 * of these, and dropped, every probe went unanswered. */
static void retx_tail(unsigned from, const char *after)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_TAIL_PASSED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	static char pay[2048];
	const __u32 L = (__u32)strlen(H_PREFLIGHT);
	struct h_fix f;
	struct h_run first;
	struct pkt_spec want;
	struct pf_flow fl;

	if (!splice(&f, &first))
		return;
	snprintf(pay, sizeof(pay), "%s%s", H_PREFLIGHT + from, after);
	f.in.seq = S0 + from;
	f.in.pay = pay;
	f.in.paylen = (unsigned)strlen(pay);
	want = f.in;
	want.seq = S0 + from - L;
	if (!conn_expect(h_in, &f.in, NULL, &want, d) || !*after ||
	    !H_CHECK(h_flow(&f.in, &fl), "flow gone"))
		return;
	/* the next request's head at c_next was followed */
	H_EQX(fl.c_next, S0 + L + strlen(after), "flow c_next");
}

static void t_retx_tail_passed(void)
{
	retx_tail(40, "");
}

static void t_retx_last_bytes_passed(void)
{
	retx_tail((unsigned)strlen(H_PREFLIGHT) - 4, "");
}

static void t_retx_tail_and_next_request_passed(void)
{
	retx_tail(40, PUT_REQ);
}

/* A retransmission that starts before the consumed request and spans
 * it: the client sent data ending at S0, then the request; the server's
 * ack of that data and the answer were both lost, and at the RTO Linux
 * collapsed the two into one segment (tcp_retrans_try_collapse) --
 * [S0 - 10, S0 + L), with more bytes after the request if the client
 * had sent some. Mapped from its start (c_before) it put the request at
 * the socket's rcv_nxt (S0): the app read the preflight as new data.
 * The socket must take none of it: passed whole below rcv_nxt (its
 * last octet, FIN included, at socket S0 - 1), counted
 * retx_span_passed. The new bytes after the request come again once the
 * server's ack (clamped to S0) has moved the client's snd_una to the
 * request, from where its retransmission is answered again
 * (retx_span_then_request_reanswered_then_next_at_rcv_nxt). A head after the
 * request is framed (c_next) as any retransmission's. */
static void retx_span(const char *after, __u8 fin)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_SPAN_PASSED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	static char pay[2048];
	const __u32 L = (__u32)strlen(H_PREFLIGHT);
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, S0, P0))
		return;
	snprintf(pay, sizeof(pay), "0123456789%s%s", H_PREFLIGHT, after);
	conn_cseg(&in, &c, S0 - 10, P0, pay);
	in.flags |= fin;
	want = in;
	want.seq = S0 - (__u32)strlen(pay) - (fin ? 1 : 0);
	if (!conn_expect(h_in, &in, NULL, &want, d) || !H_CHECK(h_flow(&in, &fl), "flow gone"))
		return;
	H_EQX(fl.c_next, S0 + L + strlen(after), "flow c_next");
}

static void t_retx_span_request(void)
{
	retx_span("", 0);
}

static void t_retx_span_request_and_next(void)
{
	retx_span(PUT_REQ, 0);
}

static void t_retx_span_request_fin(void)
{
	retx_span("", TH_FIN);
}

/* The collapsed retransmission with the next request, to the end: passed
 * whole below rcv_nxt; the server's ACK of it (rcv_nxt S0, a D-SACK of
 * the old octets) reaches the client at the request (the clamp:
 * pf_ack_out_field) with the D-SACK below it, so the client drops the
 * octets before the request from its queue and retransmits from S0 --
 * answered again, the PUT's bytes dropped with it; then the PUT alone
 * reaches the socket at S0, where it belongs. */
static void t_retx_span_converges(void)
{
	static const char both[] = H_PREFLIGHT PUT_REQ;
	static const struct h_delta d_span[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_SPAN_PASSED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	static const struct h_delta d_ack[] = {
		H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_OUT, 1), H_DEND,
	};
	static const struct h_delta d_re[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	struct pf_sockinfo si;
	struct h_run r;
	struct h_want w;
	__u32 blk[1][2], n = 10 + (__u32)strlen(both);
	char pay[2048];

	if (!conn_splice(&c, 4, S0, P0))
		return;
	snprintf(pay, sizeof(pay), "0123456789%s", both);
	conn_cseg(&in, &c, S0 - 10, P0, pay);
	want = in;
	want.seq = S0 - n;
	if (!conn_expect(h_in, &in, NULL, &want, d_span))
		return;
	/* the server's ACK: rcv_nxt S0, D-SACK of the old segment */
	conn_sseg(&in, &c, P0, S0, "");
	blk[0][0] = S0 - n;
	blk[0][1] = S0;
	pkt_opt_sack(&in, 1, blk);
	want = in;
	want.seq = P0 + c.R;
	want.ack = S0;
	want.optlen = 12;
	blk[0][0] = S0 - n;
	blk[0][1] = S0;
	pkt_opt_sack(&want, 1, blk);
	if (!conn_expect(&h_tc_out, &in, NULL, &want, d_ack))
		return;
	/* the client's retransmission from S0: answered again */
	h_req_spec(&in, 4, both, S0, P0, 333, 222);
	si = h_sock(S0, P0);
	h_set_sock(&si);
	if (!h_run_to_tc(&in, &r, d_re))
		return;
	w = (struct h_want){ .req = &in, .seq = P0, .ack = S0 + c.L,
			     .win = (__u16)(si.rcv_wnd >> si.wscale),
			     .has_ts = true, .tsval = H_TS_NOW, .tsecr = 333,
			     .pay = H_RESP_204, .paylen = c.R };
	if (!h_check_response(&r, &w))
		return;
	/* then the PUT alone, acking the response: at socket S0 */
	conn_next_put(&in, &want, &c);
	conn_expect(h_in, &in, NULL, &want, conn_d_in_data);
}

/* Answered again while the socket still has server data unacked that
 * this retransmission acks: clone + pure ACK at the request's socket seq.
 * XDP cannot clone: hands it to TC, which does that (chain). */
static void t_retx_pending_ack(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_fix f, tcf;
	struct h_run first, r;
	struct h_want w;
	struct pkt_view v;

	if (!splice(&f, &first))
		return;
	f.sock.snd_una = P0 - 300;
	f.verdict = H_PASS;
	f.clones = 1;
	memcpy(f.d, d, sizeof(d));
	tcf = f;
	if (h_xdp()) {
		h_fix_to_tc(&f);
		if (!h_fix_run(&f, NULL) || !h_chain_fix(&tcf, &r))
			return;
	} else if (!h_fix_run(&f, &r)) {
		return;
	}
	w = h_want_resp(&tcf, P0, H_RESP_204);
	if (!h_check_clone(&r, &w) || !h_out_view(&r, &v))
		return;
	H_EQX(v.seq, S0, "pure ACK seq");
	H_EQX(v.ack, P0, "pure ACK ack");
	H_EQ(v.paylen, 0, "pure ACK payload");
}

/* The response was lost and then the app closed the connection (its
 * FIN is queued behind the missing response): the socket is in
 * FIN_WAIT1, and the client's retransmission must still be answered --
 * dropped, it would be dropped forever and the client never answered. */
static void t_retx_after_server_fin(void)
{
	struct h_fix f;
	struct h_run first, r;

	if (!splice(&f, &first))
		return;
	f.sock.closing = 1;
	f.sock.snd_nxt = f.sock.write_seq = P0 + 1;  /* the FIN */
	reanswered(&f, 333, &r);
}

void test_retx(void)
{
	h_case("retx_reanswered_same_seq", t_retx_reanswered);
	h_case("retx_reanswered_with_pending_ack", t_retx_pending_ack);
	h_case("retx_while_draining_reanswered", t_retx_while_draining);
	h_case("retx_after_server_fin_reanswered", t_retx_after_server_fin);
	h_case("retx_coalesced_with_next_data", t_retx_coalesced);
	h_case("retx_partial_same_seq_dropped_counted", t_retx_partial_same_seq);
	h_case("retx_tail_of_request_passed_below_rcv_nxt", t_retx_tail_passed);
	h_case("retx_last_bytes_of_request_passed_below_rcv_nxt", t_retx_last_bytes_passed);
	h_case("retx_tail_and_next_request_passed_next_at_rcv_nxt",
	       t_retx_tail_and_next_request_passed);
	h_case("retx_span_before_request_passed_below_rcv_nxt", t_retx_span_request);
	h_case("retx_span_request_and_next_passed_below_rcv_nxt", t_retx_span_request_and_next);
	h_case("retx_span_request_and_fin_passed_below_rcv_nxt", t_retx_span_request_fin);
	h_case("retx_span_then_request_reanswered_then_next_at_rcv_nxt", t_retx_span_converges);
}
