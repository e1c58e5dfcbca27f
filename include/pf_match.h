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

#if !defined(PF_TOK_LOOKUP) || !defined(PF_RULE_LOOKUP) || !defined(PF_ACRH_LOOKUP) || \
    !defined(PF_HDRS_LOOKUP)
#error "define PF_TOK_LOOKUP(key), PF_RULE_LOOKUP(index), PF_ACRH_LOOKUP(key) and PF_HDRS_LOOKUP(slot) before including pf_match.h"
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
	__u32 off, n, hs, kind, slot, ncand, pad;
	__u32 exact;    /* an exact PF_TOK_ORIGIN token exists (any rules) */
	__u64 h, rules; /* hash of the whole origin; rules listing it */
	__u64 first;    /* the first applicable rule's bit (from m->pc) */
	/* the last PF_MAX_LABELS wildcard candidates (a ring): offsets of
	 * the "suffix[:port]" after a dot of the host */
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
	__u32 need_comma;   /* a name ended at SP/HT: a ',' must come first */
	__u32 tstart;       /* start of the current name */
	__u32 ntok;
	__u32 reason;       /* PF_R_OK while all names are allowed */
	__u32 has_authz;
	__u32 tmp, tmp2;    /* PF_LAUNDER slots */
	__u32 max_tok;      /* most names before PF_R_ACRH_LIMIT */
	__u32 done;         /* pf_hdr_find decided the current name */
	__u64 hash;         /* the current name's pf_hdr_home (see pf_hdr_name) */
	__u64 w[PF_HDR_NAME / 8]; /* its first words, lower-cased, zero-padded */
	struct pf_tok_key key;    /* pf_hdr_tok_buf's look-up key */
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
	__u64 mw[PF_HDR_NAME / 8]; /* the method's first words, zero-padded */
	__u32 mdone;            /* pf_tab_find decided the method */
};

/* Lower-case letters, digits, '-', '.', ':' -- the only bytes a wildcard
 * origin's host[:port] may contain. */
PF_INLINE int pf_is_hostch(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == ':';
}

/* Compare n bytes of rb at off with the string of v (optionally
 * case-insensitively; v->s is stored lower-case then), 8 bytes at a time.
 * n <= PF_TOKEN_MAX. */
PF_INLINE int pf_tok_eq(const struct pf_buf *rb, __u32 off, const struct pf_tok_val *v,
			__u32 n, int ci)
{
	if (!rb || !v)
		return 0;
	/* constant bound: v->s + 8 * k stays inside the 112-byte array */
	return pf_eq_words(rb->b, off, (const __u8 *)v->s, n, PF_TOKEN_MAX / 8, ci);
}

/* Rules listing the n-byte string at buf[off] as the token of key *k
 * (hash, kind and slot filled in by the caller: its own storage, a stack
 * variable or map memory); *hit (if hit is not NULL) is set to 1 when
 * the token exists, even with no rules (a learned negative). */
PF_INLINE __u64 pf_tok_find(const __u8 *buf, __u32 off, __u32 n, const struct pf_tok_key *k,
			    int ci, __u32 *ls, __u32 *hit)
{
	const struct pf_tok_val *v;

	/* the scanning loop's exit pinned n to one value per path; launder
	 * it (ls: a slot in map memory) so the compare is checked once */
	n = PF_LAUNDER(*ls, n);
	if (n == 0 || n > PF_TOKEN_MAX)
		return 0;
	v = PF_TOK_LOOKUP(k);
	if (!v || v->len != n)
		return 0;
	if (!pf_tok_eq((const struct pf_buf *)buf, off, v, n, ci))
		return 0;
	if (hit)
		*hit = 1;
	return v->rules;
}

/* Rules listing the n-byte string at buf[off] as a token of kind. */
PF_INLINE __u64 pf_tok_rules(const __u8 *buf, __u32 off, __u32 n, __u64 hash,
			     __u32 kind, __u32 slot, int ci, __u32 *ls)
{
	struct pf_tok_key k = { .hash = hash, .kind = kind, .slot = slot };

	return pf_tok_find(buf, off, n, &k, ci, ls, 0);
}

/* pf_hash_bytes() (pf_common.h) of the n bytes at buf[off], optionally
 * lower-cased; of the last PF_TOKEN_MAX bytes if n is longer (and with
 * that length). Reads up to 7 bytes past them (buf has PF_REQ_BUF).
 * words (NULL: none) gets the first nw words hashed, as hashed (the last
 * one zero-padded); those past n are left alone. */
