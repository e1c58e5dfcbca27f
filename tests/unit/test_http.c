/*
 * test_http.c -- unit tests of the preflight parser (include/pf_http.h),
 * the very code the datapath runs, compiled by gcc: every pf_parse result
 * code, exact slices, value trimming, case-insensitive names, path flags,
 * the kernel limits, and every cut of a valid request (INCOMPLETE).
 *
 * Every request is parsed three times, with the bytes after len filled
 * with NUL, with "\r\n" pairs and with LF: the result must not depend on
 * them (the word scans read up to 8 bytes past len).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../include/pf_http.h"

/* ---- request pieces ---- */

#define RL      "OPTIONS /v1/items HTTP/1.1\r\n"
#define HOST    "Host: api.example.com\r\n"
#define ORIGIN  "Origin: https://app.example.com\r\n"
#define ACRM    "Access-Control-Request-Method: PUT\r\n"
#define ACRH    "Access-Control-Request-Headers: content-type\r\n"
#define ACRPN   "Access-Control-Request-Private-Network: true\r\n"
#define END     "\r\n"
/* A valid preflight without its final blank line. */
#define BASE    RL HOST ORIGIN ACRM
#define PRE(path) "OPTIONS " path " HTTP/1.1\r\n" HOST ORIGIN ACRM END

#define CHROMIUM \
	"OPTIONS /v1/items HTTP/1.1\r\n" \
	"Host: api.example.com\r\n" \
	"Connection: keep-alive\r\n" \
	"Accept: */*\r\n" \
	"Access-Control-Request-Method: PUT\r\n" \
	"Access-Control-Request-Headers: content-type,x-request-id\r\n" \
	"Origin: https://app.example.com\r\n" \
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 " \
	"(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" \
	"Sec-Fetch-Mode: cors\r\n" \
	"Sec-Fetch-Site: same-site\r\n" \
	"Sec-Fetch-Dest: empty\r\n" \
	"Referer: https://app.example.com/dashboard?tab=1\r\n" \
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" \
	"Accept-Language: en-US,en;q=0.9\r\n" \
	"\r\n"

#define CHROMIUM_PNA \
	"OPTIONS /api/status HTTP/1.1\r\n" \
	"Host: 192.168.1.10:8080\r\n" \
	"Connection: keep-alive\r\n" \
	"Accept: */*\r\n" \
	"Access-Control-Request-Method: GET\r\n" \
	"Access-Control-Request-Private-Network: true\r\n" \
	"Origin: https://app.example.com\r\n" \
	"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) " \
	"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" \
	"Sec-Fetch-Mode: cors\r\n" \
	"Sec-Fetch-Site: cross-site\r\n" \
	"Sec-Fetch-Dest: empty\r\n" \
	"Referer: https://app.example.com/\r\n" \
	"Accept-Encoding: gzip, deflate, br\r\n" \
	"Accept-Language: en-GB,en;q=0.9\r\n" \
	"\r\n"

#define FIREFOX \
	"OPTIONS /v1/items/42?expand=owner HTTP/1.1\r\n" \
	"Host: api.example.com:8080\r\n" \
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) " \
	"Gecko/20100101 Firefox/125.0\r\n" \
	"Accept: */*\r\n" \
	"Accept-Language: en-US,en;q=0.5\r\n" \
	"Accept-Encoding: gzip, deflate, br\r\n" \
	"Access-Control-Request-Method: DELETE\r\n" \
	"Access-Control-Request-Headers: authorization,x-request-id\r\n" \
	"Referer: https://app.example.com/\r\n" \
	"Origin: https://app.example.com\r\n" \
	"Connection: keep-alive\r\n" \
	"Sec-Fetch-Dest: empty\r\n" \
	"Sec-Fetch-Mode: cors\r\n" \
	"Sec-Fetch-Site: same-site\r\n" \
	"Priority: u=4\r\n" \
	"Pragma: no-cache\r\n" \
	"Cache-Control: no-cache\r\n" \
	"\r\n"

#define CURL \
	"OPTIONS /x HTTP/1.1\r\n" \
	"Host: localhost:8080\r\n" \
	"User-Agent: curl/7.88.1\r\n" \
	"Accept: */*\r\n" \
	"Origin: http://localhost:3000\r\n" \
	"Access-Control-Request-Method: POST\r\n" \
	"\r\n"

/* ---- one case ---- */

struct http_case {
	const char *name;
	const char *req;
	size_t len;
	int res;                 /* expected pf_parse result */
	/* PF_P_OK only: expected slice contents; NULL: header absent */
	const char *path, *host, *origin, *acrm, *acrh, *acrpn;
	__u16 flags;             /* expected r.flags (PF_P_OK only) */
};

/* Request bytes and their length (NULs inside included). */
#define R(s) (s), sizeof(s) - 1

/* Bad/other results: no slices checked. */
#define FAIL(name, req, res) { name, R(req), res, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/* Path-flag case: BASE with another path, otherwise the same slices. */
#define PATHC(name, p, fl) { name, R(PRE(p)), PF_P_OK, p, "api.example.com", \
	"https://app.example.com", "PUT", NULL, NULL, fl }

