/*
 * policy_diag.c -- the policy stages' diagnostics (see policy_diag.h):
 * messages are kept with their position and printed in file order as
 * "FILE:LINE:COL: message".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "policy_diag.h"

struct pf_diag_msg {
	struct pf_mark at;
	unsigned seq;
	bool warn;
	char *text;
};

/* See policy_diag.h. */
void pf_diag_init(struct pf_diag *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = file;
}

/* Store one message (problem or warning) formatted from fmt/ap. */
static void add(struct pf_diag *d, struct pf_mark at, bool warn,
		const char *fmt, va_list ap)
{
	struct pf_diag_msg *v;
	char *text = NULL;

	if (vasprintf(&text, fmt, ap) < 0) {
		d->oom = true;
		return;
	}
	if (d->kept == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 16;

		v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			free(text);
			d->oom = true;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	v = &d->v[d->kept++];
	v->at = at;
	v->seq = d->n + d->warnings;
	v->warn = warn;
	v->text = text;
}

/* See policy_diag.h. */
void pf_diag(struct pf_diag *d, struct pf_mark at, const char *fmt, ...)
{
	va_list ap;

	d->n++;
	va_start(ap, fmt);
	add(d, at, false, fmt, ap);
	va_end(ap);
}

/* See policy_diag.h. */
void pf_diag_warn(struct pf_diag *d, struct pf_mark at, const char *fmt, ...)
{
	va_list ap;

	d->warnings++;
	va_start(ap, fmt);
	add(d, at, true, fmt, ap);
	va_end(ap);
}

/* qsort order of diagnostics: line, column, then arrival. */
static int diag_cmp(const void *a, const void *b)
{
	const struct pf_diag_msg *x = a, *y = b;

	if (x->at.line != y->at.line)
		return x->at.line < y->at.line ? -1 : 1;
	if (x->at.col != y->at.col)
		return x->at.col < y->at.col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* See policy_diag.h. */
unsigned pf_diag_flush(struct pf_diag *d, FILE *out)
{
	unsigned i, n = d->n;

	if (d->kept)
		qsort(d->v, d->kept, sizeof(*d->v), diag_cmp);
	for (i = 0; i < d->kept; i++) {
		if (out)
			fprintf(out, "%s:%u:%u: %s%s\n", d->file,
				d->v[i].at.line, d->v[i].at.col,
				d->v[i].warn ? "warning: " : "", d->v[i].text);
		free(d->v[i].text);
	}
	if (out && d->oom)
		fprintf(out, "%s: out of memory while reporting problems\n",
			d->file);
	free(d->v);
	pf_diag_init(d, d->file);
	return n;
}

/* See policy_diag.h. */
const char *pf_show(const char *s, char *buf, size_t cap)
{
	return pf_escape(buf, cap, s, strlen(s), "");
}
