/*
 * policy_load.c -- YAML policy file -> struct pf_policy.
 *
 * libyaml's document API builds the node tree; this file walks it, checks
 * the shape (mapping/list/scalar types, known and required keys, no
 * duplicate keys, integer and boolean values) and copies every string with
 * its 1-based line:column. pf_policy_validate() then checks the strings.
 * Problems are collected in a struct pf_diag and printed in file order as
 * "FILE:LINE:COL: message".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy.h"
#include "policy_diag.h"
#include "policy_validate.h"

/* ---- walking the libyaml node tree ---- */

struct loader {
	yaml_document_t *doc;
	struct pf_diag *d;
};

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
			const char *k, const char *const *keys, unsigned n)
{
	char list[256], shown[PF_SHOW_MAX];
	size_t o = 0;
	unsigned i;

	list[0] = '\0';
	for (i = 0; i < n && o < sizeof(list); i++)
		o += snprintf(list + o, sizeof(list) - o, "%s%s",
			      i ? ", " : "", keys[i]);
	pf_diag(ld->d, mark_of(key), "unknown key '%s' (expected one of: %s)",
		pf_show(k, shown, sizeof(shown)), list);
}

/* Walk mapping node map whose allowed keys are keys[0..n-1]: report
 * non-string, unknown and duplicate keys, and store the value node of
 * each known key in vals[] (NULL if absent). Returns false if map is not a
 * mapping (nothing reported: the caller knows what it expected). */
static bool walk_map(struct loader *ld, const yaml_node_t *map,
		     const char *const *keys, unsigned n, yaml_node_t **vals)
{
	yaml_node_pair_t *p;
	unsigned i;

	for (i = 0; i < n; i++)
		vals[i] = NULL;
	if (map->type != YAML_MAPPING_NODE)
		return false;
	for (p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *key = node_at(ld, p->key);
		const char *k = scalar(key);

		if (!k) {
			pf_diag(ld->d, mark_of(key),
				"keys must be plain strings");
			continue;
		}
		for (i = 0; i < n; i++)
			if (!strcmp(k, keys[i]))
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
	}
	return true;
}

/* Read a boolean (true/false, as in the YAML 1.2 core schema) from the
 * value of key into *out; reports and leaves *out alone otherwise. */
static void get_bool(struct loader *ld, const yaml_node_t *n,
		     const char *key, bool *out)
{
	const char *s = plain(n);

	if (s && (!strcmp(s, "true") || !strcmp(s, "True") ||
		  !strcmp(s, "TRUE"))) {
		*out = true;
		return;
	}
	if (s && (!strcmp(s, "false") || !strcmp(s, "False") ||
		  !strcmp(s, "FALSE"))) {
		*out = false;
		return;
	}
	pf_diag(ld->d, mark_of(n), "%s: expected true or false", key);
}

/* Copy the list of strings n (value of key) into *out. Items that are not
 * strings are reported and skipped. An empty list is reported with
 * `empty` unless that is NULL. */
