/*
 * policy_compile.c -- struct pf_policy -> the exact pf_tokens / pf_rules
 * map contents and the per-slot summary for one policy slot.
 *
 * This is a contract with the datapath: token hashes are
 * pf_hash_bytes(string, len, 0) of the strings stored by the validator
 * (already lower-cased where matching is case-insensitive), and the
 * precomputed response tails are byte-exact. Keys come out sorted by
 * (hash, kind) so pf_compiled_lookup() can binary-search them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_diag.h"
#include "policy_offload.h"
#include "policy_hsort.h"
#include "policy_regex.h"
#include "policy_rule.h"

/* Print "compile: ..." to errs (if not NULL): what has no place in the
 * file (a bad slot, out of memory). A problem of the policy itself goes
 * to the stage's pf_diag collector, as "FILE:LINE:COL: message". */
static void cerr(FILE *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cerr(FILE *errs, const char *fmt, ...)
{
	va_list ap;

	if (!errs)
		return;
	va_start(ap, fmt);
	fputs("compile: ", errs);
	vfprintf(errs, fmt, ap);
	fputc('\n', errs);
	va_end(ap);
}

/* Fill the pf_rule of rule index ri and its bits in info; problems to d
 * (the validator refuses them first: these guard the map layout). */
static int compile_rule(const struct pf_policy_rule *r, unsigned ri,
			struct pf_rule *out, struct pf_slot_info *info,
			struct pf_diag *d)
{
	__u64 bit = 1ULL << ri;
	size_t len;
	unsigned i;
	int err = 0;

	if (pf_list_has_star(&r->origins)) {
		out->flags |= PF_RULE_ANY_ORIGIN;
		info->any_origin_rules |= bit;
	}
	if (r->regexes.n) {
		out->flags |= PF_RULE_HAS_REGEX;
		info->regex_rules |= bit;
	}
	if (pf_list_has_star(&r->methods))
		out->flags |= PF_RULE_ANY_METHOD;
	if (pf_list_has_star(&r->headers))
		out->flags |= PF_RULE_ANY_HEADER;
	for (i = 0; i < r->headers.n; i++)
		if (!strcmp(r->headers.v[i].s, "authorization"))
			out->flags |= PF_RULE_AUTHZ_LISTED;
	if (r->hosts.n)
		out->flags |= PF_RULE_HAS_HOSTS;
	else
		info->any_host_rules |= bit;
	if (r->credentials)
		out->flags |= PF_RULE_CREDENTIALS;
	if (r->private_network)
		out->flags |= PF_RULE_PNA;
	if (r->on_deny_reject)
		out->flags |= PF_RULE_REJECT;
	if (r->paths.n > PF_MAX_PATHS) {
		pf_diag(d, r->paths.v[PF_MAX_PATHS].at, "paths: more than %d paths",
			PF_MAX_PATHS);
		return -EINVAL;
	}
	for (i = 0; i < r->paths.n; i++) {
		len = strlen(r->paths.v[i].s);
		if (len > PF_PATH_MAX - 1) {
			pf_diag(d, r->paths.v[i].at, "path longer than %d bytes",
				PF_PATH_MAX - 1);
			return -EINVAL;
		}
		out->paths[i].len = (__u16)len;
		memcpy(out->paths[i].s, r->paths.v[i].s, len);
	}
	out->n_paths = (__u16)r->paths.n;
	if (r->paths.n) {
		out->flags |= PF_RULE_HAS_PATHS;
		info->has_paths = 1;
	}
	len = pf_rule_fixed(r, out->fixed, sizeof(out->fixed));
	if (len > PF_FIXED_MAX) {
		pf_diag(d, r->methods.n ? r->methods.v[0].at : r->at,
			"the response tail of this rule is %zu bytes, over %d",
			len, PF_FIXED_MAX);
		err = -EINVAL;
	}
	out->fixed_len = (__u16)len;
	len = pf_rule_reject(out->reject, sizeof(out->reject));
	if (len > PF_REJECT_MAX) {
		pf_diag(d, r->at, "the reject tail of this rule is %zu bytes, over %d",
			len, PF_REJECT_MAX);
		err = -EINVAL;
	}
	out->reject_len = (__u16)len;
	return err;
}

/* One (kind, string) occurrence before merging. */
struct tok {
	__u64 hash;
	__u32 kind;
	__u32 len;
	const char *s;
	__u64 rules;
	struct pf_mark at;   /* the value it comes from */
};

/* Order of two tokens: hash, kind, then the string (so equal strings are
 * adjacent and a collision shows up as two different strings in one
 * group). */
static int tok_cmp(const struct tok *x, const struct tok *y)
{
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->s, y->s, x->len);
}

