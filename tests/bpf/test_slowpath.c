/* test_slowpath.c -- BPF tier: what the datapath punts to the daemon (pf_punt ring buffer). */
/* Regex origins and request-header lists over the kernel's limits. A live
 * daemon: the request is dropped and recorded; a stale heartbeat: passed;
 * once the daemon's verdict is in pf_tokens / pf_acrh: decided in the
 * kernel. The pf_acrh verdicts here come from the daemon's own code
 * (user/acrh.c) run against the loaded maps. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conn.h"
#include "harness_int.h"
#include "acrh.h"
#include "replay.h"
#include "ringturn.h"
#include "slowpath.h"   /* PF_SLOW_TURN_MAX */
#include "match.h"   /* enum pf_reason */

#define S0 1000000u
#define P0 5000000u
#define RX_ORIGIN "https://pr-12.preview.example.com"

static const char rx_policy[] =
	"ports: [8080, 8443]\n"
	"rules:\n"
	"  - hosts: [api.example.com]\n"
	"    origins: [https://app.example.com, {regex: 'https://pr-[0-9]+\\.preview\\.example\\.com'}]\n"
	"    methods: [PUT]\n"
	"    headers: [content-type]\n";

#define RX_PREFLIGHT \
	"OPTIONS /api/items/7 HTTP/1.1\r\n" \
	"Host: api.example.com\r\n" \
	"Origin: " RX_ORIGIN "\r\n" \
	"Access-Control-Request-Method: PUT\r\n" \
	"Access-Control-Request-Headers: content-type\r\n" \
	"\r\n"

static struct pf_punt_rec got;
static unsigned n_got;

static int on_rec(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(got))
		memcpy(&got, data, sizeof(got));
	return 0;
}

/* Records in the pf_punt ring buffer since the last call (the last one
 * in got). */
static unsigned drain_punts(void)
{
	n_got = h_punts_drain(on_rec, NULL);
	return n_got;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* The regex policy active, no wait recorded, no record pending. */
static void setup(__u64 heartbeat)
{
	static struct pf_acrh_key ak;
	int fd = bpf_map__fd(h_skel->maps.pf_punted);
	__u64 key;

	struct pf_tok_key tk;

	h_reset_state();
	h_use_policy(rx_policy);
	while (!bpf_map_get_next_key(fd, NULL, &key))
		bpf_map_delete_elem(fd, &key);
	fd = bpf_map__fd(h_skel->maps.pf_learned);
	while (!bpf_map_get_next_key(fd, NULL, &tk))
		bpf_map_delete_elem(fd, &tk);
	fd = bpf_map__fd(h_skel->maps.pf_acrh);
	while (!bpf_map_get_next_key(fd, NULL, &ak))
		bpf_map_delete_elem(fd, &ak);
	drain_punts();
	h_cfg()->heartbeat_ns = heartbeat;
}

/* Punt fixture: the regex preflight over IP family, dropped (daemon
 * alive) or passed. */
static void punt_fix_f(struct h_fix *f, bool alive, int family)
{
	if (!alive) {
		/* passed: the connection's first request, so from here on
		 * the connection is followed (a flow entry) */
		h_pass_first_fix(f, family, RX_PREFLIGHT, S0, P0, PF_STAT_PASS_DAEMON_DOWN);
		return;
	}
	h_answer_fix(f, family, RX_PREFLIGHT, S0, P0);
	memset(f->d, 0, sizeof(f->d));
	f->verdict = H_DROP;
	f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f->d[1] = (struct h_delta)H_D(PUNT_DAEMON, 1);
	f->d[2] = (struct h_delta)H_DEND;
}

static void punt_fix(struct h_fix *f, bool alive)
{
	punt_fix_f(f, alive, 4);
}

/* What the daemon does once it decided RX_ORIGIN (rule 1, slot 1): the
 * verdict into pf_learned. false (the case failed) if the insert did. */
static bool learn_rx_origin(void)
{
	struct pf_tok_key k = { .kind = PF_TOK_ORIGIN, .slot = 1 };
	struct pf_tok_val v = { .rules = 1, .len = sizeof(RX_ORIGIN) - 1 };

	k.hash = pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0);
	memcpy(v.s, RX_ORIGIN, sizeof(RX_ORIGIN) - 1);
	return H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_learned), &k, &v,
					    BPF_NOEXIST), "learn origin: %s", strerror(errno));
}

