/*
 * explain_why.c -- the words of `preflightd explain`: why the deciding
 * rule allowed or denied a preflight, why no rule applied, and, for an
 * origin no applicable rule lists, which listed origin comes closest and
 * how it differs (apex, look-alike suffix, scheme, port).
 *
 * Everything here reads the policy as written (struct pf_policy_rule
 * lists) next to the matcher's result (struct pf_match); the decision
 * itself is never re-made here.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "explain.h"

#define LIST_SHOW 4   /* list entries shown in a rule summary */

/* A request value: slice s of the request copied NUL-terminated. */
struct val {
	char s[PF_REQ_MAX + 1];
};

/* Parts of an origin "scheme://host[:port]" (a wildcard's host is the
 * domain after "*."); lengths into the original string. */
struct oparts {
	const char *scheme, *host, *port;
	size_t slen, hlen, plen;
	bool wild, has_port;
};

/* How a request host relates to a listed origin's host (best last). */
enum hrel {
	H_OTHER = 0,  /* nothing in common */
	H_SHARE,      /* some trailing labels in common */
	H_EMBED,      /* contains the listed host, but not as itself/subdomain */
	H_APEX,       /* wildcard: the request host is the domain itself */
	H_SAME,       /* same host (exact) or a subdomain (wildcard) */
};

/* Copy slice s of buf into v. */
static const char *slice(const struct pf_explain_ctx *x, struct pf_slice s,
			 struct val *v)
{
	size_t n = s.len > PF_REQ_MAX ? PF_REQ_MAX : s.len;

	memcpy(v->s, x->buf + s.off, n);
	v->s[n] = 0;
	return v->s;
}

/* The Host value as the matcher compares it: ":port" stripped (only the
 * last 8 bytes are looked at, like pf_host_rules), then one trailing dot,
 * lower-cased. */
static const char *host_key(const struct pf_explain_ctx *x, struct val *v)
{
	size_t n, i;

	slice(x, x->r->host, v);
	n = strlen(v->s);
	for (i = 0; i < 8 && i < n; i++) {
		char c = v->s[n - 1 - i];

		if (c == ':') {
			v->s[n - 1 - i] = 0;
			break;
		}
		if (c < '0' || c > '9')
			break;
	}
	n = strlen(v->s);
	if (n > 1 && v->s[n - 1] == '.')
		v->s[n - 1] = 0; /* one trailing dot, like pf_host_rules */
	for (i = 0; v->s[i]; i++)
		v->s[i] = (char)pf_lower((__u8)v->s[i]);
	return v->s;
}

/* Print up to max entries of l joined by ", ", then "(+N more)"; empty
 * (or NULL) lists print the word empty. */
static void put_list(FILE *out, const struct pf_str_list *l, unsigned max,
		     const char *empty)
{
	unsigned i;

	if (!l || !l->n) {
		fputs(empty, out);
		return;
	}
	for (i = 0; i < l->n && i < max; i++)
		fprintf(out, "%s%s", i ? ", " : "", l->v[i].s);
	if (l->n > max)
		fprintf(out, " (+%u more)", l->n - max);
}

/* Does list l hold s (case-sensitively, or not)? Returns the entry. */
static const char *list_find(const struct pf_str_list *l, const char *s, bool ci)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (ci ? !strcasecmp(l->v[i].s, s) : !strcmp(l->v[i].s, s))
			return l->v[i].s;
	return NULL;
}

/* See explain.h. */
void pf_explain_rule_line(FILE *out, const struct pf_policy *pol, unsigned ri)
{
	const struct pf_policy_rule *pr = &pol->rules[ri];

	fprintf(out, "Rule: %u (%s:%u:%u): hosts ", ri + 1, pol->file,
		pr->at.line, pr->at.col);
	put_list(out, &pr->hosts, LIST_SHOW, "any");
	fputs("; paths ", out);
	put_list(out, &pr->paths, LIST_SHOW, "any");
	fputs("; origins ", out);
	put_list(out, &pr->origins, LIST_SHOW, pr->regexes.n ? "only regexes" : "none");
	if (pr->regexes.n) {
		fputs("; regexes (full match) ", out);
		put_list(out, &pr->regexes, LIST_SHOW, "");
	}
	fprintf(out, "; on_deny %s\n", pr->on_deny_reject ? "reject" : "forward");
}

