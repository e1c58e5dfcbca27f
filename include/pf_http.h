/* Both: the HTTP/1.x preflight parser, static inline for clang -target bpf and gcc. */
/*
 * pf_http.h -- recognise a complete CORS preflight in one buffer.
 *
 * Input: buf with PF_REQ_BUF readable bytes (a per-CPU map value in the
 * kernel, a plain array in userspace), of which the first len are the TCP
 * payload. Output: struct pf_req with (offset, length) slices into buf.
 * Every index is masked with PF_REQ_MAX - 1, which is how the verifier
 * knows each access is in bounds; logical bounds are checked against len.
 * struct pf_req must itself live in map memory in the kernel (see
 * PF_LAUNDER in pf_common.h).
 *
 * The parser is conservative: anything it is not sure about yields a
 * result other than PF_P_OK and the request goes to the app unchanged.
 */
#ifndef PF_HTTP_H
#define PF_HTTP_H

#include "pf_common.h"
#include "pf_scan.h"

enum pf_parse_res {
	PF_P_OK = 0,
	PF_P_NOT_OPTIONS,   /* not "OPTIONS " */
	PF_P_PLAIN_OPTIONS, /* OPTIONS without Origin or ACRM */
	PF_P_INCOMPLETE,    /* no end of header block in this segment */
	PF_P_TOO_LONG,      /* too many or too long lines */
	PF_P_BAD,           /* malformed request line or header */
	PF_P_VERSION,       /* not HTTP/1.1, or Upgrade */
	PF_P_CONN_CLOSE,    /* Connection: close */
	PF_P_BODY,          /* Content-Length != 0 or Transfer-Encoding */
	PF_P_DUP,           /* repeated Host/Origin/ACRM/ACRH/ACRPN/Content-Length */
	PF_P_OBS_FOLD,      /* header line starting with SP/HT */
	PF_P_PIPELINED,     /* bytes after the header block */
};

struct pf_slice {
	__u16 off;
	__u16 len;
};

#define PF_REQF_PATH_UNNORM (1u << 0) /* %, //, /./, /../ or backslash */
/* pf_parse_head (response offload, issue 13): any request, not only a
 * preflight; the body's framing is recorded instead of refused (its mode
 * is a constant of each pf_line call site, not a flag: pf_take_header). */
#define PF_REQF_M_HEAD      (1u << 2) /* method HEAD: the response has no body */
#define PF_REQF_M_OPTIONS   (1u << 3) /* method OPTIONS */
#define PF_REQF_UPGRADE     (1u << 4) /* Upgrade header or CONNECT */
#define PF_REQF_TE          (1u << 5) /* Transfer-Encoding present */
#define PF_REQF_CLEN        (1u << 6) /* Content-Length present (in clen) */

/* Parser work area (inside struct pf_req, so in map memory in the kernel). */
struct pf_parse_ctx {
	__u32 len;      /* payload bytes in buf */
	__u32 pos;      /* start of the next header line */
	__u32 done;     /* 1: end of header block found */
	__u32 res;      /* enum pf_parse_res once an error is found */
	__u32 tmp[4];   /* PF_LAUNDER slots */
	__u32 nl;       /* header lines looked at (pf_lines_buf) */
	__u32 pad;
};

struct pf_req {
	__u16 len;               /* request length incl. the final CRLF CRLF */
	__u16 flags;             /* PF_REQF_* */
	struct pf_slice path;    /* request-target (origin-form) */
	struct pf_slice host;    /* Host value, trimmed */
	struct pf_slice origin;  /* Origin value, trimmed */
	struct pf_slice acrm;    /* Access-Control-Request-Method */
	struct pf_slice acrh;    /* Access-Control-Request-Headers */
	struct pf_slice acrpn;   /* Access-Control-Request-Private-Network */
	__u8 seen;               /* PF_SEEN_* bits */
	__u8 res;                /* enum pf_parse_res */
	__u16 pad;
	__u32 clen;              /* pf_parse_head: Content-Length value */
	struct pf_slice conn;    /* pf_parse: Connection value, trimmed */
	struct pf_parse_ctx pc;  /* parser work area */
};

#define PF_SEEN_HOST   (1u << 0)
#define PF_SEEN_ORIGIN (1u << 1)
#define PF_SEEN_ACRM   (1u << 2)
#define PF_SEEN_ACRH   (1u << 3)
#define PF_SEEN_ACRPN  (1u << 4)
#define PF_SEEN_CLEN   (1u << 5)
#define PF_SEEN_CONN   (1u << 6)

/* What makes an OPTIONS request r a CORS preflight (Fetch): an Origin
 * and an Access-Control-Request-Method. The one definition: the answer
 * path's (pf_parse, whose request line is OPTIONS: anything else is
 * PF_P_PLAIN_OPTIONS) and, through pf_is_preflight, the response
 * offload's. */
