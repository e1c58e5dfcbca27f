/*
 * test_replay.c -- unit tests of the slow path's replay (user/replay.c),
 * without a program or an interface: the checksums of a punted segment
 * before it is handed to the receive path -- one that verifies kept as
 * is, a local sender's CHECKSUM_PARTIAL field (the pseudo-header's sum)
 * completed, anything else refused -- checked by summing the result the
 * way a receiver verifies it; each segment replayed once; and what is
 * not replayed (no segment kept, too old, replays off).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <cmocka.h>

#include "replay.h"

/* A receiver's check, independent of the code under test: the one's
 * complement sum of n bytes as native 16-bit words (RFC 1071: the sum
 * is byte-order independent, the kernel's csum_partial sums so), an odd
 * last byte padded with zero in memory, plus sum, folded; 0xffff when
 * the checksum in them is right. */
static unsigned fold(__u64 sum, const __u8 *p, size_t n)
{
	__u16 w;
	__u8 last[2] = { 0, 0 };

	for (; n >= 2; n -= 2, p += 2) {
		memcpy(&w, p, 2);
		sum += w;
	}
	if (n) {
		last[0] = *p;
		memcpy(&w, last, 2);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned)sum;
}

/* v (< 2^16, host order) as fold() adds a native word holding it in
 * network order. */
static __u64 net16(unsigned v)
{
	__u8 b[2] = { (__u8)(v >> 8), (__u8)v };
	__u16 w;

	memcpy(&w, b, 2);
	return w;
}

/* The pseudo-header's sum of the frame (addresses, protocol, TCP length),
 * native words, unfolded. */
static __u64 pseudo(const __u8 *b, int fam, size_t n, __u32 l4)
{
	__u64 s = net16(IPPROTO_TCP) + net16((unsigned)(n - l4));

	return fam == 4 ? s + fold(0, b + 26, 8) : s + fold(0, b + 22, 32);
}

/* Store the complement of native sum v in the field at p. */
static void put_native(__u8 *p, unsigned v)
{
	__u16 w = (__u16)~v;

	memcpy(p, &w, 2);
}

/* An Ethernet frame of family fam: IP header, a TCP header of 32 bytes
 * (NOP NOP TS) and pay payload bytes, with right checksums. Returns its
 * length; *l4: where TCP starts. */
static size_t frame(__u8 *b, int fam, size_t pay, __u32 *l4)
{
	size_t ip = fam == 4 ? 20 : 40, n = ETH_HLEN + ip + 32 + pay, i;

	for (i = 0; i < n; i++)
		b[i] = (__u8)(i * 37 + 11);   /* addresses, ports, payload: anything */
	b[12] = fam == 4 ? 0x08 : 0x86;
	b[13] = fam == 4 ? 0x00 : 0xdd;
	if (fam == 4) {
		b[14] = 0x45;
		b[16] = (__u8)((ip + 32 + pay) >> 8);
		b[17] = (__u8)(ip + 32 + pay);
		b[23] = IPPROTO_TCP;
		b[24] = b[25] = 0;
		put_native(b + 24, fold(0, b + ETH_HLEN, 20));
	} else {
		b[14] = 0x60;
		b[18] = (__u8)((32 + pay) >> 8);
		b[19] = (__u8)(32 + pay);
		b[20] = IPPROTO_TCP;
	}
	*l4 = (__u32)(ETH_HLEN + ip);
	b[*l4 + 12] = 8 << 4;   /* data offset: 32 bytes */
	b[*l4 + 16] = b[*l4 + 17] = 0;
	put_native(b + *l4 + 16, fold(pseudo(b, fam, n, *l4), b + *l4, n - *l4));
	return n;
}

/* The frame's TCP field as a CHECKSUM_PARTIAL segment leaves it: the
 * folded pseudo-header sum, not complemented. */
static void partial(__u8 *b, int fam, size_t n, __u32 l4)
{
	put_native(b + l4 + 16, ~fold(pseudo(b, fam, n, l4), NULL, 0) & 0xffff);
}

static bool verifies(const __u8 *b, int fam, size_t n, __u32 l4)
{
	return fold(pseudo(b, fam, n, l4), b + l4, n - l4) == 0xffff &&
	       (fam != 4 || fold(0, b + ETH_HLEN, 20) == 0xffff);
}

static void check_family(int fam)
{
	static __u8 b[PF_PUNT_FRAME_MAX], keep[PF_PUNT_FRAME_MAX];
	size_t pay[] = { 1, 2, 331, 522, PF_ANSWER_MAX };
	unsigned i;
	__u32 l4;
	size_t n;

	for (i = 0; i < sizeof(pay) / sizeof(pay[0]); i++) {
		/* right already (a device verified it): kept byte for byte */
		n = frame(b, fam, pay[i], &l4);
		assert_true(verifies(b, fam, n, l4));
		memcpy(keep, b, n);
		assert_int_equal(pf_replay_csum(b, (__u32)n, l4), 0);
		assert_memory_equal(b, keep, n);
		/* CHECKSUM_PARTIAL's field: completed to the same checksum */
		partial(b, fam, n, l4);
		assert_false(verifies(b, fam, n, l4));
		assert_int_equal(pf_replay_csum(b, (__u32)n, l4), 0);
		assert_true(verifies(b, fam, n, l4));
		assert_memory_equal(b, keep, n);
		/* anything else: a corrupted segment, refused untouched */
		b[n - 1] ^= 0x40;
		memcpy(keep, b, n);
		assert_int_equal(pf_replay_csum(b, (__u32)n, l4), -EBADMSG);
		assert_memory_equal(b, keep, n);
	}
}

