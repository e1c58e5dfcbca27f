/* conn.c -- response checks and spliced connections for the BPF tier (see conn.h). */
#include <errno.h>
#include <string.h>

#include "conn.h"

bool h_check_segment(const __u8 *buf, size_t len, const struct h_want *w)
{
	const struct pkt_spec *q = w->req;
	static const __u8 ts_kind[4] = { 1, 1, 8, 10 };
	size_t alen = q->family == 4 ? 4 : 16;
	size_t want_len = 14 + (q->family == 4 ? 20 : 40) + 20 + (w->has_ts ? 12 : 0) +
			  w->paylen;
	struct pkt_view v;
	char err[128];

	if (!H_CHECK(!pkt_parse(buf, len, &v, err, sizeof(err)), "response does not parse: %s",
		     err))
		return false;
	if (!H_CHECK(v.ip_csum_ok, "response IPv4 header checksum is wrong") ||
	    !H_CHECK(v.tcp_csum_ok, "response TCP checksum is wrong"))
		return false;
	H_EQ(v.len, want_len, "response frame length");
	H_CHECK(!memcmp(v.dmac, q->smac, 6) && !memcmp(v.smac, q->dmac, 6), "MACs not swapped");
	H_EQ(v.family, q->family, "response IP version");
	H_CHECK(!memcmp(v.saddr, q->daddr, alen) && !memcmp(v.daddr, q->saddr, alen),
		"IP addresses not swapped");
	H_EQ(v.sport, q->dport, "response source port");
	H_EQ(v.dport, q->sport, "response destination port");
	H_EQX(v.seq, w->seq, "response seq");
	H_EQX(v.ack, w->ack, "response ack");
	H_EQX(v.flags, TH_ACK | TH_PSH, "response flags");
	H_EQ(v.win, w->win, "response window");
	H_EQ(v.urg, 0, "response urgent pointer");
	if (q->family == 4) {
		H_EQ(v.ihl, 5, "response ihl");
		H_EQ(v.ttl, 64, "response TTL");
		H_EQX(v.frag, 0x4000, "response frag_off (DF)");
		H_EQ(v.tos, 0, "response TOS");
	} else {
		H_EQX(v.ver_tc_fl, 0x60000000, "response version/class/flow label");
		H_EQ(v.hlim, 64, "response hop limit");
	}
	if (w->has_ts) {
		H_EQ(v.optlen, 12, "response option bytes");
		H_CHECK(v.optlen >= 4 && !memcmp(v.opt, ts_kind, 4), "options are not NOP NOP TS");
		H_EQX(v.tsval, w->tsval, "response TSval");
		H_EQX(v.tsecr, w->tsecr, "response TSecr");
	} else {
		H_EQ(v.optlen, 0, "response option bytes (request had no TS)");
	}
	H_EQ(v.paylen, w->paylen, "response payload length");
	H_CHECK(v.paylen == w->paylen && !memcmp(v.pay, w->pay, w->paylen),
		"response payload differs:\n---- got\n%.*s\n---- want\n%.*s", (int)v.paylen,
		(const char *)v.pay, (int)w->paylen, w->pay);
	return h_ok();
}

bool h_check_response(const struct h_run *r, const struct h_want *w)
{
	if (!H_CHECK(r->verdict == H_TX, "verdict %s (retval %d), want TX", h_verdict_name(r->verdict),
		     r->retval))
		return false;
	/* XDP_TX has no skb; a chain run cannot read the mark */
	if (r->kind == H_KIND_TC && !r->chain)
		H_EQX(r->mark, PF_MARK, "skb mark of the response");
	if (r->kind == H_KIND_XDP)
		H_EQ(r->meta_len, 0, "XDP metadata bytes on the response");
	H_EQ(r->n_tx, 0, "frames transmitted with bpf_clone_redirect");
	return h_check_segment(r->out, r->out_len, w);
}