/* tok_cmp of the tokens (array arg) of two pf_hent with equal hashes. */
static int tok_tie(const void *a, const void *b, void *arg)
{
	const struct tok *t = arg;

	return tok_cmp(&t[((const struct pf_hent *)a)->idx],
		       &t[((const struct pf_hent *)b)->idx]);
}

/* Append one token occurrence for rule ri: s, in the value e. */
static int add_tok(struct tok *t, unsigned *n, __u32 kind, const char *s,
		   const struct pf_str *e, unsigned ri, struct pf_diag *d)
{
	char shown[PF_SHOW_MAX];
	size_t len = strlen(s);

	if (len > PF_TOKEN_MAX - 1) {
		pf_diag(d, e->at, "'%s' is longer than %d bytes",
			pf_show(s, shown, sizeof(shown)), PF_TOKEN_MAX - 1);
		return -EINVAL;
	}
	t[*n].hash = pf_hash_bytes((const __u8 *)s, (__u32)len, 0);
	t[*n].kind = kind;
	t[*n].len = (__u32)len;
	t[*n].s = s;
	t[*n].rules = 1ULL << ri;
	t[*n].at = e->at;
	(*n)++;
	return 0;
}

/* Append the tokens of a whole list (skipping "*") of one kind. */
static int add_list(struct tok *t, unsigned *n, __u32 kind,
		    const struct pf_str_list *l, unsigned ri, struct pf_diag *d)
{
	unsigned i;
	int err;

	for (i = 0; i < l->n; i++) {
		if (!strcmp(l->v[i].s, "*"))
			continue;
		err = add_tok(t, n, kind, l->v[i].s, &l->v[i], ri, d);
		if (err)
			return err;
	}
	return 0;
}

/* Append the origin tokens of rule ri: exact origins as written, and for
 * a wildcard origin (http or https, then "://", then "*.") the rest of it,
 * "suffix[:port]", as a PF_TOK_WILD_HTTP/HTTPS token. */
static int add_origins(struct tok *t, unsigned *n,
		       const struct pf_str_list *l, unsigned ri, struct pf_diag *d)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < l->n && !err; i++) {
		const char *o = l->v[i].s;

		if (!strcmp(o, "*"))
			continue;
		if (!strncmp(o, "https://*.", 10))
			err = add_tok(t, n, PF_TOK_WILD_HTTPS, o + 10, &l->v[i], ri, d);
		else if (!strncmp(o, "http://*.", 9))
			err = add_tok(t, n, PF_TOK_WILD_HTTP, o + 9, &l->v[i], ri, d);
		else
			err = add_tok(t, n, PF_TOK_ORIGIN, o, &l->v[i], ri, d);
	}
	return err;
}

/* Collect every token of pol, sort, merge equal ones, refuse hash
 * collisions, and store the unique keys in out, and with vals their
 * values. An exact origin also gets the rules whose regexes match it
 * (rs), so the datapath never punts an origin that has a token. */
static int compile_tokens(const struct pf_policy *pol, const struct pf_regex_set *rs,
			  struct pf_compiled *out, bool vals, struct pf_diag *d)
{
	char a[PF_SHOW_MAX], b[PF_SHOW_MAX];
	struct pf_hent *h = NULL;
	struct tok *t, *m;
	size_t total = 0;
	unsigned i, j, n = 0, u = 0;
	int err = 0;

