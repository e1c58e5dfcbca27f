/* Both: response offload (issue 13) -- a request's verdict, the edit of its response head, chunked framing; static inline for BPF and gcc. */
/*
 * pf_ofl.h -- the app keeps no CORS code: every response gets its CORS
 * header lines in the server socket's outgoing byte stream (an SK_MSG
 * program, bpf/pf_ofl_msg.h), decided by the request it answers.
 *
 *   TC ingress                      server socket              SK_MSG
 *   each request head on a covered  struct pf_ofl_sk            each final response
 *   connection: its verdict  ---->  (sk_storage): FIFO  ---->   head takes the oldest
 *   (pf_ofl_entry) is queued        of entries                  entry and is edited
 *                                                               (pf_ofl_plan)
 *
 * Requests are found by their framing in the socket's sequence space
 * (after preflightd's own seq translation): the next request head starts
 * where the previous head and its Content-Length body end. A client
 * segment that starts beyond that point is not parsed (it is body, or a
 * later request whose head we would then miss: see gap_end); the head is
 * parsed when the segment that carries it arrives, retransmitted or not.
 * Whenever the framing is lost the connection stops recording, and
 * once its recorded entries are used up its responses pass unchanged:
 * a response is never paired with another request's verdict.
 *
 * The includer provides PF_TOK_LOOKUP, PF_RULE_LOOKUP, PF_ACRH_LOOKUP, PF_HDRS_LOOKUP
 * (see pf_match.h).
 */
#ifndef PF_OFL_H
#define PF_OFL_H

#include "pf_ofl_types.h"
#include "pf_resp.h"
#include "pf_rhead.h"

/* userspace builds: the same compiler barrier as libbpf's */
#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "=r"(var) : "0"(var))
#endif

/* ---- sequence arithmetic (mod 2^32) ---- */
PF_INLINE int pf_ofl_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

/* ---- ingress: a parsed request head -> its entry ----
 * r was parsed by pf_parse_head from buf; info/slot: the active policy;
 * orule: pf_ofl_rules for that slot's rules (NULL-safe lookup by the
 * caller's macro PF_OFL_RULE_LOOKUP(index)). Fills e. m is work space. */
#ifndef PF_OFL_RULE_LOOKUP
#error "define PF_OFL_RULE_LOOKUP(index) before including pf_ofl.h"
#endif

/* Does the answer to a request depend on its Origin, given its applicable
 * rules a (hosts and paths: the same for every request to the URL), the
 * slot's origins: ["*"] rules star and its responses: true rules resp?
 * Then every response to the URL needs Vary: Origin (Fetch, "CORS
 * protocol and HTTP caches"), those without CORS lines too: a shared
 * cache must not serve one origin's copy to another. Only the rules up to
 * the first applicable "*" rule decide anything (it takes every origin
 * the earlier ones do not list, and requests without Origin); the answer
 * depends on the origin when one of those has responses: true and one
 * lists origins (its origins get their own ACAO, or the app's lines under
 * responses: false, the others another answer). */
PF_INLINE int pf_ofl_varies(__u64 a, __u64 star, __u64 resp)
{
	__u64 s = a & star;

	s &= -s;
	a &= s | (s - 1); /* s == 0: all of a */
	return (a & resp) && (a & ~star);
}

/* A request whose path the datapath cannot match without normalizing
 * (PF_R_PATH_UNNORM: "//", "/./", "%", ...): its URL may be a covered
 * one by another spelling (nginx serves /v1//a as /v1/a). When a rule
 * with responses: true and app_headers: replace could apply but for the
 * path (its hosts match), fail closed: the app's Access-Control-* lines
 * go and the response gets Vary: Origin (PF_OFL_VARY without KEEP) --
 * never the app's own ACAO on a URL replace promises only ours on. Any
 * such rule decides, even after a keep rule that might be the one: an
 * app's CORS lines wrongly removed fail a request, wrongly kept they may
 * grant an origin the policy does not list (so also a URL no rule
 * covers, e.g. /v2//a, on such a host). Else e stays (NONE). m: work
 * space (the Host look-up). */