#define UNNORM PF_REQF_PATH_UNNORM

static const struct http_case cases[] = {
	/* ---- valid preflights ---- */
	{ "chromium", R(CHROMIUM), PF_P_OK, "/v1/items", "api.example.com",
	  "https://app.example.com", "PUT", "content-type,x-request-id", NULL, 0 },
	{ "chromium private network", R(CHROMIUM_PNA), PF_P_OK, "/api/status",
	  "192.168.1.10:8080", "https://app.example.com", "GET", NULL, "true", 0 },
	{ "firefox", R(FIREFOX), PF_P_OK, "/v1/items/42?expand=owner",
	  "api.example.com:8080", "https://app.example.com", "DELETE",
	  "authorization,x-request-id", NULL, 0 },
	{ "curl", R(CURL), PF_P_OK, "/x", "localhost:8080",
	  "http://localhost:3000", "POST", NULL, NULL, 0 },
	{ "minimal, other header order",
	  R("OPTIONS / HTTP/1.1\r\nOrigin: https://a.test\r\n"
	    "Access-Control-Request-Method: PATCH\r\nHost: a.test\r\n\r\n"),
	  PF_P_OK, "/", "a.test", "https://a.test", "PATCH", NULL, NULL, 0 },
	{ "OWS trimmed on both sides",
	  R(RL "Host:api.example.com\r\n"
	    "Origin:   https://app.example.com   \r\n"
	    "Access-Control-Request-Method:  PUT \r\n"
	    "Access-Control-Request-Headers: content-type , x-a  \r\n" END),
	  PF_P_OK, "/v1/items", "api.example.com", "https://app.example.com",
	  "PUT", "content-type , x-a", NULL, 0 },
	{ "empty ACRH value is seen and empty",
	  R(BASE "Access-Control-Request-Headers:\r\n" END), PF_P_OK,
	  "/v1/items", "api.example.com", "https://app.example.com", "PUT", "",
	  NULL, 0 },
	{ "blank ACRH value trims to empty",
	  R(BASE "Access-Control-Request-Headers:    \r\n" END), PF_P_OK,
	  "/v1/items", "api.example.com", "https://app.example.com", "PUT", "",
	  NULL, 0 },
	{ "header names are case-insensitive",
	  R(RL "hOsT: api.example.com\r\nORIGIN: https://app.example.com\r\n"
	    "access-control-request-METHOD: PUT\r\n"
	    "ACCESS-CONTROL-REQUEST-HEADERS: X-A\r\n"
	    "Access-Control-Request-Private-NETWORK: true\r\n" END),
	  PF_P_OK, "/v1/items", "api.example.com", "https://app.example.com",
	  "PUT", "X-A", "true", 0 },
	{ "Content-Length: 0 is no body",
	  R(BASE "Content-Length: 0\r\n" END), PF_P_OK, "/v1/items",
	  "api.example.com", "https://app.example.com", "PUT", NULL, NULL, 0 },
	{ "Connection: keep-alive",
	  R(BASE "Connection: keep-alive\r\n" END), PF_P_OK, "/v1/items",
	  "api.example.com", "https://app.example.com", "PUT", NULL, NULL, 0 },
	{ "Connection: keep-alive, then a line starting with 'C'",
	  R(BASE "Connection: keep-alive\r\nClose: 1\r\n" END), PF_P_OK, "/v1/items",
	  "api.example.com", "https://app.example.com", "PUT", NULL, NULL, 0 },
	{ "obs-text (>= 0x80) allowed in values",
	  R(RL HOST "Origin: https://caf\xc3\xa9.test\r\n" ACRM
	    "User-Agent: \x80\xff caf\xc3\xa9\r\n" END),
	  PF_P_OK, "/v1/items", "api.example.com", "https://caf\xc3\xa9.test",
	  "PUT", NULL, NULL, 0 },
	{ "unknown headers with odd tchar names",
	  R(BASE "X-!#$%&'*+-.^_`|~0: v\r\n" END), PF_P_OK, "/v1/items",
	  "api.example.com", "https://app.example.com", "PUT", NULL, NULL, 0 },
	{ "empty unknown header value", R(BASE "X-Empty:\r\n" END), PF_P_OK,
	  "/v1/items", "api.example.com", "https://app.example.com", "PUT",
	  NULL, NULL, 0 },

	/* ---- path flags (still PF_P_OK) ---- */
	PATHC("path /", "/", 0),
	PATHC("dots inside segments are normal", "/v1/a.b/c..d/.well-known/x", 0),
	PATHC("query may hold /../", "/v1/items?x=/../", 0),
	PATHC("query may hold % and //", "/v1/items?u=http%3A//x", 0),
	PATHC("%2e is unnormalized", "/v1/%2e%2e/admin", UNNORM),
	PATHC("%20 is unnormalized", "/v1/a%20b", UNNORM),
	PATHC("// is unnormalized", "/v1//admin", UNNORM),
	PATHC("/./ is unnormalized", "/v1/./admin", UNNORM),
	PATHC("/../ is unnormalized", "/v1/../admin", UNNORM),
	PATHC("backslash is unnormalized", "/v1\\..\\admin", UNNORM),
	PATHC("trailing /. is unnormalized", "/v1/.", UNNORM),
	PATHC("trailing /.. is unnormalized", "/v1/..", UNNORM),
	PATHC("/.. before the query is unnormalized", "/v1/..?x=1", UNNORM),
	PATHC("leading // is unnormalized", "//evil.test/v1", UNNORM),

	/* ---- NOT_OPTIONS ---- */
	FAIL("GET", "GET / HTTP/1.1\r\n" HOST ORIGIN ACRM END, PF_P_NOT_OPTIONS),
	FAIL("OPTION without S", "OPTION / HTTP/1.1\r\n" HOST ORIGIN ACRM END,
	     PF_P_NOT_OPTIONS),
	FAIL("lower-case options", "options / HTTP/1.1\r\n" HOST ORIGIN ACRM END,
	     PF_P_NOT_OPTIONS),
	FAIL("OPTIONSX", "OPTIONSX / HTTP/1.1\r\n" HOST ORIGIN ACRM END,
	     PF_P_NOT_OPTIONS),
	FAIL("leading space", " OPTIONS / HTTP/1.1\r\n" HOST ORIGIN ACRM END,
	     PF_P_NOT_OPTIONS),
	FAIL("7 bytes", "OPTIONS", PF_P_NOT_OPTIONS),
	FAIL("empty", "", PF_P_NOT_OPTIONS),

	/* ---- PLAIN_OPTIONS ---- */
	FAIL("no ACRM", RL HOST ORIGIN END, PF_P_PLAIN_OPTIONS),
	FAIL("no Origin", RL HOST ACRM END, PF_P_PLAIN_OPTIONS),
	FAIL("neither", RL HOST "Accept: */*\r\n" END, PF_P_PLAIN_OPTIONS),

	/* ---- INCOMPLETE (every cut: test_incomplete_prefixes) ---- */
	FAIL("no blank line", BASE, PF_P_INCOMPLETE),
	FAIL("request line only", RL, PF_P_INCOMPLETE),
	FAIL("blank line cut after CR", BASE "\r", PF_P_INCOMPLETE),
	FAIL("header line cut after CR", BASE "X-A: b\r", PF_P_INCOMPLETE),
	FAIL("request line cut after CR", "OPTIONS /v1 HTTP/1.1\r",
	     PF_P_INCOMPLETE),
	FAIL("header name cut", BASE "Access-Control-Req", PF_P_INCOMPLETE),

	/* ---- BAD ---- */
	FAIL("no Host", RL ORIGIN ACRM END, PF_P_BAD),
	FAIL("bare LF ends a header line",
	     RL HOST "Origin: https://app.example.com\n" ACRM END, PF_P_BAD),
	FAIL("bare LF as the blank line", BASE "\n\n", PF_P_BAD),
	FAIL("CR not followed by LF", RL HOST "Origin: https://a.test\rX\r\n"
	     ACRM END, PF_P_BAD),
	FAIL("blank line CR then X", BASE "\rX", PF_P_BAD),
	FAIL("NUL in a value", RL HOST "Origin: https://app\0.example.com\r\n"
	     ACRM END, PF_P_BAD),
	FAIL("DEL in a value", RL HOST "Origin: https://app\x7f.test\r\n"
	     ACRM END, PF_P_BAD),
	FAIL("HT inside a value (documented limitation)",
	     RL HOST "Origin: https://app.example.com\r\n"
	     "Access-Control-Request-Headers: a,\tb\r\n" ACRM END, PF_P_BAD),
	FAIL("HT as OWS (documented limitation)",
	     RL HOST "Origin:\thttps://app.example.com\r\n" ACRM END, PF_P_BAD),
	FAIL("header name with a space", BASE "X Foo: bar\r\n" END, PF_P_BAD),
	FAIL("space before the colon", RL HOST "Origin : https://a.test\r\n"
	     ACRM END, PF_P_BAD),
	FAIL("empty header name", BASE ": value\r\n" END, PF_P_BAD),
	FAIL("obs-text in a header name", BASE "X-\xc3\xa9: v\r\n" END, PF_P_BAD),
	FAIL("missing colon", RL "Host api.example.com\r\n" ORIGIN ACRM END,
	     PF_P_BAD),
	FAIL("asterisk-form target", "OPTIONS * HTTP/1.1\r\n" HOST ORIGIN ACRM END,
	     PF_P_BAD),
	FAIL("absolute-form target",
	     "OPTIONS http://api.example.com/v1/items HTTP/1.1\r\n" HOST ORIGIN
	     ACRM END, PF_P_BAD),
	FAIL("two spaces after OPTIONS", "OPTIONS  /v1 HTTP/1.1\r\n" HOST ORIGIN
	     ACRM END, PF_P_BAD),
	FAIL("control byte in the target", "OPTIONS /a\x01z HTTP/1.1\r\n" HOST
	     ORIGIN ACRM END, PF_P_BAD),
	FAIL("no version", "OPTIONS /v1\r\n" HOST ORIGIN ACRM END, PF_P_BAD),
	FAIL("not HTTP/", "OPTIONS /v1 HTTQ/1.1\r\n" HOST ORIGIN ACRM END,
	     PF_P_BAD),
	FAIL("request line CR without LF", "OPTIONS /v1 HTTP/1.1\rX" HOST ORIGIN
	     ACRM END, PF_P_BAD),

	/* ---- VERSION ---- */
	FAIL("HTTP/1.0", "OPTIONS /v1 HTTP/1.0\r\n" HOST ORIGIN ACRM END,
	     PF_P_VERSION),
	FAIL("HTTP/2.0", "OPTIONS /v1 HTTP/2.0\r\n" HOST ORIGIN ACRM END,
	     PF_P_VERSION),
	FAIL("HTTP/1.10", "OPTIONS /v1 HTTP/1.10\r\n" HOST ORIGIN ACRM END,
	     PF_P_VERSION),
	FAIL("Upgrade header", BASE "Connection: Upgrade\r\nUpgrade: h2c\r\n"
	     END, PF_P_VERSION),
	FAIL("upgrade header, any case", BASE "UPGRADE: websocket\r\n" END,
	     PF_P_VERSION),

	/* ---- CONN_CLOSE ---- */
	FAIL("Connection: close", BASE "Connection: close\r\n" END,
	     PF_P_CONN_CLOSE),
	FAIL("Connection: Keep-Alive, Close",
	     BASE "Connection: Keep-Alive, Close\r\n" END, PF_P_CONN_CLOSE),
	FAIL("connection: CLOSE", BASE "connection: CLOSE\r\n" END,
	     PF_P_CONN_CLOSE),
	/* pf_has_close looks for a 'c' 8 bytes at a time before its byte
	 * loop: a close in the value's fourth word, and a 'C' just past it */
	FAIL("close in the value's fourth word",
	     BASE "Connection: keep-alive, te, x, Close\r\n" END, PF_P_CONN_CLOSE),
	/* the value is looked at after the header block (pf_parse): a close
	 * before a line the parse stops at still decides, as when the parse
	 * stopped at the Connection line itself */
	FAIL("Connection: close, then a malformed line",
	     BASE "Connection: close\r\nBad Name: 1\r\n" END, PF_P_CONN_CLOSE),
	FAIL("Connection: close, then obs-fold",
	     BASE "Connection: close\r\nX-A: 1\r\n folded\r\n" END, PF_P_CONN_CLOSE),
	FAIL("a malformed line, then Connection: close (parse stopped before it)",
	     BASE "Bad Name: 1\r\nConnection: close\r\n" END, PF_P_BAD),
	FAIL("two Connection lines, neither with close",
	     BASE "Connection: keep-alive\r\nConnection: keep-alive\r\n" END,
	     PF_P_CONN_CLOSE),
	FAIL("Connection: keep-alive, then Connection: close",
	     BASE "Connection: keep-alive\r\nConnection: close\r\n" END,
	     PF_P_CONN_CLOSE),

	/* ---- BODY ---- */
	FAIL("Content-Length: 5", BASE "Content-Length: 5\r\n" END, PF_P_BODY),
	FAIL("Content-Length: 0 twice (nginx: 400)",
	     BASE "Content-Length: 0\r\nContent-Length: 0\r\n" END, PF_P_DUP),
	FAIL("Content-Length: 00 (conservative)", BASE "Content-Length: 00\r\n"
	     END, PF_P_BODY),
	FAIL("Transfer-Encoding: chunked", BASE "Transfer-Encoding: chunked\r\n"
	     END, PF_P_BODY),
	FAIL("transfer-encoding: identity", BASE
	     "transfer-encoding: identity\r\n" END, PF_P_BODY),

	/* ---- DUP ---- */
	FAIL("two Origin", BASE "origin: https://evil.test\r\n" END, PF_P_DUP),
	FAIL("two ACRM", BASE "Access-Control-Request-Method: DELETE\r\n" END,
	     PF_P_DUP),
	FAIL("two Host", BASE "Host: evil.test\r\n" END, PF_P_DUP),
	FAIL("two ACRH", BASE ACRH "Access-Control-Request-Headers: x-a\r\n" END,
	     PF_P_DUP),
	FAIL("two ACRPN", BASE ACRPN ACRPN END, PF_P_DUP),

	/* ---- OBS_FOLD ---- */
	FAIL("SP continuation line", BASE "X-A: a\r\n b\r\n" END, PF_P_OBS_FOLD),
	FAIL("HT continuation line", RL HOST ORIGIN "\thttps://b.test\r\n" ACRM
	     END, PF_P_OBS_FOLD),

	/* ---- PIPELINED ---- */
	FAIL("GET behind the preflight",
	     BASE END "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
	     PF_P_PIPELINED),
	FAIL("one extra byte", BASE END "G", PF_P_PIPELINED),
	FAIL("two preflights", BASE END BASE END, PF_P_PIPELINED),
};

