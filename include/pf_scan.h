/* Both: HTTP byte classes and bounded word scans over the request buffer; included by pf_http.h. */
/*
 * pf_scan.h -- the byte-level tests the parsers share: RFC 9110 tchar
 * (pf_is_tchar, pf_scan_tchar), control bytes in field values
 * (pf_scan_ctl), their inline/global split (pf_scan_split) and
 * case-insensitive compares against lower-case literals. Every scan reads
 * whole 8-byte words at indexes masked with PF_M (buf has PF_REQ_BUF
 * readable bytes, see pf_http.h) and stops at its logical limit.
 */
#ifndef PF_SCAN_H
#define PF_SCAN_H

#include "pf_common.h"

/* An index into the request buffer, as the verifier can bound it. */
#define PF_M(i) ((i) & (PF_REQ_MAX - 1))

/* RFC 9110 tchar as a 256-bit set, tested with one load and a shift: a
 * compare per class would add verifier branches to every loop using it
 * ("The sequence of 8193 jumps is too complex"). */
static const __u64 pf_set_tchar[4] PF_RODATA = {
	0x03ff6cfa00000000ULL, 0x57ffffffc7fffffeULL, 0, 0,
};

PF_INLINE int pf_in_set(const __u64 *set, __u8 c)
{
	return (set[c >> 6] >> (c & 63)) & 1;
}

PF_INLINE int pf_is_tchar(__u8 c)
{
	return pf_in_set(pf_set_tchar, c);
}

/* Bytes of x that may not be tchar: all but letters, digits, '-' and
 * '.' (what header names are made of). A superset of the non-tchars. */
PF_INLINE __u64 pf_maybe_not_tchar(__u64 x)
{
	__u64 fast = pf_inb(x | 0x2020202020202020ULL, 'a', 'z') |
		     (pf_inb(x, '-', '9') & ~pf_eqb(x, '/'));

	return ~fast & PF_HIGHS;
}

/* The other tchars: ! # $ % & ' * + ^ _ ` | ~ */
PF_INLINE __u64 pf_tchar_sym(__u64 x)
{
	return pf_eqb(x, '!') | pf_inb(x, '#', '\'') | pf_inb(x, '*', '+') |
	       pf_inb(x, '^', '`') | pf_eqb(x, '|') | pf_eqb(x, '~');
}

/* The same result as a global function (verified once, whatever the
 * caller; called for the rare names the inline scans hand on). Each word
 * takes the exact test, one branch: pf_scan_tchar_in's two ways on to
 * the next word (no flag; only symbols flagged) doubled the verifier's
 * walk at each of its PF_SCAN_MAX / 8 words. */
PF_GLOBAL __u64 pf_scan_tchar_buf(const struct pf_buf *rb, __u64 from, __u64 lim)
{
	__u64 i, k, m, x;

	if (!rb)
		return lim;
	for (k = 0, i = from; k < PF_SCAN_MAX / 8; k++, i += 8) {
		x = pf_ld64(rb->b + PF_M(i));
		m = pf_maybe_not_tchar(x) & ~pf_tchar_sym(x);
		if (m) {
			i += pf_first_byte(m);
			break;
		}
	}
	return i < lim ? i : lim;
}

PF_INLINE __u64 pf_scan_tchar(const __u8 *b, __u64 from, __u64 lim)
{
	return pf_scan_tchar_buf((const struct pf_buf *)b, from, lim);
}

/* The word loop of pf_scan_tchar_in and pf_scan_tchar_fast (hand_on, a
 * constant: which one): per word the cheap superset test; the first
 * flagged byte ':' (or, not hand_on, ','; hand_on, a CTL or SP) ends
 * the name. Any other flagged word: hand_on hands the scan from that
 * word on to the global pf_scan_tchar_buf (bounded by pf_min_nb(lim,
 * from + 8 * words)), else the exact test of the symbols decides.
 * hand_on's result is not clamped to lim (pf_scan_tchar_fast). */
