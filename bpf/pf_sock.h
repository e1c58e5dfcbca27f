/* BPF only (TC and XDP): reading the local TCP socket's state (the guards of a splice). */
/*
 * pf_sock.h -- bpf_skc_lookup_tcp + bpf_skc_to_tcp_sock, read without the
 * socket lock: the values are guards, not the truth (docs/tcp-splice.md
 * section 9). Needs CAP_PERFMON (the skc casts). The test build replaces
 * the lookup by a map (PF_TEST_MOCK_SOCK).
 */
#ifndef PF_SOCK_H
#define PF_SOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_pkt.h"

/* The local socket of p's connection (a reference to release), or NULL.
 * Also used by the response offload (bpf/pf_offload.h). */
static __always_inline struct bpf_sock *pf_sk_lookup(void *ctx, const struct pf_pkt *p)
{
	struct bpf_sock_tuple tup = {};
	__u32 tsz;

	if (p->family == 4) {
		__builtin_memcpy(&tup.ipv4.saddr, p->key.caddr, 4);
		__builtin_memcpy(&tup.ipv4.daddr, p->key.saddr, 4);
		tup.ipv4.sport = p->key.cport;
		tup.ipv4.dport = p->key.sport;
		tsz = sizeof(tup.ipv4);
	} else {
		__builtin_memcpy(tup.ipv6.saddr, p->key.caddr, 16);
		__builtin_memcpy(tup.ipv6.daddr, p->key.saddr, 16);
		tup.ipv6.sport = p->key.cport;
		tup.ipv6.dport = p->key.sport;
		tsz = sizeof(tup.ipv6);
	}
	return bpf_skc_lookup_tcp(ctx, &tup, tsz, BPF_F_CURRENT_NETNS, 0);
}

/* The largest window the socket can have advertised: 65535 shifted by
 * its receive window scale (rx_opt.rcv_wscale, fixed at the handshake;
 * RFC 7323 §2.3 caps it at 14). No real segment starts past rcv_nxt +
 * this (pf_sock_rcv_edge). */
static __always_inline __u32 pf_rcv_win_max(__u32 wscale)
{
	return 65535u << (wscale < 14 ? wscale : 14);
}

#ifdef PF_TEST_MOCK_SOCK
/* Test build only (tests/bpf): BPF_PROG_TEST_RUN has no socket to look
 * up, so the socket state comes from a map the test fills. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_sockinfo);
} pf_test_sock SEC(".maps");

/* Non-zero: pf_egress_seen asks pf_synack, as the real build does (the
 * tests of that guard); zero: every connection's SYN-ACK counts as seen
 * (the fixtures send none). Off at every case start. */
__u32 pf_test_synack;

static __always_inline int pf_egress_seen(const struct pf_pkt *p)
{
	return !*(volatile __u32 *)&pf_test_synack || pf_synack_seen(&p->key);
}

static __always_inline int pf_sock(void *ctx, const struct pf_pkt *p,
				   struct pf_sockinfo *si)
{
	__u32 zero = 0;
	struct pf_sockinfo *m = bpf_map_lookup_elem(&pf_test_sock, &zero);

	(void)ctx;
	(void)p;
	if (!m || !m->valid)
		return PF_STAT_PASS_NO_SOCKET;
	*si = *m;
	return 0;
}

/* The mock's bound, computed as below. */
static __always_inline int pf_sock_rcv_edge(void *ctx, const struct pf_pkt *p, __u32 *edge)
{
	__u32 zero = 0;
	struct pf_sockinfo *m = bpf_map_lookup_elem(&pf_test_sock, &zero);

	(void)ctx;
	(void)p;
	if (!m || !m->valid)
		return -1;
	*edge = m->rcv_nxt + pf_rcv_win_max(m->wscale);
	return 0;
}

/* The mock's socket still as si shows it (see below). */
static __always_inline int pf_sock_same(void *ctx, const struct pf_pkt *p,
					const struct pf_sockinfo *si)
{
	__u32 zero = 0;
	struct pf_sockinfo *m = bpf_map_lookup_elem(&pf_test_sock, &zero);

	(void)ctx;
	(void)p;
	return m && m->valid && m->write_seq == si->write_seq && m->closing == si->closing;
}

/* The mock's socket, valid: it holds the connection (see below). */
static __always_inline int pf_sock_holds(void *ctx, const struct pf_pkt *p)
{
	__u32 zero = 0;
	struct pf_sockinfo *m = bpf_map_lookup_elem(&pf_test_sock, &zero);

	(void)ctx;
	(void)p;
	return m && m->valid;
}
#else
/* Will every server segment of p's connection pass this interface's TC
 * egress, to be translated? Known only for a connection whose SYN-ACK
 * it sent (pf_synack): asked of one whose first request would be
 * answered before any of its server bytes was seen here. */
