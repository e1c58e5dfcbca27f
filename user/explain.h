/* User: `preflightd explain`: one browser preflight through the datapath decision, in words. */
/*
 * explain.h -- build the request a browser would send, run the exact
 * datapath decision on it (pf_user_decide, match.h) and say in words
 * what the kernel would do and why: the verdict, the deciding rule, the
 * reason with its specifics (closest listed origin, case of the method,
 * the header that is not allowed, ...) and the exact response bytes.
 *
 * cmd_explain.c: the command, the request and the report; explain_why.c: the
 * reason texts (pf_explain_rule_line, pf_explain_reason).
 *
 * Not thread-safe (pf_user_decide is not).
 */
#ifndef PF_EXPLAIN_H
#define PF_EXPLAIN_H

#include <stdbool.h>
#include <stdio.h>

#include "match.h"

/* One preflight, as the header values a browser sends. Values are put on
 * the wire as given (the method is not upper-cased, the header list not
 * sorted), so what a capture shows can be replayed. */
struct pf_explain_req {
	const char *origin;   /* Origin (required) */
	const char *method;   /* Access-Control-Request-Method (required) */
	const char *headers;  /* Access-Control-Request-Headers; NULL: none */
	const char *host;     /* Host; NULL: "localhost" */
	const char *path;     /* request-target; NULL: "/" */
	bool private_network; /* Access-Control-Request-Private-Network: true */
};

/* Explain req against the policy in policy_file (compiled into slot 0,
 * no Date header). The report goes to out; problems go to errs.
 * Returns the exit status of `preflightd explain`:
 *   0  the report was printed (whatever the verdict)
 *   1  the policy does not load or compile ("FILE:LINE:COL: message" or
 *      "open FILE: ..." on errs), or out of memory
 *   2  req is unusable: origin or method missing, or a value with a
 *      control character (CR/LF would forge other headers), or a path
 *      that does not start with '/' or contains a space */
int pf_explain(const char *policy_file, const struct pf_explain_req *req,
	       FILE *out, FILE *errs);

/* Entry point of "preflightd explain" (also declared in cmds.h):
 * argv[0] is the subcommand name; returns the exit status above (0 for
 * --help). Resets getopt (optind = 0), so it can be called again. */
int pf_cmd_explain(int argc, char **argv);

/* ---- shared by cmd_explain.c and explain_why.c ---- */

/* What explain_why.c needs to know about one decision. */
struct pf_explain_ctx {
	const struct pf_policy *pol;   /* the loaded policy (rule lists) */
	const __u8 *buf;               /* the request bytes */
	const struct pf_req *r;        /* pf_parse result over buf */
	const struct pf_match *m;      /* pf_match result */
};

/* Print "Rule: N (FILE:LINE): hosts ...; paths ...; origins ...;
 * on_deny ...\n" for rule index ri (< pol->n_rules) of pol; rules are
 * numbered from 1 for people. Long lists are cut after a few entries. */
void pf_explain_rule_line(FILE *out, const struct pf_policy *pol, unsigned ri);

/* Print "Reason: ...\n" and indented detail lines for a decision whose
 * parse result was PF_P_OK, with the specifics of m->reason. */
void pf_explain_reason(FILE *out, const struct pf_explain_ctx *x);

#endif /* PF_EXPLAIN_H */
