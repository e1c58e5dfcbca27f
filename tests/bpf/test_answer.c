/* test_answer.c -- BPF tier: preflights answered at ingress (TC and XDP), and forwarded ones. */
/* The exact 204/403 bytes, Date, timestamps, and the clone + pure ACK path. */
#include <string.h>

#include "conn.h"

#define S0 1000000u        /* client seq of the request */
#define P0 5000000u        /* server snd_nxt */
#define VARY PF_EXPECT_VARY

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
	H_EQ(fl.state, PF_FS_FRAMED | PF_FS_ANSWERED, "flow state (framed, answered by us)");
	H_EQX(fl.c_next, s + req->paylen, "flow c_next");
	H_EQ(!!(fl.hi & PF_FLOW_REJECTED), rejected, "flow rejected (PF_FLOW_REJECTED)");
	H_EQ(fl.hi & ~PF_FLOW_REJECTED, PF_FLOW_C_HI | PF_FLOW_S_HI, "flow hi");
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

	h_answer_fix(&f, family, H_PREFLIGHT, s, p);
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, p, H_RESP_204);
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
	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, resp);
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

	h_answer_fix(&f, 4, req, S0, P0);
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, resp);
	h_check_response(&r, &w);
}

/* A request without TCP options gets a response without options. */
static void t_answer_no_timestamps(void)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.in.optlen = 0;
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
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

	h_answer_fix(&f, 6, req, S0, P0);
	memcpy(f.d, d, sizeof(d));
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, resp);
	if (h_check_response(&r, &w))
		check_first_flow(&f.in, S0, P0, strlen(resp), 1);
}

/* A request forwarded to the app: unchanged, counted, no flow. */
static void forwarded(const char *req, int stat)
{
	struct h_fix f;

	h_answer_fix(&f, 4, req, S0, P0);
	h_sock_not_first(&f.sock);
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

/* ---- timestamps ---- */

/* The socket clock is behind the request's TSecr (a TSval the client
 * already accepted): the response carries the TSecr. */
static void t_tsval_from_request(void)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.sock.ts_now = 100;
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.tsval = 222;
	h_check_response(&r, &w);
}

/* "Later" is serial-number arithmetic: 5 comes after 0xfffffff0. */
static void t_tsval_wrap(void)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 111, 5);
	f.sock.ts_now = 0xfffffff0u;
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.tsval = 5;
	h_check_response(&r, &w);
}

/* A request socket (the handshake's ACK not processed yet) has no
 * readable clock: TSval is the request's TSecr, whatever its value --
 * "no clock" is a flag, not ts_now 0, which a TSecr in the upper half of
 * the number space did not come after (the response then said TSval 0,
 * below what the client accepted last: PAWS drops it). */
static void t_tsval_no_clock(void)
{
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_req_spec(&f.in, 4, H_PREFLIGHT, S0, P0, 111, 0x90000000u);
	f.sock.ts_ok = 0;
	f.sock.ts_now = 0;
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	w.tsval = 0x90000000u;
	h_check_response(&r, &w);
}

/* A socket past ESTABLISHED (FIN_WAIT1 after the app closed, ...) takes
 * no new splice: the preflight goes to the app. */
static void t_closing_socket_passed(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NO_SOCKET, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run r;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	f.sock.closing = 1;
	h_set_sock(&f.sock);
	if (h_run_to_tc(&f.in, &r, d))
		H_CHECK(r.verdict == H_PASS, "verdict %s, want PASS", h_verdict_name(r.verdict));
}

/* ---- the request carries the only ack of the server's last data ---- */

/* The skb after a clone path: a pure ACK to the server at the consumed
 * request's socket seq s, carrying the request's ack p, window and TS. */
static void check_pure_ack(const struct h_run *r, const struct pkt_spec *q, __u32 s, __u32 p,
			   bool macs)
{
	size_t alen = q->family == 4 ? 4 : 16;
	struct pkt_view v;

	if (!h_out_view(r, &v))
		return;
	H_EQ(v.len, 14 + (q->family == 4 ? 20 : 40) + 32, "pure ACK frame length");
	H_CHECK(!memcmp(v.saddr, q->saddr, alen) && !memcmp(v.daddr, q->daddr, alen),
		"pure ACK addresses are not client -> server");
	H_EQ(v.sport, q->sport, "pure ACK source port");
	H_EQ(v.dport, q->dport, "pure ACK destination port");
	H_EQX(v.seq, s, "pure ACK seq");
	H_EQX(v.ack, p, "pure ACK ack");
	H_EQX(v.flags, TH_ACK, "pure ACK flags");
	H_EQ(v.win, q->win, "pure ACK window (the request's)");
	H_EQ(v.paylen, 0, "pure ACK payload");
	H_CHECK(v.has_ts, "pure ACK without TS option");
	H_EQX(v.tsval, 111, "pure ACK TSval (the request's)");
	H_EQX(v.tsecr, 222, "pure ACK TSecr (the request's)");
	H_EQ(r->mark, 0, "pure ACK skb mark (the request's)");
	if (macs)
		H_CHECK(!memcmp(v.dmac, q->dmac, 6) && !memcmp(v.smac, q->smac, 6),
			"BUG: pure ACK to the server carries the response's swapped MACs "
			"(dst %02x:..:%02x, want %02x:..:%02x)", v.dmac[0], v.dmac[5],
			q->dmac[0], q->dmac[5]);
}

