/*
 * test_words.c -- unit tests of pf_eq_words (include/pf_common.h), the
 * masked 8-byte compare of pf_tok_eq, pf_path_match and pf_ofl_reuse,
 * against a byte-at-a-time reference: every n from 0 to the bound (0, 1,
 * 7, 8, 9, 15, 16 among them), a difference at every byte (inside n: not
 * equal; past n: equal), a at the request buffer's end and at offsets
 * past it (each word's offset masked, PF_M), b at the end of its own heap array (ASan), case
 * folding of a only, and n past the bound. Also pf_min_nb, the
 * branch-free min of the scans' limits, against "a < b ? a : b".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../include/pf_common.h"

#define MAX_W 14   /* pf_tok_eq's bound (PF_TOKEN_MAX / 8) */

/* The request buffer: PF_REQ_BUF bytes exactly, on the heap (ASan). */
static __u8 *abuf;

/* Byte i of the n at a + off as pf_eq_words reads it: its word at
 * PF_M(off + 8 * (i / 8)), the bytes of a word contiguous (callers keep
 * off + n within PF_REQ_MAX, where this is plain a[off + i]). */
/* Byte i of the n compared at off in a, as pf_eq_words reads it. */
static __u8 a_at(const __u8 *a, __u32 off, __u32 i)
{
	return a[((off + 8 * (i / 8)) & (PF_REQ_MAX - 1)) + i % 8];
}

/* The reference: pf_eq_words byte by byte. */
static int ref_eq(const __u8 *a, __u32 off, const __u8 *b, __u32 n, int ci)
{
	__u32 i;
	__u8 c;

	for (i = 0; i < n; i++) {
		c = a_at(a, off, i);
		if (ci && c >= 'A' && c <= 'Z')
			c = (__u8)(c + 32);
		if (c != b[i])
			return 0;
	}
	return 1;
}

/* b: exactly 8 * MAX_W bytes on the heap, a copy of a's n bytes at off
 * (lower-cased when ci), the rest filled with fill. */
static __u8 *make_b(__u32 off, __u32 n, int ci, __u8 fill)
{
	__u8 *b = malloc(8 * MAX_W);
	__u32 i;

	assert_non_null(b);
	memset(b, fill, 8 * MAX_W);
	for (i = 0; i < n; i++) {
		b[i] = a_at(abuf, off, i);
		if (ci && b[i] >= 'A' && b[i] <= 'Z')
			b[i] = (__u8)(b[i] + 32);
	}
	return b;
}

/* Fill abuf with a fixed mix of upper- and lower-case letters. */
static void fill_a(void)
{
	__u32 i;

	for (i = 0; i < PF_REQ_BUF; i++)
		abuf[i] = (__u8)('A' + (i * 7) % 26 + ((i & 1) ? 32 : 0));
}

/* Every n, every differing byte, at several offsets. */
static void test_every_n(void **state)
{
	static const __u32 offs[] = { 0, 1, 5, 100, PF_REQ_MAX - 8 * MAX_W,
				      PF_REQ_MAX - 9, PF_REQ_MAX - 1, PF_REQ_MAX + 3 };
	__u32 o, n, i;
	__u8 *b, save;

	(void)state;
	fill_a();
	for (o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
		for (n = 0; n <= 8 * MAX_W; n++) {
			b = make_b(offs[o], n, 0, 0xee);
			assert_int_equal(pf_eq_words(abuf, offs[o], b, n, MAX_W, 0), 1);
			/* a byte of b changed: inside n it counts, past n not */
			for (i = 0; i < 8 * MAX_W; i++) {
				save = b[i];
				b[i] ^= 0x40;
				assert_int_equal(pf_eq_words(abuf, offs[o], b, n, MAX_W, 0),
						 ref_eq(abuf, offs[o], b, n, 0));
				assert_int_equal(pf_eq_words(abuf, offs[o], b, n, MAX_W, 0), i >= n);
				b[i] = save;
			}
			free(b);
		}
	}
}

/* The named edges, a at the very end of the request (its last n bytes;
 * the word read past them is within PF_REQ_BUF). */
