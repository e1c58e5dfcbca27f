/* BPF only (TC and XDP ingress): the answer path -- recognise, decide, guard, commit and answer a preflight inside a live connection. */
/*
 * pf_answer.h -- the answer path. pf_try_answer() recognises a preflight,
 * decides it (pf_decide: include/pf_http.h, pf_match.h, pf_resp.h), checks
 * that the connection can take a splice (socket guards, pf_sock.h),
 * records the correction in the flow table (pf_commit) and has the packet
 * rewritten into the response (pf_send, pf_emit.h). A retransmitted
 * request is answered again (pf_reanswer); one only the daemon can decide
 * is handed to it (pf_punt_req). Any doubt: the request goes to the app,
 * counted.
 */
#ifndef PF_ANSWER_H
#define PF_ANSWER_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_csum.h"
#include "pf_ctx.h"
#include "pf_emit.h"
#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_sock.h"
#include "pf_tcp.h"
#include "pf_test.h"

/* Map a parse result to its counter. */
static __always_inline __u32 pf_parse_stat(int res)
{
	switch (res) {
	case PF_P_NOT_OPTIONS:   return PF_STAT_PASS_NOT_OPTIONS;
	case PF_P_PLAIN_OPTIONS: return PF_STAT_PASS_PLAIN_OPTIONS;
	case PF_P_INCOMPLETE:    return PF_STAT_PASS_INCOMPLETE;
	case PF_P_TOO_LONG:      return PF_STAT_PASS_TOO_LONG;
	case PF_P_VERSION:       return PF_STAT_PASS_HTTP_VERSION;
	case PF_P_CONN_CLOSE:    return PF_STAT_PASS_CONN_CLOSE;
	case PF_P_BODY:          return PF_STAT_PASS_BODY;
	case PF_P_DUP:           return PF_STAT_PASS_DUP_HEADER;
	case PF_P_OBS_FOLD:      return PF_STAT_PASS_OBS_FOLD;
	case PF_P_PIPELINED:     return PF_STAT_PASS_PIPELINED;
	default:                 return PF_STAT_PASS_BAD_REQUEST;
	}
}

/* TC: make the skb private and linear before its request is copied,
 * when the first need bytes are not all in the linear part. A local TCP
 * sender's segment over a veth is a clone (the sender keeps the original
 * for retransmission) with its payload in page fragments: answered, the
 * response is written into it and bpf_skb_change_tail would make it
 * private and linear anyway (pf_emit_body); pulled first, the copy below
 * reads linear memory instead of walking the fragments, and the resize
 * only trims. A request that is passed instead stays linear (the same
 * bytes). Returns 0 or -1 (the skb is unchanged then). */
static __always_inline int pf_tc_pull(void *ctx, __u64 need)
{
	struct __sk_buff *skb = ctx;

	/* the linear length: a pointer minus a pointer is an unknown
	 * scalar to the verifier (privileged loads), the value is exact */
	if ((__u64)skb->data_end - skb->data >= need)
		return 0;
	/* the whole skb: a length of 0 would pull only the linear part */
	return bpf_skb_pull_data(skb, skb->len) ? -1 : 0;
}

/* Copy n payload bytes into s->req (summed in the copy when read in
 * place: s->req_sum, pf_copy_sum). Returns 0 or a stat. */
static __always_inline int pf_load_req(void *ctx, bool xdp, const struct pf_pkt *p,
				       struct pf_scratch *s, __u32 n)
{
	__u64 plen = n;

	/* Verifier workaround: with a 32-bit length clang 14 tests a
	 * zero-extended copy and passes the unchecked register to the helper
	 * ("R3 min value is outside of the allowed memory range"); a 64-bit
	 * length pinned by a barrier keeps test and use on one register. */
	barrier_var(plen);
	s->head_n = 0; /* s->req is rewritten (see struct pf_scratch) */
	if (plen > PF_ANSWER_MAX)
		return PF_STAT_PASS_TOO_LONG;
	if (plen == 0)
		return PF_STAT_PASS_NOT_OPTIONS;
	if (!xdp && pf_tc_pull(ctx, p->pay_off + plen))
		return PF_STAT_PASS_ERROR;
	if (!pf_copy_sum(ctx, xdp, p->pay_off, s, plen))
		return 0;
	if (pf_load(ctx, xdp, p->pay_off, s->req, plen))
		return PF_STAT_PASS_ERROR;
	return 0;
}

/* Decide the n-byte request in s->req. Returns 0 with s->r/s->m filled
 * and the response in s->resp (length in *rlen), or the stat explaining
 * why the app gets the request. A global function without a context
 * argument, so TC and XDP share it and the verifier checks it once
 * (keeps the programs under the 1M-insn limit). */
