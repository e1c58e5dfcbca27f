// SPDX-License-Identifier: GPL-2.0
/*
 * preflightd.bpf.c -- the datapath's entry points; the logic is one
 * context-generic core (pf_*.h) instantiated for TC and XDP.
 *
 * TC mode:  pf_tc_ingress answers preflights and translates client
 *           segments of spliced connections; pf_tc_egress translates
 *           server segments.
 * XDP mode: pf_xdp_ingress does the ingress work with XDP_TX; requests
 *           it cannot answer there (a clone, see pf_send; socket guards
 *           it cannot judge; retransmissions) are flagged in the frame's
 *           metadata for pf_tc_ingress -- or, on a kernel without XDP
 *           metadata, XDP only answers and pf_tc_ingress takes every
 *           other frame (PF_XDP_TC_ALL); pf_tc_egress as above (XDP has
 *           no egress hook).
 * Every packet neither answered nor dropped continues (TC_ACT_UNSPEC,
 * XDP_PASS), so other programs on the hook still run.
 *
 * Reading order: pf_ingress (below) -> pf_try_answer (pf_answer.h) ->
 * pf_decide -> include/pf_http.h, pf_match.h, pf_resp.h -> pf_send
 * (pf_emit.h); translation of later segments in pf_xlate.h (the mapping in
 * pf_tcp.h), request framing in pf_follow.h; ICMP errors about spliced
 * connections' segments in pf_icmp.h; the response offload in
 * pf_offload.h (its parts pf_ofl_*.h).
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "pf_answer.h"
#include "pf_emit.h"
#include "pf_follow.h"
#include "pf_icmp.h"
#include "pf_maps.h"
#include "pf_offload.h"
#include "pf_pkt.h"
#include "pf_xlate.h"

char LICENSE[] SEC("license") = "GPL";

/* XDP that cannot flag frames (PF_XDP_TC_ALL): could p be a preflight
 * it answers, or its retransmission? Only a segment on an answered port
 * whose payload starts with "OPTIONS " -- any other is TC's alone, with
 * no flow look-up here (counted there). */
static __always_inline bool pf_xdp_may_answer(void *ctx, const struct pf_pkt *p)
{
	return p->answer_port && pf_starts_options(ctx, true, p);
}

/* The ingress core: answer, or translate and pass. follow (TC): p is a
 * frame XDP handed over for its framing (PF_META_FOLLOW), whose answer
 * path ran (and counted) at XDP: only the rest. */
static __always_inline int pf_ingress(void *ctx, bool xdp, struct pf_pkt *p, bool follow)
{
	struct pf_flow *f;
	int ret;

	if (PF_XDP_TC_ALL(xdp) && !pf_xdp_may_answer(ctx, p))
		return PF_ANS_TO_TC;
	if (!follow)
		pf_count(PF_STAT_PKT_SEEN);
	f = bpf_map_lookup_elem(&pf_flows, &p->key);
	if (p->pay_len) {
		ret = follow ? PF_ANS_PASS : pf_try_answer(ctx, xdp, p, f);
		if (ret == PF_ANS_FULL)
			return PF_ANS_PASS; /* no entry: nothing to translate */
		if (ret != PF_ANS_PASS)
			return ret;
		if (PF_XDP_TC_ALL(xdp))
			return PF_ANS_TO_TC;
		/* an entry another CPU created meanwhile, e.g. answering a
		 * copy of p (then p is dropped); else a new connection's
		 * first request: follow it from here */
		if (!f) {
			f = bpf_map_lookup_elem(&pf_flows, &p->key);
			if (!f && p->answer_port) {
				/* XDP: TC's, which may hold a split head in
				 * socket storage -- and may not have seen the
				 * head yet when XDP sees its rest: a driver runs
				 * XDP on a batch of frames before the stack gets
				 * the first (a veth: up to 64) */
				if (xdp)
					return PF_ANS_FOLLOW_TC;
				pf_track_first(ctx, xdp, p);
				return PF_ANS_PASS;
			}
		}
	}
	if (PF_XDP_TC_ALL(xdp))
		return PF_ANS_TO_TC;
	if (!f)
		return PF_ANS_PASS;
	ret = pf_translate_in(ctx, xdp, p, f, xdp);
	return ret < 0 ? PF_ANS_DROP : ret ? PF_ANS_FOLLOW_TC : PF_ANS_PASS;
}

/* What pf_xdp_ingress marked this skb for TC with: PF_META_ANSWER,
 * PF_META_FOLLOW, or 0 (nothing: handled at XDP). */
static __always_inline __u32 pf_meta_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	__u32 *meta = (void *)(long)skb->data_meta;

	if (PF_TEST_FOLLOW())
		return PF_META_FOLLOW;
	if ((void *)(meta + 1) > data)
		return 0;
	return *meta == PF_META_ANSWER || *meta == PF_META_FOLLOW ? *meta : 0;
}

