/* User: cmd_detach.c and tests/unit/test_drainkeys.c -- draining a flow table of another layout by its keys alone. */
/*
 * drainkeys.h -- a flow table this build cannot read (another layout) is
 * drained by its keys: an entry goes once its connection has no socket
 * left. One sock_diag dump is not proof of that (a socket can be skipped,
 * see gc.h, or a connection whose handshake the request itself completed,
 * spliced by an answer already running when draining was set, can appear
 * between the dump and the table read), so,
 * as in the daemon's GC, a key goes only when two consecutive dumps
 * missed it: each tick's first misses are kept for the next tick. Only
 * the keys in the table shortly after draining was set are drained (a
 * snapshot): an entry made later is a connection the dead instance only
 * followed -- it answers nothing once draining -- and neither holds the
 * drain nor is reset at its timeout.
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

/* Keep only the keys of sorted s that sorted only holds too. */
void pf_keyset_keep(struct pf_keyset *s, const struct pf_keyset *only);

/* Free s's keys and zero it. */
void pf_keyset_free(struct pf_keyset *s);

/* Deletes one flow-table key for pf_drain_tick: 0 if it was deleted. */
typedef int (*pf_drain_del_fn)(void *ctx, const struct pf_flow_key *k);

/* One drain tick, the rule above. tab: the table's keys, live: the dump's
 * sockets (both sorted); *missed: the previous tick's first misses in,
 * this tick's out. Each key of tab that live lacks is deleted (del) if
 * *missed held it -- missed by two consecutive dumps -- else kept as a
 * first miss; a key whose delete fails stays a miss (tried again next
 * tick if still missed). Returns how many of tab's keys are left (a
 * failed delete counts), or -ENOMEM: nothing deleted, *missed emptied
 * (the next tick starts again). */
int pf_drain_tick(const struct pf_keyset *tab, const struct pf_keyset *live,
		  struct pf_keyset *missed, pf_drain_del_fn del, void *ctx);

#endif /* PF_DRAINKEYS_H */
