/* pkt.c -- packet builder and verifier of the BPF tier (see pkt.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86dd

static const __u8 client_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const __u8 server_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

void pkt_addr(int family, const char *text, __u8 out[16])
{
	memset(out, 0, 16);
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, text, out) != 1) {
		fprintf(stderr, "pkt_addr: bad address %s\n", text);
		abort();
	}
}

void pkt_default(struct pkt_spec *s, int family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	memcpy(s->smac, client_mac, 6);
	memcpy(s->dmac, server_mac, 6);
	pkt_addr(family, family == 4 ? "10.0.0.2" : "2001:db8::2", s->saddr);
	pkt_addr(family, family == 4 ? "10.0.0.1" : "2001:db8::1", s->daddr);
	s->sport = 40000;
	s->dport = 8080;
	s->flags = TH_ACK | TH_PSH;
	s->win = 502;
	s->proto = PKT_PROTO_TCP;
	s->frag = 0x4000;
	s->ttl = 64;
	s->ip_id = 0x1234;
}

void pkt_default_out(struct pkt_spec *s, int family)
{
	pkt_default(s, family);
	memcpy(s->smac, server_mac, 6);
	memcpy(s->dmac, client_mac, 6);
	pkt_addr(family, family == 4 ? "10.0.0.1" : "2001:db8::1", s->saddr);
	pkt_addr(family, family == 4 ? "10.0.0.2" : "2001:db8::2", s->daddr);
	s->sport = 8080;
	s->dport = 40000;
}

void pkt_put32(__u8 *p, __u32 v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static __u32 get32(const __u8 *p)
{
	__u32 v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

void pkt_opt_raw(struct pkt_spec *s, const void *b, unsigned n)
{
	if (s->optlen + n > sizeof(s->opt)) {
		fprintf(stderr, "pkt_opt_raw: options over 40 bytes\n");
		abort();
	}
	memcpy(s->opt + s->optlen, b, n);
	s->optlen += n;
}

void pkt_opt_ts(struct pkt_spec *s, __u32 val, __u32 ecr)
{
	__u8 o[12] = { 1, 1, 8, 10 };

	pkt_put32(o + 4, val);
	pkt_put32(o + 8, ecr);
	pkt_opt_raw(s, o, sizeof(o));
}

void pkt_opt_sack(struct pkt_spec *s, unsigned n, const __u32 blk[][2])
{
	__u8 o[36] = { 1, 1, 5 };
	unsigned i;

	if (n < 1 || n > 4)
		abort();
	o[3] = (__u8)(2 + 8 * n);
	for (i = 0; i < n; i++) {
		pkt_put32(o + 4 + 8 * i, blk[i][0]);
		pkt_put32(o + 8 + 8 * i, blk[i][1]);
	}
	pkt_opt_raw(s, o, 4 + 8 * n);
}

__u32 pkt_csum_add(__u32 sum, const void *b, size_t n)
{
	const __u8 *p = b;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (__u32)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

__u16 pkt_csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Sum of the pseudo header for an upper-layer packet of len bytes. */
static __u32 pseudo_sum(int family, const __u8 *sa, const __u8 *da, __u8 proto, size_t len)
{
	__u8 b[40] = { 0 };

	if (family == 4) {
		memcpy(b, sa, 4);
		memcpy(b + 4, da, 4);
		b[9] = proto;
		put16(b + 10, (__u16)len);
		return pkt_csum_add(0, b, 12);
	}
	memcpy(b, sa, 16);
	memcpy(b + 16, da, 16);
	pkt_put32(b + 32, (__u32)len);
	b[39] = proto;
	return pkt_csum_add(0, b, 40);
}

