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

/* Append a literal (compile-time length) at *off. */
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
		PF_PUT_LIT(out, off, "HTTP/1.1 403 Forbidden\r\n");
	else
		PF_PUT_LIT(out, off, "HTTP/1.1 204 No Content\r\n");
	if (date) {
		PF_PUT_LIT(out, off, "Date: ");
		PF_PUT_VAR(out, off, date, PF_DATE_LEN);
		PF_PUT_LIT(out, off, "\r\n");
	}
	if (m->verdict == PF_V_REJECT) {
		PF_PUT_VAR(out, off, rule->reject, rule->reject_len);
		return (int)off;
	}
	PF_PUT_LIT(out, off, "Access-Control-Allow-Origin: ");
	if (m->rflags & PF_RULE_ANY_ORIGIN)
		PF_PUT_LIT(out, off, "*");
	else
		PF_PUT_VAR(out, off, req + PF_M(r->origin.off), r->origin.len);
	PF_PUT_LIT(out, off, "\r\n");
	if (m->rflags & PF_RULE_ANY_METHOD) {
		PF_PUT_LIT(out, off, "Access-Control-Allow-Methods: ");
		if (m->acam_echo)
			PF_PUT_VAR(out, off, req + PF_M(r->acrm.off), r->acrm.len);
		else
			PF_PUT_LIT(out, off, "*");
		PF_PUT_LIT(out, off, "\r\n");
	}
	if (m->acah) {
		PF_PUT_LIT(out, off, "Access-Control-Allow-Headers: ");
		if (m->acah == 1)
			PF_PUT_LIT(out, off, "*");
		else
			PF_PUT_VAR(out, off, req + PF_M(r->acrh.off), r->acrh.len);
		PF_PUT_LIT(out, off, "\r\n");
	}
	if (m->acapn)
		PF_PUT_LIT(out, off, "Access-Control-Allow-Private-Network: true\r\n");
	PF_PUT_VAR(out, off, rule->fixed, rule->fixed_len);
	return (int)off;
}

#endif /* PF_RESP_H */
