/*
 * test_frame.c -- unit tests of the splice guard's framing (include/
 * pf_frame.h), the code the datapath runs to know where the next request
 * on a connection starts: a request's length from pf_parse_head
 * (pf_frame_len) for every shape a server could read differently, and
 * interim (1xx) response heads (pf_parse_interim). pf_parse_head itself:
 * tests/unit/test_offload.c.
 *
 * Every input is parsed with the bytes after len filled with NUL and with
 * CR LF pairs: the result must not depend on them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../include/pf_frame.h"

static __u8 buf[PF_REQ_BUF];
static struct pf_req r;

/* pf_frame_len of s (n bytes) with both fillers; they must agree. */
static long frame(const char *s, size_t n)
{
	long a, b;
	size_t k;

	assert_true(n <= PF_REQ_MAX);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, s, n);
	pf_parse_head(buf, (__u32)n, &r);
	a = pf_frame_len(&r);
	for (k = n; k < sizeof(buf); k++)
		buf[k] = (k - n) & 1 ? '\n' : '\r';
	pf_parse_head(buf, (__u32)n, &r);
	b = pf_frame_len(&r);
	assert_int_equal(a, b);
	return a;
}

#define GET "GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\n"

static void t_lengths(void **st)
{
	static const char get[] = GET "Accept: */*\r\n\r\n";
	static const char put[] = "PUT /v1/items HTTP/1.1\r\nHost: a\r\nContent-Length:  1234 \r\n\r\nxyz";
	static const char cont[] = "PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
				   "content-length: 184\r\n\r\n";
	static const char pre[] = "OPTIONS /v1/items HTTP/1.1\r\nHost: a\r\nOrigin: https://a.test\r\n"
				  "Access-Control-Request-Method: PUT\r\n\r\n";
	static const char next[] = GET "\r\n" "GET / HTTP/1.1\r\n";

	(void)st;
	assert_int_equal(frame(get, sizeof(get) - 1), sizeof(get) - 1);
	/* the head and the whole body, of which only 3 bytes are here */
	assert_int_equal(frame(put, sizeof(put) - 1), sizeof(put) - 4 + 1234);
	assert_int_equal(frame(cont, sizeof(cont) - 1), sizeof(cont) - 1 + 184);
	assert_int_equal(frame(pre, sizeof(pre) - 1), sizeof(pre) - 1);
	/* the next request behind it is not part of it */
	assert_int_equal(frame(next, sizeof(next) - 1), strlen(GET "\r\n"));
}

/* every shape whose length a server could read differently, or that stops
 * being HTTP: unknown (-1) */
