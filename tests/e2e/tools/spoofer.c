/* spoofer.c -- spoofed segments from a raw socket: one-segment preflights or SYNs (e2e abuse tests). */
/*
 *   spoofer --src ADDR --dst ADDR --port PORT --count N --origin FMT [--rate PPS]
 *   spoofer --src ADDR --dst ADDR --port PORT --count N --syn-sport P [--rate PPS]
 * Sends N TCP segments (ACK|PSH, random seq/ack, source port
 * 20000 + i % 40000, a valid checksum) from ADDR to ADDR:PORT, IPv4 or
 * IPv6 (both addresses of one family), each
 * carrying one complete CORS preflight whose Origin is FMT with the first
 * "%u" replaced by the segment's index (distinct origins; without "%u"
 * every segment carries FMT itself). No connection
 * exists: the server's stack answers each with a RST. At most PPS per
 * second (default 20000), so a receiver's queues are not what limits it.
 * --syn-sport P instead: N SYNs (random seq, no payload) from port P, an
 * attacker who guessed a live connection's 4-tuple.
 * Prints "spoofer: sent=S errors=E"; exit 0 iff every segment was sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36 /* linux/in6.h, since Linux 4.5 */
#endif

struct ip4 {
	uint8_t vihl, tos;
	uint16_t len, id, frag;
	uint8_t ttl, proto;
	uint16_t csum;
	uint32_t src, dst;
};

struct ip6 {
	uint32_t vtcfl;
	uint16_t plen;
	uint8_t nh, hlim;
	uint8_t src[16], dst[16];
};

/* An address of either family; len 4 or 16. */
struct addr {
	uint8_t b[16];
	size_t len;
};

struct tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off, flags;
	uint16_t win, csum, urg;
};

