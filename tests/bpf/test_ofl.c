/* test_ofl.c -- BPF tier: the response offload's request recorder (pf_ofl_tc) taking the ingress programs' parse of the same head (pf_ofl_reuse, pf_scratch.head_n); a socket leaving the SK_MSG path for a body and coming back (enum pf_ofl_det). */
/* The recorder runs after the ingress program of the same segment on the
 * same CPU (a tail call at TC; in XDP mode after a whole batch of XDP
 * runs). pf_scratch.head_n says which bytes of the per-CPU request copy
 * the saved parse covers; the recorder takes that parse only for the
 * same n bytes, else it parses its own. Here: a real connection on lo
 * (the recorder looks the server socket up and keeps its FIFO in socket
 * storage), the ingress program of the mode and then pf_ofl_tc run
 * directly, in that order, on one CPU.
 * That the saved parse was taken is shown by a marker: the test sets
 * PF_REQF_M_HEAD in the saved parse (per-CPU map memory, written from
 * here), which only a reused parse can carry into the recorded entry
 * (PF_OFL_E_HEAD) -- the request itself is a GET. */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "harness_int.h"
#include "../../include/pf_http.h"     /* PF_REQF_* */
#include "../../include/pf_ofl_types.h"

#define OFL_PORT 8080
#define S0 7000000u
#define P0 9000000u

static const char ofl_policy[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - paths: [/v1/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET, PUT]\n"
	"    credentials: true\n"
	"    responses: true\n";

/* Same length, one allowed origin and one that is not: one word apart. */
#define OK_ORIGIN  "https://app.example.com"
#define BAD_ORIGIN "https://bad.example.com"
#define GET_O(origin) \
	"GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " origin "\r\n\r\n"

static struct h_prog ofl_prog = {
	.name = "pf_ofl_tc", .fd = -1, .kind = H_KIND_TC,
	.retval = { [H_PASS] = TC_ACT_UNSPEC, [H_TX] = TC_ACT_REDIRECT,
		    [H_DROP] = TC_ACT_SHOT },
};

/* A connection on lo in the test's namespace: the client's port and
 * the server's socket (the recorder's sk_storage is keyed by its fd). */
struct oconn {
	int cfd, sfd;
	__u16 cport;
};

/* The case's listener on 127.0.0.1:OFL_PORT (ofl_setup). */
static int lfd = -1;

/* pf_scratch's layout, from the object's BTF (a BPF-only struct). */
static struct {
	__u32 size, off_req, off_r, off_head_n;
	bool ok;
} scr;

/* Find pf_scratch's req, r and head_n offsets and its size in the
 * object's BTF (once). False (a failed check) if one is missing. */
static bool scr_layout(void)
{
	const struct btf *btf = bpf_object__btf(h_skel->obj);
	const struct btf_member *m;
	const struct btf_type *t;
	const char *name;
	unsigned i, found = 0;
	int id;

	if (scr.ok)
		return true;
	id = btf ? btf__find_by_name_kind(btf, "pf_scratch", BTF_KIND_STRUCT) : -1;
	if (!H_CHECK(id > 0, "struct pf_scratch not in the object's BTF"))
		return false;
	t = btf__type_by_id(btf, (__u32)id);
	m = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, m++) {
		name = btf__name_by_offset(btf, m->name_off);
		if (!strcmp(name, "req"))
			scr.off_req = btf_member_bit_offset(t, i) / 8, found |= 1;
		else if (!strcmp(name, "r"))
			scr.off_r = btf_member_bit_offset(t, i) / 8, found |= 2;
		else if (!strcmp(name, "head_n"))
			scr.off_head_n = btf_member_bit_offset(t, i) / 8, found |= 4;
	}
	scr.size = t->size;
	scr.ok = found == 7;
	return H_CHECK(scr.ok, "pf_scratch: req, r or head_n not found");
}

/* This CPU's pf_scratch (the test thread is pinned: see pin()). */
static int cur_cpu = -1;

/* Every CPU's pf_scratch, each rounded to 8 bytes, in a calloc'd array
 * (the caller passes it to scr_write or frees it), or NULL (a failed check). */
static __u8 *scr_read(void)
{
	int ncpu = libbpf_num_possible_cpus(), zero = 0;
	size_t vs = (scr.size + 7) & ~7u;
	__u8 *all = calloc((size_t)ncpu, vs);

	if (!all || bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_scratch), &zero, all)) {
		free(all);
		H_CHECK(false, "read pf_scratch: %s", strerror(errno));
		return NULL;
	}
	return all;
}

/* Write all (from scr_read) back to pf_scratch and free it. */
static void scr_write(__u8 *all)
{
	int zero = 0;

	H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_scratch), &zero, all, BPF_ANY),
		"write pf_scratch: %s", strerror(errno));
	free(all);
}

/* This CPU's pf_scratch within all (from scr_read). */
static __u8 *scr_mine(__u8 *all)
{
	return all + (size_t)cur_cpu * ((scr.size + 7) & ~7u);
}

static __u32 scr_head_n(void)
{
	__u8 *all = scr_read();
	__u32 v = 0;

	if (all)
		memcpy(&v, scr_mine(all) + scr.off_head_n, sizeof(v));
	free(all);
	return v;
}

/* Set this CPU's head_n to n (unless ~0) and mark its saved parse (see
 * the top of the file). */
static void scr_poke(__u32 n, bool mark)
{
	__u8 *all = scr_read(), *s;
	struct pf_req r;

	if (!all)
		return;
	s = scr_mine(all);
	if (n != ~0u)
		memcpy(s + scr.off_head_n, &n, sizeof(n));
	if (mark) {
		memcpy(&r, s + scr.off_r, sizeof(r));
		r.flags |= PF_REQF_M_HEAD;
		memcpy(s + scr.off_r, &r, sizeof(r));
	}
	scr_write(all);
}

/* Is this CPU's request copy payload pay (and head_n its length)? */
static bool scr_holds(const char *pay)
{
	__u8 *all = scr_read();
	size_t n = strlen(pay);
	__u32 hn = 0;
	bool same = false;

	if (all) {
		memcpy(&hn, scr_mine(all) + scr.off_head_n, sizeof(hn));
		same = !memcmp(scr_mine(all) + scr.off_req, pay, n);
	}
	free(all);
	return H_CHECK(same && hn == n, "pf_scratch: head_n %u, want %zu, copy %s", hn, n,
		       same ? "same" : "differs");
}

/* Pin the test thread to the CPU it is on (per-CPU scratch: the
 * ingress run, the recorder run and the pokes must share it). */
static cpu_set_t saved_mask;

static bool pin(void)
{
	cpu_set_t set;

	if (!H_CHECK(!sched_getaffinity(0, sizeof(saved_mask), &saved_mask),
		     "sched_getaffinity: %s", strerror(errno)))
		return false;
	cur_cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cur_cpu, &set);
	return H_CHECK(cur_cpu >= 0 && !sched_setaffinity(0, sizeof(set), &set),
		       "pin to CPU %d: %s", cur_cpu, strerror(errno));
}

/* Give the test thread back the CPU mask pin() saved. */
static void unpin(void)
{
	sched_setaffinity(0, sizeof(saved_mask), &saved_mask);
}

/* The offload policy (policy) in slot 1, its response settings in
 * pf_ofl_rules, the recorder on. */
static bool ofl_setup(const char *policy)
{
	struct pf_compiled c;
	__u32 i, idx;
	bool ok = true;

	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(OFL_PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;

	if (!scr_layout() || !pin())
		return false;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (!H_CHECK(lfd >= 0 && !setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
		     !bind(lfd, (struct sockaddr *)&a, sizeof(a)) && !listen(lfd, 8),
		     "listener: %s", strerror(errno)))
		return false;
	ofl_prog.fd = bpf_program__fd(h_skel->progs.pf_ofl_tc);
	h_compile(policy, 1, &c);
	if (!H_EQ(h_reload(policy, 1, NULL), 0, "install the offload policy"))
		ok = false;
	for (i = 0; ok && i < PF_MAX_RULES; i++) {
		idx = 1 * PF_MAX_RULES + i;
		ok = H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_ofl_rules), &idx,
						  &c.ofl[i], BPF_ANY),
			     "pf_ofl_rules: %s", strerror(errno));
	}
	h_activate(1, c.ports, c.n_ports);
	pf_compiled_free(&c);
	h_cfg()->ofl_on = 1;
	return ok;
}

/* Undo ofl_setup: the offload flag off, the listener closed, unpinned. */
static void ofl_teardown(void)
{
	h_cfg()->ofl_on = 0;
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	unpin();
}

/* A connection to 127.0.0.1:OFL_PORT. */
static bool oconn_open(struct oconn *o)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(OFL_PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	o->cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (o->cfd < 0 || connect(o->cfd, (struct sockaddr *)&a, sizeof(a)))
		return H_CHECK(false, "connect: %s", strerror(errno));
	o->sfd = accept(lfd, NULL, NULL);
	if (o->sfd < 0 || getsockname(o->cfd, (struct sockaddr *)&a, &al))
		return H_CHECK(false, "accept: %s", strerror(errno));
	o->cport = ntohs(a.sin_port);
	return true;
}

/* Close o's sockets that are open. */
static void oconn_close(struct oconn *o)
{
	if (o->sfd >= 0)
		close(o->sfd);
	if (o->cfd >= 0)
		close(o->cfd);
}

/* Cover o's server socket: recording, the next head at seq next. */
static bool oconn_arm(const struct oconn *o, __u32 next)
{
	struct pf_ofl_sk v;

	memset(&v, 0, sizeof(v));
	v.s.next = next;
	v.s.in_state = PF_OFL_IN_HEAD;
	return H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_ofl_sk), &o->sfd, &v,
					    BPF_ANY),
		       "pf_ofl_sk: %s", strerror(errno));
}

