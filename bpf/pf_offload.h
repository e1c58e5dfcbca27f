/* BPF only (TC, sockops, SK_MSG): response offload (issue 13) -- its maps, the request recorder at TC ingress, the sockops and SK_MSG programs, shadow mode at TC egress. */
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

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_sock.h"

/* Settings of the rules of both policy slots (struct pf_ofl_rule). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PF_SLOTS * PF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pf_ofl_rule);
} pf_ofl_rules SEC(".maps");

static __always_inline const struct pf_ofl_rule *pf_ofl_rule_lookup(__u32 idx)
{
	return bpf_map_lookup_elem(&pf_ofl_rules, &idx);
}
#define PF_OFL_RULE_LOOKUP(i) pf_ofl_rule_lookup(i)

#include "pf_ofl.h"

/* The request FIFO and framing state of each covered server socket,
 * freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pf_ofl_sk);
} pf_ofl_sk SEC(".maps");

/* Covered server sockets (key: socket cookie); pf_ofl_msg is attached to
 * this map. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, __u64);
	__type(value, __u64);
} pf_ofl_socks SEC(".maps");

/* The offload's control flags (struct pf_ofl_ctl): in a map, not in
 * pf_cfg, because a restart adopts it -- the SK_MSG program of a socket
 * covered before a crash keeps running there and reads the same entry,
 * so detach stops every generation of it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_ofl_ctl);
} pf_ofl_ctl SEC(".maps");

/* Is the offload being detached? */
static __always_inline int pf_ofl_stopped(void)
{
	__u32 zero = 0;
	const struct pf_ofl_ctl *c = bpf_map_lookup_elem(&pf_ofl_ctl, &zero);

	return !c || c->stop;
}

/* Covered sockets whose SK_MSG program holds a head back
 * (bpf_msg_cork_bytes) until the app writes the rest: cookie -> their
 * connection. The kernel frees held bytes with the socket's psock, so a
 * socket must not leave pf_ofl_socks while it is here: detach waits for
 * the app's next write (which finds pf_ofl_ctl stopped and sends all)
 * and resets what is still held after a bound (user/offload.c). Entries
 * of sockets closed while holding are pruned by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, __u64);
	__type(value, struct pf_flow_key);
} pf_ofl_held SEC(".maps");

/* Sockets whose SK_MSG program passed the head of a large body
 * (PF_OFL_DETACH_MIN) and asked to leave the SK_MSG path for it: flow key
 * (client first, as TC sees it) -> socket cookie. TC egress looks each
 * server segment up here -- a hash look-up instead of a socket look-up per
 * segment -- and takes the socket out of pf_ofl_socks (pf_ofl_egress). An
 * entry lost (LRU) only leaves its socket in the SK_MSG path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, struct pf_flow_key);
	__type(value, __u64);
} pf_ofl_leave SEC(".maps");

/* Requests seen while their connection was still a request socket (the
 * handshake's last ACK and the first request in one receive batch): the
 * sockops program moves them into the socket's pf_ofl_sk. An entry that
 * is never claimed (a connection outside --cgroup) is removed by the
 * daemon after PF_OFL_EARLY_NS (born_ns). Not LRU: bpf_spin_lock needs a
 * plain hash ("map 'pf_ofl_early' has to have BTF in order to use
 * bpf_spin_lock": the kernel refuses the lock in an LRU map's BTF). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct pf_flow_key);
	__type(value, struct pf_ofl_sk);
} pf_ofl_early SEC(".maps");

/* Per-CPU work areas: slot PF_OFL_SCR_TC for TC (softirq), slot
 * PF_OFL_SCR_MSG for SK_MSG (process context, which softirqs interrupt). */
#define PF_OFL_SCR_TC  0
#define PF_OFL_SCR_MSG 1

/* Room for an edited response head: a head of PF_REQ_MAX bytes and
 * PF_RESP_MAX inserted (a power of 2). */
#define PF_OFL_OUT (2 * PF_REQ_MAX)

struct pf_ofl_scratch {
	__u8 buf[PF_REQ_BUF];      /* a request head, or response bytes */
	struct pf_req r;
	struct pf_match m;
	struct pf_rhead h;
	struct pf_ofl_ent e;
	struct pf_ofl_plan pl;
	struct pf_ofl_cscan cs;
	/* the edited response head (pf_ofl_compose), 8 bytes of slack */
	__u8 out[PF_OFL_OUT + 8];
	/* a new pf_ofl_early value; raw bytes because a per-CPU map value
	 * may not contain a bpf_spin_lock */
	__u64 nsk[(sizeof(struct pf_ofl_sk) + 7) / 8];
	__u32 busy;                /* SK_MSG: a run is using this slot */
	__u32 tmp;                 /* PF_LAUNDER slot */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pf_ofl_scratch);
} pf_ofl_scratch SEC(".maps");

static __always_inline struct pf_ofl_scratch *pf_ofl_scratch_get(__u32 k)
{
	return bpf_map_lookup_elem(&pf_ofl_scratch, &k);
}

/* Shadow mode: request and response heads for the daemon (struct
 * pf_shd_rec, see include/pf_ofl_types.h); about 500 records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} pf_shd SEC(".maps");

/* Shadow mode, written and read by userspace only: the daemon's
 * comparison counters (for stats and /metrics) and its disagreements
 * (for trace, which pops them). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_shd_stats);
} pf_shd_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 1024);
	__type(value, struct pf_shd_diff);
} pf_shd_diffs SEC(".maps");

/* Shadow mode: hand the len-byte head in sc->buf (request idx of key) to
 * the daemon. A full ring loses the record: the daemon counts the
 * response it cannot pair. */
static __always_inline void pf_shd_submit(const struct pf_flow_key *key, __u32 idx,
					  __u32 kind, __u32 len, struct pf_ofl_scratch *sc)
{
	struct pf_shd_rec *rec;
	__u64 n = len;

	/* Verifier workaround: one 64-bit register for test and use (see
	 * pf_load_req) */
	barrier_var(n);
	if (n == 0 || n > PF_SHD_HEAD_MAX)
		return;
	rec = bpf_ringbuf_reserve(&pf_shd, sizeof(*rec), 0);
	if (!rec)
		return;
	rec->ts_ns = bpf_ktime_get_ns();
	rec->key = *key;
	rec->idx = idx;
	rec->len = (__u16)n;
	rec->kind = (__u8)kind;
	rec->pad = 0;
	pf_copy(rec->head, sc->buf, n);
	bpf_ringbuf_submit(rec, 0);
}

/* ================================================================
 * TC ingress: recording requests
 * ================================================================ */

/* The early entry of the request socket whose client ISN is isn, created
 * for its first data segment. */
static __always_inline struct pf_ofl_sk *pf_ofl_early_get(const struct pf_pkt *p, __u32 isn,
							  struct pf_ofl_scratch *sc)
{
	struct pf_ofl_sk *e = bpf_map_lookup_elem(&pf_ofl_early, &p->key), *ns;

