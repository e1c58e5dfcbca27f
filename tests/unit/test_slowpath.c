/*
 * test_slowpath.c -- unit tests of the daemon's slow path (user/slowpath.c)
 * on a real LRU hash map with pf_punted's key and value (root): a reload
 * (pf_slow_adopt with the other slot) deletes the old slot's failed marks
 * and nothing else, so a mark cannot come back to life when a second
 * reload makes its slot active again (its bit alone would match).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "slowpath.h"

#define MARK(slot) (PF_PUNT_FAILED | ((__u64)(slot) << PF_PUNT_SLOT_BIT) | 12345)

/* Whether key h is in map fd. */
static int has(int fd, __u64 h)
{
	__u64 v;

	return !bpf_map_lookup_elem(fd, &h, &v);
}

/* Slot 0 -> 1 -> 0 (two reloads): each drops the marks of the slot it
 * leaves; a wait (a timestamp) stays, a mark of the new slot stays. */
static void test_reload_forgets_failed(void **state)
{
	static struct pf_slow sl;
	struct pf_policy pol = {};
	struct pf_regex_set rs = {};
	__u64 h0 = 1, h1 = 2, hw = 3, v;
	int fd;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "t_punted", sizeof(__u64), sizeof(__u64),
			    64, NULL);
	assert_true(fd >= 0);
	v = MARK(0);
	assert_int_equal(bpf_map_update_elem(fd, &h0, &v, BPF_NOEXIST), 0);
	v = MARK(1);
	assert_int_equal(bpf_map_update_elem(fd, &h1, &v, BPF_NOEXIST), 0);
	v = 987654321;
	assert_int_equal(bpf_map_update_elem(fd, &hw, &v, BPF_NOEXIST), 0);
	memset(&sl, 0, sizeof(sl));
	sl.punted_fd = fd;
	pf_slow_adopt(&sl, &pol, &rs, 0);       /* the start: slot 0, nothing goes */
	assert_true(has(fd, h0) && has(fd, h1) && has(fd, hw));
	pf_slow_adopt(&sl, &pol, &rs, 1);       /* reload: slot 0's marks go */
	assert_false(has(fd, h0));
	assert_true(has(fd, h1) && has(fd, hw));
	pf_slow_adopt(&sl, &pol, &rs, 0);       /* reload back: slot 1's go */
	assert_false(has(fd, h1));
	assert_true(has(fd, hw));
	pf_slow_adopt(&sl, &pol, &rs, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_forgets_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
