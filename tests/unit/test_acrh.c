/*
 * test_acrh.c -- unit tests of the request-header slow path: the
 * daemon's decision for lists over the kernel's limits (user/acrh.c,
 * the datapath's pf_check_headers without the limits), and the
 * matcher's punt (PF_R_ACRH_SLOW) and verdict once the daemon's entry
 * is there (the userspace twin of pf_acrh).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "policy_util.h"

#include "policy.h"
#include "match.h"
#include "acrh.h"
#include "../expect_vary.h"

static const char policy_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - hosts: [api.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [PUT]\n"
	"    headers: [x-h00, x-h01, x-h02, x-h03, x-h04, x-h05, x-h06, x-h07, x-h08, x-h09,\n"
	"              x-h10, x-h11, x-h12, x-h13, x-h14, x-h15, x-h16, x-h17, x-h18, x-h19,\n"
	"              authorization]\n"
	"  - hosts: [any.example.com]\n"
	"    origins: [\"*\"]\n"
	"    methods: [PUT]\n"
	"    headers: [\"*\"]\n"
	"  - hosts: [cred.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [PUT]\n"
	"    headers: [\"*\"]\n"
	"    credentials: true\n";

#define HDR20 "x-h00, x-h01, x-h02, x-h03, x-h04, x-h05, x-h06, x-h07, x-h08, x-h09, " \
	      "x-h10, x-h11, x-h12, x-h13, x-h14, x-h15, x-h16, x-h17, x-h18, x-h19"

static struct pf_compiled comp;

static int setup(void **state)
{
	struct pf_policy pol = {};
	char *errs = NULL;

	(void)state;
	assert_int_equal(load(policy_yaml, &pol, &errs), 0);
	free(errs);
	assert_int_equal(pf_policy_compile(&pol, 0, &comp, stderr), 0);
	pf_policy_free(&pol);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pf_compiled_free(&comp);
	return 0;
}

/* The daemon's verdict on list under rule (0-based). */
static struct pf_acrh_val decide(__u32 rule, const char *list)
{
	struct pf_acrh_src src = { .comp = &comp };
	struct pf_acrh_val v;

	assert_int_equal(pf_acrh_decide(&src, 0, rule, list, (__u32)strlen(list), &v), 0);
	return v;
}

/* 20 listed names: allowed, echoed; with authorization listed too. */
static void test_allowed(void **state)
{
	struct pf_acrh_val v;

	(void)state;
	v = decide(0, HDR20);
	assert_int_equal(v.reason, PF_R_OK);
	assert_int_equal(v.acah, 2);
	assert_int_equal(v.has_authz, 0);
	v = decide(0, HDR20 ", Authorization");
	assert_int_equal(v.reason, PF_R_OK);
	assert_int_equal(v.has_authz, 1);
}

/* No limits: 80 names, 558 bytes. */
static void test_no_limits(void **state)
{
	char list[1000];
	size_t n = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < 80; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%sx-h%02u",
				      i ? ", " : "", i % 20);
	assert_true(n > PF_ACRH_MAX_LEN);
	assert_int_equal(decide(0, list).reason, PF_R_OK);
}

/* The offending name is located exactly (offset in the list). */
static void test_denied(void **state)
{
	static const char list[] = "x-h00, x-h01, x-h02, x-h03, x-h04, x-h05, x-h06, "
		"x-h07, x-h08, x-h09, x-h10, x-h11, x-h12, x-h13, x-h14, x-h15, x-h16, "
		"x-h17, X-Evil, x-h19";
	struct pf_acrh_val v;

	(void)state;
	v = decide(0, list);
	assert_int_equal(v.reason, PF_R_HEADER);
	assert_int_equal(v.bad_off, strstr(list, "X-Evil") - list);
	assert_int_equal(v.bad_len, 6);
	/* two names without a comma: not a list */
	v = decide(0, HDR20 ", x-h00 x-h01");
	assert_int_equal(v.reason, PF_R_HEADER_BAD);
	assert_int_equal(v.bad_off, sizeof(HDR20 ", x-h00 ") - 1);
}

