/* test_slowpath.c -- BPF tier: regex origins punted to the daemon (pf_punt ring buffer). */
/* A live daemon: the request is dropped and its origin recorded; a stale
 * heartbeat: passed; once the daemon's token is in pf_tokens: answered. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conn.h"
#include "harness_int.h"

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
	n_got++;
	return 0;
}

/* Records in the pf_punt ring buffer since the last call (the last one
 * in got). */
static unsigned drain_punts(void)
{
	struct ring_buffer *rb;

	n_got = 0;
	rb = ring_buffer__new(bpf_map__fd(h_skel->maps.pf_punt), on_rec, NULL, NULL);
	if (!H_CHECK(rb, "ring_buffer__new: %s", strerror(errno)))
		return 0;
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
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
	int fd = bpf_map__fd(h_skel->maps.pf_punted);
	__u64 key;

	h_use_policy(rx_policy);
	while (!bpf_map_get_next_key(fd, NULL, &key))
		bpf_map_delete_elem(fd, &key);
	drain_punts();
	h_cfg()->heartbeat_ns = heartbeat;
}

/* Punt fixture: the regex preflight, dropped (daemon alive) or passed. */
static void punt_fix(struct h_fix *f, bool alive)
{
	h_answer_fix(f, 4, RX_PREFLIGHT, S0, P0);
	memset(f->d, 0, sizeof(f->d));
	f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	if (alive) {
		f->verdict = H_DROP;
		f->d[1] = (struct h_delta)H_D(PUNT_DAEMON, 1);
	} else {
		f->verdict = H_PASS;
		f->unchanged = true;
		f->d[1] = (struct h_delta)H_D(PASS_DAEMON_DOWN, 1);
	}
	f->d[2] = (struct h_delta)H_DEND;
}

/* Daemon alive: drop + one record; the daemon's token makes the
 * retransmission an ordinary answer. */
static void t_punt_alive(void)
{
	struct pf_tok_key k = { .kind = PF_TOK_ORIGIN, .slot = 1 };
	struct pf_tok_val v = { .rules = 1, .len = sizeof(RX_ORIGIN) - 1 };
	struct h_fix f;
	struct h_run r;

	setup(mono_ns());
	punt_fix(&f, true);
	if (!h_fix_run(&f, &r))
		return;
	if (!H_CHECK(drain_punts() == 1, "want 1 pf_punt record, got %u", n_got))
		return;
	H_EQ(got.len, sizeof(RX_ORIGIN) - 1, "record origin length");
	H_EQ(got.slot, 1, "record slot");
	H_CHECK(!memcmp(got.origin, RX_ORIGIN, sizeof(RX_ORIGIN) - 1), "record origin");
	k.hash = pf_hash_bytes((const __u8 *)RX_ORIGIN, sizeof(RX_ORIGIN) - 1, 0);
	H_CHECK(got.hash == k.hash, "record hash");
	/* what the daemon does */
	memcpy(v.s, RX_ORIGIN, sizeof(RX_ORIGIN) - 1);
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_tokens), &k, &v,
					  BPF_NOEXIST), "insert token: %s", strerror(errno)))
		return;
	h_answer_fix(&f, 4, RX_PREFLIGHT, S0, P0);
	if (h_fix_run(&f, &r))
		H_CHECK(drain_punts() == 0, "no record for a decided origin");
	bpf_map_delete_elem(bpf_map__fd(h_skel->maps.pf_tokens), &k);
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
	__u64 then = mono_ns() - 2000000000ull;
	struct h_fix f;
	struct h_run r;

	setup(mono_ns());
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_punted), &h, &then,
					  BPF_ANY), "update pf_punted: %s", strerror(errno)))
		return;
	punt_fix(&f, false);
	h_fix_run(&f, &r);
}

void test_slowpath(void)
{
	h_case("slowpath: regex origin punted to a live daemon, then answered", t_punt_alive);
	h_case("slowpath: daemon down: regex origin passed", t_punt_stale);
	h_case("slowpath: undecided after 1 s: passed", t_punt_waited);
}