PF_INLINE int pf_preflight_fields(const struct pf_req *r)
{
	return (r->seen & (PF_SEEN_ORIGIN | PF_SEEN_ACRM)) == (PF_SEEN_ORIGIN | PF_SEEN_ACRM);
}

/* Is the request head r (parsed by pf_parse_head) a CORS preflight? The
 * response offload leaves the app's answer to one the answer path passed
 * to it as the app wrote it (pf_ofl_entry). */
PF_INLINE int pf_is_preflight(const struct pf_req *r)
{
	return (r->flags & PF_REQF_M_OPTIONS) && pf_preflight_fields(r);
}


/* Known header names, identified by length then bytes. */
enum pf_hdr {
	PF_H_OTHER = 0, PF_H_HOST, PF_H_ORIGIN, PF_H_ACRM, PF_H_ACRH,
	PF_H_ACRPN, PF_H_CLEN, PF_H_TE, PF_H_CONN, PF_H_UPGRADE,
};

/* The header name b[off..off+n) (all tchar), by masked word compares. */
PF_INLINE int pf_classify(const __u8 *b, __u32 off, __u32 n)
{
	switch (n) {
	case 4:
		return pf_word_ieq(b, off, 4, PF_LIT8("host\0\0\0\0")) ? PF_H_HOST : PF_H_OTHER;
	case 6:
		return pf_word_ieq(b, off, 6, PF_LIT8("origin\0\0")) ? PF_H_ORIGIN : PF_H_OTHER;
	case 7:
		return pf_word_ieq(b, off, 7, PF_LIT8("upgrade\0")) ? PF_H_UPGRADE : PF_H_OTHER;
	case 10:
		return pf_word_ieq(b, off, 8, PF_LIT8("connecti")) &&
		       pf_word_ieq(b, off + 8, 2, PF_LIT8("on\0\0\0\0\0\0")) ?
		       PF_H_CONN : PF_H_OTHER;
	case 14:
		return pf_word_ieq(b, off, 8, PF_LIT8("content-")) &&
		       pf_word_ieq(b, off + 8, 6, PF_LIT8("length\0\0")) ?
		       PF_H_CLEN : PF_H_OTHER;
	case 17:
		return pf_word_ieq(b, off, 8, PF_LIT8("transfer")) &&
		       pf_word_ieq(b, off + 8, 8, PF_LIT8("-encodin")) &&
		       pf_word_ieq(b, off + 16, 1, PF_LIT8("g\0\0\0\0\0\0\0")) ?
		       PF_H_TE : PF_H_OTHER;
	case 29:
	case 30:
	case 38:
		/* "access-control-request-" and what follows */
		if (!pf_word_ieq(b, off, 8, PF_LIT8("access-c")) ||
		    !pf_word_ieq(b, off + 8, 8, PF_LIT8("ontrol-r")) ||
		    !pf_word_ieq(b, off + 16, 7, PF_LIT8("equest-\0")))
			return PF_H_OTHER;
		if (n == 29)
			return pf_word_ieq(b, off + 23, 6, PF_LIT8("method\0\0")) ?
			       PF_H_ACRM : PF_H_OTHER;
		if (n == 30)
			return pf_word_ieq(b, off + 23, 7, PF_LIT8("headers\0")) ?
			       PF_H_ACRH : PF_H_OTHER;
		return pf_word_ieq(b, off + 23, 8, PF_LIT8("private-")) &&
		       pf_word_ieq(b, off + 31, 7, PF_LIT8("network\0")) ?
		       PF_H_ACRPN : PF_H_OTHER;
	}
	return PF_H_OTHER;
}

/* The byte loop of pf_has_close over [off, off+n) (n <= 64): a rolling
 * 40-bit window, one branch a byte. A global function, called only for a
 * value with a 'c' (or 'C') in it -- "close", rarely anything else:
 * inline, its 64 steps were walked by the verifier in pf_decide for every
 * state reaching them (~11k of pf_tc_ingress's processed instructions). */
PF_GLOBAL __u32 pf_close_scan_buf(const struct pf_buf *rb, __u64 off, __u64 n)
{
	__u64 w = 0;
	__u32 i;

	if (!rb)
		return 1;
	/* constant loop bound, variable break: clang may test n on another
	 * register, leaving the verifier an unbounded loop ("The sequence
	 * of 8193 jumps is too complex") */
	for (i = 0; i < 64; i++) {
		if (i >= n)
			break;
		w = ((w << 8) | (rb->b[PF_M(off + i)] | 0x20)) & 0xffffffffffULL;
		if (w == 0x636c6f7365ULL) /* "close" */
			return 1;
	}
	return 0;
}

