/* xdp_pass.bpf.c -- trivial XDP program for the client veth end (passes everything). */
/*
 * A veth peer only receives frames that the other end sends with XDP_TX
 * (or XDP_REDIRECT) when this end has an XDP program attached, so the e2e
 * topology loads this on the client side:
 *   ip link set dev IF xdpdrv obj build/tests/e2e/xdp_pass.bpf.o sec xdp
 * It deliberately has no global variables (.rodata/.data/.bss) and no maps,
 * so the iproute2 loader needs no libbpf map support.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* xdp_pass: hand every frame to the normal stack. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
