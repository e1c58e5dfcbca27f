/*
 * test_offload.c -- unit tests of the response offload's datapath code
 * (issue 13), compiled by gcc: the request-head parser entry point
 * (pf_parse_head: framing of any request), the entry a request gets
 * (pf_ofl_entry, against compiled policies), the response-head scanner
 * (pf_rhead_scan: every cut of a head is INCOMPLETE, the refusals), the
 * edit of a response head (pf_ofl_plan applied the SK_MSG program's way:
 * exact bytes for every kind, replace/keep, Vary merging), the chunked
 * framing scans, and the policy keys (FILE:LINE:COL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "policy.h"
#include "ofl_match.h"
#include "shadow.h"
#include "policy_util.h"

static __u8 buf[PF_REQ_BUF + 8];

/* Copy s into buf (the rest zero); returns its length. */
static __u32 put(const char *s)
{
	size_t n = strlen(s);

	memset(buf, 0, sizeof(buf));
	memcpy(buf, s, n);
	return (__u32)n;
}

/* ---- pf_parse_head ---- */

static void test_parse_head(void **state)
{
	struct pf_req r;
	const char *get = "GET /v1/items?x=1 HTTP/1.1\r\nHost: a\r\nOrigin: https://o.test\r\n\r\n";
	__u32 n;

	(void)state;
	n = put(get);
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_int_equal(r.len, n);
	assert_int_equal(r.flags & (PF_REQF_CLEN | PF_REQF_TE | PF_REQF_M_HEAD), 0);
	assert_int_equal(r.origin.len, 14);
	/* the next request (pipelined) or a body may follow */
	n = put("PUT /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n{\"a\":");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_int_equal(r.len, n - 5);
	assert_true(r.flags & PF_REQF_CLEN);
	assert_int_equal(r.clen, 100000);
	n = put("HEAD /blob HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_true(r.flags & PF_REQF_M_HEAD);
	n = put("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_true(r.flags & PF_REQF_TE);
	n = put("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_true(r.flags & PF_REQF_UPGRADE);
	n = put("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_true(r.flags & PF_REQF_UPGRADE);
	/* a 16-byte method is the longest taken */
	n = put("ABCDEFGHIJKLMNOP / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_int_equal(r.path.off, 17);
	n = put("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_BAD);
	/* the same Content-Length twice is one; two different ones are not */
	n = put("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_OK);
	assert_int_equal(r.clen, 5);
	n = put("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_BAD);
	n = put("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_BAD);
	n = put("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
	assert_int_equal(pf_parse_head(buf, n, &r), PF_P_VERSION);
	/* every cut of a head is incomplete */
	n = put(get);
	for (__u32 k = 0; k < n; k++)
		assert_int_equal(pf_parse_head(buf, k, &r), PF_P_INCOMPLETE);
}

/* ---- pf_ofl_entry ---- */

static const char ofl_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - paths: [/v1/]\n"
	"    origins: [https://app.example.com, \"https://*.example.org\"]\n"
	"    methods: [GET, PUT]\n"
	"    credentials: true\n"
	"    responses: true\n"
	"    expose_headers: [x-total, X-Request-Id]\n"
	"  - paths: [/public/]\n"
	"    origins: [\"*\"]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"  - paths: [/keep/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"    app_headers: keep\n"
	"  - paths: [/off/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n";

static void compile_yaml(const char *yaml, struct pf_policy *pol, struct pf_compiled *c)
{
	char *errs = NULL;

	assert_int_equal(load(yaml, pol, &errs), 0);
	free(errs);
	assert_int_equal(pf_policy_compile(pol, 1, c, stderr), 0);
}

static void entry_of(const struct pf_compiled *c, const char *req, struct pf_ofl_ent *e)
{
	struct pf_req r;
	static struct pf_match m;

	assert_int_equal(pf_user_ofl_entry(c, buf, put(req), &r, &m, e), PF_P_OK);
}

#define REQ(path, hdrs) "GET " path " HTTP/1.1\r\nHost: api\r\n" hdrs "\r\n"

static void test_entry(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_yaml, &pol, &c);
	assert_true(c.ofl_any);
	entry_of(&c, REQ("/v1/a", "Origin: https://app.example.com\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	assert_int_equal(e.rule, 0);
	assert_int_equal(e.slot, 1);
	assert_int_equal(e.flags, PF_OFL_E_CRED);
	assert_memory_equal(e.origin, "https://app.example.com", e.origin_len);
	entry_of(&c, REQ("/v1/a", "Origin: https://a.b.example.org\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	assert_int_equal(e.origin_len, 23);
	/* denied origins, look-alikes and no Origin: Vary only */
	entry_of(&c, REQ("/v1/a", "Origin: https://example.org\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	entry_of(&c, REQ("/v1/a", "Origin: https://app.example.com.evil.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	entry_of(&c, REQ("/v1/a", ""), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	/* "*": ACAO * whatever the origin */
	entry_of(&c, REQ("/public/x", "Origin: https://evil.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_STAR);
	assert_int_equal(e.rule, 1);
	entry_of(&c, REQ("/keep/x", "Origin: https://app.example.com\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	assert_int_equal(e.flags, PF_OFL_E_KEEP);
	/* responses not enabled, or no rule: untouched */
	entry_of(&c, REQ("/off/x", "Origin: https://app.example.com\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	entry_of(&c, REQ("/other", "Origin: https://app.example.com\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	entry_of(&c, "HEAD /v1/a HTTP/1.1\r\nHost: api\r\nOrigin: https://app.example.com\r\n\r\n", &e);
	assert_int_equal(e.flags, PF_OFL_E_CRED | PF_OFL_E_HEAD);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* An origin only a regex decides is the daemon's (the kernel has no
 * verdict until it learns one): its response gets Vary under the first
 * applicable rule and the recorder teaches the daemon (PF_OFL_E_LEARN);
 * no Origin at all on such a path is Vary too, never untouched. */
static const char ofl_regex_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - paths: [/rx/]\n"
	"    origins: [{regex: '^https://pr-[0-9]+\\.preview\\.test$'}]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"  - paths: [/rxoff/]\n"
	"    origins: [{regex: '^https://pr-[0-9]+\\.preview\\.test$'}]\n"
	"    methods: [GET]\n";

static void test_entry_regex(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_regex_yaml, &pol, &c);
	entry_of(&c, REQ("/rx/a", ""), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.flags & PF_OFL_E_LEARN, 0);
	entry_of(&c, REQ("/rx/a", "Origin: https://pr-7.preview.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.rule, 0);
	assert_true(e.flags & PF_OFL_E_LEARN);
	entry_of(&c, REQ("/rx/a", "Origin: https://evil.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_true(e.flags & PF_OFL_E_LEARN);
	/* responses: false: untouched, and nothing to learn for the offload */
	entry_of(&c, REQ("/rxoff/a", "Origin: https://pr-7.preview.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	assert_int_equal(e.flags & PF_OFL_E_LEARN, 0);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* ---- pf_rhead_scan ---- */

#define RH200 "HTTP/1.1 200 OK\r\n"

static void test_rhead(void **state)
{
	static const struct {
		const char *head;
		__u8 origin;
	} varies[] = {
		{ RH200 "Vary: accept, ORIGIN\r\n\r\n", 1 },
		{ RH200 "Vary: *\r\n\r\n", 1 },
		{ RH200 "Vary: Origins, X-Origin\r\n\r\n", 0 },
		{ RH200 "Vary: oRIGIn\r\n\r\n", 1 },
		{ RH200 "Vary: Accept-Encoding\r\nVary: Origins\r\nVary: X-Origin\r\n\r\n", 0 },
		{ RH200 "Vary: Accept-Encoding\r\nVary: Origin\r\n\r\n", 1 },
		{ RH200 "Vary: Accept-Encoding-And-More,*\r\n\r\n", 1 },
	};
	static struct pf_rhead h;
	const char *resp = RH200 "Content-Type: text/plain\r\nContent-Length: 12\r\n"
			   "Vary: Accept-Encoding\r\nAccess-Control-Allow-Origin: *\r\n"
			   "access-control-expose-headers: a\r\n\r\nbody...";
	__u32 n, k;

	(void)state;
	n = put(resp);
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.status_end, 17);
	assert_int_equal(h.len, n - 7);
	assert_true(h.has_clen);
	assert_int_equal(h.clen, 12);
	assert_int_equal(h.te, PF_RH_TE_NONE);
	assert_int_equal(h.n_vary, 1);
	assert_false(h.vary_origin);
	assert_int_equal(h.n_ac, 2);
	assert_int_equal(h.n_rm, 3);
	assert_int_equal(h.rm_vary, 1);
	assert_int_equal(h.ac_seen, (1u << PF_RH_ACAO) | (1u << PF_RH_ACEH));
	assert_memory_equal(buf + h.val[PF_RH_ACAO].off, "*", h.val[PF_RH_ACAO].len);
	assert_memory_equal(buf + h.rm[0].off, "Vary: Accept-Encoding\r\n", h.rm[0].len);
	for (k = 0; k < h.len; k++)
		assert_int_equal(pf_rhead_scan(buf, k, &h), PF_RH_INCOMPLETE);
	/* Vary lists Origin or "*" -- one element of up to 16 bytes is
	 * decided by pf_rh_vary_one, the others by the byte loop */
	for (k = 0; k < sizeof(varies) / sizeof(varies[0]); k++) {
		n = put(varies[k].head);
		assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
		assert_int_equal(h.vary_origin, varies[k].origin);
	}
	/* framing */
	n = put("HTTP/1.1 204\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
	assert_int_equal(h.status, 204);
	n = put("HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
	assert_int_equal(h.te, PF_RH_TE_CHUNKED);
	n = put(RH200 "Transfer-Encoding: chunked, gzip\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
	assert_int_equal(h.te, PF_RH_TE_OTHER);
	n = put("HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
	assert_int_equal(h.status, 100);
	/* refused: not left to guesswork */
	n = put(RH200 "Content-Length: 1\r\nContent-Length: 2\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
	n = put(RH200 "X-A: 1\r\n folded\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
	n = put(RH200 "X-A: a\tb\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
	n = put(RH200 "X-A: 1\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
	n = put("HTTP/2 200\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
	n = put("hello world, not http\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
	n = put("HTTP/1.1 20x OK\r\n\r\n");
	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
}

/* The limits of a header line's scans (pf_rh_line): the name's 64
 * bytes, the value's word scan inline for its first 64 bytes and by the
 * global scan after them, up to PF_RHEAD_LINE_MAX. At every value length
 * across the inline part's end the same value and line, an HT or DEL
 * anywhere in it refused, every cut incomplete; a CTL or DEL in the name
 * refused; the longest value (1023 bytes after the colon) behind the
 * longest name (63 bytes) against one byte more; and a longer value
 * behind a short name, cut anywhere. Fails with the value's limit a
 * byte short (colon + PF_RHEAD_LINE_MAX), and with the line-end scan from the
 * line's start tried in docs/offload.md (Measurement) if its limit is
 * 64 bytes short or its end not clamped to the value's limit. */
static void test_rhead_line_end(void **state)
{
	static const char *const bad_names[] = {
		RH200 "X-\x01Long: 1\r\n\r\n", RH200 "X-\x7fLong: 1\r\n\r\n",
		RH200 "X-Long\r: 1\r\n\r\n",
	};
	static char head[PF_RHEAD_MAX];
	static struct pf_rhead h;
	const char *name = "Access-Control-Expose-Headers: ";
	__u32 n, v, k, pre = 17 + 31;

	(void)state;
	for (v = 1; v <= 100; v++) {
		memset(head, 0, sizeof(head));
		strcpy(head, RH200);
		strcat(head, name);
		memset(head + pre, 'x', v);
		strcpy(head + pre + v, "\r\nServer: a\r\n\r\n");
		n = put(head);
		assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
		assert_int_equal(h.len, n);
		assert_int_equal(h.val[PF_RH_ACEH].off, pre);
		assert_int_equal(h.val[PF_RH_ACEH].len, v);
		assert_int_equal(h.rm[0].len, 31 + v + 2);
		for (k = 0; k < v; k++) {
			buf[pre + k] = '\t';
			assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
			buf[pre + k] = 0x7f;
			assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_BAD);
			buf[pre + k] = 'x';
		}
		for (k = 17; k < n; k++)
			assert_int_equal(pf_rhead_scan(buf, k, &h), PF_RH_INCOMPLETE);
	}
	for (k = 0; k < sizeof(bad_names) / sizeof(bad_names[0]); k++)
		assert_int_equal(pf_rhead_scan(buf, put(bad_names[k]), &h), PF_RH_BAD);
	for (v = PF_RHEAD_LINE_MAX - 1; v <= PF_RHEAD_LINE_MAX; v++) {
		memset(head, 0, sizeof(head));
		strcpy(head, RH200);
		memset(head + 17, 'n', 63);
		head[17 + 63] = ':';
		memset(head + 17 + 64, 'x', v);
		strcpy(head + 17 + 64 + v, "\r\n\r\n");
		n = put(head);
		assert_int_equal(pf_rhead_scan(buf, n, &h),
				 v < PF_RHEAD_LINE_MAX ? PF_RH_OK : PF_RH_TOO_LONG);
	}
	/* a value over PF_RHEAD_LINE_MAX behind a short name: too long once the
	 * bytes at hand reach 2 past the limit, incomplete before */
	memset(head, 0, sizeof(head));
	strcpy(head, RH200 "A:");
	memset(head + 19, 'x', PF_RHEAD_LINE_MAX + 100);
	strcpy(head + 19 + PF_RHEAD_LINE_MAX + 100, "\r\n\r\n");
	put(head);
	for (n = 19 + PF_RHEAD_LINE_MAX - 8; n < 19 + PF_RHEAD_LINE_MAX + 104; n++)
		assert_int_equal(pf_rhead_scan(buf, n, &h), n < 19 + PF_RHEAD_LINE_MAX + 2 ?
				 PF_RH_INCOMPLETE : PF_RH_TOO_LONG);
}

/* ---- pf_ofl_plan, applied like the SK_MSG program ---- */

static struct pf_ofl_plan pl;
static __u8 out[8192];

/* Edit resp for entry e under settings o; returns the new head + rest. */
static const char *edit(const char *resp, const struct pf_ofl_ent *e,
			const struct pf_ofl_rule *o)
{
	static struct pf_rhead h;
	__u32 n = put(resp);
	int len;

	assert_int_equal(pf_rhead_scan(buf, n, &h), PF_RH_OK);
	assert_int_equal(pf_ofl_plan(buf, &h, e, o, &pl), 0);
	len = pf_user_ofl_apply(buf, n, &pl, out, sizeof(out) - 1);
	assert_true(len >= 0);
	out[len] = 0;
	return (const char *)out;
}

static struct pf_ofl_ent ent(__u8 kind, __u8 flags)
{
	struct pf_ofl_ent e = { .kind = kind, .flags = flags };

	e.origin_len = 23;
	memcpy(e.origin, "https://app.example.com", 23);
	return e;
}

#define BODY   "Content-Length: 2\r\n\r\nok"
#define ACAO_A "Access-Control-Allow-Origin: https://app.example.com\r\n"
#define ACAC   "Access-Control-Allow-Credentials: true\r\n"
#define EXPOSE "Access-Control-Expose-Headers: x-total\r\n"

/* The reference of the Vary scans: does the value [off, off+len) list "*"
 * or "origin" (any case), its elements separated by ',' and optional
 * whitespace? A byte at a time (the datapath's byte loop before
 * pf_rh_vary_words). */
static int vary_ref(const __u8 *b, __u32 off, __u32 len)
{
	__u32 i, n, start = 0, in = 0;
	__u8 c;

	for (i = 0; i <= len; i++) {
		c = i < len ? b[off + i] : ',';
		if (c == ',' || c == ' ' || c == '\t') {
			n = i - start;
			if (in && ((n == 1 && b[off + start] == '*') ||
				   (n == 6 && pf_name_eq(b, off + start, "origin", 6))))
				return 1;
			in = 0;
		} else if (!in) {
			in = 1;
			start = i;
		}
	}
	return 0;
}

/* pf_rh_vary_one decides what the byte loop (vary_ref)
 * decides, for every value it takes: values of 1-18 bytes built from
 * "origin"/"*" look-alikes, separators and other characters. */
static void test_vary_one(void **state)
{
	static const char alpha[] = "oOrigin*,\t xaZ-";
	static __u8 b[PF_REQ_BUF];
	__u32 len, i, r, k, taken = 0;
	__u64 seed = 1;
	int one;

	(void)state;
	for (k = 0; k < 200000; k++) {
		len = 1 + k % 18;
		for (i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			r = (__u32)(seed >> 33);
			/* mostly the letters of "origin", sometimes whole */
			b[100 + i] = (__u8)alpha[r % (sizeof(alpha) - 1)];
		}
		if (k % 7 == 0 && len >= 6)
			memcpy(b + 100 + (k % (len - 5)), k % 2 ? "ORIGIN" : "origin", 6);
		b[100 + len] = 'y'; /* bytes after the value are not looked at */
		one = pf_rh_vary_one(b, 100, len);
		if (one < 0)
			continue;
		taken++;
		assert_int_equal(one, vary_ref(b, 100, len));
	}
	assert_true(taken > 1000);
	/* at the end of the buffer: no word read past it */
	memcpy(b + PF_REQ_MAX - 6, "Origin", 6);
	assert_int_equal(pf_rh_vary_one(b, PF_REQ_MAX - 6, 6), 1);
}

/* pf_rh_vary_words (8 bytes a step) decides what the byte loop
 * (vary_ref) decides: values of 0-128 bytes built from
 * "origin"/"*" look-alikes and separators, at every alignment. */
static void test_vary_words(void **state)
{
	static const char alpha[] = "oOrigin*,\t xaZ-";
	static __u8 b[PF_REQ_BUF];
	__u32 len, i, r, k, off, found = 0;
	__u64 seed = 7;
	int w;

	(void)state;
	for (k = 0; k < 300000; k++) {
		len = k % 129;
		off = 100 + k % 8;
		for (i = 0; i < len + 8; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			r = (__u32)(seed >> 33);
			b[off + i] = (__u8)alpha[r % (sizeof(alpha) - 1)];
		}
		if (k % 5 == 0 && len >= 6)
			memcpy(b + off + (k % (len - 5)), k % 2 ? "ORIGIN" : "origin", 6);
		if (k % 3 == 0 && len >= 1)
			b[off + (k % len)] = '*';
		/* the bytes after the value (read by the words) never count */
		w = pf_rh_vary_words((const struct pf_buf *)b, off, len);
		found += (__u32)w;
		assert_int_equal(w, vary_ref(b, off, len));
	}
	assert_true(found > 1000 && found < 299000);
	/* at the end of the buffer: no word read past it */
	memcpy(b + PF_REQ_MAX - 8, "a, ORIGIN", 8);
	assert_int_equal(pf_rh_vary_words((const struct pf_buf *)b, PF_REQ_MAX - 8, 8), 0);
	memcpy(b + PF_REQ_MAX - 9, "a, ORIGIN", 9);
	assert_int_equal(pf_rh_vary_words((const struct pf_buf *)b, PF_REQ_MAX - 9, 9), 1);
}

/* A merged Vary value of 16 bytes or fewer is copied as words
 * (pf_ofl_vary_short), a longer one by the helper: every length either
 * side of 8 and 16, at each alignment, followed by another value. */
static void test_plan_vary_lengths(void **state)
{
	static const char v[] = "abcdefghijklmnopqrstuvwxyz";
	struct pf_ofl_ent e = ent(PF_OFL_VARY, 0);
	char in[256], want[256];
	__u32 len, pad;

	(void)state;
	for (len = 1; len <= 24; len++) {
		for (pad = 1; pad <= 8; pad++) {
			snprintf(in, sizeof(in), RH200 "X: %.*s\r\nVary: %.*s\r\nVary: %.*s\r\n"
				 "Y: 2\r\n" BODY, pad, v, len, v, 25 - len, v + len);
			snprintf(want, sizeof(want), RH200 "Vary: %.*s, %.*s, Origin\r\n"
				 "X: %.*s\r\nY: 2\r\n" BODY, len, v, 25 - len, v + len, pad, v);
			assert_string_equal(edit(in, &e, NULL), want);
		}
	}
}

static void test_plan(void **state)
{
	struct pf_ofl_rule o = { .flags = PF_OFL_R_RESPONSES };
	struct pf_ofl_ent e;

	(void)state;
	o.expose_len = (__u16)strlen(EXPOSE);
	memcpy(o.expose, EXPOSE, o.expose_len);
	e = ent(PF_OFL_ALLOW, PF_OFL_E_CRED);
	assert_string_equal(edit(RH200 "X-App: 1\r\n" BODY, &e, &o),
			    RH200 ACAO_A ACAC EXPOSE "Vary: Origin\r\n" "X-App: 1\r\n" BODY);
	/* the app's own ACAO (and other Access-Control-*) replaced: one ACAO */
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *\r\nX-App: 1\r\n"
				 "Access-Control-Max-Age: 5\r\n" BODY, &e, &o),
			    RH200 ACAO_A ACAC EXPOSE "Vary: Origin\r\n" "X-App: 1\r\n" BODY);
	/* keep: the app's lines stay, ours only where it has none */
	e = ent(PF_OFL_ALLOW, PF_OFL_E_CRED | PF_OFL_E_KEEP);
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: https://x.test\r\n" BODY,
				 &e, &o),
			    RH200 ACAC EXPOSE "Vary: Origin\r\n"
			    "Access-Control-Allow-Origin: https://x.test\r\n" BODY);
	assert_int_equal(pl.flags, 0);
	/* keep, and the app's own ACAO is "*": no ACAC of ours next to it
	 * (a credentialed wildcard, which Fetch forbids), flagged for the
	 * count; the other lines it lacks still added */
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *\r\n" BODY, &e, &o),
			    RH200 EXPOSE "Vary: Origin\r\n"
			    "Access-Control-Allow-Origin: *\r\n" BODY);
	assert_int_equal(pl.flags, PF_OFL_PL_NO_ACAC);
	/* (its own ACAC too: kept as it is, the app's combination) */
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin:  *  \r\n" ACAC BODY, &e, &o),
			    RH200 EXPOSE "Vary: Origin\r\n"
			    "Access-Control-Allow-Origin:  *  \r\n" ACAC BODY);
	assert_int_equal(pl.flags, PF_OFL_PL_NO_ACAC);
	/* a value that only starts with "*" is not the wildcard */
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *x\r\n" BODY, &e, &o),
			    RH200 ACAC EXPOSE "Vary: Origin\r\n"
			    "Access-Control-Allow-Origin: *x\r\n" BODY);
	assert_int_equal(pl.flags, 0);
	/* without credentials: nothing withheld */
	e = ent(PF_OFL_ALLOW, PF_OFL_E_KEEP);
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *\r\n" BODY, &e, &o),
			    RH200 EXPOSE "Vary: Origin\r\n"
			    "Access-Control-Allow-Origin: *\r\n" BODY);
	assert_int_equal(pl.flags, 0);
	/* replace: the app's "*" goes, ours and ACAC in */
	e = ent(PF_OFL_ALLOW, PF_OFL_E_CRED);
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *\r\n" BODY, &e, &o),
			    RH200 ACAO_A ACAC EXPOSE "Vary: Origin\r\n" BODY);
	assert_int_equal(pl.flags, 0);
	/* Vary merged into one line, not duplicated */
	e = ent(PF_OFL_ALLOW, 0);
	assert_string_equal(edit(RH200 "Vary: Accept-Encoding\r\nX: 1\r\nVary: Cookie\r\n" BODY,
				 &e, NULL),
			    RH200 ACAO_A "Vary: Accept-Encoding, Cookie, Origin\r\nX: 1\r\n" BODY);
	assert_string_equal(edit(RH200 "Vary: Origin, Accept\r\n" BODY, &e, NULL),
			    RH200 ACAO_A "Vary: Origin, Accept\r\n" BODY);
	assert_string_equal(edit(RH200 "Vary: *\r\n" BODY, &e, NULL),
			    RH200 ACAO_A "Vary: *\r\n" BODY);
	/* denied or no Origin: Vary only, the app's ACAO removed */
	e = ent(PF_OFL_VARY, 0);
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *\r\n" BODY, &e, &o),
			    RH200 "Vary: Origin\r\n" BODY);
	/* "*": no Vary (the answer does not depend on the origin) */
	e = ent(PF_OFL_STAR, 0);
	assert_string_equal(edit(RH200 BODY, &e, &o),
			    RH200 "Access-Control-Allow-Origin: *\r\n" EXPOSE BODY);
	/* not covered: not a byte changed */
	e = ent(PF_OFL_NONE, 0);
	assert_string_equal(edit(RH200 "Access-Control-Allow-Origin: *\r\n" BODY, &e, &o),
			    RH200 "Access-Control-Allow-Origin: *\r\n" BODY);
	assert_int_equal(pl.ins_len + pl.n_pop, 0);
	/* a 304 and a HEAD answer are edited the same way */
	e = ent(PF_OFL_ALLOW, PF_OFL_E_CRED);
	assert_string_equal(edit("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n", &e, NULL),
			    "HTTP/1.1 304 Not Modified\r\n" ACAO_A ACAC "Vary: Origin\r\n"
			    "ETag: \"v1\"\r\n\r\n");
}

/* Overlapping rules (review finding MED-1): when the answer for a URL
 * depends on the origin, every response to it gets Vary: Origin -- the
 * "*" one and, under a responses: false rule, the untouched one (Vary
 * only: the app's own Access-Control-* lines stay). Trigger A: an
 * origin's credentialed rule before a "*" rule; trigger B: responses:
 * false before responses: true. */
static const char ofl_overlap_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - paths: [/a/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    credentials: true\n"
	"    responses: true\n"
	"  - paths: [/a/, /star/]\n"
	"    origins: [\"*\"]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"  - paths: [/b/, /off/]\n"
	"    origins: [https://a.test]\n"
	"    methods: [GET]\n"
	"  - paths: [/b/]\n"
	"    origins: [https://b.test]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"  - paths: [/off/, /first/]\n"
	"    origins: [\"*\"]\n"
	"    methods: [GET]\n"
	"  - paths: [/first/]\n"
	"    origins: [https://b.test]\n"
	"    methods: [GET]\n"
	"    responses: true\n";

/* Entry of req under c, then the edit of resp the SK_MSG program makes. */
static const char *entry_edit(const struct pf_compiled *c, const char *req, const char *resp,
			      struct pf_ofl_ent *e)
{
	entry_of(c, req, e);
	return edit(resp, e, &c->ofl[e->rule & (PF_MAX_RULES - 1)]);
}

#define ACAO_APP "Access-Control-Allow-Origin: https://a.test\r\n"

/* The origin copied into the entry 8 bytes a step: every length across
 * the word boundaries, the bytes before origin_len exact. */
static void test_entry_origin_words(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;
	char req[512], origin[160];
	__u32 k;

	(void)state;
	compile_yaml(ofl_yaml, &pol, &c);
	for (k = 1; k + 20 <= PF_TOKEN_MAX; k++) {
		memset(origin, 0, sizeof(origin));
		memcpy(origin, "https://", 8);
		memset(origin + 8, 'a' + k % 26, k);
		memcpy(origin + 8 + k, ".example.org", 12);
		snprintf(req, sizeof(req), REQ("/v1/a", "Origin: %s\r\nX: 1\r\n"), origin);
		entry_of(&c, req, &e);
		assert_int_equal(e.kind, PF_OFL_ALLOW);
		assert_int_equal(e.origin_len, k + 20);
		assert_memory_equal(e.origin, origin, k + 20);
	}
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

static void test_entry_overlap_star(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_overlap_yaml, &pol, &c);
	/* A: app.example.com gets its own answer with Vary ... */
	assert_string_equal(entry_edit(&c, REQ("/a/x", "Origin: https://app.example.com\r\n"),
				       RH200 BODY, &e),
			    RH200 ACAO_A ACAC "Vary: Origin\r\n" BODY);
	/* ... so the "*" copy, for no Origin or any other, carries it too */
	assert_string_equal(entry_edit(&c, REQ("/a/x", ""), RH200 BODY, &e),
			    RH200 "Access-Control-Allow-Origin: *\r\nVary: Origin\r\n" BODY);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	assert_int_equal(e.rule, 1);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.origin_len, 1);
	assert_memory_equal(e.origin, "*", 1);
	assert_string_equal(entry_edit(&c, REQ("/a/x", "Origin: https://evil.test\r\n"),
				       RH200 "Vary: Accept-Encoding\r\n" BODY, &e),
			    RH200 "Access-Control-Allow-Origin: *\r\n"
			    "Vary: Accept-Encoding, Origin\r\n" BODY);
	/* the same "*" rule alone on a path: one answer, no Vary */
	assert_string_equal(entry_edit(&c, REQ("/star/x", "Origin: https://evil.test\r\n"),
				       RH200 BODY, &e),
			    RH200 "Access-Control-Allow-Origin: *\r\n" BODY);
	assert_int_equal(e.kind, PF_OFL_STAR);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}


#define PRE(path, hdrs) "OPTIONS " path " HTTP/1.1\r\nHost: api\r\n" \
	"Origin: https://app.example.com\r\n" hdrs "\r\n"
#define ACRM "Access-Control-Request-Method: PUT\r\n"
/* the app's own (correct) preflight answer */
#define APP_PRE "HTTP/1.1 204 No Content\r\n" ACAO_A ACAC \
	"Access-Control-Allow-Methods: PUT\r\n" \
	"Access-Control-Allow-Headers: content-type\r\n" \
	"Access-Control-Max-Age: 600\r\n\r\n"

/* A preflight the answer path passed to the app (a guard said no: drain,
 * a full table, the daemon down, ...) is answered by the app: under
 * app_headers: replace its Access-Control-* lines stay as the app wrote
 * them (a preflight response needs its Allow-Methods/-Headers/Max-Age,
 * and alone grants no read access), Vary merged as for any covered
 * request. A preflight is what the answer path takes for one: OPTIONS
 * with Origin and Access-Control-Request-Method (pf_is_preflight). */
static void test_entry_preflight_to_app(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_yaml, &pol, &c);
	assert_string_equal(entry_edit(&c, PRE("/v1/a", ACRM "Access-Control-Request-Headers: "
					      "content-type\r\n"), APP_PRE, &e),
			    "HTTP/1.1 204 No Content\r\n" "Vary: Origin\r\n" ACAO_A ACAC
			    "Access-Control-Allow-Methods: PUT\r\n"
			    "Access-Control-Allow-Headers: content-type\r\n"
			    "Access-Control-Max-Age: 600\r\n\r\n");
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.flags, PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT); /* no CRED */
	assert_int_equal(e.origin_len, 0);
	/* Vary merged, never duplicated */
	assert_string_equal(entry_edit(&c, PRE("/v1/a", ACRM),
				       "HTTP/1.1 204 No Content\r\nVary: Accept-Encoding\r\n"
				       "Access-Control-Allow-Methods: PUT\r\n\r\n", &e),
			    "HTTP/1.1 204 No Content\r\nVary: Accept-Encoding, Origin\r\n"
			    "Access-Control-Allow-Methods: PUT\r\n\r\n");
	/* a "*" rule's answer gets no Vary: the app's answer untouched, counted */
	assert_string_equal(entry_edit(&c, PRE("/public/x", ACRM), APP_PRE, &e), APP_PRE);
	assert_int_equal(e.kind, PF_OFL_NONE);
	assert_true(e.flags & PF_OFL_E_PREFLIGHT);
	/* an origin no rule lists: the app's refusal (or grant) stays too */
	entry_of(&c, "OPTIONS /v1/a HTTP/1.1\r\nHost: api\r\nOrigin: https://evil.test\r\n"
		 ACRM "\r\n", &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.flags, PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT);
	/* no rule covers it: untouched, not counted */
	entry_of(&c, PRE("/off/x", ACRM), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	assert_int_equal(e.flags, 0);
	/* not a preflight: OPTIONS without Access-Control-Request-Method is
	 * an actual request the policy decides */
	entry_of(&c, PRE("/v1/a", ""), &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	assert_int_equal(e.flags, PF_OFL_E_CRED);
	/* ... and so is another method with both headers */
	entry_of(&c, "PUT /v1/a HTTP/1.1\r\nHost: api\r\nOrigin: https://app.example.com\r\n"
		 ACRM "\r\n", &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	/* a 7-letter method that is not OPTIONS (the answer path's test is
	 * the whole word) */
	entry_of(&c, "OPTIONZ /v1/a HTTP/1.1\r\nHost: api\r\nOrigin: https://app.example.com\r\n"
		 ACRM "\r\n", &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	/* app_headers: keep: the same entry (the app's lines were kept anyway) */
	entry_of(&c, PRE("/keep/x", ACRM), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.flags, PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

static const char ofl_hosts_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - hosts: [keep.test]\n"
	"    paths: [/k/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"    app_headers: keep\n"
	"  - hosts: [api.test, keep.test]\n"
	"    paths: [/v1/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"  - hosts: [off.test]\n"
	"    paths: [/v1/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n";

#define REQH(host, path, hdrs) "GET " path " HTTP/1.1\r\nHost: " host "\r\n" hdrs "\r\n"
#define ACAO_EVIL "Access-Control-Allow-Origin: https://evil.test\r\n"

/* A path the datapath cannot match without normalizing ("//", "/./",
 * "%", ...) may name a covered URL (nginx serves /v1//a as /v1/a): when
 * a responses: true rule with app_headers: replace could apply but for
 * the path (its hosts match), the app's own Access-Control-* lines go and
 * the response gets Vary: Origin -- never the app's ACAO where replace
 * promises only ours. Keep rules, other hosts, responses: false: untouched. */
static void test_entry_unnorm_replace(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_yaml, &pol, &c);
	assert_string_equal(entry_edit(&c, REQ("/v1//a", "Origin: https://evil.test\r\n"),
				       RH200 ACAO_EVIL ACAC BODY, &e),
			    RH200 "Vary: Origin\r\n" BODY);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.flags, PF_OFL_E_UNNORM);
	/* every spelling pf_path_flags refuses; the app's Vary merged */
	assert_string_equal(entry_edit(&c, REQ("/v1/./a", "Origin: https://app.example.com\r\n"),
				       RH200 "Vary: Accept-Encoding\r\n" ACAO_A BODY, &e),
			    RH200 "Vary: Accept-Encoding, Origin\r\n" BODY);
	entry_of(&c, REQ("/v1/%61", ""), &e);
	assert_int_equal(e.flags, PF_OFL_E_UNNORM);
	entry_of(&c, REQ("/x/../v1/a", ""), &e);
	assert_int_equal(e.flags, PF_OFL_E_UNNORM);
	/* a preflight on such a path goes to the app and keeps its answer */
	assert_string_equal(entry_edit(&c, PRE("/v1//a", ACRM), APP_PRE, &e),
			    "HTTP/1.1 204 No Content\r\nVary: Origin\r\n" ACAO_A ACAC
			    "Access-Control-Allow-Methods: PUT\r\n"
			    "Access-Control-Allow-Headers: content-type\r\n"
			    "Access-Control-Max-Age: 600\r\n\r\n");
	assert_int_equal(e.flags, PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT);
	pf_compiled_free(&c);
	pf_policy_free(&pol);

	compile_yaml(ofl_hosts_yaml, &pol, &c);
	/* a replace rule's host: the app's lines go */
	entry_of(&c, REQH("api.test", "/v1//a", "Origin: https://evil.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.flags, PF_OFL_E_UNNORM);
	assert_int_equal(e.rule, 1);
	/* a keep rule first on the host, a replace rule after it: fail closed */
	entry_of(&c, REQH("keep.test", "/k//a", ""), &e);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.rule, 1);
	/* only responses: false on the host, or no rule: untouched */
	entry_of(&c, REQH("off.test", "/v1//a", "Origin: https://evil.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	assert_int_equal(e.flags, 0);
	entry_of(&c, REQH("other.test", "/v1//a", ""), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	/* the normal spelling is decided as before */
	entry_of(&c, REQH("api.test", "/v1/a", "Origin: https://app.example.com\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_ALLOW);
	assert_int_equal(e.flags, 0);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

static const char ofl_keep_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - paths: [/v1/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"    app_headers: keep\n";

/* Under app_headers: keep only, such a path stays untouched. */
static void test_entry_unnorm_keep(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_keep_yaml, &pol, &c);
	assert_string_equal(entry_edit(&c, REQ("/v1//a", "Origin: https://evil.test\r\n"),
				       RH200 ACAO_EVIL BODY, &e),
			    RH200 ACAO_EVIL BODY);
	assert_int_equal(e.kind, PF_OFL_NONE);
	assert_int_equal(e.flags, 0);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

static void test_entry_overlap_off(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_ofl_ent e;

	(void)state;
	compile_yaml(ofl_overlap_yaml, &pol, &c);
	/* B: b.test gets its ACAO with Vary ... */
	assert_string_equal(entry_edit(&c, REQ("/b/x", "Origin: https://b.test\r\n"),
				       RH200 BODY, &e),
			    RH200 "Access-Control-Allow-Origin: https://b.test\r\n"
			    "Vary: Origin\r\n" BODY);
	/* ... so a.test's (responses: false: the app's own lines kept), no
	 * Origin's and a denied origin's get Vary only */
	assert_string_equal(entry_edit(&c, REQ("/b/x", "Origin: https://a.test\r\n"),
				       RH200 ACAO_APP ACAC BODY, &e),
			    RH200 "Vary: Origin\r\n" ACAO_APP ACAC BODY);
	assert_int_equal(e.kind, PF_OFL_VARY);
	assert_int_equal(e.rule, 2);
	assert_int_equal(e.flags, PF_OFL_E_KEEP);
	assert_string_equal(entry_edit(&c, REQ("/b/x", ""),
				       RH200 "Vary: Cookie\r\n" BODY, &e),
			    RH200 "Vary: Cookie, Origin\r\n" BODY);
	assert_string_equal(entry_edit(&c, REQ("/b/x", "Origin: https://evil.test\r\n"),
				       RH200 "Vary: origin\r\n" ACAO_APP BODY, &e),
			    RH200 "Vary: origin\r\n" ACAO_APP BODY);
	assert_int_equal(pl.ins_len + pl.n_pop, 0);
	/* responses: false everywhere it can decide: untouched */
	entry_of(&c, REQ("/off/x", "Origin: https://a.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	entry_of(&c, REQ("/off/x", ""), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	/* a "*" rule first takes every request: a responses: true rule
	 * after it decides nothing */
	entry_of(&c, REQ("/first/x", "Origin: https://b.test\r\n"), &e);
	assert_int_equal(e.kind, PF_OFL_NONE);
	assert_int_equal(e.flags, 0);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* pf_ofl_varies against every request of every policy of up to 5
 * rules: the answers worked out one origin at a time (each rule that
 * lists origins has one of its own; plus an origin no rule lists and no
 * Origin at all) differ exactly when it says they depend on the origin. */
static void test_varies(void **state)
{
	enum { N = 5, OTHER = N, NO_ORIGIN = N + 1 };
	__u64 a, star, resp;
	__u32 o, j, d, ans, first, dep, n_dep = 0;

	(void)state;
	for (a = 1; a < (1u << N); a++)
		for (star = 0; star < (1u << N); star++)
			for (resp = 0; resp < (1u << N); resp++) {
				first = ~0u;
				dep = 0;
				for (o = 0; o <= NO_ORIGIN; o++) {
					if (o < N && (!((a >> o) & 1) || ((star >> o) & 1)))
						continue; /* no such listing origin */
					/* the first applicable rule listing o ("*" lists
					 * all), else the first applicable rule */
					for (d = 0; d < N; d++)
						if (((a >> d) & 1) &&
						    (((star >> d) & 1) || d == o))
							break;
					j = d < N ? d : pf_lowest_bit(a);
					/* 0 untouched, 1 "*", 2 Vary only, 3 + o: o's ACAO */
					if (!((resp >> j) & 1))
						ans = 0;
					else if ((star >> j) & 1)
						ans = 1;
					else
						ans = d < N ? 3 + o : 2;
					if (first == ~0u)
						first = ans;
					else if (ans != first)
						dep = 1;
				}
				n_dep += dep;
				assert_int_equal(pf_ofl_varies(a, star, resp), dep);
			}
	assert_true(n_dep > 1000);
}

/* ---- chunked bodies ---- */

static void test_chunks(void **state)
{
	struct pf_ofl_cscan c;
	__u64 size = 0;
	__u32 n;

	(void)state;
	n = put("1f4\r\nxxxx");
	assert_int_equal(pf_ofl_chunk_line(buf, n, &c, &size), 5);
	assert_int_equal(size, 500);
	n = put("A;name=v\r\n");
	assert_int_equal(pf_ofl_chunk_line(buf, n, &c, &size), 10);
	assert_int_equal(size, 10);
	n = put("0\r\n\r\n");
	assert_int_equal(pf_ofl_chunk_line(buf, n, &c, &size), 3);
	assert_int_equal(size, 0);
	assert_int_equal(pf_ofl_chunk_line(buf, 1, &c, &size), 0);
	assert_int_equal(pf_ofl_chunk_line(buf, 2, &c, &size), 0);
	n = put("x\r\n");
	assert_int_equal(pf_ofl_chunk_line(buf, n, &c, &size), -1);
	n = put("\r\n");
	assert_int_equal(pf_ofl_chunk_line(buf, n, &c, &size), -1);
	n = put("1234567890abc\r\n");
	assert_int_equal(pf_ofl_chunk_line(buf, n, &c, &size), -1);
	n = put("\r\nHTTP/1.1");
	assert_int_equal(pf_ofl_trailer(buf, n, &c), 2);
	n = put("X-Sum: 1\r\nY: 2\r\n\r\nnext");
	assert_int_equal(pf_ofl_trailer(buf, n, &c), (int)n - 4);
	n = put("X-Sum: 1\r\n");
	assert_int_equal(pf_ofl_trailer(buf, n, &c), 0);
	n = put("X-Sum: 1\rY\r\n\r\n");
	assert_int_equal(pf_ofl_trailer(buf, n, &c), -1);
}

/* ---- policy keys ---- */

static void test_policy_keys(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
		{ "ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n"
		  "    responses: yes\n", "t.yaml:5:16: responses: expected true or false" },
		{ "ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n"
		  "    app_headers: drop\n", "t.yaml:5:18: app_headers: expected replace or keep" },
		{ "ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n"
		  "    expose_headers: [x-a, \"b c\"]\n",
		  "t.yaml:5:27: 'b c': not a valid header name" },
		{ "ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n"
		  "    expose_headers: [X-A, x-a]\n", "t.yaml:5:27: duplicate header 'x-a'" },
		{ "ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n"
		  "    credentials: true\n    expose_headers: [\"*\"]\n",
		  "t.yaml:6:22: '*': with credentials: true, \"*\" is not a wildcard" },
		{ "ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n"
		  "    expose_headers: []\n", "t.yaml:5:21: expose_headers: must not be empty" },
	};
	char yaml[4096], *errs = NULL;
	struct pf_policy pol;
	struct pf_compiled c;
	size_t o;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(bad[i].yaml, &pol, &errs), -22);
		if (!strstr(errs, bad[i].msg))
			fail_msg("case %u: want '%s', got '%s'", i, bad[i].msg, errs);
		free(errs);
	}
	/* an expose line over the datapath's buffer: refused at the key */
	o = (size_t)snprintf(yaml, sizeof(yaml), "ports: [1]\nrules:\n  - origins: [https://a.test]\n"
			     "    methods: [GET]\n    expose_headers: [");
	for (i = 0; i < 30; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "%sx-header-%02u", i ? ", " : "", i);
	snprintf(yaml + o, sizeof(yaml) - o, "]\n");
	assert_int_equal(load(yaml, &pol, &errs), -22);
	assert_non_null(strstr(errs, "t.yaml:5:21: expose_headers: the header line would be over 256 bytes"));
	free(errs);
	/* compiled: the line, lower-cased names, flags */
	compile_yaml(ofl_yaml, &pol, &c);
	assert_int_equal(c.ofl[0].flags, PF_OFL_R_RESPONSES);
	assert_int_equal(c.ofl[0].expose_len,
			 strlen("Access-Control-Expose-Headers: x-total, x-request-id\r\n"));
	assert_memory_equal(c.ofl[0].expose, "Access-Control-Expose-Headers: x-total, x-request-id\r\n",
			    c.ofl[0].expose_len);
	assert_int_equal(c.ofl[2].flags, PF_OFL_R_RESPONSES | PF_OFL_R_KEEP);
	assert_int_equal(c.ofl[3].flags, 0);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
	/* without responses: true anywhere the offload is off */
	assert_int_equal(load("ports: [1]\nrules:\n  - origins: [https://a.test]\n    methods: [GET]\n",
			      &pol, &errs), 0);
	free(errs);
	assert_int_equal(pf_policy_compile(&pol, 0, &c, stderr), 0);
	assert_false(c.ofl_any);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* A shadow comparer (no maps) deciding with the policy in yaml, as `run
 * --shadow` hands it the policy it loaded (compiled; yaml not kept). */
static void shadow_start(struct pf_shadow *sh, const char *yaml)
{
	struct pf_policy pol;
	char *errs = NULL;

	assert_int_equal(load(yaml, &pol, &errs), 0);
	free(errs);
	memset(sh, 0, sizeof(*sh));
	sh->stats_fd = sh->diffs_fd = -1;
	pf_shadow_policy(sh, &pol);
	pf_policy_free(&pol);
	assert_true(sh->have_policy);
}

/* ---- shadow mode's comparison ---- */

static void test_shadow(void **state)
{
	static const char yaml[] =
		"ports: [8080]\n"
		"rules:\n"
		"  - paths: [/v1/]\n"
		"    origins: [https://app.example.com]\n"
		"    methods: [GET, PUT, DELETE]\n"
		"    headers: [content-type]\n"
		"    credentials: true\n"
		"    max_age: 600\n"
		"    responses: true\n"
		"    expose_headers: [x-id]\n";
	static const char pre[] =
		"OPTIONS /v1/items HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com\r\n"
		"Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type\r\n\r\n";
	static const char pre_app[] =
		"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: https://app.example.com\r\n"
		"Access-Control-Allow-Methods: DELETE,PUT, GET\r\nAccess-Control-Allow-Headers: Content-Type\r\n"
		"Access-Control-Allow-Credentials: true\r\nAccess-Control-Max-Age: 600\r\n"
		"Vary: origin\r\nVary: Access-Control-Request-Method, Access-Control-Request-Headers\r\n\r\n";
	static const char get[] =
		"GET /v1/items HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.test\r\n\r\n";
	static const char get_app[] =
		"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 0\r\n\r\n";
	struct pf_flow_key key = { .family = 4 };
	struct pf_shadow sh;
	unsigned f;

	(void)state;
	shadow_start(&sh, yaml);
	/* the same answer in other words (order, case, split Vary): agree */
	pf_shadow_compare(&sh, &key, (const __u8 *)pre, sizeof(pre) - 1,
			  (const __u8 *)pre_app, sizeof(pre_app) - 1);
	assert_int_equal(sh.st.preflights, 1);
	assert_int_equal(sh.st.would_answer, 1);
	for (f = 0; f < PF_SHD_F__MAX; f++)
		assert_int_equal(sh.st.disagree[f], 0);
	assert_int_equal(sh.st.agree[PF_SHD_F_ACAM], 1);
	assert_int_equal(sh.st.differ, 0);
	/* the app lets any origin read: ACAO differs, the missing Vary too */
	pf_shadow_compare(&sh, &key, (const __u8 *)get, sizeof(get) - 1,
			  (const __u8 *)get_app, sizeof(get_app) - 1);
	assert_int_equal(sh.st.actual, 1);
	assert_int_equal(sh.st.disagree[PF_SHD_F_ACAO], 1);
	assert_int_equal(sh.st.disagree[PF_SHD_F_VARY], 1);
	assert_int_equal(sh.st.agree[PF_SHD_F_EXPOSE], 1);
	assert_int_equal(sh.st.differ, 1);
	pf_shadow_free(&sh);
}

/* Shadow mode under overlapping rules (MED-1): a request a responses:
 * false rule decides, next to a responses: true one, is compared as the
 * offload would edit it -- the app's own ACAO kept (agree), its missing
 * Vary: Origin a disagreement. */
static void test_shadow_overlap(void **state)
{
	static const char yaml[] =
		"ports: [8080]\n"
		"rules:\n"
		"  - paths: [/b/]\n"
		"    origins: [https://a.test]\n"
		"    methods: [GET]\n"
		"  - paths: [/b/]\n"
		"    origins: [https://b.test]\n"
		"    methods: [GET]\n"
		"    responses: true\n";
	static const char get[] =
		"GET /b/x HTTP/1.1\r\nHost: a\r\nOrigin: https://a.test\r\n\r\n";
	static const char get_app[] =
		"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://a.test\r\n"
		"Content-Length: 0\r\n\r\n";
	struct pf_flow_key key = { .family = 4 };
	struct pf_shadow sh;

	(void)state;
	shadow_start(&sh, yaml);
	pf_shadow_compare(&sh, &key, (const __u8 *)get, sizeof(get) - 1,
			  (const __u8 *)get_app, sizeof(get_app) - 1);
	assert_int_equal(sh.st.uncovered, 0);
	assert_int_equal(sh.st.actual, 1);
	assert_int_equal(sh.st.agree[PF_SHD_F_ACAO], 1);
	assert_int_equal(sh.st.disagree[PF_SHD_F_VARY], 1);
	assert_int_equal(sh.st.differ, 1);
	pf_shadow_free(&sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_head),
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_entry_regex),
		cmocka_unit_test(test_entry_origin_words),
		cmocka_unit_test(test_entry_overlap_star),
		cmocka_unit_test(test_entry_overlap_off),
		cmocka_unit_test(test_entry_preflight_to_app),
		cmocka_unit_test(test_entry_unnorm_replace),
		cmocka_unit_test(test_entry_unnorm_keep),
		cmocka_unit_test(test_varies),
		cmocka_unit_test(test_rhead),
		cmocka_unit_test(test_rhead_line_end),
		cmocka_unit_test(test_vary_one),
		cmocka_unit_test(test_vary_words),
		cmocka_unit_test(test_plan_vary_lengths),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_policy_keys),
		cmocka_unit_test(test_shadow),
		cmocka_unit_test(test_shadow_overlap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