/* Does the value [off, off+n) contain "close" (any case)? Conservative:
 * "Connection: keep-alive, close", odd tokens containing it, values over
 * 64 bytes and the few non-letters that OR 0x20 into "close" all pass the
 * request to the app. pf_parse calls it once, after the header block (not
 * in pf_line: there its two loops were walked by the verifier in each of
 * pf_line_cb's copies of the line and every state reaching them, ~80k of
 * pf_tc_ingress's 500k processed instructions on 6.18.44; a global
 * function instead costs the answer a call and its return -- so only the
 * byte loop is one, pf_close_scan_buf, for a value with a 'c'). */
PF_INLINE int pf_has_close(const __u8 *buf, __u32 off, __u32 n)
{
	__u32 i;

	if (n > 64)
		return 1;
	/* most values ("keep-alive") have no 'c' or 'C' (OR 0x20: 'c'),
	 * which any match starts with: 8 bytes at a time, no byte loop */
	for (i = 0; i < 64; i += 8) {
		if (i >= n)
			return 0;
		if (pf_eqb(pf_ld64(buf + PF_M(off + i)) | 0x2020202020202020ULL, 'c') &
		    pf_low_bytes(n - i < 8 ? n - i : 8) & PF_HIGHS)
			break;
	}
	return (int)pf_close_scan_buf((const struct pf_buf *)buf, off, n);
}

/* pf_parse_head: a Content-Length value (1..9 digits; repeated only with
 * the same value, RFC 9112 6.3) into r->clen; anything else is PF_P_BAD. */
PF_INLINE int pf_take_clen(const __u8 *buf, struct pf_req *r, __u32 voff, __u32 vlen)
{
	__u32 i, v = 0;
	__u8 c;

	if (vlen == 0 || vlen > 9)
		return PF_P_BAD;
	for (i = 0; i < 9 && i < vlen; i++) {
		c = buf[PF_M(voff + i)];
		if (c < '0' || c > '9')
			return PF_P_BAD;
		v = v * 10 + (c - '0');
	}
	if ((r->flags & PF_REQF_CLEN) && r->clen != v)
		return PF_P_BAD;
	r->flags |= PF_REQF_CLEN;
	r->clen = v;
	return PF_P_OK;
}

/* Record a header we care about; returns a pf_parse_res. any (a
 * constant): the mode of pf_parse_head and pf_parse_interim (any request
 * head), else pf_parse's -- a constant and not a flag in r, so that the
 * verifier walks in each parser only the code its mode runs (pf_parse's
 * copies of pf_line: pf_take_clen, TE and Upgrade gone). */
PF_INLINE int pf_take_header(const __u8 *buf, struct pf_req *r, int h, __u32 voff,
			      __u32 vlen, const bool any)
{
	struct pf_slice s = { .off = (__u16)voff, .len = (__u16)vlen };
	__u8 bit;

	switch (h) {
	case PF_H_HOST:   bit = PF_SEEN_HOST;   break;
	case PF_H_ORIGIN: bit = PF_SEEN_ORIGIN; break;
	case PF_H_ACRM:   bit = PF_SEEN_ACRM;   break;
	case PF_H_ACRH:   bit = PF_SEEN_ACRH;   break;
	case PF_H_ACRPN:  bit = PF_SEEN_ACRPN;  break;
	case PF_H_CLEN:
		if (any)
			return pf_take_clen(buf, r, voff, vlen);
		if (vlen != 1 || buf[PF_M(voff)] != '0')
			return PF_P_BODY;
		bit = PF_SEEN_CLEN; /* twice: nginx answers 400, so must the app */
		break;
	case PF_H_TE:
		if (any) {
			r->flags |= PF_REQF_TE;
			return PF_P_OK;
		}
		return PF_P_BODY;
	case PF_H_CONN:
		if (any)
			return PF_P_OK;
		/* its value is looked at after the header block (pf_parse);
		 * a second Connection line goes to the app */
		if (r->seen & PF_SEEN_CONN)
			return PF_P_CONN_CLOSE;
		r->seen |= PF_SEEN_CONN;
		r->conn = s;
		return PF_P_OK;
	case PF_H_UPGRADE:
		if (any) {
			r->flags |= PF_REQF_UPGRADE;
			return PF_P_OK;
		}
		return PF_P_VERSION;
	default:
		return PF_P_OK;
	}
	if (r->seen & bit)
		return PF_P_DUP;
	r->seen |= bit;
	switch (h) {
	case PF_H_HOST:   r->host = s;   break;
	case PF_H_ORIGIN: r->origin = s; break;
	case PF_H_ACRM:   r->acrm = s;   break;
	case PF_H_ACRH:   r->acrh = s;   break;
	case PF_H_ACRPN:  r->acrpn = s;  break;
	default:          break;
	}
	return PF_P_OK;
}

