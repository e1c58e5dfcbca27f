/*
 * policy_offload.c -- the response offload's per-rule settings (issue 13)
 * compiled into struct pf_ofl_rule (include/pf_ofl_types.h): whether the
 * rule's actual responses get their CORS headers in the kernel
 * (responses: true), what happens to the app's own Access-Control-*
 * lines (app_headers: replace, the default, or keep), and the exposed
 * header names (expose_headers), precomputed as the header line the
 * datapath inserts. The keys are read by policy_load.c and checked by
 * policy_validate.c.
 */
#include <string.h>

#include "policy_offload.h"

/* See policy_offload.h. */
size_t pf_ofl_expose_line(const struct pf_policy_rule *r, char *buf, size_t cap)
{
	static const char name[] = "Access-Control-Expose-Headers: ";
	size_t len = 0, n;
	unsigned i;

#define PUT(s, sl) do { \
	n = (sl); \
	if (len < cap) \
		memcpy(buf + len, (s), n < cap - len ? n : cap - len); \
	len += n; \
} while (0)
	if (!r->expose.n)
		return 0;
	PUT(name, sizeof(name) - 1);
	for (i = 0; i < r->expose.n; i++) {
		if (i)
			PUT(", ", 2);
		PUT(r->expose.v[i].s, strlen(r->expose.v[i].s));
	}
	PUT("\r\n", 2);
#undef PUT
	return len;
}

/* See policy_offload.h. */
void pf_ofl_compile(const struct pf_policy *pol, struct pf_compiled *out)
{
	__u64 resp = 0;
	unsigned i;
	size_t len;

	memset(out->ofl, 0, sizeof(out->ofl));
	out->ofl_any = false;
	for (i = 0; i < pol->n_rules && i < PF_MAX_RULES; i++) {
		const struct pf_policy_rule *r = &pol->rules[i];
		struct pf_ofl_rule *o = &out->ofl[i];

		if (r->responses) {
			o->flags |= PF_OFL_R_RESPONSES;
			resp |= 1ULL << i;
			out->ofl_any = true;
		}
		if (r->app_headers_keep)
			o->flags |= PF_OFL_R_KEEP;
		/* validated to fit (policy_validate.c) */
		len = pf_ofl_expose_line(r, o->expose, sizeof(o->expose));
		o->expose_len = len <= sizeof(o->expose) ? (__u16)len : 0;
	}
	/* in every entry: pf_ofl_entry reads it from the deciding rule's */
	for (i = 0; i < PF_MAX_RULES; i++)
		out->ofl[i].resp_rules = resp;
}
