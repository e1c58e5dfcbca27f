/* tcx_other.bpf.c -- a foreign TC program for the coexistence tests (tcxtool attaches it). */
/*
 * It counts the packets it sees (seen, in .bss) and returns one verdict:
 * other_next continues the chain (TCX_NEXT, TC_ACT_UNSPEC), as a good
 * citizen does -- until its stop word (.bss, `tcxtool stop`) is set: then
 * it ends the chain as other_ok does, with no change to the chain itself;
 * other_ok ends it (TC_ACT_OK), as Cilium's programs do, so nothing
 * behind it on the hook sees those packets.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

__u64 seen;
__u32 stop;

SEC("tc")
int other_next(struct __sk_buff *skb)
{
	(void)skb;
	__sync_fetch_and_add(&seen, 1);
	return stop ? TC_ACT_OK : TC_ACT_UNSPEC;
}

SEC("tc")
int other_ok(struct __sk_buff *skb)
{
	(void)skb;
	__sync_fetch_and_add(&seen, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
