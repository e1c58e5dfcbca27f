/*
 * test_ofl_pin.c -- the response offload's pins (user/offload.c, root):
 * a pin that fails part way leaves none of the pins that call made.
 *
 * pf_ofl_attach pins the offload's maps one after another before it
 * attaches anything. A directory in bpffs where one pin goes (ofl_held,
 * the fifth) makes that pin fail: the four before it were left behind
 * before pin_maps unwound them. The skeleton is loaded with no program
 * (its maps created only).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "skel.h"
#include "kfeat.h"
#include "offload.h"
#include "pin.h"

static char dir[128], blocker[160];
static struct preflightd_bpf *skel;

/* The entries of dir (but . and ..), names joined by ' ' into out. */
static unsigned list_dir(const char *dir, char *out, size_t n)
{
	struct dirent *de;
	unsigned k = 0;
	size_t o = 0;
	DIR *d = opendir(dir);

	out[0] = 0;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		k++;
		o += (size_t)snprintf(out + o, o < n ? n - o : 0, "%s ", de->d_name);
	}
	closedir(d);
	return k;
}

static void partial_pin_unwound(void **state)
{
	struct bpf_program *p;
	struct pf_ofl o;
	char left[1024];
	int plain;

	(void)state;
	if (geteuid()) {
		print_message("skip: needs root (bpffs, maps)\n");
		skip();
	}
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/pf-unit-ofl-pin-%d", (int)getpid());
	snprintf(blocker, sizeof(blocker), "%s/ofl_held", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(blocker, 0700), 0);
	skel = preflightd_bpf__open();
	assert_non_null(skel);
	plain = pf_kfeat_flow_lock(skel->obj, false);
	assert_in_range(plain, 0, 1);
	skel->rodata->pf_flow_lock_plain = (__u32)plain;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, false);
	assert_int_equal(preflightd_bpf__load(skel), 0);

	memset(&o, 0, sizeof(o));
	o.cg_fd = o.rules_fd = o.early_fd = o.held_fd = o.socks_fd = -1;
	snprintf(o.dir, sizeof(o.dir), "%s", dir);
	snprintf(o.marker, sizeof(o.marker), "%s/marker", dir);
	/* any directory opens as the cgroup: nothing is attached before the pins */
	assert_true(pf_ofl_attach(&o, skel, "/tmp") < 0);
	assert_false(o.pinned);
	assert_int_equal(o.cg_fd, -1);
	/* only the blocking directory is left */
	assert_int_equal(list_dir(dir, left, sizeof(left)), 1);
	assert_string_equal(left, "ofl_held ");
}

/* Whatever the case left (a failed one: its pins too), and the skeleton. */
static int cleanup(void **state)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	(void)state;
	rmdir(blocker);
	d = dir[0] ? opendir(dir) : NULL;
	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.')
			unlink(path);
	}
	if (d)
		closedir(d);
	if (dir[0])
		rmdir(dir);
	preflightd_bpf__destroy(skel);
	skel = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(partial_pin_unwound, cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
