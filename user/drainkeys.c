/* drainkeys.c -- which keys of a flow table of another layout a drain
 * deletes: those two consecutive dumps missed (see drainkeys.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "drainkeys.h"

/* See drainkeys.h. */
int pf_keyset_add(struct pf_keyset *s, const struct pf_flow_key *k)
{
	struct pf_flow_key *p;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap ? 2 * s->cap : 1024;
		p = realloc(s->k, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->k = p;
		s->cap = cap;
	}
	s->k[s->n++] = *k;
	return 0;
}

/* qsort/bsearch order of two flow keys: memcmp over the whole key, its
 * padding included (every producer zeroes it). */
static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct pf_flow_key));
}

/* See drainkeys.h. */
void pf_keyset_sort(struct pf_keyset *s)
{
	size_t i, n = 0;

	if (!s->n)
		return;
	qsort(s->k, s->n, sizeof(*s->k), key_cmp);
	for (i = 1; i < s->n; i++)
		if (key_cmp(&s->k[n], &s->k[i]))
			s->k[++n] = s->k[i];
	s->n = n + 1;
}

/* See drainkeys.h. */
bool pf_keyset_has(const struct pf_keyset *s, const struct pf_flow_key *k)
{
	return s->n && bsearch(k, s->k, s->n, sizeof(*k), key_cmp);
}

/* See drainkeys.h. */
void pf_keyset_keep(struct pf_keyset *s, const struct pf_keyset *only)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		if (pf_keyset_has(only, &s->k[i]))
			s->k[n++] = s->k[i];
	s->n = n;
}

/* See drainkeys.h. */
void pf_keyset_free(struct pf_keyset *s)
{
	free(s->k);
	memset(s, 0, sizeof(*s));
}

/* Split tab's keys that live lacks: to del if prev holds them too (two
 * dumps in a row missed them), else to miss. Returns 0 or -ENOMEM (del
 * and miss then empty). */
static int decide(const struct pf_keyset *tab, const struct pf_keyset *live,
		  const struct pf_keyset *prev, struct pf_keyset *del, struct pf_keyset *miss)
{
	size_t i;
	int err = 0;

	for (i = 0; i < tab->n && !err; i++) {
		if (pf_keyset_has(live, &tab->k[i]))
			continue;
		err = pf_keyset_add(pf_keyset_has(prev, &tab->k[i]) ? del : miss, &tab->k[i]);
	}
	if (err) {
		pf_keyset_free(del);
		pf_keyset_free(miss);
	}
	return err;
}

/* See drainkeys.h. */
int pf_drain_tick(const struct pf_keyset *tab, const struct pf_keyset *live,
		  struct pf_keyset *missed, pf_drain_del_fn del, void *ctx)
{
	struct pf_keyset go = {}, miss = {};
	size_t i, deleted = 0;
	int err;

	err = decide(tab, live, missed, &go, &miss);
	if (err) {
		pf_keyset_free(missed);
		return err;
	}
	for (i = 0; i < go.n; i++) {
		if (!del(ctx, &go.k[i]))
			deleted++;
		else  /* (no room to remember it: a first miss next tick) */
			(void)pf_keyset_add(&miss, &go.k[i]);
	}
	pf_keyset_sort(&miss);
	pf_keyset_free(&go);
	pf_keyset_free(missed);
	*missed = miss;
	return (int)(tab->n - deleted);
}
