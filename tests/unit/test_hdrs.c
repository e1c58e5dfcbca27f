/*
 * test_hdrs.c -- the request-header name table (struct pf_hdr_tab, the
 * pf_hdrs map): what the compiler puts in it (user/policy_compile.c) and
 * how the matcher reads it (include/pf_match_acr.h, pf_hdr_find) -- a hit
 * only on the exact bytes (any case), probing past other names of the
 * same home entry, names it cannot hold (too long, too many for their
 * probe sequence) decided by the pf_tokens look-up as before, and every
 * decision the same as with no table at all; the same for the methods
 * the table holds beside the names.
 */
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

#define LONG40 "x-a-very-long-header-name-over-32-bytes1"   /* 40 bytes */

/* Compile a one-rule policy allowing methods and headers (YAML list
 * bodies) into slot. */
static void compile_mh(const char *methods, const char *headers, __u32 slot,
		       struct pf_compiled *c)
{
	struct pf_policy pol = {};
	char yaml[4096], *errs = NULL;

	snprintf(yaml, sizeof(yaml),
		 "ports: [8080]\n"
		 "rules:\n"
		 "  - origins: [https://app.example.com]\n"
		 "    methods: [%s]\n"
		 "    headers: [%s]\n"
		 "    on_deny: reject\n", methods, headers);
	assert_int_equal(load(yaml, &pol, &errs), 0);
	free(errs);
	assert_int_equal(pf_policy_compile(&pol, slot, c, stderr), 0);
	pf_policy_free(&pol);
}

/* The same allowing the method PUT. */
static void compile(const char *headers, __u32 slot, struct pf_compiled *c)
{
	compile_mh("PUT", headers, slot, c);
}

/* Decide a preflight asking for method and acrh under c; returns the
 * reason (the verdict must be ALLOW for PF_R_OK, REJECT otherwise); *bad
 * gets the offending method or name (NUL-terminated, bad_sz bytes) if
 * any. */
static __u32 decide_m(const struct pf_compiled *c, const char *method, const char *acrh,
		      char *bad, size_t bad_sz)
{
	static __u8 buf[PF_REQ_BUF], resp[2 * PF_RESP_MAX];
	struct pf_req r;
	struct pf_match m;
	int n, rlen;

	memset(buf, 0, sizeof(buf));
	n = snprintf((char *)buf, PF_REQ_MAX + 1,
		     "OPTIONS /x HTTP/1.1\r\nHost: api.example.com\r\n"
		     "Origin: https://app.example.com\r\n"
		     "Access-Control-Request-Method: %s\r\n"
		     "Access-Control-Request-Headers: %s\r\n\r\n", method, acrh);
	assert_true(n > 0 && n <= PF_REQ_MAX);
	assert_int_equal(pf_user_decide(c, buf, (__u32)n, NULL, &r, &m, resp, &rlen),
			 PF_P_OK);
	assert_int_equal(m.verdict, m.reason == PF_R_OK ? PF_V_ALLOW : PF_V_REJECT);
	if (bad)
		snprintf(bad, bad_sz, "%.*s", m.bad.len, (const char *)buf + m.bad.off);
	return m.reason;
}

/* decide_m asking for PUT. */
static __u32 decide(const struct pf_compiled *c, const char *acrh, char *bad, size_t bad_sz)
{
	return decide_m(c, "PUT", acrh, bad, bad_sz);
}

/* The entry holding name in t, or NULL. */
static const struct pf_hdr_ent *entry_of(const struct pf_hdr_tab *t, const char *name)
{
	unsigned i;

	for (i = 0; i < PF_HDR_ENTRIES; i++)
		if (t->e[i].len == strlen(name) && !memcmp(t->e[i].s, name, t->e[i].len))
			return &t->e[i];
	return NULL;
}

/* The home entry of a lower-case name of up to PF_HDR_NAME bytes. */
static unsigned home(const char *name)
{
	return (unsigned)pf_hdr_home_of(name, strlen(name));
}

