/* Both: builds the preflight response bytes from a decision; static inline for BPF and gcc. */
/*
 * pf_resp.h -- assemble the HTTP response for an ALLOW (204) or REJECT
 * (403) decision into out, which must have 2 * PF_RESP_MAX writable bytes
 * (the upper half is slack that lets the verifier prove every masked
 * write in bounds; a response is never longer than PF_RESP_MAX).
 *
 *   HTTP/1.1 204 No Content
 *   Date: <cached>                                  (if the clock is set)
 *   Access-Control-Allow-Origin: <origin> | *
 *   Access-Control-Allow-Methods: <ACRM> | *         (methods: ["*"] only)
 *   Access-Control-Allow-Headers: <ACRH> | *         (if ACRH non-empty)
 *   Access-Control-Allow-Private-Network: true       (if asked and allowed)
 *   <rule->fixed: ACAM list, ACAC, Max-Age, Vary, blank line>
 *
 *   HTTP/1.1 403 Forbidden / Date / <rule->reject: Vary, Content-Length: 0>
 */
#ifndef PF_RESP_H
#define PF_RESP_H

#include "pf_match.h"

#define PF_O(x) ((x) & (PF_RESP_MAX - 1))

/* Append a literal (compile-time length) at *off (the response offload's
 * inserted lines, include/pf_ofl.h). */
#define PF_PUT_LIT(out, off, lit) do { \
	__builtin_memcpy((out) + PF_O(off), (lit), sizeof(lit) - 1); \
	(off) += sizeof(lit) - 1; \
} while (0)

/* Append n (< PF_RESP_MAX) bytes from src at *off. */
#define PF_PUT_VAR(out, off, src, n) do { \
	__u32 n_ = (n) & (PF_RESP_MAX - 1); \
	if (n_) \
		pf_copy((out) + PF_O(off), (src), n_); \
	(off) += n_; \
} while (0)

/* Append the n bytes at src (with 8 * words readable bytes, words >=
 * ceil(n / 8)) at out[off]: whole 8-byte words, so up to 7 bytes past the
 * piece are written too -- the next piece, or nothing that is sent,
 * overwrites them. Returns the new offset. */
PF_INLINE __u32 pf_put_words(__u8 *out, __u32 off, const __u8 *src, __u32 n, __u32 words)
{
	__u32 k;

	for (k = 0; k < words && 8 * k < n; k++)
		pf_st64(out + PF_O(off + 8 * k), pf_ld64(src + 8 * k));
	return off + n;
}

/* The same for the last piece of a response: the words go to
 * out + PF_O(off) + 8 * k, one mask for the piece rather than one per
 * word (the same bytes: off + n < PF_RESP_MAX, so no word's offset
 * wraps, and the slack of out takes the extra bytes), eight words a step
 * (words a multiple of 8: src has 8 * words readable bytes, of which
 * those past n are zero -- the compiled rule's, so the bytes the last
 * step writes past the piece are zeros, as the last word's were, and
 * the response's zero padding to 4 bytes, pf_csum_buf's, is the same).
 * Eight a step: the bench rule's ~210-byte fixed tail took 27 turns of a
 * loop that reloads its limit, ~2 % of pf_tc_ingress's samples. Not for the
 * literal pieces (pf_put_words, unrolled): with a base pointer each,
 * pf_decide's frame grew 88 -> 96 bytes, and pf_tc_ingress failed to
 * load ("combined stack size of 5 calls is 528. Too large"). */
PF_INLINE __u32 pf_put_last(__u8 *out, __u32 off, const __u8 *src, __u32 n, __u32 words)
{
	__u8 *o = out + PF_O(off);
	__u32 k;

	for (k = 0; k < 8 * words && k < n; k += 64) {
		pf_st64(o + k, pf_ld64(src + k));
		pf_st64(o + k + 8, pf_ld64(src + k + 8));
		pf_st64(o + k + 16, pf_ld64(src + k + 16));
		pf_st64(o + k + 24, pf_ld64(src + k + 24));
		pf_st64(o + k + 32, pf_ld64(src + k + 32));
		pf_st64(o + k + 40, pf_ld64(src + k + 40));
		pf_st64(o + k + 48, pf_ld64(src + k + 48));
		pf_st64(o + k + 56, pf_ld64(src + k + 56));
	}
	return off + n;
}
_Static_assert(PF_FIXED_MAX % 64 == 0 && PF_REJECT_MAX % 64 == 0,
	       "pf_put_last copies the rule's tails 64 bytes a step");
_Static_assert(PF_FIXED_MAX <= PF_RESP_MAX && PF_REJECT_MAX <= PF_RESP_MAX,
	       "pf_put_last's steps stay in out's 2 * PF_RESP_MAX bytes");

/* The same for the n request bytes at req[soff] (n <= PF_ACRH_SLOW_MAX,
 * req with PF_REQ_BUF bytes), one out mask per piece as pf_put_last. */
PF_INLINE __u32 pf_put_req(__u8 *out, __u32 off, const __u8 *req, __u32 soff, __u32 n)
{
	__u8 *o = out + PF_O(off);
	__u32 k;

	for (k = 0; k < PF_ACRH_SLOW_MAX / 8 && 8 * k < n; k++)
		pf_st64(o + 8 * k, pf_ld64(req + PF_M(soff + 8 * k)));
	return off + n;
}

