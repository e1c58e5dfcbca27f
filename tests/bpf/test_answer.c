/* test_answer.c -- BPF tier: preflights answered at TC ingress (204/403), forwarded decisions, retransmitted requests. */
#include <string.h>

#include "harness.h"

#define S0 1000000u        /* client seq of the request */
#define P0 5000000u        /* server snd_nxt */
#define WIN (64256u >> 7)  /* h_sock(): rcv_wnd >> wscale */

#define VARY "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"

/* The fixture of an allowed request (payload) that must be answered. */
static void answer_fix(struct h_fix *f, int family, const char *payload, __u32 s, __u32 p)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};

	memset(f, 0, sizeof(*f));
	f->prog = &h_tc_in;
	h_req_spec(&f->in, family, payload, s, p, 111, 222);
	f->sock = h_sock(s, p);
	f->verdict = H_TX;
	memcpy(f->d, d, sizeof(d));
}

/* The response to f's request: at p, acking the request, TS echoed. */
static struct h_want want_for(const struct h_fix *f, __u32 p, const char *resp)
{
	struct h_want w = {
		.req = &f->in, .seq = p, .ack = f->in.seq + f->in.paylen, .win = WIN,
		.has_ts = true, .tsval = 222, .tsecr = 111,
		.pay = resp, .paylen = strlen(resp),
	};

	return w;
}

/* The flow entry of a first splice: request at s, response at p. */
static void check_first_flow(const struct pkt_spec *req, __u32 s, __u32 p, unsigned resp_len,
			     int rejected)
{
	struct pf_flow fl;

	if (!H_CHECK(h_flow(req, &fl), "no pf_flows entry after the answer"))
		return;
	H_EQX(fl.c_pos, s, "flow c_pos");
	H_EQ(fl.c_before, 0, "flow c_before");
	H_EQ(fl.c_after, req->paylen, "flow c_after");
	H_EQX(fl.s_pos, p, "flow s_pos");
	H_EQ(fl.s_before, 0, "flow s_before");
	H_EQ(fl.s_after, resp_len, "flow s_after");
	H_EQ(fl.req_len, req->paylen, "flow req_len");
	H_EQ(fl.resp_len, resp_len, "flow resp_len");
	H_EQ(fl.resp_acked, 0, "flow resp_acked");
	H_EQ(fl.last_dir, PF_DIR_SERVER, "flow last_dir");
	H_EQ(fl.rejected, rejected, "flow rejected");
	H_EQ(fl.splices, 1, "flow splices");
	H_EQ(fl.fin, 0, "flow fin");
	H_EQ(h_flow_count(), 1, "flows in the table");
}

/* An allowed preflight answered 204, every field checked. */
static void answer_allowed(int family, __u32 s, __u32 p)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	answer_fix(&f, family, H_PREFLIGHT, s, p);
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, p, H_RESP_204);
	if (!h_check_response(&r, &w))
		return;
	check_first_flow(&f.in, s, p, strlen(H_RESP_204), 0);
}

static void t_answer_v4(void)
{
	answer_allowed(4, S0, P0);
}

/* IPv6, and sequence numbers about to wrap. */
static void t_answer_v6(void)
{
	answer_allowed(6, 0xfffffff0u, 0xffffff80u);
}

/* A Date header from the double-buffered clock (date_idx selects). */
static void t_answer_date(void)
{
	static const char resp[] =
		"HTTP/1.1 204 No Content\r\n"
		"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"Access-Control-Allow-Origin: " H_ORIGIN "\r\n"
		"Access-Control-Allow-Headers: content-type\r\n"
		"Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n"
		"Access-Control-Allow-Credentials: true\r\n"
		"Access-Control-Max-Age: 600\r\n"
		VARY "\r\n";
	struct pf_config *cfg = h_cfg();
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	memcpy(cfg->date[0], "Mon, 01 Jan 2001 00:00:00 GMT", PF_DATE_LEN);
	memcpy(cfg->date[1], "Sun, 06 Nov 1994 08:49:37 GMT", PF_DATE_LEN);
	cfg->date_idx = 1;
	cfg->date_valid = 1;
	answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, resp);
	h_check_response(&r, &w);
}

