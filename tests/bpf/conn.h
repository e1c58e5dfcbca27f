/* tests/bpf: response checks and spliced connections; included only by tests/bpf/ .c files. */
/*
 * conn.h -- what an injected response must look like, and a spliced
 * connection (one answered preflight) with builders for its later client
 * and server segments and an exact check of their translation.
 */
#ifndef PF_TEST_CONN_H
#define PF_TEST_CONN_H

#include "harness.h"

/* What an injected response must look like. */
struct h_want {
	const struct pkt_spec *req; /* the request it answers */
	__u32 seq, ack;
	__u16 win;
	bool has_ts;
	__u32 tsval, tsecr;
	const char *pay;            /* exact payload */
	size_t paylen;
};

/* Check that frame buf (len bytes) is the response w: addresses, ports
 * and MACs swapped, seq/ack/flags/window/TS, fresh IP header, both
 * checksums, exact payload and length. */
bool h_check_segment(const __u8 *buf, size_t len, const struct h_want *w);

/* r must be TX with the response w as output, skb mark PF_MARK (TC), no
 * XDP metadata (XDP), no clone. */
bool h_check_response(const struct h_run *r, const struct h_want *w);

/* r must have transmitted exactly one clone, the response w. */
bool h_check_clone(const struct h_run *r, const struct h_want *w);

/* An answer fixture (ingress of the current mode, h_in): request
 * payload at seq s acking p, NOP NOP
 * TS(111, 222), socket h_sock(s, p); expected TX and pkt_seen, answered
 * and flow_created +1. */
void h_answer_fix(struct h_fix *f, int family, const char *payload, __u32 s, __u32 p);

/* h_answer_fix's request, which a guard passes instead (stat, enum
 * pf_stat): expected passed unchanged, pkt_seen and stat +1, and -- the
 * connection's first request -- followed from there (flow_created +1). */
void h_pass_first_fix(struct h_fix *f, int family, const char *payload, __u32 s, __u32 p,
		      int stat);

/* The response resp to f's request at wire seq p: acks the request,
 * window of f's socket, TSval H_TS_NOW (the socket clock, later than the
 * request's TSecr 222), TSecr the request's TSval 111. */
struct h_want h_want_resp(const struct h_fix *f, __u32 p, const char *resp);

/* A spliced connection: request of L bytes consumed at client seq S,
 * response of R bytes inserted at server socket seq P. */
struct conn {
	int family;
	__u32 S, P;
	__u32 L, R;
	struct pkt_spec req;
};

/* A request the app gets (not a preflight). */
#define PUT_REQ "PUT /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n"

/* Answer H_PREFLIGHT at s/p (client seq / server snd_nxt) through h_in;
 * false (with a failed check) if the response is not exactly right. */
bool conn_splice(struct conn *c, int family, __u32 s, __u32 p);

/* conn_splice, then the client's pure ACK of the whole response
 * (translated), and the socket mock idle at S/P: the connection takes
 * another splice at client wire seq S + L. */
bool conn_splice_acked(struct conn *c, int family, __u32 s, __u32 p);

/* A client -> server (cseg) or server -> client (sseg) segment of c with
 * a TS option and payload pay (C string; "" for none: no PSH). */
void conn_cseg(struct pkt_spec *s, const struct conn *c, __u32 seq, __u32 ack,
	       const char *pay);
void conn_sseg(struct pkt_spec *s, const struct conn *c, __u32 seq, __u32 ack,
	       const char *pay);

/* c's server segment at socket seq P + off with payload pay (C string),
 * acking socket seq S (the consumed request's position): must go out as
 * seq P + off + R, ack S + L (the ack covers the consumed request). */
bool conn_expect_sseg(const struct conn *c, __u32 off, const char *pay);

/* The client's next request after the splice (PUT_REQ at wire seq S + L,
 * acking the whole response: in) and the segment the app must get for it
 * (seq - L, ack - R: want). */
void conn_next_put(struct pkt_spec *in, struct pkt_spec *want, const struct conn *c);

/* Run in through prog: expect PASS and exactly the packet want (built
 * independently; every byte compared but the TCP checksum, which must be
 * right) and the counter deltas d. */
bool conn_expect(const struct h_prog *prog, const struct pkt_spec *in,
		 const struct h_env *env, const struct pkt_spec *want,
		 const struct h_delta *d);

/* The same for a client segment TC mode passes on its slow path (a
 * socket guard): in XDP mode pf_xdp_ingress must hand it to TC
 * untranslated, and the XDP -> TC chain must pass want up the stack
 * (h_run_to_tc). d_tc: TC mode's deltas. */
bool conn_expect_to_tc(const struct pkt_spec *in, const struct pkt_spec *want,
		       const struct h_delta *d_tc);

/* Run in through the XDP -> TC chain, live (h_chain: XDP's metadata
 * read by TC ingress as on the wire): expect want passed up the stack
 * and the counter deltas d (of both programs). */
bool conn_expect_chain(const struct pkt_spec *in, const struct pkt_spec *want,
		       const struct h_delta *d);

/* Run frame b (n bytes) through the current ingress (h_in): passed
 * unchanged, no XDP metadata, deltas d. may_refuse: the TC test run may
 * refuse a frame shorter than an IP header (EINVAL; nothing reaches the
 * program then). tag: names the packet in a failure. */
bool conn_raw_pass(const __u8 *b, size_t n, const struct h_delta *d, bool may_refuse,
		   const char *tag);

/* c's flow entry, compared field by field with before (the lock word
 * aside): unchanged? what names the step in a failure. */
bool conn_flow_kept(const struct conn *c, const struct pf_flow *before, const char *what);

/* Counter deltas of a translated pure ACK (in), client data (in_data)
 * and a translated server segment (out). */
extern const struct h_delta conn_d_in[], conn_d_in_data[], conn_d_out[];

#endif /* PF_TEST_CONN_H */
