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
}
