/* User: the policy library, the daemon's slow path and explain -- regex origins ({regex: PATTERN} in a rule's origins) with PCRE2. */
/*
 * policy_regex.h -- the slow path's decision. A regex origin always matches the
 * WHOLE serialized origin (PCRE2_ANCHORED | PCRE2_ENDANCHORED: '^' and '$'
 * are implied, "pr-[0-9]+\.example\.com" never matches a longer or
 * shorter string), case-sensitively, without UTF mode (origins are ASCII).
 * Regex rules are decided by the daemon (the datapath punts them), by the
 * compiler for exactly listed origins, and by `explain`.
 */
#ifndef PF_POLICY_REGEX_H
#define PF_POLICY_REGEX_H

#include <stddef.h>
#include <stdio.h>
#include "policy.h"

/* The compiled regexes of one policy: code[i] belongs to rule rule[i]. */
struct pf_regex_set {
	unsigned n;
	void **code;          /* pcre2_code_8 * */
	unsigned *rule;       /* rule index 0..PF_MAX_RULES-1 */
	void *md;             /* pcre2_match_data_8 * shared by the matches */
};

/* Compile one pattern with the full-match semantics above. Returns the
 * code (free with pf_regex_free) or NULL with PCRE2's message in msg
 * (cap bytes) and the byte offset of the error in the pattern in *off. */
void *pf_regex_compile(const char *pattern, char *msg, size_t cap, size_t *off);

/* 1: code matches the len bytes of s whole (the daemon's semantics), 0:
 * it does not, or the match failed. */
int pf_regex_matches(void *code, const char *s, size_t len);

/* Free a code returned by pf_regex_compile (NULL is fine). */
void pf_regex_free(void *code);

/* Compile every regex of pol into rs. Returns 0, or a negative errno
 * with "regex: ..." printed to errs (if not NULL). The policy must have
 * been validated (patterns compile). */
int pf_regex_set_build(const struct pf_policy *pol, struct pf_regex_set *rs,
		       FILE *errs);

/* Bit r set: rule r has a regex that matches the len bytes of s whole. */
__u64 pf_regex_set_match(const struct pf_regex_set *rs, const char *s, size_t len);

/* Safe on a zeroed or already freed set. */
void pf_regex_set_free(struct pf_regex_set *rs);

#endif /* PF_POLICY_REGEX_H */
