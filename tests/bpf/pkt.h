/* tests/bpf: packet builder and verifier; included only by tests/bpf/ .c files. */
/*
 * pkt.h -- build Ethernet + IPv4/IPv6 + TCP (or UDP) frames with correct
 * checksums from a struct pkt_spec, and take frames apart again into a
 * struct pkt_view that says whether the IP header checksum and the full
 * TCP checksum (pseudo header included) are right.
 *
 * Byte order: addresses are kept in network order (as on the wire);
 * ports, seq/ack, window and option values are host order.
 */
#ifndef PF_TEST_PKT_H
#define PF_TEST_PKT_H

#include <stddef.h>
#include <linux/types.h>

#define PKT_MAX 4096           /* largest frame built or parsed */

/* TCP flag bits (byte 13 of the TCP header). */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define PKT_PROTO_ICMP 1
#define PKT_PROTO_TCP 6
#define PKT_PROTO_UDP 17
#define PKT_PROTO_ICMPV6 58

/* What to build. pkt_default() fills a sane client -> server segment;
 * tests then change what they need. */
struct pkt_spec {
	int family;             /* 4 or 6 */
	__u8 smac[6], dmac[6];
	__u8 saddr[16], daddr[16]; /* network order; IPv4 uses the first 4 */
	__u16 sport, dport;
	__u32 seq, ack;
	__u8 flags;             /* TH_* */
	__u16 win;              /* raw (unscaled) window */
	__u8 opt[40];           /* TCP options, see pkt_opt_*() */
	unsigned optlen;        /* padded with EOL to a multiple of 4 */
	const void *pay;
	unsigned paylen;
	/* knobs for odd and malformed packets */
	__u8 proto;             /* IP protocol; PKT_PROTO_TCP by default; for
				 * ICMP / ICMPv6 pay is the whole message
				 * (its checksum field is computed) */
	__u16 frag;             /* IPv4 frag_off field (default DF) */
	__u8 ttl;
	__u16 ip_id;
	unsigned ip_optlen;     /* IPv4 options: that many NOP bytes (x4) */
	int ihl;                /* 0: computed, else written as is */
	int doff;               /* 0: computed, else written as is */
	unsigned eth_pad;       /* zero bytes after the IP packet */
	unsigned cut;           /* drop that many bytes from the end of the frame */
	int bad_csum;           /* 1: corrupt the TCP checksum */
};

/* Client (10.0.0.2 / 2001:db8::2, port 40000) -> server (10.0.0.1 /
 * 2001:db8::1, port 8080), ACK|PSH, window 502, DF, TTL 64, no options. */
void pkt_default(struct pkt_spec *s, int family);

/* The same connection in the server -> client direction. */
void pkt_default_out(struct pkt_spec *s, int family);

/* Append NOP NOP TS(val, ecr). */
void pkt_opt_ts(struct pkt_spec *s, __u32 val, __u32 ecr);

/* Append NOP NOP SACK with n (1..4) blocks [blk[i][0], blk[i][1]). */
void pkt_opt_sack(struct pkt_spec *s, unsigned n, const __u32 blk[][2]);

/* Append raw option bytes. */
void pkt_opt_raw(struct pkt_spec *s, const void *b, unsigned n);

/* v in network order at p (4 bytes, any alignment). */
void pkt_put32(__u8 *p, __u32 v);

/* Build the frame into buf (cap bytes). Returns its length, or 0 if it
 * does not fit. */
size_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap);

/* Set the TCP checksum field of the len-byte TCP frame in buf (no IP
 * options or IPv6 extension headers) as a local sender's CHECKSUM_PARTIAL
 * segment carries it: the folded pseudo-header sum alone. */
void pkt_tcp_partial(__u8 *buf, size_t len);

/* A frame taken apart. Pointers point into the parsed buffer. */
struct pkt_view {
	size_t len;             /* frame length */
	__u8 dmac[6], smac[6];
	__u16 ethertype;
	int family;             /* 4 or 6 */
	__u8 saddr[16], daddr[16];
	size_t ip_len;          /* bytes of the IP packet (header + payload) */
	/* IPv4 */
	__u8 ihl, tos, ttl, proto;
	__u16 ip_id, frag;
	int ip_csum_ok;
	/* IPv6 */
	__u32 ver_tc_fl;        /* first word, host order */
	__u8 hlim;
	/* TCP */
	__u16 sport, dport;
	__u32 seq, ack;
	__u8 flags;
	__u16 win, urg;
	unsigned doff;          /* bytes */
	const __u8 *opt;
	unsigned optlen;
	const __u8 *pay;
	unsigned paylen;
	int tcp_csum_ok;
	/* options found (kind 8 and kind 5) */
	int opt_bad;            /* malformed option list */
	int has_ts;
	__u32 tsval, tsecr;
	unsigned nsack;
	__u32 sack[4][2];
	unsigned nops;          /* NOP bytes */
};

/* Take buf apart. Returns 0, or -1 with a reason in err (errlen bytes)
 * if it is not Ethernet + IPv4/IPv6 + TCP or is truncated. Checksum
 * failures are not errors: see ip_csum_ok and tcp_csum_ok. */
int pkt_parse(const __u8 *buf, size_t len, struct pkt_view *v, char *err, size_t errlen);

/* The ICMP (IPv4) or ICMPv6 message of frame buf (Ethernet + IPv4 or
 * IPv6 without extension headers): *msg its first byte, *n its length,
 * *csum_ok whether its checksum (ICMPv6: with the pseudo header) is
 * right. Returns 0, or -1 if buf is not such a frame. */
int pkt_icmp_parse(const __u8 *buf, size_t len, const __u8 **msg, size_t *n, int *csum_ok);

/* Internet checksum helpers (RFC 1071): sum of n bytes, folded result. */
__u32 pkt_csum_add(__u32 sum, const void *b, size_t n);
__u16 pkt_csum_fold(__u32 sum);

/* Address text -> network order bytes (IPv4 into the first 4). Aborts
 * on bad text (test bug). */
void pkt_addr(int family, const char *text, __u8 out[16]);

#endif /* PF_TEST_PKT_H */