static __always_inline int pf_egress_seen(const struct pf_pkt *p)
{
	return pf_synack_seen(&p->key);
}

/* What a full socket in state can still do with its connection's data:
 * after ESTABLISHED it holds the connection's state until it cannot send
 * any more (a lost response followed by the server's FIN must still be
 * answered again). TIME_WAIT, CLOSE and the rest: nothing (as the GC's
 * sock_diag dump). A request socket (NEW_SYN_RECV) is the callers' case. */
enum pf_sk_use { PF_SK_GONE = 0, PF_SK_OPEN, PF_SK_CLOSING };

static __always_inline int pf_sk_use(__u32 state)
{
	switch (state) {
	case BPF_TCP_ESTABLISHED:
		return PF_SK_OPEN;
	case BPF_TCP_FIN_WAIT1:
	case BPF_TCP_FIN_WAIT2:
	case BPF_TCP_CLOSE_WAIT:
	case BPF_TCP_CLOSING:
	case BPF_TCP_LAST_ACK:
		return PF_SK_CLOSING;
	default:
		return PF_SK_GONE;
	}
}

/* Whether a socket that can still carry the connection's data holds p's
 * 4-tuple: a request socket, or a full one pf_sk_use does not call gone.
 * Its RST answering a SYN is sent before the kernel drops it, so the
 * look-up still finds it. */
static __always_inline int pf_sock_holds(void *ctx, const struct pf_pkt *p)
{
	struct bpf_sock *sk = pf_sk_lookup(ctx, p);
	int held;

	if (!sk)
		return 0;
	held = sk->state == BPF_TCP_NEW_SYN_RECV || pf_sk_use(sk->state) != PF_SK_GONE;
	bpf_sk_release(sk);
	return held;
}

/* A right edge past which no real client segment of p's full socket can
 * start, socket space: rcv_nxt plus the largest window this socket can
 * advertise (pf_rcv_win_max of its rcv_wscale: every edge it advertised,
 * rcv_wup + a window, rcv_wup <= rcv_nxt, is at or before it). Until
 * stop 51 the largest any TCP can (65535 << 14, 1 GiB): a blind spoofed
 * segment with a random seq then fell inside it one time in four and
 * moved c_hi, and the connection's preflights went to the app
 * (pass_not_next; a review finding) -- at the usual scale of 7, one in
 * 512 now. Not the advertised edge (rcv_wup +
 * rcv_wnd): that one can move left (net.ipv4.tcp_shrink_window), and
 * read here without the socket lock it can be torn (tcp_select_window
 * stores rcv_wnd and rcv_wup apart) -- a segment the kernel then queues
 * out of order, taken for one it drops, would not move c_hi, and a
 * splice before it would misplace its bytes. rcv_nxt only grows.
 * Returns 0, or -1 (no full socket: the caller cannot tell). */
static __always_inline int pf_sock_rcv_edge(void *ctx, const struct pf_pkt *p, __u32 *edge)
{
	struct bpf_sock *sk = pf_sk_lookup(ctx, p);
	struct tcp_sock *tp;

	if (!sk)
		return -1;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp) {
		bpf_sk_release(sk);
		return -1;
	}
	*edge = tp->rcv_nxt + pf_rcv_win_max(BPF_CORE_READ_BITFIELD(tp, rx_opt.rcv_wscale));
	bpf_sk_release(sk);
	return 0;
}

/* The connection is still a request socket: the handshake's last ACK is
 * in the same receive batch, not yet processed (list receive runs TC
 * ingress, like XDP, over a whole batch first) -- the usual case for a
 * browser's first request. If p is the first data segment, the state
 * follows from the ISNs: nothing received, nothing sent but the SYN-ACK.
 * snd_una is set one below snd_nxt so that pf_send also hands the server
 * a pure ACK, which completes the handshake should the client's own ACK
 * have been lost. Consumes the reference on sk. */
static __always_inline int pf_sock_from_request(struct bpf_sock *sk, const struct pf_pkt *p,
						struct pf_sockinfo *si)
{
	struct tcp_request_sock *rq = bpf_skc_to_tcp_request_sock(sk);
	__u32 isn_c, isn_s, mss;

	if (!rq) {
		bpf_sk_release(sk);
		return PF_STAT_PASS_NO_SOCKET;
	}
	isn_c = rq->rcv_isn;
	isn_s = rq->snt_isn;
	mss = rq->req.req.mss;
	si->wscale = BPF_CORE_READ_BITFIELD(rq, req.rcv_wscale);
	si->snd_wscale = BPF_CORE_READ_BITFIELD(rq, req.snd_wscale);
	bpf_sk_release(sk);
	if (p->seq != isn_c + 1 || p->ack != isn_s + 1 || mss == 0)
		return PF_STAT_PASS_NO_SOCKET;
	si->rcv_nxt = isn_c + 1;
	si->copied_seq = isn_c + 1;
	si->snd_nxt = isn_s + 1;
	si->write_seq = isn_s + 1;
	si->snd_una = isn_s;
	si->mss = mss;
	si->rcv_wnd = mss * 10;   /* conservative until the server speaks */
	si->bytes_received = 0;
	si->ts_now = 0;
	si->ts_ok = 0;            /* TSval: the request's TSecr */
	si->closing = 0;
	si->later = 0;            /* no data queued before the handshake ends */
	return 0;
}