/* The verdict learn_rx_origin taught, gone (a reload, an LRU eviction). */
static void forget_rx_origin(void)
{
	struct pf_tok_key k = { .kind = PF_TOK_ORIGIN, .slot = 1 };

	k.hash = pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0);
	bpf_map_delete_elem(bpf_map__fd(h_skel->maps.pf_learned), &k);
}

/* Daemon alive: drop + one record; the daemon's token makes the
 * retransmission an ordinary answer. */
static void t_punt_alive(void)
{
	static __u8 seg[PKT_MAX];
	struct h_fix f;
	struct h_run r;
	size_t n;
	__u64 t0 = mono_ns();

	setup(t0);
	punt_fix(&f, true);
	n = pkt_build(&f.in, seg, sizeof(seg));
	if (!h_fix_run(&f, &r))
		return;
	if (!H_CHECK(drain_punts() == 1, "want 1 pf_punt record, got %u", n_got))
		return;
	/* the dropped segment travels with it, byte for byte, for the
	 * daemon's replay (user/replay.h) */
	H_EQ(got.frame_len, n, "record frame length");
	H_CHECK(n && got.frame_len == n && !memcmp(got.frame, seg, n),
		"record frame: the segment as it arrived");
	H_EQ(got.frame_l4, ETH_HLEN + 20, "record frame's TCP header offset");
	H_CHECK(got.ns >= t0 && got.ns <= mono_ns(), "record time: the punt's");
	H_EQ(got.len, sizeof(RX_ORIGIN) - 1, "record origin length");
	H_EQ(got.slot, 1, "record slot");
	H_CHECK(!memcmp(got.data, RX_ORIGIN, sizeof(RX_ORIGIN) - 1), "record origin");
	H_CHECK(got.hash == pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0),
		"record hash");
	if (!learn_rx_origin())
		return;
	h_answer_fix(&f, 4, RX_PREFLIGHT, S0, P0);
	if (h_fix_run(&f, &r))
		H_CHECK(drain_punts() == 0, "no record for a decided origin");
}

/* The daemon's replay (user/replay.h) of the record got: pf_replay_xdp
 * run live on lo, as the daemon runs it on its interface -- or, rp_tc
 * set, a test run of pf_replay_tc, which clones the frame to lo's receive
 * path (a kernel that refuses live frames). 0 once handed over. */
static struct pf_replay rp;
static bool rp_tc;

static int replay_run(void *arg)
{
	int xdp_fd = bpf_program__fd(h_skel->progs.pf_replay_xdp);
	int tc_fd = bpf_program__fd(h_skel->progs.pf_replay_tc);
	int n;

	(void)arg;
	rp.prog_fd = rp_tc ? -1 : xdp_fd;
	rp.tc_fd = rp_tc ? tc_fd : -1;
	rp.ifindex = h_lo_ifindex;
	n = pf_replay(&rp, &got, h_cfg());
	return n == 1 ? 0 : n < 0 ? n : -ENODATA;
}

/* Once the daemon has taught the verdict, the segment the record kept,
 * replayed into lo's receive path, is answered at TC ingress as the
 * client's retransmission would be -- in XDP mode too, marked for TC by
 * pf_replay_xdp -- and not punted again: the decision without the
 * retransmission's wait; IPv4 and IPv6. Its TCP checksum is completed by
 * the replay: the record's field holds only the pseudo-header's sum
 * here, as a local sender's CHECKSUM_PARTIAL segment's does. A second
 * replay of the same segment does nothing (each is replayed once). live:
 * by a live-frame run of pf_replay_xdp, else by a test run of
 * pf_replay_tc (a kernel that refuses live frames). */