/* pf_tc_in's TC_ACT_UNSPEC for a segment the response offload's
 * recorder would not read (not parsed, not pf_ofl_wants): no TC action. */
#define PF_TC_PASSED 0x7066

static __always_inline int pf_tc_in(struct __sk_buff *skb)
{
	struct pf_pkt p;
	bool xdp_all = pf_cfg.xdp_mode && pf_xdp_no_meta;
	int ret;

	/* the chain watch's probe (user/tc_chain.c). XDP mode without
	 * metadata: a TCP segment on a followed port, below -- an ARP frame
	 * passed by a program ahead that ends the chain for TCP would prove
	 * nothing, and XDP leaves every such segment to this program */
	if (!xdp_all)
		pf_tc_seen(0);
	/* XDP mode: everything else was handled (and translated) at XDP,
	 * ICMP errors (pf_icmp_xdp) too -- unless XDP cannot flag frames
	 * (pf_xdp_no_meta): then it passed them all untouched */
	if (pf_cfg.xdp_mode && !pf_xdp_no_meta && !pf_meta_mark(skb))
		return TC_ACT_UNSPEC;
	ret = pf_parse_pkt(skb, false, &p, PF_DIR_IN);
	if (ret) {
		if (ret == PF_PARSE_ICMP)
			pf_icmp_tc(skb, &p);
		/* nothing for the recorder either: its own parse would fail
		 * alike, and count a malformed frame a second time */
		return PF_TC_PASSED;
	}
	if (xdp_all)
		pf_tc_seen(0);
	/* the mark read again, not kept across the parse: one value more
	 * live there, and clang kept &skb->data_end on the stack -- the
	 * verifier refuses that pointer ("dereference of modified ctx
	 * ptr R1 off=80 disallowed") */
	switch (pf_ingress(skb, false, &p,
			   pf_cfg.xdp_mode && !pf_xdp_no_meta && pf_meta_mark(skb) == PF_META_FOLLOW)) {
	case PF_ANS_SENT:
		return bpf_redirect(skb->ifindex, 0);
	case PF_ANS_DROP:
		return TC_ACT_SHOT;
	default:
		/* a pure ACK (most of a download's segments) has nothing
		 * for the recorder: no tail call to parse it again */
		return pf_ofl_wants(&p) ? TC_ACT_UNSPEC : PF_TC_PASSED;
	}
}

SEC("tc")
int pf_tc_ingress(struct __sk_buff *skb)
{
	int ret = pf_tc_in(skb);

	if (ret == PF_TC_PASSED)
		return TC_ACT_UNSPEC;
	if (ret == TC_ACT_UNSPEC)
		pf_ofl_ingress_hook(skb); /* response offload (issue 13): a tail call */
	return ret;
}

SEC("tc")
int pf_tc_egress(struct __sk_buff *skb)
{
	struct pf_flow *f;
	struct pf_pkt p;

	pf_tc_seen(1);
	if (skb->mark == PF_MARK)
		return TC_ACT_UNSPEC; /* our own response, already on the wire */
	if (pf_parse_pkt(skb, false, &p, PF_DIR_OUT))
		return TC_ACT_UNSPEC;
	if ((p.tflags & (PF_TCPF_SYN | PF_TCPF_ACK)) == (PF_TCPF_SYN | PF_TCPF_ACK))
		pf_synack_note(&p.key);
	f = bpf_map_lookup_elem(&pf_flows, &p.key);
	/* a drop makes TCP send the segment again, translated anew */
	if (f && pf_translate_out(skb, false, &p, f))
		return TC_ACT_SHOT;
	pf_ofl_egress(skb, &p); /* response offload: a socket leaves SK_MSG for a body */
	pf_shd_egress_hook(skb); /* shadow mode (issue 13): a tail call */
	return TC_ACT_UNSPEC;
}

/* Mark frame ctx for TC ingress with magic in its metadata: 1, or 0 (no
 * metadata room). */
static __always_inline int pf_xdp_mark(struct xdp_md *ctx, __u32 magic)
{
	__u32 *meta;
	void *data;

	if (PF_TEST_NO_META() || pf_xdp_meta_stub || bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return 0;
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data)
		return 0;
	*meta = magic;
	return 1;
}

