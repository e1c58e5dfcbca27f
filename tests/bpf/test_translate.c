/* test_translate.c -- BPF tier: seq/ack/SACK translation of spliced connections (ingress and egress) and repeated splices. */
#include <string.h>

#include "harness.h"

#define WIN (64256u >> 7)

/* A spliced connection: request of L bytes consumed at client seq S,
 * response of R bytes inserted at server socket seq P. */
struct conn {
	int family;
	__u32 S, P;
	__u32 L, R;
	struct pkt_spec req;
};

static const char put_req[] =
	"PUT /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n";

/* Answer H_PREFLIGHT at s/p; false (check failed) if not answered. */
static bool splice(struct conn *c, int family, __u32 s, __u32 p)
{
	struct h_run r;
	struct h_want w;
	struct pf_sockinfo si = h_sock(s, p);

	memset(c, 0, sizeof(*c));
	c->family = family;
	c->S = s;
	c->P = p;
	c->L = (__u32)strlen(H_PREFLIGHT);
	c->R = (__u32)strlen(H_RESP_204);
	h_req_spec(&c->req, family, H_PREFLIGHT, s, p, 111, 222);
	h_set_sock(&si);
	if (!h_run_spec(&h_tc_in, &c->req, NULL, &r))
		return false;
	w = (struct h_want){ .req = &c->req, .seq = p, .ack = s + c->L, .win = WIN,
			     .has_ts = true, .tsval = 222, .tsecr = 111,
			     .pay = H_RESP_204, .paylen = c->R };
	return h_check_response(&r, &w);
}

/* A client -> server segment of c. */
static void cseg(struct pkt_spec *s, const struct conn *c, __u32 seq, __u32 ack,
		 const char *pay)
{
	pkt_default(s, c->family);
	s->seq = seq;
	s->ack = ack;
	s->flags = TH_ACK | (*pay ? TH_PSH : 0);
	pkt_opt_ts(s, 500, 600);
	s->pay = pay;
	s->paylen = (unsigned)strlen(pay);
}

/* A server -> client segment of c. */
static void sseg(struct pkt_spec *s, const struct conn *c, __u32 seq, __u32 ack,
		 const char *pay)
{
	pkt_default_out(s, c->family);
	s->seq = seq;
	s->ack = ack;
	s->flags = TH_ACK | (*pay ? TH_PSH : 0);
	pkt_opt_ts(s, 700, 500);
	s->pay = pay;
	s->paylen = (unsigned)strlen(pay);
}

/* Run in through prog: expect PASS and exactly the packet want (built
 * independently; every byte compared but the TCP checksum, which must be
 * right) and the counter deltas d. */
static bool expect_out(const struct h_prog *prog, const struct pkt_spec *in,
		       const struct h_env *env, const struct pkt_spec *want,
		       const struct h_delta *d)
{
	struct h_run r;
	__u8 wb[PKT_MAX];
	size_t wn = pkt_build(want, wb, sizeof(wb)), csum;
	struct pkt_view v, wv;
	unsigned k;

	if (!h_run_spec(prog, in, env, &r))
		return false;
	if (!H_CHECK(r.verdict == H_PASS, "%s: retval %d, want PASS", prog->name, r.retval))
		return false;
	if (!h_out_view(&r, &v))
		return false;
	if (!H_CHECK(wn && !pkt_parse(wb, wn, &wv, NULL, 0), "test bug: bad want packet"))
		return false;
	H_EQX(v.seq, wv.seq, "translated seq");
	H_EQX(v.ack, wv.ack, "translated ack");
	H_EQ(v.nsack, wv.nsack, "SACK blocks");
	for (k = 0; k < v.nsack && k < wv.nsack; k++) {
		H_EQX(v.sack[k][0], wv.sack[k][0], "SACK block start");
		H_EQX(v.sack[k][1], wv.sack[k][1], "SACK block end");
	}
	H_CHECK(v.optlen == wv.optlen && !memcmp(v.opt, wv.opt, v.optlen),
		"TCP options differ from the expected ones");
	csum = 14 + (want->family == 4 ? 20 : 40) + 16;
	if (H_EQ(r.out_len, wn, "output length"))
		H_CHECK(!memcmp(r.out, wb, csum) && !memcmp(r.out + csum + 2, wb + csum + 2,
							    wn - csum - 2),
			"output differs from the expected packet outside seq/ack/options");
	h_check_deltas(&r, d);
	return h_ok();
}

