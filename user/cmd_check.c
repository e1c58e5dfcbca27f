/*
 * cmd_check.c -- "preflightd check [--quiet] FILE": load, validate and
 * compile a policy without touching the kernel, and summarize it.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "cmds.h"
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

/* Set up the heap for one pass over a policy: it grows once, by
 * CHECK_HEAP bytes, and that region is in transparent huge pages where
 * the kernel has them (madvise mode; what glibc's glibc.malloc.hugetlb=1
 * tunable does). A 100,000-origin policy touches about 40 MB of heap:
 * 8,900 page faults with 4 KiB pages, 1,350 with these (check's CPU time
 * -9 %), 380 (330 of them the process's start) with the heap's first
 * two huge pages left out (below). Freed memory is kept for the next
 * stage rather than each block over 128 KiB going back to the kernel to
 * be faulted in again. Returns the start of the grown heap as one block
 * for the caller to free when done (NULL if none): up to the first huge
 * page boundary it cannot be in huge pages, and up to the next one the
 * growing malloc wrote its own bookkeeping before the madvise, so that
 * page is in 4 KiB pages too. The blocks after it, the 5 MB file first,
 * start in huge pages (this block took 510 faults of 4 KiB; it is never
 * touched). Best effort: an allocator that does not grow the heap by
 * sbrk (ASan's) or a kernel without THP gets only the thresholds. */
#define CHECK_HEAP (64ul << 20)
#define HUGE_PAGE  (2ul << 20)

static void *heap_hugepages(void)
{
	uintptr_t before, lo, hi;
	void *p, *below;

	mallopt(M_MMAP_THRESHOLD, CHECK_HEAP);
	mallopt(M_TRIM_THRESHOLD, 2 * CHECK_HEAP);
	mallopt(M_TOP_PAD, CHECK_HEAP);
	before = (uintptr_t)sbrk(0);
	p = malloc(HUGE_PAGE);   /* more than the heap has: it grows now */
	lo = (before + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	hi = (uintptr_t)sbrk(0) & ~(HUGE_PAGE - 1);
	if (!p || hi <= lo + HUGE_PAGE)  /* only what this sbrk added */
		goto none;
	madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	if ((uintptr_t)p >= lo)
		goto none;
	below = realloc(p, lo + HUGE_PAGE - (uintptr_t)p);  /* grows in place */
	if (below)
		return below;
none:
	free(p);
	return NULL;
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
	below = heap_hugepages();
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
	free(below);
	return ret;
usage:
	fputs(CHECK_USAGE, stderr);
	return 2;
}
