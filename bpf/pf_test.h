/* BPF only (TC and XDP): race points, XDP frame-limit and lock-failure knobs for the test build (tests/bpf, -DPF_TEST_MOCK_SOCK); empty in the real datapath. */
/*
 * pf_test.h -- PF_TEST_POINT(pt) marks a place where a packet on another
 * CPU can overtake this one: between reading a flow's state and acting on
 * it. In the test build a test can make the program running on one CPU
 * stop at one point until the test releases it (struct pf_test_pause in
 * .bss, mmapped by the test), while it runs other packets of the same
 * connection on another CPU: the cross-CPU races of a real multi-queue
 * NIC (or RPS), reproduced deterministically. In the real build the
 * macro is empty.
 */
#ifndef PF_TEST_H
#define PF_TEST_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_structs.h"

#ifdef PF_TEST_MOCK_SOCK
/* (struct pf_test_pause and enum pf_test_point: include/pf_structs.h) */
struct pf_test_pause pf_test_pause;

#define PF_TEST_PAUSE_MAX_NS 5000000000ULL

struct pf_test_wait {
	__u64 until;
};

PF_CALLBACK long pf_test_wait_cb(__u32 i, void *ctx)
{
	struct pf_test_wait *w = ctx;

	(void)i;
	if (*(volatile __u32 *)&pf_test_pause.release)
		return 1;
	return bpf_ktime_get_ns() > w->until;
}

static __always_inline void pf_test_point(__u32 pt)
{
	struct pf_test_wait w;
	__u32 k;

	if (pf_test_pause.point != pt || pf_test_pause.cpu != bpf_get_smp_processor_id() + 1)
		return;
	pf_test_pause.point = PF_TP_NONE; /* once */
	w.until = bpf_ktime_get_ns() + PF_TEST_PAUSE_MAX_NS;
	*(volatile __u32 *)&pf_test_pause.entered = 1;
	/* bpf_loop's cap is 8M iterations: a few rounds of it */
	for (k = 0; k < 64; k++) {
		if (*(volatile __u32 *)&pf_test_pause.release)
			return;
		if (bpf_ktime_get_ns() > w.until)
			break;
		bpf_loop(1 << 20, pf_test_wait_cb, &w, 0);
	}
	if (!*(volatile __u32 *)&pf_test_pause.release)
		pf_test_pause.timed_out = 1;
}
#define PF_TEST_POINT(pt) pf_test_point(pt)

/* Non-zero: XDP acts as if it had no metadata room (bpf_xdp_adjust_meta
 * failing: a driver without XDP metadata support, no headroom), which
 * BPF_PROG_TEST_RUN never does (every frame has 256 bytes headroom). */
__u32 pf_test_no_meta;
#define PF_TEST_NO_META() (*(volatile __u32 *)&pf_test_no_meta)

/* Non-zero: XDP acts as if the frame could grow neither at the tail nor
 * at the head (pf_xdp_make_room failing: a driver with little tailroom
 * and a response longer than the request by more than the headroom),
 * which BPF_PROG_TEST_RUN never does (every frame is a page: 3.5 KB of
 * room for a response of at most ~1.1 KB). */
__u32 pf_test_no_room;
#define PF_TEST_NO_ROOM() (*(volatile __u32 *)&pf_test_no_room)

/* Non-zero: TC ingress takes the frame as one XDP handed over for its
 * framing (PF_META_FOLLOW, bpf/preflightd.bpf.c), which a plain test run
 * of a TC program cannot carry in metadata (tests/bpf/harness.c,
 * h_test_run). */
__u32 pf_test_follow;
#define PF_TEST_FOLLOW() (*(volatile __u32 *)&pf_test_follow)

/* Non-zero: the flow entry's lock is not taken, as when the resilient
 * lock gives up (pf_flow_lock, bpf/pf_maps.h) -- which no test can make
 * it do: the failure paths run. */
__u32 pf_test_lock_fail;
#define PF_TEST_LOCK_FAIL() (*(volatile __u32 *)&pf_test_lock_fail)

/* Non-zero: every incremental checksum update fails (pf_csum_apply: the
 * first write of a segment's rewrite, a translation's or an ICMP
 * error's), as bpf_l4_csum_replace does when a cloned skb cannot be
 * made writable (no memory), which BPF_PROG_TEST_RUN never does. */
__u32 pf_test_write_fail;
#define PF_TEST_WRITE_FAIL() (*(volatile __u32 *)&pf_test_write_fail)
#else
#define PF_TEST_POINT(pt) do { } while (0)
#define PF_TEST_FOLLOW() 0
#define PF_TEST_LOCK_FAIL() 0
#define PF_TEST_NO_META() 0
#define PF_TEST_NO_ROOM() 0
#define PF_TEST_WRITE_FAIL() 0
#endif

#endif /* PF_TEST_H */
