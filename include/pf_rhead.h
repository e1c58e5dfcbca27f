/* Both: the HTTP/1.x response-head scanner of the response offload (issue 13); static inline for BPF and gcc. */
/*
 * pf_rhead.h -- find what the response offload needs in a response head:
 * the status, where the status line ends, the body's framing
 * (Content-Length, Transfer-Encoding), and the Vary and Access-Control-*
 * lines (whole-line slices, for removal, and their values, for shadow
 * mode's comparison).
 *
 * Input: buf with PF_REQ_BUF readable bytes of which the first n are the
 * bytes at hand (the head and maybe more); the same buffer geometry and
 * scanning primitives as the request parser (pf_http.h, pf_scan.h), so heads
 * up to PF_RHEAD_MAX bytes are looked at. Conservative like that parser:
 * anything unusual (obs-fold, a tab in a value, bare LF, conflicting
 * Content-Length, too many lines) is PF_RH_BAD and the caller leaves the
 * connection's bytes alone.
 */
#ifndef PF_RHEAD_H
#define PF_RHEAD_H

#include "pf_http.h"

enum pf_rh_res {
	PF_RH_OK = 0,
	PF_RH_INCOMPLETE,   /* the head does not end within n bytes */
	PF_RH_BAD,          /* not a response head the offload edits */
	PF_RH_TOO_LONG,     /* a line over PF_RHEAD_LINE_MAX, more than PF_MAX_LINES
			     * lines, or a head over PF_RHEAD_MAX */
};

/* Transfer-Encoding of the response. */
#define PF_RH_TE_NONE    0
#define PF_RH_TE_CHUNKED 1  /* chunked is the last coding */
#define PF_RH_TE_OTHER   2  /* body delimited by the connection's close */

/* Access-Control-* fields, index into struct pf_rhead.val and bits of
 * ac_seen (1 << index). */
enum pf_rh_ac {
	PF_RH_ACAO = 0, PF_RH_ACAC, PF_RH_ACAM, PF_RH_ACAH, PF_RH_ACMA, PF_RH_ACEH,
	PF_RH_AC_N
};

#define PF_RH_AC_MAX   8   /* Access-Control-* lines recorded */
#define PF_RH_VARY_MAX 4   /* Vary lines recorded */
#define PF_RH_RM_MAX   (PF_RH_AC_MAX + PF_RH_VARY_MAX)

/* struct pf_rhead.rm_vary: bit i set if rm[i] is a Vary line (else an
 * Access-Control-* line) */

struct pf_rhead {
	__u16 len;          /* head length incl. the final CRLF CRLF */
	__u16 status;       /* 100..999 */
	__u16 status_end;   /* first byte after the status line's CRLF */
	__u8  res;          /* enum pf_rh_res */
	__u8  te;           /* PF_RH_TE_* */
	__u8  has_clen;
	__u8  n_ac;         /* Access-Control-* lines */
	__u8  n_vary;       /* Vary lines */
	__u8  vary_origin;  /* some Vary value lists Origin or "*" */
	__u8  ac_seen;      /* bit (1 << enum pf_rh_ac) per field present */
	__u8  done;         /* work: the blank line was found */
	__u16 pad;
	__u64 clen;         /* Content-Length (has_clen) */
	__u8  n_rm;         /* lines in rm[] */
	__u8  pad2;
	__u16 rm_vary;      /* bit i: rm[i] is a Vary line */
	/* the Access-Control-* and Vary lines, whole (incl. CRLF), in the
	 * order of the head: what the offload may remove */
	struct pf_slice rm[PF_RH_RM_MAX];
	struct pf_slice vary_val[PF_RH_VARY_MAX];/* the Vary values, trimmed */
	struct pf_slice val[PF_RH_AC_N];         /* first value of each field */
	/* scanner work area (map memory in the kernel, see PF_LAUNDER) */
	__u32 pos, n, tmp[4];
};

