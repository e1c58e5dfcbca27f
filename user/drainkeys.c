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
void pf_keyset_free(struct pf_keyset *s)
{
	free(s->k);
	memset(s, 0, sizeof(*s));
}

/* See drainkeys.h. */
int pf_drain_decide(const struct pf_keyset *tab, const struct pf_keyset *live,
		    const struct pf_keyset *prev, struct pf_keyset *del,
		    struct pf_keyset *miss)
{
	size_t i;
	int err = 0;

	del->n = 0;
	miss->n = 0;
	for (i = 0; i < tab->n && !err; i++) {
		if (pf_keyset_has(live, &tab->k[i]))
			continue;
		err = pf_keyset_add(pf_keyset_has(prev, &tab->k[i]) ? del : miss, &tab->k[i]);
	}
	if (err) {
		del->n = 0;
		miss->n = 0;
	}
	return err;
}
