/* Both: the CORS policy matcher over a parsed preflight; static inline for BPF and gcc. */
/*
 * pf_match.h -- decide a parsed preflight against one compiled policy slot.
 *
 * The includer provides the table look-ups before including this file:
 *   PF_TOK_LOOKUP(const struct pf_tok_key *k)  -> const struct pf_tok_val *
 *   PF_RULE_LOOKUP(__u32 index)                -> const struct pf_rule *
 *   PF_HDRS_LOOKUP(__u32 slot)                 -> const struct pf_hdr_tab *
 *     (NULL allowed: the request-header names then go to PF_TOK_LOOKUP)
 * (BPF: map look-ups; userspace: struct pf_compiled). Every token hit is
 * verified byte for byte against the stored string.
 *
 * Rule selection (preflightd-policy(5) DECISION, docs/cors.md): a rule
 * *applies* to a request when its hosts and paths match; the first
 * applicable rule that lists the origin decides. Method, request headers
 * and private-network then make it an allow or a deny. A denied
 * preflight follows the deciding rule's on_deny; an origin no applicable
 * rule lists follows the first applicable rule's on_deny; no applicable
 * rule -> forwarded to the app.
 *
 * Regex origins (PF_RULE_HAS_REGEX) are evaluated by the daemon, not here:
 * when an applicable regex rule comes before every applicable rule that
 * lists the origin, and the origin has no exact PF_TOK_ORIGIN token, the
 * verdict is PF_V_PUNT / PF_R_REGEX. The daemon then inserts that token
 * with the rules whose regexes match (0: a learned negative) and the next
 * look-up decides normally. The compiler does the same for every exactly
 * listed origin, so an exact token always carries its regex rules too.
 *
 * The pieces, each included by this file (and usable on their own by
 * what needs only them): pf_match_tok.h -- the verdicts, struct
 * pf_match and the token look-ups; pf_match_acr.h -- the method and
 * request-header checks. This file: hosts, origins, paths, the rule
 * selection and pf_match().
 */
#ifndef PF_MATCH_H
#define PF_MATCH_H

#if !defined(PF_TOK_LOOKUP) || !defined(PF_RULE_LOOKUP) || !defined(PF_ACRH_LOOKUP) || \
    !defined(PF_HDRS_LOOKUP)
#error "define PF_TOK_LOOKUP(key), PF_RULE_LOOKUP(index), PF_ACRH_LOOKUP(key) and PF_HDRS_LOOKUP(slot) before including pf_match.h"
#endif

#include "pf_structs.h"
#include "pf_http.h"
#include "pf_match_tok.h"
#include "pf_match_acr.h"

/* Rules whose hosts list the Host header (port stripped, any case). */
PF_GLOBAL __u64 pf_host_rules_buf(const struct pf_buf *rb, __u32 host_off, __u32 host_len,
				  __u32 slot, struct pf_match *m)
{
	struct pf_slice host = { .off = (__u16)host_off, .len = (__u16)host_len };
	__u32 n = host.len, i;
	const __u8 *buf;
	__u8 c;

	if (!rb || !m)
		return 0;
	buf = rb->b;

	if (n > PF_TOKEN_MAX)
		return 0;
	/* strip ":port" unless the colon is inside an IPv6 literal */
	for (i = 0; i < 8 && i < n; i++) {
		c = buf[PF_M(host.off + n - 1 - i)];
		if (c == ':') {
			n = n - 1 - i;
			break;
		}
		if (c < '0' || c > '9')
			break;
	}
	/* one trailing dot: "api.example.com." names the same host (a fully
	 * qualified name a page can fetch; servers and the TLS name check
	 * treat it so), so its host rules apply, not a later catch-all */
	if (n > 1 && buf[PF_M(host.off + n - 1)] == '.')
		n--;
	n = PF_LAUNDER(m->tmp, n);
	return pf_tok_rules(buf, host.off, n, pf_hash_slice(buf, host.off, n, 1),
			    PF_TOK_HOST, slot, 1, &m->tmp);
}