PF_INLINE void pf_ofl_unnorm(const __u8 *buf, const struct pf_req *r,
			     const struct pf_slot_info *info, struct pf_match *m,
			     struct pf_ofl_ent *e)
{
	const struct pf_ofl_rule *orule;
	__u32 i, slot = e->slot & (PF_SLOTS - 1);
	__u64 host = info->any_host_rules;

	if (info->all_rules & ~host)
		host |= pf_host_rules(buf, r->host, slot, m);
	host &= info->all_rules;
	for (i = 0; i < PF_MAX_RULES; i++) {
		if (!((host >> i) & 1))
			continue;
		orule = PF_OFL_RULE_LOOKUP(slot * PF_MAX_RULES + i);
		if (!orule)
			return;
		if ((orule->flags & PF_OFL_R_RESPONSES) && !(orule->flags & PF_OFL_R_KEEP)) {
			e->kind = PF_OFL_VARY;
			e->rule = (__u8)i;
			e->flags |= PF_OFL_E_UNNORM;
			return;
		}
	}
}

/* pf_ofl_entry's first half: the decision by the policy's matched rules
 * alone (pf_ofl_entry_fix then adjusts it). */
PF_INLINE void pf_ofl_entry_rule(const __u8 *buf, const struct pf_req *r,
				 const struct pf_slot_info *info, __u32 slot,
				 struct pf_match *m, struct pf_ofl_ent *e)
{
	const struct pf_ofl_rule *orule;
	__u32 n = r->origin.len;
	int mr, varies;

	e->kind = PF_OFL_NONE;
	e->flags = ((r->flags & PF_REQF_M_HEAD) ? PF_OFL_E_HEAD : 0) |
		   ((r->flags & PF_REQF_UPGRADE) ? PF_OFL_E_UPGRADE : 0);
	e->rule = 0;
	e->slot = (__u8)slot;
	e->origin_len = 0;
	mr = pf_match_rule(buf, r, info, slot, m);
	if (mr == PF_MR_DONE) {
		/* no rule, or a path the app must normalize: untouched. An
		 * origin only the daemon's regexes decide (or none at all on a
		 * regex rule's path): Vary under the first applicable rule, as
		 * for an origin no rule lists, and the origin is taught to the
		 * daemon (PF_OFL_E_LEARN) so that its next request is decided
		 * here. pf_match_rule left the applicable rules in m->pc. */
		if (m->verdict != PF_V_PUNT || m->reason != PF_R_REGEX)
			return;
		m->rule = PF_LAUNDER(m->tmp, pf_lowest_bit(m->pc.ok & m->pc.want));
		mr = PF_MR_ORIGIN;
		if (n && n <= PF_TOKEN_MAX)
			e->flags |= PF_OFL_E_LEARN;
	}
	orule = PF_OFL_RULE_LOOKUP(slot * PF_MAX_RULES + (m->rule & (PF_MAX_RULES - 1)));
	if (!orule) {
		e->flags &= ~PF_OFL_E_LEARN;
		return;
	}
	/* m->pc: the applicable rules (pf_match_rule, every way here) */
	varies = pf_ofl_varies(m->pc.ok & m->pc.want, info->any_origin_rules,
			       orule->resp_rules);
	if (!(orule->flags & PF_OFL_R_RESPONSES)) {
		/* responses: false: untouched, unless another applicable
		 * rule's answer depends on the origin -- then Vary: Origin
		 * only, the app's own Access-Control-* lines left (keep) */
		if (!varies) {
			e->flags &= ~PF_OFL_E_LEARN;
			return;
		}
		e->kind = PF_OFL_VARY;
		e->rule = (__u8)m->rule;
		e->flags |= PF_OFL_E_KEEP;
		return;
	}
	e->rule = (__u8)m->rule;
	if (orule->flags & PF_OFL_R_KEEP)
		e->flags |= PF_OFL_E_KEEP;
	if (mr == PF_MR_ORIGIN) {
		e->kind = PF_OFL_VARY;
		return;
	}
	if (m->rflags & PF_RULE_ANY_ORIGIN) {
		if (!varies) {
			e->kind = PF_OFL_STAR;
			return;
		}
		/* "*" next to an earlier rule's own answers: ALLOW's lines
		 * with the origin "*" (no credentials: a "*" rule has none)
		 * -- ACAO: *, Expose, Vary: Origin; pf_ofl_plan unchanged
		 * (a flag there cost pf_ofl_msg 14 % more processed insns) */
		e->kind = PF_OFL_ALLOW;
		e->origin[0] = '*';
		e->origin_len = 1;
		return;
	}
	if (n == 0 || n > PF_TOKEN_MAX) {
		e->kind = PF_OFL_VARY; /* no Origin: not a CORS request */
		return;
	}
	e->kind = PF_OFL_ALLOW;
	if (m->rflags & PF_RULE_CREDENTIALS)
		e->flags |= PF_OFL_E_CRED;
	e->origin_len = (__u8)n;
	/* 8 bytes a step (origin is PF_TOKEN_MAX / 8 whole words; the reads
	 * end within buf's PF_REQ_BUF bytes: the origin ends within the
	 * head), not bpf_probe_read_kernel: a helper call was 5 % of the
	 * recorder's time */
	pf_put_words((__u8 *)e->origin, 0, buf + PF_M(r->origin.off), n, PF_TOKEN_MAX / 8);
}