	if (e || p->seq != isn + 1)
		return e;
	pf_zero64(sc->nsk, sizeof(sc->nsk) / 8);
	ns = (struct pf_ofl_sk *)sc->nsk;
	ns->isn = isn;
	ns->born_ns = bpf_ktime_get_ns();
	ns->s.next = isn + 1;
	ns->s.in_state = PF_OFL_IN_HEAD;
	if (!bpf_map_update_elem(&pf_ofl_early, &p->key, ns, BPF_NOEXIST))
		pf_count(PF_STAT_OFL_REQ_EARLY);
	return bpf_map_lookup_elem(&pf_ofl_early, &p->key);
}

/* The offload state of p's server socket, or NULL if it is not covered. */
static __always_inline struct pf_ofl_sk *pf_ofl_sk_of(struct __sk_buff *skb,
						      const struct pf_pkt *p,
						      struct pf_ofl_scratch *sc)
{
	struct tcp_request_sock *rq;
	struct pf_ofl_sk *st;
	struct bpf_sock *sk;
	__u32 isn;

	sk = pf_sk_lookup(skb, p);
	if (!sk)
		return NULL;
	if (sk->state == BPF_TCP_NEW_SYN_RECV) {
		rq = bpf_skc_to_tcp_request_sock(sk);
		isn = rq ? rq->rcv_isn : 0;
		bpf_sk_release(sk);
		return rq ? pf_ofl_early_get(p, isn, sc) : NULL;
	}
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	bpf_sk_release(sk);
	return st;
}

/* Copy n (1..PF_REQ_MAX) bytes at offset off of the skb into sc->buf. */
static __always_inline int pf_ofl_load(struct __sk_buff *skb, __u32 off, __u32 n,
				       struct pf_ofl_scratch *sc)
{
	__u64 len = n;

	/* Verifier workaround: see pf_load_req ("R3 min value is outside of
	 * the allowed memory range") */
	barrier_var(len);
	if (len == 0 || len > PF_REQ_MAX)
		return -1;
	return bpf_skb_load_bytes(skb, off, sc->buf, len) ? -1 : 0;
}

/* Stop recording on st (framing lost at next), counting why (stat 0:
 * not counted). */
static __always_inline void pf_ofl_in_stop(struct pf_ofl_sk *st, __u32 next, __u32 stat)
{
	bpf_spin_lock(&st->lock);
	if (st->s.in_state == PF_OFL_IN_HEAD && st->s.next == next)
		st->s.in_state = PF_OFL_IN_STOP;
	bpf_spin_unlock(&st->lock);
	if (stat)
		pf_count(stat);
}

/* Parse and decide the request head at sc->buf (n bytes from the
 * segment); a global function so the verifier checks it once. Returns
 * 0 with sc->r / sc->e filled, or the stat of why not. */
__noinline int pf_ofl_decide(struct pf_ofl_scratch *sc, __u32 n)
{
	__u32 slot = pf_cfg.active_slot & (PF_SLOTS - 1);

	if (!sc)
		return PF_STAT_PASS_ERROR;
	if (pf_parse_head(sc->buf, n, &sc->r) != PF_P_OK)
		return PF_STAT_OFL_IN_UNPARSED;
	pf_ofl_entry(sc->buf, &sc->r, &pf_cfg.slot[slot], slot, &sc->m, &sc->e);
	return 0;
}

/* Teach the daemon the origin of the request in sc (PF_OFL_E_LEARN: only
 * its regexes decide it), through the slow path's ring buffer and record
 * (see pf_punt_req in pf_answer.h): the daemon inserts its verdict, and
 * the origin's next request is decided here. Nothing is dropped or
 * waited for: this request's response gets Vary only. One punt per
 * origin at a time (pf_punted), none while the daemon is down. */
static __always_inline void pf_ofl_learn(struct pf_ofl_scratch *sc)
{
	__u64 now = bpf_ktime_get_ns(), hb = pf_cfg.heartbeat_ns, h = sc->m.oc.h;
	struct pf_punt_rec *rec;
	__u32 n = sc->r.origin.len;

	if (!hb || now - hb > PF_PUNT_WAIT_NS || n == 0 || n > PF_TOKEN_MAX ||
	    bpf_map_lookup_elem(&pf_punted, &h))
		return;
	rec = bpf_ringbuf_reserve(&pf_punt, sizeof(*rec), 0);
	if (!rec)
		return;
	rec->hash = h;
	rec->slot = sc->e.slot & (PF_SLOTS - 1);
	rec->rule = sc->e.rule & (PF_MAX_RULES - 1);
	rec->len = (__u16)n;
	rec->kind = PF_PUNT_ORIGIN;
	__builtin_memset(rec->pad, 0, sizeof(rec->pad));
	pf_copy(rec->data, sc->buf + PF_M(sc->r.origin.off), n & 127);
	bpf_ringbuf_submit(rec, 0);
	bpf_map_update_elem(&pf_punted, &h, &now, BPF_NOEXIST);
	pf_count(PF_STAT_OFL_LEARN);
}

/* Put st's socket, out of pf_ofl_socks for a body (pf_ofl_egress), back
 * in before a request head of it is recorded: TC ingress runs before the
 * app can read the request, so the response's head meets the SK_MSG
 * program again. The socket must be ESTABLISHED (the kernel refuses other
 * states). Returns 0 when the socket is in the map, 1 when the offload
 * is being detached, -1 on a failure. */
static __always_inline int pf_ofl_readd(struct __sk_buff *skb, const struct pf_pkt *p,
					struct pf_ofl_sk *st)
{
	struct bpf_sock *sk, *in;
	__u64 cookie = st->cookie;
	long err = -1;

	if (pf_ofl_stopped())
		return 1; /* being detached: the map is being emptied */
	sk = pf_sk_lookup(skb, p);
	if (!sk)
		return -1;
	if (sk->state == BPF_TCP_ESTABLISHED)
		err = bpf_map_update_elem(&pf_ofl_socks, &cookie, sk, BPF_NOEXIST);
	bpf_sk_release(sk);
	if (err == -PF_EEXIST || err == -PF_EBUSY) {
		/* EBUSY: the socket has a psock with our program -- in the
		 * map, or an old one not yet dropped (the map would then lose
		 * it): only a look-up tells */
		in = bpf_map_lookup_elem(&pf_ofl_socks, &cookie);
		err = in ? 0 : -1;
		if (in)
			bpf_sk_release(in);
	}
	if (err)
		return -1;
	bpf_spin_lock(&st->lock);
	st->s.detached = 0;
	bpf_spin_unlock(&st->lock);
	pf_count(PF_STAT_OFL_READDED);
	return 0;
}