/* Parse the header line starting at pc.pos: the name (tchar+, at most 63
 * bytes) and ':' by pf_scan_tchar, the value up to the first control byte
 * (which must be CR LF) by pf_scan_ctl, both 8 bytes at a time. Returns 1
 * (stop) at the end of the header block or on error.
 * any (a constant): pf_parse_head's mode (pf_take_header), its scans
 * called as global functions; otherwise pf_parse's, its scans inline --
 * the same results. On the answer path (pf_parse) a BPF-to-BPF call and
 * its return cost more than a short line's scan (returns go through the
 * kernel's return thunk where a CPU needs one, e.g. SRSO's Safe RET); but
 * inline, each scan's loop is walked by the verifier at every call site,
 * which costs the other parsers (pf_parse_head, pf_parse_interim) more
 * verification time than their calls cost them. The results are
 * laundered: the rest of the line is verified once, not once per word a
 * scan may stop at ("BPF program is too large"). */
#define PF_SCAN_IN 128 /* value bytes pf_line scans inline */

/* pf_trim's answer for a value with more than 16 blanks at an end. */
#define PF_TRIM_BAD (~0ULL)

/* The value [vs, ve) (vs <= ve < 2^32) with its OWS trimmed on both
 * sides, as vs | ve << 32, or PF_TRIM_BAD when still blank at either end
 * after 16 blanks (malformed enough). r->pc.tmp: PF_LAUNDER slots. A
 * global function, which pf_line calls only for a value with a blank
 * after its one leading SP or at its end (rare): inline, its two loops
 * were walked by the verifier in every copy of pf_line and every state
 * reaching them (pf_tc_ingress 395k -> 365k processed instructions; the
 * programs must stay far from "BPF program is too large. Processed
 * 1000001 insn"). */
PF_GLOBAL __u64 pf_trim(const struct pf_buf *rb, struct pf_req *r, __u64 vs, __u64 ve)
{
	const __u8 *b;
	__u64 i;
	__u8 ch;

	if (!rb || !r)
		return PF_TRIM_BAD;
	b = rb->b;
	for (i = 0; i < 16 && vs < ve; i++) {
		ch = b[PF_M(vs)];
		if (ch != ' ' && ch != '\t')
			break;
		vs++;
	}
	/* each loop exit tells the verifier something else about vs and
	 * ve: laundered after each loop, what follows is checked once */
	vs = PF_LAUNDER(r->pc.tmp[2], vs);
	ve = PF_LAUNDER(r->pc.tmp[3], ve);
	for (i = 0; i < 16 && ve > vs; i++) {
		ch = b[PF_M(ve - 1)];
		if (ch != ' ' && ch != '\t')
			break;
		ve--;
	}
	ve = PF_LAUNDER(r->pc.tmp[3], ve);
	/* still blank at either end: more than 16 blanks, refused */
	if (vs < ve && (b[PF_M(vs)] == ' ' || b[PF_M(vs)] == '\t' ||
			b[PF_M(ve - 1)] == ' ' || b[PF_M(ve - 1)] == '\t'))
		return PF_TRIM_BAD;
	return vs | ve << 32;
}

/* The header line at pos (pos + 2 <= len) whose first byte is no tchar
 * (pf_line): the blank line ending the header block (CR LF: r->len and
 * pc.done set), obs-fold (SP or HT), anything else PF_P_BAD. Returns 1
 * (stop). */
PF_INLINE long pf_line_start(const __u8 *b, struct pf_req *r, __u64 pos)
{
	struct pf_parse_ctx *c = &r->pc;
	__u8 ch = b[PF_M(pos)];

	if (ch == '\r') {
		if (b[PF_M(pos + 1)] != '\n') {
			c->res = PF_P_BAD;
			return 1;
		}
		r->len = (__u16)(pos + 2);
		c->done = 1;
		return 1;
	}
	c->res = ch == ' ' || ch == '\t' ? PF_P_OBS_FOLD : PF_P_BAD;
	return 1;
}