/* pf_ofl_entry's second half: e as pf_ofl_entry_rule left it for request
 * r (parsed by pf_parse_head from rb; info: its policy slot, m: that
 * decision's work space) -- an unmatched path's entry (pf_ofl_unnorm),
 * then a preflight's. A global function in BPF, which the recorder calls
 * after pf_ofl_decide (bpf/pf_ofl_tc.h): inside it, it made pf_ofl_tc's
 * deepest call chain "combined stack size of 5 calls is 528. Too large".
 * Returns 0.
 *
 * A preflight (pf_is_preflight, the answer path's definition) recorded
 * here is one the answer path passed to the app (a guard said no: drain,
 * a busy or full table, the daemon down, GSO, a punt ...): the app's
 * answer is a preflight response, whose Access-Control-Allow-Methods,
 * -Headers and -Max-Age the browser needs and which alone grants no read
 * access (the actual response is still decided by the policy). So its
 * Access-Control-* lines stay as the app wrote them (PF_OFL_E_KEEP, no
 * lines of ours), Vary merged as for any covered request (PF_OFL_VARY;
 * a "*" rule's answer, which gets no Vary: untouched); flagged
 * PF_OFL_E_PREFLIGHT for the recorder's count. */
PF_GLOBAL int pf_ofl_entry_fix(const struct pf_buf *rb, const struct pf_req *r,
			       const struct pf_slot_info *info, struct pf_match *m,
			       struct pf_ofl_ent *e)
{
	if (!rb || !r || !info || !m || !e)
		return 0;
	if (e->kind == PF_OFL_NONE && m->verdict == PF_V_PUNT &&
	    m->reason == PF_R_PATH_UNNORM)
		pf_ofl_unnorm(rb->b, r, info, m, e);
	if (e->kind == PF_OFL_NONE || !pf_is_preflight(r))
		return 0;
	e->flags = (e->flags & ~(PF_OFL_E_CRED | PF_OFL_E_UNNORM)) |
		   PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT;
	e->kind = e->kind == PF_OFL_STAR ? PF_OFL_NONE : PF_OFL_VARY;
	e->origin_len = 0;
	return 0;
}

