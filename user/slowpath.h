/* User: the daemon's slow path: deciding what the datapath punts (pf_punt ring buffer). */
/*
 * slowpath.h -- the consumer of the pf_punt ring buffer: regex origins
 * (PF_PUNT_ORIGIN, decided with policy_regex.c, taught to pf_learned) and
 * request-header lists over the kernel's limits (PF_PUNT_ACRH, decided
 * with acrh.c, taught to pf_acrh).
 */
#ifndef PF_SLOWPATH_H
#define PF_SLOWPATH_H

#include <stddef.h>
#include "../include/pf_structs.h"
#include "policy.h"
#include "policy_regex.h"
#include "maps.h"
#include "replay.h"
#include "ringturn.h"

/* Punt records decided in one turn of the daemon's loop (ringturn.h):
 * a turn then takes a few milliseconds at most, and the heartbeat, the
 * signals and a reload come between turns whatever the punt rate. */
#define PF_SLOW_TURN_MAX 256

/* The slow path's view of the active policy: its rules' regexes, kept
 * alive (and rebuilt on reload) next to the slot they were installed in. */
struct pf_slow {
	struct pf_maps m;           /* where verdicts are taught */
	int punted_fd;              /* pf_punted: the datapath's waits */
	struct pf_policy pol;       /* the active policy */
	struct pf_regex_set rs;     /* its regexes, compiled */
	__u32 slot;                 /* its slot */
	unsigned learned;           /* origins taught into slot */
	struct pf_replay rp;        /* decided segments handed back (replay.h) */
	struct pf_ringturn turn;    /* pf_punt consumed in bounded turns */
};

/* Make pol (installed in slot) the slow path's policy, with rs, its
 * regexes compiled (pf_regex_set_build, before the install: a reload is
 * all or nothing). Takes both over (they are left empty). A reload (slot
 * is not sl->slot) also deletes the old slot's failed marks from
 * pf_punted (sl->punted_fd): the new policy decides those punts again, at
 * once and after any later reload. */
void pf_slow_adopt(struct pf_slow *sl, struct pf_policy *pol, struct pf_regex_set *rs,
		   __u32 slot);

/* ring_buffer callback (ctx: struct pf_slow): one struct pf_punt_rec.
 * Decide it and teach the kernel the verdict, so the client's
 * retransmission is decided there; then end the record's wait -- or,
 * when it cannot be taught, mark the wait failed (PF_PUNT_FAILED: the
 * retransmission goes to the app). Either way, the segment the record
 * kept is then replayed (sl->rp, replay.h): the retransmission's
 * decision without its wait. A record of another slot (a reload since)
 * is not replayed: its segment would be punted again. Always returns 0
 * (keep consuming). */
int pf_slow_on_punt(void *ctx, void *data, size_t size);

#endif /* PF_SLOWPATH_H */