PF_INLINE long pf_line(const __u8 *b, struct pf_req *r, const bool any)
{
	struct pf_parse_ctx *c = &r->pc;
	__u64 pos = c->pos, len = c->len, i, colon, vs, ve, end;
	int h, res;
	__u32 w, tail;
	__u8 ch;

	if (pos + 2 > len) {
		c->res = PF_P_INCOMPLETE;
		return 1;
	}
	/* a name's first byte is above SP: one test for the usual line
	 * (inline, pf_parse: none -- the name scan stops at once at a CTL
	 * or SP, found below as an empty name) */
	if (any && b[PF_M(pos)] <= ' ')
		return pf_line_start(b, r, pos);
	/* field-name: tchar+ then ':' (no name we care about is 64 bytes).
	 * Inline (pf_parse) the scan's stop is not clamped to the limit:
	 * the tests below find the same (pf_scan_tchar_fast) */
	i = PF_LAUNDER(c->tmp[0], any ? pf_scan_tchar(b, pos, pf_min_nb(len, pos + 64)) :
					pf_scan_tchar_fast(b, pos, len, 64 / 8));
	/* pos and len read again from c (unchanged): the scan's loop test
	 * (i < lim, lim a copy of len or pos + 64) bounded both anew at each
	 * word it may stop at, and the rest of the line was walked by the
	 * verifier once per exit; read back they are unknown scalars and it
	 * is walked once (pf_tc_ingress 331k -> 314k processed instructions:
	 * "BPF program is too large. Processed 1000001 insn" is what the
	 * programs must stay far from). The inline scan has neither test
	 * nor clamp now, but kept live across it they cost spills and the
	 * walk more (171k -> 179k) */
	pos = *(volatile __u32 *)&c->pos;
	len = *(volatile __u32 *)&c->len;
	if (i >= len) {
		c->res = PF_P_INCOMPLETE;
		return 1;
	}
	if (i == pos)
		return pf_line_start(b, r, pos);
	if (b[PF_M(i)] != ':') {
		c->res = PF_P_BAD;
		return 1;
	}
	colon = i;
	/* field-value up to CRLF; NUL, bare CR/LF and other CTLs are bad */
	if (any) {
		i = pf_scan_ctl(b, colon + 1, pf_min_nb(len, colon + 1 + PF_LINE_MAX), 0x20);
	} else {
		/* pf_scan_split(b, colon + 1, min(len, colon + 1 +
		 * PF_LINE_MAX), 0x20, PF_SCAN_IN)'s result for the tests
		 * below: the first PF_SCAN_IN bytes inline, the rest of a
		 * long value by the global function (a loop of PF_LINE_MAX / 8
		 * words inline would be walked at length by the verifier); a
		 * stop found inline is not clamped to the limit (it is below
		 * colon + 1 + PF_SCAN_IN, so at or past len exactly where the
		 * clamped one is len), no stop and no byte left before len
		 * leaves colon + 1 + PF_SCAN_IN, at or past len too. Only
		 * the global scan's stop can be too long (below len: the
		 * INCOMPLETE test comes first) */
		i = pf_scan_ctl_words(b, colon + 1, 0x20, PF_SCAN_IN / 8);
		if (i == colon + 1 + PF_SCAN_IN && i < len) {
			i = pf_scan_ctl(b, i, pf_min_nb(len, colon + 1 + PF_LINE_MAX), 0x20);
			if (i >= colon + 1 + PF_LINE_MAX && i < len) {
				c->res = PF_P_TOO_LONG;
				return 1;
			}
		}
	}
	i = PF_LAUNDER(c->tmp[0], i);
	if (i >= len) {
		c->res = PF_P_INCOMPLETE;
		return 1;
	}
	if (any && i >= colon + 1 + PF_LINE_MAX) {
		c->res = PF_P_TOO_LONG;
		return 1;
	}
	end = i;
	/* the value's last byte (or the ':'), CR and LF in one load (end + 1
	 * < len <= PF_REQ_MAX: no index wraps); otherwise what the bytes
	 * were tested for one at a time: a CTL (HT included: rare, left to
	 * the app) BAD, a CR last INCOMPLETE, a CR not before LF BAD */
	tail = pf_ld32(b + PF_M(end - 1));
	if (end + 1 >= len || (tail >> 8 & 0xffff) != ('\r' | '\n' << 8)) {
		c->res = b[PF_M(end)] != '\r' || end + 1 < len ? PF_P_BAD : PF_P_INCOMPLETE;
		return 1;
	}
	/* trim OWS on both sides (more than 16 blanks: malformed enough).
	 * The usual value, one SP or none before it and no blank after it,
	 * takes no loop. */
	vs = colon + 1;
	w = pf_ld32(b + PF_M(vs)); /* the value's first bytes, one load */
	ch = (__u8)w;
	if (ch == ' ') {
		vs++;
		ch = (__u8)(w >> 8);
	}
	/* no HT in [colon + 1, end): the value scan stops at any CTL */
	if (ch != ' ' && (vs >= end || (__u8)tail != ' ')) {
		ve = end;
		goto trimmed;
	}
	i = pf_trim((const struct pf_buf *)b, r, colon + 1, end);
	if (i == PF_TRIM_BAD) {
		c->res = PF_P_BAD;
		return 1;
	}
	vs = (__u32)i;
	ve = i >> 32;
trimmed:
	/* both ways here: laundered, what follows is checked once */
	vs = PF_LAUNDER(c->tmp[2], vs);
	ve = PF_LAUNDER(c->tmp[3], ve);
	end = PF_LAUNDER(c->tmp[1], end);
	h = pf_classify(b, pos, colon - pos);
	res = pf_take_header(b, r, h, vs, ve - vs, any);
	if (res != PF_P_OK) {
		c->res = res;
		return 1;
	}
	c->pos = end + 2;
	return 0;
}