static void punt_replay(int family, bool live)
{

	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	static __u8 seg[PKT_MAX];
	struct h_fix f, want;
	struct h_run r;
	__u64 replayed;
	size_t n;

	setup(mono_ns());
	memset(&rp, 0, sizeof(rp));   /* nothing replayed yet */
	punt_fix_f(&f, true, family);
	h_answer_fix(&want, family, RX_PREFLIGHT, S0, P0);
	want.verdict = H_TX;
	n = pkt_build(&want.in, seg, sizeof(seg));
	if (!h_fix_run(&f, &r) || !H_CHECK(drain_punts() == 1, "want 1 record, got %u", n_got))
		return;
	H_EQ(got.frame_l4, ETH_HLEN + (family == 4 ? 20 : 40), "record frame's TCP header offset");
	pkt_tcp_partial(got.frame, got.frame_len);   /* the checksum: the replay's job */
	if (!learn_rx_origin())
		return;
	replayed = h_cfg()->replayed;
	h_set_sock(&want.sock);
	rp_tc = !live;
	if (!(live ? h_chain_run : h_chain_run_tc)(replay_run, NULL, &r))
		return;
	h_check_fix(&want, seg, n, &r, d);
	H_EQ(h_cfg()->replayed - replayed, 1, "replayed counted");
	H_EQ(drain_punts(), 0, "pf_punt records after the replay");
	H_EQ(replay_run(NULL), -ENODATA, "the same segment replayed again");
	H_EQ(h_cfg()->replayed - replayed, 1, "replayed counted once");
}

static void t_punt_replay4(void) { punt_replay(4, true); }
static void t_punt_replay6(void) { punt_replay(6, true); }
static void t_punt_replay_tc4(void) { punt_replay(4, false); }
static void t_punt_replay_tc6(void) { punt_replay(6, false); }

/* Only a segment of a real connection is punted: one with no local
 * socket (spoofed, no handshake) goes on to the stack, which resets it;
 * the daemon never sees it and nothing is tracked (issue 10: a flood of
 * spoofed origins filled the learned verdicts and black-holed real
 * clients). */
static void t_punt_spoofed(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NO_SOCKET, 1), H_DEND,
	};
	struct pf_sockinfo none = { 0 };
	struct h_fix f;
	struct h_run r;

	setup(mono_ns());
	h_answer_fix(&f, 4, RX_PREFLIGHT, S0, P0);
	h_set_sock(&none);
	if (!h_run_to_tc(&f.in, &r, d))
		return;
	H_EQ(r.verdict, H_PASS, "verdict");
	H_EQ(drain_punts(), 0, "pf_punt records");  /* (evaluated twice: 0 both times) */
	H_EQ(h_flow_count(), 0, "flow entries");
}

/* A segment with a wrong checksum (the stack drops it) is not punted. */
static void t_punt_bad_csum(void)
{
	struct h_fix f;

	setup(mono_ns());
	punt_fix(&f, false);
	f.in.bad_csum = 1;
	f.d[1] = (struct h_delta)H_D(PASS_CSUM, 1);
	f.d[2] = (struct h_delta)H_DEND;  /* not followed either */
	if (h_fix_run(&f, NULL))
		H_EQ(drain_punts(), 0, "pf_punt records");
}

/* A request the socket guards would not let us answer anyway (the server
 * is still sending) goes to the app at once: punting it would only drop
 * it for nothing. */
static void t_punt_guard_first(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_SERVER_BUSY, 1), H_D(FLOW_CREATED, 1), H_DEND,
	};
	struct h_fix f;
	struct h_run r;

	setup(mono_ns());
	h_answer_fix(&f, 4, RX_PREFLIGHT, S0, P0);
	f.sock.write_seq = P0 + 100;
	h_set_sock(&f.sock);
	if (h_run_to_tc(&f.in, &r, d))
		H_EQ(drain_punts(), 0, "pf_punt records");
}

/* An Origin that is not ASCII (no browser sends one) is never handed to
 * the daemon: no record, no wait under its hash (pf_punted) -- a top-bit
 * difference makes two origins collide whatever the hash key
 * (PF_HASH_SEED0), and a learned negative under an allowed origin's hash
 * kept that one from being learned until a reload. Passed to the app. */
static void t_punt_not_ascii(void)
{
	static const char req[] =
		"OPTIONS /api/items/7 HTTP/1.1\r\n"
		"Host: api.example.com\r\n"
		"Origin: https://pr-12.prev\xca\x65w.example.com\r\n"
		"Access-Control-Request-Method: PUT\r\n"
		"\r\n";
	__u64 key;
	struct h_fix f;

	setup(mono_ns());
	h_pass_first_fix(&f, 4, req, S0, P0, PF_STAT_PASS_ORIGIN_BYTES);
	if (!h_fix_run(&f, NULL))
		return;
	H_EQ(drain_punts(), 0, "pf_punt records");
	H_CHECK(bpf_map_get_next_key(bpf_map__fd(h_skel->maps.pf_punted), NULL, &key),
		"a wait recorded in pf_punted");
}