/* Record the request heads that start in segment p on st. */
static __always_inline void pf_ofl_record(struct __sk_buff *skb, const struct pf_pkt *p,
					  struct pf_ofl_sk *st, struct pf_ofl_scratch *sc)
{
	__u32 S = p->seq, E = p->seq + p->pay_len, next, nn, k, n, stat, stop, idx;
	int ret;

	/* a first look without the lock (a lock pair per request was a tenth
	 * of the recorder's time): in_state and next only move forward, and
	 * the commit below checks both again under the lock */
	if (st->s.in_state != PF_OFL_IN_HEAD)
		return;
	next = st->s.next;
	if (!pf_ofl_before(next, E))
		return; /* body bytes, or bytes already parsed */
	if (pf_ofl_before(next, S)) {
		/* beyond the next head: body of a request whose head is still
		 * missing, or a later request -- told apart once that head is
		 * parsed (gap_end) */
		bpf_spin_lock(&st->lock);
		if (st->s.in_state == PF_OFL_IN_HEAD && pf_ofl_before(st->s.next, S)) {
			if (!st->s.has_gap || pf_ofl_before(st->s.gap_end, E))
				st->s.gap_end = E;
			st->s.has_gap = 1;
		}
		bpf_spin_unlock(&st->lock);
		return;
	}
	for (k = 0; k < PF_OFL_HEADS_SEG; k++) {
		n = E - next < PF_REQ_MAX ? E - next : PF_REQ_MAX;
		if (pf_ofl_load(skb, p->pay_off + (next - S), n, sc)) {
			pf_ofl_in_stop(st, next, PF_STAT_OFL_IN_UNPARSED);
			return;
		}
		ret = pf_ofl_decide(sc, n);
		if (ret) {
			/* a head split over segments, too long or malformed */
			pf_ofl_in_stop(st, next, ret);
			return;
		}
		nn = next + sc->r.len + ((sc->r.flags & PF_REQF_CLEN) ? sc->r.clen : 0);
		stop = sc->r.flags & (PF_REQF_TE | PF_REQF_UPGRADE);
		stat = 0;
		bpf_spin_lock(&st->lock);
		if (st->s.in_state != PF_OFL_IN_HEAD || st->s.next != next) {
			/* a copy of this segment on another CPU was first */
			bpf_spin_unlock(&st->lock);
			return;
		}
		if (st->s.detached) {
			/* out of the SK_MSG path for a body: back in first, or
			 * this request's response would go out unseen and the
			 * next one take its entry. Then this head again (the
			 * lock was let go). */
			bpf_spin_unlock(&st->lock);
			ret = pf_ofl_readd(skb, p, st);
			if (ret) {
				pf_ofl_in_stop(st, next, ret < 0 ? PF_STAT_OFL_DETACH_FAILED : 0);
				return;
			}
			continue;
		}
		if (st->s.n_req - st->s.n_resp >= PF_OFL_FIFO) {
			st->s.in_state = PF_OFL_IN_STOP;
			bpf_spin_unlock(&st->lock);
			pf_count(PF_STAT_OFL_FIFO_FULL);
			return;
		}
		st->s.q[st->s.n_req & (PF_OFL_FIFO - 1)] = sc->e;
		idx = st->s.n_req++;
		st->s.next = nn;
		if (stop) {
			st->s.in_state = PF_OFL_IN_STOP;
			stat = PF_STAT_OFL_IN_BODY;
		} else if (st->s.has_gap) {
			/* a segment skipped while this head was missing reached
			 * beyond it: it may have held the next head */
			if (pf_ofl_before(nn, st->s.gap_end)) {
				st->s.in_state = PF_OFL_IN_STOP;
				stat = PF_STAT_OFL_IN_GAP;
			} else {
				st->s.has_gap = 0;
			}
		}
		bpf_spin_unlock(&st->lock);
		pf_count(PF_STAT_OFL_REQ_RECORDED);
		if (sc->e.flags & PF_OFL_E_LEARN)
			pf_ofl_learn(sc);
		if (pf_cfg.shadow)
			pf_shd_submit(&p->key, idx, PF_SHD_REQ, sc->r.len, sc);
		if (stat) {
			pf_count(stat);
			return;
		}
		if (!pf_ofl_before(nn, E))
			return;
		next = nn;
	}
}

/* The request recorder as its own TC program, reached by a tail call from
 * pf_tc_ingress once the preflight datapath has passed a client segment
 * (already in the socket's sequence space): its verification does not
 * count against pf_tc_ingress's, and it is loaded only with the offload.
 * Always continues (TC_ACT_UNSPEC). The same program array holds the
 * shadow response reader (PF_OFL_TAIL_SHD, see pf_shd_egress_hook). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, PF_OFL_TAILS);
	__type(key, __u32);
	__type(value, __u32);
} pf_ofl_tail SEC(".maps");

/* The hook in pf_tc_ingress: returns only if the recorder is not there. */
static __always_inline void pf_ofl_ingress_hook(struct __sk_buff *skb)
{
	if (pf_cfg.ofl_on)
		bpf_tail_call(skb, &pf_ofl_tail, PF_OFL_TAIL_REC);
}

static __always_inline void pf_ofl_ingress(struct __sk_buff *skb)
{
	struct pf_ofl_scratch *sc;
	struct pf_ofl_sk *st;
	struct pf_pkt p;

	if (!pf_cfg.ofl_on)
		return;
	if (pf_parse_pkt(skb, false, &p, PF_DIR_IN) || !p.pay_len || !p.answer_port ||
	    (p.tflags & (PF_TCPF_SYN | PF_TCPF_RST)))
		return;
	sc = pf_ofl_scratch_get(PF_OFL_SCR_TC);
	if (!sc)
		return;
	st = pf_ofl_sk_of(skb, &p, sc);
	if (st)
		pf_ofl_record(skb, &p, st, sc);
}

SEC("tc")
int pf_ofl_tc(struct __sk_buff *skb)
{
	pf_ofl_ingress(skb);
	return TC_ACT_UNSPEC;
}

/* ================================================================
 * sockops: covering a server socket
 * ================================================================ */

/* The flow key (client first) of skops's connection; IPv4-mapped IPv6
 * addresses as IPv4, as TC sees them. */
static __always_inline void pf_ofl_key_of(const struct bpf_sock_ops *skops,
					  struct pf_flow_key *k)
{
	__u32 r[4], l[4], ra, la, fam, i;

