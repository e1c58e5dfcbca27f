/* Both: the CORS policy matcher over a parsed preflight; static inline for BPF and gcc. */
/*
 * pf_match.h -- decide a parsed preflight against one compiled policy slot.
 *
 * The includer provides the two table look-ups before including this file:
 *   PF_TOK_LOOKUP(const struct pf_tok_key *k)  -> const struct pf_tok_val *
 *   PF_RULE_LOOKUP(__u32 index)                -> const struct pf_rule *
 * (BPF: map look-ups; userspace: struct pf_compiled). Every token hit is
 * verified byte for byte against the stored string.
 *
 * Rule selection (documented in README): a rule *applies* to a request
 * when its hosts and paths match; the first applicable rule that lists the
 * origin decides. Method, request headers and private-network then make
 * it an allow or a deny. A denied preflight follows the deciding rule's
 * on_deny; an origin no applicable rule lists follows the first applicable
 * rule's on_deny; no applicable rule -> forwarded to the app.
 *
 * Regex origins (PF_RULE_HAS_REGEX) are evaluated by the daemon, not here:
 * when an applicable regex rule comes before every applicable rule that
 * lists the origin, and the origin has no exact PF_TOK_ORIGIN token, the
 * verdict is PF_V_PUNT / PF_R_REGEX. The daemon then inserts that token
 * with the rules whose regexes match (0: a learned negative) and the next
 * look-up decides normally. The compiler does the same for every exactly
 * listed origin, so an exact token always carries its regex rules too.
 *
 * Request-header lists over the kernel's limits (PF_ACRH_MAX_LEN bytes,
 * PF_ACRH_MAX_TOKENS names) are the daemon's too: it runs this file's
 * pf_check_headers() with limits up to PF_ACRH_SLOW_MAX and stores the
 * result in pf_acrh under the whole value (PF_ACRH_LOOKUP); until then
 * the verdict is PF_V_PUNT / PF_R_ACRH_SLOW.
 */
#ifndef PF_MATCH_H
#define PF_MATCH_H

#include "pf_structs.h"
#include "pf_http.h"

#if !defined(PF_TOK_LOOKUP) || !defined(PF_RULE_LOOKUP) || !defined(PF_ACRH_LOOKUP)
#error "define PF_TOK_LOOKUP(key), PF_RULE_LOOKUP(index) and PF_ACRH_LOOKUP(key) before including pf_match.h"
#endif

enum pf_verdict {
	PF_V_ALLOW = 0,   /* answer 204 */
	PF_V_REJECT,      /* answer 403 */
	PF_V_FORWARD,     /* denied, on_deny: forward -> app */
	PF_V_NO_RULE,     /* no rule applies -> app */
	PF_V_PUNT,        /* beyond kernel limits -> app (or daemon) */
};

enum pf_reason {
	PF_R_OK = 0,
	PF_R_NO_RULE,         /* no rule's hosts/paths match */
	PF_R_ORIGIN,          /* origin not listed by an applicable rule */
	PF_R_METHOD,          /* method not allowed */
	PF_R_METHOD_BAD,      /* ACRM is not a token */
	PF_R_METHOD_FORBIDDEN,/* CONNECT/TRACE/TRACK */
	PF_R_HEADER,          /* a request header is not allowed */
	PF_R_HEADER_BAD,      /* ACRH is not a list of tokens */
	PF_R_AUTHZ_WILDCARD,  /* authorization is never covered by "*" */
	PF_R_PNA,             /* private network access not allowed */
	PF_R_ACRH_LIMIT,      /* request headers too long even for the daemon */
	PF_R_PATH_UNNORM,     /* path not normalized while rules use paths */
	PF_R_REGEX,           /* regex origins decide: the daemon's job */
	PF_R_ACRH_SLOW,       /* request headers over the kernel's limits and
			       * not in pf_acrh yet: the daemon's job */
};

