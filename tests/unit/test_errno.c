/*
 * test_errno.c -- functions that print a message and return -errno return
 * the failure's errno, not one the message's own write left: with stderr
 * on /dev/full every message fails (ENOSPC), so a function reading errno
 * after pr_warn returns -ENOSPC. Reachable here: pf_ofl_install (a map
 * update on a bad fd, EBADF). The same pattern in static functions
 * (pin.c ensure_bpffs, slowpath.c punt_origin) is covered by reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy.h"
#include "offload.h"

static struct pf_compiled comp;  /* large: off the stack */

/* Run f(arg) with stderr (fd 2) on /dev/full; returns what f returned. */
static int with_stderr_full(int (*f)(void *), void *arg)
{
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC), saved = dup(2), r;

	assert_true(full >= 0 && saved >= 0);
	fflush(stderr);
	assert_true(dup2(full, 2) == 2);
	r = f(arg);
	clearerr(stderr);
	assert_true(dup2(saved, 2) == 2);
	close(saved);
	close(full);
	return r;
}

static int install_bad_fd(void *arg)
{
	return pf_ofl_install(-1, arg);
}

/* The map update's EBADF, whatever the message's write did. */
static void test_ofl_install_errno(void **state)
{
	(void)state;
	assert_int_equal(with_stderr_full(install_bad_fd, &comp), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ofl_install_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