PF_INLINE __u64 pf_host_rules(const __u8 *buf, struct pf_slice host, __u32 slot,
			      struct pf_match *m)
{
	return pf_host_rules_buf((const struct pf_buf *)buf, host.off, host.len, slot, m);
}

/* Bytes of x that a wildcard origin's host[:port] may contain: lower-case
 * letters, digits, '-', '.', '_' (a URL host may have it, and browsers
 * send it: https://my_app.example.com), ':'. */
PF_INLINE __u64 pf_hostch64(__u64 x)
{
	return pf_inb(x, 'a', 'z') | pf_inb(x, '0', ':') | pf_inb(x, '-', '.') | pf_eqb(x, '_');
}

/* pf_hostch64 of one byte: explain's view of a wildcard match
 * (user/explain_why.c), the datapath's by construction. */
PF_INLINE int pf_is_hostch(__u8 c)
{
	return (pf_hostch64(c) & 0x80) != 0;
}

/* bpf_loop callback: look up wildcard candidate k (a slot of the ring). */
PF_CALLBACK long pf_origin_cand_cb(__u32 k, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_origin_ctx *c = hd->w;
	__u32 off;

	/* no "k < PF_MAX_LABELS" test: clang would then drop the mask and
	 * the verifier sees an unbounded index ("R4 unbounded memory access") */
	k &= PF_MAX_LABELS - 1;
	off = c->cand_off[k];
	if (off >= c->n)
		return 0;
	c->rules |= pf_tok_rules(hd->buf, c->off + off, c->n - off,
				 pf_hash_slice(hd->buf, c->off + off, c->n - off, 0),
				 c->kind, c->slot, 0, &c->pad);
	return 0;
}

/* Rules listing the origin exactly or by a wildcard suffix. The pattern
 * https:// + *.example.com is stored as kind WILD_HTTPS, "example.com":
 * the candidates are the "suffix[:port]" after each dot of the host (the
 * last PF_MAX_LABELS dots), looked up only if every host byte may appear
 * in a wildcard origin and only digits follow a ':' (the port; a dot
 * after it is no label's: "https://evil.test:.example.com" is no
 * subdomain of example.com). At least one label must precede the suffix,
 * so the apex never matches a wildcard. Also sets m->oc.exact: whether an
 * exact token for the origin exists at all (even with no rules: a
 * negative the daemon learned), and m->oc.h, the hash of the whole
 * origin. Only the first applicable rule listing the origin counts
 * (pf_match_rule): when the exact token already lists the first
 * applicable rule (m->pc, set before this is called), no wildcard can
 * change the decision and none is looked up -- the returned set then
 * holds the exact token's rules only. */