struct pf_origin_ctx {
	__u32 off, n, hs, kind, slot, ncand, wild_ok, pad;
	__u32 exact;    /* an exact PF_TOK_ORIGIN token exists (any rules) */
	__u32 pad2;
	__u64 h, rules;
	__u64 cand_h[PF_MAX_LABELS];
	__u32 cand_off[PF_MAX_LABELS];
};

struct pf_path_ctx {
	struct pf_slice path;
	__u32 slot;
	__u64 want;     /* rules to test */
	__u64 ok;       /* result: rules whose paths match (or have none) */
};

struct pf_hdr_ctx {
	__u32 pos, end, slot, rflags;
	__u64 bit;
	__u32 state;        /* 0: before a name, 1: in a name, 2: after it */
	__u32 tstart;       /* start of the current name */
	__u32 ntok;
	__u32 reason;       /* PF_R_OK while all names are allowed */
	__u32 has_authz;
	__u32 tmp;
	__u32 max_tok;      /* most names before PF_R_ACRH_LIMIT */
	__u32 pad;
	struct pf_slice bad;
};

struct pf_match {
	__u32 verdict;        /* enum pf_verdict */
	__u32 reason;         /* enum pf_reason */
	__u32 rule;           /* deciding rule index (valid unless NO_RULE) */
	__u32 rflags;         /* its PF_RULE_* flags */
	__u8  acah;           /* 0: none, 1: "*", 2: echo ACRH */
	__u8  acam_echo;      /* ANY_METHOD + credentials: echo ACRM */
	__u8  acapn;          /* add Access-Control-Allow-Private-Network */
	__u8  has_authz;
	struct pf_slice bad;  /* offending token (method or header) */
	__u32 tmp;            /* PF_LAUNDER slot */
	/* callback work areas (map memory in the kernel, see PF_LAUNDER) */
	struct pf_origin_ctx oc;
	struct pf_path_ctx pc;
	struct pf_hdr_ctx hc;
	struct pf_acrh_key ak;  /* PF_ACRH_LOOKUP key, and what is punted */
};

/* Lower-case letters, digits, '-', '.', ':' -- the only bytes a wildcard
 * origin's host[:port] may contain. */
PF_INLINE int pf_is_hostch(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == ':';
}

/* Compare n bytes of buf at off with s (optionally case-insensitively;
 * s is stored lower-case then). n <= PF_TOKEN_MAX. */
PF_INLINE int pf_tok_eq(const __u8 *buf, __u32 off, const char *s, __u32 n, int ci)
{
	__u32 i;

	/* constant bound: s[i] stays inside the 112-byte array even where
	 * the verifier cannot relate n to it */
	for (i = 0; i < PF_TOKEN_MAX; i++) {
		__u8 c;

		if (i >= n)
			break;
		c = buf[PF_M(off + i)];
		if ((ci ? pf_lower(c) : c) != (__u8)s[i])
			return 0;
	}
	return 1;
}

/* Rules listing the n-byte string at buf[off] as a token of kind; *hit
 * (if hit is not NULL) is set to 1 when the token exists, even with no
 * rules (a learned negative). */
PF_INLINE __u64 pf_tok_find(const __u8 *buf, __u32 off, __u32 n, __u64 hash,
			    __u32 kind, __u32 slot, int ci, __u32 *ls, __u32 *hit)
{
	struct pf_tok_key k = { .hash = hash, .kind = kind, .slot = slot };
	const struct pf_tok_val *v;

	/* the hashing loop's exit pinned n to one value per path; launder
	 * it (ls: a slot in map memory) so the compare is checked once */
	n = PF_LAUNDER(*ls, n);
	if (n == 0 || n > PF_TOKEN_MAX)
		return 0;
	v = PF_TOK_LOOKUP(&k);
	if (!v || v->len != n)
		return 0;
	if (!pf_tok_eq(buf, off, v->s, n, ci))
		return 0;
	if (hit)
		*hit = 1;
	return v->rules;
}