static void test_edges_at_end(void **state)
{
	static const __u32 ns[] = { 0, 1, 7, 8, 9, 15, 16 };
	__u32 k, n, off;
	__u8 *b;

	(void)state;
	fill_a();
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		n = ns[k];
		off = PF_REQ_MAX - n;
		b = make_b(off, n, 0, 0);
		assert_int_equal(pf_eq_words(abuf, off, b, n, MAX_W, 0), 1);
		if (n) {
			b[n - 1] ^= 1;   /* the last byte: the masked word's top */
			assert_int_equal(pf_eq_words(abuf, off, b, n, MAX_W, 0), 0);
			b[n - 1] ^= 1;
			b[0] ^= 1;
			assert_int_equal(pf_eq_words(abuf, off, b, n, MAX_W, 0), 0);
			b[0] ^= 1;
		}
		/* the bytes of a past n (to PF_REQ_BUF) do not count */
		memset(abuf + PF_REQ_MAX, 0x5a, PF_REQ_BUF - PF_REQ_MAX);
		assert_int_equal(pf_eq_words(abuf, off, b, n, MAX_W, 0), 1);
		fill_a();
		free(b);
	}
}

/* ci lower-cases a's words, never b's. */
static void test_case(void **state)
{
	__u32 n;
	__u8 *b;

	(void)state;
	fill_a();
	for (n = 1; n <= 8 * MAX_W; n++) {
		b = make_b(3, n, 1, 0);
		assert_int_equal(pf_eq_words(abuf, 3, b, n, MAX_W, 1), 1);
		assert_int_equal(pf_eq_words(abuf, 3, b, n, MAX_W, 0), ref_eq(abuf, 3, b, n, 0));
		free(b);
		/* b as a is (mixed case): equal without folding only */
		b = make_b(3, n, 0, 0);
		assert_int_equal(pf_eq_words(abuf, 3, b, n, MAX_W, 0), 1);
		assert_int_equal(pf_eq_words(abuf, 3, b, n, MAX_W, 1), ref_eq(abuf, 3, b, n, 1));
		free(b);
	}
}

/* n past 8 * max_w: the first max_w words only (callers bound n). */
static void test_past_bound(void **state)
{
	__u8 *b;

	(void)state;
	fill_a();
	b = make_b(0, 8 * MAX_W, 0, 0);
	assert_int_equal(pf_eq_words(abuf, 0, b, 8 * MAX_W + 5, MAX_W, 0), 1);
	assert_int_equal(pf_eq_words(abuf, 0, b, 16, 2, 0), 1);
	b[16] ^= 1;
	assert_int_equal(pf_eq_words(abuf, 0, b, 17, 2, 0), 1);
	assert_int_equal(pf_eq_words(abuf, 0, b, 17, 3, 0), 0);
	free(b);
}

/* pf_min_nb against "a < b ? a : b" for every pair of edge values below
 * 2^63 (equal, one apart, the scans' bounds, 32-bit wrap, the top) and
 * pairs of pseudo-random ones. */
static void test_min_nb(void **state)
{
	static const __u64 v[] = {
		0, 1, 2, 7, 8, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025,
		2047, 2048, 0x7fffffffULL, 0x80000000ULL, 0xfffffffeULL,
		0xffffffffULL, 0x100000000ULL, 0x1000003ffULL, 1ULL << 62,
		(1ULL << 63) - 2, (1ULL << 63) - 1,
	};
	__u64 a, b, x = 88172645463325252ULL;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (j = 0; j < sizeof(v) / sizeof(v[0]); j++)
			assert_int_equal(pf_min_nb(v[i], v[j]), v[i] < v[j] ? v[i] : v[j]);
	for (i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a = x >> 1;
		b = (i & 1) ? a + (x & 0xff) - 0x80 : (x * 0x9e3779b97f4a7c15ULL) >> (1 + (i % 40));
		b &= (1ULL << 63) - 1;
		assert_int_equal(pf_min_nb(a, b), a < b ? a : b);
	}
}

/* cmocka: the request-sized buffer abuf. */
static int setup(void **state)
{
	(void)state;
	abuf = malloc(PF_REQ_BUF);
	return abuf ? 0 : -1;
}

/* cmocka: free abuf. */
static int teardown(void **state)
{
	(void)state;
	free(abuf);
	return 0;
}

/* Run every test; the exit status is the number of failures. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_n),
		cmocka_unit_test(test_edges_at_end),
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_past_bound),
		cmocka_unit_test(test_min_nb),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
