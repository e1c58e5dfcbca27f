/* Both: the preflight's method and request-header list checks (ACRM, ACRH); included by pf_match.h. */
/*
 * pf_match_acr.h -- Access-Control-Request-Method (pf_check_method) and
 * Access-Control-Request-Headers (pf_check_headers) against a rule: each
 * name found in the slot's name table (PF_HDRS_LOOKUP, struct
 * pf_hdr_tab) or, past it, among the policy tokens (pf_match_tok.h).
 *
 * Request-header lists over the kernel's limits (PF_ACRH_MAX_LEN bytes,
 * PF_ACRH_MAX_TOKENS names) are the daemon's: it runs
 * pf_check_headers() with limits up to PF_ACRH_SLOW_MAX and stores the
 * result in pf_acrh under the whole value (PF_ACRH_LOOKUP); until then
 * the verdict is PF_V_PUNT / PF_R_ACRH_SLOW.
 */
#ifndef PF_MATCH_ACR_H
#define PF_MATCH_ACR_H

#if !defined(PF_HDRS_LOOKUP) || !defined(PF_ACRH_LOOKUP)
#error "define PF_HDRS_LOOKUP(slot) and PF_ACRH_LOOKUP(key) before including pf_match_acr.h (see pf_match.h)"
#endif

#include "pf_common.h"
#include "pf_structs.h"
#include "pf_http.h"
#include "pf_match_tok.h"

/* The n-byte name w (its first words, zero-padded; hash: its token hash)
 * among the entries ents[0..mask] of a name table (struct pf_hdr_tab):
 * its rules if an entry holds exactly these bytes. *done is set when the
 * table decides: a hit, or a miss in a complete table (the name is no
 * token of the slot: rules 0). Otherwise pf_tokens decides (a name over
 * PF_HDR_NAME bytes, an incomplete table). */
PF_INLINE __u64 pf_tab_find(const struct pf_hdr_ent *ents, const __u32 mask, __u32 complete,
			    const __u64 *w, __u32 n, __u64 hash, __u32 *done)
{
	const struct pf_hdr_ent *e;
	__u64 d;
	__u32 j;

	*done = 0;
	if (n > PF_HDR_NAME)
		return 0;
	for (j = 0; j < PF_HDR_PROBE; j++) {
		e = &ents[(hash + j) & mask];
		if (e->len == 0)
			break;
		if (e->len != n)
			continue;
		/* both zero-padded: whole words compare */
		d = (pf_ld64(e->s) ^ w[0]) | (pf_ld64(e->s + 8) ^ w[1]) |
		    (pf_ld64(e->s + 16) ^ w[2]) | (pf_ld64(e->s + 24) ^ w[3]);
		if (!d) {
			*done = 1;
			return e->rules;
		}
	}
	*done = complete;
	return 0;
}

/* The request-header name c->w (n bytes, lower-cased, zero-padded; hash:
 * its pf_hdr_home) in the slot's name table t: pf_tab_find over its
 * header names, c->done set when the table decides (no table: never). */
PF_INLINE __u64 pf_hdr_find(struct pf_hdr_ctx *c, __u32 n, __u64 hash,
			    const struct pf_hdr_tab *t)
{
	if (!t) {
		c->done = 0;
		return 0;
	}
	return pf_tab_find(t->e, PF_HDR_ENTRIES - 1, t->complete, c->w, n, hash, &c->done);
}

#define PF_METHOD_SCAN_IN 16

