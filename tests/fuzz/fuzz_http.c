/*
 * fuzz_http.c -- libFuzzer target for the datapath's request path:
 * bytes -> pf_parse (include/pf_http.h) -> pf_user_decide (pf_match.h,
 * pf_resp.h) against two fixed compiled policies that use every feature.
 *
 * Checked on every input:
 *   - the parse result does not depend on the bytes past len (the word
 *     scans read up to 8 of them);
 *   - it equals a byte-by-byte reference parser of the rules documented
 *     in include/pf_http.h (result, flags and every slice);
 *   - a parsed request's slices lie inside [0, len), hold no control
 *     bytes, and r.len == len;
 *   - the decision equals a straightforward reference model of the rule
 *     semantics documented in include/pf_match.h, written here from the
 *     policy's strings (struct pf_policy), not from the compiled maps;
 *   - an ALLOW/REJECT response is byte for byte what the reference
 *     builds, at most PF_RESP_MAX bytes, has Vary, ends its one header
 *     block with CRLF CRLF, has no bare CR or LF, and never carries
 *     "Access-Control-Allow-Origin: *" together with credentials.
 * Any violation aborts (a crash for libFuzzer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_frame.h"
#include "policy.h"
#include "match.h"
#include "acrh.h"
#include "../expect_vary.h"

/* Rule 3 has no hosts and origins "*", so every request applies to
 * policy A; policy B (paths) also answers "no rule". */
static const char policy_a[] =
	"ports: [443]\n"
	"rules:\n"
	"  - hosts: [api.example.com]\n"
	"    origins: [https://app.example.com, https://*.example.com,\n"
	"              http://localhost:3000, https://*.ports.test:8443]\n"
	"    methods: [PUT, DELETE, patch]\n"
	/* a 32-byte name (the longest the pf_hdrs table holds) and a
	 * 33-byte one (pf_tokens only) */
	"    headers: [content-type, x-request-id, x-long-name-of-32-bytes-in-table,\n"
	"              x-long-name-for-the-token-map-33b]\n"
	"    max_age: 600\n"
	"    on_deny: reject\n"
	"  - hosts: [\"[::1]\", 127.0.0.1]\n"
	"    origins: [https://foo.com, https://bar.com]\n"
	"    methods: [\"*\"]\n"
	"    headers: [\"*\"]\n"
	"    credentials: true\n"
	"    private_network: true\n"
	"    max_age: 0\n"
	"  - hosts: [cred.example.com]\n"
	"    origins: [https://*.example.com]\n"
	"    methods: [PUT]\n"
	"    headers: [authorization, x-a]\n"
	"    credentials: true\n"
	"    on_deny: reject\n"
	"  - origins: [\"*\"]\n"
	"    methods: [\"*\"]\n"
	"    headers: [\"*\", authorization]\n"
	"  - origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    on_deny: reject\n";

static const char policy_b[] =
	"ports: [80]\n"
	"rules:\n"
	"  - paths: [/v1/, /v2/items]\n"
	"    hosts: [api.example.com]\n"
	"    origins: [https://app.example.com, https://*.example.com]\n"
	"    methods: [PUT]\n"
	"    headers: [content-type]\n"
	"    on_deny: reject\n"
	"  - paths: [/public/]\n"
	"    origins: [\"*\"]\n"
	"    methods: [GET]\n"
	"    headers: [\"*\"]\n"
	"  - hosts: [other.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [DELETE]\n"
	"    private_network: true\n";

#define N_POL 2

