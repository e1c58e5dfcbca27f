/* harness.c -- the BPF tier's harness: load, install policy, run, check (see harness.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"
#include "preflightd_test.skel.h"
#include "policy.h"

/* Rule 1: /reject/ from H_ORIGIN with a method other than PUT -> 403.
 * Rule 2: api.example.com, allowed origins -> 204; others forwarded.
 * Any other host (outside /reject/) matches no rule. */
const char H_POLICY[] =
	"ports: [8080, 8443]\n"
	"rules:\n"
	"  - paths: [/reject/]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [PUT]\n"
	"    on_deny: reject\n"
	"  - hosts: [api.example.com]\n"
	"    origins: [https://app.example.com, \"https://*.example.com\"]\n"
	"    methods: [GET, POST, PUT, PATCH, DELETE]\n"
	"    headers: [content-type, authorization, x-request-id]\n"
	"    credentials: true\n"
	"    max_age: 600\n";

struct h_prog h_tc_in = {
	.name = "pf_tc_ingress", .fd = -1, .kind = H_KIND_TC,
	.retval = { [H_PASS] = TC_ACT_UNSPEC, [H_TX] = TC_ACT_REDIRECT,
		    [H_DROP] = TC_ACT_SHOT },
};
struct h_prog h_tc_out = {
	.name = "pf_tc_egress", .fd = -1, .kind = H_KIND_TC,
	.retval = { [H_PASS] = TC_ACT_UNSPEC, [H_TX] = TC_ACT_REDIRECT,
		    [H_DROP] = TC_ACT_SHOT },
};

static struct preflightd_test *skel;
static int ncpu;
static int cap_fd = -1;     /* AF_PACKET socket on lo: frames the program sends */
static unsigned n_run, n_pass, n_fail;
static const char *filter;

/* The current case. */
static struct {
	const char *name;
	bool failed;
	char why[512];
} cur;

static void die(const char *what, int err)
{
	fprintf(stderr, "bpftest: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(2);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Install c into the maps exactly like user/maps.c pf_maps_install(). */
static void install_policy(const struct pf_compiled *c)
{
	struct pf_config *cfg = &skel->bss->pf_cfg;
	int tok_fd = bpf_map__fd(skel->maps.pf_tokens);
	int rule_fd = bpf_map__fd(skel->maps.pf_rules);
	unsigned i;
	__u32 idx;

	for (i = 0; i < c->n_toks; i++)
		if (bpf_map_update_elem(tok_fd, &c->keys[i], &c->vals[i], BPF_ANY))
			die("install tokens", errno);
	for (i = 0; i < PF_MAX_RULES; i++) {
		idx = c->slot * PF_MAX_RULES + i;
		if (bpf_map_update_elem(rule_fd, &idx, &c->rules[i], BPF_ANY))
			die("install rules", errno);
	}
	cfg->slot[c->slot] = c->info;
	memset(cfg->port_bits, 0, sizeof(cfg->port_bits));
	for (i = 0; i < c->n_ports; i++)
		cfg->port_bits[c->ports[i] >> 6] |= 1ULL << (c->ports[i] & 63);
	__atomic_store_n(&cfg->active_slot, c->slot, __ATOMIC_RELEASE);
}

/* A private netns with lo up, and a packet socket capturing what is
 * transmitted on lo (where test runs put their skb). */
static void setup_net(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr;
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)", errno);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket", errno);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo", errno);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo", errno);
	close(fd);
	cap_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (cap_fd < 0)
		die("packet socket", errno);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	if (bind(cap_fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind packet socket", errno);
}

/* Read what was transmitted on lo since the last call into r (if not
 * NULL): outgoing frames only (the looped-back copies are skipped). */
static void capture(struct h_run *r)
{
	struct sockaddr_ll from;
	socklen_t fl;
	__u8 buf[PKT_MAX];
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(cap_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (!r || from.sll_pkttype != PACKET_OUTGOING)
			continue;
		if (r->n_tx < H_MAX_TX) {
			memcpy(r->tx[r->n_tx], buf, (size_t)n);
			r->tx_len[r->n_tx] = (__u32)n;
		}
		r->n_tx++;
	}
}

void h_init(void)
{
	struct pf_policy pol;
	struct pf_compiled c;
	int err;

	setup_net();
	libbpf_set_print(quiet_print);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		die("possible CPUs", ncpu);
	skel = preflightd_test__open_and_load();
	if (!skel)
		die("open and load preflightd_test", errno);
	h_tc_in.fd = bpf_program__fd(skel->progs.pf_tc_ingress);
	h_tc_out.fd = bpf_program__fd(skel->progs.pf_tc_egress);
	memset(&pol, 0, sizeof(pol));
	memset(&c, 0, sizeof(c));
	err = pf_policy_load_string("bpftest.yaml", H_POLICY, &pol, stderr);
	if (err)
		die("load test policy", err);
	err = pf_policy_compile(&pol, 0, &c, stderr);
	if (err)
		die("compile test policy", err);
	install_policy(&c);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

void h_fini(void)
{
	preflightd_test__destroy(skel);
	skel = NULL;
	close(cap_fd);
}

void h_filter(const char *f)
{
	filter = f;
}

/* Empty the flow table, zero the counters, no socket, default config. */
static void reset(void)
{
	int fd = bpf_map__fd(skel->maps.pf_flows);
	struct pf_flow_key key;
	struct pf_sockinfo none = { 0 };
	__u64 *zeros = calloc((size_t)ncpu, sizeof(__u64));
	__u32 i;

	if (!zeros)
		die("calloc", ENOMEM);
	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			die("delete flow", errno);
	for (i = 0; i < PF_STAT__MAX; i++)
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.pf_stats), &i, zeros, BPF_ANY))
			die("zero stats", errno);
	free(zeros);
	h_set_sock(&none);
	skel->bss->pf_cfg.draining = 0;
	skel->bss->pf_cfg.date_valid = 0;
}