static void test_csum_ipv4(void **state)
{
	(void)state;
	check_family(4);
}

static void test_csum_ipv6(void **state)
{
	(void)state;
	check_family(6);
}

/* Not a TCP segment the datapath answers, or an IPv4 header whose
 * checksum is wrong (never offloaded): refused, left alone. */
static void test_csum_refused(void **state)
{
	static __u8 b[PF_PUNT_FRAME_MAX], keep[PF_PUNT_FRAME_MAX];
	__u32 l4;
	size_t n;

	(void)state;
	n = frame(b, 4, 10, &l4);
	memcpy(keep, b, n);
	assert_int_equal(pf_replay_csum(b, (__u32)n, l4 + 4), -EINVAL);   /* IP options */
	assert_int_equal(pf_replay_csum(b, (__u32)(l4 + 19), l4), -EINVAL); /* cut short */
	b[23] = IPPROTO_UDP;
	assert_int_equal(pf_replay_csum(b, (__u32)n, l4), -EINVAL);
	b[23] = IPPROTO_TCP;
	b[14] = 0x65;   /* version 6 in an IPv4-sized header */
	assert_int_equal(pf_replay_csum(b, (__u32)n, l4), -EINVAL);
	b[14] = 0x45;
	b[22] ^= 1;     /* the TTL: the IPv4 header's checksum no longer holds */
	assert_int_equal(pf_replay_csum(b, (__u32)n, l4), -EBADMSG);
	b[22] ^= 1;
	assert_memory_equal(b, keep, n);
}

/* Each segment (addresses, ports, seq) is remembered as replayed for
 * PF_REPLAY_MAX_AGE_NS; another segment is not the same one. */
static void test_recent(void **state)
{
	static struct pf_replay r;
	static __u8 a[PF_PUNT_FRAME_MAX], b[PF_PUNT_FRAME_MAX];
	__u64 t = 1000000000000ULL;
	__u32 l4;
	unsigned i;

	(void)state;
	frame(a, 4, 100, &l4);
	memcpy(b, a, ETH_HLEN + 20 + 32 + 100);
	b[l4 + 7] ^= 1;   /* another seq */
	assert_false(pf_replay_recent(&r, a, l4, t, false));
	assert_false(pf_replay_recent(&r, a, l4, t, false));   /* not remembered */
	assert_false(pf_replay_recent(&r, a, l4, t, true));
	assert_true(pf_replay_recent(&r, a, l4, t + PF_REPLAY_MAX_AGE_NS, false));
	assert_false(pf_replay_recent(&r, b, l4, t, false));
	assert_false(pf_replay_recent(&r, a, l4, t + PF_REPLAY_MAX_AGE_NS + 1, false));
	/* the oldest goes once PF_REPLAY_RECENT others are remembered */
	for (i = 0; i < PF_REPLAY_RECENT; i++) {
		b[l4 + 6] = (__u8)i;
		b[l4 + 5] = (__u8)(i >> 8);
		assert_false(pf_replay_recent(&r, b, l4, t, true));
	}
	assert_false(pf_replay_recent(&r, a, l4, t, false));
}

/* Nothing to replay: no segment kept, one punted too long ago, replays
 * off -- 0, no program run, nothing counted. A segment it would replay,
 * with no program behind the fd: counted as failed, logged once for its
 * errno, not remembered as replayed (a later record of it is tried
 * again) -- by a live-frame run or by a TC test run alike. */
static void test_nothing_to_replay(void **state)
{
	static struct pf_punt_rec rec;
	static struct pf_replay on = { .prog_fd = 1000, .ifindex = 1 }, off = { .prog_fd = 0 },
				tc = { .tc_fd = 1000, .ifindex = 1 };
	struct pf_config cfg = {};
	struct timespec ts;
	__u32 l4;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rec.ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	rec.frame_len = 0;
	assert_int_equal(pf_replay(&on, &rec, &cfg), 0);
	rec.frame_len = (__u16)frame(rec.frame, 4, 100, &l4);
	rec.frame_l4 = (__u16)l4;
	assert_int_equal(pf_replay(&off, &rec, &cfg), 0);
	rec.ns -= PF_REPLAY_MAX_AGE_NS + 1000000;
	assert_int_equal(pf_replay(&on, &rec, &cfg), 0);
	assert_int_equal(cfg.replayed + cfg.replay_failed, 0);
	rec.ns += PF_REPLAY_MAX_AGE_NS + 1000000;
	assert_true(pf_replay(&on, &rec, &cfg) < 0);
	assert_true(pf_replay(&on, &rec, &cfg) < 0);
	assert_int_equal(cfg.replay_failed, 2);
	assert_int_equal(cfg.replayed, 0);
	assert_int_equal(on.warned, -EBADF);
	/* by TC test run (a kernel that refuses live frames): the same */
	assert_true(pf_replay(&tc, &rec, &cfg) < 0);
	assert_int_equal(cfg.replay_failed, 3);
	assert_int_equal(cfg.replayed, 0);
	assert_int_equal(tc.warned, -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_ipv4),
		cmocka_unit_test(test_csum_ipv6),
		cmocka_unit_test(test_csum_refused),
		cmocka_unit_test(test_recent),
		cmocka_unit_test(test_nothing_to_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