static struct pf_policy pol[N_POL];
static struct pf_compiled comp[N_POL];
static __u8 *buf, *buf2, *resp;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			__LINE__, #cond); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Load policy_a into slot 0 and policy_b into slot 1; exact-size heap
 * buffers so ASan sees any access past PF_REQ_BUF / 2 * PF_RESP_MAX. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *y[N_POL] = { policy_a, policy_b };
	int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < N_POL; i++) {
		CHECK(!pf_policy_load_string("fuzz.yaml", y[i], &pol[i], stderr));
		CHECK(!pf_policy_compile(&pol[i], (__u32)i, &comp[i], stderr));
	}
	buf = malloc(PF_REQ_BUF);
	buf2 = malloc(PF_REQ_BUF);
	resp = malloc(2 * PF_RESP_MAX);
	CHECK(buf && buf2 && resp);
	return 0;
}

/* ---- reference model ---- */

static int is_ctl(__u8 c)
{
	return c < 0x20 || c == 0x7f;
}

static int is_tchar(__u8 c);
static int eq_ci(const __u8 *p, size_t n, const char *s);

/* First i in [from, lim) with bad(b[i]), else lim. */
static __u32 ref_find(const __u8 *b, __u32 from, __u32 lim, int (*bad)(__u8))
{
	while (from < lim && !bad(b[from]))
		from++;
	return from;
}

static int not_tchar(__u8 c)
{
	return !is_tchar(c);
}

static int ctl_or_sp(__u8 c)
{
	return c <= 0x20 || c == 0x7f;
}

/* The request-target, up to '?' or '#', holds %, \, ;, //, /./, ../ or
 * ends in /. or .. (bytes before the target count as neither / nor .). */
static int ref_unnorm(const __u8 *p, __u32 n)
{
	__u8 prev = 0, prev2 = 0, c;
	__u32 i;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '?' || c == '#')
			break;
		if (c == '%' || c == '\\' || c == ';' || (c == '/' && prev == '/') ||
		    (c == '/' && prev == '.' && (prev2 == '/' || prev2 == '.')))
			return 1;
		prev2 = prev;
		prev = c;
	}
	return prev == '.' && (prev2 == '/' || prev2 == '.');
}

/* n bytes at p contain "close" in any case (n <= 64), as the datapath's
 * conservative check defines it (each byte OR 0x20). */
static int ref_close(const __u8 *p, __u32 n)
{
	__u32 i, j;

	if (n > 64)
		return 1;
	for (i = 0; i + 5 <= n; i++) {
		for (j = 0; j < 5 && (p[i + j] | 0x20) == (__u8)"close"[j]; j++)
			;
		if (j == 5)
			return 1;
	}
	return 0;
}