	/* Verifier workarounds: every context field read once, as a 4-byte
	 * load kept apart by barrier_var -- clang otherwise merges two
	 * fields into one 8-byte load ("invalid bpf_context access off=48
	 * size=8") or selects between two field addresses ("dereference of
	 * modified ctx ptr R3 off=44 disallowed") */
	r[0] = skops->remote_ip6[0]; barrier_var(r[0]);
	r[1] = skops->remote_ip6[1]; barrier_var(r[1]);
	r[2] = skops->remote_ip6[2]; barrier_var(r[2]);
	r[3] = skops->remote_ip6[3]; barrier_var(r[3]);
	l[0] = skops->local_ip6[0]; barrier_var(l[0]);
	l[1] = skops->local_ip6[1]; barrier_var(l[1]);
	l[2] = skops->local_ip6[2]; barrier_var(l[2]);
	l[3] = skops->local_ip6[3]; barrier_var(l[3]);
	ra = skops->remote_ip4; barrier_var(ra);
	la = skops->local_ip4; barrier_var(la);
	fam = skops->family;
	if (fam == 2 /* AF_INET */ ||
	    (r[0] == 0 && r[1] == 0 && r[2] == bpf_htonl(0xffff))) {
		if (fam != 2) {
			ra = r[3];
			la = l[3];
		}
		k->family = 4;
		__builtin_memcpy(k->caddr, &ra, 4);
		__builtin_memcpy(k->saddr, &la, 4);
	} else {
		k->family = 6;
		for (i = 0; i < 4; i++) {
			__builtin_memcpy(k->caddr + 4 * i, &r[i], 4);
			__builtin_memcpy(k->saddr + 4 * i, &l[i], 4);
		}
	}
	/* remote_port: the network-order port in the upper 16 bits */
	k->cport = (__be16)(skops->remote_port >> 16);
	k->sport = bpf_htons((__u16)skops->local_port);
}

SEC("sockops")
int pf_ofl_sockops(struct bpf_sock_ops *skops)
{
	struct pf_flow_key key = {};
	struct pf_ofl_sk *st, *early;
	struct pf_ofl_ent tmp;
	struct bpf_sock *sk;
	__u32 port, i, next, n_req = 0, gap_end = 0, has_gap = 0;
	__u32 in_state = PF_OFL_IN_HEAD, moved = 0;
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB || !pf_cfg.ofl_on ||
	    pf_ofl_stopped())
		return 1;
	port = skops->local_port;
	if (port > 65535 || !((pf_cfg.port_bits[(port >> 6) & 1023] >> (port & 63)) & 1))
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	next = skops->rcv_nxt;
	pf_ofl_key_of(skops, &key);
	early = bpf_map_lookup_elem(&pf_ofl_early, &key);
	if (early) {
		/* the first request(s) came with the handshake's last ACK; a
		 * stale entry of an earlier connection on this 4-tuple has
		 * another ISN */
		bpf_spin_lock(&early->lock);
		if (early->isn + 1 == skops->rcv_nxt &&
		    early->s.in_state != PF_OFL_IN_INIT) {
			moved = 1;
			next = early->s.next;
			n_req = early->s.n_req;
			gap_end = early->s.gap_end;
			has_gap = early->s.has_gap;
			in_state = early->s.in_state;
		}
		early->s.in_state = PF_OFL_IN_STOP; /* TC writes no more */
		bpf_spin_unlock(&early->lock);
		/* st is still PF_OFL_IN_INIT: nothing else writes it yet */
		for (i = 0; i < PF_OFL_FIFO && moved; i++) {
			tmp = early->s.q[i & (PF_OFL_FIFO - 1)];
			st->s.q[i & (PF_OFL_FIFO - 1)] = tmp;
		}
		bpf_map_delete_elem(&pf_ofl_early, &key);
	}
	bpf_spin_lock(&st->lock);
	st->s.next = next;
	st->s.n_req = n_req;
	st->s.n_resp = 0;
	st->s.gap_end = gap_end;
	st->s.has_gap = (__u8)has_gap;
	st->s.in_state = (__u8)in_state;
	bpf_spin_unlock(&st->lock);
	if (pf_cfg.shadow)
		return 1; /* recorded and read at TC only: no SK_MSG */
	cookie = bpf_get_socket_cookie(skops);
	st->cookie = cookie;
	st->key = key;
	if (bpf_sock_hash_update(skops, &pf_ofl_socks, &cookie, BPF_NOEXIST)) {
		bpf_sk_storage_delete(&pf_ofl_sk, sk);
		pf_count(PF_STAT_OFL_SOCKS_FULL);
	}
	return 1;
}

/* ================================================================
 * SK_MSG: editing responses
 * ================================================================ */

/* The socket fields the program reads (CO-RE; tcp_sock starts with its
 * struct sock): the send sequence and the send buffer's room. */
struct tcp_sock___ofl {
	__u32 write_seq;
} __attribute__((preserve_access_index));

struct sock___ofl {
	int sk_sndbuf;
	int sk_wmem_queued;
} __attribute__((preserve_access_index));

/* The head just passed (not held back) is followed by a Content-Length
 * body of body bytes, then by the next head: for a large body, ask TC
 * egress to take the socket out of the SK_MSG path (pf_ofl_egress) --
 * the kernel then sends the body (sendfile) without copying it into a
 * message. */
static __always_inline void pf_ofl_want_detach(struct pf_ofl_sk *st, __u64 body)
{
	if (body < PF_OFL_DETACH_MIN || st->corked || st->out_state != PF_OFL_OUT_BODY ||
	    st->out_after != PF_OFL_OUT_HEAD)
		return;
	bpf_spin_lock(&st->lock);
	st->s.detach_req = 1;
	bpf_spin_unlock(&st->lock);
	if (bpf_map_update_elem(&pf_ofl_leave, &st->key, &st->cookie, BPF_ANY)) {
		bpf_spin_lock(&st->lock);
		st->s.detach_req = 0;
		bpf_spin_unlock(&st->lock);
	}
}

/* The unit at hand is no longer held back (it is complete, or passes). */
static __always_inline void pf_ofl_unhold(struct pf_ofl_sk *st)
{
	if (!st->corked)
		return;
	st->corked = 0;
	bpf_map_delete_elem(&pf_ofl_held, &st->cookie);
}

/* Stop following this connection's responses (everything passes). */
static __always_inline int pf_ofl_out_pass(struct sk_msg_md *msg, struct pf_ofl_sk *st,
					   __u32 stat)
{
	pf_ofl_unhold(st);
	st->out_state = PF_OFL_OUT_PASS;
	bpf_msg_apply_bytes(msg, 0xffffffff);
	if (stat)
		pf_count(stat);
	return SK_PASS;
}

/* Copy the first min(size, PF_REQ_MAX) bytes of the message into
 * sc->buf. Returns their number, or -1. */