PF_INLINE __u64 pf_scan_tchar_words(const __u8 *b, __u64 from, __u64 lim, __u32 words,
				    const bool hand_on)
{
	__u64 i, j, k, m, x;
	__u8 c;

	for (k = 0, i = from; k < words; k++, i += 8) {
		x = pf_ld64(b + PF_M(i));
		m = pf_maybe_not_tchar(x);
		if (!m)
			continue;
		/* the usual ends of names, ':' (header) and ',' (in a list),
		 * need no exact test: the first flagged byte read out of x */
		j = pf_first_byte(m);
		c = (__u8)(x >> (8 * j));
		if (hand_on) {
			/* a CTL or SP is no tchar either: its index (a blank
			 * line's CR at from, pf_line) */
			if (c != ':' && c > ' ')
				return pf_scan_tchar_buf((const struct pf_buf *)b, i,
							 pf_min_nb(lim, from + 8 * words));
			return i + j;
		}
		if (c == ':' || c == ',') {
			i += j;
			break;
		}
		m &= ~pf_tchar_sym(x);
		if (m) {
			i += pf_first_byte(m);
			break;
		}
	}
	if (hand_on)
		return i;
	return i < lim ? i : lim;
}

/* First index in [from, lim) whose byte is not a tchar; lim if none.
 * lim - from <= 8 * words (words a constant: the loop bound the verifier
 * walks), lim <= PF_REQ_MAX. Bytes at lim and beyond never change the
 * result, but they are read: the loop tests only its word count (a stop
 * past lim is clamped to lim), one compare and branch fewer a word than
 * also testing i < lim (tests/README.md, What was tried). Per word, the cheap
 * superset test; unless its first flagged byte is ':' or ',', the exact test of
 * the symbols decides: few branches a word, which keeps the verifier's
 * walk through the loop short, and no table look-up. */
PF_INLINE __u64 pf_scan_tchar_in(const __u8 *b, __u64 from, __u64 lim, __u32 words)
{
	return pf_scan_tchar_words(b, from, lim, words, false);
}

/* pf_scan_tchar_in(b, from, min(len, from + 8 * words), words)'s result
 * before its clamp, for the answer path's name scan (pf_line): the
 * index of a first flagged byte that is ':', a CTL or SP (no tchar: a
 * blank line's CR at from), or from + 8 * words, is returned as found --
 * the same as the clamped one wherever it is below len, and at or past
 * len wherever that one is len (the caller tests "i >= len", then reads
 * the byte at i: no limit kept live across the loop, no clamp). Only a
 * word whose first flagged byte is another one (a symbol tchar such as
 * '_', rare in a name, or another non-tchar above SP) hands the scan
 * from that word on to the global function, which clamps.
 * One path a word goes on with, not two: inside a loop the verifier
 * walks the later words once per path that reached them with other
 * registers (dead ones included), so the two paths a word of
 * pf_scan_tchar_in doubled the walk at every word. */
PF_INLINE __u64 pf_scan_tchar_fast(const __u8 *b, __u64 from, __u64 len, __u32 words)
{
	return pf_scan_tchar_words(b, from, len, words, true);
}

/* The first index in [from, from + 8 * words) (words a constant) whose
 * byte is below lt or is DEL, scanning 8 bytes at a time; from + 8 *
 * words if none -- not clamped to any limit (pf_scan_ctl_in clamps; a
 * caller that only compares the result with its limit needs no clamp,
 * pf_line). Bytes with the high bit set never stop the scan (obs-text). */
PF_INLINE __u64 pf_scan_ctl_words(const __u8 *b, __u64 from, __u64 lt, __u32 words)
{
	__u64 x, m, lts = lt * PF_ONES, i, k;

	for (k = 0, i = from; k < words; k++, i += 8) {
		x = pf_ld64(b + PF_M(i));
		/* below lt: the subtraction's borrow only runs upwards from a
		 * flagged byte, so exact for the lowest one, which is all we
		 * use; DEL: the low seven bits plus one reach 0x80 only for
		 * 0x7f, no carry; ~x keeps obs-text out of both */
		m = ((x - lts) | ((x & PF_LOW7) + PF_ONES)) & ~x & PF_HIGHS;
		if (m) {
			i += pf_first_byte(m);
			break;
		}
	}
	return i;
}

