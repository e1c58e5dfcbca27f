/* BPF only (TC and XDP): the few operations that differ between a TC skb and an XDP frame. */
/*
 * pf_ctx.h -- one datapath core serves TC and XDP. Every function of the
 * core takes (void *ctx, bool xdp) and calls these shims; each entry point
 * passes a constant, so the branch for the other context is compiled out.
 */
#ifndef PF_CTX_H
#define PF_CTX_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Set by the loader before load (user/kfeat.h): 1 when this kernel does
 * not let XDP programs call bpf_xdp_adjust_meta (seen on a 6.18 build:
 * "program of this type cannot use helper bpf_xdp_adjust_meta#54").
 * Read-only data: the verifier never reaches the calls (dead code, not
 * checked). XDP then marks nothing: it answers what it can and leaves
 * every other frame untouched -- no translation, no tracking, no count
 * of a pass reason -- and TC ingress takes all of them, as in TC mode
 * (PF_XDP_TC_ALL; docs/tcp-splice.md section 4). */
const volatile __u32 pf_xdp_no_meta;

/* Set only by build/bench/verifstats --xdp-meta yes on a kernel that
 * refuses bpf_xdp_adjust_meta: the metadata variant (pf_xdp_no_meta 0)
 * with its calls left out (pf_xdp_mark, pf_xdp_meta_ok: as without room), so
 * that the rest of it is verified there too -- a helper the variant
 * must not call at XDP showed only on a kernel that allows the call
 * ("program of this type cannot use helper bpf_sk_storage_get#107"). */
const volatile __u32 pf_xdp_meta_stub;

/* XDP in the mode above: whatever it does not answer or drop goes to TC
 * ingress untouched (PF_ANS_TO_TC), which follows and counts it. */
#define PF_XDP_TC_ALL(xdp) ((xdp) && pf_xdp_no_meta)

static __always_inline long pf_load(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	return xdp ? bpf_xdp_load_bytes(ctx, off, to, len) :
		     bpf_skb_load_bytes(ctx, off, to, len);
}

/* Copy len (a constant) header bytes from the packet at from to to: 8,
 * 4, 2 and 1 byte loads and stores. __builtin_memcpy from a packet pointer, whose
 * alignment clang cannot know, becomes one byte load and store per byte
 * (60 of each for a TCP header); into a map value it still stores byte
 * by byte. Loads and stores may be unaligned, which the
 * verifier accepts for packet pointers and map values where the CPU
 * handles it (not with BPF_F_STRICT_ALIGNMENT), as the parser's 8-byte
 * loads of s->req. A stack buffer must be aligned to 8 (its stores must
 * be: "misaligned stack access"). */
static __always_inline void pf_copy_hdr(void *to, const void *from, __u32 len)
{
	__u32 k = 0;

	for (; k + 8 <= len; k += 8)
		*(__u64 *)(to + k) = *(const __u64 *)(from + k);
	if (k + 4 <= len) {
		*(__u32 *)(to + k) = *(const __u32 *)(from + k);
		k += 4;
	}
	if (k + 2 <= len) {
		*(__u16 *)(to + k) = *(const __u16 *)(from + k);
		k += 2;
	}
	if (k < len)
		*(__u8 *)(to + k) = *(const __u8 *)(from + k);
}

/* The packet's linear bytes, data to *end, of a TC or XDP context. */
static __always_inline void *pf_ctx_data(void *ctx, bool xdp, void **end)
{
	void *data;

	if (xdp) {
		data = (void *)(long)((struct xdp_md *)ctx)->data;
		*end = (void *)(long)((struct xdp_md *)ctx)->data_end;
	} else {
		data = (void *)(long)((struct __sk_buff *)ctx)->data;
		*end = (void *)(long)((struct __sk_buff *)ctx)->data_end;
	}
	return data;
}

/* pf_load of a few header bytes (len a constant, off < 256): read in
 * place when they are in the linear part (the usual case), else by the
 * helper as pf_load. The same bytes either way; a helper call and its
 * return cost more than the copy. */