static __always_inline int pf_ofl_msg_load(struct sk_msg_md *msg, struct pf_ofl_scratch *sc)
{
	__u64 n = msg->size;
	void *d, *de;

	if (n > PF_REQ_MAX)
		n = PF_REQ_MAX;
	/* Verifier workaround: one 64-bit register for test and use (see
	 * pf_load_req) */
	barrier_var(n);
	if (n == 0 || n > PF_REQ_MAX)
		return -1;
	d = (void *)(long)msg->data;
	de = (void *)(long)msg->data_end;
	if (d + n > de) {
		if (bpf_msg_pull_data(msg, 0, n, 0))
			return -1;
		d = (void *)(long)msg->data;
		de = (void *)(long)msg->data_end;
		if (d + n > de)
			return -1;
	}
	if (bpf_probe_read_kernel(sc->buf, n, d))
		return -1;
	return (int)n;
}

/* The unit at the start of the message (a head, chunk-size line or
 * trailer) does not end within its n bytes: hold the message until the
 * app writes more (bpf_msg_cork_bytes), at most PF_OFL_CORK_MAX times.
 * Nothing is pushed meanwhile, so write_seq stays at the unit; a cork the
 * kernel does not honour (a full message) sends the bytes, and the next
 * run finds write_seq past the unit (PF_STAT_OFL_MISSED). */
static __always_inline int pf_ofl_cork(struct sk_msg_md *msg, struct pf_ofl_sk *st, __u32 n)
{
	if (n < msg->size || st->corked >= PF_OFL_CORK_MAX)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
	if (st->s.detached)
		/* out of the map (the rest of the write that took it out): the
		 * psock, and what it holds, is freed when this write ends */
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_DETACH_FAILED);
	/* detach must know that this socket holds bytes (pf_ofl_held) */
	if (!st->corked && bpf_map_update_elem(&pf_ofl_held, &st->cookie, &st->key, BPF_ANY))
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_HELD_FULL);
	st->corked++;
	bpf_msg_cork_bytes(msg, msg->size + 1);
	pf_count(PF_STAT_OFL_HEAD_CORKED);
	return SK_PASS;
}

/* Is there room to push len bytes at once? A push that fails half way
 * tells the app (tcp_bpf_send_verdict: copied -= what was not sent) a
 * count that is only right for bytes we did not resize: an edited head is
 * pushed alone, and only when the send buffer surely takes it. */
static __always_inline int pf_ofl_room(struct tcp_sock___ofl *tp, __u32 len)
{
	struct sock___ofl *sk = (struct sock___ofl *)tp;
	__s64 room = (__s64)sk->sk_sndbuf - sk->sk_wmem_queued;

	return room >= 2 * (__s64)len + 16384;
}

/* The unit at cur is len bytes long (rewritten, with its body); then
 * comes what after says. The verdict covers the len bytes
 * (bpf_msg_apply_bytes). A window beyond this message lets the app's
 * next writes up to the next unit (a small sendfile body) pass without
 * running the program again -- one run per JSON response instead of two.
 * But a push that fails half way (EAGAIN on a full send buffer of a
 * non-blocking socket: routine for a large sendfile body) leaves the
 * kernel's window unconsumed by the bytes it did send, so it would reach
 * into the next head, which would then go out unseen (its lines lost, the
 * connection passed: PF_STAT_OFL_MISSED). So the window reaches past this
 * message only when the send buffer surely takes all len bytes at once
 * (pf_ofl_room, as for an edited head) and the body is below
 * PF_OFL_DETACH_MIN (larger ones leave the SK_MSG path, or run the
 * program per write as before). */
static __always_inline int pf_ofl_advance(struct sk_msg_md *msg, struct pf_ofl_sk *st,
					  struct tcp_sock___ofl *tp, __u32 cur, __u64 len,
					  __u32 after)
{
	pf_ofl_unhold(st);
	if (after == PF_OFL_OUT_PASS)
		return pf_ofl_out_pass(msg, st, 0);
	if (len >= (1ULL << 30))
		/* a body of a GiB or more: beyond unambiguous seq compares */
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_STREAM);
	st->out_seq = cur + (__u32)len;
	st->out_after = (__u8)after;
	st->out_state = PF_OFL_OUT_BODY;
	if (len < msg->size) {
		/* the next unit starts in this message: the kernel runs the
		 * program again on the rest once len bytes are pushed */
		bpf_msg_apply_bytes(msg, (__u32)len);
		st->out_state = (__u8)after;
	} else if (len > msg->size && len < PF_OFL_DETACH_MIN && pf_ofl_room(tp, (__u32)len)) {
		bpf_msg_apply_bytes(msg, (__u32)len);
		pf_count(PF_STAT_OFL_WINDOW);
	}
	return SK_PASS;
}

/* Scan the response head in sc->buf (a global function: verified once). */
__noinline int pf_ofl_scan(struct pf_ofl_scratch *sc, __u32 n)
{
	if (!sc)
		return PF_RH_BAD;
	return pf_rhead_scan(sc->buf, n, &sc->h);
}

/* Plan the edit of the head in sc->h for the entry in sc->e. */
__noinline int pf_ofl_plan_g(struct pf_ofl_scratch *sc)
{
	const struct pf_ofl_rule *orule;

	if (!sc)
		return -1;
	orule = pf_ofl_rule_lookup((sc->e.slot & (PF_SLOTS - 1)) * PF_MAX_RULES +
				   (sc->e.rule & (PF_MAX_RULES - 1)));
	return pf_ofl_plan(sc->buf, &sc->h, &sc->e, orule, &sc->pl);
}

/* Copy len bytes to sc->out at d: of the lines to insert (from_ins) or
 * of the head in sc->buf at s, 8 bytes a step -- so up to 7 bytes after
 * d + len are overwritten too (by the next piece's bytes later, or in
 * the slack). A global function: verified once, called per piece. */
__noinline int pf_ofl_piece(struct pf_ofl_scratch *sc, __u32 d, __u32 from_ins, __u32 s,
			    __u32 len)
{
	__u32 k, i;
	__u64 w;

	if (!sc || len > PF_REQ_MAX || s > PF_REQ_MAX || d + len > PF_OFL_OUT ||
	    (from_ins && s + len > PF_RESP_MAX))
		return -1;
	for (k = 0; k < PF_REQ_MAX / 8; k++) {
		i = 8 * k;
		if (i >= len)
			break;
		if (from_ins)
			w = pf_ld64(sc->pl.ins + ((s + i) & (PF_RESP_MAX - 1)));
		else
			w = pf_ld64(sc->buf + PF_M(s + i));
		pf_st64(sc->out + ((d + i) & (PF_OFL_OUT - 1)), w);
	}
	return 0;
}

/* Build the edited head in sc->out the way pf_user_ofl_apply does
 * (user/ofl_match.c, the unit tier's reference): the status line, the
 * lines of sc->pl, the rest of the head sc->h without the lines planned
 * out (sc->pl.pop: descending offsets, all after the status line).
 * Returns its length, or -1. */