__noinline int pf_decide(struct pf_scratch *s, __u32 n, int *rlen)
{
	const struct pf_rule *rule;
	const char *date = 0;
	__u32 slot = pf_cfg.active_slot & (PF_SLOTS - 1);
	int res, len;

	/* pointers of a global function may be NULL as far as the verifier
	 * knows */
	if (!s || !rlen)
		return PF_STAT_PASS_ERROR;
	s->m.verdict = PF_V_NO_RULE;
	s->m.reason = PF_R_OK;
	s->m.rule = 0;
	s->head_n = 0; /* s->r is rewritten (see struct pf_scratch) */
	/* the path's flags only where pf_match looks at them */
	res = pf_parse_p(s->req, n, &s->r, pf_cfg.slot[slot].has_paths);
	if (res != PF_P_OK)
		return pf_parse_stat(res);
	pf_match(s->req, &s->r, &pf_cfg.slot[slot], slot, &s->m);
	switch (s->m.verdict) {
	case PF_V_ALLOW:
	case PF_V_REJECT:
		break;
	case PF_V_FORWARD:
		return PF_STAT_FWD_DENIED;
	case PF_V_NO_RULE:
		return PF_STAT_FWD_NO_RULE;
	default:
		/* PUNT_DAEMON: pf_try_answer asks pf_punt what to do */
		return s->m.reason == PF_R_PATH_UNNORM ? PF_STAT_PASS_PATH_UNNORM :
		       s->m.reason == PF_R_ACRH_LIMIT ? PF_STAT_PASS_ACRH_LIMIT :
		       s->m.reason == PF_R_REGEX ? PF_STAT_PUNT_DAEMON :
		       s->m.reason == PF_R_ACRH_SLOW ? PF_STAT_PUNT_DAEMON :
						   PF_STAT_PASS_ERROR;
	}
	rule = pf_rule_lookup(slot * PF_MAX_RULES + (s->m.rule & (PF_MAX_RULES - 1)));
	if (!rule)
		return PF_STAT_PASS_ERROR;
	if (pf_cfg.date_valid)
		date = pf_cfg.date[pf_cfg.date_idx & 1];
	len = pf_build_response(s->resp, s->req, &s->r, &s->m, rule, date);
	if (len <= 0)
		return PF_STAT_PASS_TOO_LONG;
	*rlen = len;
	return 0;
}

/* Keep the segment p, whose payload is in s->req, for the record
 * pf_punt_req makes next (which uses it once): its headers (p->pay_off
 * bytes) into s->punt_hdr. A segment that cannot be kept is punted all
 * the same (punt_hlen 0: the client's retransmission brings it back). */
static __always_inline void pf_punt_keep(void *ctx, bool xdp, const struct pf_pkt *p,
					 struct pf_scratch *s)
{
	__u32 n = p->pay_off;

	pf_punt_src_of(&p->key, p->family, s->punt_src);
	s->punt_hlen = 0;
	s->punt_plen = p->pay_len;
	s->punt_l4 = p->l4_off;
	if (n < ETH_HLEN + 40 || n > PF_PUNT_HDR_MAX || p->pay_len > PF_ANSWER_MAX)
		return;
	/* a VLAN tag the device took off (TC sees it in the skb, not in its
	 * bytes): handed back without it, the segment would reach the stack
	 * on the wrong device. XDP cannot tell (docs/tcp-splice.md) */
	if (!xdp && ((struct __sk_buff *)ctx)->vlan_present)
		return;
	if (!pf_load(ctx, xdp, 0, s->punt_hdr, n))
		s->punt_hlen = n;
}

/* The request in s needs the daemon (PF_R_REGEX: its origin;
 * PF_R_ACRH_SLOW: its request-header list, key in s->m.ak). Hand it over
 * through the pf_punt ring buffer and return PF_STAT_PUNT_DAEMON: the
 * caller drops the segment, and the client's retransmission finds the
 * verdict the daemon inserted into pf_tokens / pf_acrh meanwhile.
 * Returns PF_STAT_PASS_DAEMON_DOWN (the caller passes the request to the
 * app) when the daemon is not running, lags (no heartbeat for
 * PF_PUNT_WAIT_NS, a full ring buffer) or has not decided within
 * PF_PUNT_WAIT_NS of the first punt; PF_STAT_PASS_DAEMON_FAILED when the
 * daemon marked the wait failed (it could not teach the verdict);
 * PF_STAT_PASS_TOO_LONG for an origin longer than a token (it can never
 * be learned); PF_STAT_PASS_ORIGIN_BYTES for one that is not ASCII;
 * PF_STAT_PASS_PUNT_LIMIT when its client's address (s->punt_src, set by
 * pf_punt_src_of) punted PF_PUNT_SRC_MAX times this second.
 * Called only for a request of a real connection (a socket, a valid
 * checksum) that the socket guards would let us answer: nothing a
 * spoofed segment can make the daemon learn.
 * A global function (a cold path: one call per punted request), so the
 * verifier checks it once, not at both call sites in every state that
 * reaches them (inline, about 60k of pf_tc_ingress's processed
 * instructions: the programs must stay far from "BPF program is too
 * large. Processed 1000001 insn"). */