/* Header lines per pf_line_cb call: PF_MAX_LINES / PF_LINES_PER_CB calls
 * look at the same PF_MAX_LINES lines, with fewer calls and returns. */
#define PF_LINES_PER_CB 4
_Static_assert(PF_MAX_LINES % PF_LINES_PER_CB == 0, "PF_LINES_PER_CB divides PF_MAX_LINES");

/* pf_loop callbacks: the next PF_LINES_PER_CB header lines (pf_line)
 * with the scans inlined (pf_parse: the answer path, on a kernel without
 * may_goto -- pf_lines_buf otherwise), or the next line
 * with the scans called (the other parsers: PF_MAX_LINES calls, each
 * verified once). Return 1 (stop) at the end of the header block or on
 * error. */
PF_CALLBACK long pf_line_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;
	__u32 k;

	(void)idx;
	for (k = 0; k < PF_LINES_PER_CB; k++)
		if (pf_line(hd->buf, hd->w, false))
			return 1;
	return 0;
}

#ifdef __bpf__
/* The header lines pf_line_cb's calls look at (PF_MAX_LINES at most), in
 * one open-coded loop (pf_can_loop, pf_common.h); a loop that may_goto
 * ends early leaves pc.done 0: PF_P_TOO_LONG. Verifier workaround: the
 * count in map memory -- a register, known per path, had the body walked
 * once per line ("BPF program is too large"). A global function, in the
 * callback's place on the TC program's deepest call chain: inline, its
 * spills grew pf_decide's frame by 40 bytes, which left the bpf_loop
 * variant's request-header callback (two names a call) no room on that
 * chain ("combined stack size of 5 calls is 528. Too large"). It tests
 * pf_may_goto itself, as pf_hdr_elems_buf does (a kernel before 6.8
 * verifies every global function). */
PF_GLOBAL long pf_lines_buf(const struct pf_buf *rb, struct pf_req *r)
{
	if (!pf_may_goto || !rb || !r)
		return 0;
	while (pf_can_loop) {
		if (pf_line(rb->b, r, false) || ++*(volatile __u32 *)&r->pc.nl >= PF_MAX_LINES)
			break;
	}
	return 0;
}
#endif

PF_CALLBACK long pf_line_call_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;

	(void)idx;
	return pf_line(hd->buf, hd->w, true);
}

/* Flag request-targets whose prefix match could differ from what the app
 * routes after normalisation (%, //, /./, /../, backslash, and ';' path
 * parameters: Tomcat/Spring route /v1/..;/admin to /admin), looking at
 * the bytes before the first '?' or '#': any of "%", "\\", ";", "//",
 * "/./", "../", or an end in "/." or "..". off >= 2: the two bytes before
 * the path ("S " of "OPTIONS ") are neither '/' nor '.'. 8 bytes at a
 * time, each word also loaded 1 and 2 bytes earlier to see the bytes
 * before each byte. pf_path_flags_buf looks at PF_PATH_CHUNK words from
 * word k0 on: PF_REQF_PATH_UNNORM, 0, or PF_PATH_MORE when the path goes
 * on past them with no stop (pf_path_flags then calls it for the next
 * ones). By chunks, not one loop over the PF_LINE_MAX / 8 words a path
 * may have: the verifier walked that loop's 128 turns (~19k of
 * pf_tc_ingress's processed instructions), a chunk's 8 once; a path of
 * up to 64 bytes is one call, as before. */
#define PF_PATH_CHUNK 8
#define PF_PATH_MORE  (1u << 31)
_Static_assert((PF_LINE_MAX / 8) % PF_PATH_CHUNK == 0, "PF_PATH_CHUNK divides a line's words");

PF_GLOBAL __u32 pf_path_flags_buf(const struct pf_buf *rb, __u64 off, __u64 n, __u64 k0)
{
	__u64 x, x1, x2, stop, bad, rem, k, j, i, e = n;
	const __u8 *b;

	if (!rb)
		return PF_REQF_PATH_UNNORM;
	b = rb->b;
	/* few branches per word: with n unknown, each one the verifier can
	 * take both ways multiplies the states it walks through the loop
	 * (BPF has no conditional move: "x ? a : b" is a branch) */
	for (j = 0, k = k0; j < PF_PATH_CHUNK && 8 * k < n; j++, k++) {
		i = off + 8 * k;
		x = pf_ld64(b + PF_M(i));
		x1 = pf_ld64(b + PF_M(i - 1));
		x2 = pf_ld64(b + PF_M(i - 2));
		/* '?', '#', and (in the last word) the bytes past n */
		rem = n - 8 * k;
		stop = pf_eqb(x, '?') | pf_eqb(x, '#') |
		       (-((rem - 8) >> 63) & ~((1ULL << (8 * (rem & 7))) - 1) & PF_HIGHS);
		bad = pf_eqb(x, '%') | pf_eqb(x, '\\') | pf_eqb(x, ';') |
		      (pf_eqb(x, '/') & (pf_eqb(x1, '/') |
					 (pf_eqb(x1, '.') & (pf_eqb(x2, '/') | pf_eqb(x2, '.')))));
		/* the bytes before the first stop (all of them if none) */
		if (bad & ((stop & -stop) - 1) & PF_HIGHS)
			return PF_REQF_PATH_UNNORM;
		if (stop) {
			e = 8 * k + pf_first_byte(stop);
			goto tail;
		}
	}
	/* more words, unless these were the last a path may have */
	if (8 * k < n && k < PF_LINE_MAX / 8)
		return PF_PATH_MORE;
tail:
	/* trailing "/." or ".." */
	if (e >= 2 && b[PF_M(off + e - 1)] == '.' &&
	    (b[PF_M(off + e - 2)] == '/' || b[PF_M(off + e - 2)] == '.'))
		return PF_REQF_PATH_UNNORM;
	return 0;
}