PF_GLOBAL __u64 pf_origin_rules_buf(const struct pf_buf *rb, __u32 o_off, __u32 o_len,
				    __u32 slot, struct pf_match *m)
{
	struct pf_slice o = { .off = (__u16)o_off, .len = (__u16)o_len };
	struct pf_origin_ctx *c;
	struct pf_hold hd;
	const __u8 *buf;
	__u64 x, in, dots, low, port;
	__u32 k, j, i, n = o.len;

	if (!rb || !m)
		return 0;
	buf = rb->b;
	c = &m->oc;
	hd.buf = buf;
	hd.w = c;

	c->exact = 0;
	if (n == 0 || n > PF_TOKEN_MAX)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	c->off = o.off;
	c->n = n;
	c->slot = slot;
	/* Verifier workaround: the first applicable rule goes to memory
	 * before the look-up, not kept in a register across it -- one more
	 * spilled word in this frame and the TC program's deepest call chain
	 * is over 512 bytes ("combined stack size of 4 calls is 528. Too
	 * large") */
	c->first = m->pc.ok & m->pc.want;
	c->first &= -c->first;
	x = pf_ld64(buf + PF_M(o.off));
	if (n > 8 && x == PF_LIT8("https://")) {
		c->hs = 8;
		c->kind = PF_TOK_WILD_HTTPS;
	} else if (n > 7 && (x & pf_low_bytes(7)) == PF_LIT8("http://\0")) {
		c->hs = 7;
		c->kind = PF_TOK_WILD_HTTP;
	}
	c->h = pf_hash_slice(buf, o.off, n, 0);
	{
		struct pf_tok_key k = { .hash = c->h, .kind = PF_TOK_ORIGIN, .slot = slot };

		c->rules = pf_tok_find(buf, o.off, n, &k, 0, &c->pad, &c->exact);
	}
	if (!c->kind || (c->rules & c->first))
		return c->rules;
	for (k = 0; k < PF_TOKEN_MAX / 8; k++) {
		i = c->hs + 8 * k;
		if (i >= n)
			break;
		x = pf_ld64(buf + PF_M(o.off + i));
		in = n - i < 8 ? pf_low_bytes(n - i) & PF_HIGHS : PF_HIGHS;
		if (~pf_hostch64(x) & in)
			return c->rules;  /* no wildcard can match this host */
		/* the bytes after the first ':' (all of them once a word had
		 * one): digits only, no candidate among them. Branch-free:
		 * low is the first ':' of this word or 0, and ~((low << 1) -
		 * 1) the bytes above it (0 for no ':'). Verifier workaround:
		 * whether a ':' was seen kept in memory (c->in_port, zeroed
		 * with c), not in a register: known 0 on some ways round the
		 * loop and not on others, it kept the verifier from pruning
		 * (pf_tc_ingress 197k -> 306k processed instructions) */
		low = pf_eqb(x, ':') & in;
		low &= -low;
		port = (*(volatile __u64 *)&c->in_port | ~((low << 1) - 1)) & in;
		c->in_port |= (__u64)((__s64)(low | -low) >> 63);
		if (port & ~pf_inb(x, '0', '9'))
			return c->rules;  /* no port: no wildcard can match */
		dots = pf_eqb(x, '.') & in & ~port & (k ? ~0ULL : ~0x80ULL);
		for (j = 0; j < 8 && dots; j++) {
			c->cand_off[c->ncand & (PF_MAX_LABELS - 1)] = i + pf_first_byte(dots) + 1;
			c->ncand++;
			dots &= dots - 1;
		}
	}
	pf_loop(c->ncand < PF_MAX_LABELS ? c->ncand : PF_MAX_LABELS, pf_origin_cand_cb, &hd);
	return c->rules;
}

PF_INLINE __u64 pf_origin_rules(const __u8 *buf, struct pf_slice o, __u32 slot,
				struct pf_match *m)
{
	return pf_origin_rules_buf((const struct pf_buf *)buf, o.off, o.len, slot, m);
}

/* Does the request path *p start with one of the rule's prefixes? */
PF_INLINE int pf_path_match(const __u8 *buf, const struct pf_slice *p,
			    const struct pf_rule *rule)
{
	__u64 j, n, off, len;

	for (j = 0; j < PF_MAX_PATHS && j < rule->n_paths; j++) {
		const struct pf_path *pp = &rule->paths[j];

		/* the path read again for each prefix (p: map memory in the
		 * kernel): kept in registers, the compares below narrowed
		 * its length differently on every way out of a prefix, and
		 * the verifier walked the next prefix once per such state
		 * (pf_path_cb 20.7k processed insns in pf_tc_ingress) */
		off = *(volatile const __u16 *)&p->off;
		len = *(volatile const __u16 *)&p->len;
		n = pp->len;
		if (n == 0 || n > PF_PATH_MAX || n > len)
			continue;
		/* pp->s has PF_PATH_MAX readable bytes */
		if (pf_eq_words(buf, off, (const __u8 *)pp->s, n, PF_PATH_MAX / 8, 0))
			return 1;
	}
	return 0;
}

