/* User: freeing flow-table entries of connections that have ended. */
#ifndef PF_GC_H
#define PF_GC_H

#include "../include/pf_structs.h"

/* 1 if the kernel still has a socket for key that can exchange data
 * (SYN_RECV..LAST_ACK except TIME_WAIT/CLOSE), 0 if not, -errno on error. */
int pf_sock_alive(const struct pf_flow_key *key);

/* Abort the local socket of key (RST to the peer). 0 or -errno. */
int pf_sock_destroy(const struct pf_flow_key *key);

/* Reset every connection left in the flow map (fd) that carries a
 * splice (splices > 0), one log line each; returns how many were reset.
 * Identity-tracked entries are left alone: the app's stack serves them. */
int pf_gc_reset_all(int fd);

/* Walk the flow map (fd): delete entries whose connection has ended.
 * now_ns is CLOCK_MONOTONIC (same clock as bpf_ktime_get_ns). Entries
 * idle for less than min_idle_ns are only checked when a FIN/RST was
 * seen. Returns the number of live spliced connections left (entries
 * with splices > 0: only those need draining), or -errno. */
int pf_gc_flows(int fd, __u64 now_ns, __u64 min_idle_ns, unsigned *freed);

#endif /* PF_GC_H */
