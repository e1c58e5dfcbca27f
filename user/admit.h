/* User: metrics.c (and the unit tests) -- who the /metrics server lets in. */
/*
 * admit.h -- the /metrics server's connection slots, shared fairly.
 * libmicrohttpd limits connections in all and per exact address, and
 * closes idle ones, but a client that sends a byte every few seconds is
 * never idle: clients from 16 addresses (or 16 addresses of one IPv6
 * /64, which one host owns) held every slot, and the probes of the
 * orchestrator (/healthz) then failed (a review finding, stop 51). Here:
 *   - an IPv6 /64 holds at most PF_ADMIT_PER_NET slots, as an IPv4
 *     address does (libmicrohttpd's own per-address limit);
 *   - the last PF_ADMIT_LOCAL slots are this host's own: a client whose
 *     address is one of the host's (loopback, or one it can bind: the
 *     kubelet probing a host-network pod at the node's address) still
 *     gets in when others hold the rest.
 * State of one server; its callbacks all run in the server's one polling
 * thread.
 */
#ifndef PF_ADMIT_H
#define PF_ADMIT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>

#define PF_ADMIT_MAX     64  /* connections in all */
#define PF_ADMIT_PER_NET 4   /* from one IPv4 address or IPv6 /64 */
#define PF_ADMIT_LOCAL   8   /* of PF_ADMIT_MAX, kept for this host's own addresses */

struct pf_admit {
	struct pf_admit_slot {
		__u8 net[8];         /* the IPv6 /64 (an IPv4 address: its 4 bytes) */
		bool v6, used;
	} slot[PF_ADMIT_MAX];
	unsigned n;                  /* slots used */
};

/* Whether a new connection from addr (len bytes; AF_INET or AF_INET6,
 * an IPv4-mapped IPv6 address as IPv4) may take a slot of a: a free slot
 * outside the local reserve (or inside it for a local address), and
 * fewer than PF_ADMIT_PER_NET slots of its network. */
bool pf_admit_ok(const struct pf_admit *a, const struct sockaddr *addr, socklen_t len);

/* Take a slot of a for a connection from addr. Returns it (to hand back
 * to pf_admit_put), or NULL when none is free. */
struct pf_admit_slot *pf_admit_take(struct pf_admit *a, const struct sockaddr *addr,
				    socklen_t len);

/* Give slot s (of pf_admit_take, or NULL: nothing) of a back. */
void pf_admit_put(struct pf_admit *a, struct pf_admit_slot *s);

#endif /* PF_ADMIT_H */