/* ---- helpers ---- */

/* Fills of the bytes past len: NUL, "\r\n" pairs, LF only. */
#define N_FILLS 3

/* Parse len bytes of req from a PF_REQ_BUF buffer whose bytes past len
 * are fill number `fill` (what follows len must never matter). */
static int parse_filled(const void *req, size_t len, int fill, __u8 *buf,
			struct pf_req *r)
{
	size_t i;

	assert_true(len <= PF_REQ_BUF);
	for (i = 0; i < PF_REQ_BUF; i++)
		buf[i] = fill == 0 ? 0 : fill == 1 ? (i & 1 ? '\n' : '\r') : '\n';
	memcpy(buf, req, len);
	/* r starts as garbage: pf_parse must reset all of it */
	memset(r, 0xa5, sizeof(*r));
	return pf_parse(buf, (__u32)len, r);
}

/* Slice s of buf holds exactly want (NULL: the header is absent and the
 * slice empty). seen is the PF_SEEN_* bit of that header (0: not one). */
static void check_slice(const char *cname, const char *what, const __u8 *buf,
			const struct pf_req *r, struct pf_slice s,
			const char *want, __u8 seen)
{
	size_t n = want ? strlen(want) : 0;

	if (s.len != n || (n && memcmp(buf + s.off, want, n)) ||
	    (seen && !!(r->seen & seen) != !!want))
		print_error("%s: %s is '%.*s' (off %u), want '%s'\n", cname,
			    what, s.len, (const char *)buf + s.off, s.off,
			    want ? want : "(absent)");
	assert_int_equal(s.len, n);
	if (n)
		assert_memory_equal(buf + s.off, want, n);
	else
		assert_int_equal(s.off, 0);
	if (seen)
		assert_int_equal(!!(r->seen & seen), !!want);
	assert_true((size_t)s.off + s.len <= r->len);
}