/* o's server socket's pf_ofl_sk storage into *v; false (a failed check)
 * if it has none. */
static bool oconn_state(const struct oconn *o, struct pf_ofl_sk *v)
{
	return H_CHECK(!bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_ofl_sk), &o->sfd, v),
		       "pf_ofl_sk: %s", strerror(errno));
}

/* o's client segment carrying pay at seq. */
static void oseg(struct pkt_spec *s, const struct oconn *o, const char *pay, __u32 seq)
{
	h_req_spec(s, 4, pay, seq, P0, 111, 222);
	pkt_addr(4, "127.0.0.1", s->saddr);
	pkt_addr(4, "127.0.0.1", s->daddr);
	s->sport = o->cport;
	s->dport = OFL_PORT;
}

/* The ingress program of the mode on s, as a connection's first request
 * (socket mock at s->seq, nothing received: it is followed) or, with
 * first false, with no socket. */
static bool ingress(const struct pkt_spec *s, bool first)
{
	struct pf_sockinfo si = h_sock(s->seq, P0);
	struct h_run r;

	if (!first)
		si.valid = 0;
	h_set_sock(&si);
	if (!h_run_spec(h_in, s, NULL, &r))
		return false;
	return H_EQ(r.verdict, H_PASS, "ingress verdict");
}

/* What the recorder recorded for segment s of o (armed at s->seq): the
 * entry, and where the next head starts. */
struct orec {
	struct pf_ofl_ent e;
	__u32 next, n_req;
	__u64 d_preflight, d_unnorm; /* ofl_preflight_app, ofl_path_unnorm */
};

static bool record(const struct oconn *o, const struct pkt_spec *s, struct orec *out)
{
	struct pf_ofl_sk v;
	struct h_run r;

	memset(out, 0, sizeof(*out));
	if (!oconn_arm(o, s->seq) || !h_run_spec(&ofl_prog, s, NULL, &r) ||
	    !H_EQ(r.verdict, H_PASS, "recorder verdict") || !oconn_state(o, &v))
		return false;
	out->e = v.s.q[0];
	out->next = v.s.next;
	out->n_req = v.s.n_req;
	out->d_preflight = r.delta[PF_STAT_OFL_PREFLIGHT_APP];
	out->d_unnorm = r.delta[PF_STAT_OFL_PATH_UNNORM];
	return H_EQ(v.s.n_req, 1, "requests recorded") &&
	       H_EQ(r.delta[PF_STAT_OFL_REQ_RECORDED], 1, "ofl_req_recorded");
}

/* The recorder's verdict for s without any saved parse: head_n 0, the
 * copy and the parse zeroed (nothing to take even if head_n were not
 * checked). Never marked. */
static bool record_fresh(const struct oconn *o, const struct pkt_spec *s, struct orec *out)
{
	__u8 *all = scr_read(), *m;

	if (!all)
		return false;
	m = scr_mine(all);
	memset(m + scr.off_head_n, 0, sizeof(__u32));
	memset(m + scr.off_req, 0, PF_REQ_MAX);
	memset(m + scr.off_r, 0, sizeof(struct pf_req));
	scr_write(all);
	return record(o, s, out) &&
	       H_CHECK(!(out->e.flags & PF_OFL_E_HEAD), "a GET recorded as HEAD");
}

/* Did the recorder record the same entry and next head in a as in b? A
 * check named what. The origin's bytes only up to origin_len: the
 * recorder copies it in whole words, and what follows it in the request
 * lands past origin_len (never read). */
static bool same_rec(const struct orec *a, const struct orec *b, const char *what)
{
	bool same = !memcmp(&a->e, &b->e, offsetof(struct pf_ofl_ent, origin)) &&
		    !memcmp(a->e.origin, b->e.origin, a->e.origin_len % (PF_TOKEN_MAX + 1));

	return H_CHECK(same && a->next == b->next,
		       "%s: entry kind %u flags 0x%x next %u, want kind %u flags 0x%x next %u",
		       what, a->e.kind, a->e.flags, a->next, b->e.kind, b->e.flags, b->next);
}

/* A case: the offload set up, one or two connections, each with a
 * segment (c[i]'s carries pay[i] at S0 + 5000 i), and the recorder's
 * verdicts without a saved parse (fresh) and in the case (got). */
struct ocase {
	struct oconn c[2];
	struct pkt_spec s[2];
	struct orec fresh, got;
};

/* Open case k: the offload set up with policy, a connection and its
 * segment for p0 and, unless NULL, for p1. False (a failed check) if any
 * step fails. */
static bool ocase_open_pol(struct ocase *k, const char *policy, const char *p0,
			   const char *p1)
{
	const char *pay[2] = { p0, p1 };
	unsigned i;

	memset(k, 0, sizeof(*k));
	k->c[0].cfd = k->c[0].sfd = k->c[1].cfd = k->c[1].sfd = -1;
	if (!ofl_setup(policy))
		return false;
	for (i = 0; i < 2 && pay[i]; i++) {
		if (!oconn_open(&k->c[i]))
			return false;
		oseg(&k->s[i], &k->c[i], pay[i], S0 + 5000 * i);
	}
	return true;
}

/* ocase_open_pol with the offload policy (ofl_policy). */
static bool ocase_open(struct ocase *k, const char *p0, const char *p1)
{
	return ocase_open_pol(k, ofl_policy, p0, p1);
}

/* Close case k's connections and undo its setup. */
static void ocase_close(struct ocase *k)
{
	oconn_close(&k->c[1]);
	oconn_close(&k->c[0]);
	ofl_teardown();
}

/* (a) The ingress parse of the same head is there: the recorder takes
 * it (the marker reaches the entry) and records what it records without
 * it. */
static void t_reuse_same_head(void)
{
	const char *x = GET_O(OK_ORIGIN);
	struct ocase k;

	if (!ocase_open(&k, x, NULL) || !record_fresh(&k.c[0], &k.s[0], &k.fresh))
		goto out;
	H_EQ(k.fresh.e.kind, PF_OFL_ALLOW, "entry kind");
	H_EQ(k.fresh.e.flags, PF_OFL_E_CRED, "entry flags");
	H_EQ(k.fresh.next, S0 + strlen(x), "next head");
	/* the ingress program follows the connection's first request: its
	 * parse of these bytes is saved */
	if (!ingress(&k.s[0], true) || !scr_holds(x) || !record(&k.c[0], &k.s[0], &k.got))
		goto out;
	same_rec(&k.got, &k.fresh, "with the ingress parse");
	/* the saved parse is what the recorder took */
	h_reset_flows();
	if (!ingress(&k.s[0], true) || !scr_holds(x))
		goto out;
	scr_poke(~0u, true);
	if (record(&k.c[0], &k.s[0], &k.got))
		H_EQ(k.got.e.flags, PF_OFL_E_CRED | PF_OFL_E_HEAD, "entry flags (saved parse marked)");
out:
	ocase_close(&k);
}

/* (b) Another segment on the same CPU after the ingress parse: the same
 * length, other bytes (one word of the origin). Its own verdict. */
static void t_reuse_other_bytes(void)
{
	const char *x = GET_O(OK_ORIGIN), *y = GET_O(BAD_ORIGIN);
	struct ocase k;

	if (!ocase_open(&k, x, y) || !record_fresh(&k.c[1], &k.s[1], &k.fresh))
		goto out;
	H_EQ(k.fresh.e.kind, PF_OFL_VARY, "entry kind");
	if (!ingress(&k.s[0], true) || !scr_holds(x))
		goto out;
	scr_poke(~0u, true);
	if (record(&k.c[1], &k.s[1], &k.got))
		same_rec(&k.got, &k.fresh, "after another head's parse");
out:
	ocase_close(&k);
}

/* (b) The bytes differ only in the last byte, the last word partial
 * (n % 8 = 1 and 7): a GET with a body of one byte, the saved parse of
 * the same head with another last byte. Not taken. */
static void reuse_last_byte(unsigned tail)
{
	char x[256], y[256];
	struct ocase k;
	int n = 0, i;

	/* the path's length sets n % 8 */
	for (i = 1; i <= 8 && (n == 0 || (unsigned)n % 8 != tail); i++)
		n = snprintf(x, sizeof(x),
			     "GET /v1/%.*s HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
			     "\r\nContent-Length: 1\r\n\r\nA", i, "abcdefgh");
	if (!H_EQ((unsigned)n % 8, tail, "test bug: n % 8"))
		return;
	memcpy(y, x, (size_t)n + 1);
	y[n - 1] = 'B';
	/* both segments on one connection, at the same seq */
	if (!ocase_open(&k, x, NULL))
		goto out;
	oseg(&k.s[1], &k.c[0], y, S0);
	if (!record_fresh(&k.c[0], &k.s[1], &k.fresh))
		goto out;
	H_EQ(k.fresh.next, S0 + (unsigned)n, "next head");
	if (!ingress(&k.s[0], true) || !scr_holds(x))
		goto out;
	scr_poke(~0u, true);
	if (record(&k.c[0], &k.s[1], &k.got))
		same_rec(&k.got, &k.fresh, "the last byte differs");
out:
	ocase_close(&k);
}

static void t_reuse_last_byte_1(void)
{
	reuse_last_byte(1);
}

static void t_reuse_last_byte_7(void)
{
	reuse_last_byte(7);
}

/* (b) The saved parse covers one byte fewer (or more) than the
 * recorder's bytes, which are otherwise the same: not taken. */
static void t_reuse_head_n_differs(void)
{
	const char *x = GET_O(OK_ORIGIN);
	__u32 n = (__u32)strlen(x), d;
	struct ocase k;

	if (!ocase_open(&k, x, NULL) || !record_fresh(&k.c[0], &k.s[0], &k.fresh))
		goto out;
	for (d = 0; d < 2; d++) {
		h_reset_flows();
		if (!ingress(&k.s[0], true) || !scr_holds(x))
			goto out;
		scr_poke(d ? n + 1 : n - 1, true);
		if (!record(&k.c[0], &k.s[0], &k.got) ||
		    !same_rec(&k.got, &k.fresh, d ? "head_n n + 1" : "head_n n - 1"))
			goto out;
	}
out:
	ocase_close(&k);
}