static __always_inline int pf_ofl_compose(struct pf_ofl_scratch *sc)
{
	__u32 cur = sc->h.status_end, end = sc->h.len, d, i, k;
	struct pf_slice sl;

	if (sc->pl.ins_at != cur || cur > end || pf_ofl_piece(sc, 0, 0, 0, cur) ||
	    pf_ofl_piece(sc, cur, 1, 0, sc->pl.ins_len))
		return -1;
	d = cur + sc->pl.ins_len;
	for (i = 0; i < PF_OFL_POP_MAX; i++) {
		if (i >= sc->pl.n_pop)
			break;
		k = sc->pl.n_pop - 1 - i;
		sl = sc->pl.pop[k & (PF_OFL_POP_MAX - 1)];
		if (sl.off < cur || sl.off + sl.len > end ||
		    pf_ofl_piece(sc, d, 0, cur, sl.off - cur))
			return -1;
		d += sl.off - cur;
		cur = sl.off + sl.len;
	}
	if (pf_ofl_piece(sc, d, 0, cur, end - cur))
		return -1;
	return (int)(d + end - cur);
}

/* Write the len bytes of sc->out into the message at 0 (just pushed): 8
 * bytes a step, then the rest (a byte a step was a third of the edit's
 * time). */
__noinline int pf_ofl_write(struct sk_msg_md *msg, struct pf_ofl_scratch *sc, __u32 len)
{
	__u32 i, j, w;
	__u8 *d, *de;

	if (!msg || !sc || len > PF_OFL_OUT)
		return -1;
	if (bpf_msg_pull_data(msg, 0, len, 0))
		return -1;
	d = (void *)(long)msg->data;
	de = (void *)(long)msg->data_end;
	w = len / 8;
	for (i = 0; i < PF_OFL_OUT / 8; i++) {
		if (i >= w)
			break;
		if (d + 8 > de)
			return -1;
		*(__u64 *)d = *(const __u64 *)(sc->out + 8 * (i & (PF_OFL_OUT / 8 - 1)));
		d += 8;
	}
	for (j = 0; j < 8; j++) {
		i = 8 * w + j;
		if (i >= len)
			break;
		if (d + 1 > de)
			return -1;
		/* Verifier workaround: clang drops the mask as redundant
		 * ("R5 max value is outside of the allowed memory range") */
		barrier_var(i);
		*d++ = sc->out[i & (PF_OFL_OUT - 1)];
	}
	return 0;
}

/* Replace the head (sc->h.len bytes at the start of the message) by the
 * edited one planned in sc->pl, as one piece: the new head is pushed in
 * front (a scatterlist element of its own: a push at an element's start
 * splits nothing) and written, then the old one is popped off the front
 * of what follows (no copy). One element means one segment under
 * TCP_NODELAY -- the push inside the head split it into three, and
 * pulling them back into one cost a page and a copy per response. Returns
 * 0 with the new head's length in *hlen, -1 if nothing was changed, -2 if
 * the message must not be sent. */
static __always_inline int pf_ofl_edit(struct sk_msg_md *msg, struct pf_ofl_scratch *sc,
				       __u32 *hlen)
{
	int len = pf_ofl_compose(sc);

	if (len <= 0)
		return -1;
	if (bpf_msg_push_data(msg, 0, len, 0))
		return -1;
	if (pf_ofl_write(msg, sc, len) || bpf_msg_pop_data(msg, len, sc->h.len, 0)) {
		/* never send the new page's old contents, nor two heads */
		if (bpf_msg_pop_data(msg, 0, len, 0))
			return -2;
		return -1;
	}
	*hlen = (__u32)len;
	return 0;
}

/* A final or interim response head at cur, n bytes of the message at hand. */
static __always_inline int pf_ofl_head(struct sk_msg_md *msg, struct pf_ofl_sk *st,
				       struct pf_ofl_scratch *sc, struct tcp_sock___ofl *tp,
				       __u32 cur, __u32 n)
{
	__u32 status, after = PF_OFL_OUT_HEAD, edited = 0, stat, hlen;
	__u64 body = 0;
	int res;

	res = pf_ofl_scan(sc, n);
	if (res == PF_RH_INCOMPLETE)
		return pf_ofl_cork(msg, st, n);
	if (res != PF_RH_OK)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
	status = sc->h.status;
	if (status < 200) {
		if (status == 101)
			return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_STREAM);
		pf_count(PF_STAT_OFL_RESP_INTERIM);
		return pf_ofl_advance(msg, st, tp, cur, sc->h.len, PF_OFL_OUT_HEAD);
	}
	/* the oldest request still waiting is the one this answers */
	bpf_spin_lock(&st->lock);
	if (st->s.n_resp == st->s.n_req) {
		bpf_spin_unlock(&st->lock);
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_NO_REQUEST);
	}
	sc->e = st->s.q[st->s.n_resp & (PF_OFL_FIFO - 1)];
	st->s.n_resp++;
	bpf_spin_unlock(&st->lock);
	/* the body's length (RFC 9112 6.3) */
	if ((sc->e.flags & PF_OFL_E_HEAD) || status == 204 || status == 304)
		body = 0;
	else if (sc->h.te == PF_RH_TE_CHUNKED)
		after = PF_OFL_OUT_CHUNK;
	else if (sc->h.te == PF_RH_TE_OTHER || !sc->h.has_clen)
		after = PF_OFL_OUT_PASS; /* delimited by the connection's close */
	else
		body = sc->h.clen;
	if (sc->e.flags & PF_OFL_E_UPGRADE)
		after = PF_OFL_OUT_PASS; /* a tunnel or another protocol may follow */
	stat = PF_STAT_OFL_RESP_UNCOVERED;
	hlen = sc->h.len;
	if (sc->e.kind != PF_OFL_NONE) {
		if (pf_ofl_plan_g(sc)) {
			stat = PF_STAT_OFL_EDIT_FAILED;
		} else if (!sc->pl.ins_len && !sc->pl.n_pop) {
			stat = PF_STAT_OFL_RESP_EDITED; /* keep: all there already */
		} else if (!pf_ofl_room(tp, sc->h.len + sc->pl.ins_len)) {
			stat = PF_STAT_OFL_NO_ROOM;
		} else {
			res = pf_ofl_edit(msg, sc, &hlen);
			if (res == -2)
				return SK_DROP; /* unreachable: see pf_ofl_edit */
			edited = !res;
			stat = res ? PF_STAT_OFL_EDIT_FAILED : PF_STAT_OFL_RESP_EDITED;
		}
	}
	pf_count(stat);
	if (after == PF_OFL_OUT_PASS)
		pf_count(PF_STAT_OFL_RESP_STREAM);
	if (edited && hlen < msg->size) {
		/* the new head is an element of its own: joined with the byte
		 * after it, the push sends the head with MSG_MORE and the
		 * bytes behind it (the body of the same write) share its
		 * segment, as before the head was built whole (that pull
		 * copied the same element). A failure only costs a segment. */
		bpf_msg_pull_data(msg, 0, hlen + 1, 0);
		if (after != PF_OFL_OUT_PASS) {
			/* the rewritten head goes out alone (see pf_ofl_room);
			 * the body behind it is then this head's BODY */
			pf_ofl_unhold(st);
			st->out_seq = cur + hlen + (__u32)body;
			st->out_after = (__u8)after;
			st->out_state = PF_OFL_OUT_BODY;
			if (body >= (1ULL << 30))
				return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_STREAM);
			bpf_msg_apply_bytes(msg, hlen);
			pf_ofl_want_detach(st, body);
			return SK_PASS;
		}
	}
	res = pf_ofl_advance(msg, st, tp, cur, (__u64)hlen + body, after);
	pf_ofl_want_detach(st, body);
	return res;
}