/* n names "x-hNNNNN" (same length) whose home entry is the same. */
static void colliding(char names[][16], unsigned n)
{
	unsigned i, k = 0, want = 0;
	char s[16];

	for (i = 0; k < n && i < 1000000; i++) {
		snprintf(s, sizeof(s), "x-h%05u", i);
		if (k == 0)
			want = home(s);
		if (home(s) != want)
			continue;
		memcpy(names[k++], s, sizeof(s));
	}
	assert_int_equal(k, n);
}

/* Every name of up to PF_HDR_NAME bytes is in the table, lower case,
 * zero-padded, with its rules, in its probe sequence; a longer one is not
 * (pf_tokens holds it) and the table is still complete. */
static void test_contents(void **state)
{
	static struct pf_compiled c;
	const struct pf_hdr_ent *e;
	const char *names[] = { "content-type", "x-request-id", "x-32-bytes-name-of-exactly-32-by" };
	unsigned i, j, k;

	(void)state;
	assert_int_equal(strlen(names[2]), PF_HDR_NAME);
	compile("Content-Type, X-Request-ID, x-32-bytes-name-of-exactly-32-by, " LONG40, 0, &c);
	assert_int_equal(c.hdrs.complete, 1);
	assert_int_equal(c.hdrs.n, 3);
	for (i = 0; i < 3; i++) {
		e = entry_of(&c.hdrs, names[i]);
		assert_non_null(e);
		assert_int_equal(e->rules, 1);
		for (k = strlen(names[i]); k < PF_HDR_NAME; k++)
			assert_int_equal(e->s[k], 0);
		j = (unsigned)(e - c.hdrs.e);
		assert_true(((j - home(names[i])) & (PF_HDR_ENTRIES - 1)) < PF_HDR_PROBE);
	}
	assert_null(entry_of(&c.hdrs, "Content-Type"));
	for (i = 0; i < PF_HDR_ENTRIES; i++)
		assert_true(c.hdrs.e[i].len <= PF_HDR_NAME);
	pf_compiled_free(&c);
}

/* Any case matches; prefixes, extensions and names that differ in one
 * byte of any word do not; a name over PF_HDR_NAME bytes still does
 * (pf_tokens). */
static void test_exact(void **state)
{
	static struct pf_compiled c;
	char bad[128];

	(void)state;
	compile("content-type, x-request-id, " LONG40, 0, &c);
	assert_int_equal(decide(&c, "Content-Type, X-REQUEST-ID", NULL, 0), PF_R_OK);
	assert_int_equal(decide(&c, "x-request-id," LONG40, NULL, 0), PF_R_OK);
	assert_int_equal(decide(&c, "X-A-Very-Long-Header-Name-Over-32-Bytes1", NULL, 0), PF_R_OK);
	assert_int_equal(decide(&c, "content-type, x-request", bad, sizeof(bad)), PF_R_HEADER);
	assert_string_equal(bad, "x-request");
	assert_int_equal(decide(&c, "x-request-idx", bad, sizeof(bad)), PF_R_HEADER);
	assert_string_equal(bad, "x-request-idx");
	assert_int_equal(decide(&c, "content-typf", bad, sizeof(bad)), PF_R_HEADER);
	assert_string_equal(bad, "content-typf");
	assert_int_equal(decide(&c, "x-request-ie", bad, sizeof(bad)), PF_R_HEADER);
	assert_int_equal(decide(&c, "y-request-id", bad, sizeof(bad)), PF_R_HEADER);
	assert_int_equal(decide(&c, "x-a-very-long-header-name-over-32-bytes2", bad,
				sizeof(bad)), PF_R_HEADER);
	pf_compiled_free(&c);
}

/* Names of one home entry: the first PF_HDR_PROBE fill its probe
 * sequence, the next one does not fit (the table is then incomplete and
 * pf_tokens decides it); a name of that home, of the same length, that
 * the policy does not list is denied though every entry probed holds a
 * name of its home and length. */