/* (c) pf_client_bytes: a first request whose checksum is wrong is
 * copied (then refused): the copy is rewritten, the parse is not. The
 * recorder refuses that segment too (ofl_in_csum); on the same bytes
 * with the right checksum (its retransmission, before ingress parses
 * it) it must not take the earlier head's parse, which the word compare
 * alone would let it (same length, the copy is these bytes). The heads
 * differ in a header name: the earlier parse has an Origin where this
 * head has none. */
static void t_reuse_cleared_by_client_bytes(void)
{
	const char *x = GET_O(OK_ORIGIN),
		   *z = "GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\nXrigin: " OK_ORIGIN
			"\r\n\r\n";
	struct ocase k;
	struct h_run r;

	if (!ocase_open(&k, x, z) || !record_fresh(&k.c[1], &k.s[1], &k.fresh))
		goto out;
	H_EQ(k.fresh.e.kind, PF_OFL_VARY, "entry kind");
	k.s[1].bad_csum = 1;
	if (!ingress(&k.s[0], true) || !scr_holds(x) || !ingress(&k.s[1], true))
		goto out;
	H_EQ(h_flow_count(), 1, "flows (the bad segment is not followed)");
	H_EQ(scr_head_n(), 0, "head_n after the refused copy");
	if (!oconn_arm(&k.c[1], k.s[1].seq) || !h_run_spec(&ofl_prog, &k.s[1], NULL, &r))
		goto out;
	H_EQ(r.delta[PF_STAT_OFL_IN_CSUM], 1, "ofl_in_csum (the bad segment)");
	H_EQ(r.delta[PF_STAT_OFL_REQ_RECORDED], 0, "ofl_req_recorded (the bad segment)");
	k.s[1].bad_csum = 0;
	if (record(&k.c[1], &k.s[1], &k.got))
		same_rec(&k.got, &k.fresh, "after a refused copy of the same length");
out:
	ocase_close(&k);
}

/* (c) pf_load_req / pf_decide: the answer path copies an OPTIONS request
 * and parses it as a preflight (pf_parse, which refuses a body and
 * leaves the head's length unset) over the saved parse of the same
 * bytes: the recorder on the first connection's head, after that, must
 * parse it again (head and body: the next head after both). */
static void t_reuse_cleared_by_answer_path(void)
{
	const char *y = "OPTIONS /v1/items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
			"\r\nAccess-Control-Request-Method: PUT\r\nContent-Length: 1\r\n\r\nx";
	struct ocase k;

	if (!ocase_open(&k, y, y) || !record_fresh(&k.c[0], &k.s[0], &k.fresh))
		goto out;
	H_EQ(k.fresh.next, S0 + strlen(y), "next head");
	if (!ingress(&k.s[0], true) || !scr_holds(y) || !ingress(&k.s[1], false))
		goto out;
	if (record(&k.c[0], &k.s[0], &k.got))
		same_rec(&k.got, &k.fresh, "after the answer path's parse of the same bytes");
	H_EQ(scr_head_n(), 0, "head_n after the answer path's parse");
out:
	ocase_close(&k);
}

/* ---- a socket leaving the SK_MSG path for a body (enum pf_ofl_det) ---- */

/* o's server socket's cookie (the pf_ofl_socks key), 0 on failure. */
static __u64 ocookie(const struct oconn *o)
{
	__u64 c = 0;
	socklen_t l = sizeof(c);

	H_CHECK(!getsockopt(o->sfd, SOL_SOCKET, SO_COOKIE, &c, &l), "SO_COOKIE: %s",
		strerror(errno));
	return c;
}

/* Cover o's server socket for the recorder at next with its cookie, in
 * detach state det (detach_req: its SK_MSG program asked to leave), and
 * in pf_ofl_socks if in_map. */
static bool oconn_arm_det(const struct oconn *o, __u32 next, __u8 det, __u8 detach_req,
			  bool in_map)
{
	int fd = bpf_map__fd(h_skel->maps.pf_ofl_socks);
	__u64 c = ocookie(o), sfd = (__u64)o->sfd;
	struct pf_ofl_sk v;

	memset(&v, 0, sizeof(v));
	v.cookie = c;
	v.s.next = next;
	v.s.in_state = PF_OFL_IN_HEAD;
	v.s.detached = det;
	v.s.detach_req = detach_req;
	if (!H_CHECK(c && !bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_ofl_sk), &o->sfd, &v,
					       BPF_ANY), "pf_ofl_sk: %s", strerror(errno)))
		return false;
	if (!in_map)
		return true;
	return H_CHECK(!bpf_map_update_elem(fd, &c, &sfd, BPF_ANY),
		       "pf_ofl_socks: add the socket: %s", strerror(errno));
}

/* Is o's server socket in pf_ofl_socks? */
static bool oconn_in_map(const struct oconn *o)
{
	__u64 c = ocookie(o), v;

	return !bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_ofl_socks), &c, &v);
}

/* The recorder on o's request segment s finds the socket LEAVING: TC
 * egress on another CPU between its lock section and its delete (the
 * socket still in the map), the state the race left behind -- the
 * recorder's re-add found it in (EEXIST), marked it IN and recorded,
 * then the delete took it out: later responses unseen. Deterministic:
 * the state is crafted, the recorder runs alone. Now: recording stops,
 * counted, the state left to TC egress. */
static void t_leave_race(void)
{
	struct pf_ofl_sk v;
	struct h_run r;
	struct ocase k;

	if (!ocase_open(&k, GET_O(OK_ORIGIN), NULL) ||
	    !oconn_arm_det(&k.c[0], k.s[0].seq, PF_OFL_DET_LEAVING, 0, true) ||
	    !h_run_spec(&ofl_prog, &k.s[0], NULL, &r) || !oconn_state(&k.c[0], &v))
		goto out;
	H_EQ(r.verdict, H_PASS, "recorder verdict");
	H_EQ(r.delta[PF_STAT_OFL_LEAVE_RACE], 1, "ofl_leave_race");
	H_EQ(r.delta[PF_STAT_OFL_REQ_RECORDED], 0, "ofl_req_recorded");
	H_EQ(r.delta[PF_STAT_OFL_READDED], 0, "ofl_readded");
	H_EQ(v.s.in_state, PF_OFL_IN_STOP, "recording stopped");
	H_EQ(v.s.detached, PF_OFL_DET_LEAVING, "detached (TC egress's to change)");
	H_EQ(v.s.n_req, 0, "requests recorded");
out:
	ocase_close(&k);
}

/* A server segment of o carrying pay (TC egress), and o's flow key. */
static void oseg_out(struct pkt_spec *s, struct pf_flow_key *key, const struct oconn *o,
		     const char *pay)
{
	pkt_default(s, 4);
	pkt_addr(4, "127.0.0.1", s->saddr);
	pkt_addr(4, "127.0.0.1", s->daddr);
	s->sport = OFL_PORT;
	s->dport = o->cport;
	s->seq = P0;
	s->ack = S0;
	s->pay = pay;
	s->paylen = (unsigned)strlen(pay);
	memset(key, 0, sizeof(*key));
	pkt_addr(4, "127.0.0.1", key->caddr);
	pkt_addr(4, "127.0.0.1", key->saddr);
	key->cport = htons(o->cport);
	key->sport = htons(OFL_PORT);
	key->family = 4;
}

/* TC egress takes a socket that asked to leave (pf_ofl_leave) out of the
 * map: LEAVING only inside its run, OUT after -- also where the socket
 * was not in the map any more (the app closed it: the kernel unlinks a
 * closed socket; a "Connection: close" response's head retransmitted
 * after the close, e2e offload g2). That was counted ofl_detach_failed
 * and left IN, though nothing failed. The recorder's re-add then brings
 * an OUT socket back (IN, the request recorded). */
static void t_leave_round_trip(void)
{
	int leave = bpf_map__fd(h_skel->maps.pf_ofl_leave);
	struct pf_flow_key key;
	struct pf_ofl_sk v;
	struct pkt_spec out;
	struct h_run r;
	struct ocase k;
	__u64 c;
	int i;

	if (!ocase_open(&k, GET_O(OK_ORIGIN), NULL))
		goto out;
	oseg_out(&out, &key, &k.c[0], "0123456789");
	for (i = 0; i < 2; i++) {
		/* i 0: in the map; 1: not (out already) */
		c = ocookie(&k.c[0]);
		if (!oconn_arm_det(&k.c[0], k.s[0].seq, PF_OFL_DET_IN, 1, i == 0) ||
		    !H_CHECK(!bpf_map_update_elem(leave, &key, &c, BPF_ANY), "pf_ofl_leave: %s",
			     strerror(errno)) ||
		    !h_run_spec(&h_tc_out, &out, NULL, &r) || !oconn_state(&k.c[0], &v))
			goto out;
		H_EQ(r.delta[PF_STAT_OFL_DETACHED], 1, "ofl_detached");
		H_EQ(r.delta[PF_STAT_OFL_DETACH_FAILED], 0, "ofl_detach_failed");
		H_EQ(v.s.detached, PF_OFL_DET_OUT, "detached after egress");
		H_CHECK(!oconn_in_map(&k.c[0]), "the socket still in pf_ofl_socks");
		H_CHECK(bpf_map_lookup_elem(leave, &key, &c), "the pf_ofl_leave entry stays");
	}
	/* OUT: the recorder puts it back before it records */
	if (!oconn_arm_det(&k.c[0], k.s[0].seq, PF_OFL_DET_OUT, 0, false) ||
	    !h_run_spec(&ofl_prog, &k.s[0], NULL, &r) || !oconn_state(&k.c[0], &v))
		goto out;
	H_EQ(r.delta[PF_STAT_OFL_READDED], 1, "ofl_readded");
	H_EQ(r.delta[PF_STAT_OFL_REQ_RECORDED], 1, "ofl_req_recorded");
	H_EQ(v.s.detached, PF_OFL_DET_IN, "detached after the re-add");
	H_EQ(v.s.n_req, 1, "requests recorded");
	H_CHECK(oconn_in_map(&k.c[0]), "the socket not back in pf_ofl_socks");
out:
	ocase_close(&k);
}

