/* faultinj.bpf.c -- TC programs that drop, duplicate and reorder TCP packets on the e2e veth (no netem here). */
/*
 * Two legacy-TC (clsact, direct-action) programs for the CLIENT end of the
 * e2e veth pair:
 *   fi_egress   client -> server, duplicates via bpf_clone_redirect(.., 0)
 *   fi_ingress  server -> client, duplicates via bpf_clone_redirect(.., BPF_F_INGRESS)
 * and a classifier for reordering, on either end (see fi_reorder):
 *   fi_reorder  cls_bpf (direct-action) on a classful root qdisc
 * Only TCP over IPv4/IPv6 (no IPv6 extension headers) is touched, and never a
 * segment with SYN set, so connection setup stays reliable. Each affected
 * packet is first dropped with probability loss/1000, otherwise duplicated
 * with probability dup/1000. A duplicate carries skb->mark = FI_CLONE_MARK so
 * that when it passes this hook again it is neither counted, dropped nor
 * duplicated; the original's mark is restored after cloning.
 *
 * Configuration lives in .data (fi_cfg, rewritten at runtime by the loader),
 * counters in .bss (fi_stats), so updating one never races with the other.
 * Every verdict that is not a drop is TC_ACT_UNSPEC: later filters still run.
 *
 * Egress drops return TC_ACT_STOLEN, not TC_ACT_SHOT: SHOT makes
 * dev_queue_xmit() return NET_XMIT_DROP, which TCP sees as a local send
 * failure and simply re-sends the same skb at once (no wire loss, no RTO,
 * no SACK recovery). STOLEN reports NET_XMIT_SUCCESS, so the sender believes
 * the segment left and must recover like after a real loss. Ingress drops
 * use TC_ACT_SHOT (the sender is in another netns and never learns).
 *
 * Egress duplicates are BOTH clones, and the original is STOLEN. This hook
 * runs before the root qdisc: had the original gone on after its clone, a
 * full qdisc (tbf in the delay case, or a full veth peer) could drop the
 * original -- TCP is told NET_XMIT_DROP, keeps snd_nxt where it was and
 * counts the data unsent -- while the clone reaches the peer. The peer then
 * acks bytes beyond the sender's snd_nxt, and Linux discards every such ACK
 * (SKB_DROP_REASON_TCP_ACK_UNSENT_DATA): the connection deadlocks in RTO
 * backoff. No real network can produce that, and it reproduced without
 * preflightd at all (tests/e2e hardening delay case, issue 5). With two
 * clones TCP always sees success; a copy the qdisc drops is wire loss.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define FI_CLONE_MARK 0x66690001u /* skb->mark of our duplicates */
#define FI_CFG_MAGIC  0x66696367u /* "fic g": non-zero keeps fi_cfg in .data */
#define FI_OUT 0                  /* index of the egress direction */
#define FI_IN  1                  /* index of the ingress direction */
#define TCPHDR_SYN 0x02           /* SYN bit in TCP header byte 13 */

struct fi_dir_cfg {
	__u32 loss_permille; /* 0..1000 */
	__u32 dup_permille;  /* 0..1000 */
};

struct fi_config {
	__u32 magic;
	__u32 reorder_permille;   /* fi_reorder: share of packets that jump */
	struct fi_dir_cfg dir[2]; /* [FI_OUT], [FI_IN] */
	__u32 reorder_classid;    /* fi_reorder: minor of the class they jump
				   * into (the filter's classid has the major) */
	__u32 dup_rehash;         /* 1: each egress copy of a duplicate gets
				   * its own random skb hash (see fi_handle) */
};

struct fi_reo_stats {
	__u64 seen;       /* TCP non-SYN packets classified */
	__u64 moved;      /* of those, sent to reorder_classid */
};

struct fi_dir_stats {
	__u64 seen;       /* TCP non-SYN packets looked at (duplicates excluded) */
	__u64 dropped;    /* packets dropped (STOLEN/SHOT verdicts) */
	__u64 duplicated; /* packets sent twice (both copies accepted) */
	__u64 clone_err;  /* failed bpf_clone_redirect calls */
};

struct fi_config fi_cfg = { .magic = FI_CFG_MAGIC };
struct fi_dir_stats fi_stats[2];
struct fi_reo_stats fi_reo;

/*
 * fi_tcp_nonsyn: 1 if skb is an Ethernet frame carrying IPv4/IPv6 TCP whose
 * SYN flag is clear, 0 for anything else (non-TCP, fragments, SYN, short).
 * Uses bpf_skb_load_bytes, so nonlinear skbs are handled too.
 */