/* pf_parse() by the rules, one byte at a time. */
static int ref_parse(const __u8 *b, __u32 len, struct pf_req *r)
{
	static const char *const names[] = { "host", "origin",
		"access-control-request-method", "access-control-request-headers",
		"access-control-request-private-network" };
	struct pf_slice *slot[] = { &r->host, &r->origin, &r->acrm, &r->acrh, &r->acrpn };
	__u32 sp, lim, pos, i, colon, end, vs, ve, line, h;

	memset(r, 0, sizeof(*r));
	if (len > PF_REQ_MAX)
		return len >= 8 && b[0] == 'O' ? PF_P_TOO_LONG : PF_P_NOT_OPTIONS;
	if (len < 8 || memcmp(b, "OPTIONS ", 8))
		return PF_P_NOT_OPTIONS;
	lim = len < 8 + PF_LINE_MAX ? len : 8 + PF_LINE_MAX;
	sp = ref_find(b, 8, lim, ctl_or_sp);
	if (sp >= len)
		return PF_P_INCOMPLETE;
	if (sp >= 8 + PF_LINE_MAX)
		return PF_P_TOO_LONG;
	if (b[sp] != ' ' || sp <= 8)
		return PF_P_BAD;
	if (sp + 10 > len)
		return PF_P_INCOMPLETE;
	if (memcmp(b + sp + 1, "HTTP/", 5))
		return PF_P_BAD;
	if (memcmp(b + sp + 6, "1.1\r", 4))
		return PF_P_VERSION;
	if (sp + 11 > len)
		return PF_P_INCOMPLETE;
	if (b[sp + 10] != '\n' || b[8] != '/')
		return PF_P_BAD;
	r->path.off = 8;
	r->path.len = (__u16)(sp - 8);
	r->flags = ref_unnorm(b + 8, sp - 8) ? PF_REQF_PATH_UNNORM : 0;
	pos = sp + 11;
	for (line = 0;; line++) {
		if (line == PF_MAX_LINES)
			return PF_P_TOO_LONG;
		if (pos + 2 > len)
			return PF_P_INCOMPLETE;
		if (b[pos] == '\r') {
			if (b[pos + 1] != '\n')
				return PF_P_BAD;
			r->len = (__u16)(pos + 2);
			break;
		}
		if (b[pos] == ' ' || b[pos] == '\t')
			return PF_P_OBS_FOLD;
		lim = len < pos + 64 ? len : pos + 64;
		colon = ref_find(b, pos, lim, not_tchar);
		if (colon >= len)
			return PF_P_INCOMPLETE;
		if (colon == pos || b[colon] != ':')
			return PF_P_BAD;
		lim = len < colon + 1 + PF_LINE_MAX ? len : colon + 1 + PF_LINE_MAX;
		end = ref_find(b, colon + 1, lim, is_ctl);
		if (end >= len)
			return PF_P_INCOMPLETE;
		if (end >= colon + 1 + PF_LINE_MAX)
			return PF_P_TOO_LONG;
		if (b[end] != '\r')
			return PF_P_BAD;
		if (end + 1 >= len)
			return PF_P_INCOMPLETE;
		if (b[end + 1] != '\n')
			return PF_P_BAD;
		/* at most 16 blanks are trimmed at each end */
		for (vs = colon + 1, i = 0; i < 16 && vs < end && b[vs] == ' '; i++)
			vs++;
		for (ve = end, i = 0; i < 16 && ve > vs && b[ve - 1] == ' '; i++)
			ve--;
		if (vs < ve && (b[vs] == ' ' || b[ve - 1] == ' '))
			return PF_P_BAD;
		for (h = 0; h < 5 && !eq_ci(b + pos, colon - pos, names[h]); h++)
			;
		if (h < 5) {
			if (r->seen & (1u << h))
				return PF_P_DUP;
			r->seen |= (__u8)(1u << h);
			slot[h]->off = (__u16)vs;
			slot[h]->len = (__u16)(ve - vs);
		} else if (eq_ci(b + pos, colon - pos, "content-length")) {
			if (ve - vs != 1 || b[vs] != '0')
				return PF_P_BODY;
			/* a second one, even 0: nginx says 400 */
			if (r->seen & PF_SEEN_CLEN)
				return PF_P_DUP;
			r->seen |= PF_SEEN_CLEN;
		} else if (eq_ci(b + pos, colon - pos, "transfer-encoding")) {
			return PF_P_BODY;
		} else if (eq_ci(b + pos, colon - pos, "connection")) {
			/* "close" in it, or a second Connection line: to the app */
			if ((r->seen & PF_SEEN_CONN) || ref_close(b + vs, ve - vs))
				return PF_P_CONN_CLOSE;
			r->seen |= PF_SEEN_CONN;
		} else if (eq_ci(b + pos, colon - pos, "upgrade")) {
			return PF_P_VERSION;
		}
		pos = end + 2;
	}
	if (!(r->seen & PF_SEEN_HOST))
		return PF_P_BAD;
	if ((r->seen & (PF_SEEN_ORIGIN | PF_SEEN_ACRM)) != (PF_SEEN_ORIGIN | PF_SEEN_ACRM))
		return PF_P_PLAIN_OPTIONS;
	return r->len != len ? PF_P_PIPELINED : PF_P_OK;
}



static int is_tchar(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_hostch(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == ':';
}

static __u8 lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* n bytes at p equal s case-insensitively (s lower-case). */
static int eq_ci(const __u8 *p, size_t n, const char *s)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower(p[i]) != (__u8)s[i])
			return 0;
	return 1;
}

