/*
 * test_pin.c -- unit tests of the per-interface lock file (user/pin.c):
 * its holder unlinks it on the way out, so a process that opened the old
 * file just before must not end up holding a lock next to the one a
 * newcomer takes on the new file. And of the staged pins of an adopting
 * run (pf_pin_commit, pf_pin_unstage, and pf_pin_inspect settling what a
 * killed run staged), on plain files: rename(2) and unlink(2) are what
 * they do, on bpffs as anywhere.
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
#include <sys/stat.h>
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

static const char *const names[] = { "meta", "stats", "flows", "config", "trace_ctl", "trace" };
#define N_NAMES (sizeof(names) / sizeof(names[0]))

/* Write what to dir/name (a pin, as far as rename and unlink go). */
static void put(const char *d, const char *name, const char *what)
{
	char f[320];
	FILE *fp;

	snprintf(f, sizeof(f), "%s/%s", d, name);
	fp = fopen(f, "w");
	assert_non_null(fp);
	fputs(what, fp);
	fclose(fp);
}

/* What dir/name holds ("" if it does not exist). */
static const char *got(const char *d, const char *name)
{
	static char buf[16];
	char f[320];
	FILE *fp;

	snprintf(f, sizeof(f), "%s/%s", d, name);
	buf[0] = 0;
	fp = fopen(f, "r");
	if (fp) {
		if (!fgets(buf, sizeof(buf), fp))
			buf[0] = 0;
		fclose(fp);
	}
	return buf;
}

/* A pin directory with a dead instance's pins ("old") and an adopting
 * run's staged ones ("new", but skip's). */
static void pins_setup(struct pf_pin *p, const char *skip)
{
	char next[64];
	unsigned i;

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "%s/pins", dir);
	assert_int_equal(mkdir(p->dir, 0700), 0);
	for (i = 0; i < N_NAMES; i++) {
		put(p->dir, names[i], "old");
		snprintf(next, sizeof(next), "%s_next", names[i]);
		if (!skip || strcmp(skip, names[i]))
			put(p->dir, next, "new");
	}
	put(p->dir, "tc_ingress_next", "new");   /* the stager's program */
	p->pinned = p->adopted = p->staged = true;
}

/* Remove dir/name. */
static int unlink_pin(const char *d, const char *name)
{
	char f[320];

	snprintf(f, sizeof(f), "%s/%s", d, name);
	return unlink(f);
}

/* Remove the directory; it must hold exactly the six pins (nothing
 * staged, nor the stager's program pin). */
static void pins_teardown(const struct pf_pin *p)
{
	unsigned i;

	for (i = 0; i < N_NAMES; i++)
		assert_int_equal(unlink_pin(p->dir, names[i]), 0);
	assert_int_equal(rmdir(p->dir), 0);
}

/* The commit puts every staged pin in place of the dead instance's and
 * leaves none staged. */
static void test_commit(void **state)
{
	struct pf_pin p;
	unsigned i;

	(void)state;
	pins_setup(&p, NULL);
	assert_int_equal(pf_pin_commit(&p), 0);
	assert_false(p.staged);
	for (i = 0; i < N_NAMES; i++)
		assert_string_equal(got(p.dir, names[i]), "new");
	assert_int_equal(pf_pin_commit(&p), 0);   /* nothing staged: no-op */
	pins_teardown(&p);
}

/* One rename failing (its staged pin gone) fails the commit, the others
 * are still made (our programs are attached by then), and nothing staged
 * is left. */
static void test_commit_partial(void **state)
{
	struct pf_pin p;
	unsigned i;

	(void)state;
	pins_setup(&p, "config");
	assert_int_equal(pf_pin_commit(&p), -ENOENT);
	assert_false(p.staged);
	for (i = 0; i < N_NAMES; i++)
		assert_string_equal(got(p.dir, names[i]),
				    strcmp(names[i], "config") ? "new" : "old");
	pins_teardown(&p);
}

/* Put a directory where dir/name goes (removing a pin there first), the
 * obstacle a commit's rename fails on (a file is never renamed over a
 * directory: EISDIR); its path in path. */