void h_case(const char *name, void (*fn)(void))
{
	if (filter && !strstr(name, filter))
		return;
	cur.name = name;
	cur.failed = false;
	cur.why[0] = 0;
	reset();
	fn();
	n_run++;
	if (cur.failed) {
		n_fail++;
		printf("not ok %u - %s: %s\n", n_run, name, cur.why);
	} else {
		n_pass++;
		printf("ok %u - %s\n", n_run, name);
	}
	fflush(stdout);
}

int h_summary(void)
{
	printf("%u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}

bool h_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ok || cur.failed)
		return ok;
	cur.failed = true;
	va_start(ap, fmt);
	n = vsnprintf(cur.why, sizeof(cur.why), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(cur.why))
		snprintf(cur.why + n, sizeof(cur.why) - n, " (%s:%d)", file, line);
	return false;
}

bool h_ok(void)
{
	return !cur.failed;
}

struct pf_sockinfo h_sock(__u32 rcv_nxt, __u32 snd_nxt)
{
	struct pf_sockinfo si = {
		.rcv_nxt = rcv_nxt, .copied_seq = rcv_nxt,
		.snd_nxt = snd_nxt, .snd_una = snd_nxt, .write_seq = snd_nxt,
		.mss = 1448, .rcv_wnd = 64256, .wscale = 7,
		.bytes_received = 0, .valid = 1, .ts_now = H_TS_NOW,
	};

	return si;
}

void h_set_sock(const struct pf_sockinfo *si)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pf_test_sock), &zero, si, BPF_ANY))
		die("set socket mock", errno);
}

struct pf_config *h_cfg(void)
{
	return &skel->bss->pf_cfg;
}

bool h_flow(const struct pkt_spec *s, struct pf_flow *f)
{
	struct pf_flow_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.caddr, s->saddr, s->family == 4 ? 4 : 16);
	memcpy(k.saddr, s->daddr, s->family == 4 ? 4 : 16);
	k.cport = htons(s->sport);
	k.sport = htons(s->dport);
	k.family = (__u8)s->family;
	return !bpf_map_lookup_elem(bpf_map__fd(skel->maps.pf_flows), &k, f);
}

unsigned h_flow_count(void)
{
	int fd = bpf_map__fd(skel->maps.pf_flows);
	struct pf_flow_key k, next;
	unsigned n = 0;
	int more = !bpf_map_get_next_key(fd, NULL, &k);

	while (more) {
		n++;
		more = !bpf_map_get_next_key(fd, &k, &next);
		k = next;
	}
	return n;
}

/* Sum of the per-CPU counters into v. */
static void read_stats(long long v[PF_STAT__MAX])
{
	__u64 *vals = calloc((size_t)ncpu, sizeof(__u64));
	__u32 i;
	int c;

	if (!vals)
		die("calloc", ENOMEM);
	for (i = 0; i < PF_STAT__MAX; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.pf_stats), &i, vals))
			die("read stats", errno);
		v[i] = 0;
		for (c = 0; c < ncpu; c++)
			v[i] += (long long)vals[c];
	}
	free(vals);
}

