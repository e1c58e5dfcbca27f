/* Both: the policy matcher's verdicts, work areas and token look-ups; included by pf_match.h and pf_match_acr.h. */
/*
 * pf_match_tok.h -- what a match decides (enum pf_verdict, enum
 * pf_reason) and carries (struct pf_match, with its callbacks' work
 * areas), and how a policy token is found: hashed as the compiler hashed
 * it (pf_hash_buf, pf_common.h's pf_hash_bytes), looked up through the
 * includer's PF_TOK_LOOKUP (see pf_match.h) and verified byte for byte
 * against the stored string (pf_tok_find).
 */
#ifndef PF_MATCH_TOK_H
#define PF_MATCH_TOK_H

#ifndef PF_TOK_LOOKUP
#error "define PF_TOK_LOOKUP(key) before including pf_match_tok.h (see pf_match.h)"
#endif

#include "pf_common.h"
#include "pf_structs.h"
#include "pf_http.h"       /* struct pf_slice, PF_M */

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
	__u64 in_port;  /* all ones once the host's ':' was seen (else 0) */
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
	__u32 nel;          /* elements looked at (pf_hdr_elems_buf) */
	__u32 max_el;       /* most elements: as many as the callbacks take */
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

#endif /* PF_MATCH_TOK_H */
