/* tests/bpf: the BPF tier's shared harness; included only by tests/bpf/ .c files. */
/*
 * harness.h -- load the test build of the datapath (preflightd_test, built
 * with -DPF_TEST_MOCK_SOCK), install the test policy the way
 * user/maps.c does, run packets through a program with
 * bpf_prog_test_run_opts and check the result.
 *
 * A case is a function run by h_case(name, fn); it prints "ok N - name"
 * or "not ok N - name: why" (the first failed check). Every case starts
 * from an empty datapath: no flows, no socket (mock valid = 0), not
 * draining, no Date header, counters at zero.
 *
 * Verdicts are abstract (enum h_verdict) and mapped per program kind, so
 * fixtures written for TC can later run against an XDP entry point.
 *
 * Runs happen in a private network namespace whose lo is the skb's
 * device; frames a program transmits itself (bpf_clone_redirect) are
 * captured there with a packet socket and returned with the run.
 */
#ifndef PF_TEST_HARNESS_H
#define PF_TEST_HARNESS_H

#include <stdbool.h>
#include "../../include/pf_structs.h"
#include "pkt.h"

/* What a program did with the packet. */
enum h_verdict {
	H_PASS = 0,   /* TC_ACT_UNSPEC / XDP_PASS: up the stack (maybe rewritten) */
	H_TX,         /* TC_ACT_REDIRECT via bpf_redirect / XDP_TX: sent back */
	H_DROP,       /* TC_ACT_SHOT / XDP_DROP */
	H_VERDICTS,
};

enum h_kind {
	H_KIND_TC = 0,
	H_KIND_XDP,
};

/* A program under test and how its return values map to verdicts. */
struct h_prog {
	const char *name;
	int fd;
	enum h_kind kind;
	int retval[H_VERDICTS];   /* raw return value of each verdict */
};

/* The TC programs of the test skeleton (valid after h_init()). */
extern struct h_prog h_tc_in, h_tc_out;

/* Knobs of one run that live in the context, not the packet. */
struct h_env {
	__u32 mark;       /* skb->mark in (TC) */
	__u32 gso_segs;   /* skb_shinfo(skb)->gso_segs in (TC) */
};

#define H_MAX_TX 2

/* Result of one run. */
struct h_run {
	int err;                    /* bpf_prog_test_run_opts: 0 or -errno */
	int retval;                 /* program return value (signed) */
	int verdict;                /* enum h_verdict, -1 if unknown */
	__u8 out[PKT_MAX];
	__u32 out_len;
	__u32 mark;                 /* skb->mark out (TC) */
	long long delta[PF_STAT__MAX]; /* counter changes during the run */
	/* frames the program transmitted itself (bpf_clone_redirect to the
	 * test device), captured on it with a packet socket */
	unsigned n_tx;
	__u32 tx_len[H_MAX_TX];
	__u8 tx[H_MAX_TX][PKT_MAX];
};

/* Expected counter change; lists end with H_DEND. */
struct h_delta {
	int stat;
	long long n;
};
#define H_D(name, n) { PF_STAT_##name, (n) }
#define H_DEND { -1, 0 }

/* A packet-in/packet-out fixture. */
struct h_fix {
	const struct h_prog *prog;
	struct pkt_spec in;
	struct pf_sockinfo sock;    /* written to pf_test_sock before the run */
	struct h_env env;
	int verdict;                /* expected enum h_verdict */
	bool unchanged;             /* output == input, byte for byte */
	unsigned clones;            /* frames transmitted with bpf_clone_redirect */
	struct h_delta d[12];       /* exact counter deltas (all others 0) */
};

/* Move to a private network namespace (its lo, brought up, is the
 * device of every run and where clones are captured), load the test
 * object and install the test policy (H_POLICY). Exits on failure. */
void h_init(void);
void h_fini(void);

/* Run fn as the case name: reset the datapath state, run it, print its
 * line. Skipped (silently) if a filter is set and name does not contain
 * it. */
void h_case(const char *name, void (*fn)(void));

/* Print the final "N passed, M failed" line; returns the exit status. */
int h_summary(void);

/* Only run cases whose name contains filter (NULL: all). */
void h_filter(const char *filter);