PF_INLINE __u64 pf_hash_buf_w(const struct pf_buf *rb, __u32 off, __u32 n, int lower,
			      __u64 *words, const __u32 nw)
{
	__u64 h, w, k;

	if (!rb)
		return 0;
	if (n > PF_TOKEN_MAX) {
		off += n - PF_TOKEN_MAX;
		n = PF_TOKEN_MAX;
	}
	h = PF_HASH_INIT ^ n;
	for (k = 0; k < PF_TOKEN_MAX / 8; k++) {
		if (8 * k >= n)
			break;
		w = pf_ld64(rb->b + PF_M(off + 8 * k));
		if (n - 8 * k < 8)
			w &= pf_low_bytes(n - 8 * k);
		w = lower ? pf_lower64(w) : w;
		if (words && k < nw)
			words[k] = w;
		h = pf_hash_word(h, w);
	}
	return pf_hash_end(h);
}

PF_INLINE __u64 pf_hash_buf(const struct pf_buf *rb, __u32 off, __u32 n, int lower)
{
	return pf_hash_buf_w(rb, off, n, lower, 0, 0);
}

PF_INLINE __u64 pf_hash_slice(const __u8 *buf, __u32 off, __u32 n, int lower)
{
	return pf_hash_buf((const struct pf_buf *)buf, off, n, lower);
}

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
 * letters, digits, '-', '.', ':'. */
PF_INLINE __u64 pf_hostch64(__u64 x)
{
	return pf_inb(x, 'a', 'z') | pf_inb(x, '0', ':') | pf_inb(x, '-', '.');
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
 * in a wildcard origin. At least one label must precede the suffix, so
 * the apex never matches a wildcard. Also sets m->oc.exact: whether an
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
	__u64 x, in, dots;
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
		dots = pf_eqb(x, '.') & in & (k ? ~0ULL : ~0x80ULL);
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

	i = from + PF_SEP_SCAN_IN < lim ? from + PF_SEP_SCAN_IN : lim;
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
	__u64 i, k, m, x, lw, r;

	c->w[0] = c->w[1] = c->w[2] = c->w[3] = 0;
	for (k = 0, i = from; k < PF_HDR_NAME / 8 && i < lim; k++, i += 8) {
		x = pf_ld64(b + PF_M(i));
		/* pf_maybe_not_tchar with its letters kept: they lower-case
		 * the word as pf_lower64 does */
		m = pf_maybe_not_tchar(x);
		/* letters lower-cased (their flags moved to bit 5) */
		lw = x | (pf_inb(x | 0x2020202020202020ULL, 'a', 'z') >> 2);
		if (m) {
			r = (m & -m) & pf_eqb(x, ',');
			if (!(r | ((m & -m) & pf_eqb(x, ':'))))
				m &= ~pf_tchar_sym(x);
			if (m) {
				/* the bytes before the first non-tchar */
				c->w[k & 3] = lw & (((m & -m) >> 7) - 1);
				i += pf_first_byte(m);
				return i | (r && i < lim ? PF_SEP_COMMA : 0);
			}
		}
		c->w[k & 3] = lw;
	}
	return i;
}

/* Elements per pf_hdr_cb call (4: pf_tc_ingress 514k verified insns
 * instead of 401k, and no clear gain measured at 16 names). */
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
	t = r & ~PF_SEP_COMMA;
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
	c->hash = t > end ? PF_HDR_ENTRIES : pf_hdr_home(c->w);
	if (t == s + PF_HDR_NAME && t < end)
		r = pf_scan_tchar(b, t, end);
	/* the scan's exits bound t, s and end differently: t and end
	 * laundered, s (dead from here) read back from c->tstart by
	 * pf_hdr_name (inline scan: pf_tc_ingress 398k verified insns with s
	 * and end live, 331k laundered) */
	r = PF_LAUNDER(c->tmp, r);
	end = PF_LAUNDER(c->tmp2, end);
	t = r & ~PF_SEP_COMMA;
	if (t > end)
		t = end;
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

/* bpf_loop callback: the next PF_HDR_PER_CB elements of the list -- a
 * callback's return per name cost about as much as the rest of a short
 * name's check (see pf_hdr_elem). Not unrolled: the unrolled copies'
 * spills put the frame over the stack limit above. */
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