__noinline int pf_punt_req(struct pf_scratch *s)
{
	struct pf_punt_rec *rec;
	__u64 now = bpf_ktime_get_ns(), hb = pf_cfg.heartbeat_ns, h, n, v, *first, hl, pl;
	__u32 acrh;

	/* pointers of a global function may be NULL as far as the verifier
	 * knows */
	if (!s)
		return PF_STAT_PASS_ERROR;
	/* the kept segment (pf_punt_keep) is used once, whatever follows */
	hl = s->punt_hlen;
	pl = s->punt_plen;
	s->punt_hlen = 0;
	acrh = s->m.reason == PF_R_ACRH_SLOW;
	if (!hb || now - hb > PF_PUNT_WAIT_NS)
		return PF_STAT_PASS_DAEMON_DOWN;
	if (acrh) {
		n = s->m.ak.len;
		if (n == 0 || n >= PF_ACRH_SLOW_MAX)
			return PF_STAT_PASS_ACRH_LIMIT;
		/* the wait's key: a hash of the value's last PF_TOKEN_MAX
		 * bytes, its length and rule (a collision only shares a
		 * wait) */
		h = pf_hash_slice(s->req, s->r.acrh.off, n, 0) ^
		    ((n << 8 | (s->m.rule & 63)) * PF_HASH_PRIME);
	} else {
		n = s->r.origin.len;
		if (n == 0 || n > PF_TOKEN_MAX)
			return PF_STAT_PASS_TOO_LONG;
		/* before any state keyed by its hash (pf_punted, the
		 * daemon's verdict): see PF_HASH_SEED0 */
		if (!pf_ascii_buf((const struct pf_buf *)s->req, s->r.origin.off, n))
			return PF_STAT_PASS_ORIGIN_BYTES;
		h = s->m.oc.h;
	}
	first = bpf_map_lookup_elem(&pf_punted, &h);
	if (first) {
		v = *first;
		if (v & PF_PUNT_FAILED) {
			/* the daemon could not teach it: to the app -- unless
			 * the mark is from the other slot (a reload since) */
			if (((v >> PF_PUNT_SLOT_BIT) & 1) == (pf_cfg.active_slot & 1))
				return PF_STAT_PASS_DAEMON_FAILED;
			first = 0;
		} else if (pf_punt_wait_stale(v, now)) {
			/* a wait nothing clears (pf_punted): armed anew */
			first = 0;
		} else if (now - v > PF_PUNT_WAIT_NS) {
			return PF_STAT_PASS_DAEMON_DOWN;
		}
	}
	if (!pf_punt_src_ok((const struct pf_punt_src_key *)s->punt_src, now))
		return PF_STAT_PASS_PUNT_LIMIT;
	rec = pf_punt_rec_new(h, pf_cfg.active_slot, s->m.rule, n,
			      acrh ? PF_PUNT_ACRH : PF_PUNT_ORIGIN, now);
	if (!rec)
		return PF_STAT_PASS_DAEMON_DOWN;
	if (acrh)
		pf_copy(rec->data, s->m.ak.v, n & (PF_ACRH_SLOW_MAX - 1));
	else
		pf_copy(rec->data, s->req + PF_M(s->r.origin.off), n & 127);
	/* the segment itself, for the daemon's replay (pf_punt_keep).
	 * Verifier workaround: each length tested in the register the call
	 * takes it from (clang tested a copy: "R2 unbounded memory access,
	 * use 'var &= const' or 'if (var < const)'") */
	barrier_var(hl);
	barrier_var(pl);
	if (hl >= ETH_HLEN + 40 && hl <= PF_PUNT_HDR_MAX && pl && pl <= PF_ANSWER_MAX &&
	    !bpf_probe_read_kernel(rec->frame, hl, s->punt_hdr) &&
	    !bpf_probe_read_kernel(rec->frame + hl, pl, s->req)) {
		rec->frame_len = (__u16)(hl + pl);
		rec->frame_l4 = (__u16)s->punt_l4;
	}
	/* the wait before the record: submitted first, the daemon could
	 * take the record and delete the wait before it was written, and
	 * the wait would stay (pf_punted; review finding, stop 51) */
	if (!first)
		bpf_map_update_elem(&pf_punted, &h, &now, BPF_ANY);
	bpf_ringbuf_submit(rec, 0);
	return PF_STAT_PUNT_DAEMON;
}