/* The chunk-size line of a chunked body at the start of the message. */
__noinline int pf_ofl_chunk_g(struct pf_ofl_scratch *sc, __u32 n, __u64 *size)
{
	if (!sc || !size)
		return -1;
	return pf_ofl_chunk_line(sc->buf, n, &sc->cs, size);
}

/* The trailer section after the last chunk. */
__noinline int pf_ofl_trailer_g(struct pf_ofl_scratch *sc, __u32 n)
{
	if (!sc)
		return -1;
	return pf_ofl_trailer(sc->buf, n, &sc->cs);
}

/* The unit at cur (the start of the message) in state st->out_state. */
static __always_inline int pf_ofl_unit(struct sk_msg_md *msg, struct pf_ofl_sk *st,
				       struct pf_ofl_scratch *sc, struct tcp_sock___ofl *tp,
				       __u32 cur)
{
	__u64 size = 0;
	int n, len;

	n = pf_ofl_msg_load(msg, sc);
	if (n <= 0)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_EDIT_FAILED);
	if (st->out_state == PF_OFL_OUT_HEAD)
		return pf_ofl_head(msg, st, sc, tp, cur, (__u32)n);
	if (st->out_state == PF_OFL_OUT_CHUNK) {
		len = pf_ofl_chunk_g(sc, (__u32)n, &size);
		if (len == 0)
			return pf_ofl_cork(msg, st, (__u32)n);
		if (len < 0)
			return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
		if (size == 0)
			return pf_ofl_advance(msg, st, tp, cur, (__u32)len, PF_OFL_OUT_TRAILER);
		return pf_ofl_advance(msg, st, tp, cur, (__u64)len + size + 2, PF_OFL_OUT_CHUNK);
	}
	len = pf_ofl_trailer_g(sc, (__u32)n);
	if (len == 0)
		return pf_ofl_cork(msg, st, (__u32)n);
	if (len < 0)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
	return pf_ofl_advance(msg, st, tp, cur, (__u32)len, PF_OFL_OUT_HEAD);
}

SEC("sk_msg")
int pf_ofl_msg(struct sk_msg_md *msg)
{
	struct tcp_sock___ofl *tp;
	struct pf_ofl_scratch *sc;
	struct bpf_sock *sk;
	struct pf_ofl_sk *st;
	__u32 cur, rem;
	int ret;

	/* no stale window or cork (see the top) */
	bpf_msg_apply_bytes(msg, 0);
	bpf_msg_cork_bytes(msg, 0);
	sk = msg->sk;
	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	if (!st)
		return SK_PASS;
	if (st->out_state == PF_OFL_OUT_PASS) {
		bpf_msg_apply_bytes(msg, 0xffffffff);
		return SK_PASS;
	}
	tp = (struct tcp_sock___ofl *)bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_EDIT_FAILED);
	/* where this message's first byte goes in the stream: bytes a
	 * failed push gave back to the app are written again from here */
	cur = tp->write_seq;
	if (!st->seq_ok) {
		st->out_seq = cur;
		st->seq_ok = 1;
	}
	if (st->out_state == PF_OFL_OUT_BODY) {
		if (pf_ofl_before(cur, st->out_seq)) {
			rem = st->out_seq - cur;
			if (rem >= msg->size)
				return SK_PASS; /* all body */
			bpf_msg_apply_bytes(msg, rem);
			st->out_state = st->out_after; /* the rest is run again */
			return SK_PASS;
		}
		st->out_state = st->out_after;
	}
	if (cur != st->out_seq)
		/* bytes went by unseen: a cork the kernel did not honour, or
		 * a window a failed push left behind */
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_MISSED);
	if (pf_ofl_stopped())
		/* being detached: never hold bytes back (and a head held
		 * before goes out unchanged now) */
		return pf_ofl_out_pass(msg, st, 0);
	sc = pf_ofl_scratch_get(PF_OFL_SCR_MSG);
	if (!sc)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_EDIT_FAILED);
	if (sc->busy)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_BUSY);
	sc->busy = 1;
	ret = pf_ofl_unit(msg, st, sc, tp, cur);
	sc->busy = 0;
	return ret;
}

/* ================================================================
 * TC egress: a socket leaves the SK_MSG path for a large body
 * ================================================================ */

/* Called by pf_tc_egress for each server segment (socket sequence
 * space). A socket whose SK_MSG program asked for it (pf_ofl_leave)
 * leaves pf_ofl_socks; the recorder puts it back at its next request
 * (pf_ofl_readd). Only when that is safe:
 * - no request is waiting for its response (n_req == n_resp, under the
 *   lock the recorder takes): a pipelined request recorded meanwhile
 *   keeps the socket in, or its response would go out unseen;
 * - nothing is held back (corked, pf_ofl_held): the kernel frees held
 *   bytes with the psock. TC egress of the socket's own segments runs
 *   where its SK_MSG program cannot (the socket is locked: its sender's
 *   transmit, or softirq/timers that defer while the socket is owned),
 *   and the program never corks once the socket is out (pf_ofl_cork).
 * The psock (and the kernel's copying of sendfile pages) goes when the
 * write that sent the head ends; a failed delete leaves the socket in
 * (the recorder then finds it there). */
static __always_inline void pf_ofl_egress(struct __sk_buff *skb, const struct pf_pkt *p)
{
	struct pf_ofl_sk *st;
	struct bpf_sock *sk;
	__u64 *ck, cookie;
	__u32 ok = 0;

	if (!pf_cfg.ofl_on || !p->pay_len)
		return;
	ck = bpf_map_lookup_elem(&pf_ofl_leave, &p->key);
	if (!ck)
		return;
	cookie = *ck;
	bpf_map_delete_elem(&pf_ofl_leave, &p->key);
	sk = pf_sk_lookup(skb, p);
	if (!sk)
		return;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	bpf_sk_release(sk);
	if (!st || st->cookie != cookie)
		return;
	if (!st->corked && !bpf_map_lookup_elem(&pf_ofl_held, &cookie)) {
		bpf_spin_lock(&st->lock);
		if (st->s.detach_req && !st->s.detached && st->s.n_req == st->s.n_resp) {
			st->s.detached = 1;
			ok = 1;
		}
		st->s.detach_req = 0;
		bpf_spin_unlock(&st->lock);
	}
	if (!ok)
		return;
	if (bpf_map_delete_elem(&pf_ofl_socks, &cookie))
		pf_count(PF_STAT_OFL_DETACH_FAILED);
	else
		pf_count(PF_STAT_OFL_DETACHED);
}

