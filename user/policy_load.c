/*
 * policy_load.c -- YAML policy file -> struct pf_policy.
 *
 * The file is read whole, libyaml's document API builds the node tree,
 * pf_policy_read() (policy_schema.c) checks its shape and copies every
 * string with its 1-based line:column, pf_policy_validate() then checks
 * the strings. Problems are collected in a struct pf_diag and printed in
 * file order as "FILE:LINE:COL: message".
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy.h"
#include "policy_diag.h"
#include "policy_schema.h"
#include "policy_validate.h"

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
	yaml_node_t *root;
	int err;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err = yaml_error(&parser, d, buf, len);
		goto out_parser;
	}
	err = pf_policy_read(&doc, pol, d);
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
		pf_diag(d, (struct pf_mark){ root->start_mark.line + 1,
					     root->start_mark.column + 1 },
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

/* Read all of f into *buf (malloc'd, *len bytes). A regular file is
 * read straight into a buffer of its size (100,000-origin policies are
 * 5 MB). Returns 0, -ENOMEM or the read error. */
static int read_all(FILE *f, char **buf, size_t *len)
{
	size_t cap = 65536, got;
	struct stat st;
	char *p;

	/* +1: reaching the end needs no larger buffer */
	if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	*len = 0;
	*buf = malloc(cap);
	if (!*buf)
		return -ENOMEM;
	for (;;) {
		if (*len == cap) {
			p = cap < SIZE_MAX / 2 ? realloc(*buf, cap * 2) : NULL;
			if (!p)
				return -ENOMEM;
			*buf = p;
			cap *= 2;
		}
		got = fread(*buf + *len, 1, cap - *len, f);
		*len += got;
		if (!got)
			return ferror(f) ? -(errno ?: EIO) : 0;
	}
}

/* See policy.h. */
int pf_policy_read_file(const char *file, char **buf, size_t *len, FILE *errs)
{
	FILE *f;
	int err;

	*buf = NULL;
	*len = 0;
	f = fopen(file, "rb");
	if (!f) {
		err = -errno;
		if (errs)
			fprintf(errs, "open %s: %s\n", file, strerror(-err));
		return err;
	}
	err = read_all(f, buf, len);
	if (err && err != -ENOMEM && errs)
		fprintf(errs, "read %s: %s\n", file, strerror(-err));
	fclose(f);
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

/* See policy.h. */
int pf_policy_load_mem(const char *file, const char *buf, size_t len, struct pf_policy *pol,
		       FILE *errs)
{
	return load(file, buf, len, pol, errs);
}

/* See policy.h. The whole file is read first so reader errors (bad
 * UTF-8) can be placed by line and column too. */
int pf_policy_load(const char *file, struct pf_policy *pol, FILE *errs)
{
	char *buf;
	size_t len;
	int err;

	memset(pol, 0, sizeof(*pol));
	err = pf_policy_read_file(file, &buf, &len, errs);
	if (!err)
		err = load(file, buf, len, pol, errs);
	free(buf);
	return err;
}

/* The occurrences of byte c in [p, p + n). */
static size_t count_byte(const char *p, size_t n, char c)
{
	const char *e = p + n, *q;
	size_t k = 0;

	for (; (q = memchr(p, c, (size_t)(e - p))); p = q + 1)
		k++;
	return k;
}

/* See policy.h. */
void pf_policy_hint(const char *buf, size_t len, struct pf_policy_hint *h)
{
	h->strings = 1 + count_byte(buf, len, '\n') + count_byte(buf, len, ',');
	h->responses = memmem(buf, len, "responses", 9) != NULL;
}

/* Free one list (its strings are in the policy's strbuf) and reset it. */
static void free_list(struct pf_str_list *l)
{
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
		free_list(&pol->rules[i].expose);
	}
	free(pol->rules);
	pf_strbuf_free(pol->strbuf);
	free(pol->file);
	memset(pol, 0, sizeof(*pol));
}
