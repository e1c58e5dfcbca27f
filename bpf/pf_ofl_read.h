/* BPF only (TC, SK_MSG): the response offload's readers -- an skb's bytes into the work area, the response head scanner and the chunked-body readers as global functions (verified once), shared by the recorder, the SK_MSG program and shadow mode. */
#ifndef PF_BPF_OFL_READ_H
#define PF_BPF_OFL_READ_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_ofl_maps.h"

/* Copy n (1..PF_REQ_MAX) bytes at offset off of the skb to to (a map
 * value with room for them). */
static __always_inline int pf_ofl_load_to(struct __sk_buff *skb, __u32 off, __u32 n, __u8 *to)
{
	__u64 len = n;

	/* Verifier workaround: see pf_load_req ("R3 min value is outside of
	 * the allowed memory range") */
	barrier_var(len);
	if (len == 0 || len > PF_REQ_MAX)
		return -1;
	return bpf_skb_load_bytes(skb, off, to, len) ? -1 : 0;
}

/* The same into sc->buf. */
static __always_inline int pf_ofl_load(struct __sk_buff *skb, __u32 off, __u32 n,
				       struct pf_ofl_scratch *sc)
{
	return pf_ofl_load_to(skb, off, n, sc->buf);
}

/* Scan the response head in sc->buf (a global function: verified once). */
__noinline int pf_ofl_scan(struct pf_ofl_scratch *sc, __u32 n)
{
	if (!sc)
		return PF_RH_BAD;
	return pf_rhead_scan(sc->buf, n, &sc->h);
}

/* The chunk-size line of a chunked body at the start of the message. */
__noinline int pf_ofl_chunk_g(struct pf_ofl_scratch *sc, __u32 n, __u64 *size)
{
	if (!sc || !size)
		return -1;
	return pf_ofl_chunk_line(sc->buf, n, &sc->cs, size);
}

/* The trailer section after the last chunk. */
__noinline int pf_ofl_trailer_g(struct pf_ofl_scratch *sc, __u32 n)
{
	if (!sc)
		return -1;
	return pf_ofl_trailer(sc->buf, n, &sc->cs);
}

#endif /* PF_BPF_OFL_READ_H */
