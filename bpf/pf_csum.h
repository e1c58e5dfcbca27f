/* BPF only (TC and XDP): TCP/IP checksums -- folding, incremental updates, a new segment's sums, verifying a request segment's (the datapath's and the offload recorder's). */
/*
 * pf_csum.h -- every checksum the datapath computes, once. One's
 * complement sums come from bpf_csum_diff (a 32-bit partial sum, or a
 * negative error); pf_csum_fold turns one into the 16-bit field.
 *   pf_csum_apply     an incremental update of a packet's TCP checksum
 *                     (translation, SACK stripping) or ICMP checksum
 *                     (an error's quoted seq, pf_icmp.h)
 *   pf_csum_words     the sum of a header (by hand: no helper call);
 *                     pf_csum_words8 that of a 32-byte one, unmasked
 *   pf_csum_pseudo    the TCP pseudo-header sum of a segment (by hand)
 *   pf_csum_buf       the sum of a response payload being emitted
 *   pf_csum_tcp_head  a segment's pseudo and TCP header sums, or that
 *                     its checksum is trusted without one
 *   pf_csum_reqbuf    the sum of a request-sized copy (PF_REQ_MAX)
 *   pf_verify_csum    is a request's TCP checksum right?
 */
#ifndef PF_CSUM_H
#define PF_CSUM_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "pf_ctx.h"
#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_test.h"

static __always_inline __u32 pf_csum_add32(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/* Fold a 32-bit one's complement sum to 16 bits. */
static __always_inline __u16 pf_csum_fold(__s64 s)
{
	__u32 c = (__u32)s;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)c;
}

/* Apply a one's complement difference (bpf_csum_diff's, or one
 * congruent to it: pf_put_word) to the TCP (or ICMP) checksum at
 * csum_off. TC: the
 * kernel helper, which also knows to leave a CHECKSUM_PARTIAL field
 * alone. XDP: by hand (RFC 1624); a partial checksum on a veth frame is
 * never verified, so the result is moot. */
static __always_inline int pf_csum_apply(void *ctx, bool xdp, __u32 csum_off, __u32 diff)
{
	__u16 check;
	__u32 s;

	if (PF_TEST_WRITE_FAIL())
		return -1;
	if (!xdp)
		return bpf_l4_csum_replace(ctx, csum_off, 0, diff, 0) ? -1 : 0;
	if (bpf_xdp_load_bytes(ctx, csum_off, &check, sizeof(check)))
		return -1;
	s = pf_csum_add32(diff, ~(__u32)check);
	check = (__u16)~pf_csum_fold(s);
	return bpf_xdp_store_bytes(ctx, csum_off, &check, sizeof(check)) ? -1 : 0;
}

/* A 64-bit sum of 32-bit words (at most 2^32 of them) as a 32-bit
 * partial one's complement sum: the end-around carry folded back twice.
 * Congruent, modulo 0xffff, to what bpf_csum_diff returns for the same
 * words and seed, and like it nonzero unless every word is; so it folds
 * (pf_csum_fold) to the same 16 bits, and seeds bpf_csum_diff alike. */
static __always_inline __u32 pf_csum_wide(__u64 s)
{
	s = (s & 0xffffffffULL) + (s >> 32);
	s = (s & 0xffffffffULL) + (s >> 32);
	return (__u32)s;
}

/* The partial sum of n4 (at most max4, a constant) 32-bit words at p
 * (max4 of them readable), plus seed: short headers are summed here, not
 * by bpf_csum_diff (a helper call and its return cost more than a few
 * additions). Words past n4 are masked out, not branched around: no
 * branch for the verifier to walk both ways. */
static __always_inline __u32 pf_csum_words(const void *p, __u64 n4, __u32 max4, __u32 seed)
{
	const __u32 *w = p;
	__u64 s = seed, k;

	for (k = 0; k < max4; k++) {
		s += w[k] & -((k - n4) >> 63); /* all ones while k < n4 */
		/* one word at a time: clang otherwise loaded all of a TCP
		 * header's 15 first and spilled them (pf_tc_ingress's frame
		 * 296 -> 304 bytes, the first on pf_decide's call chain) */
		barrier_var(s);
	}
	return pf_csum_wide(s);
}

