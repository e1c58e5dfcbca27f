/*
 * policy_validate.c -- semantic checks of a loaded policy: every value
 * (policy_value.c), duplicates, and what depends on several keys of a
 * rule ("*" alone, credentials, the size of the response tail). Each
 * problem is reported at the offending string; every string is checked
 * (no early exit).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "policy_diag.h"
#include "policy_hsort.h"
#include "policy_regex.h"
#include "policy_rule.h"
#include "policy_validate.h"
#include "policy_value.h"
#include "policy_offload.h"

/* A 64-bit hash of s for grouping equal strings, 8 bytes a step (the
 * datapath's pf_hash_bytes reads one byte a step: twice the cost of
 * this whole check for 100,000 origins). Any two different strings
 * hashing alike only cost one more strcmp. */
static __u64 group_hash(const char *s)
{
	size_t len = strlen(s);
	__u64 h = len * 0x9e3779b97f4a7c15ull, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* Order of entries of a pf_str_list (arg) with equal hashes: by string,
 * then by position. */
static int tie_cmp(const void *a, const void *b, void *arg)
{
	const struct pf_str_list *l = arg;
	const struct pf_hent *x = a, *y = b;
	int c = strcmp(l->v[x->idx].s, l->v[y->idx].s);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Report every entry of l equal to an earlier one as "duplicate WHAT"
 * (lists may hold 100,000 origins: sorted by hash, see policy_hsort.h). */
static void check_dups(const struct pf_str_list *l, const char *what,
		       const char *why, struct pf_diag *d)
{
	char shown[PF_SHOW_MAX];
	struct pf_hent *h;
	bool *dup;
	unsigned i;

	if (l->n < 2)
		return;
	h = malloc(l->n * sizeof(*h));
	dup = calloc(l->n, sizeof(*dup));
	if (!h || !dup)
		goto oom;
	for (i = 0; i < l->n; i++) {
		h[i].hash = group_hash(l->v[i].s);
		h[i].idx = i;
	}
	if (pf_hsort(h, l->n, tie_cmp, (void *)l))
		goto oom;
	/* equal strings are now adjacent, the first one listed first */
	for (i = 1; i < l->n; i++)
		if (h[i].hash == h[i - 1].hash &&
		    !strcmp(l->v[h[i].idx].s, l->v[h[i - 1].idx].s))
			dup[h[i].idx] = true;
	for (i = 0; i < l->n; i++)
		if (dup[i])
			pf_diag(d, l->v[i].at, "duplicate %s '%s'%s", what,
				pf_show(l->v[i].s, shown, sizeof(shown)), why);
	goto out;
oom:
	pf_diag(d, l->v[0].at, "out of memory checking %ss", what);
out:
	free(h);
	free(dup);
}

/* Report a failed check of entry e with the text in msg. */
static void report(struct pf_diag *d, const struct pf_str *e, const char *msg)
{
	char shown[PF_SHOW_MAX];

	pf_diag(d, e->at, "'%s': %s", pf_show(e->s, shown, sizeof(shown)), msg);
}

/* Origins no operator lists on purpose: a regex matching one of them
 * matches every site's origin (".*", "https?://.+"). */
static const char *const pf_probe_origins[] = {
	"https://preflightd-probe.invalid",
	"http://preflightd-probe.invalid",
	"https://preflightd-probe.invalid:8443",
};

/* The run of host characters -- letters, digits, '-', ':', escaped '.'
 * or '-' -- that s (len bytes) ends with, escapes undone, into out (n
 * bytes, always terminated); *whole: the run is all of s. Returns its
 * length (0 when it does not fit). */
static size_t literal_run(const char *s, size_t len, char *out, size_t n, bool *whole)
{
	size_t i, m = 0, from = 0;

	for (i = 0; i < len; i++) {
		int esc = s[i] == '\\' && i + 1 < len;
		char c = s[i + esc];

		if (esc ? c == '.' || c == '-' : isalnum((unsigned char)c) || c == '-' || c == ':') {
			if (m + 1 < n)
				out[m] = c;
			m++;
		} else {
			m = 0;
			from = i + esc + 1;
		}
		i += esc;
	}
	*whole = from == 0;
	if (m >= n)
		m = 0;
	out[m] = 0;
	return m;
}

/* Keep tail (a host name's end) only if it starts with a label character
 * and has a dot, else empty it. Returns whether it was kept. */
static bool domain_like(char *tail)
{
	if (!isalnum((unsigned char)tail[0]) || !strchr(tail, '.'))
		tail[0] = 0;
	return tail[0] != 0;
}

#define PF_TAILS_MAX 8

/* One step of a walk over pattern pat at i: *tok the structural byte
 * there -- '(', ')' or '|', not escaped and outside a character class --
 * or 0; *cls whether the walk is inside a class. Returns where the next
 * step starts (past an escape's second byte). */
static size_t pat_step(const char *pat, size_t i, bool *cls, char *tok)
{
	*tok = 0;
	if (pat[i] == '\\')
		return i + 2;
	if (*cls)
		*cls = pat[i] != ']';
	else if (pat[i] == '[')
		*cls = true;
	else if (pat[i] == '(' || pat[i] == ')' || pat[i] == '|')
		*tok = pat[i];
	return i + 1;
}

/* Add prefix (pl bytes) joined to the branch br (n bytes) to tails[*k]
 * if the branch is literal whole and the name domain-like (literal_tails). */
static void add_branch(char (*tails)[PF_SHOW_MAX], size_t *k, const char *prefix, size_t pl,
		       const char *br, size_t n)
{
	char branch[PF_SHOW_MAX];
	bool whole;
	size_t bl = literal_run(br, n, branch, sizeof(branch), &whole);

	if (!bl || !whole || pl + bl >= PF_SHOW_MAX)
		return;
	memcpy(tails[*k], prefix, pl);
	memcpy(tails[*k] + pl, branch, bl + 1);
	*k += domain_like(tails[*k]);
}

/* The literal host names a pattern can end with, escapes undone, into
 * tails (at most PF_TAILS_MAX, each PF_SHOW_MAX bytes; an end anchor
 * ignored): for 'https://.*example\\.com' "example.com", the run of host
 * characters after the last quantifier, class or group. A pattern that
 * ends in a group -- 'https://.*example\\.(com|org)',
 * 'https://.*example\\.com(:[0-9]+)?' -- yields that run before the group
 * joined to each of the group's top-level branches that is literal
 * itself ("example.com", "example.org"), and, the group optional ('?' or
 * '*' after it), the run alone. Only names that start with a label
 * character and have a dot. Returns how many. */
static size_t literal_tails(const char *pat, char (*tails)[PF_SHOW_MAX])
{
	size_t len = strlen(pat), i, next, open = len, depth = 0, k = 0, b, pl;
	size_t stack[64];
	char prefix[PF_SHOW_MAX], tok;
	bool whole, opt = false, cls = false;

	if (len && pat[len - 1] == '$' && (len < 2 || pat[len - 2] != '\\'))
		len--;
	if (len && (pat[len - 1] == '?' || pat[len - 1] == '*') &&
	    (len < 2 || pat[len - 2] != '\\')) {
		opt = true;
		len--;
	}
	if (!len || pat[len - 1] != ')' || (len >= 2 && pat[len - 2] == '\\')) {
		literal_run(pat, len + opt, tails[0], PF_SHOW_MAX, &whole);
		return domain_like(tails[0]);
	}
	/* the '(' of the last group */
	for (i = 0; i < len; i = next) {
		next = pat_step(pat, i, &cls, &tok);
		if (tok == '(') {
			if (depth < sizeof(stack) / sizeof(stack[0]))
				stack[depth] = i;
			depth++;
		} else if (tok == ')' && depth) {
			depth--;
			if (i == len - 1 && depth < sizeof(stack) / sizeof(stack[0]))
				open = stack[depth];
		}
	}
	if (open >= len)
		return 0;
	pl = literal_run(pat, open, prefix, sizeof(prefix), &whole);
	if (opt && pl) {
		memcpy(tails[k], prefix, pl + 1);
		k += domain_like(tails[k]);
	}
	/* the group's top-level branches ("?:" aside), up to its ')' */
	i = open + 1;
	if (i + 1 < len && pat[i] == '?' && pat[i + 1] == ':')
		i += 2;
	for (b = i, depth = 0, cls = false; i < len - 1 && k < PF_TAILS_MAX; i = next) {
		next = pat_step(pat, i, &cls, &tok);
		if (tok == '(') {
			depth++;
		} else if (tok == ')') {
			depth--;
		} else if (tok == '|' && !depth) {
			add_branch(tails, &k, prefix, pl, pat + b, i - b);
			b = next;
		}
	}
	if (k < PF_TAILS_MAX)
		add_branch(tails, &k, prefix, pl, pat + b, len - 1 - b);
	return k;
}

/* Does the compiled regex code, whose pattern ends with the host name
 * tail, also match that name glued to another label ("https://" +
 * "preflightd-probe" + tail) -- a name anyone can register, as
 * 'https://.*example\.com' matches https://evilexample.com? The probe
 * matched goes to hit (n bytes). */
static int matches_glued(void *code, const char *tail, char *hit, size_t n)
{
	static const char *const schemes[] = { "https://", "http://" };
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(hit, n, "%spreflightd-probe%.*s", schemes[i], PF_SHOW_MAX - 1, tail);
		if (pf_regex_matches(code, hit, strlen(hit)))
			return 1;
	}
	return 0;
}

/* Checks of what the compiled regex code (entry e of rule r) matches: never
 * the null origin (any sandboxed page or data: URL sends it; refused as an
 * exact origin too), with credentials never any site's origin (the
 * credentialed wildcard '*' refuses, reached through a pattern); and a
 * warning for an unescaped '.' between host characters
 * ("https://app.example.com" also matches https://app-example.com, which
 * anyone can register). */
static void check_regex_reach(const struct pf_policy_rule *r, const struct pf_str *e,
			      void *code, struct pf_diag *d)
{
	static char tails[PF_TAILS_MAX][PF_SHOW_MAX];
	char shown[PF_SHOW_MAX], hit[PF_SHOW_MAX + 32];
	struct pf_mark at = e->at;
	size_t i, n = strlen(e->s), nt;
	int esc = 0, cls = 0;
	/* what any site's origin would get: credentialed responses, or a
	 * way into this private network */
	const char *grant = r->credentials ? "credentials: true" :
			    r->private_network ? "private_network: true" : NULL;
	const char *harm = r->credentials ? "which would read credentialed responses" :
			   "which would let any public site reach this private server";

	if (pf_regex_matches(code, "null", 4))
		pf_diag(d, e->at, "regex '%s' matches the null origin, which any sandboxed page can send; refusing",
			pf_show(e->s, shown, sizeof(shown)));
	for (i = 0; grant && i < sizeof(pf_probe_origins) / sizeof(pf_probe_origins[0]); i++)
		if (pf_regex_matches(code, pf_probe_origins[i], strlen(pf_probe_origins[i]))) {
			pf_diag(d, e->at, "regex '%s' with %s matches any site's origin (%s), %s; list the origins or narrow the pattern",
				pf_show(e->s, shown, sizeof(shown)), grant, pf_probe_origins[i], harm);
			break;
		}
	/* a suffix match: refused with credentials or private_network,
	 * like any site's origin */
	nt = literal_tails(e->s, tails);
	for (i = 0; i < nt; i++) {
		if (!matches_glued(code, tails[i], hit, sizeof(hit)))
			continue;
		(grant ? pf_diag : pf_diag_warn)(d, e->at,
			"regex '%s' also matches %s: a host name that only ends in '%s', which anyone can register%s%s%s%s; put an escaped dot ('\\.') before the domain",
			pf_show(e->s, shown, sizeof(shown)), hit, tails[i],
			grant ? " (with " : "", grant ? grant : "", grant ? ", " : "",
			grant ? (r->credentials ? "it would read credentialed responses)" :
				 "it would let such a site reach this private server)") : "");
		return;
	}
	for (i = 0; i < n; i++) {
		char c = e->s[i];

		if (esc) {
			esc = 0;
		} else if (c == '\\') {
			esc = 1;
		} else if (cls) {
			cls = c != ']';
		} else if (c == '[') {
			cls = 1;
		} else if (c == '.' && i && i + 1 < n && isalnum((unsigned char)e->s[i - 1]) &&
			   isalnum((unsigned char)e->s[i + 1])) {
			at.col += (unsigned)i;
			pf_diag_warn(d, at, "regex '%s': this '.' matches any character (a look-alike host such as one with '-' in its place matches too); write '\\.' for a dot",
				     pf_show(e->s, shown, sizeof(shown)));
			break;
		}
	}
}

/* Checks of the origins of rule r. */
static void check_origins(const struct pf_policy_rule *r, struct pf_diag *d)
{
	char msg[PF_MSG_MAX], shown[PF_SHOW_MAX];
	unsigned i;

	for (i = 0; i < r->origins.n; i++) {
		const struct pf_str *e = &r->origins.v[i];

		if (strcmp(e->s, "*")) {
			if (!pf_origin_ok(e->s, msg))
				report(d, e, msg);
			else if (r->credentials && !strncmp(e->s, "http://", 7))
				pf_diag_warn(d, e->at, "'%s' with credentials: true: a page on an http:// origin can be altered by anyone on its network path, who then reads credentialed responses; prefer https://",
					     pf_show(e->s, shown, sizeof(shown)));
			continue;
		}
		if (r->origins.n + r->regexes.n > 1)
			pf_diag(d, e->at, "'*' must be the only origin");
		if (r->credentials)
			pf_diag(d, e->at, "origins '*' with credentials: true would let any site read credentialed responses; list the origins");
		/* Private Network Access exists to keep public sites away
		 * from private devices: any site is the opposite (Spring
		 * refuses it too) */
		if (r->private_network)
			pf_diag(d, e->at, "origins '*' with private_network: true would let any public site reach this private server through its visitors' browsers; list the origins");
	}
	check_dups(&r->origins, "origin", "", d);
	/* regexes: compiled with the semantics the daemon uses (full
	 * match); an error points at the byte PCRE2 names. The column is
	 * exact for plain and quoted patterns without escapes. */
	for (i = 0; i < r->regexes.n; i++) {
		const struct pf_str *e = &r->regexes.v[i];
		struct pf_mark at = e->at;
		size_t off = 0;
		void *code;

		code = pf_regex_compile(e->s, msg, sizeof(msg), &off);
		if (code) {
			check_regex_reach(r, e, code, d);
			pf_regex_free(code);
			continue;
		}
		at.col += (unsigned)off;
		pf_diag(d, at, "regex '%s': %s", pf_show(e->s, shown, sizeof(shown)), msg);
	}
	check_dups(&r->regexes, "regex", "", d);
}

/* Checks of the methods of rule r, including the size of its response. */
static void check_methods(const struct pf_policy_rule *r, struct pf_diag *d)
{
	char msg[PF_MSG_MAX];
	size_t fixed;
	unsigned i;

	for (i = 0; i < r->methods.n; i++) {
		const struct pf_str *e = &r->methods.v[i];

		if (!strcmp(e->s, "*")) {
			if (r->methods.n > 1)
				pf_diag(d, e->at, "'*' must be the only method");
			continue;
		}
		if (!pf_method_ok(e->s, msg))
			report(d, e, msg);
	}
	check_dups(&r->methods, "method", "", d);
	fixed = pf_rule_fixed(r, NULL, 0);
	if (r->methods.n && fixed > PF_FIXED_MAX)
		pf_diag(d, r->methods.v[0].at,
			"methods: the response tail of this rule would be %zu bytes, over the limit of %d; list fewer methods",
			fixed, PF_FIXED_MAX);
}

/* Checks of the headers of rule r (lower-cases them). */
static void check_headers(struct pf_policy_rule *r, struct pf_diag *d)
{
	char msg[PF_MSG_MAX];
	unsigned i;

	for (i = 0; i < r->headers.n; i++) {
		struct pf_str *e = &r->headers.v[i];

		if (strcmp(e->s, "*") && !pf_header_ok(e->s, msg))
			report(d, e, msg);
	}
	check_dups(&r->headers, "header", " (header names are case-insensitive)",
		   d);
}

/* Checks of the hosts of rule r (lower-cases them). */
static void check_hosts(struct pf_policy_rule *r, struct pf_diag *d)
{
	char msg[PF_MSG_MAX];
	unsigned i;

	for (i = 0; i < r->hosts.n; i++) {
		struct pf_str *e = &r->hosts.v[i];

		if (!pf_hostname_ok(e->s, msg))
			report(d, e, msg);
	}
	check_dups(&r->hosts, "host", " (hosts are case-insensitive)", d);
}

/* Checks of the path prefixes of rule r. */
static void check_paths(const struct pf_policy_rule *r, struct pf_diag *d)
{
	char msg[PF_MSG_MAX];
	unsigned i;

	if (r->paths.n > PF_MAX_PATHS)
		pf_diag(d, r->paths.v[PF_MAX_PATHS].at,
			"paths: at most %d paths per rule", PF_MAX_PATHS);
	for (i = 0; i < r->paths.n; i++)
		if (!pf_path_ok(r->paths.v[i].s, msg))
			report(d, &r->paths.v[i], msg);
	check_dups(&r->paths, "path", "", d);
}

/* See policy_validate.h. */
/* Checks of the response offload keys of rule r (issue 13): expose
 * names are header names (lower-cased); "*" is a wildcard only without
 * credentials; the line they make must fit the datapath's buffer. */
static void check_expose(struct pf_policy_rule *r, struct pf_diag *d)
{
	char msg[PF_MSG_MAX];
	unsigned i;

	for (i = 0; i < r->expose.n; i++) {
		struct pf_str *e = &r->expose.v[i];

		if (!strcmp(e->s, "*")) {
			if (r->credentials)
				report(d, e, "with credentials: true, \"*\" is not a wildcard for "
				       "browsers (list the names)");
		} else if (!pf_header_ok(e->s, msg)) {
			report(d, e, msg);
		}
	}
	check_dups(&r->expose, "header", " (header names are case-insensitive)", d);
	if (r->expose.n && pf_ofl_expose_line(r, NULL, 0) > PF_OFL_EXPOSE_MAX)
		pf_diag(d, r->expose_at, "expose_headers: the header line would be over %d bytes",
			PF_OFL_EXPOSE_MAX);
}

void pf_policy_validate(struct pf_policy *pol, struct pf_diag *d)
{
	unsigned i;

	for (i = 0; i < pol->n_rules; i++) {
		struct pf_policy_rule *r = &pol->rules[i];

		check_hosts(r, d);
		check_paths(r, d);
		check_origins(r, d);
		check_methods(r, d);
		check_headers(r, d);
		check_expose(r, d);
	}
}