/* "*": the wildcard answer without credentials, never authorization;
 * echoed with credentials. */
static void test_wildcard(void **state)
{
	static const char list[] = HDR20 ", authorization";
	struct pf_acrh_val v;

	(void)state;
	v = decide(1, HDR20);
	assert_int_equal(v.reason, PF_R_OK);
	assert_int_equal(v.acah, 1);
	v = decide(1, list);
	assert_int_equal(v.reason, PF_R_AUTHZ_WILDCARD);
	assert_int_equal(v.bad_off, strstr(list, "authorization") - list);
	v = decide(2, HDR20);
	assert_int_equal(v.reason, PF_R_OK);
	assert_int_equal(v.acah, 2);
}

/* Bad arguments are refused. */
static void test_bad_args(void **state)
{
	struct pf_acrh_src src = { .comp = &comp };
	static char big[PF_ACRH_SLOW_MAX + 1];
	struct pf_acrh_val v;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(pf_acrh_decide(&src, 0, 0, "", 0, &v), -EINVAL);
	assert_int_equal(pf_acrh_decide(&src, 0, 0, big, PF_ACRH_SLOW_MAX, &v), -EINVAL);
	assert_int_equal(pf_acrh_decide(&src, 0, PF_MAX_RULES, "a", 1, &v), -EINVAL);
	assert_int_equal(pf_acrh_decide(&src, 1, 0, "a", 1, &v), -ENOENT);
}

/* The matcher: punts the list (PF_R_ACRH_SLOW) with its key; with the
 * daemon's entry it answers, echoing the list; a different list (one
 * more byte) is punted again. */
static void test_matcher(void **state)
{
	static __u8 buf[PF_REQ_BUF], resp[2 * PF_RESP_MAX];
	static const char req[] =
		"OPTIONS /x HTTP/1.1\r\nHost: api.example.com\r\n"
		"Origin: https://app.example.com\r\n"
		"Access-Control-Request-Method: PUT\r\n"
		"Access-Control-Request-Headers: " HDR20 "\r\n\r\n";
	static const char want[] =
		"HTTP/1.1 204 No Content\r\n"
		"Access-Control-Allow-Origin: https://app.example.com\r\n"
		"Access-Control-Allow-Headers: " HDR20 "\r\n"
		"Access-Control-Allow-Methods: PUT\r\n"
		PF_EXPECT_VARY
		"\r\n";
	struct pf_acrh_key key;
	struct pf_acrh_val v;
	struct pf_req r;
	struct pf_match m;
	int rlen;

	(void)state;
	memcpy(buf, req, sizeof(req) - 1);
	assert_int_equal(pf_user_decide(&comp, buf, sizeof(req) - 1, NULL, &r, &m, resp, &rlen),
			 PF_P_OK);
	assert_int_equal(m.verdict, PF_V_PUNT);
	assert_int_equal(m.reason, PF_R_ACRH_SLOW);
	assert_int_equal(m.ak.len, sizeof(HDR20) - 1);
	assert_memory_equal(m.ak.v, HDR20, sizeof(HDR20) - 1);
	pf_acrh_key_make(&key, 0, 0, HDR20, sizeof(HDR20) - 1);
	assert_memory_equal(&key, &m.ak, sizeof(key));
	v = decide(0, HDR20);
	pf_user_acrh_learn(&key, &v);
	assert_int_equal(pf_user_decide(&comp, buf, sizeof(req) - 1, NULL, &r, &m, resp, &rlen),
			 PF_P_OK);
	assert_int_equal(m.verdict, PF_V_ALLOW);
	assert_int_equal(rlen, sizeof(want) - 1);
	assert_memory_equal(resp, want, sizeof(want) - 1);
	/* "x-h19" -> "x-h1 " : another value, not decided */
	buf[strstr(req, "x-h19") - req + 4] = ' ';
	pf_user_decide(&comp, buf, sizeof(req) - 1, NULL, &r, &m, resp, &rlen);
	assert_int_equal(m.reason, PF_R_ACRH_SLOW);
	pf_user_acrh_forget();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_no_limits),
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_matcher),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