/* Wildcard origin rule, request headers echoed exactly as sent. */
static void t_answer_wildcard_origin(void)
{
	static const char req[] =
		"OPTIONS /api/x?q=1 HTTP/1.1\r\n"
		"Host: API.example.com:8080\r\n"
		"Origin: https://shop.example.com\r\n"
		"Access-Control-Request-Method: PATCH\r\n"
		"Access-Control-Request-Headers: Content-Type, X-Request-ID\r\n"
		"\r\n";
	static const char resp[] =
		"HTTP/1.1 204 No Content\r\n"
		"Access-Control-Allow-Origin: https://shop.example.com\r\n"
		"Access-Control-Allow-Headers: Content-Type, X-Request-ID\r\n"
		"Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n"
		"Access-Control-Allow-Credentials: true\r\n"
		"Access-Control-Max-Age: 600\r\n"
		VARY "\r\n";
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	answer_fix(&f, 4, req, S0, P0);
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, resp);
	h_check_response(&r, &w);
}

/* A request without TCP options gets a response without options. */
static void t_answer_no_timestamps(void)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.in.optlen = 0;
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, H_RESP_204);
	w.has_ts = false;
	h_check_response(&r, &w);
}

/* on_deny: reject (rule 1, method outside its list) -> the exact 403. */
static void t_answer_reject_403(void)
{
	static const char req[] =
		"OPTIONS /reject/x HTTP/1.1\r\n"
		"Host: api.example.com\r\n"
		"Origin: " H_ORIGIN "\r\n"
		"Access-Control-Request-Method: DELETE\r\n"
		"\r\n";
	static const char resp[] =
		"HTTP/1.1 403 Forbidden\r\n" VARY "Content-Length: 0\r\n\r\n";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(REJECTED, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	answer_fix(&f, 6, req, S0, P0);
	memcpy(f.d, d, sizeof(d));
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, resp);
	if (h_check_response(&r, &w))
		check_first_flow(&f.in, S0, P0, strlen(resp), 1);
}

/* A request forwarded to the app: unchanged, counted, no flow. */
static void forwarded(const char *req, int stat)
{
	struct h_fix f;

	answer_fix(&f, 4, req, S0, P0);
	f.verdict = H_PASS;
	f.unchanged = true;
	memset(f.d, 0, sizeof(f.d));
	f.d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f.d[1] = (struct h_delta){ stat, 1 };
	f.d[2] = (struct h_delta)H_DEND;
	if (h_fix_run(&f, NULL))
		H_EQ(h_flow_count(), 0, "flows in the table");
}

/* Origin not listed by the applicable rule (on_deny: forward). */
static void t_forward_denied_origin(void)
{
	forwarded("OPTIONS /api/items/7 HTTP/1.1\r\n"
		  "Host: api.example.com\r\n"
		  "Origin: https://evil.test\r\n"
		  "Access-Control-Request-Method: PUT\r\n"
		  "\r\n", PF_STAT_FWD_DENIED);
}

/* A header the rule does not list (on_deny: forward). */
static void t_forward_denied_header(void)
{
	forwarded("OPTIONS /api/items/7 HTTP/1.1\r\n"
		  "Host: api.example.com\r\n"
		  "Origin: " H_ORIGIN "\r\n"
		  "Access-Control-Request-Method: PUT\r\n"
		  "Access-Control-Request-Headers: x-secret\r\n"
		  "\r\n", PF_STAT_FWD_DENIED);
}

/* No rule applies to this host and path. */
static void t_forward_no_rule(void)
{
	forwarded("OPTIONS /api/items/7 HTTP/1.1\r\n"
		  "Host: other.test\r\n"
		  "Origin: " H_ORIGIN "\r\n"
		  "Access-Control-Request-Method: PUT\r\n"
		  "\r\n", PF_STAT_FWD_NO_RULE);
}

