/* BPF only (the datapath object): response offload (issue 13) -- its parts: pf_ofl_maps.h (maps), pf_ofl_read.h (readers), pf_ofl_tc.h (recorder, egress), pf_ofl_sockops.h, pf_ofl_msg.h (SK_MSG), pf_ofl_shadow.h (shadow mode). */
/*
 * pf_offload.h -- the design is in include/pf_ofl.h. Its entry points:
 *   pf_ofl_tc         TC, tail-called by pf_tc_ingress after the preflight
 *                     datapath passed a client segment (translated into
 *                     the socket's sequence space): record each request
 *                     head's verdict in the server socket's FIFO
 *   pf_ofl_sockops    cgroup sockops (--cgroup): a server socket on a
 *                     policy port becomes covered at
 *                     BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB (sk_storage +
 *                     pf_ofl_socks)
 *   pf_ofl_msg        SK_MSG on pf_ofl_socks: each final response head
 *                     takes the oldest entry and gets its header lines
 *                     (bpf_msg_push_data / bpf_msg_pop_data). Framing is
 *                     followed in the socket's send sequence space
 *                     (write_seq): bodies pass by Content-Length or
 *                     chunk sizes, a message that holds the next unit is
 *                     split there (bpf_msg_apply_bytes), heads split over
 *                     writes are held (bpf_msg_cork_bytes).
 *   pf_ofl_egress     TC egress, called by pf_tc_egress: a socket whose
 *                     SK_MSG program passed the head of a large body
 *                     leaves pf_ofl_socks for the body (no sendfile copy);
 *                     pf_ofl_tc puts it back at its next request
 *                     (pf_ofl_readd)
 * Fail open: whatever is not understood passes unchanged, counted
 * (PF_STATS_OFFLOAD), and the connection is then left alone.
 *
 * SK_MSG notes (Linux 6.18, net/ipv4/tcp_bpf.c, net/core/filter.c):
 * - msg->apply_bytes and cork_bytes are plain fields of the message that
 *   survive a re-run on the rest of a message, and the corked message is
 *   reused for the socket's later writes: every run sets both itself (a
 *   stale cork_bytes held the rest of a chunked body back: a stall).
 * - push_data places the new bytes in a fresh page, uninitialised: they
 *   are written through pull_data's pointers before anything else, or
 *   removed again.
 * - sendfile() data reaches the program copied into the message like any
 *   other write (tcp_bpf_sendmsg copies MSG_SPLICE_PAGES data), so it is
 *   visible and writable; it is skipped by the apply_bytes window anyway.
 *   That copy is why a socket leaves the map for a large body.
 */
#ifndef PF_BPF_OFFLOAD_H
#define PF_BPF_OFFLOAD_H

#include "pf_ofl_maps.h"
#include "pf_ofl_read.h"
#include "pf_ofl_tc.h"
#include "pf_ofl_sockops.h"
#include "pf_ofl_msg.h"
#include "pf_ofl_shadow.h"

#endif /* PF_BPF_OFFLOAD_H */