size_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	unsigned optlen = (s->optlen + 3) & ~3u;
	int icmp = s->proto == PKT_PROTO_ICMP || s->proto == PKT_PROTO_ICMPV6;
	unsigned l4hl = s->proto == PKT_PROTO_TCP ? 20 + optlen : icmp ? 0 : 8;
	unsigned iphl = s->family == 4 ? 20 + s->ip_optlen : 40;
	size_t l4len = l4hl + s->paylen, total = ETH_HLEN_ + iphl + l4len + s->eth_pad;
	__u8 *ip = buf + ETH_HLEN_, *l4 = ip + iphl;
	__u32 sum;

	if (total > cap || total < s->cut)
		return 0;
	memset(buf, 0, total);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	put16(buf + 12, s->family == 4 ? ETH_P_IP_ : ETH_P_IPV6_);
	if (s->family == 4) {
		ip[0] = (__u8)(0x40 | (s->ihl ? s->ihl : (int)iphl / 4));
		put16(ip + 2, (__u16)(iphl + l4len));
		put16(ip + 4, s->ip_id);
		put16(ip + 6, s->frag);
		ip[8] = s->ttl;
		ip[9] = s->proto;
		memcpy(ip + 12, s->saddr, 4);
		memcpy(ip + 16, s->daddr, 4);
		memset(ip + 20, 1, s->ip_optlen);   /* NOP options */
		put16(ip + 10, pkt_csum_fold(pkt_csum_add(0, ip, iphl)));
	} else {
		pkt_put32(ip, 0x60000000);
		put16(ip + 4, (__u16)l4len);
		ip[6] = s->proto;
		ip[7] = s->ttl;
		memcpy(ip + 8, s->saddr, 16);
		memcpy(ip + 24, s->daddr, 16);
	}
	if (icmp) {
		/* the payload is the whole message */
	} else if (s->proto == PKT_PROTO_TCP) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		pkt_put32(l4 + 4, s->seq);
		pkt_put32(l4 + 8, s->ack);
		l4[12] = (__u8)((s->doff ? s->doff : (int)l4hl / 4) << 4);
		l4[13] = s->flags;
		put16(l4 + 14, s->win);
		memcpy(l4 + 20, s->opt, s->optlen);
	} else {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, (__u16)l4len);
	}
	if (s->paylen)
		memcpy(l4 + l4hl, s->pay, s->paylen);
	if (icmp && l4len >= 4)
		put16(l4 + 2, 0);
	/* ICMP (IPv4) alone sums no pseudo header */
	sum = s->proto == PKT_PROTO_ICMP ? 0 :
	      pseudo_sum(s->family, s->saddr, s->daddr, s->proto, l4len);
	sum = pkt_csum_add(sum, l4, l4len);
	if (!icmp || l4len >= 4)
		put16(l4 + (s->proto == PKT_PROTO_TCP ? 16 : icmp ? 2 : 6),
		      (__u16)(pkt_csum_fold(sum) ^ (s->bad_csum ? 0x5555 : 0)));
	return total - s->cut;
}

void pkt_tcp_partial(__u8 *buf, size_t len)
{
	int family = buf[12] == 0x86 ? 6 : 4;
	size_t l4 = ETH_HLEN_ + (family == 4 ? 20 : 40);
	const __u8 *ip = buf + ETH_HLEN_;

	if (len < l4 + 20)
		return;
	put16(buf + l4 + 16, (__u16)~pkt_csum_fold(pseudo_sum(family, ip + (family == 4 ? 12 : 8),
							      ip + (family == 4 ? 16 : 24),
							      PKT_PROTO_TCP, len - l4)));
}

int pkt_icmp_parse(const __u8 *buf, size_t len, const __u8 **msg, size_t *n, int *csum_ok)
{
	const __u8 *ip = buf + ETH_HLEN_;
	size_t iphl, iplen;
	__u8 proto;
	__u32 sum;

	if (len < ETH_HLEN_ + 20)
		return -1;
	if (get16(buf + 12) == ETH_P_IP_ && (ip[0] >> 4) == 4) {
		iphl = (ip[0] & 15) * 4u;
		iplen = get16(ip + 2);
		proto = ip[9];
		if (proto != PKT_PROTO_ICMP)
			return -1;
		sum = 0;
	} else if (get16(buf + 12) == ETH_P_IPV6_ && (ip[0] >> 4) == 6 && len >= ETH_HLEN_ + 40) {
		iphl = 40;
		iplen = 40 + get16(ip + 4);
		proto = ip[6];
		if (proto != PKT_PROTO_ICMPV6)
			return -1;
		sum = pseudo_sum(6, ip + 8, ip + 24, proto, iplen - iphl);
	} else {
		return -1;
	}
	if (iphl < 20 || iplen < iphl + 8 || ETH_HLEN_ + iplen > len)
		return -1;
	*msg = ip + iphl;
	*n = iplen - iphl;
	*csum_ok = pkt_csum_fold(pkt_csum_add(sum, *msg, *n)) == 0;
	return 0;
}