/* Check Access-Control-Request-Method against rule r. */
/* (BPF functions take 5 arguments: the slice and slot/rule are packed.) */
PF_GLOBAL __u32 pf_check_method_buf(const struct pf_buf *rb, __u64 slice, __u64 slot_rule,
				    __u32 rflags, struct pf_match *mt)
{
	struct pf_slice m = { .off = (__u16)slice, .len = (__u16)(slice >> 16) };
	__u32 slot = (__u32)slot_rule, r = (__u32)(slot_rule >> 32);
	const struct pf_hdr_tab *t;
	const __u8 *buf;
	__u64 w, i, end, h, rules;
	__u32 *ls;

	if (!rb || !mt)
		return PF_R_METHOD_BAD;
	buf = rb->b;
	ls = &mt->tmp;

	if (m.len == 0 || m.len > PF_TOKEN_MAX)
		return PF_R_METHOD_BAD;
	/* a method's first PF_METHOD_SCAN_IN bytes scanned inline (see
	 * pf_hdr_elem), the rest of a longer one by the global scan */
	end = (__u64)m.off + m.len;
	i = pf_scan_split(buf, m.off, end, 0, PF_METHOD_SCAN_IN);
	if (PF_LAUNDER(*ls, i) != end)
		return PF_R_METHOD_BAD;
	m.len = (__u16)PF_LAUNDER(*ls, m.len); /* the loop exit pinned it */
	if ((m.len == 7 && pf_word_ieq(buf, m.off, 7, PF_LIT8("connect\0"))) ||
	    (m.len == 5 && (pf_word_ieq(buf, m.off, 5, PF_LIT8("trace\0\0\0")) ||
			    pf_word_ieq(buf, m.off, 5, PF_LIT8("track\0\0\0")))))
		return PF_R_METHOD_FORBIDDEN;
	/* CORS-safelisted methods pass the browser's check without ACAM */
	w = pf_ld64(buf + PF_M(m.off));
	if ((m.len == 3 && (w & pf_low_bytes(3)) == PF_LIT8("GET\0\0\0\0\0")) ||
	    (m.len == 4 && ((w & pf_low_bytes(4)) == PF_LIT8("HEAD\0\0\0\0") ||
			    (w & pf_low_bytes(4)) == PF_LIT8("POST\0\0\0\0"))))
		return PF_R_OK;
	if (rflags & PF_RULE_ANY_METHOD)
		return PF_R_OK;
	/* the slot's method table (struct pf_hdr_tab: m) decides when it
	 * can, pf_tokens otherwise -- the same rules either way */
	mt->mw[0] = mt->mw[1] = mt->mw[2] = mt->mw[3] = 0;
	h = pf_hash_buf_w(rb, m.off, m.len, 0, mt->mw, PF_HDR_NAME / 8);
	t = PF_HDRS_LOOKUP(slot);
	mt->mdone = 0;
	rules = t ? pf_tab_find(t->m, PF_METH_ENTRIES - 1, t->m_complete, mt->mw, m.len, h,
				&mt->mdone) : 0;
	if (!mt->mdone)
		rules = pf_tok_rules(buf, m.off, m.len, h, PF_TOK_METHOD, slot, 0, ls);
	if (rules & (1ULL << (r & 63)))
		return PF_R_OK;
	return PF_R_METHOD;
}

PF_INLINE __u32 pf_check_method(const __u8 *buf, struct pf_slice m, __u32 slot,
				__u32 r, __u32 rflags, struct pf_match *mt)
{
	return pf_check_method_buf((const struct pf_buf *)buf, m.off | (__u64)m.len << 16,
				   slot | (__u64)r << 32, rflags, mt);
}

/* The request-header name of n bytes at c->tstart that the slot's name
 * table did not decide (over PF_HDR_NAME bytes, or the table incomplete):
 * its rules from pf_tokens (pf_tok_find, with the key in c). A global
 * function, called only then: inline, its hash and compare loops
 * (PF_TOKEN_MAX / 8 words each) were walked by the verifier for every
 * name pf_hdr_cb checks. Verifier workaround: the key in c, not on this
 * frame -- with it here pf_hdr_cb's call chain was over 512 bytes
 * ("combined stack size of 5 calls is 544. Too large"). */
PF_GLOBAL __u64 pf_hdr_tok_buf(const struct pf_buf *rb, __u32 n, struct pf_hdr_ctx *c)
{
	if (!rb || !c || n == 0 || n > PF_TOKEN_MAX)
		return 0;
	c->key.hash = pf_hash_buf(rb, c->tstart, n, 1);
	c->key.kind = PF_TOK_HEADER;
	c->key.slot = c->slot;
	return pf_tok_find(rb->b, c->tstart, n, &c->key, 1, &c->tmp2, 0);
}

/* One name of the list, [c->tstart, c->pos), has ended: is it allowed?
 * c->w and c->hash are its words (pf_name_scan) and home entry
 * (PF_HDR_ENTRIES: the words are not the name's).
 * Returns 1 to stop the scan (denied or over the kernel limit). */