/* pf_csum_words(p, 8, 8, seed): the 8 words of a 32-byte header, none
 * masked out (the answer path's usual request: NOP NOP TS). */
static __always_inline __u32 pf_csum_words8(const void *p, __u32 seed)
{
	const __u32 *w = p;
	__u64 s = seed;

	s += w[0];
	s += w[1];
	s += w[2];
	s += w[3];
	s += w[4];
	s += w[5];
	s += w[6];
	s += w[7];
	return pf_csum_wide(s);
}

/* The sum of the TCP pseudo header of a segment from src to dst (4 or 16
 * bytes each, by family) with l4_len bytes of TCP header and payload.
 * Returns the partial sum (nonnegative). */
static __always_inline __s64 pf_csum_pseudo(__u8 family, const __u8 *src, const __u8 *dst,
					    __u32 l4_len)
{
	__u32 k, n = family == 4 ? 4 : 16;
	__u64 s;

	/* the addresses as 32-bit words in place (the same sum modulo
	 * 0xffff as their 16-bit words), not copied: a copy would take
	 * stack (the programs are at "combined stack size of 4 calls is
	 * 544. Too large"). Typed loads: src and dst are a struct
	 * pf_flow_key's caddr / saddr, 4-aligned in struct pf_pkt (a stack
	 * load must be aligned); bytes put together in registers were 16
	 * byte loads for IPv4 */
	s = family == 4 ? bpf_htonl((IPPROTO_TCP << 16) | l4_len) :
			  (__u64)bpf_htonl(l4_len) + bpf_htonl(IPPROTO_TCP);
	for (k = 0; k < 16; k += 4) {
		if (k >= n)
			break;
		s += *(const __u32 *)(src + k);
		s += *(const __u32 *)(dst + k);
	}
	return pf_csum_wide(s);
}

/* Sum n bytes of buf (zero-padded to a multiple of 4) in chunks the
 * helper accepts (bpf_csum_diff refuses more than 512 bytes at once on
 * older kernels). */
static __always_inline __s64 pf_csum_buf(__u8 *buf, __u32 n, __s64 seed)
{
	__u64 n4 = (n + 3) & ~3u, c1, c2;

	if (n4 > PF_RESP_MAX)
		return -1;
	c1 = n4 > 512 ? 512 : n4;
	c2 = n4 - c1;
	/* Verifier workaround: re-bound both sizes by masking ("R4 min value
	 * is negative, either use unsigned or 'var &= const'"); buf has
	 * 2 * PF_RESP_MAX bytes so buf + 512 + 1023 stays inside. */
	barrier_var(c1);
	barrier_var(c2);
	c1 &= 1023;
	c2 &= 1023;
	if (c1)
		seed = bpf_csum_diff(NULL, 0, (__be32 *)buf, c1, (__u32)seed);
	if (seed < 0)
		return seed;
	if (c2)
		seed = bpf_csum_diff(NULL, 0, (__be32 *)(buf + 512), c2, (__u32)seed);
	return seed;
}

/* Add the 8 bytes of w (a little-endian load) to a 64-bit sum of 32-bit
 * words (pf_csum_wide folds it). */
static __always_inline __u64 pf_csum_add64(__u64 sum, __u64 w)
{
	return sum + (w & 0xffffffffULL) + (w >> 32);
}

/* One word of pf_copy_sum: 8 bytes from the packet at from to to, added
 * to *sum. */
static __always_inline void pf_copy_sum_word(const void *from, void *to, __u64 *sum)
{
	__u64 w = *(const __u64 *)from;

	*(__u64 *)to = w;
	*sum = pf_csum_add64(*sum, w);
}

