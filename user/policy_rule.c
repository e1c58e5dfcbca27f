/*
 * policy_rule.c -- what the validator and the compiler both derive from
 * one rule (see policy_rule.h): the "*" entry of a list and the response
 * tails the datapath appends after the per-request headers.
 */
#include <stdio.h>
#include <string.h>

#include "policy_rule.h"

/* See policy_rule.h. */
bool pf_list_has_star(const struct pf_str_list *l)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].s, "*"))
			return true;
	return false;
}

/* Every answer depends on all four request headers -- a rule without
 * private_network denies a request that carries
 * Access-Control-Request-Private-Network -- so every rule's Vary names
 * them all (Fetch, "CORS protocol and HTTP caches"): a cache that kept a
 * 204 keyed on the first three would serve it to a private-network
 * preflight the rule denies. */
#define VARY_LINE "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers, " \
		  "Access-Control-Request-Private-Network\r\n"

/* Bounded appender that still counts what did not fit. */
struct sbuf {
	char *p;
	size_t cap;
	size_t len;
};

/* Append s to b (as much as fits); b->len grows by strlen(s) regardless. */
static void sb_put(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len < b->cap)
		memcpy(b->p + b->len, s, n < b->cap - b->len ? n : b->cap - b->len);
	b->len += n;
}

/* See policy_rule.h. */
size_t pf_rule_fixed(const struct pf_policy_rule *r, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };
	char age[24];
	unsigned i;

	if (!pf_list_has_star(&r->methods)) {
		sb_put(&b, "Access-Control-Allow-Methods: ");
		for (i = 0; i < r->methods.n; i++) {
			if (i)
				sb_put(&b, ", ");
			sb_put(&b, r->methods.v[i].s);
		}
		sb_put(&b, "\r\n");
	}
	if (r->credentials)
		sb_put(&b, "Access-Control-Allow-Credentials: true\r\n");
	if (r->max_age >= 0) {
		snprintf(age, sizeof(age), "%d", r->max_age);
		sb_put(&b, "Access-Control-Max-Age: ");
		sb_put(&b, age);
		sb_put(&b, "\r\n");
	}
	sb_put(&b, VARY_LINE);
	sb_put(&b, "\r\n");
	return b.len;
}

/* See policy_rule.h. */
size_t pf_rule_reject(char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };

	sb_put(&b, VARY_LINE);
	sb_put(&b, "Content-Length: 0\r\n");
	sb_put(&b, "\r\n");
	return b.len;
}