/* Run one case with every fill; on PF_P_OK check every slice. */
static void run_case(const struct http_case *c)
{
	static __u8 buf[PF_REQ_BUF];
	struct pf_req r, r2, r3;
	int res, res2, fill;

	for (fill = N_FILLS - 1; fill > 0; fill--) {
		res2 = parse_filled(c->req, c->len, fill, buf, &r2);
		if (res2 != c->res)
			print_error("%s (fill %d): pf_parse = %d, want %d\n",
				    c->name, fill, res2, c->res);
		assert_int_equal(res2, c->res);
	}
	/* r2: fill 1; r: fill 0, whose buf the slices are checked in */
	res = parse_filled(c->req, c->len, 0, buf, &r);
	if (res != c->res)
		print_error("%s: pf_parse = %d, want %d\n", c->name, res, c->res);
	assert_int_equal(res, c->res);
	assert_int_equal(r.res, res);
	/* without the path's flags (pf_decide, a policy with no path
	 * rules): the same result and request, only PF_REQF_PATH_UNNORM
	 * never set */
	memset(&r3, 0xa5, sizeof(r3));
	assert_int_equal(pf_parse_p(buf, (__u32)c->len, &r3, 0), res);
	assert_int_equal(r3.flags & PF_REQF_PATH_UNNORM, 0);
	r3.flags |= r.flags & PF_REQF_PATH_UNNORM;
	assert_memory_equal(&r3, &r, sizeof(r));
	if (res != PF_P_OK)
		return;
	/* same slices whatever follows the request */
	assert_memory_equal(&r.path, &r2.path, 6 * sizeof(struct pf_slice));
	assert_int_equal(r.flags, r2.flags);
	assert_int_equal(r.len, c->len);
	if (r.flags != c->flags)
		print_error("%s: flags %u, want %u\n", c->name, r.flags, c->flags);
	assert_int_equal(r.flags, c->flags);
	assert_int_equal(r.path.off, 8);
	check_slice(c->name, "path", buf, &r, r.path, c->path, 0);
	check_slice(c->name, "host", buf, &r, r.host, c->host, PF_SEEN_HOST);
	check_slice(c->name, "origin", buf, &r, r.origin, c->origin,
		    PF_SEEN_ORIGIN);
	check_slice(c->name, "acrm", buf, &r, r.acrm, c->acrm, PF_SEEN_ACRM);
	if (!c->acrh || *c->acrh)
		check_slice(c->name, "acrh", buf, &r, r.acrh, c->acrh,
			    PF_SEEN_ACRH);
	else
		assert_true(r.seen & PF_SEEN_ACRH); /* present, empty */
	check_slice(c->name, "acrpn", buf, &r, r.acrpn, c->acrpn,
		    PF_SEEN_ACRPN);
}

