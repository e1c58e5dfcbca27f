/* test_conformance.c -- BPF tier: CORS conformance through the datapath, exact bytes, TC and XDP. */
/*
 * The categories of tests/unit/test_match.c (which runs the same
 * parser/matcher/builder in userspace), here as real preflight packets
 * through pf_tc_ingress and pf_xdp_ingress with a valid socket mock:
 * origins (exact, wildcard, anchoring, scheme/port exactness, malformed),
 * methods (case, safelisted, forbidden, "*" with and without
 * credentials), request headers (case, list syntax, authorization and
 * "*", kernel limits), credentials, max-age, private network access, Vary,
 * on_deny, hosts, rule order and paths. The table is this file's own
 * (the unit table may change); both policies are compiled with
 * pf_policy_load_string + pf_policy_compile and installed into slot 1.
 *
 * Expected: the exact 204/403 payload (no Date header), or the request
 * passed unchanged with exactly its counter. The same bytes in both modes.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "../conformance_rules.h"

#define S0 1000000u
#define P0 5000000u

static const char main_yaml[] =
	"ports: [8080]\n"
	PF_CONF_RULES_0_10
	/* 11, 12: max-age bounds */
	"  - hosts: [age0.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [PUT]\n"
	"    max_age: 0\n"
	"  - hosts: [day.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [PATCH]\n"
	"    headers: [x-a]\n"
	"    credentials: true\n"
	"    max_age: 86400\n"
	"    private_network: true\n";

static const char paths_yaml[] =
	"ports: [8080]\n"
	PF_CONF_RULES_PATHS;

enum { P_MAIN, P_PATHS };

/* expected response pieces (S204, ACAO(), ..., T0-T10), APP and the
 * request-header values at the limits (CT16, H256, ...): ../conformance_rules.h */
#define T11 ACAM("PUT") MAXAGE("0") VARY "\r\n"
#define T12 ACAM("PATCH") ACAC MAXAGE("86400") VARY "\r\n"
#define TP  ACAM("PUT") VARY "\r\n"

#define H1027 H256 "," H256 "," H256 "," H256               /* 1027 bytes */

struct ccase {
	const char *name;
	int pol;
	const char *host;        /* NULL: api.example.com */
	const char *path;        /* NULL: /v1/x */
	const char *origin;
	const char *method;
	const char *acrh;        /* NULL: no header */
	const char *acrpn;       /* NULL: no header */
	int stat;                /* PF_STAT_* outcome */
	const char *resp;        /* ANSWERED/REJECTED: exact payload */
};

#define OK(r)     .stat = PF_STAT_ANSWERED, .resp = (r)
#define NO(r)     .stat = PF_STAT_REJECTED, .resp = (r)
#define FWD       .stat = PF_STAT_FWD_DENIED
#define NORULE    .stat = PF_STAT_FWD_NO_RULE
#define SLOWDOWN  .stat = PF_STAT_PASS_DAEMON_DOWN  /* the daemon's, not running */
#define UNNORM    .stat = PF_STAT_PASS_PATH_UNNORM
#define M         .method

