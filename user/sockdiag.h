/* User: the kernel's TCP sockets through NETLINK_SOCK_DIAG (dump, destroy), for the flow-table GC. */
/*
 * sockdiag.h -- one dump lists every TCP socket that can still exchange
 * data (SYN_RECV .. LAST_ACK) or is in TIME_WAIT (flagged: it can still
 * answer a retransmitted FIN; CLOSE excluded) on a set of local ports, in the caller's network namespace: the GC matches its
 * whole flow table against one such dump instead of asking about each
 * entry. Sockets are reported as flow keys (include/pf_structs.h): client
 * = the remote end, server = the local end, IPv4 (also v4-mapped IPv6)
 * as family 4 in the first 4 bytes.
 */
#ifndef PF_SOCKDIAG_H
#define PF_SOCKDIAG_H

#include <stdbool.h>
#include <linux/types.h>
#include "../include/pf_structs.h"

/* Called once per socket of a dump, timewait set for a TIME_WAIT one; a
 * non-zero return stops the dump and is returned by pf_diag_dump. */
typedef int (*pf_diag_cb)(void *ctx, const struct pf_flow_key *k, bool timewait);

/* Dump the live and TIME_WAIT TCP sockets (IPv4 and IPv6) whose local port p has bit
 * p set in ports (1024 words, host order bits; NULL: every port), cb for
 * each. Returns 0, cb's non-zero value, or -errno (message printed, once
 * per errno in a row: the GC dumps every second). */
int pf_diag_dump(const __u64 *ports, pf_diag_cb cb, void *ctx);

/* A NETLINK_SOCK_DIAG socket for pf_diag_destroy (close it after), or
 * -errno. */
int pf_diag_open(void);

/* Abort the local socket of k through nlfd: the kernel resets the
 * connection (RST to the peer, ECONNABORTED to the app). Returns 0 or
 * -errno (-ENOENT: no such socket). */
int pf_diag_destroy(int nlfd, const struct pf_flow_key *k);

#endif /* PF_SOCKDIAG_H */