/* Copy the n payload bytes at packet offset off into s->req and sum them
 * (s->req_sum: congruent to what pf_verify_csum's bpf_csum_diff chunks
 * give for the same bytes, zero-padded), when they are in the packet's
 * linear part: read in place, 32 bytes a step, then 8, then the last
 * 1..7 bytes. No helper call: not bpf_*_load_bytes, nor two
 * bpf_csum_diff calls for a request over 512 bytes. Returns 0, or -1
 * with s->req_sum -1 (perhaps part copied: the caller copies by the
 * helper). */
static __always_inline int pf_copy_sum_body(void *ctx, bool xdp, __u32 off,
					    struct pf_scratch *s, __u32 len)
{
	void *data, *end, *q, *t;
	__u64 o = off, n = len, k, w, base, rem, sum = 0;

	if (!ctx || !s)
		return -1;
	s->req_sum = -1;
	data = pf_ctx_data(ctx, xdp, &end);
	if (o > 255 || n < 8 || n > PF_ANSWER_MAX)
		return -1;
	/* Verifier workaround: o bounded again on the register used (clang
	 * tested a copy: "R8 offset is outside of the packet") */
	barrier_var(o);
	o &= 255;
	q = data + o;
	s->req_sum = (__s64)n;  /* read back below */
	for (k = 0; k + 32 <= n && k < PF_ANSWER_MAX; k += 32) {
		if (q + k + 32 > end)
			goto fail;
		pf_copy_sum_word(q + k, s->req + k, &sum);
		pf_copy_sum_word(q + k + 8, s->req + k + 8, &sum);
		pf_copy_sum_word(q + k + 16, s->req + k + 16, &sum);
		pf_copy_sum_word(q + k + 24, s->req + k + 24, &sum);
	}
	/* Verifier workaround: the length read back from memory, unknown to
	 * the verifier: each of the loop's up to 64 exits narrows n, and the
	 * rest was walked once per exit (27k processed instructions, now 3k) */
	n = *(volatile __s64 *)&s->req_sum;
	if (n < 8 || n > PF_ANSWER_MAX)
		goto fail;
	/* the last n % 32 bytes: whole words, then the last 1..7 bytes as
	 * the 8 ending at n (stored again, the new ones shifted down for the
	 * sum) */
	base = n & ~31ULL;
	rem = n & 31;
	for (k = 0; k + 8 <= rem && k < 32; k += 8) {
		t = q + base + k;
		/* Verifier workaround: clang tested another register */
		barrier_var(t);
		if (t + 8 > end)
			goto fail;
		pf_copy_sum_word(t, s->req + base + k, &sum);
	}
	if (rem & 7) {
		t = q + (n - 8);
		barrier_var(t);
		if (t + 8 > end)
			goto fail;
		w = *(const __u64 *)t;
		*(__u64 *)(s->req + (n - 8)) = w;
		sum = pf_csum_add64(sum, w >> (8 * (8 - (rem & 7))));
	}
	s->req_sum = pf_csum_wide(sum);
	return 0;
fail:
	s->req_sum = -1;
	return -1;
}

/* The two instances, global functions: verified once each. Inline, its
 * loops' exits (n narrowed to up to 256 ranges) were walked at every
 * state reaching a call site: pf_tc_ingress 179k -> 306k processed
 * instructions. */
__noinline int pf_copy_sum_tc(struct __sk_buff *skb, __u32 off, struct pf_scratch *s, __u32 n)
{
	return pf_copy_sum_body(skb, false, off, s, n);
}

__noinline int pf_copy_sum_xdp(struct xdp_md *xdp, __u32 off, struct pf_scratch *s, __u32 n)
{
	return pf_copy_sum_body(xdp, true, off, s, n);
}