static const struct ccase cases[] = {
	/* ---- origins ---- */
	{ "origin: exact", .origin = APP, M = "PUT", OK(S204 ACAO(APP) T0) },
	{ "origin: wildcard, one label", .origin = "https://a.example.com", M = "PUT",
	  OK(S204 ACAO("https://a.example.com") T0) },
	{ "origin: wildcard, two labels", .origin = "https://a.b.example.com", M = "PUT",
	  OK(S204 ACAO("https://a.b.example.com") T0) },
	{ "origin: wildcard, suffix repeated", .origin = "https://example.com.example.com",
	  M = "PUT", OK(S204 ACAO("https://example.com.example.com") T0) },
	{ "origin: wildcard never the apex", .origin = "https://example.com", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: wildcard anchored at the end", .origin = "https://example.com.evil.test",
	  M = "PUT", NO(REJ(VARY)) },
	{ "origin: wildcard needs the dot", .origin = "https://evilexample.com", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: wildcard, empty label", .origin = "https://.example.com", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: wildcard, scheme exact", .origin = "http://a.example.com", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: wildcard, port exact", .origin = "https://a.example.com:8443", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: wildcard with port", .origin = "https://a.ports.test:8443", M = "PUT",
	  OK(S204 ACAO("https://a.ports.test:8443") T0) },
	{ "origin: wildcard with port, port missing", .origin = "https://a.ports.test",
	  M = "PUT", NO(REJ(VARY)) },
	{ "origin: wildcard with port, longer port", .origin = "https://a.ports.test:84430",
	  M = "PUT", NO(REJ(VARY)) },
	{ "origin: wildcard, a colon before the suffix",
	  .origin = "https://evil.test:.example.com", M = "PUT", NO(REJ(VARY)) },
	{ "origin: wildcard with port, a port with dots",
	  .origin = "https://a.ports.test:1.ports.test:8443", M = "PUT", NO(REJ(VARY)) },
	{ "origin: wildcard, '_' in the subdomain", .origin = "https://my_app.example.com",
	  M = "PUT", OK(S204 ACAO("https://my_app.example.com") T0) },
	{ "origin: exact, with '_'", .origin = "https://my_app.foo.test", M = "PUT",
	  OK(S204 ACAO("https://my_app.foo.test") T0) },
	{ "origin: literal wildcard", .origin = "https://*.example.com", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: trailing slash", .origin = APP "/", M = "PUT", NO(REJ(VARY)) },
	{ "origin: with a path", .origin = "https://a.example.com/path", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: upper-case host", .origin = "https://APP.EXAMPLE.COM", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: null", .origin = "null", M = "PUT", NO(REJ(VARY)) },
	{ "origin: userinfo before a listed host", .origin = "https://evil.com@a.example.com",
	  M = "PUT", NO(REJ(VARY)) },
	{ "origin: listed origin plus a byte", .origin = "https://app.example.comm", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: shared suffix foo.com", .origin = "https://foo.com", M = "PUT",
	  OK(S204 ACAO("https://foo.com") T0) },
	{ "origin: shared suffix barfoo.com", .origin = "https://barfoo.com", M = "PUT",
	  NO(REJ(VARY)) },
	{ "origin: http with port", .origin = "http://localhost:3000", M = "PUT",
	  OK(S204 ACAO("http://localhost:3000") T0) },
	{ "origin: other port", .origin = "http://localhost:3001", M = "PUT", NO(REJ(VARY)) },
	{ "origin: other scheme", .origin = "https://localhost:3000", M = "PUT",
	  NO(REJ(VARY)) },
	/* ---- methods ---- */
	{ "method: listed", .origin = APP, M = "DELETE", OK(S204 ACAO(APP) T0) },
	{ "method: case-sensitive", .origin = APP, M = "put", NO(REJ(VARY)) },
	{ "method: unlisted", .origin = APP, M = "PATCH", NO(REJ(VARY)) },
	{ "method: safelisted GET", .origin = APP, M = "GET", OK(S204 ACAO(APP) T0) },
	{ "method: safelisted HEAD", .origin = APP, M = "HEAD", OK(S204 ACAO(APP) T0) },
	{ "method: safelisted POST", .origin = APP, M = "POST", OK(S204 ACAO(APP) T0) },
	{ "method: lower-case get not safelisted", .origin = APP, M = "get", NO(REJ(VARY)) },
	{ "method: CONNECT forbidden", .origin = APP, M = "CONNECT", NO(REJ(VARY)) },
	{ "method: trace forbidden in any case", .origin = APP, M = "trace", NO(REJ(VARY)) },
	{ "method: forbidden even with *", .host = "any.example.com", .origin = APP,
	  M = "TRACK", NO(REJ(VARY)) },
	{ "method: list with a comma", .origin = APP, M = "GET, DELETE", NO(REJ(VARY)) },
	{ "method: non-token byte", .origin = APP, M = "PU(T", NO(REJ(VARY)) },
	{ "method: * without credentials", .host = "any.example.com", .origin = APP,
	  M = "PATCH", OK(S204 ACAO("*") ACAM("*") T1) },
	{ "method: * with credentials echoes", .host = "cred.example.com", .origin = APP,
	  M = "PATCH", OK(S204 ACAO(APP) ACAM("PATCH") T2) },
	/* ---- request headers ---- */
	{ "headers: case-insensitive", .origin = APP, M = "PUT", .acrh = "Content-Type",
	  OK(S204 ACAO(APP) ACAH("Content-Type") T0) },
	{ "headers: blanks around commas", .origin = APP, M = "PUT",
	  .acrh = "content-type , x-request-id",
	  OK(S204 ACAO(APP) ACAH("content-type , x-request-id") T0) },
	{ "headers: empty elements", .origin = APP, M = "PUT", .acrh = ",,content-type,",
	  OK(S204 ACAO(APP) ACAH(",,content-type,") T0) },
	{ "headers: blank inside an element", .origin = APP, M = "PUT",
	  .acrh = "content-type x-request-id", NO(REJ(VARY)) },
	{ "headers: non-token byte", .origin = APP, M = "PUT", .acrh = "content-type,x(y",
	  NO(REJ(VARY)) },
	{ "headers: unknown denied", .origin = APP, M = "PUT",
	  .acrh = "content-type,x-evil,x-request-id", NO(REJ(VARY)) },
	{ "headers: authorization must be listed", .origin = APP, M = "PUT",
	  .acrh = "authorization", NO(REJ(VARY)) },
	{ "headers: only commas, no ACAH", .origin = APP, M = "PUT", .acrh = ",, ,",
	  OK(S204 ACAO(APP) T0) },
	{ "headers: a comma, then blanks past 8 bytes", .origin = APP, M = "PUT",
	  .acrh = "content-type ,          x-request-id",
	  OK(S204 ACAO(APP) ACAH("content-type ,          x-request-id") T0) },
	{ "headers: blanks past 8 bytes, then the comma", .origin = APP, M = "PUT",
	  .acrh = "content-type          , x-request-id",
	  OK(S204 ACAO(APP) ACAH("content-type          , x-request-id") T0) },
	{ "headers: blanks past 8 bytes, no comma", .origin = APP, M = "PUT",
	  .acrh = "content-type          x-request-id", NO(REJ(VARY)) },
	{ "headers: a name over 32 bytes, listed", .origin = APP, M = "PUT",
	  .acrh = "content-type, " PF_CONF_LONG_HDR ",x-request-id",
	  OK(S204 ACAO(APP) ACAH("content-type, " PF_CONF_LONG_HDR ",x-request-id") T0) },
	{ "headers: a name over 32 bytes, not listed", .origin = APP, M = "PUT",
	  .acrh = "content-type,x-a-very-long-header-name-over-32-bytes2", NO(REJ(VARY)) },
	{ "headers: 16 names", .origin = APP, M = "PUT", .acrh = CT16,
	  OK(S204 ACAO(APP) ACAH(CT16) T0) },
	{ "headers: 17 names, over the kernel limit", .origin = APP, M = "PUT",
	  .acrh = CT16 ",x-request-id", SLOWDOWN },
	{ "headers: 256-byte value", .origin = APP, M = "PUT", .acrh = H256,
	  OK(S204 ACAO(APP) ACAH(H256) T0) },
	{ "headers: 257-byte value, over the kernel limit", .origin = APP, M = "PUT",
	  .acrh = H257, SLOWDOWN },
	{ "headers: 1027-byte value, over the daemon's limit too", .origin = APP, M = "PUT",
	  .acrh = H1027, .stat = PF_STAT_PASS_ACRH_LIMIT },
	{ "headers: * without credentials", .host = "any.example.com",
	  .origin = "https://x.test", M = "PUT", .acrh = "x-foo,x-bar",
	  OK(S204 ACAO("*") ACAM("*") ACAH("*") T1) },
	{ "headers: * never covers Authorization", .host = "any.example.com",
	  .origin = "https://x.test", M = "PUT", .acrh = "x-foo, Authorization",
	  NO(REJ(VARY)) },
	{ "headers: * with credentials echoes", .host = "cred.example.com", .origin = APP,
	  M = "PUT", .acrh = "x-foo,content-type",
	  OK(S204 ACAO(APP) ACAM("PUT") ACAH("x-foo,content-type") T2) },
	{ "headers: * plus authorization listed echoes", .host = "authz.example.com",
	  .origin = "https://x.test", M = "GET", .acrh = "authorization,x-foo",
	  OK(S204 ACAO("*") ACAH("authorization,x-foo") T3) },
	{ "headers: * plus authorization, * otherwise", .host = "authz.example.com",
	  .origin = "https://x.test", M = "GET", .acrh = "x-foo",
	  OK(S204 ACAO("*") ACAH("*") T3) },
	/* ---- credentials and max-age ---- */
	{ "credentials: listed authorization", .host = "fwd.example.com", .origin = APP,
	  M = "PUT", .acrh = "Authorization", OK(S204 ACAO(APP) ACAH("Authorization") T5) },
	{ "credentials: origins * answers * for null", .host = "any.example.com",
	  .origin = "null", M = "PUT", OK(S204 ACAO("*") ACAM("*") T1) },
	{ "max-age: 0", .host = "age0.example.com", .origin = APP, M = "PUT",
	  OK(S204 ACAO(APP) T11) },
	{ "max-age: 86400 with credentials", .host = "day.example.com", .origin = APP,
	  M = "PATCH", .acrh = "X-A", OK(S204 ACAO(APP) ACAH("X-A") T12) },
	/* ---- private network access and Vary ---- */
	{ "pna: allowed", .host = "pna.example.com", .origin = APP, M = "PUT",
	  .acrpn = "true", OK(S204 ACAO(APP) ACAPN T4) },
	{ "pna: rule, not asked", .host = "pna.example.com", .origin = APP, M = "PUT",
	  OK(S204 ACAO(APP) T4) },
	{ "pna: denied method keeps the PNA Vary", .host = "pna.example.com", .origin = APP,
	  M = "DELETE", .acrpn = "true", NO(REJ(VARY)) },
	{ "pna: not allowed", .origin = APP, M = "PUT", .acrpn = "true", NO(REJ(VARY)) },
	{ "pna: false is not a PNA request", .origin = APP, M = "PUT", .acrpn = "false",
	  OK(S204 ACAO(APP) T0) },
	{ "pna: not allowed, forward", .host = "fwd.example.com", .origin = APP, M = "PUT",
	  .acrpn = "true", FWD },
	{ "pna: with credentials and headers", .host = "day.example.com", .origin = APP,
	  M = "PATCH", .acrpn = "true", OK(S204 ACAO(APP) ACAPN T12) },
	/* ---- on_deny: forward ---- */
	{ "forward: method", .host = "fwd.example.com", .origin = APP, M = "DELETE", FWD },
	{ "forward: header", .host = "fwd.example.com", .origin = APP, M = "PUT",
	  .acrh = "x-foo", FWD },
	{ "forward: origin", .host = "fwd.example.com", .origin = "https://a.example.com",
	  M = "PUT", FWD },
	/* ---- hosts ---- */
	{ "host: case-insensitive", .host = "API.Example.COM", .origin = APP, M = "PUT",
	  OK(S204 ACAO(APP) T0) },
	{ "host: port ignored", .host = "api.example.com:8443", .origin = APP, M = "PUT",
	  OK(S204 ACAO(APP) T0) },
	{ "host: IPv6 literal with port", .host = "[::1]:8080", .origin = "http://localhost:3000",
	  M = "PUT", OK(S204 ACAO("http://localhost:3000") T10) },
	{ "host: IPv4 literal with port", .host = "127.0.0.1:80",
	  .origin = "http://localhost:3000", M = "PUT",
	  OK(S204 ACAO("http://localhost:3000") T10) },
	{ "host: one trailing dot", .host = "api.example.com.", .origin = APP, M = "PUT",
	  OK(S204 ACAO(APP) T0) },
	{ "host: trailing dot and port", .host = "api.example.com.:8443", .origin = APP,
	  M = "PUT", OK(S204 ACAO(APP) T0) },
	{ "host: two trailing dots", .host = "api.example.com..", .origin = APP, M = "PUT",
	  NORULE },
	{ "host: unlisted", .host = "other.example.com", .origin = APP, M = "PUT", NORULE },
	{ "host: listed host as a prefix", .host = "api.example.com.evil.test", .origin = APP,
	  M = "PUT", NORULE },
	{ "host: unbracketed IPv6", .host = "::1", .origin = "http://localhost:3000", M = "PUT",
	  NORULE },
	/* ---- rule order ---- */
	{ "order: first rule listing the origin", .host = "multi.example.com",
	  .origin = "https://a.example.com", M = "PUT",
	  OK(S204 ACAO("https://a.example.com") T6) },
	{ "order: deciding rule denies, next not tried", .host = "multi.example.com",
	  .origin = "https://a.example.com", M = "DELETE", FWD },
	{ "order: rules not listing the origin skipped", .host = "multi.example.com",
	  .origin = "https://b.example.com", M = "DELETE",
	  OK(S204 ACAO("https://b.example.com") T7) },
	{ "order: unlisted origin, first applicable (forward)", .host = "multi.example.com",
	  .origin = "https://c.example.com", M = "PUT", FWD },
	{ "order: unlisted origin, first applicable (reject)", .host = "multi2.example.com",
	  .origin = "https://c.example.com", M = "PUT", NO(REJ(VARY)) },
	{ "order: second rule allows", .host = "multi2.example.com",
	  .origin = "https://b.example.com", M = "PUT",
	  OK(S204 ACAO("https://b.example.com") T9) },
	/* ---- paths ---- */
	{ "path: prefix", .pol = P_PATHS, .origin = APP, M = "PUT", OK(S204 ACAO(APP) TP) },
	{ "path: second prefix", .pol = P_PATHS, .path = "/v2/items/3", .origin = APP,
	  M = "PUT", OK(S204 ACAO(APP) TP) },
	{ "path: with a query", .pol = P_PATHS, .path = "/v1/x?q=/../", .origin = APP,
	  M = "PUT", OK(S204 ACAO(APP) TP) },
	{ "path: shorter than the prefix", .pol = P_PATHS, .path = "/v1", .origin = APP,
	  M = "PUT", NORULE },
	{ "path: case-sensitive", .pol = P_PATHS, .path = "/V1/x", .origin = APP, M = "PUT",
	  NORULE },
	{ "path: %2e punted", .pol = P_PATHS, .path = "/v1/%2e%2e/admin", .origin = APP,
	  M = "PUT", UNNORM },
	{ "path: // punted", .pol = P_PATHS, .path = "/v1//x", .origin = APP, M = "PUT",
	  UNNORM },
	{ "path: /../ punted", .pol = P_PATHS, .path = "/public/../v1/x", .origin = APP,
	  M = "PUT", UNNORM },
	{ "path: rule with origins *", .pol = P_PATHS, .path = "/public/a",
	  .origin = "https://x.test", M = "PUT", OK(S204 ACAO("*") TP) },
	{ "path: rule denies the origin", .pol = P_PATHS, .origin = "https://x.test",
	  M = "PUT", NO(REJ(VARY)) },
	{ "path: no path rules, unnormalized path answered", .path = "/a/../%2e/b",
	  .origin = APP, M = "PUT", OK(S204 ACAO(APP) T0) },
};

/* The preflight of case c (like tests/unit/test_match.c). */
static int request(const struct ccase *c, char *buf, size_t cap)
{
	return snprintf(buf, cap,
			"OPTIONS %s HTTP/1.1\r\n"
			"Host: %s\r\n"
			"Origin: %s\r\n"
			"Access-Control-Request-Method: %s\r\n"
			"%s%s%s"
			"%s%s%s"
			"\r\n",
			c->path ? c->path : "/v1/x", c->host ? c->host : "api.example.com",
			c->origin, c->method,
			c->acrh ? "Access-Control-Request-Headers: " : "", c->acrh ? c->acrh : "",
			c->acrh ? "\r\n" : "",
			c->acrpn ? "Access-Control-Request-Private-Network: " : "",
			c->acrpn ? c->acrpn : "", c->acrpn ? "\r\n" : "");
}

/* Case c through the current mode's ingress, IPv4 or IPv6 (alternating
 * by table row), with date (or NULL) in the Date header cache. */
static void run_one(const struct ccase *c, int family, const char *date, const char *resp)
{
	static char req[PF_REQ_BUF];
	struct h_fix f;
	struct h_run r;
	struct h_want w;
	int n = request(c, req, sizeof(req));

	if (!H_CHECK(n > 0 && n < PF_REQ_MAX, "test bug: request of %d bytes", n))
		return;
	h_use_policy(c->pol == P_PATHS ? paths_yaml : main_yaml);
	if (date) {
		memcpy(h_cfg()->date[1], date, PF_DATE_LEN);
		h_cfg()->date_idx = 1;
		h_cfg()->date_valid = 1;
	}
	h_answer_fix(&f, family, req, S0, P0);
	memset(f.d, 0, sizeof(f.d));
	f.d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f.d[1] = (struct h_delta){ c->stat, 1 };
	if (c->resp) {
		f.d[2] = (struct h_delta)H_D(FLOW_CREATED, 1);
		f.d[3] = (struct h_delta)H_DEND;
		if (!h_fix_run(&f, &r))
			return;
		w = h_want_resp(&f, P0, resp);
		h_check_response(&r, &w);
		return;
	}
	f.d[2] = (struct h_delta)H_DEND;
	f.verdict = H_PASS;
	f.unchanged = true;
	if (c->stat == PF_STAT_PASS_DAEMON_DOWN) {
		/* a punt is only considered for a request the kernel could
		 * answer: here the connection's first, followed from then on */
		f.d[2] = (struct h_delta)H_D(FLOW_CREATED, 1);
		f.d[3] = (struct h_delta)H_DEND;
		h_fix_run(&f, NULL);
		return;
	}
	h_sock_not_first(&f.sock);
	if (h_fix_run(&f, NULL))
		H_EQ(h_flow_count(), 0, "flows in the table");
}

static void run_row(const void *arg)
{
	const struct ccase *c = arg;

	run_one(c, (c - cases) & 1 ? 6 : 4, NULL, c->resp);
}

/* With the Date cache set, "Date: ..." follows the status line of a 204
 * and of a 403. */
static void t_date_204(void)
{
	run_one(&cases[0], 4, "Sun, 06 Nov 1994 08:49:37 GMT",
		S204 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" ACAO(APP) T0);
}

static void t_date_403(void)
{
	run_one(&cases[4], 6, "Sun, 06 Nov 1994 08:49:37 GMT",
		S403 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" VARY "Content-Length: 0\r\n\r\n");
}

void test_conformance(void)
{
	static char names[sizeof(cases) / sizeof(cases[0])][128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(names[i], sizeof(names[i]), "cors: %s", cases[i].name);
		h_case_p(names[i], run_row, &cases[i]);
	}
	h_case("cors: date header on a 204", t_date_204);
	h_case("cors: date header on a 403", t_date_403);
}
