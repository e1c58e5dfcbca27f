/* BPF only (TC egress): shadow mode reads the app's responses (pf_shd_tc, tail-called by pf_tc_egress) and hands their heads to the daemon. */
#ifndef PF_BPF_OFL_SHADOW_H
#define PF_BPF_OFL_SHADOW_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_ofl_maps.h"
#include "pf_ofl_read.h"
#include "pf_pkt.h"
#include "pf_sock.h"

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

/* Units (heads, chunk-size lines, trailers) read per segment at most: a
 * GSO skb of a chunked body holds one per chunk, and a unit beyond this
 * ends the reading of the connection (ofl_missed at its next segment).
 * A unit takes one turn (a body that ends inside the segment takes none).
 * One turn a bpf_loop callback (pf_shd_turn_cb): the verifier walks it
 * until its states repeat, whatever the number of turns (247,091
 * processed insns at 16 and at 64); as an unrolled loop each turn was
 * verified anew (520,293 and 5.6 s of verification at 16 turns on the
 * machine of the time, 1,000,000 the limit), which held it at 16. A turn
 * runs only for a unit the segment holds. */
#define PF_SHD_TURNS 64

/* What pf_shd_turn_cb needs of pf_shd_follow's frame. */
struct pf_shd_turn {
	struct __sk_buff *skb;
	const struct pf_pkt *p;
	struct pf_ofl_sk *st;
	struct pf_ofl_scratch *sc;
};

/* One turn of pf_shd_follow: the unit at st->out_seq, if it starts in
 * the segment. Returns 0 to take the next turn, 1 to stop. */
PF_CALLBACK long pf_shd_turn_cb(__u32 idx, void *ctx)
{
	struct pf_shd_turn *t = ctx;
	const struct pf_pkt *p = t->p;
	struct pf_ofl_scratch *sc = t->sc;
	struct pf_ofl_sk *st = t->st;
	__u32 S = p->seq, E = p->seq + p->pay_len, at, n, after = 0;
	__u64 len, size = 0;
	int l;

	(void)idx;
	if (st->out_state == PF_OFL_OUT_PASS)
		return 1;
	at = st->out_seq;
	if (!pf_ofl_before(at, E))
		return 1; /* the unit (or the body's end) lies further on */
	if (pf_ofl_before(at, S)) {
		/* it started in a segment not seen */
		pf_shd_stop(st, PF_STAT_OFL_MISSED);
		return 1;
	}
	if (st->out_state == PF_OFL_OUT_BODY) {
		st->out_state = st->out_after;
		return 0;
	}
	n = E - at < PF_RHEAD_MAX ? E - at : PF_RHEAD_MAX;
	if (pf_ofl_load(t->skb, p->pay_off + (at - S), n, sc)) {
		pf_shd_stop(st, PF_STAT_OFL_EDIT_FAILED);
		return 1;
	}
	if (st->out_state == PF_OFL_OUT_HEAD) {
		len = pf_shd_head(st, sc, p, n, &after);
		if (!len)
			return 1;
	} else if (st->out_state == PF_OFL_OUT_CHUNK) {
		l = pf_ofl_chunk_g(sc, n, &size);
		if (l <= 0) {
			pf_shd_stop(st, PF_STAT_OFL_RESP_BAD);
			return 1;
		}
		after = size ? PF_OFL_OUT_CHUNK : PF_OFL_OUT_TRAILER;
		len = size ? (__u64)l + size + 2 : (__u64)l;
	} else {
		l = pf_ofl_trailer_g(sc, n);
		if (l <= 0) {
			pf_shd_stop(st, PF_STAT_OFL_RESP_BAD);
			return 1;
		}
		after = PF_OFL_OUT_HEAD;
		len = (__u64)l;
	}
	if (after == PF_OFL_OUT_PASS || len >= (1ULL << 30)) {
		pf_shd_stop(st, PF_STAT_OFL_RESP_STREAM);
		return 1;
	}
	st->out_seq = at + (__u32)len;
	st->out_after = (__u8)after;
	/* the next unit in this segment: no turn spent on the body */
	st->out_state = pf_ofl_before(at + (__u32)len, E) ? (__u8)after : PF_OFL_OUT_BODY;
	return 0;
}

/* Follow the response framing of a server segment [S, E) (wire
 * sequence space; nothing is spliced in shadow mode) and read each head
 * that starts in it. State: the SK_MSG fields of struct pf_ofl_sk, which
 * no SK_MSG program uses in shadow mode. */
static __always_inline void pf_shd_follow(struct __sk_buff *skb, const struct pf_pkt *p,
					  struct pf_ofl_sk *st, struct pf_ofl_scratch *sc)
{
	struct pf_shd_turn t = { .skb = skb, .p = p, .st = st, .sc = sc };

	if (!st->seq_ok) {
		st->out_seq = p->seq;
		st->seq_ok = 1;
	}
	bpf_loop(PF_SHD_TURNS, pf_shd_turn_cb, &t, 0);
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

#endif /* PF_BPF_OFL_SHADOW_H */