/* Does the Vary value [off, off+len) (len <= 128) list "*" or "origin"
 * (any case)? Elements are separated by ',' and optional whitespace.
 * 8 bytes a step (the unit tier's byte-loop reference: test_vary_words): per word, the bytes that
 * start an element (not a separator, the byte before one or the value's
 * start) and are '*', 'o' or 'O' are the candidates; each is checked by
 * one word compare and the byte after it. Bytes past len count as
 * separators (they may be read, never change the answer). A global
 * function: verified once; the bpf_loop callback a byte it replaced was
 * most of the time of a head with a Vary of several elements. */
PF_GLOBAL int pf_rh_vary_words(const struct pf_buf *rb, __u64 off, __u64 len)
{
	__u64 x, y, sep, starts, cand, carry = 0x80, i, k, j, e;
	const __u8 *b;

	if (!rb || len > 128)
		return 0;
	b = rb->b;
	for (k = 0; k < 16 && 8 * k < len; k++) {
		x = pf_ld64(b + PF_M(off + 8 * k));
		sep = pf_eqb(x, ',') | pf_eqb(x, ' ') | pf_eqb(x, '\t') |
		      (~pf_low_bytes(len - 8 * k < 8 ? (__u32)(len - 8 * k) : 8) & PF_HIGHS);
		/* each byte's predecessor a separator: sep shifted up a byte,
		 * the previous word's last byte (or the value's start) in */
		starts = ~sep & ((sep << 8) | carry) & PF_HIGHS;
		carry = sep >> 56;
		cand = starts & (pf_eqb(x | 0x2020202020202020ULL, 'o') | pf_eqb(x, '*'));
		for (j = 0; j < 8 && cand; j++) {
			i = 8 * k + pf_first_byte(cand);
			cand &= cand - 1;
			y = pf_ld64(b + PF_M(off + i));
			/* the element's length e: "*" is 1, "origin" 6 */
			if ((y & 0xff) == '*')
				e = 1;
			else if (((y | 0x2020202020202020ULL) & pf_low_bytes(6)) ==
				 PF_LIT8("origin\0\0") && i + 6 <= len)
				e = 6;
			else
				continue;
			/* ends there: at the value's end or a separator */
			if (i + e == len)
				return 1;
			y = (y >> (8 * e)) & 0xff;
			if (y == ',' || y == ' ' || y == '\t')
				return 1;
		}
	}
	return 0;
}

/* A Vary value [off, off+len) of one element of up to 16 bytes (no ',',
 * SP or HTAB in it: nginx's "Accept-Encoding"), decided 8 bytes a step:
 * 1 if it is "*" or "origin" (any case), 0 if not; -1 for another value
 * (pf_rh_vary_words decides). The loop's run per Vary
 * line was a twentieth of the SK_MSG program's time. */
PF_INLINE int pf_rh_vary_one(const __u8 *b, __u32 off, __u32 len)
{
	__u64 w0, w1 = 0, m;

	if (len == 0 || len > 16)
		return -1;
	/* (masked words, not pf_eq_words: the separator test below needs
	 * the value's words, and the compares are to 1 or 6 bytes of a
	 * literal, one word each) */
	w0 = pf_ld64(b + PF_M(off)) & pf_low_bytes(len < 8 ? len : 8);
	if (len > 8)
		w1 = pf_ld64(b + PF_M(off + 8)) & pf_low_bytes(len - 8);
	/* a separator (the bytes past len are zero: none of these) */
	m = pf_eqb(w0, ',') | pf_eqb(w0, ' ') | pf_eqb(w0, '\t') |
	    pf_eqb(w1, ',') | pf_eqb(w1, ' ') | pf_eqb(w1, '\t');
	if (m)
		return -1;
	if (len == 1)
		return w0 == '*';
	return len == 6 && pf_lower64(w0) == PF_LIT8("origin\0\0");
}

/* Which Access-Control-* field is the name [off, off+n) (known to start
 * with "access-control-", all tchar: pf_word_ieq's folding is exact)?
 * PF_RH_AC_N for another one. */