bool h_check_clone(const struct h_run *r, const struct h_want *w)
{
	if (!H_EQ(r->n_tx, 1, "frames transmitted with bpf_clone_redirect"))
		return false;
	return h_check_segment(r->tx[0], r->tx_len[0], w);
}

void h_answer_fix(struct h_fix *f, int family, const char *payload, __u32 s, __u32 p)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};

	memset(f, 0, sizeof(*f));
	f->prog = h_in;
	h_req_spec(&f->in, family, payload, s, p, 111, 222);
	f->sock = h_sock(s, p);
	f->verdict = H_TX;
	memcpy(f->d, d, sizeof(d));
}

void h_pass_first_fix(struct h_fix *f, int family, const char *payload, __u32 s, __u32 p,
		      int stat)
{
	h_answer_fix(f, family, payload, s, p);
	memset(f->d, 0, sizeof(f->d));
	f->verdict = H_PASS;
	f->unchanged = true;
	f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f->d[1] = (struct h_delta){ stat, 1 };
	f->d[2] = (struct h_delta)H_D(FLOW_CREATED, 1);
	f->d[3] = (struct h_delta)H_DEND;
}

struct h_want h_want_resp(const struct h_fix *f, __u32 p, const char *resp)
{
	struct h_want w = {
		.req = &f->in, .seq = p, .ack = f->in.seq + f->in.paylen,
		.win = (__u16)(f->sock.rcv_wnd >> f->sock.wscale),
		.has_ts = true, .tsval = H_TS_NOW, .tsecr = 111,
		.pay = resp, .paylen = strlen(resp),
	};

	return w;
}

/* Answer H_PREFLIGHT at s/p; false (check failed) if not answered. */
bool conn_splice(struct conn *c, int family, __u32 s, __u32 p)
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
	if (!h_run_spec(h_in, &c->req, NULL, &r))
		return false;
	w = (struct h_want){ .req = &c->req, .seq = p, .ack = s + c->L,
			     .win = (__u16)(si.rcv_wnd >> si.wscale),
			     .has_ts = true, .tsval = H_TS_NOW, .tsecr = 111,
			     .pay = H_RESP_204, .paylen = c->R };
	return h_check_response(&r, &w);
}

bool conn_splice_acked(struct conn *c, int family, __u32 s, __u32 p)
{
	struct pkt_spec in, want;
	struct pf_sockinfo si;

	if (!conn_splice(c, family, s, p))
		return false;
	conn_cseg(&in, c, c->S + c->L, c->P + c->R, "");
	want = in;
	want.seq = c->S;
	want.ack = c->P;
	if (!conn_expect(h_in, &in, NULL, &want, conn_d_in))
		return false;
	si = h_sock(c->S, c->P);
	h_set_sock(&si);
	return true;
}

/* A client -> server segment of c. */
void conn_cseg(struct pkt_spec *s, const struct conn *c, __u32 seq, __u32 ack,
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

bool conn_expect_sseg(const struct conn *c, __u32 off, const char *pay)
{
	struct pkt_spec in, want;

	conn_sseg(&in, c, c->P + off, c->S, pay);
	want = in;
	want.seq = c->P + off + c->R;
	want.ack = c->S + c->L;
	return conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out);
}

void conn_next_put(struct pkt_spec *in, struct pkt_spec *want, const struct conn *c)
{
	conn_cseg(in, c, c->S + c->L, c->P + c->R, PUT_REQ);
	*want = *in;
	want->seq = c->S;
	want->ack = c->P;
}

