/* tests/bpf: the BPF tier's shared harness; included only by tests/bpf/ .c files. */
/*
 * harness.h -- load the test build of the datapath (preflightd_test, built
 * with -DPF_TEST_MOCK_SOCK), install the test policy with the daemon's
 * installer (user/maps.c), run packets through a program with
 * bpf_prog_test_run_opts and check the result.
 *
 * A case is a function run by h_case(name, fn); it prints "ok N - name"
 * or "not ok N - name: why" (the first failed check). Every case starts
 * from an empty datapath: no flows, no socket (mock valid = 0), not
 * draining, no Date header, counters at zero, the test policy (H_POLICY,
 * slot 0) active.
 *
 * Modes: h_case() runs a case twice, as "<name> [tc]" (pf_cfg.xdp_mode 0,
 * ingress = pf_tc_ingress) and "<name> [xdp]" (xdp_mode 1, ingress =
 * pf_xdp_ingress); h_in is the current mode's ingress program, egress is
 * pf_tc_egress in both. Cases check h_xdp() where XDP differs: requests
 * XDP cannot answer go to TC (XDP_PASS with PF_META_ANSWER in the frame's
 * metadata, frame unchanged, xdp_to_tc +1), see h_fix_to_tc() and
 * h_chain(). On a kernel that refuses bpf_xdp_adjust_meta XDP marks
 * nothing and TC ingress takes every frame XDP passes: a run of
 * pf_xdp_ingress is then XDP and TC in turn (h_test_run), and the cases
 * about the metadata hand-off skip (h_need_xdp_meta, h_skip).
 *
 * Verdicts are abstract (enum h_verdict) and mapped per program kind.
 *
 * Runs happen in a private network namespace whose lo is the skb's
 * device; frames a program transmits itself (bpf_clone_redirect) are
 * captured there with a packet socket and returned with the run. An XDP
 * run passes struct xdp_md in and out: out holds the frame, meta the
 * metadata in front of it (ctx_out.data bytes). h_chain() runs the real
 * hand-off: live XDP frames received on lo, whose TC ingress has
 * pf_tc_ingress attached, observed by packet sockets on both sides.
 *
 * Files: harness.c (cases, runs, checks), state.c (policy slots, socket
 * mock, flows), chain.c (XDP -> TC), harness_int.h (their internals).
 */
#ifndef PF_TEST_HARNESS_H
#define PF_TEST_HARNESS_H

#include <stdbool.h>
#include <bpf/libbpf.h>   /* ring_buffer_sample_fn */
#include "../../include/pf_structs.h"
#include "pkt.h"
#include "../expect_vary.h"

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

/* The programs of the test skeleton (valid after h_init()). */
extern struct h_prog h_tc_in, h_tc_out, h_xdp_in;

/* The ingress program of the current mode (h_tc_in or h_xdp_in). */
extern const struct h_prog *h_in;

/* Case modes (h_case_m). */
#define H_M_TC   1u
#define H_M_XDP  2u
#define H_M_BOTH (H_M_TC | H_M_XDP)

/* True while the current case runs in XDP mode. */
bool h_xdp(void);

/* The split head the follower holds on the mocked socket (pf_split, the
 * test build's one value: bpf/pf_follow.h) into *sp. False on error. */
bool h_split_read(struct pf_split *sp);

/* The datapath finds every flow entry's lock not taken (pf_flow_lock
 * failing: pf_test_lock_fail, bpf/pf_test.h) while on; off at every case
 * start. */
void h_set_lock_fail(bool on);

/* Every incremental checksum update fails (a rewrite's first write:
 * pf_test_write_fail, bpf/pf_test.h) while on; off at every case start. */
void h_set_write_fail(bool on);

/* XDP acts as if it had no metadata room to hand a frame to TC
 * (pf_test_no_meta, bpf/pf_test.h) while on; off at every case start. */
void h_set_no_meta(bool on);

/* XDP acts as if the frame could not grow to a response (pf_xdp_make_room
 * failing: pf_test_no_room, bpf/pf_test.h) while on; off at every case
 * start. */
void h_set_no_room(bool on);

/* Skip the current case, for a feature this kernel lacks: printed as
 * "ok N - name # SKIP why" and counted apart. The case goes on running;
 * its checks no longer count. */
void h_skip(const char *why);

/* A case about XDP handing a frame to TC: in XDP mode on a kernel that
 * refuses bpf_xdp_adjust_meta (user/kfeat.h; the datapath then hands
 * nothing over), skips the case and returns false; else true. Every
 * hand-off helper (h_fix_to_tc, h_chain, h_run_to_tc) calls it. */