/* The daemon could not teach a verdict (a hash collision, a failed
 * insert, no regexes): it marks the wait failed, and the retransmission
 * goes to the app -- not punted and dropped again, forever. A mark from
 * the other slot (a reload since) punts again. */
static void punt_marked(__u32 slot, bool passed)
{
	__u64 h = pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0);
	__u64 v = PF_PUNT_FAILED | ((__u64)slot << PF_PUNT_SLOT_BIT) | 12345;
	struct h_fix f;
	unsigned n;

	setup(mono_ns());
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_punted), &h, &v, BPF_ANY),
		     "update pf_punted: %s", strerror(errno)))
		return;
	punt_fix(&f, !passed);
	if (passed)
		f.d[1] = (struct h_delta)H_D(PASS_DAEMON_FAILED, 1);
	if (!h_fix_run(&f, NULL))
		return;
	n = drain_punts();
	H_EQ(n, passed ? 0 : 1, "pf_punt records");
}

static void t_punt_failed_mark(void)
{
	punt_marked(1, true);   /* rx_policy is in slot 1 */
}

static void t_punt_failed_mark_other_slot(void)
{
	punt_marked(0, false);
}

/* Heartbeat older than 1 s (or none): passed untouched, no record. */
static void t_punt_stale(void)
{
	struct h_fix f;
	struct h_run r;

	setup(mono_ns() - 1500000000ull);
	punt_fix(&f, false);
	if (h_fix_run(&f, &r))
		H_CHECK(drain_punts() == 0, "no record while the daemon is down");
	setup(0);
	punt_fix(&f, false);
	h_fix_run(&f, &r);
}

/* An origin punted over 1 s ago that the daemon never decided: passed. */
static void t_punt_waited(void)
{
	__u64 h = pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0);
	__u64 then = mono_ns() - 1500000000ull;
	struct h_fix f;
	struct h_run r;

	setup(mono_ns());
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_punted), &h, &then,
					  BPF_ANY), "update pf_punted: %s", strerror(errno)))
		return;
	punt_fix(&f, false);
	h_fix_run(&f, &r);
}

/* A wait over 2 s old (PF_PUNT_STALE_NS) that nothing cleared -- its
 * record read by a daemon that died, or, before stop 51, taken and
 * answered before the wait was written (pf_punt_req wrote it after the
 * submit): punted again and armed anew, not passed for as long as the
 * entry lives (review finding; passed without the fix). */
static void t_punt_wait_stale(void)
{
	__u64 h = pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0);
	__u64 then = mono_ns() - 3000000000ull, v = 0;
	struct h_fix f;
	struct h_run r;
	unsigned n;

	setup(mono_ns());
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_punted), &h, &then,
					  BPF_ANY), "update pf_punted: %s", strerror(errno)))
		return;
	punt_fix(&f, true);
	if (!h_fix_run(&f, &r))
		return;
	n = drain_punts();
	H_EQ(n, 1, "pf_punt records");
	H_CHECK(!bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_punted), &h, &v) &&
		v > then + 2000000000ull, "the wait armed anew (%llu, was %llu)",
		(unsigned long long)v, (unsigned long long)then);
}

/* A retransmission of a request answered with the daemon's verdict, the
 * verdict gone since (a reload, an LRU eviction): punted again -- only
 * from a segment with a socket behind it, as every punt (pf_punt_req's
 * contract). Without one: dropped, no record (review finding, stop 51:
 * the re-answer punted before its socket and checksum checks). */
static void reanswer_punt(bool sock)
{
	static const struct h_delta d_sock[] = {
		H_D(PKT_SEEN, 1), H_D(PUNT_DAEMON, 1), H_DEND,
	};
	static const struct h_delta d_none[] = {
		H_D(PKT_SEEN, 1), H_D(RETX_DROPPED, 1), H_DEND,
	};
	struct pf_sockinfo none = { 0 };
	struct h_fix f;
	struct h_run r;
	unsigned n;

	setup(mono_ns());
	if (!learn_rx_origin())
		return;
	h_answer_fix(&f, 4, RX_PREFLIGHT, S0, P0);
	if (!h_fix_run(&f, &r) || !H_CHECK(r.verdict == H_TX, "first request not answered"))
		return;
	forget_rx_origin();
	drain_punts();
	h_set_sock(sock ? &f.sock : &none);
	if (!h_run_to_tc(&f.in, &r, sock ? d_sock : d_none))
		return;
	H_EQ(r.verdict, H_DROP, "verdict");
	n = drain_punts();
	H_EQ(n, sock ? 1 : 0, "pf_punt records");
}