static const struct h_delta d_in[] = {
	H_D(PKT_SEEN, 1), H_D(TRANSLATED_IN, 1), H_DEND,
};
static const struct h_delta d_in_data[] = {
	H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(TRANSLATED_IN, 1), H_DEND,
};
static const struct h_delta d_out[] = {
	H_D(TRANSLATED_OUT, 1), H_DEND,
};

/* ---- ingress ---- */

/* Client data acking the whole response: seq - L, ack - R. */
static void t_in_data_ack(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	cseg(&in, &c, c.S + c.L, c.P + c.R, put_req);
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	if (!expect_out(&h_tc_in, &in, NULL, &want, d_in_data))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone")) {
		H_EQ(fl.resp_acked, 1, "flow resp_acked");
		H_EQ(fl.last_dir, PF_DIR_CLIENT, "flow last_dir");
	}
}

/* An ack inside the response clamps to its start P. */
static void t_in_ack_inside(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	cseg(&in, &c, c.S + c.L, c.P + 10, "");
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	if (!expect_out(&h_tc_in, &in, NULL, &want, d_in))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.resp_acked, 0, "flow resp_acked");
}

/* An ack at P (nothing of the response yet) stays; seq still moves. */
static void t_in_ack_at_start(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	cseg(&in, &c, c.S + c.L, c.P, "");
	want = in;
	want.seq = c.S;
	expect_out(&h_tc_in, &in, NULL, &want, d_in);
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

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	blk[0][0] = c.P;
	blk[0][1] = c.P + c.R;
	pkt_opt_sack(&in, 1, blk);
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	want.optlen = 12;
	pkt_opt_raw(&want, nops, sizeof(nops));
	expect_out(&h_tc_in, &in, NULL, &want, d);
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

	if (!splice(&c, 6, 0xffffff00u, 0xffffffc0u))
		return;
	cseg(&in, &c, c.S + c.L, c.P + c.R, "");
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
	expect_out(&h_tc_in, &in, NULL, &want, d);
}

/* A pure ACK with Ethernet padding (60-byte frame). */
static void t_in_padded_ack(void)
{
	struct conn c;
	struct pkt_spec in, want;

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	in.optlen = 0;
	in.eth_pad = 6;
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	expect_out(&h_tc_in, &in, NULL, &want, d_in);
}

/* FIN from the client: translated, flow marked. */
static void t_in_fin(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	cseg(&in, &c, c.S + c.L, c.P + c.R, "");
	in.flags |= TH_FIN;
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	if (expect_out(&h_tc_in, &in, NULL, &want, d_in) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.fin, PF_FIN_CLIENT, "flow fin");
}

/* ---- egress ---- */

/* Server data at P acking the request: seq + R, ack + L. */
static void out_data(int family, __u32 s, __u32 p)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!splice(&c, family, s, p))
		return;
	sseg(&in, &c, c.P, c.S, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + c.L;
	if (!expect_out(&h_tc_out, &in, NULL, &want, d_out))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.last_dir, PF_DIR_SERVER, "flow last_dir");
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

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	sseg(&in, &c, c.P - 100, c.S - 50, "0123456789");
	expect_out(&h_tc_out, &in, NULL, &in, d_out);
}

