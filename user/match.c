/*
 * match.c -- the datapath decision in userspace: pf_parse, pf_match and
 * pf_build_response from include/, with the pf_tokens/pf_rules map
 * look-ups answered from a struct pf_compiled.
 *
 * The look-ups read a file-static pointer to the policy of the current
 * pf_user_decide() call, so none of this is thread-safe.
 */
#include <string.h>

#include "match.h"

/* Policy of the current (last) pf_user_decide() call. */
static const struct pf_compiled *pf_cur;

/* See match.h. */
const struct pf_tok_val *pf_user_tok_lookup(const struct pf_tok_key *key)
{
	if (!pf_cur)
		return NULL;
	return pf_compiled_lookup(pf_cur, key);
}

/* See match.h. */
const struct pf_hdr_tab *pf_user_hdrs_lookup(__u32 slot)
{
	return pf_cur && slot == pf_cur->slot ? &pf_cur->hdrs : NULL;
}

/* See match.h. */
int pf_user_rule_index(__u32 idx)
{
	__u32 base;

	if (!pf_cur)
		return -1;
	base = pf_cur->slot * PF_MAX_RULES;
	if (idx < base || idx - base >= PF_MAX_RULES)
		return -1;
	return (int)(idx - base);
}

/* See match.h. */
const struct pf_rule *pf_user_rule_lookup(__u32 idx)
{
	int i = pf_user_rule_index(idx);

	return i < 0 ? NULL : &pf_cur->rules[i];
}

/* See match.h. */
const struct pf_compiled *pf_user_set_policy(const struct pf_compiled *c)
{
	if (c)
		pf_cur = c;
	return pf_cur;
}

/* The one learned request-header verdict (see match.h). */
static struct pf_acrh_key acrh_key;
static struct pf_acrh_val acrh_val;
static int acrh_set;

/* See match.h. */
const struct pf_acrh_val *pf_user_acrh_lookup(const struct pf_acrh_key *key)
{
	if (!acrh_set || memcmp(key, &acrh_key, sizeof(*key)))
		return NULL;
	return &acrh_val;
}

/* See match.h. */
void pf_user_acrh_learn(const struct pf_acrh_key *key, const struct pf_acrh_val *val)
{
	acrh_key = *key;
	acrh_val = *val;
	acrh_set = 1;
}

/* See match.h. */
void pf_user_acrh_forget(void)
{
	acrh_set = 0;
}

/* See match.h. Mirrors pf_decide() in bpf/preflightd.bpf.c. */
int pf_user_decide(const struct pf_compiled *c, const __u8 *buf, __u32 len,
		   const char *date, struct pf_req *r, struct pf_match *m,
		   __u8 *resp, int *resp_len)
{
	const struct pf_rule *rule;
	int res;

	pf_cur = c;
	*resp_len = -1;
	memset(m, 0, sizeof(*m));
	res = pf_parse(buf, len, r);
	if (res != PF_P_OK)
		return res;
	pf_match(buf, r, &c->info, c->slot, m);
	if (m->verdict != PF_V_ALLOW && m->verdict != PF_V_REJECT)
		return res;
	rule = pf_user_rule_lookup(c->slot * PF_MAX_RULES +
				   (m->rule & (PF_MAX_RULES - 1)));
	if (!rule)
		return res;
	*resp_len = pf_build_response(resp, buf, r, m, rule, date);
	if (*resp_len <= 0)
		*resp_len = -1;
	return res;
}

/* Name of entry i of table (n entries), or "unknown". */
static const char *name_of(const char *const *table, size_t n, long i)
{
	if (i < 0 || (size_t)i >= n || !table[i])
		return "unknown";
	return table[i];
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* See match.h. */
const char *pf_verdict_name(__u32 verdict)
{
	static const char *const names[] = {
		[PF_V_ALLOW]   = "allow",
		[PF_V_REJECT]  = "reject",
		[PF_V_FORWARD] = "forward",
		[PF_V_NO_RULE] = "no_rule",
		[PF_V_PUNT]    = "punt",
	};

	return name_of(names, N_OF(names), (long)verdict);
}

/* See match.h. */
const char *pf_reason_name(__u32 reason)
{
	static const char *const names[] = {
		[PF_R_OK]               = "ok",
		[PF_R_NO_RULE]          = "no_rule",
		[PF_R_ORIGIN]           = "origin",
		[PF_R_METHOD]           = "method",
		[PF_R_METHOD_BAD]       = "method_bad",
		[PF_R_METHOD_FORBIDDEN] = "method_forbidden",
		[PF_R_HEADER]           = "header",
		[PF_R_HEADER_BAD]       = "header_bad",
		[PF_R_AUTHZ_WILDCARD]   = "authz_wildcard",
		[PF_R_PNA]              = "pna",
		[PF_R_ACRH_LIMIT]       = "acrh_limit",
		[PF_R_PATH_UNNORM]      = "path_unnorm",
		[PF_R_REGEX]            = "regex",
		[PF_R_ACRH_SLOW]        = "acrh_slow",
	};

	return name_of(names, N_OF(names), (long)reason);
}

/* See match.h. */
const char *pf_parse_res_name(int res)
{
	static const char *const names[] = {
		[PF_P_OK]            = "ok",
		[PF_P_NOT_OPTIONS]   = "not_options",
		[PF_P_PLAIN_OPTIONS] = "plain_options",
		[PF_P_INCOMPLETE]    = "incomplete",
		[PF_P_TOO_LONG]      = "too_long",
		[PF_P_BAD]           = "bad",
		[PF_P_VERSION]       = "version",
		[PF_P_CONN_CLOSE]    = "conn_close",
		[PF_P_BODY]          = "body",
		[PF_P_DUP]           = "dup",
		[PF_P_OBS_FOLD]      = "obs_fold",
		[PF_P_PIPELINED]     = "pipelined",
	};

	return name_of(names, N_OF(names), (long)res);
}