static void t_reanswer_punted(void) { reanswer_punt(true); }
static void t_reanswer_no_socket_not_punted(void) { reanswer_punt(false); }

/* One client address punts at most PF_PUNT_SRC_MAX times a second: the
 * next request from it goes to the app (pass_punt_limit), no record;
 * another address still punts. Each punt here a retransmission of one
 * request (the wait young: a record each, as a new origin would make).
 * Without the limit: punted the 65th time too (a review finding, stop
 * 51: one client filled the daemon's ring). */
static void t_punt_src_limit(void)
{
	struct h_fix f;
	struct h_run r;
	unsigned i, n;

	setup(mono_ns());
	for (i = 0; i < PF_PUNT_SRC_MAX; i++) {
		punt_fix(&f, true);
		if (!h_fix_run(&f, &r))
			return;
	}
	n = drain_punts();
	if (!H_EQ(n, PF_PUNT_SRC_MAX, "pf_punt records"))
		return;
	h_pass_first_fix(&f, 4, RX_PREFLIGHT, S0, P0, PF_STAT_PASS_PUNT_LIMIT);
	if (!h_fix_run(&f, &r))
		return;
	n = drain_punts();
	H_EQ(n, 0, "pf_punt records over the limit");
	/* another client address: punted */
	punt_fix(&f, true);
	f.in.saddr[3] ^= 1;
	if (h_fix_run(&f, &r)) {
		n = drain_punts();
		H_EQ(n, 1, "pf_punt records from another address");
	}
}

/* ring_buffer callback of t_punt_turns: counts. */
static unsigned n_turn;

static int count_rec(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	n_turn++;
	return 0;
}

/* The daemon consumes pf_punt in turns of at most PF_SLOW_TURN_MAX
 * records (user/ringturn.h), its heartbeat and signals between them:
 * with 40 records more than that waiting (from five client addresses,
 * each under the per-address limit), one turn takes PF_SLOW_TURN_MAX,
 * the next the other 40, a third none. Without the bound: every record in
 * the first (a review finding, stop 51: a flood from many addresses held
 * the daemon's loop until its heartbeat went stale). */
static void t_punt_turns(void)
{
	const unsigned extra = 40, want = PF_SLOW_TURN_MAX + extra;
	struct pf_ringturn t;
	struct ring_buffer *rb;
	struct h_fix f;
	struct h_run r;
	unsigned i;
	int n;

	setup(mono_ns());
	for (i = 0; i < want; i++) {
		punt_fix(&f, true);
		f.in.saddr[3] ^= (__u8)(i / PF_PUNT_SRC_MAX);
		if (!h_fix_run(&f, &r))
			return;
	}
	rb = pf_ringturn_new(&t, bpf_map__fd(h_skel->maps.pf_punt), count_rec, NULL,
			     PF_SLOW_TURN_MAX);
	if (!H_CHECK(rb, "ring_buffer__new: %s", strerror(errno)))
		return;
	n_turn = 0;
	n = pf_ringturn_poll(rb, &t, 0);
	H_EQ(n, PF_SLOW_TURN_MAX, "records of the first turn");
	H_EQ(n_turn, PF_SLOW_TURN_MAX, "... handed to the callback");
	n = pf_ringturn_poll(rb, &t, 0);
	H_EQ(n, extra, "records of the second turn (the rest)");
	n = pf_ringturn_poll(rb, &t, 0);
	H_EQ(n, 0, "records of a third turn");
	H_EQ(n_turn, want, "records handed to the callback");
	ring_buffer__free(rb);
}

/* ---- request-header lists over the kernel's limits ---- */

static const char hdr_policy[] =
	"ports: [8080, 8443]\n"
	"rules:\n"
	"  - hosts: [api.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [PUT]\n"
	"    headers: [x-h00, x-h01, x-h02, x-h03, x-h04, x-h05, x-h06, x-h07, x-h08, x-h09,\n"
	"              x-h10, x-h11, x-h12, x-h13, x-h14, x-h15, x-h16, x-h17, x-h18, x-h19]\n";