static int eq(const __u8 *p, size_t n, const char *s)
{
	return strlen(s) == n && !memcmp(p, s, n);
}

static int has_star(const struct pf_str_list *l)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].s, "*"))
			return 1;
	return 0;
}

/* Does rule pr list origin o (n bytes)? Exact bytes, "*", or
 * scheme, "://", label(s), ".", domain[:port] for a wildcard pattern.
 * Origins longer than the kernel's PF_TOKEN_MAX only match "*". */
static int ref_origin(const struct pf_policy_rule *pr, const __u8 *o, size_t n)
{
	unsigned i;

	for (i = 0; i < pr->origins.n; i++) {
		const char *s = pr->origins.v[i].s, *dom;
		size_t sl, dl, rn, k;
		const __u8 *rest;

		if (!strcmp(s, "*"))
			return 1;
		if (n == 0 || n > PF_TOKEN_MAX)
			continue;
		if (!strncmp(s, "https://*.", 10)) {
			sl = 8;
			dom = s + 10;
		} else if (!strncmp(s, "http://*.", 9)) {
			sl = 7;
			dom = s + 9;
		} else {
			if (eq(o, n, s))
				return 1;
			continue;
		}
		if (n <= sl || memcmp(o, s, sl))
			continue;
		rest = o + sl;
		rn = n - sl;
		dl = strlen(dom);
		for (k = 0; k < rn && is_hostch(rest[k]); k++)
			;
		if (k < rn || rn < dl + 2 || rest[rn - dl - 1] != '.' ||
		    memcmp(rest + rn - dl, dom, dl))
			continue;
		return 1;
	}
	return 0;
}

/* Host header matches rule pr's hosts (any case, ":port" of at most 7
 * digits ignored, then one trailing dot; hosts over PF_TOKEN_MAX never
 * match). */
static int ref_host(const struct pf_policy_rule *pr, const __u8 *h, size_t n)
{
	size_t i;
	unsigned j;

	if (!pr->hosts.n)
		return 1;
	if (n > PF_TOKEN_MAX)
		return 0;
	for (i = 0; i < 8 && i < n; i++) {
		if (h[n - 1 - i] == ':') {
			n = n - 1 - i;
			break;
		}
		if (h[n - 1 - i] < '0' || h[n - 1 - i] > '9')
			break;
	}
	if (n > 1 && h[n - 1] == '.')
		n--; /* one trailing dot: the same host */
	for (j = 0; j < pr->hosts.n; j++)
		if (n && eq_ci(h, n, pr->hosts.v[j].s))
			return 1;
	return 0;
}

static int ref_path(const struct pf_policy_rule *pr, const __u8 *p, size_t n)
{
	unsigned j;

	if (!pr->paths.n)
		return 1;
	for (j = 0; j < pr->paths.n; j++) {
		size_t l = strlen(pr->paths.v[j].s);

		if (l <= n && !memcmp(p, pr->paths.v[j].s, l))
			return 1;
	}
	return 0;
}

static __u32 ref_method(const struct pf_policy_rule *pr, const __u8 *m, size_t n)
{
	unsigned i;

	if (n == 0 || n > PF_TOKEN_MAX)
		return PF_R_METHOD_BAD;
	for (i = 0; i < n; i++)
		if (!is_tchar(m[i]))
			return PF_R_METHOD_BAD;
	if (eq_ci(m, n, "connect") || eq_ci(m, n, "trace") || eq_ci(m, n, "track"))
		return PF_R_METHOD_FORBIDDEN;
	if (eq(m, n, "GET") || eq(m, n, "HEAD") || eq(m, n, "POST"))
		return PF_R_OK;
	if (has_star(&pr->methods))
		return PF_R_OK;
	for (i = 0; i < pr->methods.n; i++)
		if (eq(m, n, pr->methods.v[i].s))
			return PF_R_OK;
	return PF_R_METHOD;
}

