/* User: cmd_detach.c and tests/unit/test_drainkeys.c -- draining a flow table of another layout by its keys alone. */
/*
 * drainkeys.h -- a flow table this build cannot read (another layout) is
 * drained by its keys: an entry goes once its connection has no socket
 * left. One sock_diag dump is not proof of that (a socket can be skipped,
 * see gc.h, or a connection spliced by an answer already running when
 * draining was set can appear between the dump and the table walk), so,
 * as in the daemon's GC, a key goes only when two consecutive dumps
 * missed it: each tick's first misses are kept for the next tick.
 */
#ifndef PF_DRAINKEYS_H
#define PF_DRAINKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include "../include/pf_structs.h"

/* A set of flow keys: n of them in k (room for cap). Start zeroed; free
 * with pf_keyset_free. */
struct pf_keyset {
	struct pf_flow_key *k;
	size_t n, cap;
};

/* Append k to s (unsorted until pf_keyset_sort). Returns 0 or -ENOMEM
 * (s unchanged). */
int pf_keyset_add(struct pf_keyset *s, const struct pf_flow_key *k);

/* Sort s (memcmp order) and drop duplicate keys. */
void pf_keyset_sort(struct pf_keyset *s);

/* Does sorted s hold k? */
bool pf_keyset_has(const struct pf_keyset *s, const struct pf_flow_key *k);

/* Free s's keys and zero it. */
void pf_keyset_free(struct pf_keyset *s);

/* The rule above for one tick. tab: the table's keys, live: the dump's
 * sockets, prev: the previous tick's first misses (all sorted). Each key
 * of tab that live lacks goes to del if prev holds it too (missed by two
 * consecutive dumps: delete it), else to miss (first miss: keep it; the
 * next tick's prev). del and miss are emptied first and come out sorted.
 * Returns 0, or -ENOMEM with del and miss empty (nothing to delete). */
int pf_drain_decide(const struct pf_keyset *tab, const struct pf_keyset *live,
		    const struct pf_keyset *prev, struct pf_keyset *del,
		    struct pf_keyset *miss);

#endif /* PF_DRAINKEYS_H */
