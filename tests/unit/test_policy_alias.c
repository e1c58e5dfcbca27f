/*
 * test_policy_alias.c -- YAML aliases in policies (user/policy_schema.c):
 * they keep working for sharing values, and cannot expand a small file
 * into a huge policy (issue 10: a 285 kB file aliasing one 65 kB string
 * 20,000 times made `preflightd check` use 1.3 GB).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>
#include "policy_util.h"

#include "policy.h"

/* Peak resident set of this process so far, in KiB. */
static long peak_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* A policy whose one rule lists the origin https://<len a's>.example.com
 * under the anchor &a (at 5:9, or 6:9 when the rule is anchored too),
 * then `aliases` aliases of it; then `rule_aliases` aliases of the whole
 * rule (anchored &r if there are any). Returns the text (free it). */
static char *alias_policy(unsigned len, unsigned aliases, unsigned rule_aliases,
			  size_t *size)
{
	char *yaml = NULL;
	FILE *f = open_memstream(&yaml, size);
	unsigned i;

	assert_non_null(f);
	fprintf(f, "ports: [80]\nrules:\n  - %smethods: [GET]\n    origins:\n"
		"      - &a \"https://", rule_aliases ? "&r\n    " : "");
	for (i = 0; i < len; i++)
		fputc('a', f);
	fputs(".example.com\"\n", f);
	for (i = 0; i < aliases; i++)
		fputs("      - *a\n", f);
	for (i = 0; i < rule_aliases; i++)
		fputs("  - *r\n", f);
	fclose(f);
	return yaml;
}

/* The file: one 65,000-byte origin anchored at 5:9 and aliased
 * 20,000 times (285 kB). Refused at the anchored value with one message,
 * without the memory the expansion would take (1.3 GB). */
static void test_alias_bomb(void **state)
{
	struct pf_policy pol;
	size_t len;
	char *yaml = alias_policy(65000, 20000, 0, &len), *errs = NULL;
	long before;

	(void)state;
	assert_int_equal(len, 285085);
	before = peak_kib();
	assert_int_equal(load(yaml, &pol, &errs), -EINVAL);
	/* the expansion needs well over 1 GB: under 64 MiB more than
	 * before shows it never happened (sanitizer overhead included) */
	if (peak_kib() - before >= 64 * 1024)
		fail_msg("peak RSS grew by %ld KiB", peak_kib() - before);
	assert_string_equal(errs,
		"t.yaml:5:9: YAML aliases repeat this value, and the policy's "
		"repeated values pass 8 MiB: refusing (write the values out, or "
		"alias less)\n");
	assert_null(pol.rules);
	free(errs);
	free(yaml);
}

/* Repeats through aliased lists and rules count too: a rule of 200
 * aliases of a 4 kB origin, aliased as 63 more rules, is refused. */
static void test_alias_nested(void **state)
{
	struct pf_policy pol;
	size_t len;
	char *yaml = alias_policy(4000, 200, 63, &len), *errs = NULL;

	(void)state;
	assert_int_equal(load(yaml, &pol, &errs), -EINVAL);
	assert_non_null(strstr(errs, "t.yaml:6:9: YAML aliases repeat this value"));
	assert_ptr_equal(strchr(errs, '\n'), errs + strlen(errs) - 1);
	assert_null(pol.rules);
	free(errs);
	free(yaml);
}

/* Aliases that share a list between rules keep working. */
static void test_alias_shared_list(void **state)
{
	static const char yaml[] =
		"ports: [80]\n"
		"rules:\n"
		"  - paths: [/a/]\n"
		"    origins: &partners [https://a.example.com, https://b.example.com]\n"
		"    methods: &m [GET, PUT]\n"
		"  - paths: [/b/]\n"
		"    origins: *partners\n"
		"    methods: *m\n";
	struct pf_policy pol;
	struct pf_compiled c;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load(yaml, &pol, &errs), 0);
	assert_string_equal(errs, "");
	assert_int_equal(pol.n_rules, 2);
	assert_int_equal(pol.rules[1].origins.n, 2);
	assert_string_equal(pol.rules[1].origins.v[1].s, "https://b.example.com");
	assert_int_equal(pf_policy_compile(&pol, 0, &c, stderr), 0);
	assert_int_equal(c.n_toks, 4);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
	free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: the peak RSS it measures must be its own */
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_alias_nested),
		cmocka_unit_test(test_alias_shared_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