/* Does rule pr apply to host (port stripped, lower case) and path? */
static bool applies(const struct pf_policy_rule *pr, const char *host,
		    const char *path)
{
	unsigned i;
	bool ok = !pr->paths.n;

	if (pr->hosts.n && !list_find(&pr->hosts, host, false))
		return false;
	for (i = 0; i < pr->paths.n && !ok; i++)
		ok = !strncmp(path, pr->paths.v[i].s, strlen(pr->paths.v[i].s));
	return ok;
}

/* Split s into o; false when s has no "://". */
static bool split_origin(const char *s, struct oparts *o)
{
	const char *sep = strstr(s, "://"), *h, *end, *from, *colon;

	memset(o, 0, sizeof(*o));
	if (!sep)
		return false;
	o->scheme = s;
	o->slen = (size_t)(sep - s);
	h = sep + 3;
	end = h + strcspn(h, "/?#");
	from = h;
	if (*h == '[') {
		from = memchr(h, ']', (size_t)(end - h));
		from = from ? from : h;
	}
	colon = memchr(from, ':', (size_t)(end - from));
	o->host = h;
	o->hlen = (size_t)((colon ? colon : end) - h);
	if (colon) {
		o->has_port = true;
		o->port = colon + 1;
		o->plen = (size_t)(end - colon - 1);
	}
	if (o->hlen >= 2 && !strncmp(h, "*.", 2)) {
		o->wild = true;
		o->host += 2;
		o->hlen -= 2;
	}
	return true;
}

/* Equal byte strings? */
static bool same(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && (!al || !memcmp(a, b, al));
}

/* Do the ports of a and b agree (both absent, or the same digits)? */
static bool same_port(const struct oparts *a, const struct oparts *b)
{
	return a->has_port == b->has_port && same(a->port, a->plen, b->port, b->plen);
}

/* Trailing dot-separated labels that h and d have in common. */
static unsigned common_labels(const char *h, size_t hl, const char *d, size_t dl)
{
	unsigned n = 0;

	while (hl && dl && h[hl - 1] == d[dl - 1]) {
		hl--;
		dl--;
		if ((!hl || h[hl - 1] == '.') && (!dl || d[dl - 1] == '.'))
			n++;
		if (!hl || !dl)
			break;
	}
	return n;
}

/* Relation of request host o to listed origin c's host (see enum hrel). */
static enum hrel host_rel(const struct oparts *o, const struct oparts *c)
{
	size_t hl = o->hlen, dl = c->hlen;
	const char *h = o->host, *d = c->host;

	if (c->wild && hl > dl + 1 && !memcmp(h + hl - dl, d, dl) &&
	    h[hl - dl - 1] == '.')
		return H_SAME;
	if (!c->wild && same(h, hl, d, dl))
		return H_SAME;
	if (c->wild && same(h, hl, d, dl))
		return H_APEX;
	if (dl && hl > dl && memmem(h, hl, d, dl))
		return H_EMBED;
	return common_labels(h, hl, d, dl) ? H_SHARE : H_OTHER;
}

/* Does listed origin entry e (not "*") match origin o exactly as the
 * matcher does? */
static bool entry_matches(const char *e, const char *origin)
{
	struct oparts o, c;
	size_t i;

	if (!strcmp(e, origin))
		return true;
	if (!split_origin(e, &c) || !c.wild || !split_origin(origin, &o))
		return false;
	for (i = o.slen + 3; origin[i]; i++)
		if (!pf_is_hostch((__u8)origin[i]))
			return false;
	return same(o.scheme, o.slen, c.scheme, c.slen) && same_port(&o, &c) &&
	       host_rel(&o, &c) == H_SAME;
}

/* The entry of rule pr that lists origin ("*" too, if star), or NULL. */
static const char *listed_by(const struct pf_policy_rule *pr, const char *origin,
			     bool star)
{
	unsigned i;

	for (i = 0; i < pr->origins.n; i++)
		if ((star && !strcmp(pr->origins.v[i].s, "*")) ||
		    entry_matches(pr->origins.v[i].s, origin))
			return pr->origins.v[i].s;
	return NULL;
}

/* Something in the origin itself that no policy entry can match, as a
 * sentence, or NULL. */
