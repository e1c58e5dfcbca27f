/* User: writing a compiled policy and the clock into the loaded datapath. */
#ifndef PF_MAPS_USER_H
#define PF_MAPS_USER_H

#include "policy.h"

struct preflightd_bpf;

/* Size maps for policy c before load (tokens of two slots, flows). */
int pf_maps_size(struct preflightd_bpf *skel, const struct pf_compiled *c,
		 unsigned max_flows);

/* Write c into its slot (tokens, rules, slot info, ports), then make that
 * slot the active one. Returns 0 or -errno (message printed). */
int pf_maps_install(struct preflightd_bpf *skel, const struct pf_compiled *c);

/* Remove the tokens of slot from the token map (after a slot switch). */
void pf_maps_clear_slot(struct preflightd_bpf *skel, __u32 slot);

/* Refresh the cached Date header (double-buffered) and the heartbeat. */
void pf_maps_tick(struct preflightd_bpf *skel);

#endif /* PF_MAPS_USER_H */