PF_INLINE __u32 pf_path_flags(const __u8 *b, __u64 off, __u64 n)
{
	__u32 k, f = 0;

	for (k = 0; k < PF_LINE_MAX / 8; k += PF_PATH_CHUNK) {
		f = pf_path_flags_buf((const struct pf_buf *)b, off, n, k);
		if (f != PF_PATH_MORE)
			break;
	}
	return f;
}

/* The rest of a request line after "METHOD ": "<target> HTTP/1.1\r\n",
 * the target starting at t (1..16), its first inl bytes scanned inline
 * (pf_scan_split). Returns a pf_parse_res and sets r->path; r->pc.pos is
 * the first header byte. */
PF_INLINE int pf_parse_target(const __u8 *b, __u64 len, struct pf_req *r, __u64 t,
			      const __u32 inl)
{
	__u64 sp, lim;

	lim = len < t + PF_LINE_MAX ? len : t + PF_LINE_MAX;
	sp = pf_scan_split(b, t, lim, 0x21, inl);
	if (sp >= len)
		return PF_P_INCOMPLETE;
	if (sp >= t + PF_LINE_MAX)
		return PF_P_TOO_LONG;
	if (b[PF_M(sp)] != ' ')
		return PF_P_BAD;
	if (sp <= t)
		return PF_P_BAD;
	if (sp + 10 > len)
		return PF_P_INCOMPLETE;
	if (b[PF_M(sp + 1)] != 'H' || b[PF_M(sp + 2)] != 'T' ||
	    b[PF_M(sp + 3)] != 'T' || b[PF_M(sp + 4)] != 'P' ||
	    b[PF_M(sp + 5)] != '/')
		return PF_P_BAD;
	if (b[PF_M(sp + 6)] != '1' || b[PF_M(sp + 7)] != '.' ||
	    b[PF_M(sp + 8)] != '1')
		return PF_P_VERSION;
	if (b[PF_M(sp + 9)] != '\r')
		return PF_P_VERSION;
	if (sp + 11 > len)
		return PF_P_INCOMPLETE;
	if (b[PF_M(sp + 10)] != '\n')
		return PF_P_BAD;
	r->path.off = (__u16)t;
	r->path.len = (__u16)(sp - t);
	r->pc.pos = sp + 11;
	return PF_P_OK;
}

/* Target bytes the answer path's request line scans inline
 * (pf_scan_split): most preflights' paths are shorter. */
#define PF_TARGET_SCAN_IN 32

/* Parse the request line "OPTIONS <target> HTTP/1.1\r\n". Returns a
 * pf_parse_res and sets r->path; r->pc.pos is the first header byte. */
PF_INLINE int pf_parse_request_line(const __u8 *b, __u32 len, struct pf_req *r)
{
	if (len < 8 || pf_ld64(b) != PF_LIT8("OPTIONS "))
		return PF_P_NOT_OPTIONS;
	return pf_parse_target(b, len, r, 8, PF_TARGET_SCAN_IN);
}

/* Parse the len payload bytes of buf into r. Returns (and stores in
 * r->res) PF_P_OK for a complete, unambiguous preflight. paths 0: the
 * request-target's PF_REQF_PATH_UNNORM is not looked for (never set) --
 * for a caller whose policy has no path rules (pf_decide: pf_match reads
 * the flag only when the slot's has_paths is set), which then makes no
 * pf_path_flags_buf call (a global function: its call and return, and
 * its ~60 instructions a path word, were ~2.4 % of pf_tc_ingress's
 * samples). Every other result and slice is the same. */