/* Rules listing the n-byte string at buf[off] as a token of kind. */
PF_INLINE __u64 pf_tok_rules(const __u8 *buf, __u32 off, __u32 n, __u64 hash,
			     __u32 kind, __u32 slot, int ci, __u32 *ls)
{
	return pf_tok_find(buf, off, n, hash, kind, slot, ci, ls, 0);
}

/* Right-to-left hash of n bytes at buf[off]. */
PF_INLINE __u64 pf_hash_slice(const __u8 *buf, __u32 off, __u32 n, int lower)
{
	__u64 h = PF_HASH_INIT;
	__u32 k;

	for (k = 0; k < PF_TOKEN_MAX; k++) {
		__u8 c;

		if (k >= n)
			break;
		c = buf[PF_M(off + n - 1 - k)];

		h = pf_hash_step(h, lower ? pf_lower(c) : c);
	}
	return h;
}

/* Rules whose hosts list the Host header (port stripped, any case). */
PF_INLINE __u64 pf_host_rules(const __u8 *buf, struct pf_slice host, __u32 slot,
			      struct pf_match *m)
{
	__u32 n = host.len, i;
	__u8 c;

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
	n = PF_LAUNDER(m->tmp, n);
	return pf_tok_rules(buf, host.off, n, pf_hash_slice(buf, host.off, n, 1),
			    PF_TOK_HOST, slot, 1, &m->tmp);
}

/* bpf_loop callback: feed origin byte n-1-k into the hash; at each dot of
 * the host remember the hash of what follows it. */
PF_CALLBACK long pf_origin_scan_cb(__u32 k, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_origin_ctx *c = hd->w;
	__u32 i;
	__u8 ch;

	if (k >= c->n || k >= PF_TOKEN_MAX)
		return 1;
	i = c->n - 1 - k;
	ch = hd->buf[PF_M(c->off + i)];
	if (i >= c->hs && !pf_is_hostch(ch))
		c->wild_ok = 0;
	if (ch == '.' && i > c->hs && c->ncand < PF_MAX_LABELS) {
		c->cand_h[c->ncand & (PF_MAX_LABELS - 1)] = c->h;
		c->cand_off[c->ncand & (PF_MAX_LABELS - 1)] = i + 1;
		c->ncand++;
	}
	c->h = pf_hash_step(c->h, ch);
	return 0;
}

/* bpf_loop callback: look up wildcard candidate k. */
PF_CALLBACK long pf_origin_cand_cb(__u32 k, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_origin_ctx *c = hd->w;
	__u32 off;

	if (k >= c->ncand)
		return 1;
	/* no "k < PF_MAX_LABELS" test: clang would then drop the mask and
	 * the verifier sees an unbounded index ("R4 unbounded memory access") */
	k &= PF_MAX_LABELS - 1;
	off = c->cand_off[k];
	if (off >= c->n)
		return 0;
	c->rules |= pf_tok_rules(hd->buf, c->off + off, c->n - off,
				 c->cand_h[k], c->kind, c->slot, 0, &c->pad);
	return 0;
}

/* Rules listing the origin exactly or by a wildcard suffix. One
 * right-to-left pass hashes the whole origin and, at each dot of the host,
 * the "suffix[:port]" after it (the pattern https:// + *.example.com is
 * stored as kind WILD_HTTPS, "example.com"). At least one label must
 * precede the suffix, so the apex never matches a wildcard. Also sets
 * m->oc.exact: whether an exact token for the origin exists at all (even
 * with no rules: a negative the daemon learned), and m->oc.h, the hash
 * of the whole origin. */
PF_INLINE __u64 pf_origin_rules(const __u8 *buf, struct pf_slice o, __u32 slot,
				struct pf_match *m)
{
	struct pf_origin_ctx *c = &m->oc;
	struct pf_hold hd = { .buf = buf, .w = c };