/* ---- tests ---- */

/* Every entry of cases[]. */
static void test_table(void **state)
{
	size_t i;

	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 40);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Every proper prefix of a valid preflight is INCOMPLETE (NOT_OPTIONS
 * below 8 bytes, where "OPTIONS " cannot be recognized yet), with the
 * rest of the real request right behind len in the buffer. */
static void test_incomplete_prefixes(void **state)
{
	static const struct { const char *s; size_t len; } reqs[] = {
		{ R(CHROMIUM) }, { R(CHROMIUM_PNA) }, { R(FIREFOX) }, { R(CURL) },
		{ R(BASE ACRH ACRPN "Content-Length: 0\r\n" END) },
	};
	static __u8 buf[PF_REQ_BUF];
	struct pf_req r;
	size_t i, cut;
	int res, want;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, reqs[i].s, reqs[i].len);
		assert_int_equal(pf_parse(buf, (__u32)reqs[i].len, &r), PF_P_OK);
		for (cut = 0; cut < reqs[i].len; cut++) {
			want = cut < 8 ? PF_P_NOT_OPTIONS : PF_P_INCOMPLETE;
			res = pf_parse(buf, (__u32)cut, &r);
			if (res != want)
				print_error("request %zu cut at %zu: %d, want %d\n",
					    i, cut, res, want);
			assert_int_equal(res, want);
		}
	}
}

