/* test_translate.c -- BPF tier: seq/ack/SACK translation after one splice, both ways. */
#include <string.h>

#include "conn.h"

/* ---- ingress ---- */

/* Client data acking the whole response: seq - L, ack - R. */
static void t_in_data_ack(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_next_put(&in, &want, &c);
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in_data))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone")) {
		H_EQ(fl.resp_acked, 1, "flow resp_acked");
		H_EQ(fl.state, PF_FS_FRAMED, "flow state (the PUT has no answer yet)");
		H_EQX(fl.c_next, c.S + c.L + strlen(PUT_REQ), "flow c_next (after the PUT)");
	}
}

/* An ack inside the response clamps to its start P. */
static void t_in_ack_inside(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + 10, "");
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.resp_acked, 0, "flow resp_acked");
}

/* An ack at P (nothing of the response yet) stays; seq still moves. */
static void t_in_ack_at_start(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P, "");
	want = in;
	want.seq = c.S;
	conn_expect(h_in, &in, NULL, &want, conn_d_in);
}

/* A D-SACK of the response: the SACK option becomes NOPs. */
static void t_in_sack_strip(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(SACK_STRIPPED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	static const __u8 nops[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct conn c;
	struct pkt_spec in, want;
	__u32 blk[1][2];

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	blk[0][0] = c.P;
	blk[0][1] = c.P + c.R;
	pkt_opt_sack(&in, 1, blk);
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	want.optlen = 12;
	pkt_opt_raw(&want, nops, sizeof(nops));
	conn_expect(h_in, &in, NULL, &want, d);
}

/* SACK blocks beyond the response move down by R (IPv6, seq wrap). */
static void t_in_sack_beyond_v6(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	__u32 blk[2][2], wblk[2][2];

	if (!conn_splice(&c, 6, 0xffffff00u, 0xffffffc0u))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	blk[0][0] = c.P + c.R + 1000;
	blk[0][1] = c.P + c.R + 2000;
	blk[1][0] = c.P + c.R + 3000;
	blk[1][1] = c.P + c.R + 4000;
	pkt_opt_sack(&in, 2, blk);
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	want.optlen = 12;
	wblk[0][0] = c.P + 1000;
	wblk[0][1] = c.P + 2000;
	wblk[1][0] = c.P + 3000;
	wblk[1][1] = c.P + 4000;
	pkt_opt_sack(&want, 2, wblk);
	conn_expect(h_in, &in, NULL, &want, d);
}

/* A pure ACK with Ethernet padding (60-byte frame). */
static void t_in_padded_ack(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	in.optlen = 0;
	in.eth_pad = 6;
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	conn_expect(h_in, &in, NULL, &want, conn_d_in);
}

/* FIN from the client: translated, flow marked. */
static void t_in_fin(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	in.flags |= TH_FIN;
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	if (conn_expect(h_in, &in, NULL, &want, conn_d_in) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.fin, PF_FIN_CLIENT, "flow fin");
}

/* A zero-length segment at client wire seq seq (flags: ACK plus extra)
 * must reach the server at socket seq want_seq. */
static void in_zero_len(__u32 off_from_s, __u8 extra, __u32 back)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + off_from_s, c.P + c.R, "");
	in.flags |= extra;
	want = in;
	want.seq = c.S - back;
	want.ack = c.P;
	conn_expect(h_in, &in, NULL, &want, conn_d_in);
}

/* TCP keepalive (and zero-window) probe after a splice: Linux sends it
 * at snd_una - 1, the last byte of the consumed request. It must reach
 * the server out of window, at rcv_nxt - 1, so the server acks it; at
 * rcv_nxt (an in-order pure ACK) it got no reply, and the client
 * aborted its idle keep-alive connection after keepidle + cnt x intvl. */
static void t_in_keepalive_probe(void)
{
	in_zero_len((__u32)strlen(H_PREFLIGHT) - 1, 0, 1);
}

/* The same probe carrying one garbage octet (RFC 1122 4.2.3.6; Windows
 * sends these), after the response was acked: it starts inside the
 * consumed request, past its first byte -- not a copy of the request to
 * answer again. It must reach the server as old data at rcv_nxt - 1,
 * which the kernel acks; dropped (retx_dropped), every probe went
 * unanswered and the client aborted the connection. */