static void t_unknown(void **st)
{
	static const char *const bad[] = {
		GET "Transfer-Encoding: chunked\r\n\r\n",
		GET "Transfer-Encoding: identity\r\n\r\n",
		GET "Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
		GET "Content-Length: 1, 1\r\n\r\n",
		GET "Content-Length: -1\r\n\r\n",
		GET "Content-Length: +1\r\n\r\n",
		GET "Content-Length: 1234567890\r\n\r\n",
		GET "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
		GET "X-A: b\nContent-Length: 5\r\n\r\n",   /* bare LF */
		GET "X-A: b\rContent-Length: 5\r\n\r\n",   /* bare CR */
		GET "X-A:\tb\r\n\r\n",                     /* a tab */
		GET " folded\r\n\r\n",
		GET "No colon here\r\n\r\n",
		"GET /x HTTP/2.0\r\n\r\n",
		"GET /x HTTP/1.0\r\n\r\n",
		"GET /x SIP/2.0\r\n\r\n",
		"GET\r\n\r\n",
		" GET /x HTTP/1.1\r\n\r\n",
		"GET /x HTTP/1.1\n\r\n",
		"\r\nGET /x HTTP/1.1\r\n\r\n",
		GET,                                       /* no end of the head */
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (frame(bad[i], strlen(bad[i])) != -1)
			fail_msg("not unknown: %s", bad[i]);
}

/* more than PF_MAX_LINES header lines: unknown */
static void t_many_lines(void **st)
{
	static char s[PF_REQ_MAX];
	size_t n = 0;
	int i;

	(void)st;
	n += (size_t)sprintf(s + n, "GET / HTTP/1.1\r\n");
	for (i = 0; i < PF_MAX_LINES + 1; i++)
		n += (size_t)sprintf(s + n, "X-%02d: v\r\n", i);
	n += (size_t)sprintf(s + n, "\r\n");
	assert_int_equal(frame(s, n), -1);
}

/* A head of exactly PF_REQ_MAX bytes whose Cookie line takes nearly all
 * of it (a line up to PF_LINE_MAX) is followed, with a Content-Length
 * after the Cookie; the same head a byte longer, of which PF_REQ_MAX bytes
 * are looked at, is not (the datapath never looks at more). */
static void t_large_head(void **st)
{
	static char s[PF_REQ_MAX + 2];
	static const char tail[] = "\r\nContent-Length: 7\r\n\r\n";
	const size_t t = sizeof(tail) - 1;
	size_t n;

	(void)st;
	n = (size_t)sprintf(s, GET "Cookie: c=");
	memset(s + n, 'k', PF_REQ_MAX - n - t);
	memcpy(s + PF_REQ_MAX - t, tail, t + 1);
	assert_int_equal(strlen(s), PF_REQ_MAX);
	assert_int_equal(frame(s, PF_REQ_MAX), PF_REQ_MAX + 7);
	memset(s + n, 'k', PF_REQ_MAX + 1 - n - t);
	memcpy(s + PF_REQ_MAX + 1 - t, tail, t + 1);
	assert_int_equal(frame(s, PF_REQ_MAX), -1);
}

/* pf_frame_starts_request: which bytes may begin a held split head
 * (bpf/pf_follow.h) or a tracked connection's first request. */
static void t_starts_request(void **st)
{
	static const struct {
		const char *b;
		int want;
	} c[] = {
		{ "GET / HTTP/1.1", 1 }, { "OPTIONS /", 1 }, { "DELETE ", 1 }, { "A x", 1 },
		{ "GET", 0 },            /* no SP yet: too short to tell */
		{ "get / ", 0 }, { " GET /", 0 }, { "0123456789", 0 },
		{ "PROPFIND /", 0 },     /* 8 letters: more than the test takes */
		{ "", 0 },
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		assert_int_equal(pf_frame_starts_request((const __u8 *)c[i].b,
							 (__u32)strlen(c[i].b)), c[i].want);
}

/* head_start: does the parse of n bytes (frame) make them a head's start
 * worth holding for the rest -- not ended, under PF_REQ_MAX, begun by a
 * method and SP? */
static int head_start(const char *s)
{
	size_t n = strlen(s);

	frame(s, n);
	return pf_frame_head_start(buf, (__u32)n, &r);
}

/* pf_frame_head_start: the datapath's and the recorder's one test of a
 * split head's first bytes (bpf/pf_follow.h, bpf/pf_ofl_tc.h). */
static void t_head_start(void **st)
{
	static char big[PF_REQ_MAX + 1];

	(void)st;
	assert_int_equal(head_start(GET "Cookie: c=kkk"), 1);
	assert_int_equal(head_start(GET "\r\n"), 0);           /* whole */
	assert_int_equal(head_start("0123456789\r\nHost"), 0); /* no method */
	assert_int_equal(head_start("GET /v1 HTTP/1.1\nHost"), 0); /* bare LF */
	memset(big, 'k', PF_REQ_MAX);
	memcpy(big, GET "Cookie: c=", strlen(GET "Cookie: c="));
	assert_int_equal(head_start(big), 0);                   /* PF_REQ_MAX */
	big[PF_REQ_MAX - 1] = 0;
	assert_int_equal(head_start(big), 1);
}

/* interim responses: 100 Continue, 103 Early Hints with headers; a final
 * status, a 101, content or a broken head are not followed */
static void t_interim(void **st)
{
	static const char c100[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
	static const char c103[] = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
	static const char *const not1xx[] = {
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 1x0 Odd\r\n\r\n",
		"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 100 Continue\n\n",
	};
	size_t i;

	(void)st;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, c100, sizeof(c100) - 1);
	assert_true(pf_frame_is_interim(buf, 0));
	assert_int_equal(pf_parse_interim(buf, sizeof(c100) - 1, &r), PF_P_OK);
	assert_int_equal(r.len, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
	assert_false(pf_frame_is_interim(buf, r.len));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, c103, sizeof(c103) - 1);
	assert_int_equal(pf_parse_interim(buf, sizeof(c103) - 1, &r), PF_P_OK);
	assert_int_equal(r.len, sizeof(c103) - 1);
	assert_int_equal(pf_parse_interim(buf, sizeof(c103) - 3, &r), PF_P_INCOMPLETE);
	for (i = 0; i < sizeof(not1xx) / sizeof(not1xx[0]); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, not1xx[i], strlen(not1xx[i]));
		if (pf_parse_interim(buf, (__u32)strlen(not1xx[i]), &r) == PF_P_OK)
			fail_msg("followed: %s", not1xx[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_lengths),
		cmocka_unit_test(t_unknown),
		cmocka_unit_test(t_many_lines),
		cmocka_unit_test(t_large_head),
		cmocka_unit_test(t_starts_request),
		cmocka_unit_test(t_head_start),
		cmocka_unit_test(t_interim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