static int get_strs(struct loader *ld, const yaml_node_t *n,
		    const char *key, const char *empty,
		    struct pf_str_list *out)
{
	yaml_node_item_t *it;
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n), "%s: expected a list of strings",
			key);
		return 0;
	}
	count = n->data.sequence.items.top - n->data.sequence.items.start;
	if (!count) {
		if (empty)
			pf_diag(ld->d, mark_of(n), "%s: %s", key, empty);
		return 0;
	}
	out->v = calloc(count, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(ld, *it);
		const char *s = scalar(item);
		const char *p = plain(item);

		if (!s || (p && (!*p || !strcmp(p, "~")))) {
			pf_diag(ld->d, mark_of(item),
				"%s: expected a list of strings", key);
			continue;
		}
		out->v[out->n].s = strdup(s);
		if (!out->v[out->n].s)
			return -ENOMEM;
		out->v[out->n].at = mark_of(item);
		out->n++;
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

/* Copy scalar s (node item) to the end of list l, which has room. */
static int push_str(struct pf_str_list *l, const char *s, struct pf_mark at)
{
	l->v[l->n].s = strdup(s);
	if (!l->v[l->n].s)
		return -ENOMEM;
	l->v[l->n].at = at;
	l->n++;
	return 0;
}

/* Read the origins list n of rule r: strings, or mappings {regex:
 * PATTERN} whose patterns go to r->regexes. Returns 0 or -ENOMEM. */
static int get_origins(struct loader *ld, const yaml_node_t *n,
		       struct pf_policy_rule *r)
{
	static const char *const keys[] = { "regex" };
	yaml_node_item_t *it;
	yaml_node_t *v[1];
	size_t count;
	int err;

	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n),
			"origins: expected a list of strings or {regex: PATTERN}");
		return 0;
	}
	count = n->data.sequence.items.top - n->data.sequence.items.start;
	if (!count) {
		pf_diag(ld->d, mark_of(n), "origins: list at least one origin (or \"*\")");
		return 0;
	}
	r->origins.v = calloc(count, sizeof(*r->origins.v));
	r->regexes.v = calloc(count, sizeof(*r->regexes.v));
	if (!r->origins.v || !r->regexes.v)
		return -ENOMEM;
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(ld, *it);
		const char *s = scalar(item), *p = plain(item);

		if (item->type == YAML_MAPPING_NODE) {
			walk_map(ld, item, keys, 1, v);
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
			err = push_str(&r->regexes, s, text_mark(v[0]));
			if (err)
				return err;
			continue;
		}
		if (!s || (p && (!*p || !strcmp(p, "~")))) {
			pf_diag(ld->d, mark_of(item),
				"origins: expected a list of strings or {regex: PATTERN}");
			continue;
		}
		err = push_str(&r->origins, s, mark_of(item));
		if (err)
			return err;
	}
	return 0;
}

/* Read the top-level ports list n into pol. */
static void get_ports(struct loader *ld, const yaml_node_t *n,
		      struct pf_policy *pol)
{
	yaml_node_item_t *it;
	unsigned i;

	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n), "ports: expected a list of integers");
		return;
	}
	if (n->data.sequence.items.top == n->data.sequence.items.start)
		pf_diag(ld->d, mark_of(n), "ports: expected at least one port");
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(ld, *it);
		const char *s = plain(item);
		long v;

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
			return;
		}
		pol->ports[pol->n_ports++] = (__u16)v;
	}
}

enum {
	K_HOSTS, K_PATHS, K_ORIGINS, K_METHODS, K_HEADERS, K_CREDENTIALS,
	K_MAX_AGE, K_PRIVATE_NETWORK, K_ON_DENY, K__N
};

static const char *const rule_keys[K__N] = {
	"hosts", "paths", "origins", "methods", "headers", "credentials",
	"max_age", "private_network", "on_deny",
};

/* Read one rule mapping n into r. Returns 0 or -ENOMEM. */
static int get_rule(struct loader *ld, const yaml_node_t *n,
		    struct pf_policy_rule *r)
{
	yaml_node_t *v[K__N];
	const char *s;
	long age;
	int err = 0;