static void t_in_keepalive_probe_one_octet(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_TAIL_PASSED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L - 1, c.P + c.R, "x");
	want = in;
	want.seq = c.S - 1;
	want.ack = c.P;
	conn_expect(h_in, &in, NULL, &want, d);
}

/* A pure ACK the client sent before its request (at the request's first
 * byte, acking server data before the response), arriving after the
 * splice -- reordered, or overtaken by an XDP answer while TC had not seen
 * it: it reaches the server in order, at rcv_nxt, its window taken.
 * Mapped as after the request it fell below rcv_nxt by the request's
 * length: the server answered a duplicate ACK and ignored its window. */
static void t_in_pure_ack_before_request(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S, c.P, "");
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	conn_expect(h_in, &in, NULL, &want, conn_d_in);
}

/* RFC 5961: only the client's real snd_nxt (the end of the consumed
 * request) is an exact RST; one at the request's start or inside it is
 * out of window for the server (below rcv_nxt), not exact. */
static void t_in_rst_exact(void)
{
	in_zero_len((__u32)strlen(H_PREFLIGHT), TH_RST, 0);
}

static void t_in_rst_at_request_not_exact(void)
{
	in_zero_len(0, TH_RST, (__u32)strlen(H_PREFLIGHT));
}

/* A client's reset without ACK at the request's first byte while the
 * response is not acked: a client with no socket left answering a server
 * segment whose ack was held back at the request (pf_ack_out_field,
 * tcp_v4_send_reset's seq). It reaches the server at rcv_nxt, exact;
 * mapped after the request (a read-only review, stop 52), it fell L below
 * rcv_nxt and the server's socket was never reset. Once the response is
 * acked, such a reset is not exact any more. */
static void in_rst_no_ack_at_request(bool acked)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!(acked ? conn_splice_acked : conn_splice)(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S, 0, "");
	in.flags = TH_RST;
	want = in;
	want.seq = acked ? c.S - c.L : c.S;
	conn_expect(h_in, &in, NULL, &want, conn_d_in);
}

static void t_in_rst_no_ack_held_exact(void) { in_rst_no_ack_at_request(false); }
static void t_in_rst_no_ack_after_acked_not_exact(void) { in_rst_no_ack_at_request(true); }

static void t_in_rst_inside_request_not_exact(void)
{
	in_zero_len(100, TH_RST, (__u32)strlen(H_PREFLIGHT) - 100);
}

/* A spoofed pure ACK (an attacker knowing only the 4-tuple: any seq, a
 * random ack) acking far past the response, 2^30 beyond data the server
 * never sent: translated as any segment, but not taken as the client's
 * ack of the response (the kernel ignores an ack of unsent data). The
 * server's next ACK at the request position must still stop short of the
 * consumed request (pf_ack_out_field), or the client, whose response may
 * be lost, would take its request as delivered and never send it again. */
static void t_in_spoofed_ack_past_sent(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S + c.L + 77777, c.P + c.R + (1u << 30), "");
	want = in;
	want.seq = c.S + 77777;
	want.ack = c.P + (1u << 30);
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in))
		return;
	if (!H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		return;
	H_EQ(fl.resp_acked, 0, "flow resp_acked after a spoofed ACK");
	/* a server pure ACK at socket seq S: wire ack S, not S + L */
	conn_sseg(&in, &c, c.P, c.S, "");
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S;
	conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out);
}

/* The other side of that bound: an ack past the response that covers
 * server data sent after it (and no more) acks the response, also at
 * exactly the server's wire snd_nxt. */
static void t_in_ack_past_sent_data(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;
	__u32 n = 10;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&in, &c, c.P, c.S, "0123456789");
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	/* one byte past what was sent: not an ack of the response */
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R + n + 1, "");
	want = in;
	want.seq = c.S;
	want.ack = c.P + n + 1;
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in) ||
	    !H_CHECK(h_flow(&c.req, &fl), "flow gone") ||
	    !H_CHECK(fl.resp_acked == 0, "flow resp_acked %u (ack past snd_nxt)", fl.resp_acked))
		return;
	conn_cseg(&in, &c, c.S + c.L, c.P + c.R + n, "");
	want = in;
	want.seq = c.S;
	want.ack = c.P + n;
	if (conn_expect(h_in, &in, NULL, &want, conn_d_in) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.resp_acked, 1, "flow resp_acked (ack at the server's snd_nxt)");
}

