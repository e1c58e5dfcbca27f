/* test_adv_http.c -- BPF tier: hostile and odd HTTP in a single-segment preflight (both modes). */
/*
 * Each row is a whole request payload in one well-formed segment on a
 * connection preflightd could splice (valid socket, nothing pending), so
 * only the HTTP decides: answered with exactly resp, or passed to the app
 * unchanged with exactly the one counter stat (and no flow entry).
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"

#define S0 1000000u
#define P0 5000000u

#define VARY PF_EXPECT_VARY
#define LINE1 "OPTIONS /api/items/7 HTTP/1.1\r\n"
#define HOST "Host: api.example.com\r\n"
#define ORIG "Origin: " H_ORIGIN "\r\n"
#define ACRM "Access-Control-Request-Method: PUT\r\n"
#define HEAD LINE1 HOST ORIG ACRM
#define PRE HEAD "\r\n"

/* The 204 for HEAD without request headers, and the 403 of /reject/. */
#define R204 \
	"HTTP/1.1 204 No Content\r\n" \
	"Access-Control-Allow-Origin: " H_ORIGIN "\r\n" \
	"Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n" \
	"Access-Control-Allow-Credentials: true\r\n" \
	"Access-Control-Max-Age: 600\r\n" VARY "\r\n"
#define R403 "HTTP/1.1 403 Forbidden\r\n" VARY "Content-Length: 0\r\n\r\n"

struct hcase {
	const char *name;
	const char *req;
	size_t len;            /* 0: strlen(req) */
	int stat;              /* PF_STAT_* of the outcome */
	const char *resp;      /* for ANSWERED/REJECTED: the exact response */
};

/* A literal with its length (it may contain NUL bytes). */
#define L(s) (s), sizeof(s) - 1

#define ST(x) PF_STAT_##x

/* Requests built at start (too long for literals). */
static char big_ok[1400], big_long[2100], huge_origin[600], huge_host[600], huge_acrm[600],
	    huge_path[1300], at_2045[2100], at_2046[2100], at_2047[2100], at_2048[2100], at_2049[2100];

