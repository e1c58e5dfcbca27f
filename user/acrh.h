/* User: the daemon's verdict on request-header lists over the datapath's limits (PF_PUNT_ACRH). */
/*
 * acrh.h -- the slow path for Access-Control-Request-Headers values the
 * datapath cannot decide (more than PF_ACRH_MAX_TOKENS names or
 * PF_ACRH_MAX_LEN bytes, shorter than PF_ACRH_SLOW_MAX): the datapath's
 * own pf_check_headers() without those limits, against either the live
 * pf_tokens/pf_rules maps (the daemon) or a compiled policy (explain).
 */
#ifndef PF_USER_ACRH_H
#define PF_USER_ACRH_H

#include "../include/pf_structs.h"

struct pf_compiled;

/* Where the policy is read. */
struct pf_acrh_src {
	const struct pf_compiled *comp; /* used when not NULL */
	int tok_fd;                     /* else: the pf_tokens map */
	int rules_fd;                   /* and the pf_rules map */
};

/* Decide the len-byte value acrh for rule of slot as the datapath would
 * without limits; fills *out (bad_off relative to acrh). Returns 0,
 * -EINVAL (len 0 or >= PF_ACRH_SLOW_MAX, rule out of range) or -ENOENT
 * (the rule is not in src). Not thread-safe (one static source). */
int pf_acrh_decide(const struct pf_acrh_src *src, __u32 slot, __u32 rule,
		   const char *acrh, __u32 len, struct pf_acrh_val *out);

/* The pf_acrh key for acrh under rule of slot (zero-padded). */
void pf_acrh_key_make(struct pf_acrh_key *k, __u32 slot, __u32 rule,
		      const char *acrh, __u32 len);

/* Remove slot's entries from the pf_acrh map fd (after a reload).
 * Returns how many were removed. */
unsigned pf_acrh_clear_slot(int fd, __u32 slot);

#endif /* PF_USER_ACRH_H */