static __always_inline int fi_tcp_nonsyn(struct __sk_buff *skb)
{
	__u32 l4off;
	__u8 flags;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
			return 0;
		if (ip.protocol != IPPROTO_TCP || ip.ihl < 5)
			return 0;
		if (ip.frag_off & bpf_htons(0x1fff)) /* non-first fragment */
			return 0;
		l4off = ETH_HLEN + ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
			return 0;
		if (ip6.nexthdr != IPPROTO_TCP)
			return 0;
		l4off = ETH_HLEN + sizeof(ip6);
	} else {
		return 0;
	}
	/* byte 13 of the TCP header holds CWR..FIN */
	if (bpf_skb_load_bytes(skb, l4off + 13, &flags, 1))
		return 0;
	return !(flags & TCPHDR_SYN);
}

/*
 * fi_handle: apply direction dir's loss/dup settings to skb; clone_flags is
 * 0 (egress, re-transmit the copy) or BPF_F_INGRESS (re-receive the copy).
 * Returns drop_verdict for dropped packets and for egress originals that
 * were sent as two clones (see the top comment), TC_ACT_UNSPEC otherwise.
 */
static __always_inline int fi_handle(struct __sk_buff *skb, int dir,
				     __u64 clone_flags, int drop_verdict)
{
	struct fi_dir_stats *st = &fi_stats[dir];
	__u32 loss = fi_cfg.dir[dir].loss_permille;
	__u32 dup = fi_cfg.dir[dir].dup_permille;
	__u32 old_mark;
	long err, err2 = 0;

	if (skb->mark == FI_CLONE_MARK)
		return TC_ACT_UNSPEC;
	if (!fi_tcp_nonsyn(skb))
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&st->seen, 1);

	if (loss && bpf_get_prandom_u32() % 1000 < loss) {
		__sync_fetch_and_add(&st->dropped, 1);
		return drop_verdict;
	}
	if (dup && bpf_get_prandom_u32() % 1000 < dup) {
		old_mark = skb->mark;
		skb->mark = FI_CLONE_MARK;
		/* dup_rehash: a random flow hash per copy. The hash crosses
		 * the veth, and RPS on the receiving end then steers the two
		 * copies to different CPUs half the time: both are handled
		 * at the same moment, as on a multi-queue NIC */
		if (fi_cfg.dup_rehash)
			bpf_set_hash(skb, bpf_get_prandom_u32());
		err = bpf_clone_redirect(skb, skb->ifindex, clone_flags);
		if (dir == FI_OUT) {
			if (fi_cfg.dup_rehash)
				bpf_set_hash(skb, bpf_get_prandom_u32());
			err2 = bpf_clone_redirect(skb, skb->ifindex, clone_flags);
		}
		skb->mark = old_mark;
		if (err)
			__sync_fetch_and_add(&st->clone_err, 1);
		if (err2)
			__sync_fetch_and_add(&st->clone_err, 1);
		if (!err && !err2)
			__sync_fetch_and_add(&st->duplicated, 1);
		/* egress: the two clones are the packet (STOLEN reports
		 * success, a dropped clone is wire loss) -- unless neither
		 * was even accepted: then the original goes on as usual */
		if (dir == FI_OUT && (!err || !err2))
			return drop_verdict;
	}
	return TC_ACT_UNSPEC;
}

/* fi_egress: client -> server direction (clsact egress of the client veth). */
SEC("tc")
int fi_egress(struct __sk_buff *skb)
{
	return fi_handle(skb, FI_OUT, 0, TC_ACT_STOLEN);
}

/* fi_ingress: server -> client direction (clsact ingress of the client veth). */
SEC("tc")
int fi_ingress(struct __sk_buff *skb)
{
	return fi_handle(skb, FI_IN, BPF_F_INGRESS, TC_ACT_SHOT);
}

/*
 * fi_reorder: reordering without netem. The classifier of a classful root
 * qdisc (htb) whose default class is rate-limited -- under load its queue
 * holds packets back -- and whose class reorder_classid is served first at
 * a far higher rate. A random reorder_permille of the TCP non-SYN packets is
 * sent to that class: each overtakes every packet queued in the default
 * class, i.e. arrives before segments sent earlier. The rest fall through
 * (TC_ACT_UNSPEC) to the qdisc's default class. Duplicates are eligible
 * too. The loader (faultinj reorder) sets the config.
 */
SEC("tc")
int fi_reorder(struct __sk_buff *skb)
{
	__u32 p = fi_cfg.reorder_permille;

	if (!p || !fi_tcp_nonsyn(skb))
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&fi_reo.seen, 1);
	if (bpf_get_prandom_u32() % 1000 >= p)
		return TC_ACT_UNSPEC;
	__sync_fetch_and_add(&fi_reo.moved, 1);
	/* 16 bits (qdisc cb): cls_bpf ORs in the major of the filter's
	 * classid, which faultinj sets to the qdisc's handle */
	skb->tc_classid = fi_cfg.reorder_classid;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