/* Server SACK blocks (client data) move up by L. */
static void t_out_sack(void)
{
	static const struct h_delta d[] = {
		H_D(SACK_TRANSLATED, 1), H_D(TRANSLATED_OUT, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec in, want;
	__u32 blk[1][2], wblk[1][2];

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	sseg(&in, &c, c.P, c.S, "");
	blk[0][0] = c.S + 100;
	blk[0][1] = c.S + 200;
	pkt_opt_sack(&in, 1, blk);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + c.L;
	want.optlen = 12;
	wblk[0][0] = c.S + c.L + 100;
	wblk[0][1] = c.S + c.L + 200;
	pkt_opt_sack(&want, 1, wblk);
	expect_out(&h_tc_out, &in, NULL, &want, d);
}

/* Our own response, seen again at egress after bpf_redirect: untouched. */
static void t_out_marked(void)
{
	static const struct h_delta none[] = { H_DEND };
	struct conn c;
	struct pkt_spec in;
	struct h_env env = { .mark = PF_MARK };

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	sseg(&in, &c, c.P, c.S + c.L, H_RESP_204);
	expect_out(&h_tc_out, &in, &env, &in, none);
}

/* Server FIN: translated, flow marked. */
static void t_out_fin(void)
{
	struct conn c;
	struct pkt_spec in, want;
	struct pf_flow fl;

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	sseg(&in, &c, c.P, c.S, "");
	in.flags |= TH_FIN;
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + c.L;
	if (expect_out(&h_tc_out, &in, NULL, &want, d_out) &&
	    H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		H_EQ(fl.fin, PF_FIN_SERVER, "flow fin");
}

/* ---- repeated splices ---- */

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

	if (!splice(&c, 4, 1000000, 5000000))
		return;
	si = h_sock(c.S, c.P);
	h_set_sock(&si);
	cseg(&in, &c, c.S + c.L, c.P, H_PREFLIGHT);
	want = in;
	want.seq = c.S;
	expect_out(&h_tc_in, &in, NULL, &want, d);
}

/* Splice, a PUT and its answer through the translation, a second
 * splice: offsets accumulate, and later segments use both. */
static void second_splice(int family, __u32 s, __u32 p)
{
	static const char answer[] = "HTTP/1.1 204 No Content\r\nX-Pad: 0123456789012345\r\n\r\n";
	static const struct h_delta d2[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND,
	};
	const __u32 D = (__u32)strlen(put_req), A = (__u32)strlen(answer);
	struct conn c;
	struct pkt_spec in, want, req2;
	struct pf_sockinfo si;
	struct h_run r;
	struct h_want w;
	struct pf_flow fl;
	__u32 S2;

	if (!splice(&c, family, s, p))
		return;
	/* the PUT, acking the first response */
	cseg(&in, &c, c.S + c.L, c.P + c.R, put_req);
	want = in;
	want.seq = c.S;
	want.ack = c.P;
	if (!expect_out(&h_tc_in, &in, NULL, &want, d_in_data))
		return;
	/* the app's answer to it */
	sseg(&in, &c, c.P, c.S + D, answer);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + D + c.L;
	if (!expect_out(&h_tc_out, &in, NULL, &want, d_out))
		return;
	/* the second preflight, acking the app's answer */
	S2 = c.S + c.L + D;
	si = h_sock(c.S + D, c.P + A);
	h_set_sock(&si);
	h_req_spec(&req2, family, H_PREFLIGHT, S2, c.P + c.R + A, 333, 444);
	if (!h_run_spec(&h_tc_in, &req2, NULL, &r))
		return;
	w = (struct h_want){ .req = &req2, .seq = c.P + A + c.R, .ack = S2 + c.L, .win = WIN,
			     .has_ts = true, .tsval = 444, .tsecr = 333,
			     .pay = H_RESP_204, .paylen = c.R };
	if (!h_check_response(&r, &w) || !h_check_deltas(&r, d2))
		return;
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
	/* later client data acking both responses: seq - 2L, ack - 2R */
	cseg(&in, &c, S2 + c.L, c.P + A + 2 * c.R, put_req);
	want = in;
	want.seq = c.S + D;
	want.ack = c.P + A;
	if (!expect_out(&h_tc_in, &in, NULL, &want, d_in_data))
		return;
	/* later server data: seq + 2R, ack + 2L */
	sseg(&in, &c, c.P + A, c.S + 2 * D, answer);
	want = in;
	want.seq = c.P + A + 2 * c.R;
	want.ack = c.S + 2 * D + 2 * c.L;
	if (!expect_out(&h_tc_out, &in, NULL, &want, d_out))
		return;
	/* server data from between the two responses (retransmitted):
	 * only the first response is before it */
	sseg(&in, &c, c.P, c.S + D, answer);
	want = in;
	want.seq = c.P + c.R;
	want.ack = c.S + D + c.L;
	expect_out(&h_tc_out, &in, NULL, &want, d_out);
}

static void t_second_splice_v4(void)
{
	second_splice(4, 1000000, 5000000);
}

static void t_second_splice_v6_wrap(void)
{
	second_splice(6, 0xffffff00u, 0xffffff80u);
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
	h_case("translate_out_data_ipv4", t_out_data_v4);
	h_case("translate_out_data_ipv6_wrap", t_out_data_v6);
	h_case("translate_out_old_data_unchanged", t_out_old_data);
	h_case("translate_out_sack", t_out_sack);
	h_case("translate_out_own_response_untouched", t_out_marked);
	h_case("translate_out_fin", t_out_fin);
	h_case("second_preflight_before_ack_pending", t_second_pending);
	h_case("second_splice_offsets_accumulate_ipv4", t_second_splice_v4);
	h_case("second_splice_offsets_accumulate_ipv6_wrap", t_second_splice_v6_wrap);
}