static __always_inline int pf_copy_sum(void *ctx, bool xdp, __u32 off, struct pf_scratch *s,
				       __u32 n)
{
	return xdp ? pf_copy_sum_xdp(ctx, off, s, n) : pf_copy_sum_tc(ctx, off, s, n);
}

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* TC: the skb's ip_summed (PF_CHECKSUM_*), read in place: no helper
 * call (bpf_cast_to_kern_ctx is a register move; the bitfield a load
 * from the trusted skb, as pf_sock's tcp_sock reads). __u64, the read's
 * own type: as __u32, pf_tc_ingress's code changed. */
static __always_inline __u64 pf_skb_ip_summed(void *ctx)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(ctx);

	return BPF_CORE_READ_BITFIELD(kskb, ip_summed);
}

/* pf_csum_tcp_head's answer for a segment whose checksum is not summed:
 * above any 32-bit partial sum. */
#define PF_CSUM_TRUSTED (1LL << 32)

/* The first half of verifying segment p's TCP checksum, shared by the
 * datapath (pf_verify_csum) and the offload's recorder (pf_ofl_csum_bad):
 * PF_CSUM_TRUSTED if it need not be summed -- at TC a packet the device
 * verified (CHECKSUM_UNNECESSARY), which the stack does not check again;
 * with field, a CHECKSUM_PARTIAL one (veth/local with offload), whose
 * check field holds only the folded pseudo-header sum -- else the
 * partial sum of the pseudo header and the TCP header (check field
 * included): with the payload's sum added, a right checksum folds to
 * 0xffff. th: 60 writable bytes (a map value) the header is read into.
 * -1 if the header cannot be read, or the payload is longer than max (a
 * constant). CHECKSUM_PARTIAL is told at TC by the skb's ip_summed, at
 * XDP (no ip_summed) by a check field equal to the folded pseudo-header
 * sum. At TC a corrupted segment whose field happens to equal that sum
 * (one in 65,536 of corrupted segments) is summed, so refused; and the
 * field test would not do for the recorder (TC only), which reads
 * segments whose field XDP's translation changed by hand (pf_csum_apply). */
static __always_inline __s64 pf_csum_tcp_head(void *ctx, bool xdp, const struct pf_pkt *p,
					      __u8 *th, const __u32 max)
{
	__u32 n = p->pay_len, hl = p->tcp_hlen;
	__s64 sum, psum;
	__u16 check;

	if (hl > 60 || hl < 20 || n > max)
		return -1;
	if (!xdp) {
		__u64 summed = pf_skb_ip_summed(ctx);

		if (summed == PF_CHECKSUM_UNNECESSARY || summed == PF_CHECKSUM_PARTIAL)
			return PF_CSUM_TRUSTED;
	}
	psum = pf_csum_pseudo(p->family, p->key.caddr, p->key.saddr, hl + n);
	/* Verifier workaround: a masked 64-bit copy of the header length
	 * ("R2 min value is negative") */
	{
		__u64 h = hl;

		barrier_var(h);
		h &= 63;
		if (h < 20)
			return -1;
		if (h == 32) {
			/* NOP NOP TS, what Linux sends: its 32 bytes (in
			 * place, else by the helper) and their 8 words
			 * summed, no mask (the same sum as below) */
			if (pf_load_hdr(ctx, xdp, p->l4_off, th, 32))
				return -1;
			check = *(__u16 *)(th + 16);
			sum = pf_csum_words8(th, (__u32)psum);
		} else {
			/* 60 bytes (the longest header) read in place when
			 * the segment has them (pf_load_hdr: no helper
			 * call), else the h header bytes by the helper: the
			 * bytes past h are masked out below either way */
			if (h + n >= 60 ? pf_load_hdr(ctx, xdp, p->l4_off, th, 60) :
					  pf_load(ctx, xdp, p->l4_off, th, h))
				return -1;
			check = *(__u16 *)(th + 16);
			/* the header summed by hand (at most 15 words, the
			 * rest of th masked out): one bpf_csum_diff call
			 * fewer, the same sum modulo 0xffff (pf_csum_wide) */
			sum = pf_csum_words(th, h / 4, 15, (__u32)psum);
		}
	}
	/* XDP: CHECKSUM_PARTIAL's field, the folded pseudo-header sum */
	if (xdp && check == pf_csum_fold(psum))
		return PF_CSUM_TRUSTED;
	return sum;
}