	r->at = mark_of(n);
	r->max_age = -1;
	if (!walk_map(ld, n, rule_keys, K__N, v)) {
		pf_diag(ld->d, r->at, "rules: each rule must be a mapping");
		return 0;
	}
	if (!v[K_ORIGINS])
		pf_diag(ld->d, r->at, "missing required key 'origins'");
	if (!v[K_METHODS])
		pf_diag(ld->d, r->at, "missing required key 'methods'");
	if (v[K_HOSTS])
		err = get_strs(ld, v[K_HOSTS], "hosts",
			"must not be empty (omit the key to match any host)",
			&r->hosts);
	if (!err && v[K_PATHS])
		err = get_strs(ld, v[K_PATHS], "paths",
			"must not be empty (omit the key to match any path)",
			&r->paths);
	if (!err && v[K_ORIGINS])
		err = get_origins(ld, v[K_ORIGINS], r);
	if (!err && v[K_METHODS])
		err = get_strs(ld, v[K_METHODS], "methods",
			"list at least one method (or \"*\")", &r->methods);
	if (!err && v[K_HEADERS])
		err = get_strs(ld, v[K_HEADERS], "headers", NULL, &r->headers);
	if (err)
		return err;
	if (v[K_CREDENTIALS])
		get_bool(ld, v[K_CREDENTIALS], "credentials", &r->credentials);
	if (v[K_PRIVATE_NETWORK])
		get_bool(ld, v[K_PRIVATE_NETWORK], "private_network",
			 &r->private_network);
	if (v[K_MAX_AGE]) {
		s = plain(v[K_MAX_AGE]);
		if (s && parse_int(s, &age) && age >= 0 && age <= 86400)
			r->max_age = (int)age;
		else
			pf_diag(ld->d, mark_of(v[K_MAX_AGE]),
				"max_age: expected an integer 0..86400");
	}
	if (v[K_ON_DENY]) {
		s = scalar(v[K_ON_DENY]);
		if (s && !strcmp(s, "reject"))
			r->on_deny_reject = true;
		else if (!s || strcmp(s, "forward"))
			pf_diag(ld->d, mark_of(v[K_ON_DENY]),
				"on_deny: expected forward or reject");
	}
	return 0;
}

enum { K_PORTS, K_RULES, K_TOP__N };

static const char *const top_keys[K_TOP__N] = { "ports", "rules" };

/* Read the rules list n into pol. Returns 0 or -ENOMEM. */
static int get_rules(struct loader *ld, const yaml_node_t *n,
		     struct pf_policy *pol)
{
	size_t count;
	unsigned i;
	int err;

	if (n->type != YAML_SEQUENCE_NODE) {
		pf_diag(ld->d, mark_of(n), "rules: expected a list of rules");
		return 0;
	}
	count = n->data.sequence.items.top - n->data.sequence.items.start;
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
		pol->n_rules++;
		err = get_rule(ld, node_at(ld, n->data.sequence.items.start[i]),
			       &pol->rules[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Read the document root into pol. Returns 0 or -ENOMEM. */
static int get_policy(struct loader *ld, struct pf_policy *pol)
{
	yaml_node_t *root = yaml_document_get_root_node(ld->doc);
	struct pf_mark first = { 1, 1 };
	yaml_node_t *v[K_TOP__N];

	if (!root) {
		pf_diag(ld->d, first,
			"empty policy: expected a mapping with keys 'ports' and 'rules'");
		return 0;
	}
	if (!walk_map(ld, root, top_keys, K_TOP__N, v)) {
		pf_diag(ld->d, mark_of(root),
			"top level must be a mapping with keys 'ports' and 'rules'");
		return 0;
	}
	if (!v[K_PORTS])
		pf_diag(ld->d, mark_of(root), "missing required key 'ports'");
	else
		get_ports(ld, v[K_PORTS], pol);
	if (!v[K_RULES]) {
		pf_diag(ld->d, mark_of(root), "missing required key 'rules'");
		return 0;
	}
	return get_rules(ld, v[K_RULES], pol);
}

/* Report libyaml's parse error; buf/len is the input (for reader errors,
 * which carry a byte offset instead of a mark). Returns the errno. */
static int yaml_error(const yaml_parser_t *p, struct pf_diag *d,
		      const char *buf, size_t len)
{
	struct pf_mark at = { p->problem_mark.line + 1,
			      p->problem_mark.column + 1 };
	const char *problem = p->problem ? p->problem : "YAML syntax error";
	size_t i;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		at.line = 1;
		at.col = 1;
		for (i = 0; i < p->problem_offset && i < len; i++) {
			at.col++;
			if (buf[i] == '\n') {
				at.line++;
				at.col = 1;
			}
		}
		pf_diag(d, at, "%s", problem);
	} else if (p->context) {
		/* A bare * starts a YAML alias: the usual slip for "*". */
		pf_diag(d, at, "%s (%s at %zu:%zu)%s", problem, p->context,
			p->context_mark.line + 1, p->context_mark.column + 1,
			strstr(p->context, "alias") ?
			"; write \"*\" in quotes" : "");
	} else {
		pf_diag(d, at, "%s", problem);
	}
	return -EINVAL;
}

/* Parse len bytes of YAML into pol, reporting to d. */
static int load_buf(const char *buf, size_t len, struct pf_policy *pol,
		    struct pf_diag *d)
{
	yaml_document_t doc, extra;
	yaml_parser_t parser;
	struct loader ld = { &doc, d };
	yaml_node_t *root;
	int err;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err = yaml_error(&parser, d, buf, len);
		goto out_parser;
	}
	err = get_policy(&ld, pol);
	if (err)
		goto out_doc;
	if (!yaml_document_get_root_node(&doc))
		goto out_doc;
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&parser, &extra)) {
		err = yaml_error(&parser, d, buf, len);
		goto out_doc;
	}
	root = yaml_document_get_root_node(&extra);
	if (root)
		pf_diag(d, mark_of(root),
			"expected a single YAML document in the file");
	yaml_document_delete(&extra);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return err;
}