static __always_inline long pf_load_hdr(void *ctx, bool xdp, __u32 off, void *to, __u32 len)
{
	void *data, *end;
	__u64 o = off;

	data = pf_ctx_data(ctx, xdp, &end);
	if (o < 256 && data + o + len <= end) {
		pf_copy_hdr(to, data + o, len);
		return 0;
	}
	return pf_load(ctx, xdp, off, to, len);
}

static __always_inline long pf_store(void *ctx, bool xdp, __u32 off, void *from,
				     __u32 len)
{
	return xdp ? bpf_xdp_store_bytes(ctx, off, from, len) :
		     bpf_skb_store_bytes(ctx, off, from, len, 0);
}

/* pf_store of n bytes at from (54 <= n <= max, a constant) over the
 * frame's first n bytes. XDP, when the frame has them: direct stores, 32
 * bytes a step, the last step ending at n (overlapping the one before:
 * the same bytes again) -- no helper call. TC: the helper always (a
 * direct packet write makes the verifier give the program an unclone
 * prologue: every cloned skb at ingress made private). Returns 0 or
 * negative. */
static __always_inline long pf_store_head(void *ctx, bool xdp, void *from, __u64 n,
					  const __u64 max)
{
	void *data, *end, *q;
	__u64 k;

	if (!xdp)
		return pf_store(ctx, xdp, 0, from, n);
	data = pf_ctx_data(ctx, xdp, &end);
	if (n < 32 || n > max || data + n > end)
		return pf_store(ctx, xdp, 0, from, n);
	for (k = 0; k + 32 < n && k + 32 <= max; k += 32) {
		if (data + k + 32 > end)
			return -1;
		pf_copy_hdr(data + k, from + k, 32);
	}
	q = data + (n - 32);
	/* Verifier workaround: clang tested data + n (the same bound) on
	 * another register ("R7 offset is outside of the packet") */
	barrier_var(q);
	if (q + 32 > end)
		return -1;
	pf_copy_hdr(q, from + (n - 32), 32);
	return 0;
}

/* The frame's length. XDP: data_end - data, no helper call -- the
 * programs are not loaded with BPF_F_XDP_HAS_FRAGS (SEC("xdp"), not
 * "xdp.frags"), so a frame is one linear buffer and this is exactly
 * what bpf_xdp_get_buff_len returns. A pointer minus a pointer is an
 * unknown scalar to the verifier (privileged loads), the value exact
 * (as in pf_tc_pull). */
static __always_inline __u32 pf_ctx_len(void *ctx, bool xdp)
{
	struct xdp_md *x = ctx;
	__u64 n;

	if (!xdp)
		return ((struct __sk_buff *)ctx)->len;
	n = (__u64)x->data_end - x->data;
	/* Verifier workaround: the difference taken before its use, or
	 * clang folds len - (end - data) into len - end + data ("R2
	 * pointer arithmetic on pkt_end prohibited") */
	barrier_var(n);
	return (__u32)n;
}

/* Resize the frame of old_len bytes (XDP: the caller's pf_ctx_len, not
 * asked again -- a helper call; TC: unused) to new_len bytes. Returns 0
 * (or, XDP growing at the head: PF_GREW_HEAD) on success, negative on
 * failure. */
#define PF_GREW_HEAD 1

static __always_inline long pf_resize(void *ctx, bool xdp, __u32 old_len, __u32 new_len)
{
	int delta;

	if (!xdp)
		return bpf_skb_change_tail(ctx, new_len, 0);
	delta = (int)new_len - (int)old_len;
	if (delta <= 0 || !bpf_xdp_adjust_tail(ctx, delta))
		return delta <= 0 ? bpf_xdp_adjust_tail(ctx, delta) : 0;
	/* little tailroom (veth, many drivers), but native XDP guarantees
	 * XDP_PACKET_HEADROOM: the caller rewrites the whole frame anyway */
	return bpf_xdp_adjust_head(ctx, -delta) ? -1 : PF_GREW_HEAD;
}

#endif /* PF_CTX_H */