/* Literal pieces, zero-padded to whole words. */
#define PF_LIT_204   "HTTP/1.1 204 No Content\r\n"
#define PF_LIT_403   "HTTP/1.1 403 Forbidden\r\n"
#define PF_LIT_DATE  "Date: "
#define PF_LIT_ACAO  "Access-Control-Allow-Origin: "
#define PF_LIT_ACAM  "Access-Control-Allow-Methods: "
#define PF_LIT_ACAH  "Access-Control-Allow-Headers: "
#define PF_LIT_ACAPN "Access-Control-Allow-Private-Network: true\r\n"
#define PF_LIT_STAR  "*"
#define PF_LIT_CRLF  "\r\n"
static const char pf_lit_204[32] PF_RODATA = PF_LIT_204;
static const char pf_lit_403[32] PF_RODATA = PF_LIT_403;
static const char pf_lit_DATE[8] PF_RODATA = PF_LIT_DATE;
static const char pf_lit_ACAO[32] PF_RODATA = PF_LIT_ACAO;
static const char pf_lit_ACAM[32] PF_RODATA = PF_LIT_ACAM;
static const char pf_lit_ACAH[32] PF_RODATA = PF_LIT_ACAH;
static const char pf_lit_ACAPN[48] PF_RODATA = PF_LIT_ACAPN;
static const char pf_lit_STAR[8] PF_RODATA = PF_LIT_STAR;
static const char pf_lit_CRLF[8] PF_RODATA = PF_LIT_CRLF;

/* PF_LAUNDER slot for the offset, in the slack at the end of out: once
 * laundered after each variable piece, the offset is the same unknown on
 * every path through the builder, and the verifier checks what follows
 * once, not once per combination of piece lengths ("BPF program is too
 * large. Processed 1000001 insn"). */
#define PF_RESP_SLOT(out) (*(__u32 *)((out) + 2 * PF_RESP_MAX - 4))

#define PF_PUT_WORDS(out, off, name) \
	((off) = pf_put_words((out), (off), (const __u8 *)pf_lit_##name, \
			      sizeof(PF_LIT_##name) - 1, sizeof(pf_lit_##name) / 8))

/* Build the response; returns its length, or -1 if it would exceed
 * PF_RESP_MAX (the caller then passes the request to the app).
 * date: PF_DATE_LEN bytes or NULL. */
PF_INLINE int pf_build_response(__u8 *out, const __u8 *req, const struct pf_req *r,
				const struct pf_match *m, const struct pf_rule *rule,
				const char *date)
{
	__u32 off = 0, need;

	need = 64 + PF_DATE_LEN + r->origin.len + r->acrm.len + r->acrh.len +
	       rule->fixed_len + rule->reject_len + 200;
	if (need > PF_RESP_MAX || r->origin.len > PF_TOKEN_MAX ||
	    r->acrh.len >= PF_ACRH_SLOW_MAX || r->acrm.len > PF_TOKEN_MAX ||
	    rule->fixed_len > PF_FIXED_MAX || rule->reject_len > PF_REJECT_MAX)
		return -1;
	if (m->verdict == PF_V_REJECT)
		PF_PUT_WORDS(out, off, 403);
	else
		PF_PUT_WORDS(out, off, 204);
	if (date) {
		/* exactly PF_DATE_LEN bytes: three words and the last eight
		 * again (the source may be a 30-byte string) */
		PF_PUT_WORDS(out, off, DATE);
		pf_st64(out + PF_O(off), pf_ld64(date));
		pf_st64(out + PF_O(off + 8), pf_ld64(date + 8));
		pf_st64(out + PF_O(off + 16), pf_ld64(date + 16));
		pf_st64(out + PF_O(off + PF_DATE_LEN - 8), pf_ld64(date + PF_DATE_LEN - 8));
		off += PF_DATE_LEN;
		PF_PUT_WORDS(out, off, CRLF);
	}
	off = PF_LAUNDER(PF_RESP_SLOT(out), off);
	if (m->verdict == PF_V_REJECT)
		return (int)pf_put_last(out, off, (const __u8 *)rule->reject, rule->reject_len,
					PF_REJECT_MAX / 8);
	PF_PUT_WORDS(out, off, ACAO);
	if (m->rflags & PF_RULE_ANY_ORIGIN)
		PF_PUT_WORDS(out, off, STAR);
	else
		off = pf_put_req(out, off, req, r->origin.off, r->origin.len);
	PF_PUT_WORDS(out, off, CRLF);
	off = PF_LAUNDER(PF_RESP_SLOT(out), off);
	if (m->rflags & PF_RULE_ANY_METHOD) {
		PF_PUT_WORDS(out, off, ACAM);
		if (m->acam_echo)
			off = pf_put_req(out, off, req, r->acrm.off, r->acrm.len);
		else
			PF_PUT_WORDS(out, off, STAR);
		PF_PUT_WORDS(out, off, CRLF);
		off = PF_LAUNDER(PF_RESP_SLOT(out), off);
	}
	if (m->acah) {
		PF_PUT_WORDS(out, off, ACAH);
		if (m->acah == 1)
			PF_PUT_WORDS(out, off, STAR);
		else
			off = pf_put_req(out, off, req, r->acrh.off, r->acrh.len);
		PF_PUT_WORDS(out, off, CRLF);
		off = PF_LAUNDER(PF_RESP_SLOT(out), off);
	}
	if (m->acapn)
		PF_PUT_WORDS(out, off, ACAPN);
	off = PF_LAUNDER(PF_RESP_SLOT(out), off);
	return (int)pf_put_last(out, off, (const __u8 *)rule->fixed, rule->fixed_len,
				PF_FIXED_MAX / 8);
}

#endif /* PF_RESP_H */