/* ================================================================
 * Shadow mode: reading the app's responses at TC egress
 * ================================================================ */

/* The tail call at the end of pf_tc_egress (shadow mode only). */
static __always_inline void pf_shd_egress_hook(struct __sk_buff *skb)
{
	if (pf_cfg.shadow)
		bpf_tail_call(skb, &pf_ofl_tail, PF_OFL_TAIL_SHD);
}

/* Stop reading this connection's responses. */
static __always_inline void pf_shd_stop(struct pf_ofl_sk *st, __u32 stat)
{
	st->out_state = PF_OFL_OUT_PASS;
	if (stat)
		pf_count(stat);
}

/* The final or interim response head at `at` (n bytes at hand in sc->buf):
 * pair it with its request and ship it. Returns the next unit's offset
 * from at, or 0 to stop. */
static __always_inline __u64 pf_shd_head(struct pf_ofl_sk *st, struct pf_ofl_scratch *sc,
					 const struct pf_pkt *p, __u32 n, __u32 *after)
{
	__u32 status, idx;
	__u64 body = 0;
	int res;

	*after = PF_OFL_OUT_HEAD;
	res = pf_ofl_scan(sc, n);
	if (res != PF_RH_OK) {
		/* a head split over segments cannot be read here */
		pf_shd_stop(st, PF_STAT_OFL_RESP_BAD);
		return 0;
	}
	status = sc->h.status;
	if (status < 200) {
		if (status == 101) {
			pf_shd_stop(st, PF_STAT_OFL_RESP_STREAM);
			return 0;
		}
		pf_count(PF_STAT_OFL_RESP_INTERIM);
		return sc->h.len;
	}
	bpf_spin_lock(&st->lock);
	if (st->s.n_resp == st->s.n_req) {
		bpf_spin_unlock(&st->lock);
		pf_shd_stop(st, PF_STAT_OFL_NO_REQUEST);
		return 0;
	}
	sc->e = st->s.q[st->s.n_resp & (PF_OFL_FIFO - 1)];
	idx = st->s.n_resp++;
	bpf_spin_unlock(&st->lock);
	pf_shd_submit(&p->key, idx, PF_SHD_RESP, sc->h.len, sc);
	pf_count(PF_STAT_SHD_READ);
	if ((sc->e.flags & PF_OFL_E_HEAD) || status == 204 || status == 304)
		body = 0;
	else if (sc->h.te == PF_RH_TE_CHUNKED)
		*after = PF_OFL_OUT_CHUNK;
	else if (sc->h.te == PF_RH_TE_OTHER || !sc->h.has_clen || (sc->e.flags & PF_OFL_E_UPGRADE))
		*after = PF_OFL_OUT_PASS;
	else
		body = sc->h.clen;
	if (body >= (1ULL << 30))
		*after = PF_OFL_OUT_PASS;
	return sc->h.len + body;
}

/* Follow the response framing of a server segment [S, E) (wire
 * sequence space; nothing is spliced in shadow mode) and read each head
 * that starts in it. State: the SK_MSG fields of struct pf_ofl_sk, which
 * no SK_MSG program uses in shadow mode. */
static __always_inline void pf_shd_follow(struct __sk_buff *skb, const struct pf_pkt *p,
					  struct pf_ofl_sk *st, struct pf_ofl_scratch *sc)
{
	__u32 S = p->seq, E = p->seq + p->pay_len, at, n, k, after = 0;
	__u64 len, size = 0;
	int l;

	if (!st->seq_ok) {
		st->out_seq = S;
		st->seq_ok = 1;
	}
	for (k = 0; k < 8; k++) {
		if (st->out_state == PF_OFL_OUT_PASS)
			return;
		at = st->out_seq;
		if (!pf_ofl_before(at, E))
			return; /* the unit (or the body's end) lies further on */
		if (pf_ofl_before(at, S)) {
			/* it started in a segment not seen */
			pf_shd_stop(st, PF_STAT_OFL_MISSED);
			return;
		}
		if (st->out_state == PF_OFL_OUT_BODY) {
			st->out_state = st->out_after;
			continue;
		}
		n = E - at < PF_REQ_MAX ? E - at : PF_REQ_MAX;
		if (pf_ofl_load(skb, p->pay_off + (at - S), n, sc)) {
			pf_shd_stop(st, PF_STAT_OFL_EDIT_FAILED);
			return;
		}
		if (st->out_state == PF_OFL_OUT_HEAD) {
			len = pf_shd_head(st, sc, p, n, &after);
			if (!len)
				return;
		} else if (st->out_state == PF_OFL_OUT_CHUNK) {
			l = pf_ofl_chunk_g(sc, n, &size);
			if (l <= 0) {
				pf_shd_stop(st, PF_STAT_OFL_RESP_BAD);
				return;
			}
			after = size ? PF_OFL_OUT_CHUNK : PF_OFL_OUT_TRAILER;
			len = size ? (__u64)l + size + 2 : (__u64)l;
		} else {
			l = pf_ofl_trailer_g(sc, n);
			if (l <= 0) {
				pf_shd_stop(st, PF_STAT_OFL_RESP_BAD);
				return;
			}
			after = PF_OFL_OUT_HEAD;
			len = (__u64)l;
		}
		if (after == PF_OFL_OUT_PASS || len >= (1ULL << 30)) {
			pf_shd_stop(st, PF_STAT_OFL_RESP_STREAM);
			return;
		}
		st->out_seq = at + (__u32)len;
		st->out_after = (__u8)after;
		st->out_state = PF_OFL_OUT_BODY;
	}
}

SEC("tc")
int pf_shd_tc_out(struct __sk_buff *skb)
{
	struct pf_ofl_scratch *sc;
	struct pf_ofl_sk *st;
	struct bpf_sock *sk;
	struct pf_pkt p;

	if (!pf_cfg.shadow || skb->mark == PF_MARK)
		return TC_ACT_UNSPEC;
	if (pf_parse_pkt(skb, false, &p, PF_DIR_OUT) || !p.pay_len)
		return TC_ACT_UNSPEC;
	sk = pf_sk_lookup(skb, &p);
	if (!sk)
		return TC_ACT_UNSPEC;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	bpf_sk_release(sk);
	sc = pf_ofl_scratch_get(PF_OFL_SCR_TC);
	if (st && sc)
		pf_shd_follow(skb, &p, st, sc);
	return TC_ACT_UNSPEC;
}

#endif /* PF_BPF_OFFLOAD_H */