PF_INLINE __u32 pf_rh_ac_field(const __u8 *b, __u32 off, __u32 n)
{
	off += 15;
	switch (n - 15) {
	case 12:
		return pf_word_ieq(b, off, 8, PF_LIT8("allow-or")) &&
		       pf_word_ieq(b, off + 8, 4, PF_LIT8("igin\0\0\0\0")) ? PF_RH_ACAO : PF_RH_AC_N;
	case 17:
		return pf_word_ieq(b, off, 8, PF_LIT8("allow-cr")) &&
		       pf_word_ieq(b, off + 8, 8, PF_LIT8("edential")) &&
		       pf_word_ieq(b, off + 16, 1, PF_LIT8("s\0\0\0\0\0\0\0")) ? PF_RH_ACAC : PF_RH_AC_N;
	case 13:
		if (!pf_word_ieq(b, off, 6, PF_LIT8("allow-\0\0")))
			return PF_RH_AC_N;
		return pf_word_ieq(b, off + 6, 7, PF_LIT8("methods\0")) ? PF_RH_ACAM :
		       pf_word_ieq(b, off + 6, 7, PF_LIT8("headers\0")) ? PF_RH_ACAH : PF_RH_AC_N;
	case 7:
		return pf_word_ieq(b, off, 7, PF_LIT8("max-age\0")) ? PF_RH_ACMA : PF_RH_AC_N;
	case 14:
		return pf_word_ieq(b, off, 8, PF_LIT8("expose-h")) &&
		       pf_word_ieq(b, off + 8, 6, PF_LIT8("eaders\0\0")) ? PF_RH_ACEH : PF_RH_AC_N;
	}
	return PF_RH_AC_N;
}

/* A header line [pos, end + 2) with name [pos, colon) and trimmed value
 * [vs, ve): record what the offload needs. Returns a pf_rh_res. */
PF_INLINE int pf_rh_take(const __u8 *b, struct pf_rhead *h, __u32 pos, __u32 colon,
			 __u32 vs, __u32 ve, __u32 end)
{
	struct pf_slice line = { .off = (__u16)pos, .len = (__u16)(end + 2 - pos) };
	struct pf_slice v = { .off = (__u16)vs, .len = (__u16)(ve - vs) };
	__u32 n = colon - pos, i, f;
	__u64 cl = 0, w;
	__u8 c;

	/* The name is all tchar (pf_rh_line): its first word, OR 0x20, is
	 * compared whole with the names we use (pf_word_ieq's folding), so
	 * Server, Date, Content-Type and the like are passed over after a
	 * length test or one compare -- a byte loop per name was a tenth
	 * of the scan */
	w = pf_ld64(b + PF_M(pos)) | 0x2020202020202020ULL;
	if (n == 14 && w == PF_LIT8("content-") &&
	    pf_word_ieq(b, pos + 8, 6, PF_LIT8("length\0\0"))) {
		if (v.len == 0 || v.len > 15)
			return PF_RH_BAD;
		for (i = 0; i < 15 && i < v.len; i++) {
			c = b[PF_M(vs + i)];
			if (c < '0' || c > '9')
				return PF_RH_BAD;
			cl = cl * 10 + (c - '0');
		}
		if (h->has_clen && h->clen != cl)
			return PF_RH_BAD;
		h->has_clen = 1;
		h->clen = cl;
	} else if (n == 17 && w == PF_LIT8("transfer") &&
		   pf_word_ieq(b, pos + 8, 8, PF_LIT8("-encodin")) &&
		   pf_word_ieq(b, pos + 16, 1, PF_LIT8("g\0\0\0\0\0\0\0"))) {
		/* the last coding decides: "chunked" at the end of the value */
		h->te = v.len >= 7 && pf_name_eq(b, ve - 7, "chunked", 7) &&
			(v.len == 7 || b[PF_M(ve - 8)] == ',' || b[PF_M(ve - 8)] == ' ') ?
			PF_RH_TE_CHUNKED : PF_RH_TE_OTHER;
	} else if (n == 4 && (w & 0xffffffffULL) == PF_LIT8("vary\0\0\0\0")) {
		if (h->n_vary >= PF_RH_VARY_MAX || v.len > 128)
			return PF_RH_BAD;
		h->vary_val[h->n_vary & (PF_RH_VARY_MAX - 1)] = v;
		h->n_vary++;
		h->rm_vary |= 1u << (h->n_rm & 15);
		h->rm[h->n_rm & 15] = line;
		h->n_rm++;
		f = (__u32)pf_rh_vary_one(b, vs, v.len);
		if (f == 1 || (f != 0 && pf_rh_vary_words((const struct pf_buf *)b, vs, v.len)))
			h->vary_origin = 1;
	} else if (n > 15 && n < 40 && w == PF_LIT8("access-c") &&
		   pf_word_ieq(b, pos + 8, 7, PF_LIT8("ontrol-\0"))) {
		if (h->n_ac >= PF_RH_AC_MAX)
			return PF_RH_BAD;
		h->n_ac++;
		h->rm[h->n_rm & 15] = line;
		h->n_rm++;
		f = pf_rh_ac_field(b, pos, n);
		if (f < PF_RH_AC_N && !(h->ac_seen & (1u << f))) {
			h->ac_seen |= 1u << f;
			h->val[f] = v;
		}
	}
	return PF_RH_OK;
}

