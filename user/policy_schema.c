/*
 * policy_schema.c -- libyaml's node tree -> struct pf_policy (see
 * policy_schema.h).
 *
 * Every mapping is described by a table of struct key: its name, whether
 * it is required, and the reader that checks the value's type and stores
 * it. The walk reports non-string, unknown and duplicate keys, missing
 * required ones and values of the wrong type, and copies every string
 * with its 1-based line:column for the validator's messages.
 *
 * Adding a rule key (e.g. a list of header names):
 *   1. a field in struct pf_policy_rule (policy.h); a string list is also
 *      freed in pf_policy_free() (policy_load.c);
 *   2. a line in rule_keys[] below: an existing reader (read_list,
 *      read_bool, ...) or a new one written like them;
 *   3. its checks in policy_validate.c, its map contents in
 *      policy_compile.c;
 *   4. the policy reference (docs/preflightd-policy.5), a case in
 *      tests/unit/test_policy.c and a seed in tests/fuzz/corpus/policy/.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "policy_schema.h"

struct loader {
	yaml_document_t *doc;
	struct pf_diag *d;
	struct pf_strbuf **strbuf;  /* where strings are copied */
	unsigned char *seen;  /* per node of doc: read once already */
	size_t repeated;      /* cost of the nodes read again */
};

/* A block of the policy's strings; blocks are chained, newest first.
 * One allocation per 64 KiB instead of one per string (100,000-origin
 * policies). */
struct pf_strbuf {
	struct pf_strbuf *next;
	size_t used, cap;
	char data[];
};

#define STRBUF_BLOCK (64u << 10)

/* YAML aliases make one node appear many times: a 285 kB file aliasing a
 * 65 kB string 20,000 times is 1.3 GB of policy. Reading a node again
 * costs its text plus REPEAT_NODE_COST (the structures and messages made
 * for it); past PF_ALIAS_REPEAT_MAX the policy is refused. */
#define PF_ALIAS_REPEAT_MAX (8u << 20)
#define REPEAT_NODE_COST    64

/* One key of a mapping. */
struct key {
	const char *name;
	bool required;        /* "missing required key" when absent */
	/* Check value node n of key k and store it in obj (the struct
	 * pf_policy or struct pf_policy_rule being filled; k->off locates
	 * the field). Problems go to ld->d. Returns 0, -ENOMEM, or -EINVAL
	 * when the nodes it reads repeat too much (use()). */
	int (*read)(struct loader *ld, const yaml_node_t *n,
		    const struct key *k, void *obj);
	size_t off;           /* offsetof() the field in obj */
	const char *empty;    /* read_list: the problem with an empty list
			       * (NULL: an empty list is fine) */
};

/* Most keys of one mapping. */
#define KEYS_MAX 16

/* The field of obj that key k fills. */
#define FIELD(obj, k, type) ((type *)((char *)(obj) + (k)->off))

/* 1-based position of a node. */
static struct pf_mark mark_of(const yaml_node_t *n)
{
	struct pf_mark m = { n->start_mark.line + 1, n->start_mark.column + 1 };

	return m;
}

/* Node number idx of the document (never NULL for a loaded document). */
static yaml_node_t *node_at(struct loader *ld, int idx)
{
	return yaml_document_get_node(ld->doc, idx);
}

/* Text of a scalar node, or NULL if n is not a scalar or holds a NUL. */
static const char *scalar(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return NULL;
	return s;
}

/* Text of an unquoted scalar (integers and booleans), or NULL. */
static const char *plain(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return NULL;
	return scalar(n);
}

/* Account for reading node n: one read before is read again through a
 * YAML alias. Returns 0, or -EINVAL (reported at n, the aliased node)
 * once the repeats cost more than PF_ALIAS_REPEAT_MAX. */
static int use(struct loader *ld, const yaml_node_t *n)
{
	size_t i = (size_t)(n - ld->doc->nodes.start);

	if (!ld->seen[i]) {
		ld->seen[i] = 1;
		return 0;
	}
	ld->repeated += REPEAT_NODE_COST;
	if (n->type == YAML_SCALAR_NODE)
		ld->repeated += n->data.scalar.length;
	if (ld->repeated <= PF_ALIAS_REPEAT_MAX)
		return 0;
	pf_diag(ld->d, mark_of(n),
		"YAML aliases repeat this value, and the policy's repeated values pass %u MiB: refusing (write the values out, or alias less)",
		PF_ALIAS_REPEAT_MAX >> 20);
	return -EINVAL;
}