bool h_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	   const struct h_env *env, struct h_run *r)
{
	struct __sk_buff ctx_in, ctx_out;
	long long before[PF_STAT__MAX];
	int i;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = pkt,
		.data_size_in = (__u32)len,
		.data_out = r->out,
		.data_size_out = sizeof(r->out),
		.repeat = 1,
	);

	memset(&ctx_in, 0, sizeof(ctx_in));
	memset(&ctx_out, 0, sizeof(ctx_out));
	if (prog->kind == H_KIND_TC) {
		if (env) {
			ctx_in.mark = env->mark;
			ctx_in.gso_segs = env->gso_segs;
		}
		o.ctx_in = &ctx_in;
		o.ctx_size_in = sizeof(ctx_in);
		o.ctx_out = &ctx_out;
		o.ctx_size_out = sizeof(ctx_out);
	}
	read_stats(before);
	capture(NULL);
	r->n_tx = 0;
	r->err = bpf_prog_test_run_opts(prog->fd, &o);
	if (r->err)
		r->err = -errno;
	capture(r);
	read_stats(r->delta);
	for (i = 0; i < PF_STAT__MAX; i++)
		r->delta[i] -= before[i];
	r->retval = (int)o.retval;
	r->out_len = o.data_size_out;
	r->mark = ctx_out.mark;
	r->verdict = -1;
	for (i = 0; i < H_VERDICTS; i++)
		if (prog->retval[i] == r->retval)
			r->verdict = i;
	return H_CHECK(r->err == 0, "%s: bpf_prog_test_run_opts: %s", prog->name,
		       strerror(-r->err));
}

bool h_run_spec(const struct h_prog *prog, const struct pkt_spec *s,
		const struct h_env *env, struct h_run *r)
{
	__u8 buf[PKT_MAX];
	size_t n = pkt_build(s, buf, sizeof(buf));

	if (!H_CHECK(n > 0, "test bug: packet does not build"))
		return false;
	return h_run(prog, buf, n, env, r);
}

/* Name of counter i (its PF_STAT_ suffix). */
static const char *stat_name(int i)
{
	static const char *const names[] = {
#define PF_STAT_NAME(name, desc) #name,
		PF_STATS(PF_STAT_NAME)
#undef PF_STAT_NAME
	};

	return i >= 0 && i < PF_STAT__MAX ? names[i] : "?";
}

bool h_check_deltas(const struct h_run *r, const struct h_delta *d)
{
	long long want[PF_STAT__MAX] = { 0 };
	char moved[256] = "";
	size_t n = 0;
	int i, bad = -1;

	for (; d && d->stat >= 0; d++)
		want[d->stat] = d->n;
	for (i = 0; i < PF_STAT__MAX; i++) {
		if (r->delta[i] != want[i] && bad < 0)
			bad = i;
		if (r->delta[i] && n < sizeof(moved))
			n += (size_t)snprintf(moved + n, sizeof(moved) - n, " %s%+lld",
					      stat_name(i), r->delta[i]);
	}
	if (bad < 0)
		return true;
	return H_CHECK(false, "counter %s moved by %lld, want %lld (moved:%s)", stat_name(bad),
		       r->delta[bad], want[bad], moved);
}

const char *h_verdict_name(int v)
{
	static const char *const n[] = { "PASS", "TX", "DROP" };

	return v >= 0 && v < H_VERDICTS ? n[v] : "unknown";
}

bool h_out_view(const struct h_run *r, struct pkt_view *v)
{
	char err[128];

	if (!H_CHECK(!pkt_parse(r->out, r->out_len, v, err, sizeof(err)),
		     "output does not parse: %s", err))
		return false;
	if (!H_CHECK(v->ip_csum_ok, "output IPv4 header checksum is wrong"))
		return false;
	return H_CHECK(v->tcp_csum_ok, "output TCP checksum is wrong");
}

bool h_fix_run(const struct h_fix *f, struct h_run *r)
{
	static struct h_run local;
	__u8 in[PKT_MAX];
	size_t n = pkt_build(&f->in, in, sizeof(in));
	struct pkt_view v;
	bool ok;

	if (!r)
		r = &local;
	if (!H_CHECK(n > 0, "test bug: packet does not build"))
		return false;
	h_set_sock(&f->sock);
	if (!h_run(f->prog, in, n, &f->env, r))
		return false;
	ok = H_CHECK(r->verdict == f->verdict, "verdict %s (retval %d), want %s (retval %d)",
		     h_verdict_name(r->verdict), r->retval, h_verdict_name(f->verdict),
		     f->prog->retval[f->verdict]);
	if (f->unchanged)
		ok &= H_CHECK(r->out_len == n && !memcmp(r->out, in, n),
			      "output packet changed (%u bytes, input %zu)", r->out_len, n);
	else if (f->verdict != H_DROP)
		ok &= h_out_view(r, &v);
	ok &= H_EQ(r->n_tx, f->clones, "frames transmitted with bpf_clone_redirect");
	ok &= h_check_deltas(r, f->d);
	return ok;
}

void h_req_spec(struct pkt_spec *s, int family, const char *payload, __u32 seq,
		__u32 ack, __u32 tsval, __u32 tsecr)
{
	pkt_default(s, family);
	s->seq = seq;
	s->ack = ack;
	pkt_opt_ts(s, tsval, tsecr);
	s->pay = payload;
	s->paylen = (unsigned)strlen(payload);
}