/* A retransmission of the request we consumed last (p starts at its
 * first byte, a->c_pos: pf_at_consumed): answer it again at the same
 * position with a response of the same length. s (the scratch
 * area, or NULL) and *rlenp (pf_decide's length) are the caller's.
 * Verifier workaround: no stack object of its own -- its own map key and
 * length were two more in pf_xdp_ingress's frame (8 bytes: 312), the
 * first on its deepest call chain (pf_decide's), which stands at 512
 * bytes ("combined stack size of 5 calls is 528. Too large"). */
static __always_inline int pf_reanswer(void *ctx, bool xdp, const struct pf_pkt *p,
				       const struct pf_adj *a, struct pf_scratch *s,
				       int *rlenp)
{
	struct pf_sockinfo *si;
	__u32 ack_s;
	int rlen, ret;

	/* the request's head again, shorter (a lower path MTU, Linux
	 * re-segmented the retransmission): no copy of the request is kept,
	 * so it cannot be answered again; every retransmission of it ends
	 * here (docs/tcp-splice.md section 4) */
	if (p->pay_len < a->req_len) {
		pf_count(PF_STAT_RETX_SHORT_DROPPED);
		return PF_ANS_DROP;
	}
	/* XDP: a retransmission says our answer was probably lost, and an
	 * XDP_TX that fails (a full TX ring: a veth peer's XDP ring under
	 * load, a busy NIC) leaves no trace and no retry; re-answered from
	 * XDP, a loss can repeat until the client's backoff outlasts it.
	 * TC's answer goes through the device's queue instead -- if XDP can
	 * hand the frame over: without metadata room pf_xdp_ingress's
	 * fallback translates it, which drops the consumed request, every
	 * retransmission of it, and the client is never answered. Then it
	 * is answered again from XDP, the lesser evil. */
	if (xdp) {
		if (pf_xdp_meta_ok(ctx))
			return PF_ANS_TO_TC;
		pf_count(PF_STAT_XDP_NO_META_RETX);
	}
	/* the whole segment when it fits, to verify its checksum below (a
	 * retransmission may carry the next request's bytes too). A longer
	 * one (a GRO-merged retransmission) is re-answered from its first
	 * req_len bytes unverified: dropping it would drop every
	 * retransmission of it, a stall. */
	if (!s || pf_load_req(ctx, xdp, p, s,
			      p->pay_len <= PF_ANSWER_MAX ? p->pay_len : a->req_len))
		goto drop;
	ret = pf_decide(s, a->req_len, rlenp);
	rlen = *rlenp;
	if (ret != PF_STAT_PUNT_DAEMON && (ret || rlen != a->resp_len))
		goto drop;
	si = &s->si;
	__builtin_memset(&s->ts, 0, sizeof(s->ts));
	if (pf_sock(ctx, p, si) || pf_req_ts(ctx, xdp, p, &s->ts))
		goto drop;
	/* a corrupted retransmission must not shape the answer */
	if (p->pay_len <= PF_ANSWER_MAX && pf_verify_csum(ctx, xdp, p, s, true)) {
		pf_count(PF_STAT_PASS_CSUM);
		return PF_ANS_DROP;
	}
	/* a reload since the answer took the daemon's verdict with the old
	 * slot: ask again, or every retransmission would be dropped (no
	 * segment kept: pf_punt_keep's is consumed by the pf_punt_req that
	 * follows it). After the socket and checksum checks, as every punt
	 * (pf_punt_req's contract): a segment at the consumed request's
	 * position with no socket behind it or a wrong checksum makes no
	 * record (review finding, stop 51) */
	if (ret == PF_STAT_PUNT_DAEMON) {
		pf_punt_src_of(&p->key, p->family, s->punt_src);
		if (pf_punt_req(s) != PF_STAT_PUNT_DAEMON)
			goto drop;
		pf_count(PF_STAT_PUNT_DAEMON);
		return PF_ANS_DROP;
	}
	ack_s = pf_ack_in(a, p->ack);
	/* XDP here has no TC to hand over to (above): a segment that needs
	 * a clone, or a frame that cannot grow, is dropped (the server's
	 * retransmission brings the ack the client sends again) */
	if (xdp && (ack_s != si->snd_una ||
		    pf_xdp_make_room(ctx, s, pf_resp_len_on_wire(p, &s->ts, rlen))))
		goto drop;
	ret = pf_send(ctx, xdp, p, s, rlen, a->s_pos + a->s_before, si, ack_s,
		      a->c_pos - a->c_before, &s->ts);
	if (ret == PF_ANS_DROP)
		goto drop;
	pf_count(PF_STAT_RETX_ANSWERED);
	return ret;
drop:
	pf_count(PF_STAT_RETX_DROPPED);
	return PF_ANS_DROP;
}