/* Number of items of sequence node n. */
static size_t n_items(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* Parse a plain decimal integer without leading zeros into *out.
 * Returns false for anything else (hex, octal-looking, floats, text). */
static bool parse_int(const char *s, long *out)
{
	bool neg = false;
	long v = 0;
	int digits = 0;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (s[0] == '0' && s[1])
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || digits == 9)
			return false;
		v = v * 10 + (*s - '0');
		digits++;
	}
	if (!digits)
		return false;
	*out = neg ? -v : v;
	return true;
}

/* Report an unknown key k at node key, listing the allowed keys. */
static void unknown_key(struct loader *ld, const yaml_node_t *key,
			const char *k, const struct key *keys, unsigned n)
{
	char list[256], shown[PF_SHOW_MAX];
	size_t o = 0;
	unsigned i;

	list[0] = '\0';
	for (i = 0; i < n && o < sizeof(list); i++)
		o += snprintf(list + o, sizeof(list) - o, "%s%s",
			      i ? ", " : "", keys[i].name);
	pf_diag(ld->d, mark_of(key), "unknown key '%s' (expected one of: %s)",
		pf_show(k, shown, sizeof(shown)), list);
}

/* Walk the mapping node map whose allowed keys are keys[0..n-1]: report
 * non-string, unknown and duplicate keys, and store the value node of
 * each known key in vals[] (NULL if absent). Returns 0 or -EINVAL (too
 * much repeated through aliases). */