SEC("xdp")
int pf_xdp_ingress(struct xdp_md *ctx)
{
	struct pf_flow *f;
	struct pf_pkt p;
	int ret;

	ret = pf_parse_pkt(ctx, true, &p, PF_DIR_IN);
	if (ret) {
		if (ret == PF_PARSE_ICMP && !pf_xdp_no_meta)
			pf_icmp_xdp(ctx, &p); /* else TC's, as every frame */
		return XDP_PASS;
	}
	switch (pf_ingress(ctx, true, &p, false)) {
	case PF_ANS_SENT:
		return XDP_TX;
	case PF_ANS_DROP:
		return XDP_DROP;
	case PF_ANS_TO_TC:
		pf_count(PF_STAT_XDP_TO_TC);
		if (pf_xdp_no_meta)
			return XDP_PASS; /* TC ingress takes every frame: untouched */
		if (pf_xdp_mark(ctx, PF_META_ANSWER))
			return XDP_PASS;
		/* no metadata room: the app answers it, translated here (a
		 * retransmission of a consumed request, which the translation
		 * would drop, never comes here: pf_reanswer answers it) */
		break;
	case PF_ANS_FOLLOW_TC:
		if (pf_xdp_mark(ctx, PF_META_FOLLOW)) {
			pf_count(PF_STAT_XDP_TO_TC);
			return XDP_PASS;
		}
		/* no metadata room (a driver without XDP metadata): a
		 * first request followed here, unless its head is split
		 * (no socket storage at XDP: never followed); else
		 * translated here, a split head not held (pf_follow_client) */
		f = bpf_map_lookup_elem(&pf_flows, &p.key);
		if (!f) {
			if (p.answer_port)
				pf_track_first(ctx, true, &p);
			return XDP_PASS;
		}
		return pf_translate_in(ctx, true, &p, f, false) ? XDP_DROP : XDP_PASS;
	default:
		return XDP_PASS;
	}
	f = bpf_map_lookup_elem(&pf_flows, &p.key);
	if (f && pf_translate_in(ctx, true, &p, f, false))
		return XDP_DROP;
	return XDP_PASS;
}

/* The slow path's replay (user/replay.h): the daemon runs this program on
 * a punted segment once it has decided it, in a live-frames
 * BPF_PROG_TEST_RUN on the interface, which hands the frame to the
 * receive path as if it had just arrived -- past the driver's XDP hook,
 * to TC ingress. In native XDP mode TC ingress takes only what XDP marks
 * for it: the frame is marked as a request XDP hands over
 * (PF_META_ANSWER), and dropped when it cannot be (the client's
 * retransmission then comes the usual way), never passed unmarked to the
 * app. In generic XDP mode the receive path runs pf_xdp_ingress on it
 * first, which takes it as any frame that arrives (answers, translates,
 * marks): marked here, the mark would outlive that run (a generic run's
 * XDP_PASS keeps the skb's metadata unless it sets its own) and TC would
 * take the request XDP had just translated as one to answer. */
SEC("xdp")
int pf_replay_xdp(struct xdp_md *ctx)
{
	if (pf_cfg.xdp_mode != PF_XDP_NATIVE || pf_xdp_no_meta)
		return XDP_PASS; /* TC ingress (after generic XDP) takes it */
	return pf_xdp_mark(ctx, PF_META_ANSWER) ? XDP_PASS : XDP_DROP;
}

/* The slow path's replay where the kernel refuses live-frame test runs
 * (user/replay.h): the daemon runs this program on a decided segment in a
 * BPF_PROG_TEST_RUN, the interface's index in cb[0]; a clone of the frame
 * goes to that interface's receive path as if it had just arrived -- TC
 * ingress, after a generic-mode XDP program. (Native XDP mode with
 * metadata gets none: TC ingress would take the unmarked frame for one
 * XDP passed, and pass it to the app.) Returns bpf_clone_redirect's
 * result: 0, -errno, or NET_RX_DROP (1) where the receive path dropped
 * the clone. */
SEC("tc")
int pf_replay_tc(struct __sk_buff *skb)
{
	return (int)bpf_clone_redirect(skb, skb->cb[0], BPF_F_INGRESS);
}

#ifdef PF_TEST_MOCK_SOCK
/* The BPF tier's write of a flow entry in place, under its lock, as a
 * packet on another CPU writes it (tests/bpf/state.c, h_flow_put): from
 * userspace BPF_F_LOCK takes only a bpf_spin_lock ("Invalid argument"
 * with bpf_res_spin_lock). Returns 0, -ENOENT (no entry) or -EBUSY (the
 * lock not taken). */
SEC("syscall")
int pf_test_flow_put(struct pf_test_flow_put *a)
{
	struct pf_flow_key k = a->key;
	struct pf_flow *f;

	f = bpf_map_lookup_elem(&pf_flows, &k);
	if (!f)
		return -PF_ENOENT;
	if (pf_flow_lock(f))
		return -PF_EBUSY;
	__builtin_memcpy((char *)f + sizeof(f->lock), (char *)&a->f + sizeof(f->lock),
			 sizeof(*f) - sizeof(f->lock));
	pf_flow_unlock(f);
	return 0;
}
#endif