/* Append "Name-i: v\r\n" header lines to p until it has n lines
 * besides Host/Origin/ACRM; returns the new end. */
static char *filler_lines(char *p, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p += sprintf(p, "X-Filler-%u: v\r\n", i);
	return p;
}

/* Parse the NUL-terminated request s with every fill; returns the
 * result, which must not depend on the fill (r: the last parse). */
static int parse_str(const char *s, struct pf_req *r)
{
	static __u8 buf[PF_REQ_BUF];
	int res = parse_filled(s, strlen(s), 0, buf, r), fill;

	for (fill = 1; fill < N_FILLS; fill++)
		assert_int_equal(parse_filled(s, strlen(s), fill, buf, r), res);
	return res;
}

/* PF_MAX_LINES: 47 header lines (+ the blank line) parse; 49 do not. */
static void test_line_limit(void **state)
{
	char req[PF_REQ_MAX + 1], *p;
	struct pf_req r;

	(void)state;
	p = req + sprintf(req, BASE);
	p = filler_lines(p, PF_MAX_LINES - 1 - 3);
	strcpy(p, END);
	assert_true(strlen(req) <= PF_REQ_MAX);
	assert_int_equal(parse_str(req, &r), PF_P_OK);
	assert_int_equal(r.len, strlen(req));

	p = req + sprintf(req, BASE);
	p = filler_lines(p, 49 - 3);
	strcpy(p, END);
	assert_true(strlen(req) <= PF_REQ_MAX);
	assert_int_equal(parse_str(req, &r), PF_P_TOO_LONG);
}

static int long_res(int res)
{
	return res == PF_P_TOO_LONG || res == PF_P_INCOMPLETE;
}

/* PF_LINE_MAX (the head's PF_REQ_MAX bounds a line too): a value of
 * PF_LINE_MAX - 512 bytes parses, as does a request-target that long; a
 * value, an Origin or a target that does not end within the PF_REQ_MAX
 * bytes looked at is not OK: TOO_LONG, or INCOMPLETE where the line's
 * scan reached the bytes' end (the callers pass either: the framing is
 * lost, the preflight goes to the app). */
static void test_line_length(void **state)
{
	static char req[PF_REQ_MAX + PF_LINE_MAX];
	const __u32 ok = PF_LINE_MAX - 512, over = PF_LINE_MAX + 76;
	struct pf_req r;
	char *p;

	(void)state;
	p = req + sprintf(req, BASE "User-Agent: ");
	memset(p, 'u', ok);
	strcpy(p + ok, "\r\n" END);
	assert_true(strlen(req) <= PF_REQ_MAX);
	assert_int_equal(parse_str(req, &r), PF_P_OK);

	p = req + sprintf(req, BASE "User-Agent: ");
	memset(p, 'u', over);
	strcpy(p + over, "\r\n" END);
	req[PF_REQ_MAX] = 0;
	assert_true(long_res(parse_str(req, &r)));

	p = req + sprintf(req, RL HOST ACRM "Origin: https://");
	memset(p, 'a', over);
	strcpy(p + over, "\r\n" END);
	req[PF_REQ_MAX] = 0;
	assert_true(long_res(parse_str(req, &r)));

	p = req + sprintf(req, "OPTIONS /");
	memset(p, 'p', over);
	strcpy(p + over, " HTTP/1.1\r\n" HOST ORIGIN ACRM END);
	req[PF_REQ_MAX] = 0;
	assert_true(long_res(parse_str(req, &r)));

	p = req + sprintf(req, "OPTIONS /");
	memset(p, 'p', ok - 1);
	strcpy(p + ok - 1, " HTTP/1.1\r\n" HOST ORIGIN ACRM END);
	assert_true(strlen(req) <= PF_REQ_MAX);
	assert_int_equal(parse_str(req, &r), PF_P_OK);
	assert_int_equal(r.path.len, ok);
}

/* Names: 64 bytes are looked at. A longer (legal) name is BAD: a
 * documented limitation, the request goes to the app. */
static void test_name_length(void **state)
{
	char req[512], *p;
	struct pf_req r;

	(void)state;
	p = req + sprintf(req, BASE);
	memset(p, 'n', 64);
	strcpy(p + 64, ": v\r\n" END);
	assert_int_equal(parse_str(req, &r), PF_P_OK);

	p = req + sprintf(req, BASE);
	memset(p, 'n', 65);
	strcpy(p + 65, ": v\r\n" END);
	assert_int_equal(parse_str(req, &r), PF_P_BAD);
}