/* ---- egress ---- */

/* Server data at P acking the request: seq + R, ack + L. */
#define OUT_200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static void out_data(int family, __u32 s, __u32 p)
{
	struct conn c;
	struct pkt_spec in, want, ack;
	struct pf_flow fl;

	if (!conn_splice(&c, family, s, p))
		return;
	/* the client has not acked the response yet: the server's ack stops
	 * at the request (pf_ack_out_field) */
	conn_sseg(&in, &c, c.P, c.S, OUT_200);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S;
	if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.state, PF_FS_FRAMED | PF_FS_ANSWERED, "flow state");
	/* the client acks the response: from now on the ack covers the
	 * consumed request */
	conn_cseg(&ack, &c, c.S + c.L, c.P + c.R, "");
	want = ack;
	want.seq = c.S;
	want.ack = c.P;
	if (!conn_expect(h_in, &ack, NULL, &want, conn_d_in))
		return;
	conn_expect_sseg(&c, sizeof(OUT_200) - 1, "more");
}

/* Before the client acks the response, an ack beyond the request (the
 * client sent more) is translated as usual. */
static void t_out_ack_beyond(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&in, &c, c.P, c.S + 10, "");
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + c.L + 10;
	conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out);
}

static void t_out_data_v4(void)
{
	out_data(4, 1000000, 5000000);
}

static void t_out_data_v6(void)
{
	out_data(6, 0xffffff00u, 0xffffffc0u);
}

/* A retransmission of server data sent before P, with an old ack:
 * before both corrections, so nothing moves. */
static void t_out_old_data(void)
{
	struct conn c;
	struct pkt_spec in;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&in, &c, c.P - 100, c.S - 50, "0123456789");
	conn_expect(&h_tc_out, &in, NULL, &in, conn_d_out);
}

/* Spliced connection c's server segment at the response's position
 * (ack S: the response not acked yet, the ack stays at the request)
 * carrying the n SACK blocks blk (client data, socket seq) goes out at
 * wire seq P + R with the blocks wblk; counted translated. */
static void out_sack_expect(const struct conn *c, unsigned n, const __u32 blk[][2],
			    const __u32 wblk[][2])
{
	static const struct h_delta d[] = {
		H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_OUT, 1), H_DEND,
	};
	struct pkt_spec in, want;

	conn_sseg(&in, c, c->P, c->S, "");
	pkt_opt_sack(&in, n, blk);
	want = in;
	want.seq = c->P + c->R;
	want.ack = c->S;
	want.optlen = 12;
	pkt_opt_sack(&want, n, wblk);
	conn_expect(&h_tc_out, &in, NULL, &want, d);
}

/* Server SACK blocks (client data) move up by L (the ack, with the
 * response not acked yet, stays at the request). */
static void t_out_sack(void)
{
	struct conn c;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	const __u32 blk[1][2] = { { c.S + 100, c.S + 200 } };
	const __u32 wblk[1][2] = { { c.S + c.L + 100, c.S + c.L + 200 } };

	out_sack_expect(&c, 1, blk, wblk);
}

/* A server D-SACK (RFC 2883) of client data just before the consumed
 * request -- a spurious retransmission of it -- ends at the request's
 * socket seq S: a block's right edge is exclusive, its last octet S - 1
 * lies before the request, so on the wire it ends at S too, not at
 * S + L (which would report the consumed request as received twice; with
 * the ack still clamped to S, even past the ack). A SACK block after it
 * still moves up by L. */
static void t_out_dsack_before_request(void)
{
	struct conn c;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	const __u32 blk[2][2] = { { c.S - 100, c.S }, { c.S + 100, c.S + 200 } };
	const __u32 wblk[2][2] = { { c.S - 100, c.S }, { c.S + c.L + 100, c.S + c.L + 200 } };

	out_sack_expect(&c, 2, blk, wblk);
}

/* Our own response, seen again at egress after bpf_redirect: untouched. */
static void t_out_marked(void)
{
	static const struct h_delta none[] = { H_DEND };
	struct conn c;
	struct pkt_spec in;
	struct h_env env = { .mark = PF_MARK };

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&in, &c, c.P, c.S + c.L, H_RESP_204);
	conn_expect(&h_tc_out, &in, &env, &in, none);
}