/* snd_una < snd_nxt and the request acks snd_nxt: the response leaves
 * as a clone, the skb goes on as a pure ACK for the server. XDP cannot
 * clone: it hands the request to TC, which does the same (chain). */
static void piggyback(int family, bool macs)
{
	struct h_fix f, tcf;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, family, H_PREFLIGHT, S0, P0);
	f.sock.snd_una = P0 - 300;
	f.verdict = H_PASS;
	f.clones = 1;
	tcf = f;
	if (h_xdp()) {
		h_fix_to_tc(&f);
		if (!h_fix_run(&f, NULL) || !h_chain_fix(&tcf, &r))
			return;
	} else if (!h_fix_run(&f, &r)) {
		return;
	}
	w = h_want_resp(&tcf, P0, H_RESP_204);
	if (!h_check_clone(&r, &w))
		return;
	check_pure_ack(&r, &tcf.in, S0, P0, macs);
	if (h_ok() && !macs)
		check_first_flow(&tcf.in, S0, P0, strlen(H_RESP_204), 0);
}

static void t_piggyback_v4(void)
{
	piggyback(4, false);
}

static void t_piggyback_v6(void)
{
	piggyback(6, false);
}

static void t_piggyback_macs(void)
{
	piggyback(4, true);
}

/* A zero option length: Linux stops parsing the options and accepts the
 * segment, so the app must get this request. Committing the splice and
 * only then failing to read the TS option drops it -- and, through
 * pf_reanswer, every retransmission of it. */
static void t_bad_options(void)
{
	static const __u8 bad[4] = { 1, 1, 3, 0 };
	__u8 in[PKT_MAX];
	size_t n;
	struct h_fix f;
	struct h_run r, r2;
	struct pf_flow fl;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	pkt_opt_raw(&f.in, bad, sizeof(bad));
	n = pkt_build(&f.in, in, sizeof(in));
	h_set_sock(&f.sock);
	if (!h_run(h_in, in, n, NULL, &r))
		return;
	if (r.verdict == H_DROP) {
		if (!h_run(h_in, in, n, NULL, &r2))
			return;
		H_CHECK(false, "BUG: request dropped after its splice was committed (splice in "
			"pf_flows: %s, pass_error %+lld); its retransmission: retval %d, "
			"retx_dropped %+lld", h_flow(&f.in, &fl) && fl.splices ? "yes" : "no",
			r.delta[PF_STAT_PASS_ERROR], r2.retval, r2.delta[PF_STAT_RETX_DROPPED]);
		return;
	}
	H_CHECK(r.verdict == H_PASS, "retval %d, want PASS", r.retval);
	H_CHECK(r.out_len == n && !memcmp(r.out, in, n), "request changed");
	H_EQ(r.delta[PF_STAT_PASS_TCP_OPT], 1, "pass_tcp_opt");
	H_CHECK(!h_flow(&f.in, &fl) || !fl.splices, "a splice was committed");
}

void test_answer(void)
{
	h_case("answer_ipv4_allowed_204", t_answer_v4);
	h_case("answer_ipv6_allowed_204_seq_wrap", t_answer_v6);
	h_case("answer_date_header_double_buffer", t_answer_date);
	h_case("answer_wildcard_origin_acrh_echo", t_answer_wildcard_origin);
	h_case("answer_no_timestamps", t_answer_no_timestamps);
	h_case("answer_reject_403_ipv6", t_answer_reject_403);
	h_case("answer_tsval_request_tsecr_when_later", t_tsval_from_request);
	h_case("answer_tsval_request_socket_no_clock", t_tsval_no_clock);
	h_case("answer_closing_socket_passed", t_closing_socket_passed);
	h_case("answer_tsval_serial_wrap", t_tsval_wrap);
	h_case("answer_piggybacked_ack_clone_ipv4", t_piggyback_v4);
	h_case("answer_piggybacked_ack_clone_ipv6", t_piggyback_v6);
	h_case("answer_piggybacked_ack_pure_ack_keeps_macs", t_piggyback_macs);
	h_case("answer_bad_tcp_options_not_blackholed", t_bad_options);
	h_case("forward_denied_origin", t_forward_denied_origin);
	h_case("forward_denied_header", t_forward_denied_header);
	h_case("forward_no_rule", t_forward_no_rule);
}