static int walk_map(struct loader *ld, const yaml_node_t *map,
		    const struct key *keys, unsigned n, yaml_node_t **vals)
{
	yaml_node_pair_t *p;
	unsigned i;
	int err;

	for (i = 0; i < n; i++)
		vals[i] = NULL;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node_at(ld, p->key);
		const char *k = scalar(key);

		err = use(ld, key);
		if (err)
			return err;
		if (!k) {
			pf_diag(ld->d, mark_of(key),
				"keys must be plain strings");
			continue;
		}
		for (i = 0; i < n; i++)
			if (!strcmp(k, keys[i].name))
				break;
		if (i == n) {
			unknown_key(ld, key, k, keys, n);
			continue;
		}
		if (vals[i]) {
			pf_diag(ld->d, mark_of(key), "duplicate key '%s'", k);
			continue;
		}
		vals[i] = node_at(ld, p->value);
		err = use(ld, vals[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Read mapping node map with keys[0..n-1] into obj: report missing
 * required keys at the mapping and call the reader of every key present,
 * in table order. not_map: the problem if map is not a mapping. */
static int read_map(struct loader *ld, const yaml_node_t *map,
		    const struct key *keys, unsigned n, void *obj,
		    const char *not_map)
{
	yaml_node_t *v[KEYS_MAX];
	unsigned i;
	int err;

	if (map->type != YAML_MAPPING_NODE) {
		pf_diag(ld->d, mark_of(map), "%s", not_map);
		return 0;
	}
	err = walk_map(ld, map, keys, n, v);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (!v[i]) {
			if (keys[i].required)
				pf_diag(ld->d, mark_of(map),
					"missing required key '%s'", keys[i].name);
			continue;
		}
		err = keys[i].read(ld, v[i], &keys[i], obj);
		if (err)
			return err;
	}
	return 0;
}

/* Column of the first byte of scalar n's text: a quoted scalar starts
 * one column after its quote. */
static struct pf_mark text_mark(const yaml_node_t *n)
{
	struct pf_mark m = mark_of(n);

	if (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	    n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		m.col++;
	return m;
}

/* Copy the text s of scalar node n (no NUL inside) into the policy's
 * strings and append it to list l, which has room. */
static int push_str(struct loader *ld, struct pf_str_list *l,
		    const yaml_node_t *n, const char *s, struct pf_mark at)
{
	size_t len = n->data.scalar.length + 1;
	struct pf_strbuf *b = *ld->strbuf;

	if (!b || b->cap - b->used < len) {
		size_t cap = len > STRBUF_BLOCK ? len : STRBUF_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return -ENOMEM;
		b->next = *ld->strbuf;
		b->used = 0;
		b->cap = cap;
		*ld->strbuf = b;
	}
	l->v[l->n].s = memcpy(b->data + b->used, s, len);
	b->used += len;
	l->v[l->n].at = at;
	l->n++;
	return 0;
}

/* See policy_schema.h. */
void pf_strbuf_free(struct pf_strbuf *b)
{
	struct pf_strbuf *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
}

/* Text of a list item that is a string: not a mapping, list, null
 * (~ or nothing) or a string with a NUL; NULL otherwise. */
static const char *item_str(const yaml_node_t *item)
{
	const char *s = scalar(item);

	if (s && item->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!*s || !strcmp(s, "~")))
		return NULL;
	return s;
}

/* Reader of a boolean (true/false, as in the YAML 1.2 core schema); a
 * wrong value is reported and leaves the field alone. */
static int read_bool(struct loader *ld, const yaml_node_t *n,
		     const struct key *k, void *obj)
{
	const char *s = plain(n);

	if (s && (!strcmp(s, "true") || !strcmp(s, "True") ||
		  !strcmp(s, "TRUE"))) {
		*FIELD(obj, k, bool) = true;
		return 0;
	}
	if (s && (!strcmp(s, "false") || !strcmp(s, "False") ||
		  !strcmp(s, "FALSE"))) {
		*FIELD(obj, k, bool) = false;
		return 0;
	}
	pf_diag(ld->d, mark_of(n), "%s: expected true or false", k->name);
	return 0;
}

/* Reader of a list of strings into a struct pf_str_list. Items that are
 * not strings are reported and skipped; an empty list is reported with
 * k->empty unless that is NULL. */
static int read_list(struct loader *ld, const yaml_node_t *n,
		     const struct key *k, void *obj)
{
	struct pf_str_list *out = FIELD(obj, k, struct pf_str_list);
	yaml_node_item_t *it;
	int err;

	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n), "%s: expected a list of strings",
			k->name);
		return 0;
	}
	if (!n_items(n)) {
		if (k->empty)
			pf_diag(ld->d, mark_of(n), "%s: %s", k->name, k->empty);
		return 0;
	}
	out->v = calloc(n_items(n), sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(ld, *it);
		const char *s = item_str(item);

		err = use(ld, item);
		if (err)
			return err;
		if (!s) {
			pf_diag(ld->d, mark_of(item),
				"%s: expected a list of strings", k->name);
			continue;
		}
		err = push_str(ld, out, item, s, mark_of(item));
		if (err)
			return err;
	}
	return 0;
}

/* The one key of a {regex: PATTERN} origin. */
static const struct key regex_keys[] = {
	{ .name = "regex" },
};

/* Reader of a rule's origins: strings, or mappings {regex: PATTERN}
 * whose patterns go to the rule's regexes. */
static int read_origins(struct loader *ld, const yaml_node_t *n,
			const struct key *k, void *obj)
{
	struct pf_policy_rule *r = obj;
	yaml_node_item_t *it;
	yaml_node_t *v[1];
	const char *s;
	int err;

	(void)k;
	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n),
			"origins: expected a list of strings or {regex: PATTERN}");
		return 0;
	}
	if (!n_items(n)) {
		pf_diag(ld->d, mark_of(n), "origins: list at least one origin (or \"*\")");
		return 0;
	}
	r->origins.v = calloc(n_items(n), sizeof(*r->origins.v));
	r->regexes.v = calloc(n_items(n), sizeof(*r->regexes.v));
	if (!r->origins.v || !r->regexes.v)
		return -ENOMEM;
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(ld, *it);

		err = use(ld, item);
		if (err)
			return err;
		if (item->type == YAML_MAPPING_NODE) {
			err = walk_map(ld, item, regex_keys, 1, v);
			if (err)
				return err;
			/* other keys were reported by walk_map */
			if (!v[0]) {
				if (item->data.mapping.pairs.top ==
				    item->data.mapping.pairs.start)
					pf_diag(ld->d, mark_of(item),
						"origins: a mapping entry must be {regex: PATTERN}");
				continue;
			}
			s = scalar(v[0]);
			if (!s || !*s) {
				pf_diag(ld->d, mark_of(v[0]),
					"regex: expected a non-empty string (quote it: '...')");
				continue;
			}
			err = push_str(ld, &r->regexes, v[0], s, text_mark(v[0]));
			if (err)
				return err;
			continue;
		}
		s = item_str(item);
		if (!s) {
			pf_diag(ld->d, mark_of(item),
				"origins: expected a list of strings or {regex: PATTERN}");
			continue;
		}
		err = push_str(ld, &r->origins, item, s, mark_of(item));
		if (err)
			return err;
	}
	return 0;
}

