/* User: private to user/policy_*.c -- diagnostics and helpers shared by the policy stages. */
/*
 * policy_int.h -- glue between policy_load.c (YAML -> struct pf_policy),
 * policy_validate.c (semantic checks) and policy_compile.c (map contents).
 * Nothing here is part of the public interface in policy.h.
 */
#ifndef PF_POLICY_INT_H
#define PF_POLICY_INT_H

#include <stddef.h>
#include "policy.h"

/* Longest message text kept for one diagnostic (after "FILE:LINE:COL: "). */
#define PF_MSG_MAX 512

/* Longest quoted value shown inside a message. */
#define PF_SHOW_MAX 96

struct pf_diag_msg;

/* A collector of "FILE:LINE:COL: message" diagnostics. Messages are kept
 * until pf_diag_flush(), which prints them in file order. */
struct pf_diag {
	const char *file;          /* name printed before every message */
	struct pf_diag_msg *v;     /* stored messages */
	unsigned kept;             /* entries used in v */
	unsigned cap;              /* entries allocated in v */
	unsigned n;                /* problems reported (>= kept) */
	bool oom;                  /* a message could not be stored */
};

/* Start an empty collector for file (not copied; must outlive d). */
void pf_diag_init(struct pf_diag *d, const char *file);

/* Record one problem at `at`. Never fails: on allocation failure the
 * message is dropped and d->oom is set (d->n still counts it). */
void pf_diag(struct pf_diag *d, struct pf_mark at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print every message, sorted by line then column then arrival, to out
 * (if not NULL), free them, and return how many problems were recorded. */
unsigned pf_diag_flush(struct pf_diag *d, FILE *out);

/* Copy s into buf (cap bytes) for quoting in a message: printable ASCII
 * kept, other bytes as \xNN, long values cut with "...". Returns buf. */
const char *pf_show(const char *s, char *buf, size_t cap);

/* Semantic checks of a loaded policy (origins, methods, headers, hosts,
 * paths, cross-field rules). Lower-cases hosts and header names in place.
 * Every problem goes to d; the policy's shape (types, required keys) was
 * already checked by the loader. */
void pf_policy_validate(struct pf_policy *pol, struct pf_diag *d);

/* True if list is non-empty and contains the entry "*". */
bool pf_list_has_star(const struct pf_str_list *l);

/* Write rule r's allowed-response tail (struct pf_rule.fixed) into buf,
 * at most cap bytes (buf may be NULL when cap is 0). Returns the full
 * length, which may exceed cap (like snprintf, without a NUL). */
size_t pf_rule_fixed(const struct pf_policy_rule *r, char *buf, size_t cap);

/* Same for the 403 tail (struct pf_rule.reject). */
size_t pf_rule_reject(const struct pf_policy_rule *r, char *buf, size_t cap);

#endif /* PF_POLICY_INT_H */
