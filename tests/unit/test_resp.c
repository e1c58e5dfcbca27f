/*
 * test_resp.c -- unit test of pf_put_last (include/pf_resp.h), the copy
 * of a rule's response tail (fixed or reject) into the response, several
 * words a step, against what the datapath relies on: every n from 0 to
 * the tail's bound at several offsets, the piece's bytes equal to the
 * source, the bytes after it up to the next 8-byte boundary zero (the
 * compiled rule's zeros: pf_csum_buf sums the response zero-padded to 4
 * bytes), nothing before the piece nor past its words' bound written
 * (the PF_LAUNDER slot at the end of out kept), and the returned offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "match.h"

#define FILL 0xa5

/* One tail bound (words = its size / 8, as pf_build_response passes). */
static void check_tail(__u32 words)
{
	static __u8 out[2 * PF_RESP_MAX];
	static __u8 src[PF_FIXED_MAX > PF_REJECT_MAX ? PF_FIXED_MAX : PF_REJECT_MAX];
	const __u32 offs[] = { 0, 1, 7, 8, 100, 555 };
	__u32 n, k, i, off, pad, ret;

	assert_true(8 * words <= sizeof(src));
	for (n = 0; n <= 8 * words; n++) {
		/* the compiled rule: n bytes, zeros after them */
		memset(src, 0, sizeof(src));
		for (i = 0; i < n; i++)
			src[i] = (__u8)(i * 7 + n + 1) | 1;
		for (k = 0; k < sizeof(offs) / sizeof(offs[0]) + 1; k++) {
			/* the last: the piece ending at PF_RESP_MAX - 1 */
			off = k < sizeof(offs) / sizeof(offs[0]) ? offs[k] : PF_RESP_MAX - 1 - n;
			if (off + n >= PF_RESP_MAX)
				continue;
			memset(out, FILL, sizeof(out));
			ret = pf_put_last(out, off, src, n, words);
			assert_int_equal(ret, off + n);
			for (i = 0; i < off; i++)
				assert_int_equal(out[i], FILL);
			assert_memory_equal(out + off, src, n);
			pad = (n + 7) & ~7u;
			for (i = n; i < pad; i++)
				assert_int_equal(out[off + i], 0);
			for (i = off + 8 * words; i < sizeof(out); i++)
				assert_int_equal(out[i], FILL);
		}
	}
}

static void test_put_last_fixed(void **state)
{
	(void)state;
	check_tail(PF_FIXED_MAX / 8);
}

static void test_put_last_reject(void **state)
{
	(void)state;
	check_tail(PF_REJECT_MAX / 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_last_fixed),
		cmocka_unit_test(test_put_last_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