/* Reader of max_age: an integer 0..86400 into an int. */
static int read_max_age(struct loader *ld, const yaml_node_t *n,
			const struct key *k, void *obj)
{
	const char *s = plain(n);
	long age;

	if (s && parse_int(s, &age) && age >= 0 && age <= 86400)
		*FIELD(obj, k, int) = (int)age;
	else
		pf_diag(ld->d, mark_of(n), "%s: expected an integer 0..86400",
			k->name);
	return 0;
}

/* Reader of on_deny: forward (false) or reject (true) into a bool. */
static int read_on_deny(struct loader *ld, const yaml_node_t *n,
			const struct key *k, void *obj)
{
	const char *s = scalar(n);

	if (s && !strcmp(s, "reject"))
		*FIELD(obj, k, bool) = true;
	else if (!s || strcmp(s, "forward"))
		pf_diag(ld->d, mark_of(n), "%s: expected forward or reject",
			k->name);
	return 0;
}

/* Reader of app_headers (response offload): replace (false) or keep
 * (true) into a bool. */
static int read_app_headers(struct loader *ld, const yaml_node_t *n,
			    const struct key *k, void *obj)
{
	const char *s = scalar(n);

	if (s && !strcmp(s, "keep"))
		*FIELD(obj, k, bool) = true;
	else if (!s || strcmp(s, "replace"))
		pf_diag(ld->d, mark_of(n), "%s: expected replace or keep", k->name);
	return 0;
}

/* Reader of expose_headers (response offload): read_list, and the list's
 * position for the validator's message about the line it makes. */
static int read_expose(struct loader *ld, const yaml_node_t *n,
		       const struct key *k, void *obj)
{
	((struct pf_policy_rule *)obj)->expose_at = mark_of(n);
	return read_list(ld, n, k, obj);
}

#define RULE(f) offsetof(struct pf_policy_rule, f)

/* The keys of a rule, in the order their values are read. */
static const struct key rule_keys[] = {
	{ .name = "hosts", .read = read_list, .off = RULE(hosts),
	  .empty = "must not be empty (omit the key to match any host)" },
	{ .name = "paths", .read = read_list, .off = RULE(paths),
	  .empty = "must not be empty (omit the key to match any path)" },
	{ .name = "origins", .required = true, .read = read_origins },
	{ .name = "methods", .required = true, .read = read_list,
	  .off = RULE(methods), .empty = "list at least one method (or \"*\")" },
	{ .name = "headers", .read = read_list, .off = RULE(headers) },
	{ .name = "credentials", .read = read_bool, .off = RULE(credentials) },
	{ .name = "max_age", .read = read_max_age, .off = RULE(max_age) },
	{ .name = "private_network", .read = read_bool,
	  .off = RULE(private_network) },
	{ .name = "on_deny", .read = read_on_deny, .off = RULE(on_deny_reject) },
	/* response offload (issue 13, policy_offload.c) */
	{ .name = "responses", .read = read_bool, .off = RULE(responses) },
	{ .name = "expose_headers", .read = read_expose, .off = RULE(expose),
	  .empty = "must not be empty (omit the key to expose none)" },
	{ .name = "app_headers", .read = read_app_headers, .off = RULE(app_headers_keep) },
};

_Static_assert(sizeof(rule_keys) / sizeof(rule_keys[0]) <= KEYS_MAX,
	       "raise KEYS_MAX");

