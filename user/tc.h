/* User: attaching preflightd's TC programs without disturbing other TC users. */
#ifndef PF_TC_H
#define PF_TC_H

#include <stdbool.h>

#define PF_TC_HANDLE     0x7066      /* "pf" */
#define PF_TC_PRIO_IN    1           /* head of ingress: see requests first */
#define PF_TC_PRIO_OUT   0xfff0      /* tail of egress: see final segments */

struct pf_tc {
	int ifindex;
	bool hook_created;   /* we created the clsact qdisc */
	bool in_attached;
	bool out_attached;
};

/* Attach prog fds at ingress/egress of ifindex. Reuses an existing clsact.
 * replace: atomically replace preflightd filters left by a previous
 * instance (adoption). Returns 0 or a negative errno (message printed). */
int pf_tc_attach(struct pf_tc *tc, int ifindex, int in_fd, int out_fd, bool replace);

/* Detach what pf_tc_attach attached; remove clsact only if we created it
 * and no other filter remains on it. */
void pf_tc_detach(struct pf_tc *tc);

/* Detach preflightd filters found on ifindex (for 'preflightd detach').
 * Returns the number removed or a negative errno. */
int pf_tc_detach_stale(int ifindex);

/* Number of filters on the ingress or egress hook of ifindex, or -errno. */
int pf_tc_count_filters(int ifindex, bool ingress);

#endif /* PF_TC_H */