static void block_pin(const char *dir, const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
}

/* A rename that fails for another reason than a staged pin gone (here a
 * directory where the pin goes: EISDIR) fails the commit, the others are
 * still made, and that pin stays staged with the stager's program pin:
 * removed, the dead instance's pin under that name would stay for good;
 * kept, the next run or detach settles it (pf_pin_settle). */
static void test_commit_kept(void **state)
{
	struct pf_pin p;
	char path[sizeof(p.dir) + 8];
	unsigned i;

	(void)state;
	pins_setup(&p, NULL);
	block_pin(p.dir, "config", path, sizeof(path));
	assert_int_equal(pf_pin_commit(&p), -EISDIR);
	assert_false(p.staged);
	for (i = 0; i < N_NAMES; i++)
		if (strcmp(names[i], "config"))
			assert_string_equal(got(p.dir, names[i]), "new");
	assert_string_equal(got(p.dir, "config_next"), "new");
	assert_string_equal(got(p.dir, "tc_ingress_next"), "new");
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(unlink_pin(p.dir, "config_next"), 0);
	assert_int_equal(unlink_pin(p.dir, "tc_ingress_next"), 0);
	put(p.dir, "config", "new");
	pins_teardown(&p);
}

/* The XDP program's pin failing to go in place (a directory there) fails
 * the commit but is not kept, nor is the stager: it names no map, and an
 * obstacle that stays would fail every later settle. The maps' pins are
 * all in place. */
static void test_commit_xdp_not_kept(void **state)
{
	struct pf_pin p;
	char path[sizeof(p.dir) + 8];
	unsigned i;

	(void)state;
	pins_setup(&p, NULL);
	put(p.dir, "xdp_next", "new");
	block_pin(p.dir, "xdp", path, sizeof(path));
	assert_int_equal(pf_pin_commit(&p), -EISDIR);
	assert_false(p.staged);
	for (i = 0; i < N_NAMES; i++)
		assert_string_equal(got(p.dir, names[i]), "new");
	assert_int_not_equal(unlink_pin(p.dir, "xdp_next"), 0);
	assert_int_not_equal(unlink_pin(p.dir, "tc_ingress_next"), 0);
	assert_int_equal(rmdir(path), 0);
	pins_teardown(&p);
}

/* A run that never got its programs attached drops what it staged: the
 * dead instance's pins stay as they were. */
static void test_unstage(void **state)
{
	struct pf_pin p;
	unsigned i;

	(void)state;
	pins_setup(&p, NULL);
	pf_pin_unstage(&p);
	assert_false(p.staged);
	assert_int_equal(pf_pin_commit(&p), 0);   /* nothing staged: no-op */
	for (i = 0; i < N_NAMES; i++)
		assert_string_equal(got(p.dir, names[i]), "old");
	pins_teardown(&p);
}

/* Staged pins without the stager's program pin -- a rollback cut short
 * (it removes that pin first) or an older build's -- are removed by the
 * next pf_pin_inspect: the dead instance's pins stay, the ones its
 * attached programs read. */
static void test_inspect_settles_back(void **state)
{
	struct pf_layout self;
	struct pf_pin p;
	unsigned i;

	(void)state;
	memset(&self, 0, sizeof(self));
	pins_setup(&p, NULL);
	assert_int_equal(unlink_pin(p.dir, "tc_ingress_next"), 0);
	p.staged = p.adopted = false;   /* a new run: nothing of its own staged */
	(void)pf_pin_inspect(&p, &self, 0);   /* (the pins are files: unreadable) */
	for (i = 0; i < N_NAMES; i++)
		assert_string_equal(got(p.dir, names[i]), "old");
	pins_teardown(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_exclusive),
		cmocka_unit_test(test_lock_unlink_race),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_commit_partial),
		cmocka_unit_test(test_commit_kept),
		cmocka_unit_test(test_commit_xdp_not_kept),
		cmocka_unit_test(test_unstage),
		cmocka_unit_test(test_inspect_settles_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