/* The entry for the splice of a connection's first tracked request p:
 * one that splices nothing yet (as pf_track_first's, the request not
 * framed yet), inserted first; then the socket is read again, and the
 * splice is committed under the entry's lock like any other (pf_commit).
 * The guards read write_seq W before the insert: had the app written
 * data or a FIN in between, TC egress (finding no entry) sent it
 * untranslated at W, where the response would go too. An egress segment
 * either ran before the insert -- its write_seq store came first, so the
 * second read shows it -- or finds this entry and moves s_hi under its
 * lock, which the commit checks. Between the insert and that read, a
 * lock and unlock of the entry: a full barrier (x86: lock cmpxchg;
 * arm64: after the bucket lock's release, acquire-release ordered),
 * so the read cannot be satisfied before the insert is visible. Fills a
 * with what was inserted (pf_commit's torn check). Returns the entry,
 * or NULL with *st: PF_STAT_RACE_LOST (drop: another CPU created the
 * entry, or freed it again, or its lock was not taken: pf_flow_lock; the
 * entry stays, as passed), PF_STAT_PASS_TABLE_FULL, or
 * PF_STAT_PASS_SERVER_BUSY (pass: the socket moved; the entry stays and
 * follows the request as passed). */
static __always_inline struct pf_flow *pf_flow_new(void *ctx, const struct pf_pkt *p,
						   const struct pf_sockinfo *si, struct pf_adj *a,
						   struct pf_scratch *s, int *st)
{
	struct pf_flow *nf = (struct pf_flow *)s->nf;
	struct pf_flow *f;
	long err;

	__builtin_memset(nf, 0, sizeof(*nf));
	nf->gen = bpf_get_prandom_u32();
	nf->resp_acked = 1;
	nf->c_next = p->seq;
	nf->c_hi = p->seq;
	nf->s_hi = si->write_seq;
	nf->s_mark = si->write_seq;
	nf->hi = PF_FLOW_C_HI | PF_FLOW_S_HI;
	nf->state = PF_FS_FRAMED | PF_FS_ANSWERED; /* nothing before it */
	nf->last_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&pf_flows, &p->key, nf, BPF_NOEXIST);
	if (err) {
		*st = err == -PF_EEXIST ? PF_STAT_RACE_LOST : PF_STAT_PASS_TABLE_FULL;
		return 0;
	}
	pf_count(PF_STAT_FLOW_CREATED);
	pf_adj_read(nf, a);
	f = bpf_map_lookup_elem(&pf_flows, &p->key);
	if (!f) {
		*st = PF_STAT_RACE_LOST;
		return 0;
	}
	PF_TEST_POINT(PF_TP_NEW_FLOW);
	if (pf_flow_lock(f)) {
		*st = PF_STAT_RACE_LOST;
		return 0;
	}
	pf_flow_unlock(f);
	if (!pf_sock_same(ctx, p, si)) {
		*st = PF_STAT_PASS_SERVER_BUSY;
		return 0;
	}
	return f;
}

/* Record the splice of request p (response of rlen bytes at server
 * socket seq si->write_seq) in f, or in a new entry if f is NULL
 * (pf_flow_new), and fill a with the committed correction. The guards
 * approved the request against the state a was taken from: the commit
 * happens only if, under f's lock, f is still in that state (pf_adj_torn:
 * gen, and each field of a, an unlocked copy) and no byte was passed
 * with the current offsets past the request (c_hi: e.g. an earlier copy
 * of it, still in the socket's backlog when the guards read rcv_nxt) or
 * past write_seq (s_hi: the app wrote after the guards read it).
 * Returns 0, PF_STAT_RACE_LOST (drop the segment: another CPU committed
 * first -- a copy of this request, the duplicate's twin, or created the
 * entry --, or f's lock was not taken, pf_flow_lock), PF_STAT_PASS_NOT_NEXT
 * or PF_STAT_PASS_SERVER_BUSY (pass: bytes past it already went through),
 * PF_STAT_PASS_TABLE_FULL (pass). */
static __always_inline int pf_commit(void *ctx, const struct pf_pkt *p, struct pf_flow *f,
				     __u32 rlen, const struct pf_sockinfo *si, int reject,
				     struct pf_adj *a, struct pf_scratch *s)
{
	__u32 snd_nxt = si->write_seq;
	int st = 0;