	for (i = 0; i < pol->n_rules; i++) {
		const struct pf_policy_rule *r = &pol->rules[i];

		total += r->origins.n + r->methods.n + r->headers.n + r->hosts.n;
	}
	if (!total)
		return 0;
	t = malloc(total * sizeof(*t));  /* add_tok sets every field */
	if (!t)
		return -ENOMEM;
	for (i = 0; i < pol->n_rules && !err; i++) {
		const struct pf_policy_rule *r = &pol->rules[i];

		err = add_origins(t, &n, &r->origins, i, d);
		if (!err && !pf_list_has_star(&r->methods))
			err = add_list(t, &n, PF_TOK_METHOD, &r->methods, i, d);
		if (!err)
			err = add_list(t, &n, PF_TOK_HEADER, &r->headers, i, d);
		if (!err)
			err = add_list(t, &n, PF_TOK_HOST, &r->hosts, i, d);
	}
	if (err)
		goto out;
	h = malloc(n * sizeof(*h));
	m = malloc(n * sizeof(*m));     /* the merge sets every m[u] whole */
	if (!h || !m) {
		free(m);
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		h[i].hash = t[i].hash;
		h[i].idx = i;
	}
	err = pf_hsort(h, n, tok_tie, t);
	if (err) {
		free(m);
		goto out;
	}
	/* Merge runs of equal tokens, in sorted order, into m[0..u-1]. */
	for (i = 0; i < n; i = j) {
		m[u] = t[h[i].idx];
		for (j = i + 1; j < n && !tok_cmp(&t[h[j].idx], &t[h[i].idx]); j++)
			m[u].rules |= t[h[j].idx].rules;
		if (u && m[u].hash == m[u - 1].hash && m[u].kind == m[u - 1].kind) {
			/* at the later of the two in the file, naming the other */
			const struct tok *x = &m[u - 1], *y = &m[u];

			if (y->at.line < x->at.line ||
			    (y->at.line == x->at.line && y->at.col < x->at.col)) {
				x = &m[u];
				y = &m[u - 1];
			}
			pf_diag(d, y->at, "'%s' has the hash of '%s' (line %u, column %u): "
				"change one of them",
				pf_show(y->s, b, sizeof(b)), pf_show(x->s, a, sizeof(a)),
				x->at.line, x->at.col);
			err = -EINVAL;
		}
		u++;
	}
	free(t);
	t = m;
	if (err || !u)
		goto out;
	out->keys = calloc(u, sizeof(*out->keys));
	if (vals)  /* zeroed: the bytes after each string are map contents */
		out->vals = calloc(u, sizeof(*out->vals));
	if (!out->keys || (vals && !out->vals)) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < u; i++) {
		out->keys[i].hash = t[i].hash;
		out->keys[i].kind = t[i].kind;
		out->keys[i].slot = out->slot;
	}
	for (i = 0; vals && i < u; i++) {
		out->vals[i].rules = t[i].rules;
		if (t[i].kind == PF_TOK_ORIGIN)
			out->vals[i].rules |= pf_regex_set_match(rs, t[i].s, t[i].len);
		out->vals[i].len = (__u16)t[i].len;
		memcpy(out->vals[i].s, t[i].s, t[i].len);
	}
	out->n_toks = u;
out:
	free(h);
	free(t);
	return err;
}

__u64 pf_hdr_home_of(const void *s, size_t len)
{
	__u64 w[PF_HDR_NAME / 8] = { 0 };

	memcpy(w, s, len < sizeof(w) ? len : sizeof(w));
	return pf_hdr_home(w);
}

/* One name table of the slot (struct pf_hdr_tab, pf_structs.h): each
 * token of kind of up to PF_HDR_NAME bytes at the first free entry of its
 * probe sequence in ents[0..nents) (a power of 2), in key order; a
 * header name's sequence starts at its pf_hdr_home, a method's at its
 * token hash. A name with no free entry within PF_HDR_PROBE, or over
 * PF_HDR_NAME bytes, stays in pf_tokens only; *complete says whether any
 * of the former was left out, *n counts the entries used. */
static void compile_tab(const struct pf_compiled *c, __u32 kind, struct pf_hdr_ent *ents,
			unsigned nents, __u32 *complete, __u32 *n)
{
	struct pf_hdr_ent *e;
	unsigned i, j;
	__u64 home;

	*complete = 1;
	*n = 0;
	for (i = 0; i < c->n_toks; i++) {
		if (c->keys[i].kind != kind || c->vals[i].len > PF_HDR_NAME)
			continue;
		home = kind == PF_TOK_HEADER ? pf_hdr_home_of(c->vals[i].s, c->vals[i].len) :
						 c->keys[i].hash;
		for (j = 0; j < PF_HDR_PROBE; j++) {
			e = &ents[(home + j) & (nents - 1)];
			if (!e->len)
				break;
		}
		if (j == PF_HDR_PROBE) {
			*complete = 0;
			continue;
		}
		e->rules = c->vals[i].rules;
		e->len = c->vals[i].len;
		memcpy(e->s, c->vals[i].s, e->len);
		(*n)++;
	}
}

/* The slot's pf_hdrs value: its request-header names and its methods. */
static void compile_hdrs(struct pf_compiled *c)
{
	struct pf_hdr_tab *t = &c->hdrs;

	memset(t, 0, sizeof(*t));
	compile_tab(c, PF_TOK_HEADER, t->e, PF_HDR_ENTRIES, &t->complete, &t->n);
	compile_tab(c, PF_TOK_METHOD, t->m, PF_METH_ENTRIES, &t->m_complete, &t->m_n);
}

/* pf_policy_compile(), and with image false pf_policy_check_compile():
 * the same checks, without what only the maps need. */