/* A server -> client segment of c. */
void conn_sseg(struct pkt_spec *s, const struct conn *c, __u32 seq, __u32 ack,
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

/* r must be PASS with exactly the packet want as output (every byte
 * but the TCP checksum, which must be right) and the deltas d. */
static bool conn_compare(const struct h_run *r, const char *name, const struct pkt_spec *want,
			 const struct h_delta *d)
{
	__u8 wb[PKT_MAX];
	size_t wn = pkt_build(want, wb, sizeof(wb)), csum;
	struct pkt_view v, wv;
	unsigned k;

	if (!H_CHECK(r->verdict == H_PASS, "%s: retval %d, want PASS", name, r->retval))
		return false;
	if (r->kind == H_KIND_XDP && !H_EQ(r->meta_len, 0, "XDP metadata bytes"))
		return false;
	if (!h_out_view(r, &v))
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
	csum = 14 + (want->family == 4 ? 20 + want->ip_optlen : 40) + 16;
	if (H_EQ(r->out_len, wn, "output length"))
		H_CHECK(!memcmp(r->out, wb, csum) && !memcmp(r->out + csum + 2, wb + csum + 2,
							    wn - csum - 2),
			"output differs from the expected packet outside seq/ack/options");
	if (d)
		h_check_deltas(r, d);
	return h_ok();
}

bool conn_flow_kept(const struct conn *c, const struct pf_flow *before, const char *what)
{
	struct pf_flow fl;

	if (!H_CHECK(h_flow(&c->req, &fl), "%s: flow entry gone", what))
		return false;
	return H_CHECK(!memcmp((const __u8 *)&fl + sizeof(fl.lock),
			       (const __u8 *)before + sizeof(fl.lock), sizeof(fl) - sizeof(fl.lock)),
		       "%s: flow entry changed", what);
}

bool conn_expect(const struct h_prog *prog, const struct pkt_spec *in,
		 const struct h_env *env, const struct pkt_spec *want,
		 const struct h_delta *d)
{
	struct h_run r;

	if (!h_run_spec(prog, in, env, &r))
		return false;
	return conn_compare(&r, prog->name, want, d);
}

bool conn_expect_to_tc(const struct pkt_spec *in, const struct pkt_spec *want,
		       const struct h_delta *d_tc)
{
	struct h_run r;

	if (!h_run_to_tc(in, &r, d_tc))
		return false;
	return conn_compare(&r, h_xdp() ? "XDP -> TC" : "pf_tc_ingress", want, NULL);
}

bool conn_expect_chain(const struct pkt_spec *in, const struct pkt_spec *want,
		       const struct h_delta *d)
{
	__u8 b[PKT_MAX];
	size_t n = pkt_build(in, b, sizeof(b));
	struct h_run r;

	if (!H_CHECK(n > 0, "test bug: packet does not build") || !h_chain(b, n, &r))
		return false;
	return conn_compare(&r, "XDP -> TC", want, d);
}

const struct h_delta conn_d_in[] = {
	H_D(PKT_SEEN, 1), H_D(TRANSLATED_IN, 1), H_DEND,
};
const struct h_delta conn_d_in_data[] = {
	H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(TRANSLATED_IN, 1), H_DEND,
};
const struct h_delta conn_d_out[] = {
	H_D(TRANSLATED_OUT, 1), H_DEND,
};

/* Run frame b (n bytes) through the current ingress: passed unchanged,
 * no XDP metadata, deltas d. may_refuse: the TC test run may refuse a
 * frame shorter than an IPv4 header (EINVAL): nothing reaches the
 * program then. tag: printed with a failure (the loop iteration). */
bool conn_raw_pass(const __u8 *b, size_t n, const struct h_delta *d, bool may_refuse,
		     const char *tag)
{
	struct h_run r;
	int err = h_try_run(h_in, b, n, NULL, &r);

	if (err == -EINVAL && may_refuse && h_in->kind == H_KIND_TC)
		return true;
	if (!H_CHECK(!err, "%s: test run: %s", tag, strerror(-err)) ||
	    !H_CHECK(r.verdict == H_PASS, "%s: verdict %s, want PASS", tag,
		     h_verdict_name(r.verdict)) ||
	    !H_CHECK(r.out_len == n && !memcmp(r.out, b, n), "%s: packet changed", tag) ||
	    !H_CHECK(r.meta_len == 0, "%s: XDP metadata (%u bytes)", tag, r.meta_len))
		return false;
	if (!h_check_deltas(&r, d))
		return H_CHECK(false, "%s: counters", tag);
	return true;
}
