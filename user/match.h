/* User: the userspace twin of the datapath's preflight decision (parse, match, build the response). */
/*
 * match.h -- run the exact datapath code (include/pf_http.h, pf_match.h,
 * pf_resp.h) over one request buffer against a struct pf_compiled, the
 * way bpf/preflightd.bpf.c runs it against the pf_tokens/pf_rules maps.
 * Used by the unit tests and fuzzers now and by `preflightd explain`.
 *
 * Including this file pulls in pf_match.h and pf_resp.h. Their table
 * look-ups (PF_TOK_LOOKUP, PF_RULE_LOOKUP, PF_HDRS_LOOKUP, PF_ACRH_LOOKUP)
 * are bound here, unless the includer defined them first, to
 * pf_user_tok_lookup(), pf_user_rule_lookup() and pf_user_hdrs_lookup(),
 * which read the policy of the current (or last) pf_user_decide() call,
 * and pf_user_acrh_lookup().
 *
 * Not thread-safe: the current policy is a file-static pointer in
 * match.c, set by every pf_user_decide() call.
 */
#ifndef PF_USER_MATCH_H
#define PF_USER_MATCH_H

#include "../include/pf_structs.h"
#include "policy.h"

/* Token look-up in the policy of the current pf_user_decide() call
 * (NULL before the first call, or if the key is absent or for another
 * slot). The caller still compares the stored string, like the datapath. */
const struct pf_tok_val *pf_user_tok_lookup(const struct pf_tok_key *key);

/* Rule look-up, index slot * PF_MAX_RULES + rule, in the same policy:
 * NULL when idx is outside that policy's slot (or before the first
 * call). Rules past n_rules are returned zeroed, like the array map. */
const struct pf_rule *pf_user_rule_lookup(__u32 idx);

/* The request-header name table of slot in the same policy (NULL before
 * the first call or for another slot), like the pf_hdrs map. */
const struct pf_hdr_tab *pf_user_hdrs_lookup(__u32 slot);

/* Make c (unless NULL) the policy the look-ups read (pf_user_decide does
 * it itself; for other users of the datapath code, e.g. user/ofl_match.c).
 * Returns that policy (NULL before the first). */
const struct pf_compiled *pf_user_set_policy(const struct pf_compiled *c);

/* idx (slot * PF_MAX_RULES + rule) as a rule number in that policy, -1
 * when it is outside its slot (as pf_user_rule_lookup). */
int pf_user_rule_index(__u32 idx);

#ifndef PF_TOK_LOOKUP
#define PF_TOK_LOOKUP(k) pf_user_tok_lookup(k)
#endif
#ifndef PF_RULE_LOOKUP
#define PF_RULE_LOOKUP(i) pf_user_rule_lookup(i)
#endif
#ifndef PF_ACRH_LOOKUP
#define PF_ACRH_LOOKUP(k) pf_user_acrh_lookup(k)
#endif
#ifndef PF_HDRS_LOOKUP
#define PF_HDRS_LOOKUP(s) pf_user_hdrs_lookup(s)
#endif

/* The twin of the pf_acrh map (the daemon's verdicts on request-header
 * lists over the kernel limits): one entry, set by pf_user_acrh_learn()
 * (explain does, after deciding like the daemon; see acrh.h), empty
 * otherwise -- as in a datapath whose daemon has not decided yet. */
const struct pf_acrh_val *pf_user_acrh_lookup(const struct pf_acrh_key *key);
void pf_user_acrh_learn(const struct pf_acrh_key *key, const struct pf_acrh_val *val);
void pf_user_acrh_forget(void);

#include "../include/pf_resp.h"

/* Decide one request as the datapath would.
 *   c         compiled policy (its slot is the one looked up); kept as the
 *             current policy until the next call
 *   buf       PF_REQ_BUF readable bytes, of which the first len are the
 *             request (word scans read up to 8 bytes past len)
 *   date      PF_DATE_LEN bytes for a Date header, or NULL for none
 *   r, m      filled by pf_parse / pf_match (m is zeroed when parsing
 *             fails)
 *   resp      2 * PF_RESP_MAX writable bytes; the response is written
 *             there when the verdict is PF_V_ALLOW or PF_V_REJECT
 *   resp_len  response length, or -1 when no response is built (parse
 *             failure, any other verdict, or a response over the kernel
 *             size estimate, which the datapath passes to the app)
 * Returns the pf_parse() result: PF_P_OK, or the enum pf_parse_res value
 * explaining why the datapath would pass the request to the app.
 * Difference: the datapath refuses len > PF_ANSWER_MAX (PASS_TOO_LONG) and
 * len 0 before parsing; here pf_parse classifies them. */
int pf_user_decide(const struct pf_compiled *c, const __u8 *buf, __u32 len,
		   const char *date, struct pf_req *r, struct pf_match *m,
		   __u8 *resp, int *resp_len);

/* Lower-case name of an enum pf_verdict ("allow", "reject", "forward",
 * "no_rule", "punt"), or "unknown". Never NULL. */
const char *pf_verdict_name(__u32 verdict);

/* Lower-case name of an enum pf_reason ("ok", "origin", "method_bad",
 * "acrh_limit", ...), or "unknown". Never NULL. */
const char *pf_reason_name(__u32 reason);

/* Lower-case name of an enum pf_parse_res ("ok", "not_options",
 * "incomplete", "pipelined", ...), or "unknown". Never NULL. */
const char *pf_parse_res_name(int res);

#endif /* PF_USER_MATCH_H */
