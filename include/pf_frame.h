/* Both: HTTP/1.x request framing (where a request ends), static inline for clang -target bpf and gcc. */
/*
 * pf_frame.h -- the datapath follows every client request on a tracked
 * connection to know where the next one starts: a preflight is only ever
 * answered at a request boundary, never inside a body the app expects
 * (an Expect: 100-continue upload, a body still arriving after an early
 * response). pf_frame_head() reads one request head and says how long the
 * request is: head + Content-Length, or head alone. Anything that leaves
 * the length unknown -- chunked or other Transfer-Encoding, a missing,
 * repeated or malformed Content-Length, Upgrade, CONNECT, a malformed line
 * -- says so, and the connection is never answered again (the app answers
 * all of its preflights). The parse is deliberately stricter than a
 * server: a head it does not understand costs answers, never bytes.
 * pf_frame_interim() reads the head of an interim (1xx) response, which
 * the server may send before its answer (100 Continue, 103 Early Hints).
 *
 * Input: buf with PF_REQ_BUF readable bytes (map memory in the kernel),
 * the head starting at start, len bytes valid in all. Indices are masked
 * with PF_M (pf_http.h); struct pf_frame lives in map memory in the
 * kernel (PF_LAUNDER).
 */
#ifndef PF_FRAME_H
#define PF_FRAME_H

#include "pf_common.h"
#include "pf_http.h"

enum pf_frame_res {
	PF_FR_OK = 0,       /* head_len + body_len bytes */
	PF_FR_INCOMPLETE,   /* no end of the head in these bytes */
	PF_FR_UNKNOWN,      /* the request's length cannot be known */
};

struct pf_frame {
	__u32 head_len;     /* request line + headers + blank line */
	__u32 body_len;     /* Content-Length (0: none) */
	__u32 res;          /* enum pf_frame_res */
	__u32 start, len;   /* input */
	__u32 pos;          /* start of the next header line */
	__u32 done;         /* end of the head found */
	__u32 seen_clen;
	__u32 tmp[2];       /* PF_LAUNDER slots */
};