struct ref_hdr {
	__u32 reason;
	unsigned ntok;
	int authz;
	size_t bad_off, bad_len;   /* relative to the value */
};

/* 1: the reference checks request headers with the daemon's limits
 * (PF_ACRH_SLOW_MAX), not the kernel's. */
static int ref_no_limits;

/* Check the ACRH value v (n bytes) element by element, in order: each
 * comma-separated element is OWS, a token, OWS. */
static void ref_headers(const struct pf_policy_rule *pr, const __u8 *v,
			size_t n, struct ref_hdr *h)
{
	size_t i = 0, j, k, s;
	unsigned t;
	int star = has_star(&pr->headers), listed, authz;

	memset(h, 0, sizeof(*h));
	if (n > (ref_no_limits ? PF_ACRH_SLOW_MAX - 1 : PF_ACRH_MAX_LEN)) {
		h->reason = PF_R_ACRH_LIMIT;
		return;
	}
	while (i < n) {
		for (j = i; j < n && v[j] != ','; j++)
			;
		for (k = i; k < j && (v[k] == ' ' || v[k] == '\t'); k++)
			;
		if (k == j) {
			i = j + 1;
			continue;
		}
		if (!is_tchar(v[k]))
			goto bad;
		for (s = k; k < j && is_tchar(v[k]); k++)
			;
		if (k < j && v[k] != ' ' && v[k] != '\t')
			goto bad;
		if (++h->ntok > PF_ACRH_MAX_TOKENS && !ref_no_limits) {
			h->reason = PF_R_ACRH_LIMIT;
			return;
		}
		authz = eq_ci(v + s, k - s, "authorization");
		h->authz |= authz;
		listed = 0;
		for (t = 0; t < pr->headers.n && k - s <= PF_TOKEN_MAX; t++)
			if (eq_ci(v + s, k - s, pr->headers.v[t].s))
				listed = 1;
		if (!listed && !(star && !authz)) {
			h->reason = star && authz ? PF_R_AUTHZ_WILDCARD : PF_R_HEADER;
			h->bad_off = s;
			h->bad_len = k - s;
			return;
		}
		for (; k < j && (v[k] == ' ' || v[k] == '\t'); k++)
			;
		if (k < j)
			goto bad;
		i = j + 1;
	}
	return;
bad:
	h->reason = PF_R_HEADER_BAD;
	h->bad_off = k;
	h->bad_len = 1;
}

struct ref {
	__u32 verdict, reason, rule;
	struct ref_hdr hdr;
	int acapn;
};

#define SL(s) (b + r->s.off), (size_t)r->s.len

/* The decision of include/pf_match.h, from the policy's strings. */
static void ref_decide(const struct pf_policy *p, const __u8 *b,
		       const struct pf_req *r, struct ref *out)
{
	const struct pf_policy_rule *pr;
	unsigned i, first = ~0u, ri = ~0u;
	int has_paths = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < p->n_rules; i++)
		has_paths |= p->rules[i].paths.n != 0;
	if (has_paths && (r->flags & PF_REQF_PATH_UNNORM)) {
		out->verdict = PF_V_PUNT;
		out->reason = PF_R_PATH_UNNORM;
		return;
	}
	for (i = 0; i < p->n_rules; i++) {
		pr = &p->rules[i];
		if (!ref_host(pr, SL(host)) || !ref_path(pr, SL(path)))
			continue;
		if (first == ~0u)
			first = i;
		if (ref_origin(pr, SL(origin))) {
			ri = i;
			break;
		}
	}
	if (first == ~0u) {
		out->verdict = PF_V_NO_RULE;
		out->reason = PF_R_NO_RULE;
		return;
	}
	if (ri == ~0u) {
		out->rule = first;
		out->reason = PF_R_ORIGIN;
		goto deny;
	}
	out->rule = ri;
	pr = &p->rules[ri];
	out->reason = ref_method(pr, SL(acrm));
	if (out->reason != PF_R_OK)
		goto deny;
	if (r->acrh.len) {
		ref_headers(pr, SL(acrh), &out->hdr);
		out->reason = out->hdr.reason;
		if (out->reason == PF_R_ACRH_LIMIT) {
			/* the daemon's job, if not too long for it too */
			out->verdict = PF_V_PUNT;
			if (r->acrh.len < PF_ACRH_SLOW_MAX)
				out->reason = PF_R_ACRH_SLOW;
			return;
		}
		if (out->reason != PF_R_OK)
			goto deny;
	}
	if (eq(SL(acrpn), "true")) {
		if (!pr->private_network) {
			out->reason = PF_R_PNA;
			goto deny;
		}
		out->acapn = 1;
	}
	out->verdict = PF_V_ALLOW;
	return;
