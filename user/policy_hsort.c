/*
 * policy_hsort.c -- sort entries by a 64-bit hash (see policy_hsort.h):
 * an MSD radix sort on the highest bits in which the hashes differ, with
 * a digit wide enough for buckets of about 8 entries, each then put in
 * order by insertion (a bucket of over SMALL entries is split again by
 * its next bits); then qsort_r on each run of equal hashes. Both steps
 * are stable. For 100,000 origins glibc's qsort took 60-110 M
 * instructions a sort (half of `preflightd check`'s own work), an LSD
 * radix sort of 6 passes 15 M; this one pass and the buckets 10 M.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_hsort.h"

#define SMALL    64   /* a bucket up to this size is sorted by insertion */
#define MAX_BITS 16   /* widest digit */

/* Stable insertion sort of v[0..n) by hash. */
static void insertion(struct pf_hent *v, size_t n)
{
	struct pf_hent x;
	size_t i, j;

	for (i = 1; i < n; i++) {
		x = v[i];
		for (j = i; j && v[j - 1].hash > x.hash; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Stable sort of v[0..n) by hash, whose bits from `top` up are the same
 * in all of them, using tmp (n entries). Returns 0 or -ENOMEM (v then
 * holds the same entries in another order). */
static int msd(struct pf_hent *v, struct pf_hent *tmp, size_t n, unsigned top)
{
	unsigned bits = 1, shift, d;
	size_t i, *pos, start;
	__u64 mask;
	int err = 0;

	if (n <= SMALL || !top) {
		if (top)
			insertion(v, n);
		return 0;
	}
	while (bits < MAX_BITS && (n >> (bits + 3)))
		bits++;                 /* buckets of about 8 */
	if (bits > top)
		bits = top;
	shift = top - bits;
	mask = (1ull << bits) - 1;
	pos = calloc((1ull << bits) + 1, sizeof(*pos));
	if (!pos)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		pos[((v[i].hash >> shift) & mask) + 1]++;
	for (d = 0; d < (1u << bits); d++)
		pos[d + 1] += pos[d];
	for (i = 0; i < n; i++)
		tmp[pos[(v[i].hash >> shift) & mask]++] = v[i];
	memcpy(v, tmp, n * sizeof(*v));
	/* pos[d] is now the end of bucket d */
	for (d = 0, start = 0; d < (1u << bits) && !err; start = pos[d++])
		if (pos[d] - start > 1)
			err = msd(v + start, tmp, pos[d] - start, shift);
	free(pos);
	return err;
}

/* See policy_hsort.h. */
int pf_hsort(struct pf_hent *v, size_t n,
	     int (*tie)(const void *, const void *, void *), void *arg)
{
	__u64 and = ~0ull, or = 0;
	struct pf_hent *tmp;
	size_t i, j;
	int err;

	if (n < 2)
		return 0;
	for (i = 0; i < n; i++) {
		and &= v[i].hash;
		or |= v[i].hash;
	}
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	/* above the highest bit in which two hashes differ, all are alike */
	err = msd(v, tmp, n, and == or ? 0 : 64 - (unsigned)__builtin_clzll(and ^ or));
	free(tmp);
	if (err || !tie)
		return err;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j].hash == v[i].hash; j++)
			;
		if (j - i > 1)
			qsort_r(v + i, j - i, sizeof(*v), tie, arg);
	}
	return 0;
}
