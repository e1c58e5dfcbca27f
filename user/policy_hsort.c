/*
 * policy_hsort.c -- sort entries by a 64-bit hash (see policy_hsort.h):
 * an LSD radix sort, 8 bits a pass, then qsort_r on each run of equal
 * hashes. For 100,000 origins glibc's qsort took 60-110 M instructions
 * a sort (half of `preflightd check`'s own work); this takes about 6 M.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_hsort.h"

/* See policy_hsort.h. */
int pf_hsort(struct pf_hent *v, size_t n,
	     int (*tie)(const void *, const void *, void *), void *arg)
{
	size_t count[8][256] = { { 0 } }, i, j, run;
	struct pf_hent *tmp, *src = v, *dst;
	unsigned pass;

	if (n < 2)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		__u64 h = v[i].hash;

		for (pass = 0; pass < 8; pass++, h >>= 8)
			count[pass][h & 0xff]++;
	}
	dst = tmp;
	for (pass = 0; pass < 8; pass++) {
		size_t pos = 0, c;
		struct pf_hent *t;

		/* a byte all hashes share needs no pass */
		if (count[pass][(v[0].hash >> (8 * pass)) & 0xff] == n)
			continue;
		for (j = 0; j < 256; j++) {
			c = count[pass][j];
			count[pass][j] = pos;
			pos += c;
		}
		for (i = 0; i < n; i++)
			dst[count[pass][(src[i].hash >> (8 * pass)) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	if (!tie)
		return 0;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j].hash == v[i].hash; j++)
			;
		run = j - i;
		if (run > 1)
			qsort_r(v + i, run, sizeof(*v), tie, arg);
	}
	return 0;
}
