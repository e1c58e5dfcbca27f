/* admit.c -- the /metrics server's connection slots (see admit.h): at
 * most PF_ADMIT_PER_NET per IPv4 address or IPv6 /64, the last
 * PF_ADMIT_LOCAL for this host's own addresses. */
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include "admit.h"

/* The network of addr into s (net, v6). false: not IPv4 or IPv6. An
 * IPv4-mapped IPv6 address (a dual-stack listener's IPv4 client) is
 * IPv4. */
static bool net_of(const struct sockaddr *addr, socklen_t len, struct pf_admit_slot *s)
{
	const struct sockaddr_in6 *a6 = (const void *)addr;
	const struct sockaddr_in *a4 = (const void *)addr;

	memset(s, 0, sizeof(*s));
	if (addr->sa_family == AF_INET && len >= sizeof(*a4)) {
		memcpy(s->net, &a4->sin_addr, 4);
		return true;
	}
	if (addr->sa_family != AF_INET6 || len < sizeof(*a6))
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		memcpy(s->net, &a6->sin6_addr.s6_addr[12], 4);
		return true;
	}
	memcpy(s->net, &a6->sin6_addr, 8);
	s->v6 = true;
	return true;
}

/* Whether addr is one of this host's addresses: loopback, or one a
 * socket can bind (EADDRNOTAVAIL for any other). Only asked when the
 * slots outside the local reserve are all taken. */
static bool is_local(const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct pf_admit_slot s;
	const struct sockaddr *b;
	socklen_t blen;
	int fd, err;

	if (!net_of(addr, len, &s))
		return false;
	if (!s.v6) {
		if (s.net[0] == 127)
			return true;
		memset(&a4, 0, sizeof(a4));
		a4.sin_family = AF_INET;
		memcpy(&a4.sin_addr, s.net, 4);
		b = (const struct sockaddr *)&a4;
		blen = sizeof(a4);
	} else {
		memcpy(&a6, addr, sizeof(a6));
		if (IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr))
			return true;
		a6.sin6_port = 0;
		a6.sin6_flowinfo = 0;
		b = (const struct sockaddr *)&a6;
		blen = sizeof(a6);
	}
	fd = socket(b->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	err = bind(fd, b, blen);
	close(fd);
	return !err;
}

/* See admit.h. */
bool pf_admit_ok(const struct pf_admit *a, const struct sockaddr *addr, socklen_t len)
{
	struct pf_admit_slot s;
	unsigned i, same = 0;

	if (!net_of(addr, len, &s) || a->n >= PF_ADMIT_MAX)
		return false;
	for (i = 0; i < PF_ADMIT_MAX; i++)
		same += a->slot[i].used && a->slot[i].v6 == s.v6 &&
			!memcmp(a->slot[i].net, s.net, sizeof(s.net));
	if (same >= PF_ADMIT_PER_NET)
		return false;
	return a->n < PF_ADMIT_MAX - PF_ADMIT_LOCAL || is_local(addr, len);
}

/* See admit.h. */
struct pf_admit_slot *pf_admit_take(struct pf_admit *a, const struct sockaddr *addr,
				    socklen_t len)
{
	struct pf_admit_slot s;
	unsigned i;

	if (!net_of(addr, len, &s))
		memset(&s, 0, sizeof(s));  /* counted all the same */
	for (i = 0; i < PF_ADMIT_MAX; i++) {
		if (a->slot[i].used)
			continue;
		a->slot[i] = s;
		a->slot[i].used = true;
		a->n++;
		return &a->slot[i];
	}
	return NULL;
}

/* See admit.h. */
void pf_admit_put(struct pf_admit *a, struct pf_admit_slot *s)
{
	if (!s || !s->used)
		return;
	s->used = false;
	a->n--;
}