PF_CALLBACK long pf_path_cb(__u32 r, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_path_ctx *c = hd->w;
	const struct pf_rule *rule;
	__u64 bit = 1ULL << (r & 63);

	if (!(c->want & bit))
		return 0;
	rule = PF_RULE_LOOKUP(c->slot * PF_MAX_RULES + (r & 63));
	if (!rule)
		return 1;
	if (!(rule->flags & PF_RULE_HAS_PATHS) ||
	    pf_path_match(hd->buf, &c->path, rule))
		c->ok |= bit;
	return 0;
}

/* Index of the lowest set bit of a non-zero x (the BPF backend has no
 * count-trailing-zeros instruction). */
PF_INLINE __u32 pf_lowest_bit(__u64 x)
{
	__u32 n = 0;

	if (!(x & 0xffffffffULL)) { n += 32; x >>= 32; }
	if (!(x & 0xffffULL))     { n += 16; x >>= 16; }
	if (!(x & 0xffULL))       { n += 8;  x >>= 8; }
	if (!(x & 0xfULL))        { n += 4;  x >>= 4; }
	if (!(x & 0x3ULL))        { n += 2;  x >>= 2; }
	if (!(x & 0x1ULL))        { n += 1; }
	return n;
}

/* What pf_match_rule found. */
enum pf_mrule {
	PF_MR_DONE = 0,   /* m->verdict/reason final: NO_RULE or PUNT */
	PF_MR_ORIGIN,     /* no applicable rule lists the origin; m->rule is
			   * the first applicable rule */
	PF_MR_RULE,       /* m->rule/m->rflags: the first applicable rule
			   * listing the origin (not yet checked further) */
};

/* The rule that decides request r by its hosts, paths and origin: the
 * first half of pf_match, shared with the response offload (issue 13),
 * which decides actual requests by it. Returns an enum pf_mrule. */
/* paths_inline (a constant): no pf_path_cb call when no rule has paths.
 * 0 for the response offload: its pf_ofl_tc was then over the stack
 * limit ("combined stack size of 4 calls is 528. Too large"). */
PF_INLINE int pf_match_rule_p(const __u8 *buf, const struct pf_req *r,
			      const struct pf_slot_info *info, __u32 slot,
			      struct pf_match *m, const int paths_inline)
{
	struct pf_hold hd = { .buf = buf, .w = &m->pc };
	const struct pf_rule *rule;
	__u64 host, origin, applicable, cand;
	__u32 ri;

	m->verdict = 0;
	m->reason = 0;
	m->rule = 0;
	m->rflags = 0;
	m->acah = 0;
	m->acam_echo = 0;
	m->acapn = 0;
	m->has_authz = 0;
	m->bad.off = 0;
	m->bad.len = 0;
	if (info->has_paths && (r->flags & PF_REQF_PATH_UNNORM)) {
		m->verdict = PF_V_PUNT;
		m->reason = PF_R_PATH_UNNORM;
		return PF_MR_DONE;
	}
	/* the Host look-up can only add rules that list hosts */
	host = info->any_host_rules;
	if (info->all_rules & ~host)
		host |= pf_host_rules(buf, r->host, slot, m);
	host &= info->all_rules;
	m->pc.path = r->path;
	m->pc.slot = slot;
	m->pc.want = host;
	m->pc.ok = 0;
	if (host && !info->has_paths && paths_inline)
		/* no rule has paths (no PF_RULE_HAS_PATHS): pf_path_cb would
		 * pass every rule it looks at -- without a callback per rule
		 * (each call's return is costly on CPUs that need a return
		 * thunk, e.g. AMD's SRSO Safe RET) */
		m->pc.ok = host;
	else if (host)
		/* only the policy's rules, not all PF_MAX_RULES slots (a
		 * profile showed 7 % of the program in empty iterations) */
		pf_loop(info->n_rules < PF_MAX_RULES ? info->n_rules : PF_MAX_RULES,
			pf_path_cb, &hd);
	applicable = m->pc.ok & host;
	if (!applicable) {
		m->verdict = PF_V_NO_RULE;
		m->reason = PF_R_NO_RULE;
		return PF_MR_DONE;
	}
	origin = info->any_origin_rules | pf_origin_rules(buf, r->origin, slot, m);
	cand = applicable & origin;
	/* an applicable regex rule before the first applicable rule listing
	 * the origin (or any, if none lists it), and no exact token telling
	 * what the regexes say: the daemon decides (see the top comment) */
	if ((applicable & info->regex_rules & (cand ? (cand & -cand) - 1 : ~0ULL)) &&
	    !m->oc.exact) {
		m->verdict = PF_V_PUNT;
		m->reason = PF_R_REGEX;
		return PF_MR_DONE;
	}
	/* pf_lowest_bit has 64 outcomes; laundered, the verifier checks what
	 * follows once instead of 64 times */
	if (!cand) {
		m->rule = PF_LAUNDER(m->tmp, pf_lowest_bit(applicable));
		return PF_MR_ORIGIN;
	}
	ri = PF_LAUNDER(m->tmp, pf_lowest_bit(cand));
	rule = PF_RULE_LOOKUP(slot * PF_MAX_RULES + (ri & 63));
	if (!rule) {
		m->verdict = PF_V_PUNT;
		return PF_MR_DONE;
	}
	m->rule = ri;
	m->rflags = rule->flags;
	return PF_MR_RULE;
}

