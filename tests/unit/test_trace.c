/*
 * test_trace.c -- the line `preflightd trace` prints for one record
 * (pf_trace_line, user/cmd_trace.c) and for a shadow-mode disagreement
 * (pf_shadow_diff_line, user/shadow.c): exact fields, and a hostile Origin
 * (spaces, line breaks, terminal escapes, 0x80-0xff, '\') printed so it
 * can add no field, no line and no escape sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "trace.h"
#include "match.h"
#include "shadow.h"

/* 03:01:12.294410 after midnight, UTC (the tests set TZ=UTC). */
#define TS_NS ((3 * 3600 + 60 + 12) * 1000000000ull + 294410000ull)

/* An IPv4 record 198.18.5.2:58006 -> 198.18.5.1:8080 with origin o. */
static struct pf_trace_rec rec4(const char *o, size_t len)
{
	struct pf_trace_rec t = {
		.ts_ns = TS_NS,
		.stat = PF_STAT_FWD_DENIED,
		.verdict = PF_V_FORWARD,
		.reason = PF_R_ORIGIN,
		.rule = 1,
		.matched = 1,
	};

	t.key.family = 4;
	inet_pton(AF_INET, "198.18.5.2", t.key.caddr);
	inet_pton(AF_INET, "198.18.5.1", t.key.saddr);
	t.key.cport = htons(58006);
	t.key.sport = htons(8080);
	t.origin_len = (__u16)len;
	memcpy(t.origin, o, len);
	return t;
}

/* A plain origin is printed as it is, with every field. */
static void test_trace_plain(void **state)
{
	struct pf_trace_rec t = rec4("https://example.com.evil.test", 29);
	char buf[1024];

	(void)state;
	pf_trace_line(buf, sizeof(buf), &t, 0);
	assert_string_equal(buf,
		"03:01:12.294410 198.18.5.2:58006 -> 198.18.5.1:8080 tc fwd_denied "
		"verdict=forward reason=origin rule=2 origin=https://example.com.evil.test\n");
}

/* Spaces, a line break, an ESC sequence, '\' and bytes 0x80-0xff in the
 * Origin come out as \xNN: still one line, no forged field. */
static void test_trace_hostile_origin(void **state)
{
	static const char o[] = "https://a.test verdict=allow\n"
				"03:00:00.000000 x\x1b[2J\\x41\x80\xff";
	struct pf_trace_rec t = rec4(o, sizeof(o) - 1);
	char buf[1024];

	(void)state;
	pf_trace_line(buf, sizeof(buf), &t, 0);
	assert_string_equal(buf,
		"03:01:12.294410 198.18.5.2:58006 -> 198.18.5.1:8080 tc fwd_denied "
		"verdict=forward reason=origin rule=2 origin=https://a.test\\x20"
		"verdict=allow\\x0a03:00:00.000000\\x20x\\x1b[2J\\x5cx41\\x80\\xff\n");
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

/* A full 64-byte origin of 0xff bytes fits escaped; IPv6 addresses get
 * brackets; no decision, no origin ("-"), an unknown outcome number and
 * an origin length past the record are all printed without overrun. */
static void test_trace_edges(void **state)
{
	struct pf_trace_rec t = rec4("", 0);
	char buf[1024], want[1024], *p;
	int i;

	(void)state;
	memset(t.origin, 0xff, sizeof(t.origin));
	t.origin_len = PF_TRACE_ORIGIN;
	pf_trace_line(buf, sizeof(buf), &t, 0);
	p = strstr(buf, " origin=");
	assert_non_null(p);
	for (i = 0; i < PF_TRACE_ORIGIN; i++)
		memcpy(want + 4 * i, "\\xff", 4);
	strcpy(want + 4 * PF_TRACE_ORIGIN, "\n");
	assert_string_equal(p + 8, want);

	t.origin_len = 1000;
	pf_trace_line(buf, sizeof(buf), &t, 0);
	assert_string_equal(strstr(buf, " origin=") + 8, want);

	t = rec4("", 0);
	t.key.family = 6;
	inet_pton(AF_INET6, "2001:db8::2", t.key.caddr);
	inet_pton(AF_INET6, "2001:db8::1", t.key.saddr);
	t.matched = 0;
	t.xdp = 1;
	t.stat = PF_STAT__MAX + 7;
	pf_trace_line(buf, sizeof(buf), &t, 86400ll * 1000000000ll);
	assert_string_equal(buf,
		"03:01:12.294410 [2001:db8::2]:58006 -> [2001:db8::1]:8080 xdp unknown origin=-\n");
}

/* Shadow mode's line for a disagreement: the client's origin and path
 * and the app's value (an echo of that origin) cannot add a field, end
 * the quoted value, start a line or send a terminal escape. */
static void test_trace_shadow_hostile(void **state)
{
	struct pf_shd_diff d;
	char buf[2048];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.key = rec4("", 0).key;
	d.ts_ns = TS_NS;
	d.field = PF_SHD_F_ACAO;
	strcpy(d.origin, "https://a.test ACAO: ours='x'\n\x1b[2J");
	strcpy(d.target, "GET /v1/x\\y'z");
	strcpy(d.app, "https://a.test' app='ok");
	pf_shadow_diff_line(buf, sizeof(buf), &d, 0);
	assert_string_equal(buf,
		"03:01:12.294410 198.18.5.2:58006 -> 198.18.5.1:8080 shadow response "
		"GET /v1/x\\x5cy'z origin=https://a.test\\x20ACAO:\\x20ours='x'\\x0a\\x1b[2J "
		"ACAO: ours='' app='https://a.test\\x27 app=\\x27ok'\n");
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_plain),
		cmocka_unit_test(test_trace_hostile_origin),
		cmocka_unit_test(test_trace_edges),
		cmocka_unit_test(test_trace_shadow_hostile),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
