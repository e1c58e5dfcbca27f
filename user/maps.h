/* User: writing compiled policies and the clock into a loaded datapath (daemon, BPF tier, kcost). */
/*
 * maps.h -- the one installer of policies. It works on a struct of map
 * fds and the mmapped config, so every loader of the datapath (the
 * daemon's skeleton, the BPF tier's and kcost's socket-mocked test
 * skeleton) installs policies with the same code in the same order.
 */
#ifndef PF_MAPS_USER_H
#define PF_MAPS_USER_H

#include <pthread.h>
#include <linux/types.h>
#include "../include/pf_structs.h"
#include "policy.h"

struct bpf_object;

/* Origins whose regex verdict the slow path keeps (pf_learned, an LRU
 * map of its own: more evict the least recently used, decided again at
 * their next punt; the policy's pf_tokens never fill up with them). */
#define PF_LEARN_MAX 65536

/* pf_tokens room per slot: PF_TOKENS_HEADROOM times the startup
 * policy's strings, at least PF_TOKENS_SLOT_MIN (sized before the policy
 * is read, user/load.h: at least that, for as many strings as the file
 * could hold). */
#define PF_TOKENS_HEADROOM 4
#define PF_TOKENS_SLOT_MIN 16384

/* What the installer writes in a loaded datapath. */
struct pf_maps {
	int tokens_fd;             /* pf_tokens: policy strings of both slots */
	int rules_fd;              /* pf_rules: rules of both slots */
	int acrh_fd;               /* pf_acrh: the slow path's header verdicts */
	int learned_fd;            /* pf_learned: the slow path's origin verdicts */
	int hdrs_fd;               /* pf_hdrs: request-header name tables */
	struct pf_config *cfg;     /* pf_cfg in the object's mmapped .bss */
};

/* pf_tokens' entries for a startup policy of n_toks strings: two slots,
 * each PF_TOKENS_HEADROOM times n_toks, at least PF_TOKENS_SLOT_MIN. */
unsigned pf_maps_tokens_max(unsigned n_toks);

/* Before load: size obj's maps for a startup policy of n_toks strings
 * (tokens: two slots with headroom, see PF_TOKENS_HEADROOM; PF_LEARN_MAX
 * learned origins; max_flows flow entries). Returns 0 or -errno (message
 * printed). */
int pf_maps_size(struct bpf_object *obj, unsigned n_toks, unsigned max_flows);

/* After load: fill m with obj's maps and cfg (its mmapped pf_cfg).
 * Returns 0 or -ENOENT (message printed). */
int pf_maps_get(struct bpf_object *obj, struct pf_config *cfg, struct pf_maps *m);

/* All or nothing: empty c's slot (inactive), write c into it (tokens,
 * rules, slot info), then make it the active one serving c's ports
 * (pf_maps_activate). On failure the slot is emptied again and nothing
 * else changed: the running policy stays in force. Returns 0 or -errno
 * (message printed; -E2BIG: the token map is too small for c). */
int pf_maps_install(const struct pf_maps *m, const struct pf_compiled *c);

/* The startup install, its bulk while the verifier runs: pf_tokens is
 * never adopted from a previous instance, so before obj is loaded
 * pf_maps_prefill creates it (as pf_maps_size sized it, for obj to use);
 * pf_maps_prefill_fill writes startup policy c's tokens into it on a
 * thread of its own, before or while obj loads (start-up may read the
 * policy while it loads: user/load.h); after the load,
 * pf_maps_install_prefilled waits for that thread and writes the rest as
 * pf_maps_install does (all or nothing). A 100,000-origin policy's
 * tokens take about as long as a fifth of the load. */
struct pf_prefill {
	pthread_t th;
	int fd;                    /* the created map (obj holds its own fd) */
	int started;
	int err;                   /* the thread's: 0 or -errno */
	const struct pf_compiled *c;
};

/* Before load: create obj's pf_tokens. Returns 0 or -errno (message
 * printed; p->fd -1). */
int pf_maps_prefill(struct pf_prefill *p, struct bpf_object *obj);

/* Start writing c's tokens into p's map (c must outlive
 * pf_maps_prefill_join). Returns 0 or -errno (message printed; nothing
 * started). */
int pf_maps_prefill_fill(struct pf_prefill *p, const struct pf_compiled *c);

/* Wait for the thread (if started) and close p's fd. Returns its error. */
int pf_maps_prefill_join(struct pf_prefill *p);

/* After load: pf_maps_prefill_join, then c's rules, slot info and the
 * switch to its slot. On failure the slot is emptied. Returns 0 or
 * -errno (message printed). */
int pf_maps_install_prefilled(const struct pf_maps *m, struct pf_prefill *p);

/* Translate the ports of every connection in the flow table flows_fd (an
 * adopted one: spliced on ports the policy now running may have dropped),
 * as a reload keeps translating the ports it drops: their bits are added
 * to m->cfg's xlate_bits (which only grow), so those connections stay
 * translated, and found by the GC, until they end. Returns the number of
 * entries read, or -errno (message printed; the bits of the entries read
 * before the error are in). */
int pf_maps_xlate_flows(const struct pf_maps *m, int flows_fd);

/* Make slot (already written) the active one, serving ports: translation
 * first (it only ever adds), then the policy switch, then the answered
 * ports, each word written once with its final value. */
void pf_maps_activate(const struct pf_maps *m, __u32 slot, const __u16 *ports,
		      unsigned n_ports);

/* Remove slot's entries from the token, learned-origin and header-list
 * maps. Call only
 * on a slot no program reads any more (see the grace in cmd_run.c's
 * reload). */
void pf_maps_clear_slot(const struct pf_maps *m, __u32 slot);

/* Refresh the cached Date header (double-buffered). */
void pf_maps_clock(struct pf_config *cfg);

/* pf_maps_clock, and the heartbeat: "a daemon decides what the datapath
 * punts, now" (older than PF_PUNT_WAIT_NS: the datapath passes punts to
 * the app). Only the slow path's consumer writes it. */
void pf_maps_tick(struct pf_config *cfg);

#endif /* PF_MAPS_USER_H */