static struct hcase cases[] = {
	/* ---- huge and empty values ---- */
	{ "value of 1023 bytes answered", big_ok, 0, ST(ANSWERED), R204 },
	{ "value of 1900 bytes (a Cookie-sized line) answered", big_long, 0, ST(ANSWERED), R204 },
	{ "request of 2045 bytes answered", at_2045, 0, ST(ANSWERED), R204 },
	{ "request of 2046 bytes answered", at_2046, 0, ST(ANSWERED), R204 },
	{ "request of 2047 bytes answered", at_2047, 0, ST(ANSWERED), R204 },
	{ "request of 2048 bytes answered", at_2048, 0, ST(ANSWERED), R204 },
	{ "request of 2049 bytes: too long", at_2049, 0, ST(PASS_TOO_LONG), NULL },
	{ "Origin of 300 bytes: forwarded", huge_origin, 0, ST(FWD_DENIED), NULL },
	{ "Host of 300 bytes: no rule", huge_host, 0, ST(FWD_NO_RULE), NULL },
	{ "ACRM of 300 bytes: forwarded", huge_acrm, 0, ST(FWD_DENIED), NULL },
	{ "request-target of 1100 bytes answered", huge_path, 0, ST(ANSWERED), R204 },
	{ "empty Origin: forwarded", L(LINE1 HOST "Origin:\r\n" ACRM "\r\n"), ST(FWD_DENIED),
	  NULL },
	{ "blank Origin: forwarded", L(LINE1 HOST "Origin:     \r\n" ACRM "\r\n"),
	  ST(FWD_DENIED), NULL },
	{ "empty ACRM: forwarded", L(LINE1 HOST ORIG "Access-Control-Request-Method:\r\n\r\n"),
	  ST(FWD_DENIED), NULL },
	{ "empty Host: no rule", L(LINE1 "Host:\r\n" ORIG ACRM "\r\n"), ST(FWD_NO_RULE), NULL },
	{ "empty ACRH: no Allow-Headers",
	  L(HEAD "Access-Control-Request-Headers:\r\n\r\n"), ST(ANSWERED), R204 },
	{ "empty unrelated header", L(HEAD "X-Empty:\r\n\r\n"), ST(ANSWERED), R204 },
	{ "17 blanks before a value",
	  L(LINE1 HOST "Origin:                 " H_ORIGIN "\r\n" ACRM "\r\n"),
	  ST(PASS_BAD_REQUEST), NULL },
	/* ---- NUL, controls, non-ASCII ---- */
	{ "NUL in a value", L(HEAD "Accept: a\0b\r\n\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "NUL in the Origin", L(LINE1 HOST "Origin: https://app\0example.com\r\n" ACRM "\r\n"),
	  ST(PASS_BAD_REQUEST), NULL },
	{ "NUL in the request-target",
	  L("OPTIONS /api/\0items HTTP/1.1\r\n" HOST ORIG ACRM "\r\n"), ST(PASS_BAD_REQUEST),
	  NULL },
	{ "NUL in a header name", L(HEAD "X-A\0b: c\r\n\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "NUL after the request", L(PRE "\0"), ST(PASS_PIPELINED), NULL },
	{ "DEL in a value", L(HEAD "Accept: a\x7f\r\n\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "bare LF line ending", L(LINE1 HOST "Origin: " H_ORIGIN "\n" ACRM "\r\n"),
	  ST(PASS_BAD_REQUEST), NULL },
	{ "bare CR in a value", L(HEAD "Accept: a\rb\r\n\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "tab in a value", L(HEAD "Accept: a\tb\r\n\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "obs-text in an unrelated value", L(HEAD "X-Name: caf\xc3\xa9\r\n\r\n"), ST(ANSWERED),
	  R204 },
	{ "UTF-8 in the Origin: forwarded",
	  L(LINE1 HOST "Origin: https://\xc3\xa4pp.example.com\r\n" ACRM "\r\n"), ST(FWD_DENIED),
	  NULL },
	{ "UTF-8 in the Host: no rule", L(LINE1 "Host: \xc3\xa4pi.example.com\r\n" ORIG ACRM
					   "\r\n"), ST(FWD_NO_RULE), NULL },
	{ "header names in odd case",
	  L(LINE1 "hOST: api.example.com\r\noRiGiN: " H_ORIGIN "\r\n"
	    "ACCESS-CONTROL-REQUEST-METHOD: PUT\r\n\r\n"), ST(ANSWERED), R204 },
	/* ---- duplicates and folding ---- */
	{ "duplicate Origin", L(HEAD ORIG "\r\n"), ST(PASS_DUP_HEADER), NULL },
	{ "duplicate Origin, other case", L(HEAD "origin: " H_ORIGIN "\r\n\r\n"),
	  ST(PASS_DUP_HEADER), NULL },
	{ "duplicate ACRM", L(HEAD "Access-Control-Request-Method: DELETE\r\n\r\n"),
	  ST(PASS_DUP_HEADER), NULL },
	{ "duplicate Host", L(HEAD "Host: other.test\r\n\r\n"), ST(PASS_DUP_HEADER), NULL },
	{ "duplicate ACRH", L(HEAD "Access-Control-Request-Headers: a\r\n"
			      "Access-Control-Request-Headers: b\r\n\r\n"), ST(PASS_DUP_HEADER),
	  NULL },
	{ "duplicate unrelated header", L(HEAD "Accept: a\r\nAccept: b\r\n\r\n"), ST(ANSWERED),
	  R204 },
	{ "obs-fold with SP", L(HEAD "Accept: a,\r\n b\r\n\r\n"), ST(PASS_OBS_FOLD), NULL },
	{ "obs-fold with HT", L(HEAD "Accept: a,\r\n\tb\r\n\r\n"), ST(PASS_OBS_FOLD), NULL },
	{ "obs-fold of the Origin", L(LINE1 HOST "Origin:\r\n " H_ORIGIN "\r\n" ACRM "\r\n"),
	  ST(PASS_OBS_FOLD), NULL },
	{ "blank before the first header", L(LINE1 " " HOST ORIG ACRM "\r\n"),
	  ST(PASS_OBS_FOLD), NULL },
	/* ---- origins that are not serialized origins ---- */
	{ "Origin with userinfo: forwarded",
	  L(LINE1 HOST "Origin: https://user@app.example.com\r\n" ACRM "\r\n"), ST(FWD_DENIED),
	  NULL },
	{ "Origin with a path: forwarded",
	  L(LINE1 HOST "Origin: https://app.example.com/x\r\n" ACRM "\r\n"), ST(FWD_DENIED),
	  NULL },
	{ "Origin with a trailing slash: forwarded",
	  L(LINE1 HOST "Origin: https://app.example.com/\r\n" ACRM "\r\n"), ST(FWD_DENIED),
	  NULL },
	{ "Origin with userinfo under a reject rule: 403",
	  L("OPTIONS /reject/x HTTP/1.1\r\n" HOST "Origin: https://app.example.com@evil.test\r\n"
	    ACRM "\r\n"), ST(REJECTED), R403 },
	/* ---- versions and request lines ---- */
	{ "HTTP/0.9", L("OPTIONS /\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "HTTP/1.0", L("OPTIONS /api/items/7 HTTP/1.0\r\n" HOST ORIG ACRM "\r\n"),
	  ST(PASS_HTTP_VERSION), NULL },
	{ "HTTP/1.2", L("OPTIONS /api/items/7 HTTP/1.2\r\n" HOST ORIG ACRM "\r\n"),
	  ST(PASS_HTTP_VERSION), NULL },
	{ "HTTP/2.0 in a request line", L("OPTIONS /api/items/7 HTTP/2.0\r\n" HOST ORIG ACRM
					  "\r\n"), ST(PASS_HTTP_VERSION), NULL },
	{ "HTTP/2 connection preface", L("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	  ST(PASS_NOT_OPTIONS), NULL },
	{ "lower-case method", L("options /api/items/7 HTTP/1.1\r\n" HOST ORIG ACRM "\r\n"),
	  ST(PASS_NOT_OPTIONS), NULL },
	{ "lower-case protocol", L("OPTIONS /api/items/7 http/1.1\r\n" HOST ORIG ACRM "\r\n"),
	  ST(PASS_BAD_REQUEST), NULL },
	{ "blank after the version", L("OPTIONS /api/items/7 HTTP/1.1 \r\n" HOST ORIG ACRM
				       "\r\n"), ST(PASS_HTTP_VERSION), NULL },
	{ "two blanks after OPTIONS", L("OPTIONS  /api/items/7 HTTP/1.1\r\n" HOST ORIG ACRM
					"\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "asterisk-form", L("OPTIONS * HTTP/1.1\r\n" HOST ORIG ACRM "\r\n"),
	  ST(PASS_BAD_REQUEST), NULL },
	{ "absolute-form", L("OPTIONS http://api.example.com/x HTTP/1.1\r\n" HOST ORIG ACRM
			     "\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "Upgrade: h2c", L(HEAD "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
			    "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"),
	  ST(PASS_HTTP_VERSION), NULL },
	{ "Connection: keep-alive, close", L(HEAD "Connection: keep-alive, close\r\n\r\n"),
	  ST(PASS_CONN_CLOSE), NULL },
	/* ---- pipelining ---- */
	{ "pipelined GET", L(PRE "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n"),
	  ST(PASS_PIPELINED), NULL },
	{ "two preflights in one segment", L(PRE PRE), ST(PASS_PIPELINED), NULL },
	{ "extra CRLF behind the request", L(PRE "\r\n"), ST(PASS_PIPELINED), NULL },
	{ "one byte behind the request", L(PRE "G"), ST(PASS_PIPELINED), NULL },
	/* ---- request smuggling shapes ---- */
	{ "Content-Length and Transfer-Encoding",
	  L(HEAD "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"), ST(PASS_BODY),
	  NULL },
	{ "Transfer-Encoding and Content-Length",
	  L(HEAD "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n"),
	  ST(PASS_BODY), NULL },
	{ "two Content-Length: 0 and 5", L(HEAD "Content-Length: 0\r\nContent-Length: 5\r\n\r\n"),
	  ST(PASS_BODY), NULL },
	{ "two Content-Length: 5 and 0", L(HEAD "Content-Length: 5\r\nContent-Length: 0\r\n\r\n"),
	  ST(PASS_BODY), NULL },
	/* RFC 9110 8.6 lets equal duplicates count as one, but nginx answers
	 * 400: the app must see what it would see without preflightd */
	{ "two Content-Length: 0", L(HEAD "Content-Length: 0\r\nContent-Length: 0\r\n\r\n"),
	  ST(PASS_DUP_HEADER), NULL },
	{ "Content-Length: 00", L(HEAD "Content-Length: 00\r\n\r\n"), ST(PASS_BODY), NULL },
	{ "Content-Length: 0 with trailing blanks", L(HEAD "Content-Length: 0  \r\n\r\n"),
	  ST(ANSWERED), R204 },
	{ "Content-Length: 0, 0", L(HEAD "Content-Length: 0, 0\r\n\r\n"), ST(PASS_BODY), NULL },
	{ "Transfer-Encoding: identity", L(HEAD "Transfer-Encoding: identity\r\n\r\n"),
	  ST(PASS_BODY), NULL },
	{ "\"Transfer-Encoding : chunked\" (blank before the colon)",
	  L(HEAD "Transfer-Encoding : chunked\r\n\r\n"), ST(PASS_BAD_REQUEST), NULL },
	{ "Transfer-Encoding folded onto another header",
	  L(HEAD "X-A: b\r\n Transfer-Encoding: chunked\r\n\r\n"), ST(PASS_OBS_FOLD), NULL },
};

/* Run one row in the current mode. */
static void run_row(const void *arg)
{
	const struct hcase *c = arg;
	size_t len = c->len ? c->len : strlen(c->req);
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	h_answer_fix(&f, 4, "", S0, P0);
	f.in.pay = c->req;
	f.in.paylen = (unsigned)len;
	memset(f.d, 0, sizeof(f.d));
	f.d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f.d[1] = (struct h_delta){ c->stat, 1 };
	if (c->resp) {
		f.d[2] = (struct h_delta)H_D(FLOW_CREATED, 1);
		f.d[3] = (struct h_delta)H_DEND;
		h_set_sock(&f.sock);
		if (!h_run_spec(h_in, &f.in, NULL, &r))
			return;
		if (r.verdict != H_TX && r.delta[PF_STAT_PASS_CSUM] && len >= PF_ANSWER_MAX - 2) {
			H_CHECK(false, "BUG: a valid %zu-byte request passed as a bad checksum: "
				"pf_verify_csum zero-pads at s->req[PF_M(n)], which wraps to "
				"s->req[0] for n >= 2046 and clears the request's first bytes "
				"before summing", len);
			return;
		}
		w = h_want_resp(&f, P0, c->resp);
		if (h_check_response(&r, &w))
			h_check_deltas(&r, f.d);
		return;
	}
	f.d[2] = (struct h_delta)H_DEND;
	f.verdict = H_PASS;
	f.unchanged = true;
	h_sock_not_first(&f.sock);
	if (h_fix_run(&f, NULL))
		H_EQ(h_flow_count(), 0, "flows in the table");
}

/* HEAD padded to exactly total bytes by two unrelated headers. */
static void pad_to(char *b, size_t total)
{
	size_t n = strlen(HEAD), v2 = total - n - 2 - 20 - 900;

	memcpy(b, HEAD "X-Pad1: ", n + 8);
	memset(b + n + 8, 'p', 900);
	memcpy(b + n + 908, "\r\nX-Pad2: ", 10);
	memset(b + n + 918, 'q', v2);
	memcpy(b + n + 918 + v2, "\r\n\r\n", 5);
}

/* Fill the long requests. */
static void build(void)
{
	int n;

	n = snprintf(big_ok, sizeof(big_ok), HEAD "X-Big: ");
	memset(big_ok + n, 'b', 1022);                   /* 1023 bytes after the colon */
	memcpy(big_ok + n + 1022, "\r\n\r\n", 5);
	n = snprintf(big_long, sizeof(big_long), HEAD "X-Big: ");
	memset(big_long + n, 'b', 1900);
	memcpy(big_long + n + 1900, "\r\n\r\n", 5);
	pad_to(at_2045, 2045);
	pad_to(at_2046, 2046);
	pad_to(at_2047, 2047);
	pad_to(at_2048, 2048);
	pad_to(at_2049, 2049);
	n = snprintf(huge_origin, sizeof(huge_origin), LINE1 HOST "Origin: https://");
	memset(huge_origin + n, 'a', 280);
	snprintf(huge_origin + n + 280, sizeof(huge_origin) - (size_t)n - 280,
		 ".example.com\r\n" ACRM "\r\n");
	n = snprintf(huge_host, sizeof(huge_host), LINE1 "Host: ");
	memset(huge_host + n, 'h', 288);
	snprintf(huge_host + n + 288, sizeof(huge_host) - (size_t)n - 288,
		 ".example.com\r\n" ORIG ACRM "\r\n");
	n = snprintf(huge_acrm, sizeof(huge_acrm), LINE1 HOST ORIG
		     "Access-Control-Request-Method: ");
	memset(huge_acrm + n, 'M', 300);
	memcpy(huge_acrm + n + 300, "\r\n\r\n", 5);
	n = snprintf(huge_path, sizeof(huge_path), "OPTIONS /");
	memset(huge_path + n, 'p', 1100);
	snprintf(huge_path + n + 1100, sizeof(huge_path) - (size_t)n - 1100,
		 " HTTP/1.1\r\n" HOST ORIG ACRM "\r\n");
}

void test_adv_http(void)
{
	static char names[sizeof(cases) / sizeof(cases[0])][160];
	size_t i;

	build();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(names[i], sizeof(names[i]), "http: %s", cases[i].name);
		h_case_p(names[i], run_row, &cases[i]);
	}
}