deny:
	out->verdict = p->rules[out->rule].on_deny_reject ? PF_V_REJECT :
							   PF_V_FORWARD;
}

/* Append n bytes. */
static void put(char *o, size_t *len, const void *s, size_t n)
{
	CHECK(*len + n < 4096);
	memcpy(o + *len, s, n);
	*len += n;
}

#define PUTS(s) put(o, &len, (s), strlen(s))

/* The response for ref's verdict, built from the policy's strings; its
 * length, and in *tails the rule's fixed+reject tail lengths. */
static size_t ref_response(const struct pf_policy_rule *pr, const __u8 *b,
			   const struct pf_req *r, const struct ref *ref,
			   char *o, size_t *tails)
{
	static const char vary[] = "Vary: " PF_EXPECT_VARY_V;
	size_t len = 0, start;
	char age[32];
	unsigned i;

	/* the 403 tail */
	PUTS(vary);
	PUTS("\r\nContent-Length: 0\r\n\r\n");
	*tails = len;
	len = 0;
	if (ref->verdict == PF_V_REJECT) {
		PUTS("HTTP/1.1 403 Forbidden\r\n");
		PUTS(vary);
		PUTS("\r\nContent-Length: 0\r\n\r\n");
	} else {
		PUTS("HTTP/1.1 204 No Content\r\n");
		PUTS("Access-Control-Allow-Origin: ");
		if (has_star(&pr->origins))
			PUTS("*");
		else
			put(o, &len, SL(origin));
		PUTS("\r\n");
		if (has_star(&pr->methods)) {
			PUTS("Access-Control-Allow-Methods: ");
			if (pr->credentials)
				put(o, &len, SL(acrm));
			else
				PUTS("*");
			PUTS("\r\n");
		}
		if (ref->hdr.ntok) {
			PUTS("Access-Control-Allow-Headers: ");
			if (has_star(&pr->headers) && !pr->credentials &&
			    !ref->hdr.authz)
				PUTS("*");
			else
				put(o, &len, SL(acrh));
			PUTS("\r\n");
		}
		if (ref->acapn)
			PUTS("Access-Control-Allow-Private-Network: true\r\n");
	}
	/* the allowed-response tail (counted for the size estimate) */
	start = len;
	if (!has_star(&pr->methods)) {
		PUTS("Access-Control-Allow-Methods: ");
		for (i = 0; i < pr->methods.n; i++) {
			if (i)
				PUTS(", ");
			PUTS(pr->methods.v[i].s);
		}
		PUTS("\r\n");
	}
	if (pr->credentials)
		PUTS("Access-Control-Allow-Credentials: true\r\n");
	if (pr->max_age >= 0) {
		snprintf(age, sizeof(age), "Access-Control-Max-Age: %d\r\n",
			 pr->max_age);
		PUTS(age);
	}
	PUTS(vary);
	PUTS("\r\n\r\n");
	*tails += len - start;
	if (ref->verdict == PF_V_REJECT)
		len = start;
	return len;
}

