/*
 * cmd_check.c -- "preflightd check [--quiet] FILE": load, validate and
 * compile a policy without touching the kernel, and summarize it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "heap.h"
#include "policy.h"

#define CHECK_USAGE \
	"usage: preflightd check [--quiet] FILE\n" \
	"  Load, validate and compile the policy FILE and print a summary.\n" \
	"  Problems are printed as FILE:LINE:COL: message.\n" \
	"  --quiet  print nothing on success\n" \
	"  exit status: 0 valid, 1 problems, 2 usage error\n"

/* "s" unless n is 1. */
static const char *plural(unsigned n)
{
	return n == 1 ? "" : "s";
}

/* Print the one-line summary of compiled policy c loaded from file. */
static void summary(const char *file, const struct pf_compiled *c)
{
	unsigned i, origins = 0, wild = 0, methods = 0, headers = 0;

	for (i = 0; i < c->n_toks; i++) {
		switch (c->keys[i].kind) {
		case PF_TOK_WILD_HTTP:
		case PF_TOK_WILD_HTTPS:
			wild++;
			origins++;
			break;
		case PF_TOK_ORIGIN:
			origins++;
			break;
		case PF_TOK_METHOD:
			methods++;
			break;
		case PF_TOK_HEADER:
			headers++;
			break;
		}
	}
	printf("%s: ok: %u rule%s, %u origin%s (%u wildcard), %u method%s, "
	       "%u header%s, %u port%s\n", file,
	       c->info.n_rules, plural(c->info.n_rules),
	       origins, plural(origins), wild,
	       methods, plural(methods), headers, plural(headers),
	       c->n_ports, plural(c->n_ports));
}

/* Entry point of "preflightd check"; argv[0] is the subcommand name.
 * Returns the exit status: 0 valid (summary on stdout unless --quiet),
 * 1 problems (on stderr), 2 usage error. */
int pf_cmd_check(int argc, char **argv)
{
	struct pf_policy pol;
	struct pf_compiled c;
	const char *file = NULL;
	void *below;
	bool quiet = false, opts = true;
	int i, ret = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			fputs(CHECK_USAGE, stdout);
			return 0;
		}
		if (opts && (!strcmp(a, "--quiet") || !strcmp(a, "-q"))) {
			quiet = true;
			continue;
		}
		if (opts && !strcmp(a, "--")) {
			opts = false;
			continue;
		}
		if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, "check: unknown option '%s'\n", a);
			goto usage;
		}
		if (file) {
			fprintf(stderr, "check: one FILE expected\n");
			goto usage;
		}
		file = a;
	}
	if (!file) {
		fprintf(stderr, "check: missing FILE\n");
		goto usage;
	}
	/* one pass over the policy, then exit: the heap is set up for it */
	below = pf_heap_grow();
	if (pf_policy_load(file, &pol, stderr))
		goto out;
	if (!pf_policy_check_compile(&pol, &c, stderr)) {
		if (!quiet)
			summary(file, &c);
		pf_compiled_free(&c);
		ret = 0;
	}
	pf_policy_free(&pol);
out:
	pf_heap_done(below, 0);
	return ret;
usage:
	fputs(CHECK_USAGE, stderr);
	return 2;
}
