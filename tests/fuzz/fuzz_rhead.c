/*
 * fuzz_rhead.c -- libFuzzer target for the response offload's head
 * scanner: bytes -> pf_rhead_scan (include/pf_rhead.h), whose result
 * decides which responses the SK_MSG program edits and which lines it
 * removes.
 *
 * Checked on every input (the whole input is the bytes at hand, n):
 *   - the result and every field do not depend on the bytes past n (the
 *     word scans read up to 8 of them) nor on what the struct held;
 *   - they equal a byte-at-a-time reference written here from the rules
 *     documented in include/pf_rhead.h and docs/offload.md (result,
 *     status, status line end, head length, framing, every slice);
 *   - for PF_RH_OK: len <= n, the head ends in CRLF CRLF, the status line
 *     ends in CRLF at status_end <= len, every removable line lies in
 *     [status_end, len), ends in CRLF and starts with its name, the lines
 *     are in order and do not overlap, every value lies inside its line,
 *     and the counts agree with the slices.
 * Any violation aborts (a crash for libFuzzer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_rhead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_rhead: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* ---- the reference: one byte at a time, no word tricks ---- */

static int ref_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte that ends a line's text: CTL (below SP) or DEL; obs-text does not. */
static int ref_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static unsigned char ref_low(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ref_ieq(const unsigned char *p, size_t n, const char *lit)
{
	size_t i;

	if (n != strlen(lit))
		return 0;
	for (i = 0; i < n; i++)
		if (ref_low(p[i]) != (unsigned char)lit[i])
			return 0;
	return 1;
}

struct ref {
	int res;
	unsigned len, status, status_end, te, has_clen, n_ac, n_vary, vary_origin, ac_seen;
	unsigned long long clen;
	unsigned n_rm, rm_vary;
	unsigned rm_off[PF_RH_RM_MAX], rm_len[PF_RH_RM_MAX];
	unsigned vv_off[PF_RH_VARY_MAX], vv_len[PF_RH_VARY_MAX];
	unsigned v_off[PF_RH_AC_N], v_len[PF_RH_AC_N];
};

/* Does the Vary value list "*" or "origin" (elements separated by ',',
 * SP or HTAB)? */
static int ref_vary_origin(const unsigned char *p, unsigned n)
{
	unsigned i = 0, s;

	while (i < n) {
		while (i < n && (p[i] == ',' || p[i] == ' ' || p[i] == '\t'))
			i++;
		s = i;
		while (i < n && p[i] != ',' && p[i] != ' ' && p[i] != '\t')
			i++;
		if (ref_ieq(p + s, i - s, "*") || ref_ieq(p + s, i - s, "origin"))
			return 1;
	}
	return 0;
}

static const char *const ref_ac_names[PF_RH_AC_N] = {
	"access-control-allow-origin", "access-control-allow-credentials",
	"access-control-allow-methods", "access-control-allow-headers",
	"access-control-max-age", "access-control-expose-headers",
};

/* One header line: name [p, colon), value [vs, ve), line [p, end + 2). */
static int ref_take(const unsigned char *b, struct ref *r, unsigned p, unsigned colon,
		    unsigned vs, unsigned ve, unsigned end)
{
	unsigned nl = colon - p, vl = ve - vs, i, f;
	unsigned long long cl = 0;

	if (ref_ieq(b + p, nl, "content-length")) {
		if (vl == 0 || vl > 15)
			return PF_RH_BAD;
		for (i = 0; i < vl; i++) {
			if (b[vs + i] < '0' || b[vs + i] > '9')
				return PF_RH_BAD;
			cl = cl * 10 + (b[vs + i] - '0');
		}
		if (r->has_clen && r->clen != cl)
			return PF_RH_BAD;
		r->has_clen = 1;
		r->clen = cl;
	} else if (ref_ieq(b + p, nl, "transfer-encoding")) {
		r->te = vl >= 7 && ref_ieq(b + ve - 7, 7, "chunked") &&
			(vl == 7 || b[ve - 8] == ',' || b[ve - 8] == ' ') ?
			PF_RH_TE_CHUNKED : PF_RH_TE_OTHER;
	} else if (ref_ieq(b + p, nl, "vary")) {
		if (r->n_vary >= PF_RH_VARY_MAX || vl > 128)
			return PF_RH_BAD;
		r->vv_off[r->n_vary] = vs;
		r->vv_len[r->n_vary] = vl;
		r->n_vary++;
		r->rm_vary |= 1u << r->n_rm;
		r->rm_off[r->n_rm] = p;
		r->rm_len[r->n_rm] = end + 2 - p;
		r->n_rm++;
		if (ref_vary_origin(b + vs, vl))
			r->vary_origin = 1;
	} else if (nl > 15 && nl < 40 && ref_ieq(b + p, 15, "access-control-")) {
		if (r->n_ac >= PF_RH_AC_MAX)
			return PF_RH_BAD;
		r->n_ac++;
		r->rm_off[r->n_rm] = p;
		r->rm_len[r->n_rm] = end + 2 - p;
		r->n_rm++;
		for (f = 0; f < PF_RH_AC_N; f++)
			if (ref_ieq(b + p, nl, ref_ac_names[f]))
				break;
		if (f < PF_RH_AC_N && !(r->ac_seen & (1u << f))) {
			r->ac_seen |= 1u << f;
			r->v_off[f] = vs;
			r->v_len[f] = vl;
		}
	}
	return PF_RH_OK;
}

static int ref_scan(const unsigned char *b, unsigned n, struct ref *r)
{
	static const char pre[] = "HTTP/1.1 ";
	unsigned i, end, lim, p, colon, vs, ve, line;
	int res;

	memset(r, 0, sizeof(*r));
	if (n > PF_RHEAD_MAX)
		n = PF_RHEAD_MAX;
	for (i = 0; i < 9; i++) {
		if (i >= n)
			return r->res = PF_RH_INCOMPLETE;
		if (b[i] != pre[i] && !(i == 7 && b[i] == '0'))
			return r->res = PF_RH_BAD;
	}
	if (n < 13)
		return r->res = PF_RH_INCOMPLETE;
	for (i = 9; i < 12; i++) {
		if (b[i] < '0' || b[i] > '9')
			return r->res = PF_RH_BAD;
		r->status = r->status * 10 + (b[i] - '0');
	}
	if (r->status < 100 || (b[12] != ' ' && b[12] != '\r'))
		return r->res = PF_RH_BAD;
	lim = n < 12 + PF_RHEAD_LINE_MAX ? n : 12 + PF_RHEAD_LINE_MAX;
	for (end = 12; end < lim && !ref_ctl(b[end]); end++)
		;
	if (end + 1 >= n)
		return r->res = end >= 12 + PF_RHEAD_LINE_MAX ? PF_RH_TOO_LONG : PF_RH_INCOMPLETE;
	if (b[end] != '\r' || b[end + 1] != '\n')
		return r->res = PF_RH_BAD;
	r->status_end = end + 2;
	p = end + 2;
	res = PF_RH_TOO_LONG; /* unless a blank line comes within PF_MAX_LINES */
	for (line = 0; line < PF_MAX_LINES; line++) {
		if (p + 2 > n) {
			res = PF_RH_INCOMPLETE;
			break;
		}
		if (b[p] == '\r') {
			if (b[p + 1] != '\n') {
				res = PF_RH_BAD;
				break;
			}
			r->len = p + 2;
			res = PF_RH_OK;
			break;
		}
		/* the name: tchars, at most 64 looked at */
		for (colon = p; colon < n && colon < p + 64 && ref_tchar(b[colon]); colon++)
			;
		if (colon >= n) {
			res = PF_RH_INCOMPLETE;
			break;
		}
		if (colon == p || b[colon] != ':') {
			res = colon - p == 64 ? PF_RH_TOO_LONG : PF_RH_BAD;
			break;
		}
		lim = n < colon + 1 + PF_RHEAD_LINE_MAX ? n : colon + 1 + PF_RHEAD_LINE_MAX;
		for (end = colon + 1; end < lim && !ref_ctl(b[end]); end++)
			;
		if (end + 1 >= n) {
			res = PF_RH_INCOMPLETE;
			break;
		}
		if (end >= colon + 1 + PF_RHEAD_LINE_MAX) {
			res = PF_RH_TOO_LONG;
			break;
		}
		if (b[end] != '\r' || b[end + 1] != '\n') {
			res = PF_RH_BAD;
			break;
		}
		vs = colon + 1;
		ve = end;
		for (i = 0; i < 16 && vs < ve && b[vs] == ' '; i++)
			vs++;
		for (i = 0; i < 16 && ve > vs && b[ve - 1] == ' '; i++)
			ve--;
		res = ref_take(b, r, p, colon, vs, ve, end);
		if (res != PF_RH_OK)
			break;
		p = end + 2;
		res = PF_RH_TOO_LONG;
	}
	if (res == PF_RH_INCOMPLETE && n == PF_RHEAD_MAX)
		res = PF_RH_TOO_LONG;
	return r->res = res;
}

/* ---- checks ---- */

static void check_same(const struct pf_rhead *h, const struct ref *r)
{
	unsigned i;

	CHECK(h->res == r->res);
	if (r->res != PF_RH_OK)
		return;
	CHECK(h->len == r->len && h->status == r->status && h->status_end == r->status_end);
	CHECK(h->te == r->te && h->has_clen == r->has_clen && (!r->has_clen || h->clen == r->clen));
	CHECK(h->n_ac == r->n_ac && h->n_vary == r->n_vary && h->vary_origin == r->vary_origin);
	CHECK(h->ac_seen == r->ac_seen && h->n_rm == r->n_rm && h->rm_vary == r->rm_vary);
	for (i = 0; i < r->n_rm; i++)
		CHECK(h->rm[i].off == r->rm_off[i] && h->rm[i].len == r->rm_len[i]);
	for (i = 0; i < r->n_vary; i++)
		CHECK(h->vary_val[i].off == r->vv_off[i] && h->vary_val[i].len == r->vv_len[i]);
	for (i = 0; i < PF_RH_AC_N; i++)
		if (r->ac_seen & (1u << i))
			CHECK(h->val[i].off == r->v_off[i] && h->val[i].len == r->v_len[i]);
}

/* What the SK_MSG program relies on in a PF_RH_OK result. */
static void check_ok(const __u8 *b, __u32 n, const struct pf_rhead *h)
{
	unsigned i, prev = h->status_end, lend, vary = 0;
	const struct pf_slice *s;

	if (h->res != PF_RH_OK)
		return;
	CHECK(h->len >= 4 && h->len <= n && h->len <= PF_RHEAD_MAX);
	CHECK(!memcmp(b + h->len - 4, "\r\n\r\n", 4) || h->len == h->status_end + 2);
	CHECK(b[h->len - 2] == '\r' && b[h->len - 1] == '\n');
	CHECK(h->status_end >= 14 && h->status_end + 2 <= h->len);
	CHECK(b[h->status_end - 2] == '\r' && b[h->status_end - 1] == '\n');
	CHECK(h->status >= 100 && h->status <= 999);
	CHECK(h->te <= PF_RH_TE_OTHER && h->has_clen <= 1 && h->vary_origin <= 1);
	CHECK(h->n_rm == h->n_ac + h->n_vary && h->n_rm <= PF_RH_RM_MAX);
	CHECK(h->n_ac <= PF_RH_AC_MAX && h->n_vary <= PF_RH_VARY_MAX);
	CHECK(h->ac_seen < (1u << PF_RH_AC_N) && (h->rm_vary >> h->n_rm) == 0);
	for (i = 0; i < h->n_rm; i++) {
		s = &h->rm[i];
		lend = s->off + s->len;
		CHECK(s->off >= prev && s->len >= 4 && lend + 2 <= h->len);
		CHECK(b[lend - 2] == '\r' && b[lend - 1] == '\n');
		CHECK((b[s->off] | 0x20) == ((h->rm_vary >> i) & 1 ? 'v' : 'a'));
		if ((h->rm_vary >> i) & 1) {
			const struct pf_slice *v = &h->vary_val[vary++];

			CHECK(v->off > s->off + 4 && v->off + v->len <= lend - 2 && v->len <= 128);
		}
		prev = lend;
	}
	CHECK(vary == h->n_vary);
	for (i = 0; i < PF_RH_AC_N; i++)
		if (h->ac_seen & (1u << i))
			CHECK(h->val[i].off > h->status_end && h->val[i].off + h->val[i].len + 2 <= h->len);
}

/* The scanner's result without the work area (pos, n, tmp, vs). */
static int same_result(const struct pf_rhead *a, const struct pf_rhead *b)
{
	return !memcmp(a, b, offsetof(struct pf_rhead, pos));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static __u8 b1[PF_REQ_BUF], b2[PF_REQ_BUF];
	static struct pf_rhead h1, h2;
	static struct ref r;
	__u32 n = (__u32)size, k = size < PF_REQ_MAX ? (__u32)size : PF_REQ_MAX;

	/* the same bytes at hand, different bytes past them and different
	 * garbage in the struct */
	memset(b1, 0, sizeof(b1));
	memset(b2, 0xff, sizeof(b2));
	memcpy(b1, data, k);
	memcpy(b2, data, k);
	if (k < PF_REQ_MAX)
		b2[k] = '\r';
	if (k + 1 < PF_REQ_MAX)
		b2[k + 1] = '\n';
	memset(&h1, 0, sizeof(h1));
	memset(&h2, 0xa5, sizeof(h2));
	pf_rhead_scan(b1, n, &h1);
	pf_rhead_scan(b2, n, &h2);
	CHECK(same_result(&h1, &h2));
	ref_scan(b1, n, &r);
	check_same(&h1, &r);
	check_ok(b1, k, &h1);
	return 0;
}
