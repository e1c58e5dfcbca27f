/*
 * test_drainkeys.c -- the drain of a flow table of another layout
 * (user/drainkeys.c, used by `detach` and a `run` that hands over): a key
 * goes only when two consecutive sock_diag dumps missed its connection.
 * One dump is not proof: a connection spliced by an answer already
 * running when draining was set can appear between a dump and the table
 * walk, and deleting its entry would leave its later segments
 * untranslated. The ticks go through pf_drain_tick, the drain's own
 * hand-over of the misses from tick to tick, with a fake delete. With the
 * old rule (every key the dump lacks deleted at once) the tick cases fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drainkeys.h"

/* Flow key number i (a distinct client address and port). */
static struct pf_flow_key key(unsigned i)
{
	struct pf_flow_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.caddr[0] = 198;
	k.caddr[1] = 18;
	k.caddr[3] = (__u8)i;
	k.saddr[0] = 198;
	k.saddr[1] = 19;
	k.cport = (__u16)(40000 + i);
	k.sport = 8080;
	return k;
}

/* The keys ids[0..n) as a sorted set. */
static void set_of(struct pf_keyset *s, const unsigned *ids, size_t n)
{
	struct pf_flow_key k;
	size_t i;

	pf_keyset_free(s);
	for (i = 0; i < n; i++) {
		k = key(ids[i]);
		assert_int_equal(pf_keyset_add(s, &k), 0);
	}
	pf_keyset_sort(s);
}

/* The fake table's delete: each key pf_drain_tick deletes goes to del
 * (ctx), but a key in fail is refused (its delete failing). */
struct fake {
	struct pf_keyset del, fail;
};

static int fake_del(void *ctx, const struct pf_flow_key *k)
{
	struct fake *f = ctx;

	if (pf_keyset_has(&f->fail, k))
		return -EBUSY;
	return pf_keyset_add(&f->del, k);
}

/* One drain tick through pf_drain_tick: the table tab, the dump live;
 * prev holds the first misses from tick to tick, del what this tick
 * deleted (sorted). Returns the keys left. */
static int tick_f(const struct pf_keyset *tab, const struct pf_keyset *live,
		  struct pf_keyset *prev, struct pf_keyset *del, const struct pf_keyset *fail)
{
	struct fake f = {};
	int left;

	if (fail)
		f.fail = *fail;
	left = pf_drain_tick(tab, live, prev, fake_del, &f);
	assert_true(left >= 0);
	pf_keyset_sort(&f.del);
	pf_keyset_free(del);
	*del = f.del;
	assert_int_equal((size_t)left, tab->n - del->n);
	return left;
}

static int tick(const struct pf_keyset *tab, const struct pf_keyset *live,
		struct pf_keyset *prev, struct pf_keyset *del)
{
	return tick_f(tab, live, prev, del, NULL);
}

/* Does sorted s hold key(i)? */
static bool has(const struct pf_keyset *s, unsigned i)
{
	struct pf_flow_key k = key(i);

	return pf_keyset_has(s, &k);
}

/* Missing from the first dump only: kept, remembered as a first miss;
 * present keys are neither. */
static void first_miss_kept(void **state)
{
	static const unsigned t[] = { 1, 2, 3 }, l[] = { 1, 3 };
	struct pf_keyset tab = {}, live = {}, prev = {}, del = {};

	(void)state;
	set_of(&tab, t, 3);
	set_of(&live, l, 2);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 0);
	assert_int_equal(prev.n, 1);
	assert_true(has(&prev, 2));
	pf_keyset_free(&tab);
	pf_keyset_free(&live);
	pf_keyset_free(&prev);
	pf_keyset_free(&del);
}

/* Missing from two consecutive dumps: deleted at the second; a key
 * missing first at the second dump is only remembered. */
static void second_miss_deleted(void **state)
{
	static const unsigned t[] = { 1, 2, 3, 4 }, l1[] = { 1, 3, 4 }, l2[] = { 1, 3 };
	struct pf_keyset tab = {}, live = {}, prev = {}, del = {};

	(void)state;
	set_of(&tab, t, 4);
	set_of(&live, l1, 3);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 0);
	set_of(&live, l2, 2);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 1);
	assert_true(has(&del, 2));
	assert_int_equal(prev.n, 1);
	assert_true(has(&prev, 4));
	pf_keyset_free(&tab);
	pf_keyset_free(&live);
	pf_keyset_free(&prev);
	pf_keyset_free(&del);
}

/* Missing, present, missing: never two consecutive misses, kept. */
static void present_between_kept(void **state)
{
	static const unsigned t[] = { 5, 6 }, none[] = { 0 }, l[] = { 5, 6 };
	struct pf_keyset tab = {}, live = {}, prev = {}, del = {};

	(void)state;
	set_of(&tab, t, 2);
	set_of(&live, none, 0);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 0);
	assert_int_equal(prev.n, 2);
	set_of(&live, l, 2);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 0);
	assert_int_equal(prev.n, 0);
	set_of(&live, none, 0);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 0);
	assert_int_equal(prev.n, 2);
	/* ... and the next miss in a row deletes both */
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 2);
	assert_true(has(&del, 5) && has(&del, 6));
	pf_keyset_free(&tab);
	pf_keyset_free(&live);
	pf_keyset_free(&prev);
	pf_keyset_free(&del);
}