/* 20 names (over PF_ACRH_MAX_TOKENS), all listed. */
#define HDR20 "x-h00, x-h01, x-h02, x-h03, x-h04, x-h05, x-h06, x-h07, x-h08, x-h09, " \
	      "x-h10, x-h11, x-h12, x-h13, x-h14, x-h15, x-h16, x-h17, x-h18, x-h19"
/* The same with the 19th name not listed. */
#define HDR20_BAD "x-h00, x-h01, x-h02, x-h03, x-h04, x-h05, x-h06, x-h07, x-h08, x-h09, " \
		  "x-h10, x-h11, x-h12, x-h13, x-h14, x-h15, x-h16, x-h17, x-evil, x-h19"

#define HDR_PREFLIGHT(list) \
	"OPTIONS /api/items/7 HTTP/1.1\r\n" \
	"Host: api.example.com\r\n" \
	"Origin: https://app.example.com\r\n" \
	"Access-Control-Request-Method: PUT\r\n" \
	"Access-Control-Request-Headers: " list "\r\n" \
	"\r\n"

#define HDR_RESP \
	"HTTP/1.1 204 No Content\r\n" \
	"Access-Control-Allow-Origin: https://app.example.com\r\n" \
	"Access-Control-Allow-Headers: " HDR20 "\r\n" \
	"Access-Control-Allow-Methods: PUT\r\n" \
	PF_EXPECT_VARY \
	"\r\n"

/* What the daemon does with the last record: decide it against the
 * loaded maps and insert the verdict. */
static bool daemon_decides(struct pf_acrh_val *v)
{
	struct pf_acrh_src src = {
		.tok_fd = bpf_map__fd(h_skel->maps.pf_tokens),
		.rules_fd = bpf_map__fd(h_skel->maps.pf_rules),
	};
	static struct pf_acrh_key k;
	int err;

	err = pf_acrh_decide(&src, got.slot, got.rule, got.data, got.len, v);
	if (!H_CHECK(!err, "pf_acrh_decide: %s", strerror(-err)))
		return false;
	pf_acrh_key_make(&k, got.slot, got.rule, got.data, got.len);
	return H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_acrh), &k, v, BPF_ANY),
		       "insert pf_acrh: %s", strerror(errno));
}

/* Punt fixture for a header-list preflight: dropped for the daemon. */
static void hdr_punt_fix(struct h_fix *f, const char *req)
{
	h_answer_fix(f, 4, req, S0, P0);
	memset(f->d, 0, sizeof(f->d));
	f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f->d[1] = (struct h_delta)H_D(PUNT_DAEMON, 1);
	f->d[2] = (struct h_delta)H_DEND;
	f->verdict = H_DROP;
}

/* 20 listed names: punted with the list and rule; the daemon allows it;
 * the retransmission is answered with the list echoed, byte-exact. */
static void t_acrh_allowed(void)
{
	static const char req[] = HDR_PREFLIGHT(HDR20);
	struct pf_acrh_val v;
	struct h_fix f;
	struct h_run r;
	struct h_want w;

	setup(mono_ns());
	h_use_policy(hdr_policy);
	hdr_punt_fix(&f, req);
	if (!h_fix_run(&f, &r))
		return;
	if (!H_CHECK(drain_punts() == 1, "want 1 pf_punt record, got %u", n_got))
		return;
	H_EQ(got.kind, PF_PUNT_ACRH, "record kind");
	H_EQ(got.rule, 0, "record rule");
	H_EQ(got.slot, 1, "record slot");
	if (!H_EQ(got.len, sizeof(HDR20) - 1, "record length") ||
	    !H_CHECK(!memcmp(got.data, HDR20, sizeof(HDR20) - 1), "record holds the list"))
		return;
	if (!daemon_decides(&v))
		return;
	H_EQ(v.reason, PF_R_OK, "daemon's verdict");
	H_EQ(v.acah, 2, "daemon's Allow-Headers: echo");
	h_answer_fix(&f, 4, req, S0, P0);
	if (!h_fix_run(&f, &r))
		return;
	w = h_want_resp(&f, P0, HDR_RESP);
	h_check_response(&r, &w);
	H_CHECK(drain_punts() == 0, "no record for a decided list");
}

/* 20 names, one not listed: the daemon denies (the bad name located),
 * and the retransmission follows on_deny: forwarded to the app. */
