/* floor.h -- the benchmark floor's fixed response, shared by floor.bpf.c and floorctl.c. */
/*
 * The floor (bench/floor.bpf.c) bounces every OPTIONS segment to its port
 * with this payload. It has the shape and length of the 204 preflightd
 * gives bench/preflight.txt under the benchmark policy (same headers, a
 * Date header of the same length), so the client does the same work for
 * both. floorctl computes its checksum contribution before load.
 */
#ifndef PF_BENCH_FLOOR_H
#define PF_BENCH_FLOOR_H

#include "../tests/expect_vary.h"

#define FLOOR_RESP \
	"HTTP/1.1 204 No Content\r\n" \
	"Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n" \
	"Access-Control-Allow-Origin: https://app.example.com\r\n" \
	"Access-Control-Allow-Headers: content-type,x-request-id\r\n" \
	"Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n" \
	"Access-Control-Allow-Credentials: true\r\n" \
	"Access-Control-Max-Age: 600\r\n" \
	PF_EXPECT_VARY \
	"\r\n"

#define FLOOR_RESP_LEN (sizeof(FLOOR_RESP) - 1)

#ifndef __bpf__
#include <string.h>
#include <linux/types.h>

/* One's complement sum of n bytes of p as the kernel's csum_partial sees
 * them (native-endian 16-bit words, an odd last byte padded with zero),
 * folded to 16 bits: the floor's floor_resp_sum for FLOOR_RESP. */
static inline __u32 floor_payload_sum(const void *p, size_t n)
{
	const __u8 *b = p;
	__u64 s = 0;
	__u16 w;
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		memcpy(&w, b + i, 2);
		s += w;
	}
	if (n & 1) {
		__u8 last[2] = { b[n - 1], 0 };

		memcpy(&w, last, 2);
		s += w;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u32)s;
}
#endif /* !__bpf__ */

/* Index of the floor's per-CPU counters. */
enum floor_stat {
	FLOOR_BOUNCED = 0,  /* requests answered with XDP_TX */
	FLOOR_STATS,
};

#endif /* PF_BENCH_FLOOR_H */