PF_INLINE int pf_parse_p(const __u8 *buf, __u32 len, struct pf_req *r, __u32 paths)
{
	struct pf_hold hd = { .buf = buf, .w = r };
	int res;

	__builtin_memset(r, 0, sizeof(*r));
	if (len > PF_REQ_MAX) {
		res = len >= 8 && buf[0] == 'O' ? PF_P_TOO_LONG : PF_P_NOT_OPTIONS;
		goto out;
	}
	res = pf_parse_request_line(buf, len, r);
	if (res != PF_P_OK)
		goto out;
	if (r->path.len == 0 || buf[PF_M(r->path.off)] != '/') {
		res = PF_P_BAD; /* "*" or absolute-form: never a browser preflight */
		goto out;
	}
	if (paths)
		r->flags |= (__u16)pf_path_flags(buf, r->path.off, r->path.len);
	r->pc.len = len;
	r->pc.res = PF_P_OK;
#ifdef __bpf__
	if (pf_may_goto)
		pf_lines_buf((const struct pf_buf *)buf, r);
	else
#endif
	pf_loop(PF_MAX_LINES / PF_LINES_PER_CB, pf_line_cb, &hd);
	/* a Connection line before wherever the parse stopped: "close" in
	 * it decides, as if the parse had stopped there */
	if ((r->seen & PF_SEEN_CONN) && pf_has_close(buf, r->conn.off, r->conn.len)) {
		res = PF_P_CONN_CLOSE;
		goto out;
	}
	if (r->pc.res != PF_P_OK) {
		res = r->pc.res;
		goto out;
	}
	if (!r->pc.done) {
		res = PF_P_TOO_LONG; /* more than PF_MAX_LINES header lines */
		goto out;
	}
	if (!(r->seen & PF_SEEN_HOST)) {
		res = PF_P_BAD;
		goto out;
	}
	if (!pf_preflight_fields(r)) { /* its request line is "OPTIONS " */
		res = PF_P_PLAIN_OPTIONS;
		goto out;
	}
	if (r->len != len) {
		res = PF_P_PIPELINED;
		goto out;
	}
	res = PF_P_OK;
out:
	r->res = (__u8)res;
	return res;
}

/* pf_parse_p with the path's flags (PF_REQF_PATH_UNNORM) looked for. */
PF_INLINE int pf_parse(const __u8 *buf, __u32 len, struct pf_req *r)
{
	return pf_parse_p(buf, len, r, 1);
}

/* ---- any request head (response offload, issue 13) ----
 * Parse the request head at the start of buf (len bytes, more may follow:
 * a body or the next request) into r: method flags, path, Host, Origin
 * and the body's framing (r->clen / PF_REQF_TE / PF_REQF_UPGRADE).
 * Returns (and stores in r->res) PF_P_OK with r->len the head's length,
 * PF_P_INCOMPLETE if the head does not end within len, or another
 * pf_parse_res for a head the datapath cannot follow. Header lines use
 * the preflight parser's rules (pf_line). */
PF_INLINE int pf_parse_head(const __u8 *buf, __u32 len, struct pf_req *r)
{
	struct pf_hold hd = { .buf = buf, .w = r };
	__u32 m;
	int res;

	__builtin_memset(r, 0, sizeof(*r));
	if (len > PF_REQ_MAX)
		len = PF_REQ_MAX;
	/* method: 1..16 tchars, then SP */
	for (m = 0; m < 17 && m < len; m++)
		if (!pf_is_tchar(buf[m]))
			break;
	if (m >= len) {
		res = PF_P_INCOMPLETE;
		goto out;
	}
	if (m == 0 || m > 16 || buf[m] != ' ') {
		res = PF_P_BAD;
		goto out;
	}
	/* the loop's exit pinned m to one of 17 values: laundered, what
	 * follows is verified once, not 17 times ("BPF program is too large") */
	m = PF_LAUNDER(r->pc.tmp[1], m) & 31;
	if (m == 4 && buf[0] == 'H' && buf[1] == 'E' && buf[2] == 'A' && buf[3] == 'D')
		r->flags |= PF_REQF_M_HEAD;
	if (m == 7 && pf_ld64(buf) == PF_LIT8("OPTIONS "))
		r->flags |= PF_REQF_M_OPTIONS; /* as pf_parse_request_line */
	if (m == 7 && buf[0] == 'C' && buf[1] == 'O' && buf[2] == 'N' && buf[3] == 'N')
		r->flags |= PF_REQF_UPGRADE;
	res = pf_parse_target(buf, len, r, m + 1, 0);
	if (res != PF_P_OK)
		goto out;
	if (r->path.len && buf[PF_M(r->path.off)] == '/')
		r->flags |= pf_path_flags(buf, r->path.off, r->path.len);
	r->pc.len = len;
	r->pc.res = PF_P_OK;
	pf_loop(PF_MAX_LINES, pf_line_call_cb, &hd);
	res = r->pc.res;
	if (res == PF_P_OK && !r->pc.done)
		res = PF_P_TOO_LONG;
out:
	r->res = (__u8)res;
	return res;
}

#endif /* PF_HTTP_H */