/* The inline word scans test only their word count and read past lim:
 * a stop byte at or after lim never changes the result (lim), one before
 * it is found, for every lim - from up to the words scanned. */
static void test_scan_past_lim(void **state)
{
	static __u8 b[PF_REQ_BUF];
	__u64 from = 5, n, s, want;

	(void)state;
	for (n = 0; n <= 16; n++) {
		for (s = 0; s < 24; s++) {
			memset(b, 'a', sizeof(b));
			b[from + s] = '\r';
			want = s < n ? from + s : from + n;
			assert_int_equal(pf_scan_ctl_in(b, from, from + n, 0x20, 2), want);
			b[from + s] = ':';
			assert_int_equal(pf_scan_tchar_in(b, from, from + n, 2), want);
			b[from + s] = '"';
			assert_int_equal(pf_scan_tchar_in(b, from, from + n, 2), want);
		}
	}
}

/* pf_scan_tchar_fast with len = lim (n <= 64 here: its global scan's
 * bound), its result clamped to lim: pf_line only compares the unclamped
 * one with len and reads the byte below it, which the clamp does not
 * change (the parse tests check pf_line itself). */
static __u64 fast_clamped(const __u8 *b, __u64 from, __u64 lim)
{
	__u64 i = pf_scan_tchar_fast(b, from, lim, 8);

	return i < lim ? i : lim;
}

/* pf_scan_tchar_fast (a word whose first flagged byte is not ':' goes
 * on in the global scan; its result clamped to lim: fast_clamped) and
 * that global scan (the exact test on every word) find what
 * pf_scan_tchar_in finds: every byte
 * value at every position of a 64-byte name, alone and after a symbol
 * tchar ('_', which the word test flags), with lim before, in and past
 * them. */
static void test_scan_tchar_fast(void **state)
{
	static __u8 b[PF_REQ_BUF];
	const __u64 from = 3;
	__u64 n, s, c;

	(void)state;
	for (c = 0; c < 256; c++)
		for (s = 0; s < 66; s++)
			for (n = 0; n <= 64; n += (n < 8 || n > 56) ? 1 : 7) {
				memset(b, 'a', sizeof(b));
				b[from + s] = (__u8)c;
				assert_int_equal(fast_clamped(b, from, from + n),
						 pf_scan_tchar_in(b, from, from + n, 8));
				assert_int_equal(pf_scan_tchar_buf((const struct pf_buf *)b,
								   from, from + n),
						 pf_scan_tchar_in(b, from, from + n, 8));
				b[from + s / 2] = '_';
				assert_int_equal(fast_clamped(b, from, from + n),
						 pf_scan_tchar_in(b, from, from + n, 8));
			}
}

/* pf_path_flags by the rules, a byte at a time: the bytes before the
 * first '?' or '#' (b[off - 1], b[off - 2]: the request line's) */
static __u32 ref_path_flags(const __u8 *b, __u32 off, __u32 n)
{
	__u32 i, e = n;
	__u8 c, p1, p2;

	for (i = 0; i < n; i++)
		if (b[off + i] == '?' || b[off + i] == '#') {
			e = i;
			break;
		}
	for (i = 0; i < e; i++) {
		c = b[off + i];
		p1 = b[off + i - 1];
		p2 = b[off + i - 2];
		if (c == '%' || c == '\\' || c == ';' ||
		    (c == '/' && (p1 == '/' || (p1 == '.' && (p2 == '/' || p2 == '.')))))
			return PF_REQF_PATH_UNNORM;
	}
	if (e >= 2 && b[off + e - 1] == '.' && (b[off + e - 2] == '/' || b[off + e - 2] == '.'))
		return PF_REQF_PATH_UNNORM;
	return 0;
}

/* pf_path_flags (by chunks of PF_PATH_CHUNK words) against the reference:
 * random targets of every length up to PF_LINE_MAX - 1 (the longest a
 * request line lets through), mostly plain bytes with '/' and '.', each
 * flagged byte, '?' and '#' rare, at the chunks' edges too; the bytes
 * after the target random (never looked at). */
