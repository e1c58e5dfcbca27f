/*
 * policy_regex.c -- regex origins with PCRE2 (see policy_regex.h for the semantics).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pcre2.h>

#include "policy_regex.h"

/* Options of every regex origin: full match, case-sensitive, bytes. */
#define PF_REGEX_OPTS (PCRE2_ANCHORED | PCRE2_ENDANCHORED)

/* See policy_regex.h. */
void *pf_regex_compile(const char *pattern, char *msg, size_t cap, size_t *off)
{
	PCRE2_UCHAR text[256];
	PCRE2_SIZE eoff = 0;
	pcre2_code *code;
	int ec = 0;

	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PF_REGEX_OPTS,
			     &ec, &eoff, NULL);
	if (code) {
		/* JIT is an optimization only: without it, interpret */
		(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
		return code;
	}
	if (pcre2_get_error_message(ec, text, sizeof(text)) < 0)
		snprintf((char *)text, sizeof(text), "PCRE2 error %d", ec);
	if (msg && cap)
		snprintf(msg, cap, "%s", (const char *)text);
	if (off)
		*off = eoff;
	return NULL;
}

/* See policy_regex.h. */
int pf_regex_matches(void *code, const char *s, size_t len)
{
	pcre2_match_data *md;
	int rc;

	md = pcre2_match_data_create_from_pattern(code, NULL);
	if (!md)
		return 0;
	rc = pcre2_match(code, (PCRE2_SPTR)s, len, 0, PF_REGEX_OPTS, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

/* See policy_regex.h. */
void pf_regex_free(void *code)
{
	pcre2_code_free(code);
}

/* See policy_regex.h. */
int pf_regex_set_build(const struct pf_policy *pol, struct pf_regex_set *rs,
		       FILE *errs)
{
	char msg[256];
	size_t off, total = 0;
	unsigned i, j;

	memset(rs, 0, sizeof(*rs));
	for (i = 0; i < pol->n_rules; i++)
		total += pol->rules[i].regexes.n;
	if (!total)
		return 0;
	rs->code = calloc(total, sizeof(*rs->code));
	rs->rule = calloc(total, sizeof(*rs->rule));
	rs->md = pcre2_match_data_create(1, NULL);
	if (!rs->code || !rs->rule || !rs->md) {
		pf_regex_set_free(rs);
		if (errs)
			fprintf(errs, "regex: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (i = 0; i < pol->n_rules && i < PF_MAX_RULES; i++) {
		for (j = 0; j < pol->rules[i].regexes.n; j++) {
			const char *p = pol->rules[i].regexes.v[j].s;

			rs->code[rs->n] = pf_regex_compile(p, msg, sizeof(msg), &off);
			if (!rs->code[rs->n]) {
				if (errs)
					fprintf(errs, "regex: rule %u: '%s': %s at offset %zu\n",
						i + 1, p, msg, off);
				pf_regex_set_free(rs);
				return -EINVAL;
			}
			rs->rule[rs->n++] = i;
		}
	}
	return 0;
}

/* See policy_regex.h. A match error (e.g. the match limit) counts as no match. */
__u64 pf_regex_set_match(const struct pf_regex_set *rs, const char *s, size_t len)
{
	__u64 mask = 0;
	unsigned i;

	for (i = 0; i < rs->n; i++) {
		if (mask & (1ULL << rs->rule[i]))
			continue; /* the rule already matched */
		if (pcre2_match(rs->code[i], (PCRE2_SPTR)s, len, 0, PF_REGEX_OPTS,
				rs->md, NULL) >= 0)
			mask |= 1ULL << rs->rule[i];
	}
	return mask;
}

/* See policy_regex.h. */
void pf_regex_set_free(struct pf_regex_set *rs)
{
	unsigned i;

	for (i = 0; i < rs->n; i++)
		pcre2_code_free(rs->code[i]);
	free(rs->code);
	free(rs->rule);
	pcre2_match_data_free(rs->md);
	memset(rs, 0, sizeof(*rs));
}