static const char *origin_shape(const char *origin)
{
	struct oparts o;
	size_t i;

	if (!strcmp(origin, "null"))
		return "the origin 'null' (sandboxed pages, file: URLs, redirects) can be sent by any site; policies never list it";
	if (!split_origin(origin, &o))
		return "it is not a serialized origin (scheme://host[:port])";
	if (strchr(origin, '*'))
		return "'*' in an Origin is a literal character, never a wildcard";
	for (i = 0; origin[i]; i++)
		if (origin[i] >= 'A' && origin[i] <= 'Z')
			return "origins are compared byte for byte and browsers send them in lower case; this one has upper-case letters";
	if (memchr(o.host, '@', o.hlen) || (o.has_port && memchr(o.port, '@', o.plen)))
		return "it has userinfo ('@'), which a browser's Origin never has";
	if (o.host[o.hlen + (o.has_port ? o.plen + 1 : 0)])
		return "it has a path or a trailing slash, which a browser's Origin never has";
	return NULL;
}

/* Explain an origin no applicable rule lists: pick, among the origins of
 * the applicable rules, the closest one and say how it differs. */
static void why_origin(FILE *out, const struct pf_explain_ctx *x,
		       const char *host, const char *path)
{
	const struct pf_policy *pol = x->pol;
	const char *origin, *best = NULL, *shape;
	struct oparts o, c, bc = {};
	struct val ov;
	long score, best_score = -1;
	enum hrel rel, best_rel = H_OTHER;
	unsigned ri, i, best_ri = 0;

	origin = slice(x, x->r->origin, &ov);
	shape = origin_shape(origin);
	split_origin(origin, &o);
	for (ri = 0; ri < pol->n_rules && !shape; ri++) {
		const struct pf_policy_rule *pr = &pol->rules[ri];

		if (!applies(pr, host, path))
			continue;
		for (i = 0; i < pr->origins.n; i++) {
			if (!split_origin(pr->origins.v[i].s, &c))
				continue;
			rel = host_rel(&o, &c);
			score = (long)rel * 1000 +
				(long)common_labels(o.host, o.hlen, c.host, c.hlen) * 10 +
				2 * same(o.scheme, o.slen, c.scheme, c.slen) +
				same_port(&o, &c);
			/* a look-alike of a wildcard's domain is what the
			 * wildcard was expected to cover */
			if (rel == H_EMBED && c.wild)
				score += 5;
			if (score > best_score) {
				best_score = score;
				best = pr->origins.v[i].s;
				best_rel = rel;
				best_ri = ri;
				bc = c;
			}
		}
	}
	if (shape) {
		fprintf(out, "Reason: origin %s is not listed: %s\n", origin, shape);
	} else if (!best) {
		fprintf(out, "Reason: origin %s is not listed: no applicable rule lists any origin\n",
			origin);
	} else if (best_rel == H_APEX) {
		fprintf(out, "Reason: %s does not match %s: the apex is not a subdomain\n",
			origin, best);
	} else if (best_rel == H_EMBED && bc.wild) {
		fprintf(out, "Reason: %s does not match %s: it is not a subdomain of %.*s\n",
			origin, best, (int)bc.hlen, bc.host);
	} else if (best_rel == H_EMBED) {
		fprintf(out, "Reason: %s does not match %s: origins are compared whole, and this one only contains the host %.*s\n",
			origin, best, (int)bc.hlen, bc.host);
	} else if (best_rel == H_SAME && !same(o.scheme, o.slen, bc.scheme, bc.slen)) {
		fprintf(out, "Reason: %s does not match %s: the scheme is %.*s, not %.*s (origins are compared byte for byte)\n",
			origin, best, (int)o.slen, o.scheme, (int)bc.slen, bc.scheme);
	} else if (best_rel == H_SAME && same_port(&o, &bc)) {
		fprintf(out, "Reason: %s does not match %s: %s\n", origin, best, bc.wild ?
			"a wildcard only covers host names of a-z, 0-9, '-', '_' and '.'" :
			"they differ byte for byte");
	} else if (best_rel == H_SAME && !bc.has_port) {
		fprintf(out, "Reason: origin %s has a port that %s does not list\n",
			origin, best);
	} else if (best_rel == H_SAME && !o.has_port) {
		fprintf(out, "Reason: origin %s has no port, and %s only matches port %.*s\n",
			origin, best, (int)bc.plen, bc.port);
	} else if (best_rel == H_SAME) {
		fprintf(out, "Reason: origin %s is on port %.*s, and %s only matches port %.*s\n",
			origin, (int)o.plen, o.port, best, (int)bc.plen, bc.port);
	} else {
		fprintf(out, "Reason: origin %s is not listed by any applicable rule; the closest, %s, is another host (origins never match by prefix or suffix)\n",
			origin, best);
	}
	if (best)
		fprintf(out, "  closest listed origin: %s (rule %u)\n", best, best_ri + 1);
	fprintf(out, "  rule %u decides: it is the first rule that applies to host %s path %s, and no applicable rule lists the origin\n",
		x->m->rule + 1, host, path);
	for (ri = 0; ri < pol->n_rules; ri++)
		if (!applies(&pol->rules[ri], host, path) &&
		    listed_by(&pol->rules[ri], origin, false))
			fprintf(out, "  note: rule %u lists it, but does not apply to host %s path %s\n",
				ri + 1, host, path);
}

