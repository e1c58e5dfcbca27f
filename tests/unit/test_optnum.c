/*
 * test_optnum.c -- unit tests of the commands' numeric option parser
 * (user/optnum.c): only whole decimal numbers in range; an empty value
 * (once taken as 0 by detach --drain-timeout and trace --count), a sign,
 * a space or an overflow is refused and leaves the value as it was.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "optnum.h"

/* Values in range, the bounds included. */
static void test_in_range(void **state)
{
	unsigned long v = 7;

	(void)state;
	assert_int_equal(pf_opt_ulong("t", "0", 0, 86400, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pf_opt_ulong("t", "86400", 0, 86400, &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(pf_opt_ulong("t", "007", 1, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(pf_opt_ulong("t", "4294967295", 0, UINT_MAX, &v), 0);
	assert_int_equal(v, UINT_MAX);
}

/* Everything else: -EINVAL, the value untouched. */
static void test_refused(void **state)
{
	static const char *const bad[] = {
		"", " 5", "5 ", "+5", "-1", "-0", "5s", "0x10", "1e3", "5.0",
		"86401", "99999999999999999999999", "\t1",
	};
	unsigned long v = 42;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pf_opt_ulong("t", bad[i], 0, 86400, &v), -EINVAL);
		assert_int_equal(v, 42);
	}
	assert_int_equal(pf_opt_ulong("t", "0", 1, 86400, &v), -EINVAL);
	assert_int_equal(pf_opt_ulong("t", "4294967296", 0, UINT_MAX, &v), -EINVAL);
	assert_int_equal(v, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_range),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
