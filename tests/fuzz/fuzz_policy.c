/*
 * fuzz_policy.c -- libFuzzer target for the policy stages: bytes (as a
 * NUL-terminated string) -> pf_policy_load_string -> pf_policy_compile
 * into both slots. Must never crash or leak (ASan's leak check runs at
 * exit and every -runs).
 *
 * Checked on every input:
 *   - a refused policy is left empty;
 *   - a policy the validator accepts also compiles (anything else is a
 *     policy `preflightd check` passes and the daemon then refuses);
 *   - the compiled tokens are unique, sorted and each found by
 *     pf_compiled_lookup; tails and paths are within the map sizes;
 *   - the request-header name table (pf_hdrs) holds exactly the header
 *     and method tokens it can, each where pf_tab_find probes for it
 *     (check_hdrs);
 *   - a preflight made of rule 0's own first host, path, origin and
 *     method is allowed by rule 0 through pf_user_decide (the exact
 *     datapath code), with a well-formed response.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "match.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			__LINE__, #cond); \
		abort(); \
	} \
} while (0)

static FILE *devnull;
static __u8 *buf, *resp;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* diagnostics are formatted and written, then thrown away */
	devnull = fopen("/dev/null", "w");
	buf = malloc(PF_REQ_BUF);
	resp = malloc(2 * PF_RESP_MAX);
	CHECK(devnull && buf && resp);
	return 0;
}

/* A name table of the slot (ents[0..nents), *complete, n: the header
 * names or the methods of struct pf_hdr_tab) holds tokens of kind only,
 * each as the token (bytes, rules), zero-padded, within PF_HDR_PROBE of
 * its home entry (a header name's pf_hdr_home, a method's token hash)
 * with no empty entry before it; complete: every token of
 * kind of up to PF_HDR_NAME bytes is in it. */
static void check_tab(const struct pf_compiled *c, __u32 kind, const struct pf_hdr_ent *ents,
		      unsigned nents, __u32 complete, __u32 n)
{
	const struct pf_hdr_ent *e;
	struct pf_tok_key k = { .kind = kind, .slot = c->slot };
	const struct pf_tok_val *v;
	unsigned i, j, h, used = 0, fit = 0;

	for (i = 0; i < nents; i++) {
		e = &ents[i];
		if (!e->len)
			continue;
		used++;
		CHECK(e->len <= PF_HDR_NAME);
		for (j = e->len; j < PF_HDR_NAME; j++)
			CHECK(!e->s[j]);
		k.hash = pf_hash_bytes((const __u8 *)e->s, e->len, 0);
		v = pf_compiled_lookup(c, &k);
		CHECK(v && v->len == e->len && !memcmp(v->s, e->s, e->len) &&
		      v->rules == e->rules);
		h = (unsigned)(kind == PF_TOK_HEADER ? pf_hdr_home_of(e->s, e->len) : k.hash) &
		    (nents - 1);
		CHECK(((i - h) & (nents - 1)) < PF_HDR_PROBE);
		for (j = h; j != i; j = (j + 1) & (nents - 1))
			CHECK(ents[j].len);
	}
	CHECK(used == n);
	for (i = 0; i < c->n_toks; i++)
		fit += c->keys[i].kind == kind && c->vals[i].len <= PF_HDR_NAME;
	CHECK(complete ? used == fit : used < fit);
}

static void check_hdrs(const struct pf_compiled *c)
{
	const struct pf_hdr_tab *t = &c->hdrs;

	check_tab(c, PF_TOK_HEADER, t->e, PF_HDR_ENTRIES, t->complete, t->n);
	check_tab(c, PF_TOK_METHOD, t->m, PF_METH_ENTRIES, t->m_complete, t->m_n);
}

/* The compiled maps are consistent and within their sizes. */
static void check_compiled(const struct pf_policy *p, const struct pf_compiled *c,
			   __u32 slot)
{
	unsigned i;

	CHECK(c->slot == slot);
	CHECK(c->info.n_rules == p->n_rules);
	CHECK(c->info.all_rules == (p->n_rules == 64 ? ~0ULL :
				    (1ULL << p->n_rules) - 1));
	CHECK(!(c->info.any_origin_rules & ~c->info.all_rules));
	CHECK(!(c->info.any_host_rules & ~c->info.all_rules));
	for (i = 0; i < c->n_toks; i++) {
		CHECK(c->keys[i].slot == slot);
		CHECK(c->vals[i].len > 0 && c->vals[i].len < PF_TOKEN_MAX);
		CHECK(c->vals[i].rules && !(c->vals[i].rules & ~c->info.all_rules));
		CHECK(pf_compiled_lookup(c, &c->keys[i]) == &c->vals[i]);
		CHECK(c->keys[i].hash == pf_hash_bytes((const __u8 *)c->vals[i].s,
						       c->vals[i].len, 0));
		if (i)
			CHECK(c->keys[i - 1].hash < c->keys[i].hash ||
			      (c->keys[i - 1].hash == c->keys[i].hash &&
			       c->keys[i - 1].kind < c->keys[i].kind));
	}
	check_hdrs(c);
	for (i = 0; i < PF_MAX_RULES; i++) {
		const struct pf_rule *r = &c->rules[i];

		CHECK(r->fixed_len <= PF_FIXED_MAX);
		CHECK(r->reject_len <= PF_REJECT_MAX);
		CHECK(r->n_paths <= PF_MAX_PATHS);
		if (i < p->n_rules)
			CHECK(r->fixed_len > 0 && r->reject_len > 0);
		/* "*" origins never with credentials */
		CHECK(!((r->flags & PF_RULE_ANY_ORIGIN) &&
			(r->flags & PF_RULE_CREDENTIALS)));
	}
}

