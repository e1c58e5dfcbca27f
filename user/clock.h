/* User: the datapath's clock (CLOCK_MONOTONIC, that of bpf_ktime_get_ns) in nanoseconds. */
#ifndef PF_CLOCK_H
#define PF_CLOCK_H

#include <time.h>
#include <linux/types.h>

static inline __u64 pf_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

#endif /* PF_CLOCK_H */