/* Walk the TCP options of v. */
static void parse_opts(struct pkt_view *v)
{
	const __u8 *o = v->opt;
	unsigned i = 0, l, k;

	while (i < v->optlen) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			v->nops++;
			i++;
			continue;
		}
		if (i + 1 >= v->optlen || o[i + 1] < 2 || i + o[i + 1] > v->optlen) {
			v->opt_bad = 1;
			return;
		}
		l = o[i + 1];
		if (o[i] == 8 && l == 10) {
			v->has_ts = 1;
			v->tsval = get32(o + i + 2);
			v->tsecr = get32(o + i + 6);
		} else if (o[i] == 5 && l >= 10 && (l - 2) % 8 == 0 && l <= 34) {
			v->nsack = (l - 2) / 8;
			for (k = 0; k < v->nsack; k++) {
				v->sack[k][0] = get32(o + i + 2 + 8 * k);
				v->sack[k][1] = get32(o + i + 6 + 8 * k);
			}
		}
		i += l;
	}
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

int pkt_parse(const __u8 *buf, size_t len, struct pkt_view *v, char *err, size_t errlen)
{
	const __u8 *ip = buf + ETH_HLEN_, *th;
	size_t iphl, l4len;
	__u32 sum;

	memset(v, 0, sizeof(*v));
	v->len = len;
	if (len < ETH_HLEN_)
		FAIL("frame of %zu bytes", len);
	memcpy(v->dmac, buf, 6);
	memcpy(v->smac, buf + 6, 6);
	v->ethertype = get16(buf + 12);
	if (v->ethertype == ETH_P_IP_) {
		if (len < ETH_HLEN_ + 20 || (ip[0] >> 4) != 4)
			FAIL("bad IPv4 header");
		v->family = 4;
		v->ihl = ip[0] & 15;
		iphl = v->ihl * 4u;
		v->ip_len = get16(ip + 2);
		if (iphl < 20 || v->ip_len < iphl || ETH_HLEN_ + v->ip_len > len)
			FAIL("IPv4 lengths: ihl %u tot_len %zu frame %zu", v->ihl, v->ip_len, len);
		v->tos = ip[1];
		v->ip_id = get16(ip + 4);
		v->frag = get16(ip + 6);
		v->ttl = ip[8];
		v->proto = ip[9];
		memcpy(v->saddr, ip + 12, 4);
		memcpy(v->daddr, ip + 16, 4);
		v->ip_csum_ok = pkt_csum_fold(pkt_csum_add(0, ip, iphl)) == 0;
	} else if (v->ethertype == ETH_P_IPV6_) {
		if (len < ETH_HLEN_ + 40 || (ip[0] >> 4) != 6)
			FAIL("bad IPv6 header");
		v->family = 6;
		iphl = 40;
		v->ver_tc_fl = get32(ip);
		v->ip_len = 40 + get16(ip + 4);
		if (ETH_HLEN_ + v->ip_len > len)
			FAIL("IPv6 payload_len %zu over frame %zu", v->ip_len - 40, len);
		v->proto = ip[6];
		v->hlim = ip[7];
		memcpy(v->saddr, ip + 8, 16);
		memcpy(v->daddr, ip + 24, 16);
		v->ip_csum_ok = 1;
	} else {
		FAIL("ethertype 0x%04x", v->ethertype);
	}
	if (v->proto != PKT_PROTO_TCP)
		FAIL("IP protocol %u", v->proto);
	th = ip + iphl;
	l4len = v->ip_len - iphl;
	if (l4len < 20)
		FAIL("TCP header truncated (%zu bytes)", l4len);
	v->sport = get16(th);
	v->dport = get16(th + 2);
	v->seq = get32(th + 4);
	v->ack = get32(th + 8);
	v->doff = (th[12] >> 4) * 4u;
	v->flags = th[13];
	v->win = get16(th + 14);
	v->urg = get16(th + 18);
	if (v->doff < 20 || v->doff > l4len)
		FAIL("TCP doff %u (segment %zu bytes)", v->doff, l4len);
	v->opt = th + 20;
	v->optlen = v->doff - 20;
	v->pay = th + v->doff;
	v->paylen = (unsigned)(l4len - v->doff);
	sum = pseudo_sum(v->family, v->saddr, v->daddr, PKT_PROTO_TCP, l4len);
	v->tcp_csum_ok = pkt_csum_fold(pkt_csum_add(sum, th, l4len)) == 0;
	parse_opts(v);
	return 0;
}