/* A socket back from a body's trip out of pf_ofl_socks while its old
 * psock is still there (the app's write that sent the head holding it):
 * the kernel refuses the re-add (EBUSY). Here a second socket map with a
 * message program holds the server socket's psock, and pf_ofl_socks has
 * one too (the kernel refuses a second message program on a psock). The
 * recorder drops the request segment for the client to send again, up to
 * PF_OFL_READD_DROPS times in a row -- counted, nothing recorded, still
 * recording --, then stops (ofl_detach_failed: before, at once). Once the
 * psock is gone the re-add succeeds, the request is recorded and the
 * count of drops starts again. */
static void t_readd_busy(void)
{
	int socks = bpf_map__fd(h_skel->maps.pf_ofl_socks);
	int msg = bpf_program__fd(h_skel->progs.pf_ofl_msg);
	int other = -1, in_socks = 0, in_other = 0, i;
	__u32 zero = 0, sfd;
	struct pf_ofl_sk v;
	struct h_run r;
	struct ocase k;

	if (!ocase_open(&k, GET_O(OK_ORIGIN), NULL))
		goto out;
	sfd = (__u32)k.c[0].sfd;
	other = bpf_map_create(BPF_MAP_TYPE_SOCKMAP, "pf_t_other", 4, 4, 1, NULL);
	if (!H_CHECK(other >= 0, "create a socket map: %s", strerror(errno)))
		goto out;
	in_other = !bpf_prog_attach(msg, other, BPF_SK_MSG_VERDICT, 0);
	in_socks = !bpf_prog_attach(msg, socks, BPF_SK_MSG_VERDICT, 0);
	if (!H_CHECK(in_other && in_socks, "attach the message program: %s", strerror(errno)) ||
	    !H_CHECK(!bpf_map_update_elem(other, &zero, &sfd, BPF_ANY),
		     "the socket into the other map: %s", strerror(errno)) ||
	    !oconn_arm_det(&k.c[0], k.s[0].seq, PF_OFL_DET_OUT, 0, false))
		goto out;
	for (i = 0; i <= PF_OFL_READD_DROPS; i++) {
		if (!h_run_spec(&ofl_prog, &k.s[0], NULL, &r) || !oconn_state(&k.c[0], &v))
			goto out;
		if (i < PF_OFL_READD_DROPS) {
			H_EQ(r.verdict, H_DROP, "verdict: dropped, the client sends it again");
			H_EQ(r.delta[PF_STAT_OFL_READD_BUSY], 1, "ofl_readd_busy");
			H_EQ(r.delta[PF_STAT_OFL_DETACH_FAILED], 0, "ofl_detach_failed");
			H_EQ(v.s.in_state, PF_OFL_IN_HEAD, "still recording");
			H_EQ(v.s.readd_busy, i + 1, "drops in a row");
		} else {
			H_EQ(r.verdict, H_PASS, "verdict past the drops");
			H_EQ(r.delta[PF_STAT_OFL_READD_BUSY], 0, "ofl_readd_busy");
			H_EQ(r.delta[PF_STAT_OFL_DETACH_FAILED], 1, "ofl_detach_failed");
			H_EQ(v.s.in_state, PF_OFL_IN_STOP, "recording stopped");
		}
		H_EQ(v.s.n_req, 0, "requests recorded");
		H_EQ(v.s.detached, PF_OFL_DET_OUT, "detached");
		H_CHECK(!oconn_in_map(&k.c[0]), "the socket in pf_ofl_socks");
	}
	/* the old psock gone: back in at the next request, recorded, the
	 * drops counted from zero again */
	if (!H_CHECK(!bpf_map_delete_elem(other, &zero), "the socket out of the other map: %s",
		     strerror(errno)) ||
	    !oconn_arm_det(&k.c[0], k.s[0].seq, PF_OFL_DET_OUT, 0, false) ||
	    !oconn_state(&k.c[0], &v))
		goto out;
	v.s.readd_busy = 2;
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_ofl_sk), &k.c[0].sfd, &v,
					  BPF_ANY), "pf_ofl_sk: %s", strerror(errno)) ||
	    !h_run_spec(&ofl_prog, &k.s[0], NULL, &r) || !oconn_state(&k.c[0], &v))
		goto out;
	H_EQ(r.verdict, H_PASS, "verdict once the psock is gone");
	H_EQ(r.delta[PF_STAT_OFL_READDED], 1, "ofl_readded");
	H_EQ(r.delta[PF_STAT_OFL_REQ_RECORDED], 1, "ofl_req_recorded");
	H_EQ(v.s.readd_busy, 0, "drops in a row after the re-add");
	H_EQ(v.s.detached, PF_OFL_DET_IN, "detached after the re-add");
	H_CHECK(oconn_in_map(&k.c[0]), "the socket not back in pf_ofl_socks");
out:
	if (in_socks)
		bpf_prog_detach2(msg, socks, BPF_SK_MSG_VERDICT);
	if (in_other)
		bpf_prog_detach2(msg, other, BPF_SK_MSG_VERDICT);
	if (other >= 0)
		close(other);
	ocase_close(&k);
}

/* The race itself, driven (bpf/pf_test.h): TC egress of a socket that
 * asked to leave stops on a second CPU between its lock section and its
 * delete (PF_TP_OFL_LEAVE) while the recorder takes the connection's
 * next request on the first. Whatever the order, a socket the recorder
 * still records for must be in the map: the bug left it out and marked
 * in (its next response unseen by the SK_MSG program). */
static void t_leave_race_driven(void)
{
	int leave = bpf_map__fd(h_skel->maps.pf_ofl_leave);
	struct h_run r, re;
	struct pf_flow_key key;
	struct pf_ofl_sk v;
	struct pkt_spec out;
	struct ocase k;
	__u64 c;
	bool in;

	if (!ocase_open(&k, GET_O(OK_ORIGIN), NULL))
		goto out;
	unpin(); /* h_pause_start takes two CPUs */
	oseg_out(&out, &key, &k.c[0], "0123456789");
	c = ocookie(&k.c[0]);
	if (!oconn_arm_det(&k.c[0], k.s[0].seq, PF_OFL_DET_IN, 1, true) ||
	    !H_CHECK(!bpf_map_update_elem(leave, &key, &c, BPF_ANY), "pf_ofl_leave: %s",
		     strerror(errno)) ||
	    !h_pause_start(&h_tc_out, &out, PF_TP_OFL_LEAVE))
		goto out;
	if (!h_run_spec(&ofl_prog, &k.s[0], NULL, &r)) {
		h_pause_finish(NULL);
		goto out;
	}
	if (!h_pause_finish(&re) || !oconn_state(&k.c[0], &v))
		goto out;
	in = oconn_in_map(&k.c[0]);
	H_EQ(re.delta[PF_STAT_OFL_DETACHED], 1, "ofl_detached (egress)");
	H_CHECK(!(v.s.in_state == PF_OFL_IN_HEAD && !in),
		"recording goes on for a socket out of the map (detached %u, %u recorded)",
		v.s.detached, v.s.n_req);
	H_CHECK(in == (v.s.detached == PF_OFL_DET_IN),
		"in the map: %d, but detached %u", in, v.s.detached);
	H_EQ(r.delta[PF_STAT_OFL_LEAVE_RACE], 1, "ofl_leave_race (recorder)");
	H_EQ(v.s.in_state, PF_OFL_IN_STOP, "recording stopped");
	H_EQ(v.s.detached, PF_OFL_DET_OUT, "detached after both");
out:
	ocase_close(&k);
}

/* ---- shadow mode's response reader (pf_shd_tc_out) ---- */

static struct h_prog shd_prog = {
	.name = "pf_shd_tc_out", .fd = -1, .kind = H_KIND_TC,
	.retval = { [H_PASS] = TC_ACT_UNSPEC, [H_TX] = TC_ACT_REDIRECT,
		    [H_DROP] = TC_ACT_SHOT },
};

/* One server segment holding a chunked response of 60 one-byte chunks
 * whole (its head, 61 chunk-size lines and the trailer: 63 units, as a
 * GSO skb of a chunked body can), then the next response in the next
 * segment. The reader follows every unit of a segment up to
 * PF_SHD_TURNS: with 8 turns of which each unit took two (4 units a
 * segment), and at 16 turns (the unrolled loop's verifier bound), it
 * stopped in the first and counted the second ofl_missed. */
