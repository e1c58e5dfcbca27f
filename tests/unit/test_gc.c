/*
 * test_gc.c -- the GC's delete step (pf_gc_delete, user/gc.c with
 * bpf/pf_gc.bpf.c) on a real hash map with pf_flows' key and value (root).
 *
 * A pass reads entries it finds dead, then deletes them. In between, the
 * datapath may free an ended connection's entry at the server's SYN-ACK
 * and a new connection on the same 4-tuple create its own (new random
 * gen): the delete must leave that new entry, and still free the entries
 * that did not change. Before the conditional delete (a delete by key),
 * the replacement went and replace_survives failed. Both ways to delete
 * run it: the program and the userspace fallback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "gc.h"

#define NKEYS 5000   /* more than one PF_GC_CHUNK */

static void mkkey(struct pf_flow_key *k, unsigned i)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->caddr[0] = 198;
	k->caddr[1] = 18;
	k->caddr[2] = (__u8)(i >> 8);
	k->caddr[3] = (__u8)i;
	k->saddr[0] = 198;
	k->saddr[1] = 19;
	k->cport = htons(40000 + (i & 0x3ff));
	k->sport = htons(8080);
}

/* The scenario above, deleting with the program (user false) or from
 * userspace. */
static void replace_survives_with(bool user)
{
	static struct pf_flow_key keys[NKEYS];
	static struct pf_flow read[NKEYS];
	static struct pf_gc_cand cands[NKEYS];
	struct pf_flow v = {}, got;
	struct pf_gc_del d = { .user = user };
	__u64 changed = 0, gone;
	int fd;
	unsigned i;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct pf_flow_key),
			    sizeof(struct pf_flow), NKEYS + 8, NULL);
	assert_true(fd >= 0);
	for (i = 0; i < NKEYS; i++) {
		mkkey(&keys[i], i);
		v.gen = 1000 + i;
		v.last_ns = 5000000 + i;
		v.fin = PF_FIN_CLIENT | PF_FIN_SERVER;
		assert_int_equal(bpf_map_update_elem(fd, &keys[i], &v, BPF_NOEXIST), 0);
		/* the pass's view of the entry */
		assert_int_equal(bpf_map_lookup_elem(fd, &keys[i], &read[i]), 0);
		cands[i] = (struct pf_gc_cand){
			.key = keys[i], .gen = read[i].gen, .last_ns = read[i].last_ns,
		};
	}
	/* after the read: key 7's connection ended at a SYN-ACK and a new
	 * one on the tuple has its entry (another gen, spliced) ... */
	assert_int_equal(bpf_map_delete_elem(fd, &keys[7]), 0);
	v.gen = 0xabcdef;
	v.last_ns = 9000000;
	v.fin = 0;
	v.splices = 1;
	assert_int_equal(bpf_map_update_elem(fd, &keys[7], &v, BPF_NOEXIST), 0);
	/* ... key 4500's (second chunk) too, its new gen equal by chance but
	 * its last packet later; key 9's entry is gone and not back */
	assert_int_equal(bpf_map_delete_elem(fd, &keys[4500]), 0);
	v.gen = read[4500].gen;
	v.last_ns = read[4500].last_ns + 1;
	assert_int_equal(bpf_map_update_elem(fd, &keys[4500], &v, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_delete_elem(fd, &keys[9]), 0);

	d.fd = fd;
	gone = pf_gc_delete(&d, cands, NKEYS, &changed);
	assert_int_equal(d.user, user);
	assert_int_equal(gone, NKEYS - 3);
	assert_int_equal(changed, 2);
	assert_int_equal(bpf_map_lookup_elem(fd, &keys[7], &got), 0);
	assert_int_equal(got.gen, 0xabcdef);
	assert_int_equal(got.splices, 1);
	assert_int_equal(bpf_map_lookup_elem(fd, &keys[4500], &got), 0);
	assert_int_equal(got.last_ns, read[4500].last_ns + 1);
	for (i = 0; i < NKEYS; i++)
		if (i != 7 && i != 4500)
			assert_int_not_equal(bpf_map_lookup_elem(fd, &keys[i], &got), 0);
	/* nothing left to delete: all kept or gone */
	changed = 0;
	gone = pf_gc_delete(&d, cands, NKEYS, &changed);
	assert_int_equal(gone, 0);
	assert_int_equal(changed, 2);
	pf_gc_del_close(&d);
	close(fd);
}

static void replace_survives(void **state)
{
	(void)state;
	replace_survives_with(false);
}

static void replace_survives_userspace(void **state)
{
	(void)state;
	replace_survives_with(true);
}

/* The program path is the one that runs here: replace_survives passes
 * through the userspace fallback when the program does not load, so
 * without this a program that stopped loading would go unnoticed (the
 * fallback leaves a window). */
static void program_loads(void **state)
{
	struct pf_gc_del d = {};
	struct utsname u;
	unsigned maj = 0, min = 0;
	int fd;

	(void)state;
	assert_int_equal(uname(&u), 0);
	if (sscanf(u.release, "%u.%u", &maj, &min) != 2 || maj < 6 || (maj == 6 && min < 10)) {
		print_message("skip: kernel %s lacks bpf_preempt_disable (6.10): the GC deletes "
			      "from userspace there\n", u.release);
		skip();
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct pf_flow_key),
			    sizeof(struct pf_flow), 8, NULL);
	assert_true(fd >= 0);
	d.fd = fd;
	assert_int_equal(pf_gc_del_open(&d), 0);
	pf_gc_del_close(&d);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(program_loads),
		cmocka_unit_test(replace_survives),
		cmocka_unit_test(replace_survives_userspace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