/* Content-Length value [off, off+n): 1..9 digits, else -1. */
PF_INLINE long pf_frame_clen(const __u8 *b, __u32 off, __u32 n)
{
	long v = 0;
	__u32 i;
	__u8 c;

	if (n == 0 || n > 9)
		return -1;
	for (i = 0; i < 9 && i < n; i++) {
		c = b[PF_M(off + i)];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

/* bpf_loop callback: the header line at fr->pos. Returns 1 to stop (end
 * of the head, or a result). */
PF_CALLBACK long pf_frame_line_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;
	const __u8 *b = hd->buf;
	struct pf_frame *fr = hd->w;
	__u32 pos = fr->pos, len = fr->len, cr, colon, k, vs, ve;
	long cl;
	int h;

	(void)idx;
	if (pos + 2 > len) {
		fr->res = PF_FR_INCOMPLETE;
		return 1;
	}
	if (b[PF_M(pos)] == '\r') {
		if (b[PF_M(pos + 1)] != '\n') {
			fr->res = PF_FR_UNKNOWN;
			return 1;
		}
		fr->head_len = pos + 2 - fr->start;
		fr->done = 1;
		return 1;
	}
	/* the line ends at its first control byte, which must be CR LF: a
	 * bare LF ends a line for some servers (nginx), so anything else --
	 * a tab included -- leaves the framing unknown */
	cr = PF_LAUNDER(fr->tmp[0], pf_scan_ctl(b, pos, len, 0x20));
	if (cr >= len || cr + 1 >= len) {
		fr->res = cr - pos >= PF_LINE_MAX ? PF_FR_UNKNOWN : PF_FR_INCOMPLETE;
		return 1;
	}
	if (b[PF_M(cr)] != '\r' || b[PF_M(cr + 1)] != '\n' ||
	    b[PF_M(pos)] == ' ' || b[PF_M(pos)] == '\t') {
		fr->res = PF_FR_UNKNOWN; /* bare CR or LF, a tab, folding */
		return 1;
	}
	/* field-name: tchar+ then ':' (longer names are none we look for) */
	for (k = 0; k < 40; k++)
		if (pos + k >= cr || !pf_is_tchar(b[PF_M(pos + k)]))
			break;
	colon = PF_LAUNDER(fr->tmp[1], pos + k);
	if (colon >= cr || colon == pos || b[PF_M(colon)] != ':') {
		/* a name over 40 bytes, or no colon: a name we do not care
		 * about can be long; anything else is malformed */
		if (k < 40) {
			fr->res = PF_FR_UNKNOWN;
			return 1;
		}
		fr->pos = cr + 2;
		return 0;
	}
	h = pf_classify(b, pos, colon - pos);
	if (h == PF_H_TE || h == PF_H_UPGRADE) {
		fr->res = PF_FR_UNKNOWN;
		return 1;
	}
	if (h == PF_H_CLEN) {
		vs = colon + 1;
		ve = cr;
		for (k = 0; k < 16 && vs < ve; k++) {
			if (b[PF_M(vs)] != ' ' && b[PF_M(vs)] != '\t')
				break;
			vs++;
		}
		for (k = 0; k < 16 && ve > vs; k++) {
			if (b[PF_M(ve - 1)] != ' ' && b[PF_M(ve - 1)] != '\t')
				break;
			ve--;
		}
		cl = pf_frame_clen(b, vs, ve - vs);
		if (cl < 0 || fr->seen_clen) {
			fr->res = PF_FR_UNKNOWN;
			return 1;
		}
		fr->seen_clen = 1;
		fr->body_len = (__u32)cl;
	}
	fr->pos = cr + 2;
	return 0;
}

/* How long is the request whose head starts at buf[start]? (len: bytes
 * valid in buf.) Returns and stores in fr->res an enum pf_frame_res;
 * PF_FR_OK with fr->head_len and fr->body_len. */
PF_INLINE int pf_frame_head(const __u8 *buf, __u32 start, __u32 len, struct pf_frame *fr)
{
	struct pf_hold hd = { .buf = buf, .w = fr };
	__u32 cr, k, sp;

	__builtin_memset(fr, 0, sizeof(*fr));
	fr->start = start;
	fr->len = len;
	if (len > PF_REQ_MAX || start >= len) {
		fr->res = PF_FR_INCOMPLETE;
		return fr->res;
	}
	/* request line: method SP target SP HTTP/1.x CRLF */
	for (k = 0; k < 16; k++)
		if (start + k >= len || !pf_is_tchar(buf[PF_M(start + k)]))
			break;
	sp = PF_LAUNDER(fr->tmp[1], start + k);
	if (sp >= len) {
		fr->res = PF_FR_INCOMPLETE;
		return fr->res;
	}
	if (k == 0 || k == 16 || buf[PF_M(sp)] != ' ' ||
	    /* CONNECT: the connection becomes a tunnel */
	    (k == 7 && pf_name_eq(buf, start, "connect", 7))) {
		fr->res = PF_FR_UNKNOWN;
		return fr->res;
	}
	/* the target: no control byte, and " HTTP/1.x" CR LF at the end */
	cr = PF_LAUNDER(fr->tmp[0], pf_scan_ctl(buf, sp, len, 0x20));
	if (cr >= len || cr + 1 >= len) {
		fr->res = cr - sp >= PF_LINE_MAX ? PF_FR_UNKNOWN : PF_FR_INCOMPLETE;
		return fr->res;
	}
	if (cr < sp + 10 || buf[PF_M(cr)] != '\r' || buf[PF_M(cr + 1)] != '\n' ||
	    buf[PF_M(cr - 9)] != ' ' || buf[PF_M(cr - 8)] != 'H' ||
	    buf[PF_M(cr - 7)] != 'T' || buf[PF_M(cr - 6)] != 'T' ||
	    buf[PF_M(cr - 5)] != 'P' || buf[PF_M(cr - 4)] != '/' ||
	    buf[PF_M(cr - 3)] != '1' || buf[PF_M(cr - 2)] != '.') {
		fr->res = PF_FR_UNKNOWN;
		return fr->res;
	}
	fr->pos = cr + 2;
	pf_loop(PF_MAX_LINES, pf_frame_line_cb, &hd);
	if (!fr->done && fr->res == PF_FR_OK)
		fr->res = PF_FR_UNKNOWN; /* more than PF_MAX_LINES lines */
	return fr->res;
}

/* Do the bytes at buf[start] (at least 10 valid) begin an interim (1xx)
 * response ("HTTP/1.x 1")? Anything else the server sends first is its
 * answer. */
PF_INLINE int pf_frame_is_interim(const __u8 *buf, __u32 start)
{
	return buf[PF_M(start)] == 'H' && buf[PF_M(start + 1)] == 'T' &&
	       buf[PF_M(start + 2)] == 'T' && buf[PF_M(start + 3)] == 'P' &&
	       buf[PF_M(start + 4)] == '/' && buf[PF_M(start + 5)] == '1' &&
	       buf[PF_M(start + 6)] == '.' && buf[PF_M(start + 8)] == ' ' &&
	       buf[PF_M(start + 9)] == '1';
}

/* The length of the interim response head (a 100 Continue, a 103 Early
 * Hints: status line, header lines, blank line; never a body) at
 * buf[start]: PF_FR_OK with fr->head_len, PF_FR_INCOMPLETE, or
 * PF_FR_UNKNOWN (not a 1xx status line, a malformed line, Upgrade: the
 * connection stops being HTTP). */
PF_INLINE int pf_frame_interim(const __u8 *buf, __u32 start, __u32 len, struct pf_frame *fr)
{
	struct pf_hold hd = { .buf = buf, .w = fr };
	__u32 cr;

	__builtin_memset(fr, 0, sizeof(*fr));
	fr->start = start;
	fr->len = len;
	if (len > PF_REQ_MAX || start >= len || len - start < 14) {
		fr->res = PF_FR_INCOMPLETE;
		return fr->res;
	}
	/* "HTTP/1.x 1dd" then a reason phrase up to CR LF */
	if (!pf_frame_is_interim(buf, start) || buf[PF_M(start + 10)] < '0' ||
	    buf[PF_M(start + 10)] > '9' || buf[PF_M(start + 11)] < '0' ||
	    buf[PF_M(start + 11)] > '9') {
		fr->res = PF_FR_UNKNOWN;
		return fr->res;
	}
	cr = PF_LAUNDER(fr->tmp[0], pf_scan_ctl(buf, start + 12, len, 0x20));
	if (cr >= len || cr + 1 >= len) {
		fr->res = cr - start >= PF_LINE_MAX ? PF_FR_UNKNOWN : PF_FR_INCOMPLETE;
		return fr->res;
	}
	if (buf[PF_M(cr)] != '\r' || buf[PF_M(cr + 1)] != '\n') {
		fr->res = PF_FR_UNKNOWN;
		return fr->res;
	}
	fr->pos = cr + 2;
	pf_loop(PF_MAX_LINES, pf_frame_line_cb, &hd);
	if (!fr->done && fr->res == PF_FR_OK)
		fr->res = PF_FR_UNKNOWN;
	if (fr->res == PF_FR_OK && fr->seen_clen)
		fr->res = PF_FR_UNKNOWN; /* a 1xx has no content */
	return fr->res;
}

#endif /* PF_FRAME_H */