/* Load, validate, and on any problem print them and empty pol. */
static int load(const char *name, const char *buf, size_t len,
		struct pf_policy *pol, FILE *errs)
{
	struct pf_diag d;
	int err;

	memset(pol, 0, sizeof(*pol));
	pf_diag_init(&d, name);
	pol->file = strdup(name);
	if (!pol->file)
		return -ENOMEM;
	err = load_buf(buf, len, pol, &d);
	/* Shape problems do not stop the semantic checks: report all. */
	if (!err)
		pf_policy_validate(pol, &d);
	if (pf_diag_flush(&d, errs) && !err)
		err = -EINVAL;
	if (err == -ENOMEM && errs)
		fprintf(errs, "%s: out of memory\n", name);
	if (err)
		pf_policy_free(pol);
	return err;
}

/* See policy.h. */
int pf_policy_load_string(const char *name, const char *yaml,
			  struct pf_policy *pol, FILE *errs)
{
	return load(name, yaml, strlen(yaml), pol, errs);
}

/* See policy.h. The whole file is read first so reader errors (bad
 * UTF-8) can be placed by line and column too. */
int pf_policy_load(const char *file, struct pf_policy *pol, FILE *errs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *mem;
	char chunk[65536];
	size_t got;
	int err = 0;

	memset(pol, 0, sizeof(*pol));
	f = fopen(file, "rb");
	if (!f) {
		err = -errno;
		if (errs)
			fprintf(errs, "open %s: %s\n", file, strerror(-err));
		return err;
	}
	mem = open_memstream(&buf, &len);
	if (!mem) {
		err = -ENOMEM;
		goto out_close;
	}
	do {
		got = fread(chunk, 1, sizeof(chunk), f);
		if (got && fwrite(chunk, 1, got, mem) != got)
			err = -ENOMEM;
	} while (got == sizeof(chunk) && !err);
	if (ferror(f) && !err) {
		err = -(errno ?: EIO);
		if (errs)
			fprintf(errs, "read %s: %s\n", file, strerror(-err));
	}
	if (fclose(mem) && !err)
		err = -ENOMEM;
	if (!err)
		err = load(file, buf, len, pol, errs);
	free(buf);
out_close:
	fclose(f);
	return err;
}

/* Free the strings of one list and reset it. */
static void free_list(struct pf_str_list *l)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* See policy.h. Safe on a zeroed or already freed policy. */
void pf_policy_free(struct pf_policy *pol)
{
	unsigned i;

	for (i = 0; i < pol->n_rules; i++) {
		free_list(&pol->rules[i].hosts);
		free_list(&pol->rules[i].paths);
		free_list(&pol->rules[i].origins);
		free_list(&pol->rules[i].regexes);
		free_list(&pol->rules[i].methods);
		free_list(&pol->rules[i].headers);
	}
	free(pol->rules);
	free(pol->file);
	memset(pol, 0, sizeof(*pol));
}
