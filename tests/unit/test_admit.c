/*
 * test_admit.c -- unit tests of the /metrics server's connection slots
 * (user/admit.c): at most PF_ADMIT_PER_NET per IPv4 address or IPv6 /64,
 * the last PF_ADMIT_LOCAL slots for this host's own addresses (loopback
 * here; 198.18.200.0/24 and 2001:db8:200::/48 are nobody's on a test
 * machine), slots given back reusable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "admit.h"

/* An address (IPv4 or IPv6 text) as a socket address in ss; its length. */
static socklen_t addr(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(40000);
		return sizeof(*a4);
	}
	assert_int_equal(inet_pton(AF_INET6, text, &a6->sin6_addr), 1);
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(40000);
	return sizeof(*a6);
}

/* pf_admit_ok, then pf_admit_take, as the server does; the slot or NULL. */
static struct pf_admit_slot *connect_from(struct pf_admit *a, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len = addr(&ss, text);

	if (!pf_admit_ok(a, (struct sockaddr *)&ss, len))
		return NULL;
	return pf_admit_take(a, (struct sockaddr *)&ss, len);
}

/* Eight addresses of one IPv6 /64 hold PF_ADMIT_PER_NET slots, not
 * eight; another /64 still gets in; a slot given back is taken again. */
static void test_per_net(void **state)
{
	static struct pf_admit a;
	struct pf_admit_slot *held[8] = { 0 };
	char text[64];
	unsigned i, n = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	for (i = 0; i < 8; i++) {
		snprintf(text, sizeof(text), "2001:db8:200:1::%x", i + 1);
		held[i] = connect_from(&a, text);
		n += held[i] != NULL;
	}
	assert_int_equal(n, PF_ADMIT_PER_NET);
	assert_non_null(connect_from(&a, "2001:db8:200:2::1"));
	assert_null(connect_from(&a, "2001:db8:200:1::99"));
	pf_admit_put(&a, held[0]);
	assert_non_null(connect_from(&a, "2001:db8:200:1::99"));
	/* an IPv4 address, also as a dual-stack listener sees it */
	for (i = 0; i < PF_ADMIT_PER_NET; i++)
		assert_non_null(connect_from(&a, i % 2 ? "198.18.200.7" : "::ffff:198.18.200.7"));
	assert_null(connect_from(&a, "198.18.200.7"));
	assert_null(connect_from(&a, "::ffff:198.18.200.7"));
}

/* Other hosts fill every slot but the local reserve; loopback (IPv4 and
 * IPv6) still gets in, up to the last slot; then nobody. */
static void test_local_reserve(void **state)
{
	static struct pf_admit a;
	char text[64];
	unsigned i, n = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	for (i = 0; i < PF_ADMIT_MAX; i++) {
		snprintf(text, sizeof(text), "198.18.200.%u", i / PF_ADMIT_PER_NET + 1);
		n += connect_from(&a, text) != NULL;
	}
	assert_int_equal(n, PF_ADMIT_MAX - PF_ADMIT_LOCAL);
	assert_null(connect_from(&a, "2001:db8:200:77::1"));
	for (i = 0; i < PF_ADMIT_LOCAL; i++)
		assert_non_null(connect_from(&a, i % 2 ? "127.0.0.1" : (i % 4 ? "::1" : "127.0.0.2")));
	assert_int_equal(a.n, PF_ADMIT_MAX);
	assert_null(connect_from(&a, "127.0.0.3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_net),
		cmocka_unit_test(test_local_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
