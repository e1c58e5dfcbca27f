/* User: private to user/policy_load.c and policy_validate.c -- the semantic checks of a loaded policy. */
#ifndef PF_POLICY_VALIDATE_H
#define PF_POLICY_VALIDATE_H

#include "policy.h"
#include "policy_diag.h"

/* Semantic checks of a loaded policy (origins, methods, headers, hosts,
 * paths, cross-field rules). Lower-cases hosts and header names in place.
 * Every problem goes to d; the policy's shape (types, required keys) was
 * already checked by the loader. */
void pf_policy_validate(struct pf_policy *pol, struct pf_diag *d);

#endif /* PF_POLICY_VALIDATE_H */
