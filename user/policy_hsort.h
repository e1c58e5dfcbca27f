/* User: private to user/policy_*.c and tests/unit/test_policy.c -- sorting a policy's strings by their 64-bit hash (duplicates, map keys). */
#ifndef PF_POLICY_HSORT_H
#define PF_POLICY_HSORT_H

#include <stddef.h>
#include <linux/types.h>

/* One entry to sort: a hash and the caller's index of what it hashes. */
struct pf_hent {
	__u64 hash;
	__u32 idx;
};

/* Sort v[0..n-1] by hash, and entries with equal hashes by tie(a, b,
 * arg) (qsort_r's contract; NULL: keep them in input order). About
 * O(n) for the hashes (radix sort, whatever their bits): 100,000-origin
 * policies are sorted twice.
 * Returns 0 or -ENOMEM (v then holds its entries in some order). */
int pf_hsort(struct pf_hent *v, size_t n,
	     int (*tie)(const void *, const void *, void *), void *arg);

#endif /* PF_POLICY_HSORT_H */