bool h_need_xdp_meta(void);

/* A case with a live run (h_chain_run): on a kernel that refuses
 * live-frame test runs (user/kfeat.h, pf_kfeat_xdp_live), skips the case
 * and returns false; else true. */
bool h_need_xdp_live(void);

/* XDP mode with metadata (not PF_BPFT_NO_META): XDP frames and
 * translates a whole head itself, which TC does otherwise -- without
 * socket storage (a split head's bytes it cannot let go). */
bool h_xdp_frames(void);

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
	enum h_kind kind;           /* of the program run */
	bool chain;                 /* h_chain(): live XDP -> TC ingress */
	__u32 meta_len;             /* XDP: metadata bytes before the frame */
	__u8 meta[32];
	long long delta[PF_STAT__MAX]; /* counter changes during the run */
	/* XDP on a kernel without bpf_xdp_adjust_meta: what its leg counted
	 * of pkt_seen and xdp_to_tc before TC ingress took the frame (left
	 * out of delta, see h_test_run) */
	long long leg_seen, leg_to_tc;
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
	bool to_tc;                 /* XDP: PF_META_ANSWER expected in the metadata */
	struct h_delta d[12];       /* exact counter deltas (all others 0) */
};

/* Move to a private network namespace (its lo, brought up, is the
 * device of every run and where clones are captured), load the test
 * object and install the test policy (H_POLICY). Exits on failure. */
void h_init(void);
void h_fini(void);

/* Run fn as "<name> [tc]" and "<name> [xdp]" (h_case), in the given
 * modes (h_case_m), or once as name (h_case_once: harness self-tests):
 * reset the datapath state, run it, print its line. Skipped (silently)
 * if a filter is set and the full name does not contain it. */
void h_case(const char *name, void (*fn)(void));
void h_case_m(const char *name, void (*fn)(void), unsigned modes);
void h_case_once(const char *name, void (*fn)(void));
/* h_case for a table row: fn(arg) in both modes. */
void h_case_p(const char *name, void (*fn)(const void *), const void *arg);

/* Reset the datapath state as at the start of a case (for cases that
 * loop over many packets). */
void h_reset_state(void);

/* Install policy yaml (ports, rules) into slot 1 and make it active
 * (compiled once per distinct yaml pointer, installed by user/maps.c
 * as a reload does). The next case starts
 * with H_POLICY (slot 0) active again. Exits on a bad policy. */
void h_use_policy(const char *yaml);

/* pf_flows max_entries in the test build (set before loading; small so
 * a full table is quick to make). */
#define H_MAX_FLOWS 1024

/* pf_tokens max_entries in the test build (small, so a policy that does
 * not fit is quick to make). */
#define H_MAX_TOKENS 4096
#define H_HASH_SEED  0x5eed0f7e57c0ffeeULL /* the tier's hash key (harness.c) */

/* A reload of policy yaml into slot with the daemon's installer; *n_toks
 * (may be NULL) gets its number of policy strings. Returns the
 * installer's 0 or -errno (exits if yaml does not compile). Later
 * h_use_policy() calls install their policy afresh. */
int h_reload(const char *yaml, __u32 slot, unsigned *n_toks);

/* Empty the flow table. */
void h_reset_flows(void);

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
/* Make si a connection that carried requests before (bytes_received):
 * the datapath did not see its first request, so it never follows
 * (tracks) it, and a preflight on it is never answered (pass_framing).
 * Cases about why a request is passed use it so that the first-request
 * tracking (tests/bpf/test_frame.c) does not add a flow entry. */
void h_sock_not_first(struct pf_sockinfo *si);
struct pf_config *h_cfg(void);
/* The flow key of the connection of client -> server spec s. */
void h_flow_key(const struct pkt_spec *s, struct pf_flow_key *k);
/* Flow entry of the connection of client -> server spec s (ingress
 * direction). Returns false if there is none. */
bool h_flow(const struct pkt_spec *s, struct pf_flow *f);

/* Consume the records waiting in the slow path's ring buffer (pf_punt),
 * each handed to fn(ctx, ...) unless fn is NULL. Returns how many (0,
 * with a failed check, if the ring cannot be read). */
unsigned h_punts_drain(ring_buffer_sample_fn fn, void *ctx);
/* Overwrite that existing entry with f in place, under its lock
 * (pf_test_flow_put), as a packet on another CPU writes it. */