/* Server FIN: translated, flow marked. */
static void t_out_fin(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_sseg(&in, &c, c.P, c.S, "");
	in.flags |= TH_FIN;
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S;
	if (conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.fin, PF_FIN_SERVER, "flow fin");
}

/* ---- long transfers after the last splice ---- */

/* Steps of 2^29 bytes (in order, so c_hi / s_hi follow): 9 of them run
 * 4.5 GiB past the splice, through 2^31 (where a serial comparison with
 * the splice position flips) and 2^32 (where the consumed and clamp
 * ranges would come around). The side folds at the step that takes its
 * high-water mark past 2^30 (pf_flow_fold), to 2^30 + 10; 4 steps later
 * an ack is exactly 2^31 past that position, both after it and before
 * it with zero length (pf_ack_in must not clamp it). */
#define LONG_STEP(k) ((__u32)(k) << 29)
#define LONG_STEPS 9u
#define LONG_FOLD_STEP 2u

/* A client upload of more than 2 GiB after the splice: every client
 * segment keeps seq - L, the server's acks of it + L. */
static void t_in_past_2gib(void)
{
	static const struct h_delta d_fold[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(TRANSLATED_IN, 1),
		H_D(FLOW_FOLDED, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	struct pf_sockinfo si;
	struct pf_flow fl;
	__u32 k, off;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	for (k = 1; k <= LONG_STEPS; k++) {
		off = LONG_STEP(k);
		/* the socket has everything before it: in its window */
		si = h_sock(c.S + off, c.P);
		h_set_sock(&si);
		conn_cseg(&in, &c, c.S + c.L + off, c.P + c.R, "0123456789");
		want = in;
		want.seq = c.S + off;
		want.ack = c.P;
		if (!conn_expect(h_in, &in, NULL, &want,
				 k == LONG_FOLD_STEP ? d_fold : conn_d_in_data))
			return;
		conn_sseg(&in, &c, c.P, c.S + off + 10, "");
		want = in;
		want.seq = c.P + c.R;
		want.ack = c.S + c.L + off + 10;
		if (!conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out))
			return;
	}
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone")) {
		H_EQ(fl.req_len, 0, "flow req_len (folded)");
		H_EQX(fl.c_before, c.L, "flow c_before (folded)");
		H_EQX(fl.c_after, c.L, "flow c_after (folded)");
		H_EQ(fl.resp_len, c.R, "flow resp_len (server side not folded)");
	}
}

/* A download of more than 2 GiB after the splice: every server segment
 * keeps seq + R, the client's acks of it - R. */