/* Value bytes pf_rh_line scans inline (pf_scan_split): a called scan's
 * return per line cost more than a short value's scan (most of a
 * response's values are under 64 bytes). */
#define PF_RH_SCAN_IN 64

/* The header line at h->pos. Returns 1 (stop) at the blank line or on a
 * result other than PF_RH_OK (in h->res). */
PF_INLINE long pf_rh_line(const __u8 *b, struct pf_rhead *h)
{
	__u32 pos = h->pos, n = h->n, i, lim, colon, vs, ve, end;
	__u8 ch;
	int res;

	if (pos + 2 > n) {
		h->res = PF_RH_INCOMPLETE;
		return 1;
	}
	ch = b[PF_M(pos)];
	if (ch == '\r') {
		if (b[PF_M(pos + 1)] != '\n') {
			h->res = PF_RH_BAD;
			return 1;
		}
		h->len = (__u16)(pos + 2);
		h->done = 1;
		return 1;
	}
	/* field-name: tchar+ then ':' (names we use are under 40 bytes),
	 * 8 bytes a step (a byte a step was most of the scan's time) */
	lim = n < pos + 64 ? n : pos + 64;
	colon = PF_LAUNDER(h->tmp[0], pf_scan_tchar_in(b, pos, lim, 64 / 8));
	if (colon >= n) {
		h->res = PF_RH_INCOMPLETE;
		return 1;
	}
	if (colon == pos || b[PF_M(colon)] != ':') {
		/* obs-fold (SP/HT first) and other oddities */
		h->res = colon - pos == 64 ? PF_RH_TOO_LONG : PF_RH_BAD;
		return 1;
	}
	lim = n < colon + 1 + PF_RHEAD_LINE_MAX ? n : colon + 1 + PF_RHEAD_LINE_MAX;
	end = PF_LAUNDER(h->tmp[1], pf_scan_split(b, colon + 1, lim, 0x20, PF_RH_SCAN_IN));
	if (end >= n || end + 1 >= n) {
		h->res = PF_RH_INCOMPLETE;
		return 1;
	}
	if (end >= colon + 1 + PF_RHEAD_LINE_MAX) {
		h->res = PF_RH_TOO_LONG;
		return 1;
	}
	/* bare LF, NUL, HT and other CTLs: left alone */
	if (b[PF_M(end)] != '\r' || b[PF_M(end + 1)] != '\n') {
		h->res = PF_RH_BAD;
		return 1;
	}
	/* trim up to 16 SP on each side; the usual value, one SP or none
	 * before it and none after it, takes no loop (the same slice) */
	vs = colon + 1;
	ve = end;
	if (vs < ve && b[PF_M(vs)] == ' ')
		vs++;
	if (vs < ve && (b[PF_M(vs)] == ' ' || b[PF_M(ve - 1)] == ' ')) {
		vs = colon + 1;
		for (i = 0; i < 16 && vs < ve && b[PF_M(vs)] == ' '; i++)
			vs++;
		vs = PF_LAUNDER(h->tmp[2], vs);
		for (i = 0; i < 16 && ve > vs && b[PF_M(ve - 1)] == ' '; i++)
			ve--;
	}
	vs = PF_LAUNDER(h->tmp[2], vs);
	ve = PF_LAUNDER(h->tmp[3], ve);
	res = pf_rh_take(b, h, pos, colon, vs, ve, end);
	if (res != PF_RH_OK) {
		h->res = (__u8)res;
		return 1;
	}
	h->pos = end + 2;
	return 0;
}