	c->exact = 0;
	if (o.len == 0 || o.len > PF_TOKEN_MAX)
		return 0;
	__builtin_memset(c, 0, sizeof(*c));
	c->off = o.off;
	c->n = o.len;
	c->slot = slot;
	c->h = PF_HASH_INIT;
	if (o.len > 8 && pf_tok_eq(buf, o.off, "https://", 8, 0)) {
		c->hs = 8;
		c->kind = PF_TOK_WILD_HTTPS;
	} else if (o.len > 7 && pf_tok_eq(buf, o.off, "http://", 7, 0)) {
		c->hs = 7;
		c->kind = PF_TOK_WILD_HTTP;
	}
	c->wild_ok = c->kind != 0;
	pf_loop(PF_TOKEN_MAX, pf_origin_scan_cb, &hd);
	c->rules = pf_tok_find(buf, o.off, o.len, c->h, PF_TOK_ORIGIN, slot, 0, &c->pad,
			       &c->exact);
	if (c->wild_ok)
		pf_loop(PF_MAX_LABELS, pf_origin_cand_cb, &hd);
	return c->rules;
}

/* Does the request path start with one of the rule's prefixes? */
PF_INLINE int pf_path_match(const __u8 *buf, struct pf_slice p,
			    const struct pf_rule *rule)
{
	__u32 j, i, n;

	for (j = 0; j < PF_MAX_PATHS && j < rule->n_paths; j++) {
		const struct pf_path *pp = &rule->paths[j];

		n = pp->len;
		if (n == 0 || n > PF_PATH_MAX || n > p.len)
			continue;
		for (i = 0; i < PF_PATH_MAX && i < n; i++)
			if (buf[PF_M(p.off + i)] != (__u8)pp->s[i])
				break;
		if (i == n)
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
	    pf_path_match(hd->buf, c->path, rule))
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

/* Check Access-Control-Request-Method against rule r. */
PF_INLINE __u32 pf_check_method(const __u8 *buf, struct pf_slice m, __u32 slot,
				__u32 r, __u32 rflags, __u32 *ls)
{
	__u32 i;

	if (m.len == 0 || m.len > PF_TOKEN_MAX)
		return PF_R_METHOD_BAD;
	for (i = 0; i < PF_TOKEN_MAX && i < m.len; i++)
		if (!pf_is_tchar(buf[PF_M(m.off + i)]))
			return PF_R_METHOD_BAD;
	m.len = (__u16)PF_LAUNDER(*ls, m.len); /* the loop exit pinned it */
	if ((m.len == 7 && pf_name_eq(buf, m.off, "connect", 7)) ||
	    (m.len == 5 && (pf_name_eq(buf, m.off, "trace", 5) ||
			    pf_name_eq(buf, m.off, "track", 5))))
		return PF_R_METHOD_FORBIDDEN;
	/* CORS-safelisted methods pass the browser's check without ACAM */
	if ((m.len == 3 && pf_tok_eq(buf, m.off, "GET", 3, 0)) ||
	    (m.len == 4 && (pf_tok_eq(buf, m.off, "HEAD", 4, 0) ||
			    pf_tok_eq(buf, m.off, "POST", 4, 0))))
		return PF_R_OK;
	if (rflags & PF_RULE_ANY_METHOD)
		return PF_R_OK;
	if (pf_tok_rules(buf, m.off, m.len, pf_hash_slice(buf, m.off, m.len, 0),
			 PF_TOK_METHOD, slot, 0, ls) & (1ULL << (r & 63)))
		return PF_R_OK;
	return PF_R_METHOD;
}

/* One name of the list has ended at c->pos: is it allowed? Returns 1 to
 * stop the scan (denied or over the kernel limit). */
PF_INLINE int pf_hdr_name(const __u8 *buf, struct pf_hdr_ctx *c)
{
	__u32 start = c->tstart, n = c->pos - c->tstart, is_authz;
	__u64 rules;

	if (++c->ntok > c->max_tok) {
		c->reason = PF_R_ACRH_LIMIT;
		return 1;
	}
	is_authz = n == 13 && pf_name_eq(buf, start, "authorization", 13);
	if (is_authz)
		c->has_authz = 1;
	rules = pf_tok_rules(buf, start, n, pf_hash_slice(buf, start, n, 1),
			     PF_TOK_HEADER, c->slot, 1, &c->tmp);
	if ((rules & c->bit) || ((c->rflags & PF_RULE_ANY_HEADER) && !is_authz))
		return 0;
	c->reason = is_authz && (c->rflags & PF_RULE_ANY_HEADER) ?
		    PF_R_AUTHZ_WILDCARD : PF_R_HEADER;
	c->bad.off = (__u16)start;
	c->bad.len = (__u16)n;
	return 1;
}

/* Bytes that separate list elements: SP, HT, ','. */
#define PF_SEP_SET ((1ULL << ' ') | (1ULL << '\t') | (1ULL << ','))

/* bpf_loop callback: one byte of the ACRH value, as a 3-state machine
 * (before name / in name / after name): "a, b" and "a,b" are lists of
 * two names, "a b" is malformed. Per byte rather than per name: nested
 * scans here exceed "The sequence of 8193 jumps is too complex". */
PF_CALLBACK long pf_hdr_cb(__u32 idx, void *ctx)
{
	struct pf_hold *hd = ctx;
	struct pf_hdr_ctx *c = hd->w;
	__u8 ch;
	int sep, tch;

	(void)idx;
	if (c->pos >= c->end) {
		if (c->state == 1)
			pf_hdr_name(hd->buf, c);
		return 1;
	}
	ch = hd->buf[PF_M(c->pos)];
	sep = ch < 64 && ((PF_SEP_SET >> ch) & 1);
	tch = pf_is_tchar(ch);
	if (c->state == 1) {
		if (tch) {
			c->pos++;
			return 0;
		}
		if (!sep)
			goto bad;
		if (pf_hdr_name(hd->buf, c))
			return 1;
		c->state = ch == ',' ? 0 : 2;
	} else if (c->state == 2) {
		if (!sep)
			goto bad;
		if (ch == ',')
			c->state = 0;
	} else {
		if (tch) {
			c->tstart = c->pos;
			c->state = 1;
		} else if (!sep) {
			goto bad;
		}
	}
	c->pos++;
	return 0;
bad:
	c->reason = PF_R_HEADER_BAD;
	c->bad.off = (__u16)c->pos;
	c->bad.len = 1;
	return 1;
}

/* Check Access-Control-Request-Headers against rule r, scanning at most
 * max_len bytes and max_tok names (PF_R_ACRH_LIMIT beyond); fills
 * m->acah, m->has_authz and, on a deny, m->bad. Returns a pf_reason.
 * The datapath passes PF_ACRH_MAX_LEN / PF_ACRH_MAX_TOKENS, the daemon
 * larger limits for what the datapath could not decide. */
PF_INLINE __u32 pf_check_headers(const __u8 *buf, struct pf_slice h, __u32 slot,
				 __u32 r, __u32 rflags, struct pf_match *m,
				 __u32 max_len, __u32 max_tok)
{
	struct pf_hdr_ctx *c = &m->hc;
	struct pf_hold hd = { .buf = buf, .w = c };

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
PF_INLINE int pf_match_rule(const __u8 *buf, const struct pf_req *r,
			    const struct pf_slot_info *info, __u32 slot,
			    struct pf_match *m)
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
	host = info->any_host_rules | pf_host_rules(buf, r->host, slot, m);
	host &= info->all_rules;
	m->pc.path = r->path;
	m->pc.slot = slot;
	m->pc.want = host;
	m->pc.ok = 0;
	if (host)
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

/* Decide request r (parsed from buf) against policy slot. */
PF_INLINE void pf_match(const __u8 *buf, const struct pf_req *r,
			const struct pf_slot_info *info, __u32 slot,
			struct pf_match *m)
{
	const struct pf_rule *rule;
	__u32 ri, reason;

	switch (pf_match_rule(buf, r, info, slot, m)) {
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
	reason = pf_check_method(buf, r->acrm, slot, ri, rule->flags, &m->tmp);
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
	if (r->acrpn.len == 4 && pf_tok_eq(buf, r->acrpn.off, "true", 4, 0)) {
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