/* The entry e of request r: see "ingress" above. */
PF_INLINE void pf_ofl_entry(const __u8 *buf, const struct pf_req *r,
			    const struct pf_slot_info *info, __u32 slot,
			    struct pf_match *m, struct pf_ofl_ent *e)
{
	pf_ofl_entry_rule(buf, r, info, slot, m, e);
	pf_ofl_entry_fix((const struct pf_buf *)buf, r, info, m, e);
}

/* ---- SK_MSG: the edit of one response head ---- */
#define PF_OFL_POP_MAX 16   /* >= PF_RH_RM_MAX, a power of 2 */

struct pf_ofl_plan {
	__u16 ins_at;               /* insert here (after the status line) */
	__u16 ins_len;              /* bytes in ins */
	__u16 n_pop;                /* lines to remove, descending offsets */
	__u16 popped;               /* their total length */
	__u16 flags;                /* PF_OFL_PL_* */
	__u16 pad;
	struct pf_slice pop[PF_OFL_POP_MAX];
	__u8  ins[2 * PF_RESP_MAX]; /* the lines to insert (upper half:
				     * slack for masked writes, see pf_resp.h) */
};

/* struct pf_ofl_plan.flags: app_headers: keep, a credentials rule, and
 * the app's own ACAO (kept) is "*": no Access-Control-Allow-Credentials
 * of ours next to it -- "*" with credentials is a combination Fetch
 * forbids (a credentialed request fails the CORS check either way; the
 * app's wildcard is its decision, ours must not make it a credentialed
 * one). Counted by the SK_MSG program (ofl_keep_star). */
#define PF_OFL_PL_NO_ACAC 1u

/* Does the head h (in head) carry an Access-Control-Allow-Origin whose
 * (first) value is "*"? */
PF_INLINE int pf_ofl_app_star(const __u8 *head, const struct pf_rhead *h)
{
	return (h->ac_seen & (1u << PF_RH_ACAO)) && h->val[PF_RH_ACAO].len == 1 &&
	       head[PF_M(h->val[PF_RH_ACAO].off)] == '*';
}

/* Append the Vary value v (len <= 16) of head at ins[off]: its words
 * (one for 8 bytes or fewer), written from one masked base, so up to 7
 * bytes past the value land in ins's slack or under the next piece (as
 * pf_put_last). The reads stay inside head's PF_REQ_BUF bytes: the value
 * ends within the head (off + len <= PF_REQ_MAX), and a second word is
 * read only for a value over 8 bytes. Returns the new offset. */
PF_INLINE __u32 pf_ofl_vary_short(__u8 *ins, __u32 off, const __u8 *head, struct pf_slice v)
{
	const __u8 *s = head + PF_M(v.off);
	__u8 *d = ins + PF_O(off);

	pf_st64(d, pf_ld64(s));
	if (v.len > 8)
		pf_st64(d + 8, pf_ld64(s + 8));
	return off + v.len;
}

/* Plan the edit of the response head h (in head) answering the request
 * of entry e under the rule settings orule (NULL: none). Returns 0 with
 * pl filled (ins_len 0 and n_pop 0: nothing to do; flags: PF_OFL_PL_*),
 * or -1 when the lines would not fit (the response then passes
 * unchanged). */
PF_INLINE int pf_ofl_plan(const __u8 *head, const struct pf_rhead *h,
			  const struct pf_ofl_ent *e, const struct pf_ofl_rule *orule,
			  struct pf_ofl_plan *pl)
{
	__u32 off = 0, i, k, el, merge, go, keep = e->flags & PF_OFL_E_KEEP;
	__u32 vary = e->kind == PF_OFL_ALLOW || e->kind == PF_OFL_VARY;