/* Explain why no rule applies, rule by rule. */
static void why_no_rule(FILE *out, const struct pf_explain_ctx *x,
			const char *host, const char *path)
{
	const struct pf_policy *pol = x->pol;
	unsigned ri;

	fprintf(out, "Reason: no rule applies to host %s path %s\n", host, path);
	if (!pol->n_rules)
		fputs("  the policy has no rules\n", out);
	for (ri = 0; ri < pol->n_rules; ri++) {
		const struct pf_policy_rule *pr = &pol->rules[ri];

		fprintf(out, "  rule %u: ", ri + 1);
		if (pr->hosts.n && !list_find(&pr->hosts, host, false)) {
			fprintf(out, "host %s is not one of its hosts (", host);
			put_list(out, &pr->hosts, LIST_SHOW, "");
		} else {
			fprintf(out, "path %s does not start with any of its paths (", path);
			put_list(out, &pr->paths, LIST_SHOW, "");
		}
		fputs(")\n", out);
	}
}

/* Explain a method the deciding rule pr does not allow. */
static void why_method(FILE *out, const struct pf_explain_ctx *x,
		       const struct pf_policy_rule *pr, const char *method)
{
	static const char *const safe[] = { "GET", "HEAD", "POST" };
	const char *ci = list_find(&pr->methods, method, true);
	unsigned i;

	for (i = 0; i < 3 && !ci; i++)
		if (!strcasecmp(method, safe[i]))
			ci = safe[i];
	if (ci) {
		fprintf(out, "Reason: method '%s' is not allowed: methods are case-sensitive (rule lists %s)\n",
			method, ci);
		return;
	}
	fprintf(out, "Reason: method '%s' is not allowed by rule %u (allowed: ",
		method, x->m->rule + 1);
	put_list(out, &pr->methods, pr->methods.n, "none listed");
	fputs("; GET, HEAD and POST always pass)\n", out);
}

/* Explain an allowed preflight: which entry, method and headers. */
static void why_allowed(FILE *out, const struct pf_explain_ctx *x,
			const struct pf_policy_rule *pr, const char *origin,
			const char *method)
{
	const char *entry = listed_by(pr, origin, true);
	bool any_m = list_find(&pr->methods, "*", false) != NULL;
	struct val hv;

	fprintf(out, "Reason: rule %u allows it\n", x->m->rule + 1);
	if (entry && !strcmp(entry, "*"))
		fprintf(out, "  origin %s: any origin is allowed ('*')\n", origin);
	else if (entry && strcmp(entry, origin))
		fprintf(out, "  origin %s matches %s\n", origin, entry);
	else if (!entry && pr->regexes.n) {
		fprintf(out, "  origin %s matches a regex of the rule (full match): ", origin);
		put_list(out, &pr->regexes, LIST_SHOW, "");
		fputc('\n', out);
	}
	else
		fprintf(out, "  origin %s is listed\n", origin);
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "POST"))
		fprintf(out, "  method %s is CORS-safelisted (allowed without being listed)\n",
			method);
	else if (any_m)
		fprintf(out, "  method %s: any method is allowed ('*')\n", method);
	else
		fprintf(out, "  method %s is listed\n", method);
	if (x->m->acah)
		fprintf(out, "  request headers '%s' are %s\n", slice(x, x->r->acrh, &hv),
			!(x->m->rflags & PF_RULE_ANY_HEADER) ? "listed" :
			x->m->has_authz ? "covered by '*' (authorization is listed explicitly)" :
			"covered by '*'");
	if (x->m->acapn)
		fputs("  private network access: allowed (private_network: true)\n", out);
}

