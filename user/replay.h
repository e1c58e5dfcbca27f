/* User: the slow path's replay: a punted segment, once decided, handed back to the interface's receive path. */
/*
 * replay.h -- the datapath drops a request it punts to the daemon (a regex
 * origin, a long request-header list) and waits for the client's
 * retransmission, which the kernel then decides with the daemon's verdict.
 * A client retransmits a lone request after about 200 ms or more (its
 * loss probe or RTO). The punt record carries the dropped segment as it
 * arrived (struct pf_punt_rec.frame), so once the verdict is taught the
 * daemon hands it back at once: a live-frames BPF_PROG_TEST_RUN of
 * pf_replay_xdp (bpf/preflightd.bpf.c) with the interface as ingress,
 * which passes the frame to the interface's receive path like a frame
 * just received -- to TC ingress, past the driver's XDP hook (in native
 * XDP mode marked for TC as a request XDP hands over). From there it is
 * the client's retransmission, only sooner: answered, passed or dropped
 * by the same code and guards; the real retransmission, if it still
 * comes, is a duplicate (answered again identically, or dropped by TCP).
 * Each segment is replayed once (struct pf_replay.recent): a replay that
 * is punted again (a verdict the datapath did not find) waits for the
 * client, never loops through the daemon. A kernel that refuses
 * live-frame test runs (user/kfeat.h, pf_kfeat_xdp_live: probed at start,
 * pf_replay_start) gets them by a TC test run instead: pf_replay_tc
 * clones the frame to the interface's receive path (bpf_clone_redirect
 * with BPF_F_INGRESS: TC ingress, after generic XDP). Not in native XDP
 * mode where XDP hands frames to TC with metadata: TC ingress would take
 * that unmarked frame for one XDP passed, and pass it to the app. There,
 * the client's retransmission.
 */
#ifndef PF_REPLAY_H
#define PF_REPLAY_H

#include <stdbool.h>
#include <linux/types.h>
#include "../include/pf_structs.h"

/* Segments punted longer ago than this are not replayed: by then the
 * client's retransmission is on its way (a replay would be a duplicate
 * of it, harmless but useless). Also how long a replayed segment is
 * remembered. */
#define PF_REPLAY_MAX_AGE_NS 500000000ULL

/* Segments remembered as replayed (the most recent ones). */
#define PF_REPLAY_RECENT 256

struct pf_replay {
	int prog_fd;      /* pf_replay_xdp, run on live frames; <= 0: none */
	int tc_fd;        /* else pf_replay_tc; <= 0: none (both: off) */
	int ifindex;      /* the interface the segments arrived on */
	int warned;       /* the errno of the last failure logged (a failure
			   * is logged when its errno differs) */
	unsigned next;    /* where the next replayed segment is remembered */
	struct {
		__u64 key;    /* addresses, ports and seq, hashed (0: none) */
		__u64 ns;     /* when it was replayed */
	} recent[PF_REPLAY_RECENT];
};

/* Make the len-byte Ethernet frame whose IP header starts at ETH_HLEN and
 * TCP header at l4 (no IP options or IPv6 extension headers) one the
 * receive path accepts, or refuse it. The datapath punts only a segment
 * whose checksum it verified or found vouched for (the device's
 * CHECKSUM_UNNECESSARY, a local sender's CHECKSUM_PARTIAL); a frame
 * handed to the receive path anew is CHECKSUM_NONE. So: an IPv4 header
 * checksum must verify; a TCP checksum that verifies is kept; one that
 * holds only the pseudo-header's sum (CHECKSUM_PARTIAL's field, what
 * XDP takes for it) is completed; any other is refused -- a corrupted
 * segment the stack would drop is never made to look sound. Returns 0,
 * -EBADMSG (a checksum refused) or -EINVAL (not such a TCP segment). */
int pf_replay_csum(__u8 *frame, __u32 len, __u32 l4);

/* Was the segment in frame (TCP at l4) replayed at or after now -
 * PF_REPLAY_MAX_AGE_NS? If not and remember is set, it is remembered as
 * replayed at now. */
bool pf_replay_recent(struct pf_replay *r, const __u8 *frame, __u32 l4, __u64 now,
		      bool remember);

/* Set r up, once at start, to replay the segments that arrive on
 * ifindex: by live-frame runs of xdp_fd (pf_replay_xdp) where the kernel
 * allows them, else by test runs of tc_fd (pf_replay_tc) where tc_ok (not
 * native XDP mode with metadata, see above), else not at all (the
 * client's retransmission). Says so unless the first; a probe that
 * failed is a warning. */
void pf_replay_start(struct pf_replay *r, int xdp_fd, int tc_fd, int ifindex, bool tc_ok);

/* Replay the segment rec kept (see above), counting cfg->replayed or
 * cfg->replay_failed (a failure logged unless the one before had its
 * errno). Returns 1 if the frame
 * was handed to pf_replay_xdp (a live run reports no verdict: in native
 * XDP mode a frame it cannot mark for TC is dropped there) or cloned to
 * the receive path by pf_replay_tc, 0 if there
 * was none to replay (not kept, too old, replayed before, replays off),
 * or -errno. */
int pf_replay(struct pf_replay *r, const struct pf_punt_rec *rec, struct pf_config *cfg);

#endif /* PF_REPLAY_H */