static void test_path_flags(void **state)
{
	static __u8 b[PF_REQ_BUF];
	static const char rare[] = "%\\;?#";
	const __u32 off = 8; /* after "OPTIONS " */
	__u32 t, n, i, want, got, flagged = 0, long_ok = 0;
	unsigned seed = 11;

	(void)state;
	memcpy(b, "OPTIONS ", off);
	for (t = 0; t < 60000; t++) {
		n = t % 3 ? (unsigned)rand_r(&seed) % 200 :
		    t % 2 ? (unsigned)rand_r(&seed) % PF_LINE_MAX :
			    64 * (1 + (unsigned)rand_r(&seed) % 15) - 2 +
			    (unsigned)rand_r(&seed) % 5;
		/* a request-target within the request: off + n + " HTTP/1.1" */
		if (n >= PF_LINE_MAX)
			n = PF_LINE_MAX - 1;
		if (n > PF_REQ_MAX - off - 11)
			n = PF_REQ_MAX - off - 11;
		for (i = off + n; i < PF_REQ_BUF; i++)
			b[i] = (__u8)rand_r(&seed);
		for (i = 0; i < n; i++) {
			unsigned v = (unsigned)rand_r(&seed) % 1000;

			if (t % 2) /* dense: most flag early */
				b[off + i] = v < 5 ? (__u8)rare[v] : v < 300 ? '/' :
					     v < 500 ? '.' : 'a' + v % 26;
			else /* "/seg.ext" words: one flagged spot at most */
				b[off + i] = b[off + i - 1] != '/' && b[off + i - 1] != '.' &&
					     v < 150 ? (v < 100 ? '/' : '.') : 'a' + v % 26;
		}
		if (!(t % 2) && n && t % 3) /* the one spot, anywhere */
			b[off + (unsigned)rand_r(&seed) % n] = (__u8)"%\\;?#/."[t % 8];
		want = ref_path_flags(b, off, n);
		got = pf_path_flags(b, off, n);
		if (got != want)
			print_error("path of %u bytes: %u, want %u\n", n, got, want);
		assert_int_equal(got, want);
		flagged += want != 0;
		long_ok += !want && n > 8 * PF_PATH_CHUNK;
	}
	/* both answers, and paths past one chunk unflagged, were exercised */
	assert_true(flagged > 10000 && flagged < 50000);
	assert_true(long_ok > 1000);
}

/* More than PF_REQ_MAX bytes: TOO_LONG if it starts like OPTIONS,
 * NOT_OPTIONS otherwise; at exactly PF_REQ_MAX it still parses. */
static void test_request_max(void **state)
{
	static __u8 buf[PF_REQ_BUF];
	char *p, *req = calloc(1, PF_REQ_MAX + 1);
	struct pf_req r;
	size_t fill;

	(void)state;
	assert_non_null(req);
	/* BASE, "A: " + 900 bytes, "B: " + fill bytes, blank line:
	 * exactly PF_REQ_MAX bytes, no value over PF_LINE_MAX */
	p = req + sprintf(req, BASE "A: ");
	memset(p, 'a', 900);
	p += 900;
	p += sprintf(p, "\r\nB: ");
	fill = PF_REQ_MAX - (size_t)(p - req) - 4;
	assert_true(fill < PF_LINE_MAX);
	memset(p, 'b', fill);
	strcpy(p + fill, "\r\n" END);
	assert_int_equal(strlen(req), PF_REQ_MAX);
	assert_int_equal(parse_filled(req, PF_REQ_MAX, 1, buf, &r), PF_P_OK);
	assert_int_equal(r.len, PF_REQ_MAX);
	/* one more byte (the datapath never copies it; only buf[0] is read) */
	assert_int_equal(pf_parse(buf, PF_REQ_MAX + 1, &r), PF_P_TOO_LONG);
	assert_int_equal(r.res, PF_P_TOO_LONG);
	buf[0] = 'G';
	assert_int_equal(pf_parse(buf, PF_REQ_MAX + 1, &r), PF_P_NOT_OPTIONS);
	free(req);
}

/* ---- regressions ---- */

/* pf_line_cb trims at most 16 blanks of OWS on each side of a value.
 * It used to return PF_P_OK with the remaining blanks inside the slice:
 * "Origin:" + 17 SP + "https://app.example.com" (valid: RFC 9110 OWS has
 * no limit) reached the matcher as " https://app.example.com", and an
 * on_deny: reject rule answered 403 in the kernel instead of the request
 * going to the app (fixed in d5ab6dd). The parse must either fail or
 * yield the trimmed value. */
static void test_ows_over_16(void **state)
{
	static const char *const reqs[] = {
		RL HOST "Origin:                 https://app.example.com\r\n"
		ACRM END,
		RL HOST "Origin: https://app.example.com                 \r\n"
		ACRM END,
		RL HOST ORIGIN "Access-Control-Request-Method:"
		"                    PUT\r\n" END,
	};
	static const char *const want[] = {
		"https://app.example.com", "https://app.example.com", "PUT",
	};
	static __u8 buf[PF_REQ_BUF];
	struct pf_req r;
	struct pf_slice s;
	size_t i;
	int res;

	(void)state;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		res = parse_filled(reqs[i], strlen(reqs[i]), 0, buf, &r);
		if (res != PF_P_OK)
			continue;
		s = i < 2 ? r.origin : r.acrm;
		if (s.len != strlen(want[i]) ||
		    memcmp(buf + s.off, want[i], s.len))
			print_error("request %zu: PF_P_OK with value '%.*s'\n", i,
				    s.len, (const char *)buf + s.off);
		assert_int_equal(s.len, strlen(want[i]));
		assert_memory_equal(buf + s.off, want[i], s.len);
	}
}

/* Run every test; the exit status is the number of failures. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_incomplete_prefixes),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_request_max),
		cmocka_unit_test(test_ows_over_16),
		cmocka_unit_test(test_scan_past_lim),
		cmocka_unit_test(test_scan_tchar_fast),
		cmocka_unit_test(test_path_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