/* ---- checks ---- */

/* Slice s lies inside the request and holds no CTL byte. */
static void check_slice(const __u8 *b, const struct pf_req *r, struct pf_slice s)
{
	__u32 i;

	CHECK((__u32)s.off + s.len <= r->len);
	for (i = 0; i < s.len; i++)
		CHECK(b[s.off + i] >= 0x20 && b[s.off + i] != 0x7f);
}

/* Structural properties of a response of len bytes. */
static void check_response(const __u8 *o, int len)
{
	char *s;
	int i;

	CHECK(len > 0 && len <= PF_RESP_MAX);
	for (i = 0; i < len; i++) {
		if (o[i] == '\r')
			CHECK(i + 1 < len && o[i + 1] == '\n');
		if (o[i] == '\n')
			CHECK(i > 0 && o[i - 1] == '\r');
	}
	s = strndup((const char *)o, (size_t)len);
	CHECK(s && (int)strlen(s) == len);
	CHECK(strstr(s, "\r\n\r\n") == s + len - 4);
	CHECK(strstr(s, "\r\n" PF_EXPECT_VARY));
	CHECK(!(strstr(s, "\r\nAccess-Control-Allow-Origin: *\r\n") &&
		strstr(s, "\r\nAccess-Control-Allow-Credentials:")));
	free(s);
}

/* Decide b against policy i and compare with the reference. */
static void check_decision(int i, const __u8 *b, __u32 len)
{
	static char want[4096];
	struct pf_req r;
	struct pf_match m;
	struct ref ref;
	size_t wlen, tails, need;
	int res, rlen;

	memset(resp, 0, 2 * PF_RESP_MAX);
	res = pf_user_decide(&comp[i], b, len, NULL, &r, &m, resp, &rlen);
	CHECK(res == PF_P_OK);
	ref_decide(&pol[i], b, &r, &ref);
	if (m.verdict != ref.verdict || m.reason != ref.reason ||
	    (ref.verdict != PF_V_NO_RULE && ref.reason != PF_R_PATH_UNNORM &&
	     m.rule != ref.rule)) {
		fprintf(stderr, "policy %d: %s/%s rule %u, reference %s/%s rule %u\n",
			i, pf_verdict_name(m.verdict), pf_reason_name(m.reason),
			m.rule, pf_verdict_name(ref.verdict),
			pf_reason_name(ref.reason), ref.rule);
		abort();
	}
	if (m.verdict == PF_V_PUNT && m.reason == PF_R_ACRH_SLOW && !ref_no_limits) {
		/* what the daemon does; then the retransmission is decided
		 * against the reference without the kernel's limits */
		struct pf_acrh_src src = { .comp = &comp[i] };
		struct pf_acrh_val v;

		CHECK(!pf_acrh_decide(&src, comp[i].slot, m.rule,
				      (const char *)b + r.acrh.off, r.acrh.len, &v));
		pf_user_acrh_learn(&m.ak, &v);
		ref_no_limits = 1;
		check_decision(i, b, len);
		ref_no_limits = 0;
		pf_user_acrh_forget();
		return;
	}
	if (m.reason == PF_R_HEADER || m.reason == PF_R_HEADER_BAD ||
	    m.reason == PF_R_AUTHZ_WILDCARD) {
		CHECK(m.bad.off == r.acrh.off + ref.hdr.bad_off);
		CHECK(m.bad.len == ref.hdr.bad_len);
	}
	if (m.verdict != PF_V_ALLOW && m.verdict != PF_V_REJECT) {
		CHECK(rlen == -1);
		return;
	}
	wlen = ref_response(&pol[i].rules[ref.rule], b, &r, &ref, want, &tails);
	/* pf_build_response's size estimate (conservative by design) */
	need = 64 + PF_DATE_LEN + r.origin.len + r.acrm.len + r.acrh.len +
	       tails + 200;
	if (rlen == -1) {
		CHECK(need > PF_RESP_MAX || r.acrh.len >= PF_ACRH_SLOW_MAX ||
		      r.origin.len > PF_TOKEN_MAX || r.acrm.len > PF_TOKEN_MAX);
		return;
	}
	CHECK(need <= PF_RESP_MAX);
	if ((size_t)rlen != wlen || memcmp(resp, want, wlen)) {
		fprintf(stderr, "response:\n%.*s\nreference:\n%.*s\n", rlen,
			(const char *)resp, (int)wlen, want);
		abort();
	}
	check_response(resp, rlen);
}

