/*
 * policy_validate.c -- semantic checks of a loaded policy: every value
 * (policy_value.c), duplicates, and what depends on several keys of a
 * rule ("*" alone, credentials, the size of the response tail). Each
 * problem is reported at the offending string; every string is checked
 * (no early exit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "policy_diag.h"
#include "policy_regex.h"
#include "policy_rule.h"
#include "policy_validate.h"
#include "policy_value.h"

/* qsort_r order of list indexes: by string, then by position. */
static int idx_cmp(const void *a, const void *b, void *arg)
{
	const struct pf_str_list *l = arg;
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	int c = strcmp(l->v[x].s, l->v[y].s);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

/* Report every entry of l equal to an earlier one as "duplicate WHAT"
 * (O(n log n): lists may hold 100,000 origins). */
static void check_dups(const struct pf_str_list *l, const char *what,
		       const char *why, struct pf_diag *d)
{
	char shown[PF_SHOW_MAX];
	unsigned *idx, i;
	bool *dup;

	if (l->n < 2)
		return;
	idx = malloc(l->n * sizeof(*idx));
	dup = calloc(l->n, sizeof(*dup));
	if (!idx || !dup) {
		pf_diag(d, l->v[0].at, "out of memory checking %ss", what);
		goto out;
	}
	for (i = 0; i < l->n; i++)
		idx[i] = i;
	qsort_r(idx, l->n, sizeof(*idx), idx_cmp, (void *)l);
	for (i = 1; i < l->n; i++)
		if (!strcmp(l->v[idx[i]].s, l->v[idx[i - 1]].s))
			dup[idx[i]] = true;
	for (i = 0; i < l->n; i++)
		if (dup[i])
			pf_diag(d, l->v[i].at, "duplicate %s '%s'%s", what,
				pf_show(l->v[i].s, shown, sizeof(shown)), why);
out:
	free(idx);
	free(dup);
}

/* Report a failed check of entry e with the text in msg. */
static void report(struct pf_diag *d, const struct pf_str *e, const char *msg)
{
	char shown[PF_SHOW_MAX];

	pf_diag(d, e->at, "'%s': %s", pf_show(e->s, shown, sizeof(shown)), msg);
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
	}
}