	pl->ins_at = h->status_end;
	pl->ins_len = 0;
	pl->n_pop = 0;
	pl->popped = 0;
	pl->flags = 0;
	if (e->kind == PF_OFL_NONE)
		return 0;
	merge = vary && !h->vary_origin;
	/* what goes: with app_headers: replace the app's own Access-Control-*
	 * lines; the Vary lines when they are merged into ours. Last first:
	 * each removal leaves the offsets of the earlier ones valid. The
	 * lines that go as one mask, one test a line: two tests a line
	 * doubled the states the verifier walked through the loop
	 * (pf_ofl_plan_g 139,821 processed insns; "BPF program is too
	 * large. Processed 1000001 insn" is what to stay far from) */
	go = ((merge ? h->rm_vary : 0) | (keep ? 0 : ~(__u32)h->rm_vary)) &
	     ((1u << (h->n_rm < PF_RH_RM_MAX ? h->n_rm : PF_RH_RM_MAX)) - 1);
	for (i = 0; i < PF_RH_RM_MAX; i++) {
		k = PF_RH_RM_MAX - 1 - i;
		if (!((go >> k) & 1))
			continue;
		pl->pop[pl->n_pop & (PF_OFL_POP_MAX - 1)] = h->rm[k];
		pl->popped += h->rm[k].len;
		pl->n_pop++;
	}
	if (e->kind == PF_OFL_ALLOW || e->kind == PF_OFL_STAR) {
		if (!keep || !(h->ac_seen & (1u << PF_RH_ACAO))) {
			PF_PUT_LIT(pl->ins, off, "Access-Control-Allow-Origin: ");
			if (e->kind == PF_OFL_STAR)
				PF_PUT_LIT(pl->ins, off, "*");
			else
				/* 8 bytes a step (pf_put_words: the origin's
				 * array is whole words), not a helper call */
				off = pf_put_words(pl->ins, off, (const __u8 *)e->origin,
						   e->origin_len < PF_TOKEN_MAX ?
						   e->origin_len : PF_TOKEN_MAX,
						   PF_TOKEN_MAX / 8);
			PF_PUT_LIT(pl->ins, off, "\r\n");
		}
		if ((e->flags & PF_OFL_E_CRED) && keep && pf_ofl_app_star(head, h))
			pl->flags |= PF_OFL_PL_NO_ACAC;
		else if ((e->flags & PF_OFL_E_CRED) &&
			 (!keep || !(h->ac_seen & (1u << PF_RH_ACAC))))
			PF_PUT_LIT(pl->ins, off, "Access-Control-Allow-Credentials: true\r\n");
		el = orule ? orule->expose_len : 0;
		if (el && el <= PF_OFL_EXPOSE_MAX &&
		    (!keep || !(h->ac_seen & (1u << PF_RH_ACEH)))) {
			/* Verifier workaround: el's range from the test above
			 * forgotten, so pf_put_words's loop is not walked once
			 * per length (pf_ofl_msg 323,166 processed insns with
			 * it, 487,836 without; with PF_PUT_VAR it avoided "R1
			 * min value is outside of the allowed memory range") */
			barrier_var(el);
			off = pf_put_words(pl->ins, off, (const __u8 *)orule->expose, el,
					   PF_OFL_EXPOSE_MAX / 8);
		}
	}
	/* Vary: merged -- the app's Vary lines become one line ending in
	 * Origin, unless one of them already lists Origin or "*" */
	if (merge) {
		PF_PUT_LIT(pl->ins, off, "Vary: ");
		for (i = 0; i < PF_RH_VARY_MAX && i < h->n_vary; i++) {
			if (!h->vary_val[i].len)
				continue;
			if (h->vary_val[i].len <= 16)
				/* the usual value (Accept-Encoding) as two
				 * words, not a helper call (pf_ofl_vary_short) */
				off = pf_ofl_vary_short(pl->ins, off, head, h->vary_val[i]);
			else
				PF_PUT_VAR(pl->ins, off, head + PF_M(h->vary_val[i].off),
					   h->vary_val[i].len & 255);
			PF_PUT_LIT(pl->ins, off, ", ");
		}
		PF_PUT_LIT(pl->ins, off, "Origin\r\n");
	}
	if (off > PF_RESP_MAX)
		return -1;
	pl->ins_len = (__u16)off;
	return 0;
}