/* ---- retransmitted requests (state of a first answer at S0/P0) ---- */

/* Answer H_PREFLIGHT at S0/P0 into *first (fixture f). */
static bool splice(struct h_fix *f, struct h_run *first)
{
	answer_fix(f, 4, H_PREFLIGHT, S0, P0);
	return h_fix_run(f, first) && H_CHECK(first->verdict == H_TX, "first request not answered");
}

/* The same request again: the same response at the same seq, fresh TS. */
static void t_retx_reanswered(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run first, r;
	struct h_want w;
	struct pf_flow fl;

	if (!splice(&f, &first))
		return;
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 333, 222);
	memcpy(f.d, d, sizeof(d));
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, H_RESP_204);
	w.tsecr = 333;
	if (!h_check_response(&r, &w))
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
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_ANSWERED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run first, r;
	struct h_want w;

	if (!splice(&f, &first))
		return;
	h_cfg()->draining = 1;
	memcpy(f.d, d, sizeof(d));
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, H_RESP_204);
	h_check_response(&r, &w);
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
	memcpy(f.d, d, sizeof(d));
	if (!h_fix_run(&f, &r))
		return;
	w = want_for(&f, P0, H_RESP_204);
	w.ack = S0 + strlen(H_PREFLIGHT);
	h_check_response(&r, &w);
}

/* Only the first bytes of the request again (same seq): dropped. */
static void t_retx_partial_same_seq(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_DROPPED, 1), H_DEND,
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

/* A retransmission that starts inside the consumed request (its tail,
 * re-segmented): must be dropped. Translating it would hand the app the
 * request's tail at the socket's next seq. */
static void retx_tail(unsigned from)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_DROPPED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run first, r;
	struct pkt_view v;

	if (!splice(&f, &first))
		return;
	f.in.seq = S0 + from;
	f.in.pay = H_PREFLIGHT + from;
	f.in.paylen = strlen(H_PREFLIGHT) - from;
	f.verdict = H_DROP;
	memcpy(f.d, d, sizeof(d));
	if (h_fix_run(&f, &r) || r.verdict != H_PASS)
		return;
	if (pkt_parse(r.out, r.out_len, &v, NULL, 0) == 0)
		H_CHECK(0, "BUG: request tail (%u bytes) passed to the app at socket seq 0x%08x",
			v.paylen, v.seq);
}

static void t_retx_tail_dropped(void)
{
	retx_tail(40);
}

static void t_retx_last_bytes_dropped(void)
{
	retx_tail((unsigned)strlen(H_PREFLIGHT) - 4);
}

void test_answer(void)
{
	h_case("answer_ipv4_allowed_204", t_answer_v4);
	h_case("answer_ipv6_allowed_204_seq_wrap", t_answer_v6);
	h_case("answer_date_header_double_buffer", t_answer_date);
	h_case("answer_wildcard_origin_acrh_echo", t_answer_wildcard_origin);
	h_case("answer_no_timestamps", t_answer_no_timestamps);
	h_case("answer_reject_403_ipv6", t_answer_reject_403);
	h_case("forward_denied_origin", t_forward_denied_origin);
	h_case("forward_denied_header", t_forward_denied_header);
	h_case("forward_no_rule", t_forward_no_rule);
	h_case("retx_reanswered_same_seq", t_retx_reanswered);
	h_case("retx_while_draining_reanswered", t_retx_while_draining);
	h_case("retx_coalesced_with_next_data", t_retx_coalesced);
	h_case("retx_partial_same_seq_dropped", t_retx_partial_same_seq);
	h_case("retx_tail_of_request_dropped", t_retx_tail_dropped);
	h_case("retx_last_bytes_of_request_dropped", t_retx_last_bytes_dropped);
}