static __always_inline int pf_sock(void *ctx, const struct pf_pkt *p,
				   struct pf_sockinfo *si)
{
	struct bpf_sock *sk;
	struct tcp_sock *tp;

	sk = pf_sk_lookup(ctx, p);
	if (!sk)
		return PF_STAT_PASS_NO_SOCKET;
	if (sk->state == BPF_TCP_NEW_SYN_RECV)
		return pf_sock_from_request(sk, p, si);
	/* a closing socket is still answered again (the caller decides) */
	switch (pf_sk_use(sk->state)) {
	case PF_SK_OPEN:
		si->closing = 0;
		break;
	case PF_SK_CLOSING:
		si->closing = 1;
		break;
	default:
		bpf_sk_release(sk);
		return PF_STAT_PASS_NO_SOCKET;
	}
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp) {
		bpf_sk_release(sk);
		return PF_STAT_PASS_NO_SOCKET;
	}
	si->rcv_nxt = tp->rcv_nxt;
	si->copied_seq = tp->copied_seq;
	si->snd_nxt = tp->snd_nxt;
	si->snd_una = tp->snd_una;
	si->write_seq = tp->write_seq;
	si->mss = tp->mss_cache;
	si->rcv_wnd = tp->rcv_wnd;
	si->bytes_received = tp->bytes_received;
	/* bitfields read in place (tp is a trusted BTF pointer): no
	 * bpf_probe_read_kernel call per field, as _PROBED makes. The root
	 * pointer and the whole field path: with &tp->rx_opt clang folds
	 * the chain to tcp_sock and the macro adds rx_opt's offset a second
	 * time (the verifier: "access beyond struct tcp_sock") */
	si->wscale = BPF_CORE_READ_BITFIELD(tp, rx_opt.rcv_wscale);
	si->snd_wscale = BPF_CORE_READ_BITFIELD(tp, rx_opt.snd_wscale);
	/* the socket's timestamp clock as tcp_time_stamp_ts() computes it,
	 * from the cached packet time: never ahead of the real clock */
	si->ts_ok = 1;
	/* later bytes the stack holds (pf_try_answer's first-request guard) */
	si->later = tp->out_of_order_queue.rb_node ||
		    tp->inet_conn.icsk_inet.sk.sk_backlog.len;
	if (bpf_core_field_exists(tp->tcp_usec_ts) &&
	    BPF_CORE_READ_BITFIELD(tp, tcp_usec_ts))
		si->ts_now = (__u32)tp->tcp_mstamp + tp->tsoffset;
	else
		si->ts_now = (__u32)(tp->tcp_mstamp / 1000) + tp->tsoffset;
	bpf_sk_release(sk);
	return 0;
}

/* Read again after a splice's new flow entry is in the table: is p's
 * socket still as si (pf_sock) showed it -- the same write_seq, open or
 * closing as it was? write_seq moves first when the app writes data or
 * a FIN (before the segment is built and reaches TC egress), so a server
 * segment that egress sent without the entry shows here. snd_nxt is not
 * compared: with write_seq unchanged it only catches up with data the
 * client has acked already (see the guard in pf_try_answer), which maps
 * the same with or without the entry. A request socket has no app that
 * could write: unchanged. Returns 1 if unchanged, else 0. */
static __always_inline int pf_sock_same(void *ctx, const struct pf_pkt *p,
					const struct pf_sockinfo *si)
{
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	int same;

	sk = pf_sk_lookup(ctx, p);
	if (!sk)
		return 0;
	if (sk->state == BPF_TCP_NEW_SYN_RECV) {
		bpf_sk_release(sk);
		return 1;
	}
	if (pf_sk_use(sk->state) != (si->closing ? PF_SK_CLOSING : PF_SK_OPEN)) {
		bpf_sk_release(sk);
		return 0;
	}
	tp = bpf_skc_to_tcp_sock(sk);
	same = tp && tp->write_seq == si->write_seq;
	bpf_sk_release(sk);
	return same;
}
#endif /* PF_TEST_MOCK_SOCK */


static __always_inline __u16 pf_raw_window(const struct pf_sockinfo *si)
{
	__u32 w = si->rcv_wnd >> (si->wscale & 15);

	return w > 0xffff ? 0xffff : (__u16)w;
}

#endif /* PF_SOCK_H */