static void test_collisions(void **state)
{
	char names[PF_HDR_PROBE + 2][16], list[256] = "", bad[32];
	static struct pf_compiled c;
	unsigned i;

	(void)state;
	colliding(names, PF_HDR_PROBE + 2);
	/* all of them fit when there are PF_HDR_PROBE */
	for (i = 0; i < PF_HDR_PROBE; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", names[i]);
	compile(list, 0, &c);
	assert_int_equal(c.hdrs.complete, 1);
	assert_int_equal(c.hdrs.n, PF_HDR_PROBE);
	for (i = 0; i < PF_HDR_PROBE; i++)
		assert_int_equal(decide(&c, names[i], NULL, 0), PF_R_OK);
	assert_int_equal(decide(&c, names[PF_HDR_PROBE], bad, sizeof(bad)), PF_R_HEADER);
	assert_string_equal(bad, names[PF_HDR_PROBE]);
	pf_compiled_free(&c);

	/* one more: it is left out, the table incomplete */
	snprintf(list + strlen(list), sizeof(list) - strlen(list), ", %s", names[PF_HDR_PROBE]);
	compile(list, 0, &c);
	assert_int_equal(c.hdrs.complete, 0);
	assert_int_equal(c.hdrs.n, PF_HDR_PROBE);
	for (i = 0; i <= PF_HDR_PROBE; i++)
		assert_int_equal(decide(&c, names[i], NULL, 0), PF_R_OK);
	assert_int_equal(decide(&c, names[PF_HDR_PROBE + 1], bad, sizeof(bad)), PF_R_HEADER);
	assert_string_equal(bad, names[PF_HDR_PROBE + 1]);
	pf_compiled_free(&c);
}

/* The table decides when it is complete (an entry's rules are what
 * counts, no token look-up behind a hit or a miss), and only then: with
 * complete clear, a name missing from it goes to pf_tokens. */
static void test_table_decides(void **state)
{
	static struct pf_compiled c;
	struct pf_hdr_ent *e;

	(void)state;
	compile("content-type, x-request-id", 0, &c);
	assert_int_equal(decide(&c, "content-type", NULL, 0), PF_R_OK);
	e = (struct pf_hdr_ent *)entry_of(&c.hdrs, "content-type");
	assert_non_null(e);
	e->rules = 0;   /* a hit with no rules: denied, pf_tokens not asked */
	assert_int_equal(decide(&c, "content-type", NULL, 0), PF_R_HEADER);
	e->len = 0;     /* a miss in a complete table: denied */
	assert_int_equal(decide(&c, "content-type", NULL, 0), PF_R_HEADER);
	c.hdrs.complete = 0;  /* a miss in an incomplete one: pf_tokens */
	assert_int_equal(decide(&c, "content-type", NULL, 0), PF_R_OK);
	pf_compiled_free(&c);
}

/* The table of another slot is never read (a reload compiles the next
 * policy into the other slot). */
static void test_slots(void **state)
{
	static struct pf_compiled a, b;

	(void)state;
	compile("x-only-in-a", 0, &a);
	compile("x-only-in-b", 1, &b);
	assert_int_equal(decide(&a, "x-only-in-a", NULL, 0), PF_R_OK);
	assert_ptr_equal(pf_user_hdrs_lookup(0), &a.hdrs);
	assert_null(pf_user_hdrs_lookup(1));
	assert_int_equal(decide(&a, "x-only-in-b", NULL, 0), PF_R_HEADER);
	assert_int_equal(decide(&b, "x-only-in-b", NULL, 0), PF_R_OK);
	assert_ptr_equal(pf_user_hdrs_lookup(1), &b.hdrs);
	assert_int_equal(decide(&b, "x-only-in-a", NULL, 0), PF_R_HEADER);
	pf_compiled_free(&a);
	pf_compiled_free(&b);
}

/* Every decision (reason and offending name) is the same with the table
 * as with a zeroed one, i.e. pf_tokens alone: names of the policy in
 * any case, prefixes, one byte changed, names of the same home entry,
 * names too long for the table, in lists of up to three. */
static void test_same_as_tokens(void **state)
{
	char names[PF_HDR_PROBE + 3][16], list[512] = "", acrh[256], b1[128], b2[128];
	const char *extra[] = { "content-type", "Content-Type", "content-typ", "content-typee",
				"x-request-id", "X-Request-Id", LONG40, "authorization",
				"x-a-very-long-header-name-over-32-bytes2", "a", "x" };
	const char *pool[64];
	static struct pf_compiled c, z;
	unsigned i, j, k, np = 0;

	(void)state;
	colliding(names, PF_HDR_PROBE + 3);
	for (i = 0; i < PF_HDR_PROBE + 1; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s, ", names[i]);
	strcat(list, "content-type, x-request-id, authorization, " LONG40);
	compile(list, 0, &c);
	compile(list, 0, &z);
	assert_int_equal(c.hdrs.complete, 0);
	memset(&z.hdrs, 0, sizeof(z.hdrs));
	for (i = 0; i < PF_HDR_PROBE + 3; i++)
		pool[np++] = names[i];
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		pool[np++] = extra[i];
	for (i = 0; i < np; i++)
		for (j = 0; j < np; j++)
			for (k = 0; k < np; k += 3) {
				snprintf(acrh, sizeof(acrh), "%s, %s,%s", pool[i], pool[j], pool[k]);
				assert_int_equal(decide(&c, acrh, b1, sizeof(b1)),
						 decide(&z, acrh, b2, sizeof(b2)));
				assert_string_equal(b1, b2);
			}
	/* and with a complete table: the same */
	pf_compiled_free(&c);
	pf_compiled_free(&z);
	compile("content-type, x-request-id, " LONG40, 0, &c);
	compile("content-type, x-request-id, " LONG40, 0, &z);
	assert_int_equal(c.hdrs.complete, 1);
	memset(&z.hdrs, 0, sizeof(z.hdrs));
	for (i = 0; i < np; i++)
		for (j = 0; j < np; j++) {
			snprintf(acrh, sizeof(acrh), "%s,%s", pool[i], pool[j]);
			assert_int_equal(decide(&c, acrh, b1, sizeof(b1)),
					 decide(&z, acrh, b2, sizeof(b2)));
			assert_string_equal(b1, b2);
		}
	pf_compiled_free(&c);
	pf_compiled_free(&z);
}

/* Names with a symbol tchar ('_', '~', '.' ...): the list scan hands
 * such a name to its global scan and the look-up to pf_tokens (the
 * table is not asked: pf_name_scan keeps no words for it); allowed,
 * denied and malformed the same as with a zeroed table, wherever the
 * symbol sits (first byte, first word, a later word, past PF_HDR_NAME). */
static void test_symbol_names(void **state)
{
	const char *acrh[] = {
		"x_trace-id", "X_Trace-ID", "content-type, x_trace-id,x-a.b~c",
		"x_trace-i", "x_trace-idd", "_x", "x-a.b~c, content-typ",
		"content-type_, x_trace-id", "x-y_z-long-header-name-over-32-bytes",
		"x-y_z-long-header-name-over-32-bytez", "x_trace-id x-a.b~c",
		"x_trace-id,, x-a.b~c", "x_trace-id ,x-a.b~c", "a|b, x-a.b~c",
	};
	const __u32 want[] = {
		PF_R_OK, PF_R_OK, PF_R_OK, PF_R_HEADER, PF_R_HEADER, PF_R_HEADER,
		PF_R_HEADER, PF_R_HEADER, PF_R_OK, PF_R_HEADER, PF_R_HEADER_BAD,
		PF_R_OK, PF_R_OK, PF_R_HEADER,
	};
	static struct pf_compiled c, z;
	char b1[128], b2[128];
	unsigned i;

	(void)state;
	_Static_assert(sizeof(acrh) / sizeof(acrh[0]) == sizeof(want) / sizeof(want[0]),
		       "one reason per list");
	compile("content-type, x_trace-id, x-a.b~c, x-y_z-long-header-name-over-32-bytes", 0, &c);
	compile("content-type, x_trace-id, x-a.b~c, x-y_z-long-header-name-over-32-bytes", 0, &z);
	memset(&z.hdrs, 0, sizeof(z.hdrs));
	for (i = 0; i < sizeof(acrh) / sizeof(acrh[0]); i++) {
		assert_int_equal(decide(&c, acrh[i], b1, sizeof(b1)), want[i]);
		assert_int_equal(decide(&z, acrh[i], b2, sizeof(b2)), want[i]);
		assert_string_equal(b1, b2);
	}
	assert_int_equal(decide(&c, "x_trace-idd", b1, sizeof(b1)), PF_R_HEADER);
	assert_string_equal(b1, "x_trace-idd");
	pf_compiled_free(&c);
	pf_compiled_free(&z);
}

/* The method table (m of struct pf_hdr_tab): each method of up to
 * PF_HDR_NAME bytes, exact bytes (methods are case-sensitive), with its
 * rules; a longer one in pf_tokens only. The table decides when complete
 * (a hit's rules, a miss denied), pf_tokens otherwise; every decision
 * the same as with a zeroed table (pf_tokens alone). */
static void test_methods(void **state)
{
	static const char long40[] = "X-A-VERY-LONG-METHOD-NAME-OVER-32-BYTES1";
	const char *pool[] = { "PUT", "put", "Put", "PU", "PUTT", "patch", "PATCH", "DELETE",
			       "GET", "POST", "HEAD", long40, "X-A-VERY-LONG-METHOD-NAME-OVER-32-BYTES2",
			       "CONNECT", "trace", "P" };
	char methods[256], b1[128], b2[128];
	const struct pf_hdr_ent *e = NULL;
	static struct pf_compiled c, z;
	unsigned i, k;

	(void)state;
	assert_int_equal(strlen(long40), 40);
	snprintf(methods, sizeof(methods), "PUT, patch, DELETE, %s", long40);
	compile_mh(methods, "content-type", 0, &c);
	assert_int_equal(c.hdrs.m_complete, 1);
	assert_int_equal(c.hdrs.m_n, 3);
	for (i = 0; i < PF_METH_ENTRIES; i++) {
		assert_true(c.hdrs.m[i].len <= PF_HDR_NAME);
		if (c.hdrs.m[i].len == 3 && !memcmp(c.hdrs.m[i].s, "PUT", 3))
			e = &c.hdrs.m[i];
		for (k = c.hdrs.m[i].len; k < PF_HDR_NAME; k++)
			assert_int_equal(c.hdrs.m[i].s[k], 0);
	}
	assert_non_null(e);
	assert_int_equal(e->rules, 1);
	assert_int_equal(decide_m(&c, "PUT", "content-type", NULL, 0), PF_R_OK);
	assert_int_equal(decide_m(&c, "patch", "", NULL, 0), PF_R_OK);
	assert_int_equal(decide_m(&c, long40, "", NULL, 0), PF_R_OK);
	assert_int_equal(decide_m(&c, "put", "", b1, sizeof(b1)), PF_R_METHOD);
	assert_string_equal(b1, "put");
	assert_int_equal(decide_m(&c, "PATCH", "", NULL, 0), PF_R_METHOD);
	assert_int_equal(decide_m(&c, "PUTT", "", NULL, 0), PF_R_METHOD);
	/* every decision as with pf_tokens alone, complete or not */
	compile_mh(methods, "content-type", 0, &z);
	memset(z.hdrs.m, 0, sizeof(z.hdrs.m));
	z.hdrs.m_complete = z.hdrs.m_n = 0;
	for (k = 0; k < 2; k++) {
		c.hdrs.m_complete = !k;
		for (i = 0; i < sizeof(pool) / sizeof(pool[0]); i++) {
			assert_int_equal(decide_m(&c, pool[i], "content-type", b1, sizeof(b1)),
					 decide_m(&z, pool[i], "content-type", b2, sizeof(b2)));
			assert_string_equal(b1, b2);
		}
	}
	/* a complete table decides: a hit's rules, a miss denied; an
	 * incomplete one leaves a miss to pf_tokens */
	c.hdrs.m_complete = 1;
	((struct pf_hdr_ent *)e)->rules = 0;
	assert_int_equal(decide_m(&c, "PUT", "", NULL, 0), PF_R_METHOD);
	((struct pf_hdr_ent *)e)->len = 0;
	assert_int_equal(decide_m(&c, "PUT", "", NULL, 0), PF_R_METHOD);
	c.hdrs.m_complete = 0;
	assert_int_equal(decide_m(&c, "PUT", "", NULL, 0), PF_R_OK);
	pf_compiled_free(&c);
	pf_compiled_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contents),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_table_decides),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_same_as_tokens),
		cmocka_unit_test(test_symbol_names),
		cmocka_unit_test(test_methods),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