/* A preflight from rule 0's own first entries is allowed by rule 0. */
static void check_self_request(const struct pf_policy *p,
			       const struct pf_compiled *c)
{
	const struct pf_policy_rule *pr = &p->rules[0];
	const char *o = pr->origins.v[0].s, *m;
	char origin[PF_TOKEN_MAX + 16], *s;
	struct pf_req r;
	struct pf_match mt;
	int n, rlen, need;

	if (!strcmp(o, "*"))
		snprintf(origin, sizeof(origin), "https://x.test");
	else if (!strncmp(o, "https://*.", 10))
		snprintf(origin, sizeof(origin), "https://a.%s", o + 10);
	else if (!strncmp(o, "http://*.", 9))
		snprintf(origin, sizeof(origin), "http://a.%s", o + 9);
	else
		snprintf(origin, sizeof(origin), "%s", o);
	m = pr->methods.v[0].s;
	if (!strcmp(m, "*"))
		m = "PATCH";
	memset(buf, 0, PF_REQ_BUF);
	n = snprintf((char *)buf, PF_REQ_MAX,
		     "OPTIONS %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n"
		     "Access-Control-Request-Method: %s\r\n\r\n",
		     pr->paths.n ? pr->paths.v[0].s : "/",
		     pr->hosts.n ? pr->hosts.v[0].s : "h.test", origin, m);
	CHECK(n > 0 && n < PF_REQ_MAX);
	CHECK(pf_user_decide(c, buf, (__u32)n, NULL, &r, &mt, resp, &rlen) ==
	      PF_P_OK);
	if (r.flags & PF_REQF_PATH_UNNORM) {
		/* the validator accepts path prefixes the parser flags
		 * (backslash, segments ending in ".."): always punted */
		CHECK(mt.verdict == PF_V_PUNT && mt.reason == PF_R_PATH_UNNORM);
		return;
	}
	if (mt.verdict != PF_V_ALLOW || mt.rule != 0) {
		fprintf(stderr, "self request:\n%s-> %s/%s rule %u\n", buf,
			pf_verdict_name(mt.verdict), pf_reason_name(mt.reason),
			mt.rule);
		abort();
	}
	need = 64 + PF_DATE_LEN + r.origin.len + r.acrm.len + r.acrh.len +
	       c->rules[0].fixed_len + c->rules[0].reject_len + 200;
	if (rlen == -1) {
		/* pf_build_response's estimate is conservative */
		CHECK(need > PF_RESP_MAX);
		return;
	}
	CHECK(rlen > 0 && rlen <= PF_RESP_MAX);
	s = strndup((const char *)resp, (size_t)rlen);
	CHECK(s && (int)strlen(s) == rlen);
	CHECK(!strncmp(s, "HTTP/1.1 204 No Content\r\n", 25));
	CHECK(strstr(s, "\r\nVary: Origin, "));
	CHECK(strstr(s, "\r\n\r\n") == s + rlen - 4);
	CHECK(!(strstr(s, "\r\nAccess-Control-Allow-Origin: *\r\n") &&
		strstr(s, "\r\nAccess-Control-Allow-Credentials:")));
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_policy pol;
	struct pf_compiled c;
	char *yaml = malloc(size + 1);
	__u32 slot;
	int err;

	CHECK(yaml);
	memcpy(yaml, data, size);
	yaml[size] = '\0';
	memset(&pol, 0xa5, sizeof(pol));
	err = pf_policy_load_string("fuzz.yaml", yaml, &pol,
				    size & 1 ? devnull : NULL);
	if (err) {
		CHECK(!pol.rules && !pol.file && pol.n_rules == 0);
		pf_policy_free(&pol);
		free(yaml);
		return 0;
	}
	CHECK(pol.n_rules >= 1 && pol.n_rules <= PF_MAX_RULES);
	for (slot = 0; slot < PF_SLOTS; slot++) {
		err = pf_policy_compile(&pol, slot, &c, devnull);
		if (err) {
			fprintf(stderr, "validated policy does not compile "
				"(slot %u): %d\n", slot, err);
			pf_policy_compile(&pol, slot, &c, stderr);
			abort();
		}
		check_compiled(&pol, &c, slot);
		check_self_request(&pol, &c);
		pf_compiled_free(&c);
	}
	pf_policy_free(&pol);
	free(yaml);
	return 0;
}