/* Record a failed check (the first one becomes the case's reason).
 * Returns ok, so tests can stop on a failed prerequisite. */
bool h_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* True while no check of the current case has failed. */
bool h_ok(void);
#define H_CHECK(cond, ...) h_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define H_EQ(a, b, what) \
	H_CHECK((long long)(a) == (long long)(b), "%s: got %lld, want %lld", (what), \
		(long long)(a), (long long)(b))
#define H_EQX(a, b, what) \
	H_CHECK((__u32)(a) == (__u32)(b), "%s: got 0x%08x, want 0x%08x", (what), \
		(__u32)(a), (__u32)(b))

/* ---- datapath state ---- */

/* The socket's timestamp clock in h_sock(). */
#define H_TS_NOW 1000u

/* A socket mock ready for a request at client seq rcv_nxt, the server
 * at snd_nxt with nothing in flight: mss 1448, rcv_wnd 64256, wscale 7,
 * TS clock H_TS_NOW. */
struct pf_sockinfo h_sock(__u32 rcv_nxt, __u32 snd_nxt);
void h_set_sock(const struct pf_sockinfo *si);
struct pf_config *h_cfg(void);
/* Flow entry of the connection of client -> server spec s (ingress
 * direction). Returns false if there is none. */
bool h_flow(const struct pkt_spec *s, struct pf_flow *f);
unsigned h_flow_count(void);

/* ---- running ---- */

/* Run pkt (len bytes) through prog. Returns false (after recording a
 * failed check) if the run itself failed. */
bool h_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	   const struct h_env *env, struct h_run *r);

/* Build s and run it. */
bool h_run_spec(const struct h_prog *prog, const struct pkt_spec *s,
		const struct h_env *env, struct h_run *r);

/* Check r's counter deltas against d exactly (unlisted ones must be 0). */
bool h_check_deltas(const struct h_run *r, const struct h_delta *d);

/* Run a fixture and check verdict, unchanged-ness (or, for a changed
 * output, its IP and TCP checksums), the number of clones and the
 * counters. r (may be NULL) receives the run for further checks. */
bool h_fix_run(const struct h_fix *f, struct h_run *r);

/* "PASS", "TX", "DROP" or "unknown". */
const char *h_verdict_name(int verdict);

/* Parse r's output; records a failed check (and returns false) unless it
 * is TCP with a right IP header checksum and a right TCP checksum. */
bool h_out_view(const struct h_run *r, struct pkt_view *v);

/* ---- the test policy and requests ---- */

/* The policy installed by h_init() (slot 0). Ports 8080 and 8443. */
extern const char H_POLICY[];

#define H_ORIGIN "https://app.example.com"
/* An allowed preflight (rule 2: PUT with content-type from H_ORIGIN). */
#define H_PREFLIGHT \
	"OPTIONS /api/items/7 HTTP/1.1\r\n" \
	"Host: api.example.com\r\n" \
	"Origin: " H_ORIGIN "\r\n" \
	"Access-Control-Request-Method: PUT\r\n" \
	"Access-Control-Request-Headers: content-type\r\n" \
	"Accept: */*\r\n" \
	"\r\n"

/* The exact 204 the policy gives for H_PREFLIGHT (no Date header). */
#define H_RESP_204 \
	"HTTP/1.1 204 No Content\r\n" \
	"Access-Control-Allow-Origin: " H_ORIGIN "\r\n" \
	"Access-Control-Allow-Headers: content-type\r\n" \
	"Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n" \
	"Access-Control-Allow-Credentials: true\r\n" \
	"Access-Control-Max-Age: 600\r\n" \
	"Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n" \
	"\r\n"

/* A client request segment carrying payload (C string) at seq/ack, with
 * NOP NOP TS(tsval, tsecr). */
void h_req_spec(struct pkt_spec *s, int family, const char *payload, __u32 seq,
		__u32 ack, __u32 tsval, __u32 tsecr);

/* Test groups (one file each). */
void test_answer(void);
void test_retx(void);
void test_pass(void);
void test_translate(void);
void test_flow(void);

#endif /* PF_TEST_HARNESS_H */