PF_INLINE int pf_hdr_name(const __u8 *buf, struct pf_hdr_ctx *c)
{
	__u32 start = c->tstart, n = c->pos - c->tstart, is_authz;
	__u64 rules = 0;

	if (++c->ntok > c->max_tok) {
		c->reason = PF_R_ACRH_LIMIT;
		return 1;
	}
	/* the scanning loop's exit pinned n to one value per path; laundered,
	 * the look-ups below are checked once. Verifier workaround: the hash
	 * and the table's answer go to c (map memory), not the stack -- in
	 * this frame they put the TC program's deepest call chain over 512
	 * bytes ("combined stack size of 5 calls is 528. Too large") */
	n = PF_LAUNDER(c->tmp, n);
	c->done = 0;
	/* words and home valid (pf_name_scan): the table decides if it can */
	if (n <= PF_HDR_NAME && c->hash < PF_HDR_ENTRIES)
		rules = pf_hdr_find(c, n, c->hash, PF_HDRS_LOOKUP(c->slot));
	if (!c->done)
		rules = pf_hdr_tok_buf((const struct pf_buf *)buf, n, c);
	is_authz = n == 13 && pf_word_ieq(buf, start, 8, PF_LIT8("authoriz")) &&
		   pf_word_ieq(buf, start + 8, 5, PF_LIT8("ation\0\0\0"));
	if (is_authz)
		c->has_authz = 1;
	if ((rules & c->bit) || ((c->rflags & PF_RULE_ANY_HEADER) && !is_authz))
		return 0;
	c->reason = is_authz && (c->rflags & PF_RULE_ANY_HEADER) ?
		    PF_R_AUTHZ_WILDCARD : PF_R_HEADER;
	c->bad.off = (__u16)start;
	c->bad.len = (__u16)n;
	return 1;
}

/* Bytes that separate list elements: SP, HT, ','. */
PF_INLINE __u64 pf_sep64(__u64 x)
{
	return pf_eqb(x, ' ') | pf_eqb(x, '\t') | pf_eqb(x, ',');
}

/* First index in [from, lim) (lim - from <= 8 * words, words a
 * constant) whose byte is not a separator, 8 bytes at a time, or lim if
 * none; PF_SEP_COMMA added if a ',' comes before it. */
#define PF_SEP_COMMA 0x10000u
#define PF_NAME_NOKEY 0x20000u

PF_INLINE __u64 pf_scan_sep_in(const __u8 *b, __u64 from, __u64 lim, const __u32 words)
{
	__u64 x, m, cm, i, k, comma = 0;

	for (k = 0, i = from; k < words && i < lim; k++, i += 8) {
		x = pf_ld64(b + PF_M(i));
		m = ~pf_sep64(x) & PF_HIGHS;
		cm = pf_eqb(x, ',');
		if (m) {
			if (cm & ((m & -m) - 1))
				comma = PF_SEP_COMMA;
			i += pf_first_byte(m);
			break;
		}
		if (cm)
			comma = PF_SEP_COMMA;
	}
	return (i < lim ? i : lim) | comma;
}

/* The same over lim - from <= PF_SCAN_MAX, as a global function. */
PF_GLOBAL __u64 pf_scan_sep_buf(const struct pf_buf *rb, __u64 from, __u64 lim)
{
	if (!rb)
		return lim;
	return pf_scan_sep_in(rb->b, from, lim, PF_SCAN_MAX / 8);
}

/* Separator bytes pf_scan_sep scans inline (a multiple of 8): a list's
 * ", " fits; more (rare) goes to the global scan. */
#define PF_SEP_SCAN_IN 8

/* pf_scan_sep_in over lim - from <= PF_SCAN_MAX: the first
 * PF_SEP_SCAN_IN bytes inline, the rest by pf_scan_sep_buf (a comma seen
 * inline carried over). Inline over PF_SCAN_MAX, its 32 words were walked
 * by the verifier for every element pf_hdr_cb takes. */
PF_INLINE __u64 pf_scan_sep(const __u8 *b, __u64 from, __u64 lim)
{
	__u64 r, i;

	i = pf_min_nb(from + PF_SEP_SCAN_IN, lim); /* one state on: pf_min_nb */
	r = pf_scan_sep_in(b, from, i, PF_SEP_SCAN_IN / 8);
	i = r & ~(__u64)PF_SEP_COMMA;
	if (i != from + PF_SEP_SCAN_IN || i >= lim)
		return r;
	return pf_scan_sep_buf((const struct pf_buf *)b, i, lim) | (r & PF_SEP_COMMA);
}