/* ---- SK_MSG: chunked bodies ----
 * Both scans are bpf_loop callbacks over the bytes at hand: as inline
 * loops they overflowed "BPF program is too large. Processed 1000001
 * insn" (every iteration a new verifier state). */
struct pf_ofl_cscan {
	__u32 n;            /* bytes at hand */
	__u32 res;          /* result: length, 0 incomplete, or PF_OFL_CS_BAD */
	__u32 digits, ext;  /* chunk-size line */
	__u32 ls;           /* trailer: start of the current line */
	__u32 pad;
	__u64 v;            /* chunk size */
};

#define PF_OFL_CS_BAD 0xffffffffu

/* bpf_loop callback: byte i of a chunk-size line "HEX[;ext]\r\n". */
PF_CALLBACK long pf_ofl_chunk_cb(__u32 i, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_ofl_cscan *c = hd->w;
	__u8 ch;

	if (i + 1 >= c->n)
		return 1; /* incomplete: res stays 0 */
	ch = hd->buf[PF_M(i)];
	if (ch == '\r') {
		c->res = c->digits && hd->buf[PF_M(i + 1)] == '\n' ? i + 2 : PF_OFL_CS_BAD;
		return 1;
	}
	if (c->ext)
		return 0;
	if (ch == ';' || ch == ' ' || ch == '\t') {
		c->ext = 1;
		if (!c->digits)
			goto bad;
		return 0;
	}
	if (c->digits == 12)
		goto bad;
	if (ch >= '0' && ch <= '9')
		c->v = c->v * 16 + (ch - '0');
	else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		c->v = c->v * 16 + ((ch | 0x20) - 'a' + 10);
	else
		goto bad;
	c->digits++;
	return 0;
bad:
	c->res = PF_OFL_CS_BAD;
	return 1;
}

/* The chunk-size line at the start of b (n bytes at hand). Returns its
 * length with *size set, 0 if it does not end within n bytes (or 256),
 * -1 if it is malformed (or the size has over 12 hex digits). */
PF_INLINE int pf_ofl_chunk_line(const __u8 *b, __u32 n, struct pf_ofl_cscan *c,
				__u64 *size)
{
	struct pf_hold hd = { .buf = b, .w = c };

	__builtin_memset(c, 0, sizeof(*c));
	c->n = n;
	pf_loop(256, pf_ofl_chunk_cb, &hd);
	if (c->res == PF_OFL_CS_BAD)
		return -1;
	if (c->res == 0)
		return n >= 256 ? -1 : 0;
	*size = c->v;
	return (int)c->res;
}

/* bpf_loop callback: byte i of a trailer section. */
PF_CALLBACK long pf_ofl_trailer_cb(__u32 i, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_ofl_cscan *c = hd->w;

	if (i + 1 >= c->n)
		return 1;
	if (hd->buf[PF_M(i)] != '\r')
		return 0;
	if (hd->buf[PF_M(i + 1)] != '\n') {
		c->res = PF_OFL_CS_BAD;
		return 1;
	}
	if (i == c->ls) {
		c->res = i + 2;
		return 1;
	}
	c->ls = i + 2;
	return 0;
}

/* The trailer section at the start of b (after the last chunk): lines up
 * to an empty one. Returns its length incl. the final CRLF, 0 if it does
 * not end within n bytes (or 1024), -1 if malformed. */
PF_INLINE int pf_ofl_trailer(const __u8 *b, __u32 n, struct pf_ofl_cscan *c)
{
	struct pf_hold hd = { .buf = b, .w = c };

	__builtin_memset(c, 0, sizeof(*c));
	c->n = n;
	pf_loop(1024, pf_ofl_trailer_cb, &hd);
	if (c->res == PF_OFL_CS_BAD)
		return -1;
	if (c->res == 0)
		return n >= 1024 ? -1 : 0;
	return (int)c->res;
}

#endif /* PF_OFL_H */