static void t_out_past_2gib(void)
{
	static const struct h_delta d_fold[] = {
		H_D(TRANSLATED_OUT, 1), H_D(FLOW_FOLDED, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;
	__u32 k, off;

	if (!conn_splice_acked(&c, 4, 1000000, 5000000))
		return;
	for (k = 1; k <= LONG_STEPS; k++) {
		off = LONG_STEP(k);
		conn_sseg(&in, &c, c.P + off, c.S, "0123456789");
		want = in;
		want.seq = c.P + off + c.R;
		want.ack = c.S + c.L;
		if (!conn_expect(&h_tc_out, &in, NULL, &want,
				 k == LONG_FOLD_STEP ? d_fold : conn_d_out))
			return;
		conn_cseg(&in, &c, c.S + c.L, c.P + c.R + off + 10, "");
		want = in;
		want.seq = c.S;
		want.ack = c.P + off + 10;
		if (!conn_expect(h_in, &in, NULL, &want, conn_d_in))
			return;
	}
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone")) {
		H_EQ(fl.resp_len, 0, "flow resp_len (folded)");
		H_EQX(fl.s_before, c.R, "flow s_before (folded)");
		H_EQX(fl.s_after, c.R, "flow s_after (folded)");
		H_EQ(fl.req_len, c.L, "flow req_len (client side not folded)");
	}
}

/* A client segment acking the whole response, with a SACK of the 1000
 * octets 1000 past it at offset lead (NOPs around it), then its NOP NOP
 * TS at offset 12, then tail (tail_len bytes); in, and want as it must
 * reach the server (the block R lower). */
static void sack_seg(const struct conn *c, unsigned lead, const __u8 *tail, unsigned tail_len,
		     struct pkt_spec *in, struct pkt_spec *want)
{
	__u8 o[40], w[40], ts[12];
	unsigned n = 24 + tail_len;

	conn_cseg(in, c, c->S + c->L, c->P + c->R, "");
	memcpy(ts, in->opt, sizeof(ts));  /* NOP NOP TS */
	memset(o, 1, sizeof(o));          /* NOPs around the SACK */
	o[lead] = 5;
	o[lead + 1] = 10;
	pkt_put32(o + lead + 2, c->P + c->R + 1000);
	pkt_put32(o + lead + 6, c->P + c->R + 2000);
	memcpy(o + 12, ts, sizeof(ts));
	if (tail_len)
		memcpy(o + 24, tail, tail_len);
	memcpy(w, o, n);
	pkt_put32(w + lead + 2, c->P + 1000);
	pkt_put32(w + lead + 6, c->P + 2000);
	in->optlen = 0;
	pkt_opt_raw(in, o, n);
	*want = *in;
	want->seq = c->S;
	want->ack = c->P;
	want->optlen = 0;
	pkt_opt_raw(want, w, n);
}

static const struct h_delta sack_d[] = {
	H_D(PKT_SEEN, 1), H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
};

/* SACK options Linux never sends but RFC 2018 allows: first in the list
 * (offset 0) and at an odd offset (one NOP before it), each before the
 * segment's NOP NOP TS. The block past the response moves down by R in
 * both; at an odd offset each edge spans three 16-bit checksum words
 * (conn_expect checks the checksum). Before: a SACK at offset 0 was
 * taken for none (untranslated: the server saw blocks R too high), one
 * at an odd offset got a wrong checksum (the segment dropped wherever it
 * is verified). */
static void sack_at(unsigned lead)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	sack_seg(&c, lead, NULL, 0, &in, &want);
	conn_expect(h_in, &in, NULL, &want, sack_d);
}

static void t_in_sack_first(void)
{
	sack_at(0);
}

static void t_in_sack_odd(void)
{
	sack_at(1);
}

/* The same SACK and timestamp, then a malformed option (length 1): Linux
 * stops parsing at the bad option and takes the segment with what came
 * before it, the SACK included -- so the SACK is translated and the
 * segment noted as any other (here: the client's ack of the response).
 * Before (a read-only review, stop 52): passed as pass_error, the SACK
 * blocks R too high for the server, nothing of the segment recorded. */
static void t_in_sack_before_malformed_option(void)
{
	static const __u8 bad[4] = { 30, 1, 0, 0 };  /* an option of length 1 */
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	sack_seg(&c, 0, bad, sizeof(bad), &in, &want);
	if (conn_expect(h_in, &in, NULL, &want, sack_d) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.resp_acked, 1, "the response's ack noted");
}

/* A rewrite that fails (pf_test_write_fail: the checksum update, as
 * bpf_l4_csum_replace fails when a cloned skb cannot be made writable):
 * seg, through prog, is dropped (xlate_error), never passed with its
 * wire seq and ack (pass_error before: the bytes queued at the wrong
 * place), and the entry is unchanged; with the writes back, the same
 * segment passes as want, counted d. */
static void write_fail_dropped(const struct h_prog *prog, const struct conn *c,
			       const struct pkt_spec *seg, const struct pkt_spec *want,
			       const struct h_delta *d, const char *what)
{
	struct pf_flow before;
	struct h_run r;

	if (!H_CHECK(h_flow(&c->req, &before), "flow gone"))
		return;
	h_set_write_fail(true);
	if (!h_run_spec(prog, seg, NULL, &r))
		return;
	h_set_write_fail(false);
	if (!H_CHECK(r.verdict == H_DROP, "BUG: %s whose rewrite failed: verdict %s, want DROP",
		     what, h_verdict_name(r.verdict)) ||
	    !H_EQ(r.delta[PF_STAT_XLATE_ERROR], 1, "xlate_error") ||
	    !H_EQ(r.delta[PF_STAT_PASS_ERROR], 0, "pass_error") ||
	    !conn_flow_kept(c, &before, what))
		return;
	conn_expect(prog, seg, NULL, want, d);
}

