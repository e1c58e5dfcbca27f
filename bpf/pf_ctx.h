/* BPF: the few operations that differ between a TC skb and an XDP frame. */
/*
 * pf_ctx.h -- one datapath core serves TC and XDP. Every function of the
 * core takes (void *ctx, bool xdp) and calls these shims; each entry point
 * passes a constant, so the branch for the other context is compiled out.
 */
#ifndef PF_CTX_H
#define PF_CTX_H

#include <stdbool.h>

static __always_inline long pf_load(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	return xdp ? bpf_xdp_load_bytes(ctx, off, to, len) :
		     bpf_skb_load_bytes(ctx, off, to, len);
}

static __always_inline long pf_store(void *ctx, bool xdp, __u32 off, void *from,
				     __u32 len)
{
	return xdp ? bpf_xdp_store_bytes(ctx, off, from, len) :
		     bpf_skb_store_bytes(ctx, off, from, len, 0);
}

static __always_inline __u32 pf_ctx_len(void *ctx, bool xdp)
{
	return xdp ? (__u32)bpf_xdp_get_buff_len(ctx) : ((struct __sk_buff *)ctx)->len;
}

/* Resize the frame to new_len bytes. Returns 0 (or, XDP growing at the
 * head: PF_GREW_HEAD) on success, negative on failure. */
#define PF_GREW_HEAD 1

static __always_inline long pf_resize(void *ctx, bool xdp, __u32 new_len)
{
	int delta;

	if (!xdp)
		return bpf_skb_change_tail(ctx, new_len, 0);
	delta = (int)new_len - (int)pf_ctx_len(ctx, xdp);
	if (delta <= 0 || !bpf_xdp_adjust_tail(ctx, delta))
		return delta <= 0 ? bpf_xdp_adjust_tail(ctx, delta) : 0;
	/* little tailroom (veth, many drivers), but native XDP guarantees
	 * XDP_PACKET_HEADROOM: the caller rewrites the whole frame anyway */
	return bpf_xdp_adjust_head(ctx, -delta) ? -1 : PF_GREW_HEAD;
}

static __always_inline __u32 pf_csum_add32(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/* Apply a one's complement difference (from bpf_csum_diff) to the TCP
 * checksum at csum_off. TC: the kernel helper, which also knows to leave
 * a CHECKSUM_PARTIAL field alone. XDP: by hand (RFC 1624); a partial
 * checksum on a veth frame is never verified, so the result is moot. */
static __always_inline int pf_csum_apply(void *ctx, bool xdp, __u32 csum_off, __u32 diff)
{
	__u16 check;
	__u32 s;

	if (!xdp)
		return bpf_l4_csum_replace(ctx, csum_off, 0, diff, 0) ? -1 : 0;
	if (bpf_xdp_load_bytes(ctx, csum_off, &check, sizeof(check)))
		return -1;
	s = pf_csum_add32(diff, ~(__u32)check);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	check = (__u16)~s;
	return bpf_xdp_store_bytes(ctx, csum_off, &check, sizeof(check)) ? -1 : 0;
}

#endif /* PF_CTX_H */