/* A list name from b[from] (lim - from <= PF_SCAN_MAX): the first
 * non-tchar index in [from, from + PF_HDR_NAME) as pf_scan_tchar_in finds
 * it, with the words it scans stored in c->w lower-cased (from the
 * non-tchar on zeroed, the words after it too), so the table's key
 * needs no second pass over the name. Returns that index, from +
 * PF_HDR_NAME if all of those bytes are tchar (the caller scans on), or
 * the index past lim where the scan stopped (c->w then holds more than
 * the name); PF_SEP_COMMA added when it stopped at a ',' before lim (the
 * caller then needs no load of that byte). */
PF_INLINE __u64 pf_name_scan(const __u8 *b, __u64 from, __u64 lim, struct pf_hdr_ctx *c)
{
	__u64 i, k, m, f, x, lw, r;

	c->w[0] = c->w[1] = c->w[2] = c->w[3] = 0;
	for (k = 0, i = from; k < PF_HDR_NAME / 8 && i < lim; k++, i += 8) {
		x = pf_ld64(b + PF_M(i));
		/* pf_maybe_not_tchar with its letters kept: they lower-case
		 * the word as pf_lower64 does */
		m = pf_maybe_not_tchar(x);
		/* letters lower-cased (their flags moved to bit 5) */
		lw = x | (pf_inb(x | 0x2020202020202020ULL, 'a', 'z') >> 2);
		if (m) {
			f = m & -m;
			r = f & pf_eqb(x, ',');
			if (!(r | (f & pf_eqb(x, ':'))) && (f & pf_tchar_sym(x)))
				return pf_scan_tchar_buf((const struct pf_buf *)b, i, lim) |
				       PF_NAME_NOKEY;
			/* the bytes before the first non-tchar */
			c->w[k & 3] = lw & ((f >> 7) - 1);
			i += pf_first_byte(f);
			return i | (r && i < lim ? PF_SEP_COMMA : 0);
		}
		c->w[k & 3] = lw;
	}
	return i;
}

/* Elements per pf_hdr_cb call, the bpf_loop variant's (a kernel without
 * may_goto; pf_hdr_elems_buf otherwise). 1 cost that variant 70-90 ns
 * at 16 names; 4 had cost pf_tc_ingress 514k verified insns instead of 401k,
 * with no clear gain at 16 names. */
#define PF_HDR_PER_CB  2

/* The next element of the ACRH value from c->pos: one name (checked) and
 * the separator after it, or a run of separators. Returns 1 to stop the
 * scan (the end of the list, a malformed one, a name denied or over the
 * limit). The list grammar: "a, b" and "a,b" are lists of two names, "a
 * b" is malformed (after a name that SP/HT ended, a ',' must come before
 * the next one). The name scan comes first, with no test of the byte it
 * starts at: a list's names usually follow a ',' directly, and a scan
 * that stops at once finds what the test would (a separator, or a byte
 * neither tchar nor separator: malformed). The scans (8 bytes at a time)
 * are inline, not global functions: a BPF-to-BPF call's return costs
 * more than a short name's scan where returns go through a return thunk
 * (AMD's SRSO Safe RET), and with no call left in pf_hdr_cb its frame
 * may hold two elements' spills ("combined stack size of 5 calls is 528.
 * Too large" with the calls). What a scan found is laundered, so what
 * follows is verified once, not once per word it may stop at ("BPF
 * program is too large"). */