/* bpf_loop callback: the next PF_LINES_PER_CB header lines (pf_rh_line):
 * the same PF_MAX_LINES lines in fewer calls and returns. */
PF_CALLBACK long pf_rh_line_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;
	__u32 k;

	(void)idx;
	for (k = 0; k < PF_LINES_PER_CB; k++)
		if (pf_rh_line(hd->buf, hd->w))
			return 1;
	return 0;
}

/* Scan the response head at the start of buf (n bytes at hand). Returns
 * (and stores in h->res) PF_RH_OK with h filled, or why not. */
PF_INLINE int pf_rhead_scan(const __u8 *buf, __u32 n, struct pf_rhead *h)
{
	struct pf_hold hd = { .buf = buf, .w = h };
	__u32 i, end, lim;
	__u64 w;
	__u8 c;

	__builtin_memset(h, 0, sizeof(*h));
	if (n > PF_RHEAD_MAX)
		n = PF_RHEAD_MAX;
	h->n = n;
	/* "HTTP/1.1 " or "HTTP/1.0 ": a prefix of it is incomplete. The
	 * first 8 bytes as one word (a byte loop was a tenth of a short
	 * head's scan), "1.0" compared as "1.1"; a mismatch within the n
	 * bytes at hand is bad, as before */
	/* (not pf_eq_words: the word is compared after the "1.0" fix-up,
	 * and the helper reads it from memory -- two compares, one per
	 * version, for one) */
	w = pf_ld64(buf);
	if ((w >> 56) == '0')
		w ^= (__u64)('0' ^ '1') << 56;
	if ((w ^ PF_LIT8("HTTP/1.1")) & pf_low_bytes(n < 8 ? n : 8)) {
		h->res = PF_RH_BAD;
		return h->res;
	}
	if (n < 9) {
		h->res = PF_RH_INCOMPLETE;
		return h->res;
	}
	if (buf[8] != ' ') {
		h->res = PF_RH_BAD;
		return h->res;
	}
	if (n < 13) {
		h->res = PF_RH_INCOMPLETE;
		return h->res;
	}
	for (i = 9; i < 12; i++) {
		c = buf[i];
		if (c < '0' || c > '9') {
			h->res = PF_RH_BAD;
			return h->res;
		}
		h->status = (__u16)(h->status * 10 + (c - '0'));
	}
	if (h->status < 100 || (buf[12] != ' ' && buf[12] != '\r')) {
		h->res = PF_RH_BAD;
		return h->res;
	}
	/* the reason phrase up to CRLF */
	lim = n < 12 + PF_RHEAD_LINE_MAX ? n : 12 + PF_RHEAD_LINE_MAX;
	end = PF_LAUNDER(h->tmp[0], pf_scan_ctl(buf, 12, lim, 0x20));
	if (end + 1 >= n) {
		h->res = end >= 12 + PF_RHEAD_LINE_MAX ? PF_RH_TOO_LONG : PF_RH_INCOMPLETE;
		return h->res;
	}
	if (buf[PF_M(end)] != '\r' || buf[PF_M(end + 1)] != '\n') {
		h->res = PF_RH_BAD;
		return h->res;
	}
	h->status_end = (__u16)(end + 2);
	h->pos = end + 2;
	h->res = PF_RH_OK;
	pf_loop(PF_MAX_LINES / PF_LINES_PER_CB, pf_rh_line_cb, &hd);
	if (h->res == PF_RH_OK && !h->done)
		h->res = PF_RH_TOO_LONG;
	if (h->res == PF_RH_INCOMPLETE && n == PF_RHEAD_MAX)
		h->res = PF_RH_TOO_LONG;
	return h->res;
}

#endif /* PF_RHEAD_H */