/* See explain.h. */
void pf_explain_reason(FILE *out, const struct pf_explain_ctx *x)
{
	const struct pf_match *m = x->m;
	const struct pf_policy_rule *pr = NULL;
	struct val hv, pv, ov, mv, bv, av;
	const char *host = host_key(x, &hv), *path = slice(x, x->r->path, &pv);
	const char *origin = slice(x, x->r->origin, &ov);
	const char *method = slice(x, x->r->acrm, &mv);
	const char *bad = slice(x, m->bad, &bv);

	if (m->verdict != PF_V_NO_RULE && m->rule < x->pol->n_rules)
		pr = &x->pol->rules[m->rule];
	if (!pr && (m->reason == PF_R_OK || m->reason == PF_R_METHOD ||
		    m->reason == PF_R_HEADER)) {
		fprintf(out, "Reason: %s\n", pf_reason_name(m->reason));
		return;
	}
	switch (m->reason) {
	case PF_R_OK:
		why_allowed(out, x, pr, origin, method);
		return;
	case PF_R_NO_RULE:
		why_no_rule(out, x, host, path);
		return;
	case PF_R_ORIGIN:
		why_origin(out, x, host, path);
		return;
	case PF_R_METHOD:
		why_method(out, x, pr, method);
		return;
	case PF_R_METHOD_BAD:
		fprintf(out, "Reason: Access-Control-Request-Method '%s' is not a method token\n",
			method);
		return;
	case PF_R_METHOD_FORBIDDEN:
		fprintf(out, "Reason: method '%s' is forbidden: CONNECT, TRACE and TRACK are never allowed (browsers refuse to send them)\n",
			method);
		return;
	case PF_R_HEADER:
		fprintf(out, "Reason: request header '%s' is not allowed by rule %u (%s",
			bad, m->rule + 1, pr->headers.n ? "allowed: " :
			"it allows no request headers");
		put_list(out, &pr->headers, pr->headers.n, "");
		fputs(")\n", out);
		return;
	case PF_R_AUTHZ_WILDCARD:
		fputs("Reason: authorization is never covered by '*': list it explicitly\n", out);
		return;
	case PF_R_HEADER_BAD:
		fprintf(out, "Reason: Access-Control-Request-Headers '%s' is not a comma-separated list of header names (unexpected '%s' at byte %u; names are separated by commas)\n",
			slice(x, x->r->acrh, &av), bad,
			(unsigned)(m->bad.off - x->r->acrh.off) + 1);
		return;
	case PF_R_PNA:
		fprintf(out, "Reason: private network access was asked (Access-Control-Request-Private-Network: true) but rule %u does not allow it (private_network: false)\n",
			m->rule + 1);
		return;
	case PF_R_ACRH_LIMIT:
		fprintf(out, "Reason: the request-headers list is %u bytes, too long for the daemon too (under %d): the app answers\n",
			(unsigned)x->r->acrh.len, PF_ACRH_SLOW_MAX);
		return;
	case PF_R_ACRH_SLOW:
		fprintf(out, "Reason: decided by the daemon: the request-headers list is over the kernel's limits (%d names, %d bytes)\n",
			PF_ACRH_MAX_TOKENS, PF_ACRH_MAX_LEN);
		return;
	case PF_R_REGEX:
		fputs("Reason: decided by the daemon: regex (an applicable rule has regex origins and the kernel has no verdict for this origin yet)\n",
		      out);
		return;
	case PF_R_PATH_UNNORM:
		fprintf(out, "Reason: path %s is not normalized (%%, //, /./, /../ or a backslash) and the policy matches paths: the app answers\n",
			path);
		return;
	}
	fprintf(out, "Reason: %s\n", pf_reason_name(m->reason));
}