void h_flow_put(const struct pkt_spec *s, const struct pf_flow *f);
unsigned h_flow_count(void);
/* Delete the flow entry of key (what the daemon's GC does). */
void h_flow_delete(const struct pf_flow_key *key);
/* Fill pf_flows with unrelated connections until it is full; returns
 * the number of entries. */
unsigned h_fill_flows(void);

/* ---- running ---- */

/* Run pkt (len bytes) through prog. Returns false (after recording a
 * failed check) if the run itself failed. */
bool h_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	   const struct h_env *env, struct h_run *r);

/* The same without recording a failed check: returns 0 or -errno
 * (for frames the kernel may refuse to run). */
int h_try_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	      const struct h_env *env, struct h_run *r);

/* Build s and run it. */
bool h_run_spec(const struct h_prog *prog, const struct pkt_spec *s,
		const struct h_env *env, struct h_run *r);

/* XDP -> TC for real: attach h_tc_in to lo's TC ingress, run pkt
 * through pf_xdp_ingress in BPF_F_TEST_XDP_LIVE_FRAMES mode (XDP_PASS
 * frames are built into skbs and received on lo, metadata included) and
 * report what TC did as if it were one TC run: the frame that went up
 * the stack is r->out (captured after TC with ETH_P_IP/ETH_P_IPV6
 * packet sockets; verdict PASS), else a frame TC sent out is r->out
 * (verdict TX), else DROP; clones in r->tx. Deltas cover XDP and TC. */
bool h_chain(const __u8 *pkt, size_t len, struct h_run *r);

/* h_chain with the frame's arrival left to run(arg), which returns 0 or
 * -errno: the daemon's replay of a punted segment (user/replay.h), whose
 * live run of pf_replay_xdp hands it to lo. */
bool h_chain_run(int (*run)(void *), void *arg, struct h_run *r);

/* The same for a run that is no live-frame one (the replay's TC test run,
 * pf_replay_tc: a clone to lo's receive path), on any kernel. */
bool h_chain_run_tc(int (*run)(void *), void *arg, struct h_run *r);

/* Turn a fixture into its XDP hand-off: PASS, unchanged, metadata,
 * counters pkt_seen and xdp_to_tc +1, nothing else. */
void h_fix_to_tc(struct h_fix *f);

/* Run tcf (a fixture as TC mode expects it) through h_chain: its
 * verdict, unchanged-ness, clones and deltas, plus XDP's own pkt_seen
 * and xdp_to_tc. r (may be NULL) receives the run. */
bool h_chain_fix(const struct h_fix *tcf, struct h_run *r);

/* d_tc plus XDP's own counters in a chain run (pkt_seen, xdp_to_tc). */
void h_chain_deltas(const struct h_delta *tc, struct h_delta out[16]);

/* A request TC mode passes to its own slow path (socket guards, clone):
 * TC mode: run in through h_in, deltas d_tc. XDP mode: pf_xdp_ingress
 * must hand it to TC (PASS, metadata, unchanged, pkt_seen/xdp_to_tc),
 * then h_chain() runs it through XDP and TC into r, deltas
 * h_chain_deltas(d_tc). Verdict and output are left to the caller. */
bool h_run_to_tc(const struct pkt_spec *in, struct h_run *r, const struct h_delta *d_tc);

/* Cross-CPU races (pause.c): run s through prog on a second CPU and
 * make it stop at point (enum pf_test_point, bpf/pf_test.h) -- as if
 * another CPU were handling a packet of the same connection right then.
 * Returns once it has stopped; meanwhile the caller runs other packets
 * (on the first CPU: the main thread is pinned there until
 * h_pause_finish). False (a failed check) if it cannot be stopped there,
 * or the machine has one CPU. */
bool h_pause_start(const struct h_prog *prog, const struct pkt_spec *s, __u32 point);

/* Let the stopped packet go on and collect its run into r: verdict,
 * output, and the counters of its CPU (r->delta). No clone capture. */
bool h_pause_finish(struct h_run *r);

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
	PF_EXPECT_VARY \
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
void test_icmp(void);
void test_flow(void);
void test_xdp(void);
void test_adv_ip(void);
void test_adv_tcp(void);
void test_adv_http(void);
void test_conformance(void);
void test_slowpath(void);
void test_reload(void);
void test_race(void);
void test_guard(void);
void test_ofl(void);

#endif /* PF_TEST_HARNESS_H */