	if (!f) {
		f = pf_flow_new(ctx, p, si, a, s, &st);
		if (!f)
			return st;
	}
	if (pf_flow_lock(f))
		return PF_STAT_RACE_LOST;
	/* a is pf_try_answer's unlocked copy (pf_flow_peek) */
	if (pf_adj_torn(f, a)) {
		st = PF_STAT_RACE_LOST;
		goto out;
	}
	if ((f->hi & PF_FLOW_C_HI) && pf_after(f->c_hi, p->seq)) {
		st = PF_STAT_PASS_NOT_NEXT;
		goto out;
	}
	if ((f->hi & PF_FLOW_S_HI) && pf_after(f->s_hi, snd_nxt)) {
		st = PF_STAT_PASS_SERVER_BUSY;
		goto out;
	}
	/* still at a request boundary, the request before it answered */
	if (!(f->state & PF_FS_FRAMED) || f->c_next != p->seq) {
		st = PF_STAT_PASS_NOT_BOUNDARY;
		goto out;
	}
	if (!(f->state & PF_FS_ANSWERED)) {
		st = PF_STAT_PASS_ORDER;
		goto out;
	}
	f->gen = f->gen + 1;
	f->c_before = f->c_after;
	f->c_pos = p->seq;
	f->c_after = f->c_before + p->pay_len;
	f->c_hi = p->seq + p->pay_len;
	f->hi = (f->hi & ~PF_FLOW_REJECTED) | PF_FLOW_C_HI | (reject ? PF_FLOW_REJECTED : 0);
	f->s_before = f->s_after;
	f->s_pos = snd_nxt;
	f->s_after = f->s_before + rlen;
	f->req_len = (__u16)p->pay_len;
	f->resp_len = (__u16)rlen;
	f->resp_acked = 0;
	f->c_next = p->seq + p->pay_len;
	f->state = PF_FS_FRAMED | PF_FS_ANSWERED; /* by us */
	f->splices++;
	a->c_pos = f->c_pos;
	a->c_before = f->c_before;
	a->s_pos = f->s_pos;
	a->s_before = f->s_before;
out:
	pf_flow_unlock(f);
	return st;
}

/* Record the outcome st of the request in s (parsed as far as r says)
 * into the trace ring buffer, 1 in ctl.sample times. Cheap when off: one
 * array lookup. */
static __always_inline void pf_trace_req(const struct pf_pkt *p, struct pf_scratch *s,
					 __u32 st, bool xdp, bool matched)
{
	struct pf_trace_rec *t;
	struct pf_trace_ctl *c;
	__u32 zero = 0;
	__u64 n;

	c = bpf_map_lookup_elem(&pf_trace_ctl, &zero);
	if (!c || !c->sample || bpf_get_prandom_u32() % c->sample)
		return;
	t = bpf_ringbuf_reserve(&pf_trace, sizeof(*t), 0);
	if (!t)
		return;
	t->ts_ns = bpf_ktime_get_ns();
	t->key = p->key;
	t->stat = st;
	t->xdp = xdp;
	t->matched = matched;
	t->verdict = s->m.verdict;
	t->reason = s->m.reason;
	t->rule = s->m.rule;
	n = s->r.origin.len;
	/* Verifier workaround: clamp and use one 64-bit register (see
	 * pf_load_req) so the copy provably fits t->origin */
	barrier_var(n);
	if (n > PF_TRACE_ORIGIN)
		n = PF_TRACE_ORIGIN;
	barrier_var(n);
	t->origin_len = (__u16)n;
	if (n)
		pf_copy(t->origin, s->req + PF_M(s->r.origin.off), n);
	bpf_ringbuf_submit(t, 0);
}

/* Does p's payload start with "OPTIONS "? Its first 8 bytes compared as
 * one word (memcpy of a literal: a constant in the byte order of the
 * load); fewer bytes, or unreadable ones, are not. */
static __always_inline bool pf_starts_options(void *ctx, bool xdp, const struct pf_pkt *p)
{
	__u64 pfx, want;

	if (p->pay_len < 8 || pf_load_hdr(ctx, xdp, p->pay_off, &pfx, sizeof(pfx)))
		return false;
	__builtin_memcpy(&want, "OPTIONS ", sizeof(want));
	return pfx == want;
}

/* Try to answer the request in p (f: its flow entry or NULL). */
static __always_inline int pf_try_answer(void *ctx, bool xdp, struct pf_pkt *p,
					 struct pf_flow *f)
{
	struct pf_sockinfo *si;
	struct pf_adj a = {};
	struct pf_scratch *s;
	__u32 zero = 0, sseq, ack_s;
	int rlen = 0, st, ret, punt = 0;

