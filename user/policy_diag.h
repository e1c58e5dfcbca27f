/* User: private to user/policy_*.c -- the stages' "FILE:LINE:COL: message" collector and pf_show(). */
/*
 * policy_diag.h -- every problem a policy stage finds is recorded here
 * with the position of the offending value, and printed in file order
 * once the stage is done. pf_show() quotes a policy value safely inside
 * such a message.
 */
#ifndef PF_POLICY_DIAG_H
#define PF_POLICY_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "policy.h"

/* Longest quoted value shown inside a message. */
#define PF_SHOW_MAX 96

struct pf_diag_msg;

/* A collector of "FILE:LINE:COL: message" diagnostics (problems, which
 * refuse the policy) and "FILE:LINE:COL: warning: message" ones (which do
 * not). Messages are kept until pf_diag_flush(), which prints them in
 * file order. */
struct pf_diag {
	const char *file;          /* name printed before every message */
	struct pf_diag_msg *v;     /* stored messages */
	unsigned kept;             /* entries used in v */
	unsigned cap;              /* entries allocated in v */
	unsigned n;                /* problems reported */
	unsigned warnings;         /* warnings reported */
	bool oom;                  /* a message could not be stored */
};

/* Start an empty collector for file (not copied; must outlive d). */
void pf_diag_init(struct pf_diag *d, const char *file);

/* Record one problem at `at`. Never fails: on allocation failure the
 * message is dropped and d->oom is set (d->n still counts it). */
void pf_diag(struct pf_diag *d, struct pf_mark at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record one warning at `at`: printed like a problem, with "warning: "
 * before the message, but not counted as one. Never fails (as pf_diag). */
void pf_diag_warn(struct pf_diag *d, struct pf_mark at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print every message, sorted by line then column then arrival, to out
 * (if not NULL), free them, and return how many problems (not warnings)
 * were recorded. */
unsigned pf_diag_flush(struct pf_diag *d, FILE *out);

/* Copy s into buf (cap bytes) for quoting in a message: printable ASCII
 * kept, other bytes as \xNN, long values cut with "...". Returns buf. */
const char *pf_show(const char *s, char *buf, size_t cap);

#endif /* PF_POLICY_DIAG_H */
