/* Both: request framing and interim responses for the splice guard, static inline for clang -target bpf and gcc. */
/*
 * pf_frame.h -- the datapath follows every client request on a tracked
 * connection to know where the next one starts: a preflight is only ever
 * answered at a request boundary, never inside a body the app expects
 * (an Expect: 100-continue upload, a body still arriving after an early
 * response), and only after the request before it was answered.
 *
 * pf_frame_len() reads the length of a request from pf_parse_head()'s
 * result (pf_http.h): head + Content-Length, or the head alone. Anything
 * that leaves it unknown -- chunked or other Transfer-Encoding, Upgrade,
 * CONNECT, a head pf_parse_head refuses (a bare LF or CR, a tab, folding,
 * a malformed or differing Content-Length, not HTTP/1.1) or that does not
 * end in the bytes given -- says so, and the connection is never answered
 * again (the app answers all of its preflights): a head not understood
 * costs answers, never bytes.
 *
 * pf_parse_interim() reads the head of an interim (1xx) response, which
 * a server may send before its answer (100 Continue, 103 Early Hints),
 * with the same header-line rules (pf_line).
 */
#ifndef PF_FRAME_H
#define PF_FRAME_H

#include "pf_common.h"
#include "pf_http.h"

/* The length of the request r (parsed by pf_parse_head): head and body,
 * or -1 if it cannot be known. */
PF_INLINE long pf_frame_len(const struct pf_req *r)
{
	if (r->res != PF_P_OK || (r->flags & (PF_REQF_TE | PF_REQF_UPGRADE)))
		return -1;
	return (long)r->len + ((r->flags & PF_REQF_CLEN) ? (long)r->clen : 0);
}

/* Do the first n bytes of buf begin a request line: a method of 1 to 7
 * upper-case letters and SP? (A cheap first test; pf_parse_head decides.) */
PF_INLINE int pf_frame_starts_request(const __u8 *buf, __u32 n)
{
	__u32 k;

	for (k = 0; k < 8 && k < n; k++)
		if (buf[k] < 'A' || buf[k] > 'Z')
			break;
	return k > 0 && k < 8 && k < n && buf[k] == ' ';
}

/* Are the n bytes at buf, parsed into r, the start of a request head
 * still to come -- not ended in them (PF_P_INCOMPLETE), under PF_REQ_MAX,
 * begun by a method and SP: worth holding for the rest (bpf/pf_split.h)?
 * The caller adds that the bytes run to the end of their segment. */
PF_INLINE int pf_frame_head_start(const __u8 *buf, __u32 n, const struct pf_req *r)
{
	return r->res == PF_P_INCOMPLETE && n < PF_REQ_MAX && pf_frame_starts_request(buf, n);
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

/* The interim response head at the start of buf (len bytes valid, more
 * may follow): "HTTP/1.x 1dd reason" CR LF, header lines, a blank line,
 * never a body. Returns (and stores in r->res) PF_P_OK with r->len the
 * head's length, PF_P_INCOMPLETE, or another pf_parse_res for one that is
 * not followed (not a 1xx, a malformed line, Upgrade -- a 101 switches
 * protocols -- or a Content-Length or Transfer-Encoding). Bounds: the
 * head PF_RHEAD_MAX, its status line PF_RHEAD_LINE_MAX; its header lines
 * are the request parser's (pf_line_call_cb: PF_LINE_MAX, so the head's
 * bound is theirs). */
PF_INLINE int pf_parse_interim(const __u8 *buf, __u32 len, struct pf_req *r)
{
	struct pf_hold hd = { .buf = buf, .w = r };
	__u32 cr;
	int res;

	__builtin_memset(r, 0, sizeof(*r));
	if (len > PF_RHEAD_MAX)
		len = PF_RHEAD_MAX;
	if (len < 14) {
		res = PF_P_INCOMPLETE;
		goto out;
	}
	if (!pf_frame_is_interim(buf, 0) || buf[10] < '0' || buf[10] > '9' ||
	    buf[11] < '0' || buf[11] > '9') {
		res = PF_P_BAD;
		goto out;
	}
	cr = pf_scan_ctl(buf, 12, len, 0x20);
	if (cr >= len || cr + 1 >= len) {
		res = cr - 12 >= PF_RHEAD_LINE_MAX ? PF_P_TOO_LONG : PF_P_INCOMPLETE;
		goto out;
	}
	if (buf[PF_M(cr)] != '\r' || buf[PF_M(cr + 1)] != '\n') {
		res = PF_P_BAD;
		goto out;
	}
	r->pc.len = len;
	r->pc.pos = cr + 2;
	r->pc.res = PF_P_OK;
	pf_loop(PF_MAX_LINES, pf_line_call_cb, &hd);
	res = r->pc.res;
	if (res == PF_P_OK && !r->pc.done)
		res = PF_P_TOO_LONG;
	if (res == PF_P_OK && (r->flags & (PF_REQF_UPGRADE | PF_REQF_CLEN | PF_REQF_TE)))
		res = PF_P_BAD;
out:
	r->res = (__u8)res;
	return res;
}

#endif /* PF_FRAME_H */
