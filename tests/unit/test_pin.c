/*
 * test_pin.c -- unit tests of the per-interface lock file (user/pin.c):
 * its holder unlinks it on the way out, so a process that opened the old
 * file just before must not end up holding a lock next to the one a
 * newcomer takes on the new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pin.h"

static char dir[] = "/tmp/pf-unit-lock-XXXXXX";
static char path[64];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/if.lock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

/* One holder at a time; the file is gone once the last one let go. */
static void test_lock_exclusive(void **state)
{
	int a, b;

	(void)state;
	a = pf_lock_file(path);
	assert_true(a >= 0);
	assert_int_equal(pf_lock_file(path), -EBUSY);
	pf_lock_release(path, a);
	assert_int_equal(access(path, F_OK), -1);
	b = pf_lock_file(path);
	assert_true(b >= 0);
	pf_lock_release(path, b);
}

/* A releases (unlink, close) between B's open and B's flock; C then
 * creates and locks a new file. B's flock on the old file succeeds, but B
 * must see that it guards nothing (-ESTALE) instead of running next to C. */
static void test_lock_unlink_race(void **state)
{
	int a, b, c;

	(void)state;
	a = pf_lock_file(path);
	assert_true(a >= 0);
	b = open(path, O_RDWR | O_CLOEXEC);   /* B: open, not yet flock */
	assert_true(b >= 0);
	pf_lock_release(path, a);              /* A exits */
	c = pf_lock_file(path);                /* C: a new file */
	assert_true(c >= 0);
	assert_int_equal(pf_lock_fd(path, b), -ESTALE);
	close(b);
	/* B retries from the open, as pf_lock_file does: C holds it */
	assert_int_equal(pf_lock_file(path), -EBUSY);
	pf_lock_release(path, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_exclusive),
		cmocka_unit_test(test_lock_unlink_race),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