PF_INLINE int pf_match_rule(const __u8 *buf, const struct pf_req *r,
			    const struct pf_slot_info *info, __u32 slot,
			    struct pf_match *m)
{
	return pf_match_rule_p(buf, r, info, slot, m, 0);
}

/* Decide request r (parsed from buf) against policy slot. */
PF_INLINE void pf_match(const __u8 *buf, const struct pf_req *r,
			const struct pf_slot_info *info, __u32 slot,
			struct pf_match *m)
{
	const struct pf_rule *rule;
	__u32 ri, reason;

	switch (pf_match_rule_p(buf, r, info, slot, m, 1)) {
	case PF_MR_DONE:
		return;
	case PF_MR_ORIGIN:
		ri = m->rule;
		reason = PF_R_ORIGIN;
		goto deny;
	default:
		break;
	}
	ri = m->rule;
	rule = PF_RULE_LOOKUP(slot * PF_MAX_RULES + (ri & 63));
	if (!rule) {
		m->verdict = PF_V_PUNT;
		return;
	}
	reason = pf_check_method(buf, r->acrm, slot, ri, rule->flags, m);
	if (reason != PF_R_OK) {
		m->bad = r->acrm;
		goto deny;
	}
	reason = pf_check_headers(buf, r->acrh, slot, ri, rule->flags, m,
				  PF_ACRH_MAX_LEN, PF_ACRH_MAX_TOKENS);
	if (reason == PF_R_ACRH_LIMIT)
		reason = pf_acrh_learned(buf, r->acrh, slot, ri, m);
	if (reason == PF_R_ACRH_LIMIT || reason == PF_R_ACRH_SLOW) {
		m->verdict = PF_V_PUNT;
		m->reason = reason;
		return;
	}
	if (reason != PF_R_OK)
		goto deny;
	if (r->acrpn.len == 4 &&
	    (pf_ld64(buf + PF_M(r->acrpn.off)) & pf_low_bytes(4)) == PF_LIT8("true\0\0\0\0")) {
		if (!(rule->flags & PF_RULE_PNA)) {
			reason = PF_R_PNA;
			goto deny;
		}
		m->acapn = 1;
	}
	m->acam_echo = (rule->flags & PF_RULE_ANY_METHOD) &&
		       (rule->flags & PF_RULE_CREDENTIALS);
	m->verdict = PF_V_ALLOW;
	m->reason = PF_R_OK;
	return;
deny:
	m->rule = ri;
	m->reason = reason;
	rule = PF_RULE_LOOKUP(slot * PF_MAX_RULES + (ri & 63));
	if (!rule) {
		m->verdict = PF_V_PUNT;
		return;
	}
	m->rflags = rule->flags;
	m->verdict = (rule->flags & PF_RULE_REJECT) ? PF_V_REJECT : PF_V_FORWARD;
}

#endif /* PF_MATCH_H */