/* Read one rule mapping n into r. Returns 0 or -ENOMEM. */
static int read_rule(struct loader *ld, const yaml_node_t *n,
		     struct pf_policy_rule *r)
{
	r->at = mark_of(n);
	r->max_age = -1;
	return read_map(ld, n, rule_keys,
			sizeof(rule_keys) / sizeof(rule_keys[0]), r,
			"rules: each rule must be a mapping");
}

/* Reader of the top-level ports: a list of distinct integers 1..65535,
 * at most PF_MAX_PORTS. */
static int read_ports(struct loader *ld, const yaml_node_t *n,
		      const struct key *k, void *obj)
{
	struct pf_policy *pol = obj;
	yaml_node_item_t *it;
	unsigned i;

	(void)k;
	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n), "ports: expected a list of integers");
		return 0;
	}
	if (!n_items(n))
		pf_diag(ld->d, mark_of(n), "ports: expected at least one port");
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(ld, *it);
		const char *s = plain(item);
		long v;
		int err = use(ld, item);

		if (err)
			return err;
		if (!s || !parse_int(s, &v)) {
			pf_diag(ld->d, mark_of(item),
				"ports: expected a list of integers");
			continue;
		}
		if (v < 1 || v > 65535) {
			pf_diag(ld->d, mark_of(item),
				"ports: port %ld out of range 1..65535", v);
			continue;
		}
		for (i = 0; i < pol->n_ports; i++)
			if (pol->ports[i] == v)
				break;
		if (i < pol->n_ports) {
			pf_diag(ld->d, mark_of(item),
				"ports: duplicate port %ld", v);
			continue;
		}
		if (pol->n_ports == PF_MAX_PORTS) {
			pf_diag(ld->d, mark_of(item),
				"ports: at most %d ports", PF_MAX_PORTS);
			return 0;
		}
		pol->ports[pol->n_ports++] = (__u16)v;
	}
	return 0;
}

/* Reader of the top-level rules: a list of 1..PF_MAX_RULES mappings. */
static int read_rules(struct loader *ld, const yaml_node_t *n,
		      const struct key *k, void *obj)
{
	struct pf_policy *pol = obj;
	size_t count;
	unsigned i;
	int err;

	(void)k;
	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n), "rules: expected a list of rules");
		return 0;
	}
	count = n_items(n);
	if (!count) {
		pf_diag(ld->d, mark_of(n), "rules: expected at least one rule");
		return 0;
	}
	if (count > PF_MAX_RULES) {
		pf_diag(ld->d, mark_of(node_at(ld,
			n->data.sequence.items.start[PF_MAX_RULES])),
			"rules: at most %d rules", PF_MAX_RULES);
		count = PF_MAX_RULES;
	}
	pol->rules = calloc(count, sizeof(*pol->rules));
	if (!pol->rules)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		yaml_node_t *item = node_at(ld, n->data.sequence.items.start[i]);

		pol->n_rules++;
		err = use(ld, item);
		if (!err)
			err = read_rule(ld, item, &pol->rules[i]);
		if (err)
			return err;
	}
	return 0;
}

/* The keys of the top level. */
static const struct key top_keys[] = {
	{ .name = "ports", .required = true, .read = read_ports },
	{ .name = "rules", .required = true, .read = read_rules },
};

/* See policy_schema.h. */
int pf_policy_read(yaml_document_t *doc, struct pf_policy *pol,
		   struct pf_diag *d)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	struct loader ld = { doc, d, &pol->strbuf, NULL, 0 };
	struct pf_mark first = { 1, 1 };
	int err;

	if (!root) {
		pf_diag(d, first,
			"empty policy: expected a mapping with keys 'ports' and 'rules'");
		return 0;
	}
	ld.seen = calloc((size_t)(doc->nodes.top - doc->nodes.start), 1);
	if (!ld.seen)
		return -ENOMEM;
	err = use(&ld, root);
	if (!err)
		err = read_map(&ld, root, top_keys,
			       sizeof(top_keys) / sizeof(top_keys[0]), pol,
			       "top level must be a mapping with keys 'ports' and 'rules'");
	free(ld.seen);
	return err;
}
