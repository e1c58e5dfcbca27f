/* Tests (unit tier) only: loading a policy from a string in cmocka tests. */
#ifndef PF_TEST_POLICY_UTIL_H
#define PF_TEST_POLICY_UTIL_H

#include <stdio.h>
#include "policy.h"

/* Load yaml as "t.yaml"; returns the load result, *errs the messages
 * (heap, the caller frees). */
static inline int load(const char *yaml, struct pf_policy *pol, char **errs)
{
	size_t len;
	FILE *f = open_memstream(errs, &len);
	int ret;

	assert_non_null(f);
	ret = pf_policy_load_string("t.yaml", yaml, pol, f);
	fclose(f);
	return ret;
}

#endif /* PF_TEST_POLICY_UTIL_H */
