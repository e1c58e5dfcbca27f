/* User: private to user/policy_*.c -- what the validator and the compiler both derive from a rule. */
/*
 * policy_rule.h -- facts about one struct pf_policy_rule that validation
 * (limits) and compilation (map contents) must agree on: the "*" entry
 * of a list and the precomputed response tails.
 */
#ifndef PF_POLICY_RULE_H
#define PF_POLICY_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* True if list is non-empty and contains the entry "*". */
bool pf_list_has_star(const struct pf_str_list *l);

/* Write rule r's allowed-response tail (struct pf_rule.fixed) into buf,
 * at most cap bytes (buf may be NULL when cap is 0). Returns the full
 * length, which may exceed cap (like snprintf, without a NUL). */
size_t pf_rule_fixed(const struct pf_policy_rule *r, char *buf, size_t cap);

/* Same for the 403 tail (struct pf_rule.reject): Vary and
 * Content-Length: 0, the same for every rule (kept per rule, as the
 * datapath reads it). */
size_t pf_rule_reject(char *buf, size_t cap);

#endif /* PF_POLICY_RULE_H */