/* Client data (seq and ack rewritten) and server data. */
static void t_in_write_fail(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_next_put(&in, &want, &c);
	write_fail_dropped(h_in, &c, &in, &want, conn_d_in_data, "client data");
}

static void t_out_write_fail(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!conn_splice(&c, 6, 0xffffff00u, 0xffffffc0u))
		return;
	conn_sseg(&in, &c, c.P, c.S, OUT_200);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S;
	write_fail_dropped(&h_tc_out, &c, &in, &want, conn_d_out, "server data");
}

/* Only the SACK blocks rewritten (seq and ack map to themselves: a pure
 * ACK sent before the request, acking up to the response; its blocks lie
 * past the response): the SACK rewrite's failure drops it too. */
static void t_in_sack_write_fail(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	__u32 blk[1][2], wblk[1][2];

	if (!conn_splice(&c, 4, 1000000, 5000000))
		return;
	conn_cseg(&in, &c, c.S, c.P, "");
	blk[0][0] = c.P + c.R + 1000;
	blk[0][1] = c.P + c.R + 2000;
	pkt_opt_sack(&in, 1, blk);
	want = in;
	want.optlen = 12;
	wblk[0][0] = c.P + 1000;
	wblk[0][1] = c.P + 2000;
	pkt_opt_sack(&want, 1, wblk);
	write_fail_dropped(h_in, &c, &in, &want, d, "a SACK");
}

void test_translate(void)
{
	h_case("translate_in_data_ack", t_in_data_ack);
	h_case("translate_in_ack_inside_response_clamped", t_in_ack_inside);
	h_case("translate_in_ack_at_response_start", t_in_ack_at_start);
	h_case("translate_in_sack_covering_response_stripped", t_in_sack_strip);
	h_case("translate_in_sack_beyond_response_ipv6_wrap", t_in_sack_beyond_v6);
	h_case("translate_in_padded_ack", t_in_padded_ack);
	h_case("translate_in_fin", t_in_fin);
	h_case("translate_in_spoofed_ack_past_sent_data_clamp_kept", t_in_spoofed_ack_past_sent);
	h_case("translate_in_ack_past_response_up_to_sent_data", t_in_ack_past_sent_data);
	h_case("translate_in_keepalive_probe_out_of_window", t_in_keepalive_probe);
	h_case("translate_in_pure_ack_sent_before_request_in_order", t_in_pure_ack_before_request);
	h_case("translate_in_keepalive_probe_one_octet_out_of_window",
	       t_in_keepalive_probe_one_octet);
	h_case("translate_in_sack_first_option", t_in_sack_first);
	h_case("translate_in_sack_at_odd_offset", t_in_sack_odd);
	h_case("translate_in_sack_before_a_malformed_option", t_in_sack_before_malformed_option);
	h_case("translate_in_rewrite_failure_dropped", t_in_write_fail);
	h_case("translate_in_sack_rewrite_failure_dropped", t_in_sack_write_fail);
	h_case("translate_out_rewrite_failure_dropped", t_out_write_fail);
	h_case("translate_in_rst_at_snd_nxt_exact", t_in_rst_exact);
	h_case("translate_in_rst_at_request_start_not_exact", t_in_rst_at_request_not_exact);
	h_case("translate_in_rst_inside_request_not_exact", t_in_rst_inside_request_not_exact);
	h_case("translate_in_rst_without_ack_at_held_ack_exact", t_in_rst_no_ack_held_exact);
	h_case("translate_in_rst_without_ack_at_request_after_ack_not_exact",
	       t_in_rst_no_ack_after_acked_not_exact);
	h_case("translate_out_data_ipv4", t_out_data_v4);
	h_case("translate_out_data_ipv6_wrap", t_out_data_v6);
	h_case("translate_out_ack_beyond_request", t_out_ack_beyond);
	h_case("translate_out_old_data_unchanged", t_out_old_data);
	h_case("translate_out_sack", t_out_sack);
	h_case("translate_out_dsack_ending_at_request_not_past_it", t_out_dsack_before_request);
	h_case("translate_out_own_response_untouched", t_out_marked);
	h_case("translate_out_fin", t_out_fin);
	h_case("translate_in_upload_past_2gib_after_splice", t_in_past_2gib);
	h_case("translate_out_download_past_2gib_after_splice", t_out_past_2gib);
}