PF_INLINE long pf_hdr_elem(const __u8 *b, struct pf_hdr_ctx *c)
{
	__u64 s, t, r, end = c->end;

	s = c->pos;
	if (s >= end)
		return 1;
	c->tstart = s;
	/* a name's first PF_HDR_NAME bytes inline, its words kept for the
	 * table (pf_name_scan), the rest of a longer one by the global
	 * scan: inline over PF_SCAN_MAX, its 32 words were walked for every
	 * element (pf_hdr_cb) */
	r = pf_name_scan(b, s, end, c);
	t = r & ~(PF_SEP_COMMA | PF_NAME_NOKEY);
	if (t == s) {
		/* no name: separators (with a ',' among them after a name
		 * that SP/HT ended), the next element after them */
		s = PF_LAUNDER(c->tmp, pf_scan_sep(b, s, end));
		t = s & ~PF_SEP_COMMA;
		if (t >= end)
			return 1;
		if (t == c->tstart || (c->need_comma && !(s & PF_SEP_COMMA)))
			goto bad;
		c->pos = t;
		c->need_comma = 0;
		return 0;
	}
	if (c->need_comma) {
		t = s;
		goto bad;
	}
	/* the table's key (pf_hdr_home), unless the words are not the name
	 * (past end: no table look-up) */
	c->hash = t > end || (r & PF_NAME_NOKEY) ? PF_HDR_ENTRIES : pf_hdr_home(c->w);
	if (t == s + PF_HDR_NAME && t < end)
		r = pf_scan_tchar(b, t, end);
	/* the scan's exits bound t, s and end differently: t and end
	 * laundered, s (dead from here) read back from c->tstart by
	 * pf_hdr_name (inline scan: pf_tc_ingress 398k verified insns with s
	 * and end live, 331k laundered) */
	r = PF_LAUNDER(c->tmp, r);
	end = PF_LAUNDER(c->tmp2, end);
	t = r & ~(PF_SEP_COMMA | PF_NAME_NOKEY);
	/* no branch (pf_min_nb): "if (t > end) t = end" left two states of t
	 * that pf_hdr_cb's next element was walked once each for
	 * (pf_tc_ingress 210,421 -> 179,320 processed instructions) */
	t = pf_min_nb(t, end);
	if (!(r & PF_SEP_COMMA) && t < end && b[PF_M(t)] != ',' && b[PF_M(t)] != ' ' &&
	    b[PF_M(t)] != '\t')
		goto bad;
	c->pos = t;
	if (pf_hdr_name(b, c) || t >= end)
		return 1;
	c->need_comma = !(r & PF_SEP_COMMA) && b[PF_M(t)] != ',';
	c->pos = t + 1;
	return 0;
bad:
	c->reason = PF_R_HEADER_BAD;
	c->bad.off = (__u16)t;
	c->bad.len = 1;
	return 1;
}

/* bpf_loop callback: the next PF_HDR_PER_CB elements of the list (a
 * kernel without may_goto: see pf_hdr_elems_buf). Not unrolled: the
 * unrolled copies' spills put the frame over the stack limit above. */
PF_CALLBACK long pf_hdr_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;
	__u32 j;

	(void)idx;
#ifdef __clang__
#pragma clang loop unroll(disable)
#endif
	for (j = 0; j < PF_HDR_PER_CB; j++)
		if (pf_hdr_elem(hd->buf, hd->w))
			return 1;
	return 0;
}

#ifdef __bpf__
/* The elements of the list in c, in one open-coded loop (pf_can_loop,
 * pf_common.h): as many as pf_hdr_cb's max_len + 1 calls take (c->max_el),
 * with no callback's call and return per element -- these cost about as
 * much as a short name's check where returns go through a return thunk
 * (see pf_hdr_elem). A global function: inline, its spills put
 * pf_check_headers_buf's frame on the TC program's deepest call chain
 * over the limit ("combined stack size of 4 calls is 528. Too large");
 * here it takes the callback's place on that chain. It tests
 * pf_may_goto itself: a kernel before 6.8 verifies every global function,
 * called or not, and on one without may_goto the loop (its may_goto
 * rewritten into a conditional jump, user/kfeat.h) must be dead code
 * there too. A loop that may_goto ends before the list does leaves the
 * list to the daemon (PF_R_ACRH_LIMIT: pf_acrh_learned, or a punt):
 * the kernel never allows unchecked names. Verifier workaround: the
 * counts in map memory -- registers, known per path, had the body walked
 * once per element ("BPF program is too large"). */
PF_GLOBAL long pf_hdr_elems_buf(const struct pf_buf *rb, struct pf_hdr_ctx *c)
{
	if (!pf_may_goto || !rb || !c)
		return 0;
	while (pf_can_loop) {
		if (pf_hdr_elem(rb->b, c) ||
		    ++*(volatile __u32 *)&c->nel >= *(volatile __u32 *)&c->max_el)
			return 0;
	}
	c->reason = PF_R_ACRH_LIMIT;
	return 0;
}
#endif

