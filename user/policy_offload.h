/* User: the response offload's policy keys (issue 13): responses, expose_headers, app_headers. */
#ifndef PF_POLICY_OFFLOAD_H
#define PF_POLICY_OFFLOAD_H

#include <stddef.h>
#include "policy.h"

/* Write rule r's "Access-Control-Expose-Headers: a, b\r\n" line into buf
 * (at most cap bytes; buf may be NULL when cap is 0). Returns its full
 * length (like snprintf, without a NUL), 0 if r exposes nothing. */
size_t pf_ofl_expose_line(const struct pf_policy_rule *r, char *buf, size_t cap);

/* Fill out->ofl[] (each entry's resp_rules: every rule with responses:
 * true) and out->ofl_any from the validated policy pol. */
void pf_ofl_compile(const struct pf_policy *pol, struct pf_compiled *out);

#endif /* PF_POLICY_OFFLOAD_H */