static int compile(const struct pf_policy *pol, __u32 slot,
		   struct pf_compiled *out, bool image, FILE *errs)
{
	struct pf_regex_set rs = {};
	struct pf_diag d;
	unsigned i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	pf_diag_init(&d, pol->file ? pol->file : "policy");
	if (slot >= PF_SLOTS) {
		cerr(errs, "slot %u out of range 0..%d", slot, PF_SLOTS - 1);
		return -EINVAL;
	}
	if (pol->n_rules > PF_MAX_RULES || pol->n_ports > PF_MAX_PORTS) {
		cerr(errs, "%u rules and %u ports, over the limits of %d and %d",
		     pol->n_rules, pol->n_ports, PF_MAX_RULES, PF_MAX_PORTS);
		return -EINVAL;
	}
	out->slot = slot;
	for (i = 0; i < pol->n_rules; i++) {
		int e = compile_rule(&pol->rules[i], i, &out->rules[i],
				     &out->info, &d);

		if (e)
			err = e;
	}
	if (err)
		goto out;
	err = pf_regex_set_build(pol, &rs, errs);
	if (err)
		goto out;
	err = compile_tokens(pol, &rs, out, image, &d);
	pf_regex_set_free(&rs);
	if (err)
		goto out;
	if (image)
		compile_hdrs(out);
	out->info.n_rules = pol->n_rules;
	out->info.all_rules = pol->n_rules == 64 ? ~0ULL :
			      (1ULL << pol->n_rules) - 1;
	memcpy(out->ports, pol->ports, sizeof(out->ports));
	out->n_ports = pol->n_ports;
	if (image)
		pf_ofl_compile(pol, out);	/* issue 13: response offload */
out:
	pf_diag_flush(&d, errs);
	if (err == -ENOMEM)
		cerr(errs, "out of memory");
	if (err)
		pf_compiled_free(out);
	return err;
}

/* See policy.h. On error out is left empty (as after pf_compiled_free). */
int pf_policy_compile(const struct pf_policy *pol, __u32 slot,
		      struct pf_compiled *out, FILE *errs)
{
	return compile(pol, slot, out, true, errs);
}

/* See policy.h. */
int pf_policy_check_compile(const struct pf_policy *pol,
			    struct pf_compiled *out, FILE *errs)
{
	return compile(pol, 0, out, false, errs);
}

/* bsearch order of keys: hash, then kind (slot is the same for all). */
static int key_cmp(const void *a, const void *b)
{
	const struct pf_tok_key *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return 0;
}

/* See policy.h. O(log n). Returns NULL if key is absent or for another
 * slot. The caller still compares the string (as the datapath does). */
const struct pf_tok_val *pf_compiled_lookup(const struct pf_compiled *c,
					    const struct pf_tok_key *key)
{
	const struct pf_tok_key *k;

	if (!c->n_toks || key->slot != c->slot)
		return NULL;
	k = bsearch(key, c->keys, c->n_toks, sizeof(*k), key_cmp);
	return k ? &c->vals[k - c->keys] : NULL;
}

/* See policy.h. */
int pf_compiled_learn(struct pf_compiled *c, const char *origin, size_t len,
		      __u64 rules)
{
	struct pf_tok_key key = { 0 }, *keys;
	struct pf_tok_val *vals;
	unsigned pos;

	if (!len || len > PF_TOKEN_MAX)
		return -EINVAL;
	key.hash = pf_hash_bytes((const __u8 *)origin, (__u32)len, 0);
	key.kind = PF_TOK_ORIGIN;
	key.slot = c->slot;
	if (pf_compiled_lookup(c, &key))
		return -EEXIST;
	keys = realloc(c->keys, (c->n_toks + 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	c->keys = keys;
	vals = realloc(c->vals, (c->n_toks + 1) * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	c->vals = vals;
	for (pos = 0; pos < c->n_toks && key_cmp(&c->keys[pos], &key) < 0; pos++)
		;
	memmove(&c->keys[pos + 1], &c->keys[pos], (c->n_toks - pos) * sizeof(*keys));
	memmove(&c->vals[pos + 1], &c->vals[pos], (c->n_toks - pos) * sizeof(*vals));
	c->keys[pos] = key;
	memset(&c->vals[pos], 0, sizeof(*vals));
	c->vals[pos].rules = rules;
	c->vals[pos].len = (__u16)len;
	memcpy(c->vals[pos].s, origin, len);
	c->n_toks++;
	return 0;
}

/* See policy.h. Safe on a zeroed or already freed struct. */
void pf_compiled_free(struct pf_compiled *c)
{
	free(c->keys);
	free(c->vals);
	memset(c, 0, sizeof(*c));
}
