/* User: the userspace twin of the response offload's decisions (issue 13): a request's entry, a response's edit. */
/*
 * ofl_match.h -- run the datapath's offload code (include/pf_ofl.h,
 * pf_rhead.h) in userspace against a struct pf_compiled, for the unit
 * tests and `preflightd explain`. Not thread-safe (see match.h).
 */
#ifndef PF_USER_OFL_MATCH_H
#define PF_USER_OFL_MATCH_H

#include "match.h"

/* Rule settings look-up (pf_ofl_rules) in the policy of the current
 * pf_user_ofl_entry() call. */
const struct pf_ofl_rule *pf_user_ofl_rule_lookup(__u32 idx);
#define PF_OFL_RULE_LOOKUP(i) pf_user_ofl_rule_lookup(i)

#include "../include/pf_ofl.h"

/* The FIFO entry the datapath records for the request head at the start
 * of buf (PF_REQ_BUF readable bytes, len at hand) under policy c. Returns
 * the pf_parse_head() result; e is filled only for PF_P_OK (r->len is
 * then the head's length). */
int pf_user_ofl_entry(const struct pf_compiled *c, const __u8 *buf, __u32 len,
		      struct pf_req *r, struct pf_match *m, struct pf_ofl_ent *e);

/* Apply the edit pf_ofl_plan() made for the response head h in head
 * (head_len bytes) the way the SK_MSG program does (insert, then remove
 * last to first) into out (cap bytes). Returns the new length, or -1 if
 * it does not fit. */
int pf_user_ofl_apply(const __u8 *head, __u32 head_len, const struct pf_ofl_plan *pl,
		      __u8 *out, __u32 cap);

#endif /* PF_USER_OFL_MATCH_H */
