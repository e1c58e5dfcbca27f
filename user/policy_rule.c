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

#define VARY_BASE "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
#define VARY_PNA  ", Access-Control-Request-Private-Network"

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

/* Append the Vary line of rule r. */
static void put_vary(struct sbuf *b, const struct pf_policy_rule *r)
{
	sb_put(b, VARY_BASE);
	if (r->private_network)
		sb_put(b, VARY_PNA);
	sb_put(b, "\r\n");
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
	put_vary(&b, r);
	sb_put(&b, "\r\n");
	return b.len;
}

/* See policy_rule.h. */
size_t pf_rule_reject(const struct pf_policy_rule *r, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };

	put_vary(&b, r);
	sb_put(&b, "Content-Length: 0\r\n");
	sb_put(&b, "\r\n");
	return b.len;
}