static void t_acrh_denied(void)
{
	static const char req[] = HDR_PREFLIGHT(HDR20_BAD);
	struct pf_acrh_val v;
	struct h_fix f;
	struct h_run r;

	setup(mono_ns());
	h_use_policy(hdr_policy);
	hdr_punt_fix(&f, req);
	if (!h_fix_run(&f, &r) || !H_CHECK(drain_punts() == 1, "want 1 record, got %u", n_got))
		return;
	if (!daemon_decides(&v))
		return;
	H_EQ(v.reason, PF_R_HEADER, "daemon's verdict");
	H_EQ(v.bad_off, strstr(HDR20_BAD, "x-evil") - HDR20_BAD, "offending name offset");
	H_EQ(v.bad_len, 6, "offending name length");
	h_pass_first_fix(&f, 4, req, S0, P0, PF_STAT_FWD_DENIED); /* the first request: followed */
	h_fix_run(&f, &r);
}

/* A reload (the other slot active): the old slot's verdict does not
 * apply, the list is punted again. */
static void t_acrh_other_slot(void)
{
	static const char req[] = HDR_PREFLIGHT(HDR20);
	struct pf_acrh_key k;
	struct pf_acrh_val v = { .reason = PF_R_OK, .acah = 2 };
	struct h_fix f;
	struct h_run r;
	unsigned n;

	setup(mono_ns());
	h_use_policy(hdr_policy);
	pf_acrh_key_make(&k, 0, 0, HDR20, sizeof(HDR20) - 1);
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_acrh), &k, &v, BPF_ANY),
		     "insert pf_acrh: %s", strerror(errno)))
		return;
	hdr_punt_fix(&f, req);
	if (h_fix_run(&f, &r))
		H_CHECK(drain_punts() == 1, "want 1 record, got %u", n_got);
	n = pf_acrh_clear_slot(bpf_map__fd(h_skel->maps.pf_acrh), 0);
	H_EQ(n, 1, "entries cleared from slot 0");
}

void test_slowpath(void)
{
	h_case("slowpath: regex origin punted to a live daemon, then answered", t_punt_alive);
	h_case("slowpath: the punted segment replayed once decided: answered at TC",
	       t_punt_replay4);
	h_case("slowpath: IPv6: the punted segment replayed once decided: answered at TC",
	       t_punt_replay6);
	/* TC mode's: in XDP mode with metadata TC would not take it
	 * (user/replay.h, pf_replay_start) */
	h_case_m("slowpath: replayed by TC test run (no live frames): answered at TC",
		 t_punt_replay_tc4, H_M_TC);
	h_case_m("slowpath: IPv6: replayed by TC test run (no live frames): answered at TC",
		 t_punt_replay_tc6, H_M_TC);
	h_case("slowpath: daemon down: regex origin passed", t_punt_stale);
	h_case("slowpath: undecided after 1 s: passed", t_punt_waited);
	h_case("slowpath: a wait nothing cleared for 2 s: punted, armed anew", t_punt_wait_stale);
	h_case("slowpath: over 64 punts a second from one address: passed", t_punt_src_limit);
	h_case("slowpath: the daemon decides punts in turns of at most 256", t_punt_turns);
	h_case("slowpath: retransmission, its verdict gone: punted again", t_reanswer_punted);
	h_case("slowpath: retransmission, its verdict gone, no socket: dropped, not punted",
	       t_reanswer_no_socket_not_punted);
	h_case("slowpath: spoofed (no socket): not punted, not tracked", t_punt_spoofed);
	h_case("slowpath: Origin not ASCII: not punted, passed", t_punt_not_ascii);
	h_case("slowpath: bad checksum: not punted", t_punt_bad_csum);
	h_case("slowpath: socket guard fails: passed, not punted", t_punt_guard_first);
	h_case("slowpath: daemon could not teach it: passed, not punted again",
	       t_punt_failed_mark);
	h_case("slowpath: failed mark of the other slot: punted again",
	       t_punt_failed_mark_other_slot);
	h_case("slowpath: 20 request headers: punted, allowed by the daemon, answered",
	       t_acrh_allowed);
	h_case("slowpath: 20 request headers, one not listed: denied by the daemon",
	       t_acrh_denied);
	h_case("slowpath: request-header verdict of the other slot not used", t_acrh_other_slot);
}
