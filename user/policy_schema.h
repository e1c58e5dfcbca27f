/* User: private to user/policy_load.c and policy_schema.c -- the keys a policy file may hold, read from libyaml's node tree. */
/*
 * policy_schema.h -- the shape of a policy file: which keys a mapping
 * may hold, which are required, each value's type, and where each value
 * goes in struct pf_policy. The values' meaning is checked afterwards
 * (policy_validate.c).
 */
#ifndef PF_POLICY_SCHEMA_H
#define PF_POLICY_SCHEMA_H

#include <yaml.h>

#include "policy.h"
#include "policy_diag.h"

/* Read the loaded document doc into pol (zeroed by the caller): check
 * its shape and copy every string with its line:column. Problems go to
 * d. Returns 0 (pol is then complete or d holds problems), -ENOMEM, or
 * -EINVAL (reported) when YAML aliases repeat more than a few MiB of
 * values: reading stops there. */
int pf_policy_read(yaml_document_t *doc, struct pf_policy *pol,
		   struct pf_diag *d);

/* Free the string blocks of a policy (NULL is fine). */
void pf_strbuf_free(struct pf_strbuf *b);

#endif /* PF_POLICY_SCHEMA_H */