static void t_shd_units_per_segment(void)
{
	static const char resp2[] = "HTTP/1.1 204 No Content\r\n\r\n";
	char resp1[1024];
	struct pf_flow_key key;
	struct pkt_spec out;
	struct pf_ofl_sk v;
	struct h_run r;
	struct ocase k;
	size_t n;
	int i;

	n = (size_t)snprintf(resp1, sizeof(resp1),
			     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 60; i++)
		n += (size_t)snprintf(resp1 + n, sizeof(resp1) - n, "1\r\n%c\r\n", 'a' + i % 26);
	n += (size_t)snprintf(resp1 + n, sizeof(resp1) - n, "0\r\n\r\n");
	if (!ocase_open(&k, GET_O(OK_ORIGIN), NULL))
		goto out;
	shd_prog.fd = bpf_program__fd(h_skel->progs.pf_shd_tc_out);
	h_cfg()->shadow = 1;
	/* two requests recorded, no response read yet */
	memset(&v, 0, sizeof(v));
	v.s.in_state = PF_OFL_IN_HEAD;
	v.s.n_req = 2;
	v.s.q[0].kind = v.s.q[1].kind = PF_OFL_VARY;
	if (!H_CHECK(!bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_ofl_sk), &k.c[0].sfd, &v,
					  BPF_ANY), "pf_ofl_sk: %s", strerror(errno)))
		goto out;
	oseg_out(&out, &key, &k.c[0], resp1);
	if (!h_run_spec(&shd_prog, &out, NULL, &r) || !oconn_state(&k.c[0], &v))
		goto out;
	H_EQ(r.delta[PF_STAT_SHD_READ], 1, "first segment: shd_read");
	/* read to its end: the next head where the segment ends */
	H_CHECK(v.out_state == PF_OFL_OUT_HEAD ||
		(v.out_state == PF_OFL_OUT_BODY && v.out_after == PF_OFL_OUT_HEAD),
		"first segment: out_state %u (after %u), want a head next", v.out_state,
		v.out_after);
	H_EQ(v.out_seq, P0 + (__u32)n, "first segment: out_seq");
	out.seq = P0 + (__u32)n;
	out.pay = resp2;
	out.paylen = sizeof(resp2) - 1;
	if (!h_run_spec(&shd_prog, &out, NULL, &r) || !oconn_state(&k.c[0], &v))
		goto out;
	H_EQ(r.delta[PF_STAT_OFL_MISSED], 0, "second segment: ofl_missed");
	H_EQ(r.delta[PF_STAT_SHD_READ], 1, "second segment: shd_read");
	H_EQ(v.s.n_resp, 2, "responses read");
out:
	h_cfg()->shadow = 0;
	ocase_close(&k);
}

/* Overlapping rules (review finding MED-1): the recorder's entries
 * carry Vary: Origin wherever the URL's answer depends on the origin --
 * the "*" answer after an origin's own rule (PF_OFL_ALLOW with the
 * origin "*"), a responses: false rule's requests when a responses:
 * true rule applies too (PF_OFL_VARY with PF_OFL_E_KEEP: Vary only, the
 * app's own lines kept); a "*" rule alone: no Vary. */