/* csum_add: one's complement sum of n bytes of p into sum. */
static uint32_t csum_add(uint32_t sum, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)(b[n - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* build: segment i from src to dst:port into buf, its IP header
 * included (family by src->len; host: dst as a Host header names it);
 * returns its length, 0 if it does not fit. */
static size_t build(uint8_t *buf, size_t cap, const struct addr *src, const struct addr *dst,
		    const char *host, unsigned port, const char *fmt, unsigned i,
		    unsigned syn_sport)
{
	char origin[128], pay[512];
	size_t iplen = src->len == 4 ? sizeof(struct ip4) : sizeof(struct ip6), tlen;
	struct tcp *th = (struct tcp *)(buf + iplen);
	uint8_t pseudo[40];
	size_t plen;
	uint32_t sum;
	int n;

	if (syn_sport)
		n = 0;
	else if (snprintf(origin, sizeof(origin), fmt, i) >= 0)
		n = snprintf(pay, sizeof(pay),
		     "OPTIONS /v1/items HTTP/1.1\r\n"
		     "Host: %s:%u\r\n"
		     "Origin: %s\r\n"
		     "Access-Control-Request-Method: PUT\r\n"
		     "Access-Control-Request-Headers: content-type\r\n"
		     "\r\n", host, port, origin);
	else
		n = -1;
	if (n < 0 || (size_t)n >= sizeof(pay) || iplen + sizeof(*th) + (size_t)n > cap)
		return 0;
	tlen = sizeof(*th) + (size_t)n;
	memset(buf, 0, iplen + sizeof(*th));
	if (src->len == 4) {
		struct ip4 *ip = (struct ip4 *)buf;

		ip->vihl = 0x45;
		ip->len = htons((uint16_t)(iplen + tlen));
		ip->id = htons((uint16_t)i);
		ip->frag = htons(0x4000);
		ip->ttl = 64;
		ip->proto = IPPROTO_TCP;
		memcpy(&ip->src, src->b, 4);
		memcpy(&ip->dst, dst->b, 4);
		ip->csum = htons(csum_fold(csum_add(0, ip, sizeof(*ip))));
		/* pseudo header: addresses, zero, protocol, TCP length */
		memcpy(pseudo, src->b, 4);
		memcpy(pseudo + 4, dst->b, 4);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_TCP;
		pseudo[10] = (uint8_t)(tlen >> 8);
		pseudo[11] = (uint8_t)tlen;
		plen = 12;
	} else {
		struct ip6 *ip = (struct ip6 *)buf;

		ip->vtcfl = htonl(6u << 28);
		ip->plen = htons((uint16_t)tlen);
		ip->nh = IPPROTO_TCP;
		ip->hlim = 64;
		memcpy(ip->src, src->b, 16);
		memcpy(ip->dst, dst->b, 16);
		/* pseudo header: addresses, 32-bit TCP length, 3 zeros, next header */
		memset(pseudo, 0, sizeof(pseudo));
		memcpy(pseudo, src->b, 16);
		memcpy(pseudo + 16, dst->b, 16);
		pseudo[34] = (uint8_t)(tlen >> 8);
		pseudo[35] = (uint8_t)tlen;
		pseudo[39] = IPPROTO_TCP;
		plen = 40;
	}
	th->sport = htons((uint16_t)(syn_sport ? syn_sport : 20000 + i % 40000));
	th->dport = htons((uint16_t)port);
	th->seq = htonl((uint32_t)random());
	th->ack = syn_sport ? 0 : htonl((uint32_t)random());
	th->off = (sizeof(*th) / 4) << 4;
	th->flags = syn_sport ? 0x02 : 0x18; /* SYN, or ACK | PSH */
	th->win = htons(502);
	memcpy(buf + iplen + sizeof(*th), pay, (size_t)n);
	sum = csum_add(0, pseudo, plen);
	sum = csum_add(sum, th, tlen);
	th->csum = htons(csum_fold(sum));
	return iplen + tlen;
}

/* parse_addr: s as an IPv4 or IPv6 address into *a; 0, or -1 if neither. */
static int parse_addr(const char *s, struct addr *a)
{
	if (inet_pton(AF_INET, s, a->b) == 1)
		a->len = 4;
	else if (inet_pton(AF_INET6, s, a->b) == 1)
		a->len = 16;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *src_s = NULL, *dst_s = NULL, *fmt = NULL;
	unsigned port = 0, count = 0, rate = 20000, i, sent = 0, errors = 0, syn_sport = 0;
	struct sockaddr_storage to = { 0 };
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;
	struct sockaddr_in *sin = (struct sockaddr_in *)&to;
	struct addr src, dst;
	struct timespec t0, t;
	char host[INET6_ADDRSTRLEN + 2];
	uint8_t buf[1024];
	socklen_t tolen;
	int fd, k, v6, one = 1;
	size_t n;

	for (k = 1; k + 1 < argc; k += 2) {
		if (!strcmp(argv[k], "--src"))
			src_s = argv[k + 1];
		else if (!strcmp(argv[k], "--dst"))
			dst_s = argv[k + 1];
		else if (!strcmp(argv[k], "--port"))
			port = (unsigned)strtoul(argv[k + 1], NULL, 10);
		else if (!strcmp(argv[k], "--count"))
			count = (unsigned)strtoul(argv[k + 1], NULL, 10);
		else if (!strcmp(argv[k], "--origin"))
			fmt = argv[k + 1];
		else if (!strcmp(argv[k], "--rate"))
			rate = (unsigned)strtoul(argv[k + 1], NULL, 10);
		else if (!strcmp(argv[k], "--syn-sport"))
			syn_sport = (unsigned)strtoul(argv[k + 1], NULL, 10);
		else
			break;
	}
	if (k != argc || !src_s || !dst_s || syn_sport > 65535 ||
	    (!syn_sport && (!fmt || strchr(fmt, '%') != strstr(fmt, "%u"))) || !port ||
	    port > 65535 || !count || count > 10000000 || !rate ||
	    parse_addr(src_s, &src) || parse_addr(dst_s, &dst) || src.len != dst.len) {
		fprintf(stderr, "usage: spoofer --src ADDR --dst ADDR --port PORT --count N "
			"--origin FMT | --syn-sport P [--rate PPS]\n");
		return 2;
	}
	v6 = src.len == 16;
	if (v6) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, dst.b, 16);
	} else {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, dst.b, 4);
	}
	tolen = v6 ? sizeof(*sin6) : sizeof(*sin);
	snprintf(host, sizeof(host), "%s%s%s", v6 ? "[" : "", dst_s, v6 ? "]" : "");
	/* an IPv4 IPPROTO_RAW socket implies IP_HDRINCL; IPv6 needs asking */
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd >= 0 && v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one))) {
		fprintf(stderr, "spoofer: IPV6_HDRINCL: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	if (fd < 0) {
		fprintf(stderr, "spoofer: raw socket: %s\n", strerror(errno));
		return 1;
	}
	srandom((unsigned)time(NULL));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		/* pace: segment i not before i / rate seconds */
		for (;;) {
			double el;

			clock_gettime(CLOCK_MONOTONIC, &t);
			el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
			if (el * rate >= i)
				break;
			nanosleep(&(struct timespec){ 0, 200000 }, NULL);
		}
		n = build(buf, sizeof(buf), &src, &dst, host, port, fmt, i, syn_sport);
		if (!n || sendto(fd, buf, n, 0, (struct sockaddr *)&to, tolen) != (ssize_t)n)
			errors++;
		else
			sent++;
	}
	close(fd);
	printf("spoofer: sent=%u errors=%u\n", sent, errors);
	return errors ? 1 : 0;
}