/* The splice guard's framing (include/pf_frame.h) on the same input: the
 * length does not depend on the bytes after it; a known length covers at
 * least a head that ends with the blank line, inside the input, with no
 * bare LF taken for a line end. */
static void check_frame(__u32 len)
{
	static struct pf_req f1, f2;
	long a, b;
	__u32 i;

	pf_parse_head(buf, len, &f1);
	pf_parse_head(buf2, len, &f2);
	a = pf_frame_len(&f1);
	b = pf_frame_len(&f2);
	CHECK(a == b && f1.len == f2.len);
	if (a < 0)
		return;
	CHECK(f1.len >= 4 && f1.len <= len && f1.len <= PF_REQ_MAX && a >= f1.len);
	CHECK(!memcmp(buf + f1.len - 4, "\r\n\r\n", 4));
	for (i = 0; i < f1.len; i++)
		CHECK(buf[i] != '\n' || (i > 0 && buf[i - 1] == '\r'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_req r, r2;
	__u32 len = size > 1u << 20 ? 1u << 20 : (__u32)size;
	size_t n = size < PF_REQ_MAX ? size : PF_REQ_MAX, k;
	int res, res2, i;

	/* the same bytes, followed by NULs in buf and by CRLFs in buf2 */
	memset(buf, 0, PF_REQ_BUF);
	for (k = 0; k < PF_REQ_BUF; k++)
		buf2[k] = k & 1 ? '\n' : '\r';
	memcpy(buf, data, n);
	memcpy(buf2, data, n);
	check_frame(len);
	res = pf_parse(buf, len, &r);
	res2 = pf_parse(buf2, len, &r2);
	CHECK(res == res2 && r.res == res);
	CHECK(ref_parse(buf, len, &r2) == res);
	CHECK(res >= PF_P_OK && res <= PF_P_PIPELINED);
	if (len > PF_REQ_MAX)
		CHECK(res == PF_P_TOO_LONG || res == PF_P_NOT_OPTIONS);
	if (res != PF_P_OK)
		return 0;
	/* the reference's fields */
	CHECK(!memcmp(&r.path, &r2.path, 6 * sizeof(struct pf_slice)));
	CHECK(r.flags == r2.flags && r.seen == r2.seen && r.len == r2.len);
	pf_parse(buf2, len, &r2);
	CHECK(!memcmp(&r.path, &r2.path, 6 * sizeof(struct pf_slice)));
	CHECK(r.flags == r2.flags && r.seen == r2.seen && r.len == r2.len);
	CHECK(r.len == len && len <= PF_REQ_MAX);
	CHECK(r.path.off == 8 && r.path.len > 0 && buf[8] == '/');
	CHECK((r.seen & (PF_SEEN_HOST | PF_SEEN_ORIGIN | PF_SEEN_ACRM)) ==
	      (PF_SEEN_HOST | PF_SEEN_ORIGIN | PF_SEEN_ACRM));
	check_slice(buf, &r, r.path);
	check_slice(buf, &r, r.host);
	check_slice(buf, &r, r.origin);
	check_slice(buf, &r, r.acrm);
	check_slice(buf, &r, r.acrh);
	check_slice(buf, &r, r.acrpn);
	for (i = 0; i < N_POL; i++)
		check_decision(i, buf, len);
	return 0;
}