/* The n bytes at buf added to the partial sum seed, zero-padded to a
 * multiple of 4 (3 bytes written past n: buf has PF_REQ_BUF bytes), in
 * bpf_csum_diff calls of at most 512 bytes (older kernels refuse more at
 * once). n at most max (a constant, at most PF_REQ_MAX; else -1): the
 * loop's bound, which the verifier walks at each inlined call. buf:
 * PF_REQ_BUF bytes of a map value. Returns the partial sum, or negative. */
static __always_inline __s64 pf_csum_reqbuf(__u8 *buf, __u32 n, __s64 sum, const __u32 max)
{
	__u64 n4 = (n + 3) & ~3u, c, e = n;
	__u32 k;

	/* into the slack after the bytes (PF_REQ_BUF): PF_M would wrap to
	 * the start of a copy of PF_REQ_MAX - 2 bytes or more. Verifier
	 * workaround: one 64-bit register for the bound and the index (see
	 * pf_load_req) */
	barrier_var(e);
	if (e > max || max > PF_REQ_MAX)
		return -1;
	buf[e] = 0;
	buf[e + 1] = 0;
	buf[e + 2] = 0;
	for (k = 0; k < max / 512; k++) {
		c = n4 > 512 ? 512 : n4;
		/* Verifier workaround: the size re-bounded by a mask, as in
		 * pf_csum_buf (there against "R4 min value is negative,
		 * either use unsigned or 'var &= const'"); 6.18 loads this
		 * one without it, kept: the datapath's code unchanged */
		barrier_var(c);
		c &= 1023;
		if (!c)
			break; /* all summed: a short request is 1 of the chunks */
		sum = bpf_csum_diff(NULL, 0, (__be32 *)(buf + k * 512), c, (__u32)sum);
		if (sum < 0)
			return -1;
		n4 -= c < n4 ? c : n4;
	}
	return sum;
}

/* Verify the request's TCP checksum over the copy in s->req (summed: the
 * copy is pf_load_req's of the whole payload, p->pay_len bytes -- both
 * callers load exactly that -- whose s->req_sum then holds its sum if
 * pf_copy_sum took it): a segment the stack would drop must not be
 * answered. Trusted without a sum as pf_csum_tcp_head says. The header
 * is read into s->hdrs. Returns 0 if valid, 1 if summed and wrong (the
 * stack drops the segment), -1 if it cannot be summed (the header or
 * payload not read, a helper failure). summed (a constant) also
 * says which copy: a preflight's (at most PF_ANSWER_MAX bytes, the
 * answer path) or a request head's (PF_REQ_MAX, the framing): the
 * smaller bound halves the sum's loop the verifier walks where a
 * preflight is answered. */
static __always_inline int pf_verify_csum(void *ctx, bool xdp, const struct pf_pkt *p,
					  struct pf_scratch *s, const bool summed)
{
	const __u32 max = summed ? PF_ANSWER_MAX : PF_REQ_MAX;
	__u32 n = p->pay_len;
	__s64 sum;

	sum = pf_csum_tcp_head(ctx, xdp, p, s->hdrs, max);
	if (sum < 0)
		return -1;
	if (sum == PF_CSUM_TRUSTED)
		return 0;
	/* payload: summed as it was copied (pf_copy_sum) */
	if (summed && s->req_sum >= 0)
		return pf_csum_fold(pf_csum_wide((__u64)(__u32)sum + (__u32)s->req_sum)) ==
		       0xffff ? 0 : 1;
	/* else the copy in s->req */
	sum = pf_csum_reqbuf(s->req, n, sum, max);
	if (sum < 0)
		return -1;
	return pf_csum_fold(sum) == 0xffff ? 0 : 1;
}

#endif /* PF_CSUM_H */