/* A key whose entry was deleted (by the datapath) between the ticks and
 * comes back: missed by the earlier dump, not in the table at the tick
 * between, so its return starts again from a first miss. */
static void gone_between_starts_again(void **state)
{
	static const unsigned t1[] = { 7 }, none[] = { 0 };
	struct pf_keyset tab = {}, live = {}, prev = {}, del = {};

	(void)state;
	set_of(&live, none, 0);
	set_of(&tab, t1, 1);
	tick(&tab, &live, &prev, &del);
	set_of(&tab, none, 0);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(prev.n, 0);
	set_of(&tab, t1, 1);
	tick(&tab, &live, &prev, &del);
	assert_int_equal(del.n, 0);
	assert_true(has(&prev, 7));
	pf_keyset_free(&tab);
	pf_keyset_free(&live);
	pf_keyset_free(&prev);
	pf_keyset_free(&del);
}

/* A delete that fails: the key counts as left and stays a miss, so the
 * next tick that still misses it deletes it. */
static void failed_delete_retried(void **state)
{
	static const unsigned t[] = { 1, 2 }, none[] = { 0 }, f2[] = { 2 };
	struct pf_keyset tab = {}, live = {}, prev = {}, del = {}, fail = {};

	(void)state;
	set_of(&tab, t, 2);
	set_of(&live, none, 0);
	set_of(&fail, f2, 1);
	assert_int_equal(tick(&tab, &live, &prev, &del), 2);
	assert_int_equal(tick_f(&tab, &live, &prev, &del, &fail), 1);
	assert_true(has(&del, 1) && !has(&del, 2));
	assert_int_equal(prev.n, 1);
	assert_true(has(&prev, 2));
	set_of(&tab, f2, 1);
	assert_int_equal(tick(&tab, &live, &prev, &del), 0);
	assert_true(has(&del, 2));
	pf_keyset_free(&tab);
	pf_keyset_free(&live);
	pf_keyset_free(&prev);
	pf_keyset_free(&del);
	pf_keyset_free(&fail);
}

/* The set: sorted, duplicates dropped (a table walk restarted by a
 * concurrent delete repeats keys), look-ups. */
static void keyset_sorted_unique(void **state)
{
	static const unsigned ids[] = { 9, 3, 9, 1, 3, 3 };
	struct pf_keyset s = {};
	size_t i;

	(void)state;
	set_of(&s, ids, 6);
	assert_int_equal(s.n, 3);
	for (i = 1; i < s.n; i++)
		assert_true(memcmp(&s.k[i - 1], &s.k[i], sizeof(s.k[i])) < 0);
	assert_true(has(&s, 1) && has(&s, 3) && has(&s, 9));
	assert_false(has(&s, 2));
	pf_keyset_free(&s);
	assert_false(has(&s, 1));
}

/* The drain's snapshot (drainkeys.h): keys made after it are left out of
 * the tick's table -- a connection the dead instance only followed since
 * neither holds the drain nor is deleted; the snapshot's keys drain as
 * before, and once they are gone the tick says none is left. */
static void snapshot_only(void **state)
{
	static const unsigned sn[] = { 1, 2 }, t[] = { 1, 2, 7, 8 }, l[] = { 7, 8 };
	struct pf_keyset snap = {}, tab = {}, live = {}, prev = {}, del = {};

	(void)state;
	set_of(&snap, sn, 2);
	set_of(&tab, t, 4);
	set_of(&live, l, 2);  /* 1 and 2 closed; 7 and 8, made later, open */
	pf_keyset_keep(&tab, &snap);
	assert_int_equal(tab.n, 2);
	assert_true(has(&tab, 1) && has(&tab, 2) && !has(&tab, 7));
	assert_int_equal(tick(&tab, &live, &prev, &del), 2);   /* first misses */
	assert_int_equal(tick(&tab, &live, &prev, &del), 0);   /* both deleted */
	assert_true(has(&del, 1) && has(&del, 2) && !has(&del, 7) && !has(&del, 8));
	pf_keyset_free(&snap);
	pf_keyset_free(&tab);
	pf_keyset_free(&live);
	pf_keyset_free(&prev);
	pf_keyset_free(&del);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_miss_kept),
		cmocka_unit_test(second_miss_deleted),
		cmocka_unit_test(present_between_kept),
		cmocka_unit_test(gone_between_starts_again),
		cmocka_unit_test(failed_delete_retried),
		cmocka_unit_test(keyset_sorted_unique),
		cmocka_unit_test(snapshot_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