/* Check Access-Control-Request-Headers against rule r, scanning at most
 * max_len bytes and max_tok names (PF_R_ACRH_LIMIT beyond); fills
 * m->acah, m->has_authz and, on a deny, m->bad. Returns a pf_reason.
 * The datapath passes PF_ACRH_MAX_LEN / PF_ACRH_MAX_TOKENS, the daemon
 * larger limits for what the datapath could not decide. */
/* (BPF functions take 5 arguments: slice | max_len << 32 and slot | rule
 * << 16 | max_tok << 32 are packed.) */
PF_GLOBAL __u32 pf_check_headers_buf(const struct pf_buf *rb, __u64 slice_lim,
				     __u64 slot_rule_tok, __u32 rflags, struct pf_match *m)
{
	struct pf_slice h = { .off = (__u16)slice_lim, .len = (__u16)(slice_lim >> 16) };
	__u32 max_len = (__u32)(slice_lim >> 32), max_tok = (__u32)(slot_rule_tok >> 32);
	__u32 slot = (__u16)slot_rule_tok, r = (__u16)(slot_rule_tok >> 16);
	struct pf_hdr_ctx *c;
	struct pf_hold hd;

	if (!rb || !m)
		return PF_R_HEADER_BAD;
	c = &m->hc;
	hd.buf = rb->b;
	hd.w = c;

	m->acah = 0;
	if (h.len == 0)
		return PF_R_OK;
	if (h.len > max_len)
		return PF_R_ACRH_LIMIT;
	__builtin_memset(c, 0, sizeof(*c));
	c->pos = h.off;
	c->end = h.off + h.len;
	c->slot = slot;
	c->rflags = rflags;
	c->bit = 1ULL << (r & 63);
	c->reason = PF_R_OK;
	c->max_tok = max_tok;
	c->max_el = PF_HDR_PER_CB * (max_len + 1);
#ifdef __bpf__
	if (pf_may_goto)
		pf_hdr_elems_buf(rb, c);
	else
#endif
	pf_loop(max_len + 1, pf_hdr_cb, &hd);
	m->has_authz = (__u8)c->has_authz;
	if (c->reason != PF_R_OK) {
		m->bad = c->bad;
		return c->reason;
	}
	if (c->ntok == 0)
		return PF_R_OK; /* only commas/whitespace: nothing to allow */
	m->acah = (rflags & PF_RULE_ANY_HEADER) && !(rflags & PF_RULE_CREDENTIALS) &&
		  !c->has_authz ? 1 : 2;
	return PF_R_OK;
}

PF_INLINE __u32 pf_check_headers(const __u8 *buf, struct pf_slice h, __u32 slot,
				 __u32 r, __u32 rflags, struct pf_match *m,
				 __u32 max_len, __u32 max_tok)
{
	return pf_check_headers_buf((const struct pf_buf *)buf,
				    h.off | (__u64)h.len << 16 | (__u64)max_len << 32,
				    slot | r << 16 | (__u64)max_tok << 32, rflags, m);
}

/* The request headers h are over the kernel's limits: take the daemon's
 * verdict for exactly this value under rule r from pf_acrh, filling
 * m->acah, m->has_authz and m->bad as pf_check_headers would. Returns
 * its pf_reason; PF_R_ACRH_SLOW when the daemon has not decided it yet
 * (m->ak is then the key to punt); PF_R_ACRH_LIMIT when the value is too
 * long for the daemon too. */
PF_INLINE __u32 pf_acrh_learned(const __u8 *buf, struct pf_slice h, __u32 slot,
				__u32 r, struct pf_match *m)
{
	const struct pf_acrh_val *v;
	__u32 n = h.len;

	if (n >= PF_ACRH_SLOW_MAX)
		return PF_R_ACRH_LIMIT;
	pf_zero64(&m->ak, sizeof(m->ak) / 8);
	m->ak.slot = slot;
	m->ak.rule = r;
	m->ak.len = n;
	/* masked: "R2 unbounded memory access" for a size the verifier
	 * cannot relate to v[] */
	pf_copy(m->ak.v, buf + PF_M(h.off), n & (PF_ACRH_SLOW_MAX - 1));
	v = PF_ACRH_LOOKUP(&m->ak);
	if (!v)
		return PF_R_ACRH_SLOW;
	m->acah = v->acah;
	m->has_authz = v->has_authz;
	m->bad.off = (__u16)(h.off + v->bad_off);
	m->bad.len = v->bad_len;
	return v->reason;
}

#endif /* PF_MATCH_ACR_H */