/* First index in [from, lim) (lim <= PF_REQ_MAX, lim - from <= 8 *
 * words, words a constant) whose byte is below lt or is DEL, scanning 8
 * bytes at a time; lim if none. As pf_scan_tchar_in, the loop tests only
 * its word count: bytes past lim are read, never change the result. */
PF_INLINE __u64 pf_scan_ctl_in(const __u8 *b, __u64 from, __u64 lim, __u64 lt, __u32 words)
{
	__u64 i = pf_scan_ctl_words(b, from, lt, words);

	return i < lim ? i : lim;
}

PF_GLOBAL __u64 pf_scan_ctl_buf(const struct pf_buf *rb, __u64 from, __u64 lim, __u64 lt)
{
	if (!rb)
		return lim;
	return pf_scan_ctl_in(rb->b, from, lim, lt, PF_LINE_MAX / 8);
}

PF_INLINE __u64 pf_scan_ctl(const __u8 *b, __u64 from, __u64 lim, __u64 lt)
{
	return pf_scan_ctl_buf((const struct pf_buf *)b, from, lim, lt);
}

/* The first index in [from, lim) that ends a token (ctl 0: the first
 * non-tchar, pf_scan_tchar) or a line (ctl: the first byte below ctl or
 * DEL, pf_scan_ctl); lim if none -- the same result as the global scan,
 * with its first inl bytes (a constant multiple of 8; 0: none) scanned
 * inline and only the rest of a longer field by the global function. A
 * BPF-to-BPF call's return costs more than a short field's scan where
 * returns go through a return thunk (AMD's SRSO Safe RET); but each
 * inline word is walked by the verifier at every call site, so the
 * answer path's parsers (pf_parse, the method check) scan inline and the
 * others (pf_parse_head) call. lim - from within the global scan's bound
 * (PF_SCAN_MAX for a token, PF_LINE_MAX for a line). */
PF_INLINE __u64 pf_scan_split(const __u8 *b, __u64 from, __u64 lim, const __u64 ctl,
			      const __u32 inl)
{
	__u64 i;

	if (inl) {
		i = pf_min_nb(from + inl, lim);
		i = ctl ? pf_scan_ctl_in(b, from, i, ctl, inl / 8) :
			  pf_scan_tchar_in(b, from, i, inl / 8);
		if (i != from + inl || i >= lim)
			return i;
		from = i;
	}
	return ctl ? pf_scan_ctl(b, from, lim, ctl) : pf_scan_tchar(b, from, lim);
}

/* Case-insensitive compare of n bytes of buf at off with a lower-case
 * literal, byte by byte (the response-head scanner's, include/pf_rhead.h).
 * Returns 1 if equal. n is at most 40. */
PF_INLINE int pf_name_eq(const __u8 *buf, __u32 off, const char *lit, __u32 n)
{
	__u32 i;

	for (i = 0; i < 40 && i < n; i++)
		if (pf_lower(buf[PF_M(off + i)]) != (__u8)lit[i])
			return 0;
	return 1;
}

/* n bytes at b[off] (n <= 8, all tchar) equal the lower-case literal word
 * lit, in any case. OR-ing 0x20 folds A-Z onto a-z; the only other tchars
 * it changes ('^', '_') become bytes no literal here contains. */
PF_INLINE int pf_word_ieq(const __u8 *b, __u32 off, __u32 n, __u64 lit)
{
	return ((pf_ld64(b + PF_M(off)) | 0x2020202020202020ULL) & pf_low_bytes(n)) == lit;
}

#endif /* PF_SCAN_H */