	if (p->tflags & (PF_TCPF_SYN | PF_TCPF_RST)) {
		st = PF_STAT_PASS_TCP_FLAGS;
		goto pass;
	}
	/* payload at the consumed request's first byte -- whatever its
	 * length -- is a retransmission: answered again, or dropped; never
	 * passed (the app would read the request). Payload that starts
	 * past it (a keepalive probe's octet at the client's snd_una - 1,
	 * a re-segmented tail) is old data: translated below rcv_nxt
	 * (pf_in_consumed, pf_translate_in); so is payload that starts
	 * before it and reaches into it, whole (pf_spans_consumed, pf_seg_in) */
	if (f) {
		/* without the lock: pf_commit checks what the guards used */
		pf_flow_peek(f, &a);
		if (pf_spans_consumed(&a, p)) {
			if (PF_XDP_TC_ALL(xdp))
				return PF_ANS_TO_TC; /* counted there */
			pf_count(PF_STAT_RETX_SPAN_PASSED);
			return PF_ANS_PASS;
		}
		if (pf_in_consumed(&a, p->seq)) {
			if (!pf_at_consumed(&a, p->seq)) {
				if (PF_XDP_TC_ALL(xdp))
					return PF_ANS_TO_TC;
				pf_count(PF_STAT_RETX_TAIL_PASSED);
				return PF_ANS_PASS;
			}
			/* nothing checks a re-answer's copy: a consistent one
			 * (none: dropped, its sender sends it again) */
			if (pf_flow_snapshot(f, &a))
				return PF_ANS_DROP;
			if (pf_at_consumed(&a, p->seq))
				return pf_reanswer(ctx, xdp, p, &a,
						   bpf_map_lookup_elem(&pf_scratch, &zero),
						   &rlen);
		}
	}
	PF_TEST_POINT(PF_TP_ANSWER);
	if (!p->answer_port)
		return PF_ANS_PASS; /* translated only: a port a reload dropped */
	if (!pf_starts_options(ctx, xdp, p)) {
		st = PF_STAT_PASS_NOT_OPTIONS;
		goto pass;
	}
	if (pf_cfg.draining) {
		st = PF_STAT_PASS_DRAINING;
		goto pass;
	}
	if (!xdp && ((struct __sk_buff *)ctx)->gso_segs > 1) {
		st = PF_STAT_PASS_GSO;
		goto pass;
	}
	if ((p->tflags & (PF_TCPF_FIN | PF_TCPF_URG)) || !(p->tflags & PF_TCPF_ACK)) {
		st = PF_STAT_PASS_TCP_FLAGS;
		goto pass;
	}
	if (!p->ip_simple) {
		st = PF_STAT_PASS_IP;
		goto pass;
	}
	s = bpf_map_lookup_elem(&pf_scratch, &zero);
	if (!s) {
		st = PF_STAT_PASS_ERROR;
		goto pass;
	}
	st = pf_load_req(ctx, xdp, p, s, p->pay_len);
	if (st)
		goto pass;
	st = pf_decide(s, p->pay_len, &rlen);
	/* the daemon must decide it: punted below, once the segment has
	 * proved to belong to a real connection (socket, checksum) that
	 * the guards would let us answer; rlen stays 0 */
	punt = st == PF_STAT_PUNT_DAEMON;
	if (st && !punt)
		goto pass_decided;
	si = &s->si;
	__builtin_memset(&s->ts, 0, sizeof(s->ts));
	st = pf_sock(ctx, p, si);
	if (st)
		goto pass_track;  /* spoofed, or not (or no longer) a connection */
	if (si->closing) {
		st = PF_STAT_PASS_NO_SOCKET; /* only re-answers once closing */
		goto pass_track;
	}
	/* this very segment acks everything the app wrote (so nothing is
	 * unsent or unacked). Compared with write_seq, not snd_nxt: on a fast
	 * path (veth) the client's next request can arrive on another CPU
	 * before the sending CPU has advanced snd_nxt for data already
	 * delivered -- seen as ack == write_seq == snd_nxt + 10000 */
	ack_s = f ? pf_ack_in(&a, p->ack) : p->ack;
	if (ack_s != si->write_seq || pf_after(si->snd_nxt, si->write_seq)) {
		st = PF_STAT_PASS_SERVER_BUSY;
		goto pass_track;
	}
	/* the request is the next byte the app will read */
	sseq = f ? pf_seq_in(&a, p->seq) : p->seq;
	if (sseq != si->rcv_nxt || si->copied_seq != si->rcv_nxt) {
		st = PF_STAT_PASS_NOT_NEXT;
		goto pass_track;
	}
	/* untracked, bytes after the request already wait in the socket
	 * (pipelined, and reordered ahead of it: queued out of order, or in
	 * the backlog while the app holds the socket): nothing here saw
	 * them (no entry, no c_hi), and spliced, the request's wire seq
	 * would map onto them -- their copy read twice, or misplaced (a
	 * review finding, stop 51). A tracked flow's c_hi has them. */
	if (!f && si->later) {
		st = PF_STAT_PASS_RCV_LATER;
		goto pass_track;
	}
	/* a request boundary, the request before it answered (the guard on
	 * struct pf_flow); untracked, only the connection's first byte */
	if (f ? !(a.state & PF_FS_FRAMED) : si->bytes_received != 0) {
		st = PF_STAT_PASS_FRAMING;
		goto pass_decided;
	}
	if (f && p->seq != a.c_next) {
		st = PF_STAT_PASS_NOT_BOUNDARY;
		goto pass_decided;
	}
	if (f && !(a.state & PF_FS_ANSWERED)) {
		st = PF_STAT_PASS_ORDER;
		goto pass_decided;
	}
	if (f && !a.resp_acked && pf_before(p->ack, a.s_pos + a.s_after)) {
		st = PF_STAT_PASS_SPLICE_PENDING;
		goto pass_track;
	}
	/* untracked, nothing seen of the server yet: only a SYN-ACK that
	 * left by this interface shows its segments pass our egress (a
	 * tracked flow is answered only once they did: PF_FS_ANSWERED) */
	if (!f && !pf_egress_seen(p)) {
		st = PF_STAT_PASS_ROUTE;
		goto pass_track;
	}
	if ((__u32)rlen > si->mss) {
		st = PF_STAT_PASS_MSS;
		goto pass_track;
	}
	/* the client's window must take the response */
	if (((__u64)p->win_raw << (si->snd_wscale & 15)) < (__u64)rlen) {
		st = PF_STAT_PASS_WINDOW;
		goto pass_track;
	}
	/* everything that can fail without harm happens before the commit */
	if (pf_req_ts(ctx, xdp, p, &s->ts)) {
		st = PF_STAT_PASS_TCP_OPT;
		goto pass_decided;
	}
	if (pf_verify_csum(ctx, xdp, p, s, true)) {
		st = PF_STAT_PASS_CSUM;
		goto pass;
	}
	if (punt) {
		pf_punt_keep(ctx, xdp, p, s);
		st = pf_punt_req(s);
		if (st != PF_STAT_PUNT_DAEMON)
			goto pass_decided;
		pf_count(st);
		pf_trace_req(p, s, st, xdp, true);
		return PF_ANS_DROP;
	}
	if (xdp && ack_s != si->snd_una)
		return PF_ANS_TO_TC; /* needs a clone (see pf_send) */
	if (xdp && pf_xdp_make_room(ctx, s, pf_resp_len_on_wire(p, &s->ts, rlen)))
		return PF_ANS_TO_TC; /* the frame cannot grow: TC can */
	PF_TEST_POINT(PF_TP_COMMIT);
	st = pf_commit(ctx, p, f, rlen, si, s->m.verdict == PF_V_REJECT, &a, s);
	if (st == PF_STAT_RACE_LOST) {
		pf_count(st);
		return PF_ANS_DROP;
	}
	if (st) {
		if (xdp)
			pf_xdp_undo_room(ctx, s, p->l4_off + p->tcp_hlen + p->pay_len);
		if (st == PF_STAT_PASS_TABLE_FULL) {
			if (PF_XDP_TC_ALL(xdp))
				return PF_ANS_TO_TC;
			pf_count(st);
			return PF_ANS_FULL; /* counted once: not again by pf_track_first */
		}
		goto pass_track;
	}
	/* Committed: from here a failure drops the segment and the client's
	 * retransmission takes the pf_reanswer path. */
	ret = pf_send(ctx, xdp, p, s, rlen, a.s_pos + a.s_before, si, ack_s, sseq, &s->ts);
	if (ret == PF_ANS_DROP) {
		pf_count(PF_STAT_PASS_ERROR);
		return PF_ANS_DROP;
	}
	st = s->m.verdict == PF_V_REJECT ? PF_STAT_REJECTED : PF_STAT_ANSWERED;
	pf_count(st);
	pf_trace_req(p, s, st, xdp, true);
	return ret;
pass_decided:
	/* XDP that cannot flag frames: TC ingress decides and counts */
	if (PF_XDP_TC_ALL(xdp))
		return PF_ANS_TO_TC;
	pf_count(st);
	pf_trace_req(p, s, st, xdp, s->r.res == PF_P_OK);
	return PF_ANS_PASS;
pass:
	if (PF_XDP_TC_ALL(xdp))
		return PF_ANS_TO_TC;
	pf_count(st);
	return PF_ANS_PASS;
pass_track:
	/* a socket guard failed. XDP runs over a whole NAPI batch before the
	 * stack sees any of it: the socket may not have processed the
	 * segments just before this one (e.g. the handshake's last ACK). TC
	 * ingress sees the request after them: let it decide with current
	 * socket state. (A new connection is tracked by pf_ingress.) */
	if (xdp)
		return PF_ANS_TO_TC;
	pf_count(st);
	pf_trace_req(p, s, st, xdp, true);
	return PF_ANS_PASS;
}

#endif /* PF_ANSWER_H */
