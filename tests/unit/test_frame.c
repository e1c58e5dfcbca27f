/*
 * test_frame.c -- unit tests of request framing (include/pf_frame.h), the
 * code the datapath runs to know where the next request on a connection
 * starts: head and body lengths, every shape that must leave the length
 * unknown, heads cut at every byte (INCOMPLETE), a head at an offset.
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
static struct pf_frame fr;

/* Parse s (n bytes, head at start) with both fillers; the results must
 * agree. */
static int frame(const char *s, size_t n, __u32 start)
{
	struct pf_frame a;
	int r1, r2;
	size_t k;

	assert_true(n <= PF_REQ_MAX);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, s, n);
	r1 = pf_frame_head(buf, start, (__u32)n, &fr);
	a = fr;
	for (k = n; k < sizeof(buf); k++)
		buf[k] = (k - n) & 1 ? '\n' : '\r';
	r2 = pf_frame_head(buf, start, (__u32)n, &fr);
	assert_int_equal(r1, r2);
	assert_int_equal(a.head_len, fr.head_len);
	assert_int_equal(a.body_len, fr.body_len);
	return r1;
}

#define FRAME(s) frame((s), sizeof(s) - 1, 0)

static void ok(const char *s, size_t n, __u32 head, __u32 body)
{
	assert_int_equal(frame(s, n, 0), PF_FR_OK);
	assert_int_equal(fr.head_len, head);
	assert_int_equal(fr.body_len, body);
}

#define GET "GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\n"

static void t_no_body(void **st)
{
	static const char r[] = GET "Accept: */*\r\n\r\n";

	(void)st;
	ok(r, sizeof(r) - 1, sizeof(r) - 1, 0);
}

static void t_content_length(void **st)
{
	static const char r[] = "PUT /v1/items HTTP/1.1\r\nHost: a\r\nContent-Length:  1234 \r\n\r\nxyz";

	(void)st;
	ok(r, sizeof(r) - 1, sizeof(r) - 4, 1234);
}

/* the body does not have to be here: only the head is read */
static void t_expect_continue(void **st)
{
	static const char r[] = "PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
				"content-length: 184\r\n\r\n";

	(void)st;
	ok(r, sizeof(r) - 1, sizeof(r) - 1, 184);
}

static void t_preflight(void **st)
{
	static const char r[] = "OPTIONS /v1/items HTTP/1.1\r\nHost: a\r\nOrigin: https://a.test\r\n"
				"Access-Control-Request-Method: PUT\r\n\r\n";

	(void)st;
	ok(r, sizeof(r) - 1, sizeof(r) - 1, 0);
}

static void t_http10(void **st)
{
	static const char r[] = "POST /x HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc";

	(void)st;
	ok(r, sizeof(r) - 1, sizeof(r) - 4, 3);
}

/* a long header name we do not care about is skipped */
static void t_long_name(void **st)
{
	static const char r[] = GET "X-A-Very-Long-Header-Name-Well-Over-Forty-Bytes: 1\r\n"
				"Content-Length: 2\r\n\r\n";

	(void)st;
	ok(r, sizeof(r) - 1, sizeof(r) - 1, 2);
}

/* the head of a second request behind a body, at an offset */
static void t_offset(void **st)
{
	static const char r[] = "abcde" GET "\r\n";

	(void)st;
	assert_int_equal(frame(r, sizeof(r) - 1, 5), PF_FR_OK);
	assert_int_equal(fr.head_len, sizeof(r) - 1 - 5);
	assert_int_equal(fr.body_len, 0);
}

/* every shape whose length a server could read differently */
static void t_unknown(void **st)
{
	static const char *const bad[] = {
		GET "Transfer-Encoding: chunked\r\n\r\n",
		GET "Transfer-Encoding: identity\r\n\r\n",
		GET "Content-Length: 1\r\nContent-Length: 1\r\n\r\n",
		GET "Content-Length: 1, 1\r\n\r\n",
		GET "Content-Length: -1\r\n\r\n",
		GET "Content-Length: +1\r\n\r\n",
		GET "Content-Length: 1234567890\r\n\r\n",
		GET "Content-Length:\r\n\r\n",
		GET "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
		GET "X-A: b\nContent-Length: 5\r\n\r\n",   /* bare LF */
		GET "X-A: b\rContent-Length: 5\r\n\r\n",   /* bare CR */
		GET "X-A:\tb\r\n\r\n",                     /* a tab */
		GET " folded\r\n\r\n",
		GET "No colon here\r\n\r\n",
		"GET /x HTTP/2.0\r\n\r\n",
		"GET /x SIP/2.0\r\n\r\n",
		"GET\r\n\r\n",
		" GET /x HTTP/1.1\r\n\r\n",
		"GET /x HTTP/1.1\n\r\n",
		"\r\nGET /x HTTP/1.1\r\n\r\n",
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (frame(bad[i], strlen(bad[i]), 0) != PF_FR_UNKNOWN)
			fail_msg("not UNKNOWN: %s", bad[i]);
	}
}

/* every cut of a head is INCOMPLETE (never OK, never UNKNOWN) */
static void t_cuts(void **st)
{
	static const char r[] = "PUT /v1/items HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n";
	size_t n;

	(void)st;
	for (n = 1; n < sizeof(r) - 1; n++)
		if (frame(r, n, 0) != PF_FR_INCOMPLETE)
			fail_msg("cut at %zu: %d", n, fr.res);
}

/* more than PF_MAX_LINES header lines: unknown */
static void t_many_lines(void **st)
{
	static char r[PF_REQ_MAX];
	size_t n = 0;
	int i;

	(void)st;
	n += (size_t)sprintf(r + n, "GET / HTTP/1.1\r\n");
	for (i = 0; i < PF_MAX_LINES + 1; i++)
		n += (size_t)sprintf(r + n, "X-%02d: v\r\n", i);
	n += (size_t)sprintf(r + n, "\r\n");
	assert_int_equal(frame(r, n, 0), PF_FR_UNKNOWN);
}

/* interim responses: 100 Continue, 103 Early Hints with headers; a final
 * status or a broken head is not one */
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
	assert_int_equal(pf_frame_interim(buf, 0, sizeof(c100) - 1, &fr), PF_FR_OK);
	assert_int_equal(fr.head_len, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
	assert_false(pf_frame_is_interim(buf, fr.head_len));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, c103, sizeof(c103) - 1);
	assert_int_equal(pf_frame_interim(buf, 0, sizeof(c103) - 1, &fr), PF_FR_OK);
	assert_int_equal(fr.head_len, sizeof(c103) - 1);
	assert_int_equal(pf_frame_interim(buf, 0, sizeof(c103) - 3, &fr), PF_FR_INCOMPLETE);
	for (i = 0; i < sizeof(not1xx) / sizeof(not1xx[0]); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, not1xx[i], strlen(not1xx[i]));
		if (pf_frame_interim(buf, 0, (__u32)strlen(not1xx[i]), &fr) != PF_FR_UNKNOWN)
			fail_msg("not UNKNOWN: %s", not1xx[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_no_body),
		cmocka_unit_test(t_content_length),
		cmocka_unit_test(t_expect_continue),
		cmocka_unit_test(t_preflight),
		cmocka_unit_test(t_http10),
		cmocka_unit_test(t_long_name),
		cmocka_unit_test(t_offset),
		cmocka_unit_test(t_unknown),
		cmocka_unit_test(t_cuts),
		cmocka_unit_test(t_many_lines),
		cmocka_unit_test(t_interim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