static const char overlap_policy[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - paths: [/a/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET]\n"
	"    credentials: true\n"
	"    responses: true\n"
	"  - paths: [/a/, /star/]\n"
	"    origins: [\"*\"]\n"
	"    methods: [GET]\n"
	"    responses: true\n"
	"  - paths: [/b/]\n"
	"    origins: [https://a.test]\n"
	"    methods: [GET]\n"
	"  - paths: [/b/]\n"
	"    origins: [https://b.test]\n"
	"    methods: [GET]\n"
	"    responses: true\n";

static void t_entry_overlap(void)
{
	static const struct {
		const char *req;
		__u8 kind, flags, rule;
	} want[] = {
		{ "GET /a/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		  PF_OFL_ALLOW, 0, 1 },
		{ "GET /a/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://evil.test\r\n\r\n",
		  PF_OFL_ALLOW, 0, 1 },
		{ "GET /a/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN "\r\n\r\n",
		  PF_OFL_ALLOW, PF_OFL_E_CRED, 0 },
		{ "GET /star/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://evil.test\r\n\r\n",
		  PF_OFL_STAR, 0, 1 },
		{ "GET /b/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://a.test\r\n\r\n",
		  PF_OFL_VARY, PF_OFL_E_KEEP, 2 },
		{ "GET /b/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		  PF_OFL_VARY, PF_OFL_E_KEEP, 2 },
		{ "GET /b/x HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://b.test\r\n\r\n",
		  PF_OFL_ALLOW, 0, 3 },
	};
	struct pkt_spec s;
	struct ocase k;
	unsigned i;

	if (!ocase_open_pol(&k, overlap_policy, want[0].req, NULL))
		goto out;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		oseg(&s, &k.c[0], want[i].req, S0);
		if (!record_fresh(&k.c[0], &s, &k.got))
			goto out;
		H_CHECK(k.got.e.kind == want[i].kind && k.got.e.flags == want[i].flags &&
			k.got.e.rule == want[i].rule,
			"request %u: entry kind %u flags 0x%x rule %u, want %u 0x%x %u", i,
			k.got.e.kind, k.got.e.flags, k.got.e.rule, want[i].kind, want[i].flags,
			want[i].rule);
		if (want[i].kind == PF_OFL_ALLOW && want[i].rule == 1)
			H_CHECK(k.got.e.origin_len == 1 && k.got.e.origin[0] == '*',
				"request %u: origin '%.*s', want '*'", i,
				k.got.e.origin_len & 127, k.got.e.origin);
	}
out:
	ocase_close(&k);
}

/* The recorder's entries for a preflight the answer path passed to the
 * app (its Access-Control-* lines kept: KEEP, Vary merged: VARY; counted
 * ofl_preflight_app) and for a path it cannot match without normalizing
 * under app_headers: replace (the app's lines go: VARY without KEEP;
 * counted ofl_path_unnorm) -- the datapath's pf_ofl_entry_fix, which
 * test_offload.c checks against the edits. */
static void t_entry_preflight_unnorm(void)
{
	static const struct {
		const char *req;
		__u8 kind, flags;
		__u64 d_pre, d_unnorm;
	} want[] = {
		{ "OPTIONS /v1/items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
		  "\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		  PF_OFL_VARY, PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT, 1, 0 },
		{ "OPTIONS /v1/items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
		  "\r\n\r\n",
		  PF_OFL_ALLOW, PF_OFL_E_CRED, 0, 0 },
		{ "GET /v1//items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " BAD_ORIGIN
		  "\r\n\r\n",
		  PF_OFL_VARY, PF_OFL_E_UNNORM, 0, 1 },
		{ "OPTIONS /v1//items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
		  "\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		  PF_OFL_VARY, PF_OFL_E_KEEP | PF_OFL_E_PREFLIGHT, 1, 0 },
		{ "GET /v2//items HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
		  PF_OFL_VARY, PF_OFL_E_UNNORM, 0, 1 },
		{ "OPTIONS /other HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
		  "\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		  PF_OFL_NONE, 0, 0, 0 },
	};
	struct pkt_spec s;
	struct ocase k;
	unsigned i;

	if (!ocase_open(&k, want[0].req, NULL))
		goto out;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		oseg(&s, &k.c[0], want[i].req, S0);
		if (!record_fresh(&k.c[0], &s, &k.got))
			goto out;
		H_CHECK(k.got.e.kind == want[i].kind && k.got.e.flags == want[i].flags &&
			k.got.d_preflight == want[i].d_pre && k.got.d_unnorm == want[i].d_unnorm,
			"request %u: entry kind %u flags 0x%x, counted %llu %llu; want %u 0x%x, %llu %llu",
			i, k.got.e.kind, k.got.e.flags, (unsigned long long)k.got.d_preflight,
			(unsigned long long)k.got.d_unnorm, want[i].kind, want[i].flags,
			(unsigned long long)want[i].d_pre, (unsigned long long)want[i].d_unnorm);
	}
out:
	ocase_close(&k);
}

/* The recorder's entry holds the origin byte for byte (copied 8 bytes a
 * step, pf_ofl_entry_rule's pf_put_words), in the BPF build: origins
 * across the word boundaries up to the longest a policy takes (111
 * bytes). */
static void t_entry_origin_words(void)
{
	static const __u32 lens[] = { 23, 24, 25, 48, 49, 56, 57, 64, 104, 105, 110, 111 };
	char origin[PF_TOKEN_MAX + 1], policy[512], req[512];
	struct ocase k;
	unsigned i, j;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(origin, 0, sizeof(origin));
		memcpy(origin, "https://", 8);
		memset(origin + 8, 'a' + i, lens[i] - 8 - 5);
		for (j = 9; j + 1 < lens[i] - 8 - 5; j += 10)
			origin[8 + j] = '.'; /* labels of at most 63 bytes */
		memcpy(origin + lens[i] - 5, ".test", 5);
		snprintf(policy, sizeof(policy),
			 "ports: [8080]\nrules:\n  - paths: [/v1/]\n    origins: [%s]\n"
			 "    methods: [GET]\n    responses: true\n", origin);
		snprintf(req, sizeof(req), GET_O("%s"), origin);
		if (ocase_open_pol(&k, policy, req, NULL) && record(&k.c[0], &k.s[0], &k.got))
			H_CHECK(k.got.e.kind == PF_OFL_ALLOW && k.got.e.origin_len == lens[i] &&
					!memcmp(k.got.e.origin, origin, lens[i]),
				"origin of %u bytes: entry kind %u, origin_len %u, origin %.*s",
				lens[i], k.got.e.kind, k.got.e.origin_len,
				k.got.e.origin_len & 127, k.got.e.origin);
		ocase_close(&k);
	}
}

/* The recorder's learner (pf_ofl_learn: a regex-only origin of a
 * responses: true rule, handed to the daemon) punts a client address at
 * most PF_PUNT_SRC_MAX times a second, as the answer path does: 65
 * requests from 127.0.0.1, each with a new origin, make 64 records, the
 * 65th counted pass_punt_limit. Without the limit: 65 (a read-only review,
 * stop 52: one connection's requests filled the daemon's ring). */
static void t_learn_src_limit(void)
{
	static const char policy[] =
		"ports: [8080]\nrules:\n  - paths: [/v1/]\n"
		"    origins: [{regex: 'https://pr-[0-9]+\\.x\\.test'}]\n"
		"    methods: [GET]\n    responses: true\n";
	__u8 src[16] = { 127, 0, 0, 1 };  /* pf_punt_srcs key: the address */
	char req[256];
	struct timespec ts;
	struct pkt_spec seg;
	struct ocase k;
	struct h_run r;
	__u64 limited = 0, learned = 0, key;
	unsigned i, n;
	int fd;

	if (!ocase_open_pol(&k, policy, GET_O("https://pr-0.x.test"), NULL))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	h_cfg()->heartbeat_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	bpf_map_delete_elem(bpf_map__fd(h_skel->maps.pf_punt_srcs), src);
	/* no wait left from another run of the case: each origin punts */
	fd = bpf_map__fd(h_skel->maps.pf_punted);
	while (!bpf_map_get_next_key(fd, NULL, &key))
		bpf_map_delete_elem(fd, &key);
	h_punts_drain(NULL, NULL);
	for (i = 0; i <= PF_PUNT_SRC_MAX; i++) {
		snprintf(req, sizeof(req), GET_O("https://pr-%u.x.test"), i);
		oseg(&seg, &k.c[0], req, S0);
		if (!oconn_arm(&k.c[0], S0) || !h_run_spec(&ofl_prog, &seg, NULL, &r))
			goto out;
		limited += r.delta[PF_STAT_PASS_PUNT_LIMIT];
		learned += r.delta[PF_STAT_OFL_LEARN];
	}
	n = h_punts_drain(NULL, NULL);
	H_EQ(learned, PF_PUNT_SRC_MAX, "ofl_learn");
	H_EQ(n, PF_PUNT_SRC_MAX, "pf_punt records");
	H_EQ(limited, 1, "pass_punt_limit");
out:
	ocase_close(&k);
}

/* With the offload on, TC ingress tail-calls the recorder (pf_ofl_tail,
 * as run sets it up) for what it passes: a frame whose IP length runs
 * past its end is counted as malformed once in either mode -- the
 * recorder parses it again and counts nothing (pf_reparse_pkt). XDP
 * mode with metadata: XDP counts it, and TC ingress, which takes the
 * unflagged frame straight to the recorder, adds nothing. */
static void t_malformed_once(void)
{
	static const struct h_delta once[] = { H_D(MALFORMED, 1), H_DEND };
	static const struct h_delta none[] = { H_DEND };
	__u32 key = PF_OFL_TAIL_REC;
	int fd = bpf_program__fd(h_skel->progs.pf_ofl_tc);
	int tail = bpf_map__fd(h_skel->maps.pf_ofl_tail);
	bool meta = h_xdp() && !h_skel->rodata->pf_xdp_no_meta;
	struct pkt_spec s;
	struct h_run r;
	__u8 b[PKT_MAX];
	size_t n;

	pkt_default(&s, 4);
	s.pay = H_PREFLIGHT;
	s.paylen = sizeof(H_PREFLIGHT) - 1;
	s.cut = 20;
	n = pkt_build(&s, b, sizeof(b));
	if (!H_CHECK(!bpf_map_update_elem(tail, &key, &fd, BPF_ANY), "pf_ofl_tail: %s",
		     strerror(errno)))
		return;
	h_cfg()->ofl_on = 1;
	if (h_run(h_in, b, n, NULL, &r) &&
	    H_CHECK(r.verdict == H_PASS && r.out_len == n && !memcmp(r.out, b, n),
		    "frame cut 20 bytes short of its IP length: passed unchanged") &&
	    h_check_deltas(&r, once) && meta && h_run(&h_tc_in, b, n, NULL, &r) &&
	    H_CHECK(r.verdict == H_PASS, "TC ingress after XDP: passed"))
		h_check_deltas(&r, none);
	h_cfg()->ofl_on = 0;
	bpf_map_delete_elem(tail, &key);
}

/* The recorder on frame (len bytes) of o, not armed again: what it
 * counted (ofl_in_csum, ofl_req_recorded) and where o's next head is
 * then. A check named what. */
static void csum_run(const struct oconn *o, const __u8 *frame, size_t len,
		     const struct h_env *env, long long d_csum, __u32 next, __u32 n_req,
		     const char *what)
{
	struct pf_ofl_sk v;
	struct h_run r;

	if (!h_run(&ofl_prog, frame, len, env, &r) || !oconn_state(o, &v))
		return;
	H_CHECK(r.verdict == H_PASS && r.delta[PF_STAT_OFL_IN_CSUM] == d_csum &&
			r.delta[PF_STAT_OFL_REQ_RECORDED] == (d_csum ? 0 : 1) &&
			v.s.next == next && v.s.n_req == n_req &&
			v.s.in_state == PF_OFL_IN_HEAD,
		"%s: verdict %d, ofl_in_csum +%lld (want +%lld), ofl_req_recorded +%lld, "
		"next %u (want %u), n_req %u (want %u), in_state %u",
		what, r.verdict, r.delta[PF_STAT_OFL_IN_CSUM], d_csum,
		r.delta[PF_STAT_OFL_REQ_RECORDED], v.s.next, next, v.s.n_req, n_req,
		v.s.in_state);
}

/* k's first segment, its checksum bad or right, built and run through
 * the recorder in env (csum_run's expectations). */
static void csum_send(struct ocase *k, int bad, const struct h_env *env, long long d_csum,
		      __u32 next, __u32 n_req, const char *what)
{
	__u8 frame[PKT_MAX];
	size_t len;

	k->s[0].bad_csum = bad;
	len = pkt_build(&k->s[0], frame, sizeof(frame));
	csum_run(&k->c[0], frame, len, env, d_csum, next, n_req, what);
}

/* A request segment whose TCP checksum is wrong (a test run's skb is
 * CHECKSUM_NONE: summed) is not recorded -- next stays, counted
 * ofl_in_csum -- and the same segment with the right checksum (its
 * retransmission) then is. Without the check the bad copy was recorded
 * and moved next past the head: the good one was "already parsed". */
static void t_csum_bad_not_recorded(void)
{
	const char *x = GET_O(OK_ORIGIN);
	struct ocase k;

	if (ocase_open(&k, x, NULL) && oconn_arm(&k.c[0], S0)) {
		csum_send(&k, 1, NULL, 1, S0, 0, "bad checksum");
		csum_send(&k, 0, NULL, 0, S0 + (__u32)strlen(x), 1, "its retransmission");
	}
	ocase_close(&k);
}

/* A segment longer than PF_OFL_CSUM_CHUNK (2,048: a head and its
 * Content-Length body, total bytes) is summed in chunks through the
 * recorder's buffer: one
 * byte changed in the second chunk after the checksum was computed (the
 * field right for the bytes sent) is not recorded; the segment as sent
 * is, next past its body. total 3003: the last chunk (955 bytes) is
 * zero-padded over the first chunk's bytes left in the buffer. (A test
 * run's skb holds at most about 3.5 KiB: two chunks here, up to 32 in a
 * 64 KiB one.) */
static void csum_two_chunks(const unsigned total)
{
	static char pay[3004];
	__u8 frame[PKT_MAX], bad[PKT_MAX];
	struct ocase k;
	size_t len;
	int h;

	h = snprintf(pay, sizeof(pay),
		     "PUT /v1/items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
		     "\r\nContent-Length: 2000\r\n\r\n");
	/* the body fills the segment: its length in place of the 2000 */
	snprintf(pay, sizeof(pay),
		 "PUT /v1/items HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " OK_ORIGIN
		 "\r\nContent-Length: %4u\r\n\r\n", total - (unsigned)h);
	memset(pay + h, 'b', total - (unsigned)h);
	pay[total] = 0;
	if (!ocase_open(&k, pay, NULL) || !oconn_arm(&k.c[0], S0))
		goto out;
	len = pkt_build(&k.s[0], frame, sizeof(frame));
	if (!H_CHECK(k.s[0].paylen == total && len > total, "payload %u bytes, frame %zu",
		     k.s[0].paylen, len))
		goto out;
	memcpy(bad, frame, len);
	bad[len - total + 2500] ^= 0x10; /* a body byte in the second chunk */
	csum_run(&k.c[0], bad, len, NULL, 1, S0, 0, "a byte changed past 2048");
	csum_run(&k.c[0], frame, len, NULL, 0, S0 + total, 1, "as sent");
out:
	ocase_close(&k);
}

static void t_csum_two_chunks(void) { csum_two_chunks(3000); }
static void t_csum_two_chunks_odd(void) { csum_two_chunks(3003); }

/* One recorder run on o's segment carrying pay at seq: passed, with
 * ofl_in_split and ofl_req_recorded moved by d_split and d_rec, then the
 * socket's state in *v. */
static bool split_run(const struct oconn *o, const char *pay, __u32 seq, long long d_split,
		      long long d_rec, struct pf_ofl_sk *v, const char *what)
{
	struct pkt_spec sp;
	struct h_run r;

	oseg(&sp, o, pay, seq);
	return h_run_spec(&ofl_prog, &sp, NULL, &r) && oconn_state(o, v) &&
	       H_CHECK(r.verdict == H_PASS && r.delta[PF_STAT_OFL_IN_SPLIT] == d_split &&
			       r.delta[PF_STAT_OFL_REQ_RECORDED] == d_rec &&
			       !r.delta[PF_STAT_OFL_IN_UNPARSED] && v->s.in_state == PF_OFL_IN_HEAD,
		       "%s: verdict %d, ofl_in_split +%lld (want +%lld), ofl_req_recorded +%lld "
		       "(want +%lld), ofl_in_unparsed +%lld, in_state %u",
		       what, r.verdict, r.delta[PF_STAT_OFL_IN_SPLIT], d_split,
		       r.delta[PF_STAT_OFL_REQ_RECORDED], d_rec, r.delta[PF_STAT_OFL_IN_UNPARSED],
		       v->s.in_state);
}

/* Does o's server socket hold a split head in pf_ofl_split (its socket
 * storage: created at the hold, deleted once the head is recorded)? */
static bool oconn_holds(const struct oconn *o)
{
	static __u8 v[16384]; /* struct pf_split (bpf/pf_split.h), ~8 KiB */

	if (!H_CHECK(bpf_map__value_size(h_skel->maps.pf_ofl_split) <= sizeof(v),
		     "test bug: pf_ofl_split's value over %zu bytes", sizeof(v)))
		return false;
	return !bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_ofl_split), &o->sfd, v);
}

/* A 2,994-byte GET head, its Origin allowed and a 2,900-byte Cookie line,
 * in x, and cut into three segments of at most 1,448 bytes in seg. */
static void cookie_head(char x[3100], char seg[3][1500])
{
	unsigned i;
	int n;

	n = snprintf(x, 3100, "GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\n"
		     "Origin: " OK_ORIGIN "\r\nCookie: s=");
	memset(x + n, 'c', 2900);
	snprintf(x + n + 2900, 3100 - (size_t)n - 2900, "\r\n\r\n");
	for (i = 0; i < 3; i++)
		snprintf(seg[i], 1500, "%.1448s", x + 1448 * i);
}

/* A request head split over three segments at TC (no GRO: a veth, a NIC
 * without it), a 2,994-byte head: the first held on the socket
 * (ofl_in_split), the second holding it on, the third completing it --
 * recorded as a whole one, its entry the allowed origin's, next past it.
 * Before, the first segment stopped the recording (ofl_in_unparsed) and
 * every later response of the connection went out without its CORS
 * headers. */
static void split_head_recorded(bool out, bool dup)
{
	static char x[3100], seg[3][1500];
	struct pf_ofl_sk v;
	struct ocase k;

	cookie_head(x, seg);
	if (ocase_open(&k, seg[0], NULL) &&
	    (out ? oconn_arm_det(&k.c[0], S0, PF_OFL_DET_OUT, 0, false) : oconn_arm(&k.c[0], S0)) &&
	    split_run(&k.c[0], seg[0], S0, 1, 0, &v, "first segment") &&
	    H_EQ(v.s.next, S0, "next (held)") &&
	    H_CHECK(oconn_holds(&k.c[0]), "no pf_ofl_split storage after the first segment") &&
	    split_run(&k.c[0], seg[1], S0 + 1448, 0, 0, &v, "second segment") &&
	    H_EQ(v.s.next, S0, "next (held on)") &&
	    (!dup || split_run(&k.c[0], seg[0], S0, 0, 0, &v, "the first segment again")) &&
	    split_run(&k.c[0], seg[2], S0 + 2896, 0, 1, &v, "third segment"))
		H_CHECK(v.s.next == S0 + (__u32)strlen(x) && v.s.n_req == 1 &&
				v.s.q[0].kind == PF_OFL_ALLOW &&
				v.s.q[0].origin_len == strlen(OK_ORIGIN) &&
				!memcmp(v.s.q[0].origin, OK_ORIGIN, strlen(OK_ORIGIN)),
			"next %u (want %u), n_req %u, entry kind %u (want %u), origin %.*s",
			v.s.next, S0 + (__u32)strlen(x), v.s.n_req, v.s.q[0].kind, PF_OFL_ALLOW,
			v.s.q[0].origin_len, v.s.q[0].origin);
	/* recorded: its storage let go (before, 8 KiB a socket until it
	 * closed, charged to optmem_max) */
	if (h_ok())
		H_CHECK(!oconn_holds(&k.c[0]), "pf_ofl_split storage kept after the head was recorded");
	if (out && h_ok())
		H_CHECK(v.s.detached == PF_OFL_DET_IN && oconn_in_map(&k.c[0]),
			"the socket not back in pf_ofl_socks (detached %u)", v.s.detached);
	ocase_close(&k);
}

static void t_split_head_recorded(void)
{
	split_head_recorded(false, false);
}

/* The cookie head's three segments in another order than sent (one lost
 * on the way, its copy later): each row the order, and per segment the
 * moves of ofl_in_split (held), ofl_in_ahead (kept ahead of the bytes
 * missing in front of it) and ofl_req_recorded. The last recorded
 * whole, the storage then let go. */
struct ofl_order {
	unsigned order[3];
	long long split[3], ahead[3], rec[3];
};

static void t_split_head_order(const void *arg)
{
	const struct ofl_order *o = arg;
	static char x[3100], seg[3][1500];
	struct pf_ofl_sk v;
	struct pkt_spec sp;
	struct ocase k;
	struct h_run r;
	__u32 i, j;

	cookie_head(x, seg);
	if (!ocase_open(&k, seg[0], NULL) || !oconn_arm(&k.c[0], S0))
		goto out;
	for (j = 0; j < 3; j++) {
		i = o->order[j];
		oseg(&sp, &k.c[0], seg[i], S0 + 1448 * i);
		if (!h_run_spec(&ofl_prog, &sp, NULL, &r) ||
		    !H_CHECK(r.verdict == H_PASS && r.delta[PF_STAT_OFL_IN_SPLIT] == o->split[j] &&
				     r.delta[PF_STAT_OFL_IN_AHEAD] == o->ahead[j] &&
				     r.delta[PF_STAT_OFL_REQ_RECORDED] == o->rec[j] &&
				     !r.delta[PF_STAT_OFL_IN_UNPARSED],
			     "segment %u: verdict %d, ofl_in_split +%lld (want +%lld), ofl_in_ahead "
			     "+%lld (want +%lld), ofl_req_recorded +%lld (want +%lld), "
			     "ofl_in_unparsed +%lld", i + 1, r.verdict,
			     r.delta[PF_STAT_OFL_IN_SPLIT], o->split[j], r.delta[PF_STAT_OFL_IN_AHEAD],
			     o->ahead[j], r.delta[PF_STAT_OFL_REQ_RECORDED], o->rec[j],
			     r.delta[PF_STAT_OFL_IN_UNPARSED]))
			goto out;
	}
	if (!oconn_state(&k.c[0], &v))
		goto out;
	H_CHECK(v.s.next == S0 + (__u32)strlen(x) && v.s.n_req == 1 && !v.s.has_gap &&
			v.s.in_state == PF_OFL_IN_HEAD && v.s.q[0].kind == PF_OFL_ALLOW,
		"next %u (want %u), n_req %u, gap %u, in_state %u, entry kind %u (want %u)",
		v.s.next, S0 + (__u32)strlen(x), v.s.n_req, v.s.has_gap, v.s.in_state,
		v.s.q[0].kind, PF_OFL_ALLOW);
	if (h_ok())
		H_CHECK(!oconn_holds(&k.c[0]), "pf_ofl_split storage kept after the head was recorded");
out:
	ocase_close(&k);
}

/* Its first segment lost: the second and third go through first, kept
 * ahead of it, and its copy joins them. Before, the first segment was
 * held for a rest that had gone through: the recording waited for good,
 * and every later response of the connection went out without its CORS
 * headers (ofl_no_request). */
static const struct ofl_order oo_rest_first = {
	{ 1, 2, 0 }, { 0, 0, 0 }, { 1, 1, 0 }, { 0, 0, 1 },
};

/* Its middle segment lost: the first held, the third kept ahead, the
 * second's copy joins all three. Before, the third went through unkept,
 * and the head waited for it for good. */
static const struct ofl_order oo_middle_lost = {
	{ 0, 2, 1 }, { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 },
};

/* Its first two segments lost: the third kept ahead, the first's copy
 * held in front of it (the piece further on kept), the second's copy
 * joins all three. Before, holding the first let the piece go: the head
 * waited for bytes the socket had, and every later response of the
 * connection went out unchanged (ofl_no_request; e2e offload g2, XDP
 * mode, a 1-byte last segment through first). */
static const struct ofl_order oo_first_two_lost = {
	{ 2, 0, 1 }, { 0, 1, 0 }, { 1, 0, 0 }, { 0, 0, 1 },
};

/* Last to first: the third kept ahead, the second added to the piece's
 * start, the first's copy joins all three. Before, the second was not
 * kept: the head waited for bytes the socket had (ofl_no_request). */
static const struct ofl_order oo_reverse = {
	{ 2, 1, 0 }, { 0, 0, 0 }, { 1, 1, 0 }, { 0, 0, 1 },
};

/* The head's first segment held (first false: its last kept ahead),
 * then the whole head in one GRO-merged copy (the client's
 * retransmission, merged by the receiver): recorded from that copy, and
 * what was held or kept let go. Before, it stayed in the socket's
 * storage (~16 KiB charged to optmem_max) until the socket closed. */
static void split_whole_copy(bool first)
{
	static char x[3100], seg[3][1500];
	struct h_env gro = { .gso_segs = 3 };
	struct pf_ofl_sk v;
	struct pkt_spec sp;
	struct ocase k;
	struct h_run r;

	cookie_head(x, seg);
	if (!ocase_open(&k, seg[0], NULL) || !oconn_arm(&k.c[0], S0))
		goto out;
	oseg(&sp, &k.c[0], first ? seg[0] : seg[2], first ? S0 : S0 + 2896);
	if (!h_run_spec(&ofl_prog, &sp, NULL, &r) ||
	    !H_CHECK(r.delta[first ? PF_STAT_OFL_IN_SPLIT : PF_STAT_OFL_IN_AHEAD] == 1 &&
			     oconn_holds(&k.c[0]),
		     "segment %d: not %s (ofl_in_split +%lld, ofl_in_ahead +%lld)", first ? 1 : 3,
		     first ? "held" : "kept ahead", r.delta[PF_STAT_OFL_IN_SPLIT],
		     r.delta[PF_STAT_OFL_IN_AHEAD]))
		goto out;
	oseg(&sp, &k.c[0], x, S0);
	if (!h_run_spec(&ofl_prog, &sp, &gro, &r) || !oconn_state(&k.c[0], &v) ||
	    !H_CHECK(r.verdict == H_PASS && r.delta[PF_STAT_OFL_REQ_RECORDED] == 1 &&
			     v.s.next == S0 + (__u32)strlen(x) && v.s.in_state == PF_OFL_IN_HEAD,
		     "the whole copy: verdict %d, ofl_req_recorded +%lld, next %u (want %u), "
		     "in_state %u", r.verdict, r.delta[PF_STAT_OFL_REQ_RECORDED], v.s.next,
		     S0 + (__u32)strlen(x), v.s.in_state))
		goto out;
	H_CHECK(!oconn_holds(&k.c[0]), "pf_ofl_split storage kept after the head was recorded");
out:
	ocase_close(&k);
}

static void t_split_whole_after_hold(void)
{
	split_whole_copy(true);
}

static void t_split_whole_after_piece(void)
{
	split_whole_copy(false);
}

/* The first segment again after the second (a spurious retransmission):
 * nothing new, the head held on, not held anew from its first bytes
 * (review finding 3: the third segment then continued nothing, and every
 * later response went out unchanged). */
static void t_split_head_dup_first(void)
{
	split_head_recorded(false, true);
}

/* The same on a socket out of the SK_MSG path for a body (a download
 * before): put back before the whole head is recorded -- the joined
 * bytes kept over that re-add's second pass of the head (they are not
 * the segment's own). */
static void t_split_head_readded(void)
{
	split_head_recorded(true, false);
}

/* A request head of about 2,900 bytes in one segment -- a GET whose
 * Origin line follows a 2,800-byte Cookie line -- is recorded with its
 * verdict (the origin allowed), next past it. With the old bounds
 * (PF_REQ_MAX 2,048, PF_LINE_MAX 1,024) it was not: recording stopped
 * (ofl_in_unparsed), the response went out without its headers. */
static void t_large_head_recorded(void)
{
	static char x[3000];
	struct pf_ofl_sk v;
	struct ocase k;
	int n;

	n = snprintf(x, sizeof(x), "GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\n"
		     "Cookie: s=");
	memset(x + n, 'c', 2800);
	snprintf(x + n + 2800, sizeof(x) - (size_t)n - 2800, "\r\nOrigin: " OK_ORIGIN "\r\n\r\n");
	if (ocase_open(&k, x, NULL) && oconn_arm(&k.c[0], S0)) {
		csum_send(&k, 0, NULL, 0, S0 + (__u32)strlen(x), 1, "the large head");
		if (oconn_state(&k.c[0], &v))
			H_CHECK(v.s.q[0].kind == PF_OFL_ALLOW &&
					v.s.q[0].origin_len == strlen(OK_ORIGIN) &&
					!memcmp(v.s.q[0].origin, OK_ORIGIN, strlen(OK_ORIGIN)),
				"entry: kind %u (want %u), origin %.*s", v.s.q[0].kind,
				PF_OFL_ALLOW, v.s.q[0].origin_len, v.s.q[0].origin);
	}
	ocase_close(&k);
}

/* A bad segment beyond the next head (the next request's bytes, the head
 * still to come) is refused before it can mark a gap: counted, no gap;
 * the head then recorded with recording going on. Marked, its gap_end
 * past the head's end stopped the recording (ofl_in_gap) for a segment
 * the kernel drops. */
static void t_csum_bad_beyond_next(void)
{
	const char *x = GET_O(OK_ORIGIN);
	struct pkt_spec far;
	struct pf_ofl_sk v;
	__u8 frame[PKT_MAX];
	struct ocase k;
	size_t len;

	if (!ocase_open(&k, x, NULL) || !oconn_arm(&k.c[0], S0))
		goto out;
	far = k.s[0];
	far.seq += (__u32)strlen(x);
	far.bad_csum = 1;
	len = pkt_build(&far, frame, sizeof(frame));
	csum_run(&k.c[0], frame, len, NULL, 1, S0, 0, "bad, beyond the next head");
	if (!oconn_state(&k.c[0], &v) || !H_CHECK(!v.s.has_gap, "a gap marked"))
		goto out;
	csum_send(&k, 0, NULL, 0, S0 + (__u32)strlen(x), 1, "the head");
out:
	ocase_close(&k);
}

/* A segment past the largest window the socket can have advertised
 * (rcv_nxt + 65535 << wscale: the mock's) marks no gap -- the kernel
 * drops it: counted ofl_in_oow. Marked (before: a read-only review, stop
 * 52), a blind spoof's gap stopped the connection's recording for good
 * (ofl_in_gap). One inside the window still marks its gap. */
static void oow_gap(bool past)
{
	const char *x = GET_O(OK_ORIGIN);
	struct pf_sockinfo si = h_sock(S0, P0);
	struct pkt_spec far;
	struct pf_ofl_sk v;
	struct ocase k;
	struct h_run r;

	if (!ocase_open(&k, x, NULL) || !oconn_arm(&k.c[0], S0))
		goto out;
	h_set_sock(&si);
	far = k.s[0];
	far.seq = S0 + (past ? (65535u << si.wscale) + 1000 : 1000);
	if (!h_run_spec(&ofl_prog, &far, NULL, &r))
		goto out;
	H_EQ(r.delta[PF_STAT_OFL_IN_OOW], past, "ofl_in_oow");
	if (oconn_state(&k.c[0], &v))
		H_EQ(v.s.has_gap, !past, "a gap marked");
out:
	ocase_close(&k);
}

static void t_oow_no_gap(void) { oow_gap(true); }
static void t_in_window_gap(void) { oow_gap(false); }

/* A request head without ACK (tcp_rcv_established drops it) is not
 * recorded: nothing queued, next unmoved -- before (a read-only review,
 * stop 52) it was, and a spoof at next gave the real request's response
 * its verdict. */
static void t_no_ack_not_recorded(void)
{
	struct pf_ofl_sk v;
	struct ocase k;
	struct h_run r;

	if (!ocase_open(&k, GET_O(OK_ORIGIN), NULL) || !oconn_arm(&k.c[0], S0))
		goto out;
	k.s[0].flags &= (__u8)~TH_ACK;
	if (!h_run_spec(&ofl_prog, &k.s[0], NULL, &r))
		goto out;
	H_EQ(r.delta[PF_STAT_OFL_REQ_RECORDED], 0, "ofl_req_recorded");
	if (oconn_state(&k.c[0], &v)) {
		H_EQ(v.s.n_req, 0, "requests recorded");
		H_EQ(v.s.next, S0, "next");
	}
out:
	ocase_close(&k);
}

/* A GRO-merged skb (gso_segs > 1) is trusted as the preflight datapath
 * trusts it (pf_client_bytes): the stack verified its segments while
 * merging, its header checksum is the first segment's. Recorded
 * whatever its check field says. */
static void t_csum_gro_trusted(void)
{
	const char *x = GET_O(OK_ORIGIN);
	struct h_env gro = { .gso_segs = 2 };
	struct ocase k;

	if (ocase_open(&k, x, NULL) && oconn_arm(&k.c[0], S0))
		csum_send(&k, 1, &gro, 0, S0 + (__u32)strlen(x), 1, "GRO");
	ocase_close(&k);
}

void test_ofl(void)
{
	h_case("ofl_reuse_same_head", t_reuse_same_head);
	h_case("ofl_reuse_other_bytes", t_reuse_other_bytes);
	h_case("ofl_reuse_last_byte_1", t_reuse_last_byte_1);
	h_case("ofl_reuse_last_byte_7", t_reuse_last_byte_7);
	h_case("ofl_reuse_head_n_differs", t_reuse_head_n_differs);
	h_case("ofl_reuse_cleared_by_client_bytes", t_reuse_cleared_by_client_bytes);
	h_case("ofl_reuse_cleared_by_answer_path", t_reuse_cleared_by_answer_path);
	h_case("ofl_leave_race_stops_recording", t_leave_race);
	h_case("ofl_leave_round_trip", t_leave_round_trip);
	h_case("ofl_leave_race_driven", t_leave_race_driven);
	h_case("ofl_readd_busy_drops", t_readd_busy);
	h_case("shd_units_per_segment", t_shd_units_per_segment);
	h_case("ofl_entry_overlap", t_entry_overlap);
	h_case("ofl_entry_preflight_unnorm", t_entry_preflight_unnorm);
	h_case("ofl_entry_origin_words", t_entry_origin_words);
	h_case("ofl_learn_punts_at_most_64_a_second_per_address", t_learn_src_limit);
	h_case("ofl_segment_past_window_marks_no_gap", t_oow_no_gap);
	h_case("ofl_segment_in_window_marks_its_gap", t_in_window_gap);
	h_case("ofl_head_without_ack_not_recorded", t_no_ack_not_recorded);
	h_case("ofl_malformed_counted_once", t_malformed_once);
	h_case("ofl_csum_bad_not_recorded", t_csum_bad_not_recorded);
	h_case("ofl_large_head_recorded", t_large_head_recorded);
	h_case("ofl_split_head_recorded", t_split_head_recorded);
	h_case_p("ofl_split_head_rest_first_recorded", t_split_head_order, &oo_rest_first);
	h_case_p("ofl_split_head_middle_lost_recorded", t_split_head_order, &oo_middle_lost);
	h_case_p("ofl_split_head_first_two_lost_recorded", t_split_head_order, &oo_first_two_lost);
	h_case_p("ofl_split_head_last_to_first_recorded", t_split_head_order, &oo_reverse);
	h_case("ofl_split_head_whole_copy_after_hold_lets_go", t_split_whole_after_hold);
	h_case("ofl_split_head_whole_copy_after_piece_lets_go", t_split_whole_after_piece);
	h_case("ofl_split_head_readded", t_split_head_readded);
	h_case("ofl_split_head_first_segment_again", t_split_head_dup_first);
	h_case("ofl_csum_two_chunks", t_csum_two_chunks);
	h_case("ofl_csum_two_chunks_odd", t_csum_two_chunks_odd);
	h_case("ofl_csum_bad_beyond_next", t_csum_bad_beyond_next);
	h_case("ofl_csum_gro_trusted", t_csum_gro_trusted);
}
