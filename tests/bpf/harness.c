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
struct h_prog h_xdp_in = {
	.name = "pf_xdp_ingress", .fd = -1, .kind = H_KIND_XDP,
	.retval = { [H_PASS] = XDP_PASS, [H_TX] = XDP_TX, [H_DROP] = XDP_DROP },
};
const struct h_prog *h_in = &h_tc_in;

static struct preflightd_test *skel;
static int ncpu;
static int cap_fd = -1;     /* AF_PACKET socket on lo: frames the program sends */
static int up_fd[2] = { -1, -1 }; /* ETH_P_IP/IPV6 sockets on lo: after TC ingress */
static int lo_ifindex;
static unsigned n_run, n_pass, n_fail;
static const char *filter;
static __u16 h0_ports[PF_MAX_PORTS];  /* H_POLICY's ports, restored by reset() */
static unsigned h0_nports;
static const char *slot1_yaml;        /* policy compiled into slot 1 */
static __u16 h1_ports[PF_MAX_PORTS];  /* ... and its ports */
static unsigned h1_nports;

/* The current case. */
static struct {
	const char *name;
	bool failed;
	bool xdp;
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
	struct pf_tok_key key, next;
	__u32 idx;
	int more;

	/* a reload: the slot's old tokens go first (user/maps.c
	 * pf_maps_clear_slot) */
	more = !bpf_map_get_next_key(tok_fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(tok_fd, &key, &next);
		if (key.slot == c->slot && bpf_map_delete_elem(tok_fd, &key))
			die("clear slot tokens", errno);
		key = next;
	}
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
	for (i = 0; i < c->n_ports; i++) {
		cfg->port_bits[c->ports[i] >> 6] |= 1ULL << (c->ports[i] & 63);
		cfg->xlate_bits[c->ports[i] >> 6] |= 1ULL << (c->ports[i] & 63);
	}
	__atomic_store_n(&cfg->active_slot, c->slot, __ATOMIC_RELEASE);
}

/* Make slot the active one, serving ports (what a reload switches). */
static void activate(__u32 slot, const __u16 *ports, unsigned n)
{
	struct pf_config *cfg = &skel->bss->pf_cfg;
	unsigned i;

	memset(cfg->port_bits, 0, sizeof(cfg->port_bits));
	for (i = 0; i < n; i++) {
		cfg->port_bits[ports[i] >> 6] |= 1ULL << (ports[i] & 63);
		cfg->xlate_bits[ports[i] >> 6] |= 1ULL << (ports[i] & 63);
	}
	__atomic_store_n(&cfg->active_slot, slot, __ATOMIC_RELEASE);
}

/* A private netns with lo up, and a packet socket capturing what is
 * transmitted on lo (where test runs put their skb). */
static void setup_net(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr;
	int fd, i;

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
	lo_ifindex = (int)if_nametoindex("lo");
	sll.sll_ifindex = lo_ifindex;
	if (bind(cap_fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind packet socket", errno);
	/* protocol-specific packet sockets are served after TC ingress
	 * (ptype_base), so they see what TC passed up the stack */
	for (i = 0; i < 2; i++) {
		__u16 proto = i ? ETH_P_IPV6 : ETH_P_IP;

		up_fd[i] = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(proto));
		if (up_fd[i] < 0)
			die("packet socket (protocol)", errno);
		sll.sll_protocol = htons(proto);
		if (bind(up_fd[i], (struct sockaddr *)&sll, sizeof(sll)))
			die("bind packet socket (protocol)", errno);
	}
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
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	struct pf_policy pol;
	struct pf_compiled c;
	int err;

	setup_net();
	hook.ifindex = lo_ifindex;
	libbpf_set_print(quiet_print);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		die("possible CPUs", ncpu);
	skel = preflightd_test__open();
	if (!skel)
		die("open preflightd_test", errno);
	err = bpf_map__set_max_entries(skel->maps.pf_flows, H_MAX_FLOWS);
	if (err)
		die("size pf_flows", err);
	err = preflightd_test__load(skel);
	if (err)
		die("load preflightd_test", err);
	h_tc_in.fd = bpf_program__fd(skel->progs.pf_tc_ingress);
	h_tc_out.fd = bpf_program__fd(skel->progs.pf_tc_egress);
	h_xdp_in.fd = bpf_program__fd(skel->progs.pf_xdp_ingress);
	err = bpf_tc_hook_create(&hook);  /* for h_chain() */
	if (err)
		die("clsact on lo", err);
	memset(&pol, 0, sizeof(pol));
	memset(&c, 0, sizeof(c));
	err = pf_policy_load_string("bpftest.yaml", H_POLICY, &pol, stderr);
	if (err)
		die("load test policy", err);
	err = pf_policy_compile(&pol, 0, &c, stderr);
	if (err)
		die("compile test policy", err);
	install_policy(&c);
	memcpy(h0_ports, c.ports, sizeof(h0_ports));
	h0_nports = c.n_ports;
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

void h_use_policy(const char *yaml)
{
	struct pf_policy pol;
	struct pf_compiled c;
	int err;

	if (slot1_yaml != yaml) {
		memset(&pol, 0, sizeof(pol));
		memset(&c, 0, sizeof(c));
		err = pf_policy_load_string("conformance.yaml", yaml, &pol, stderr);
		if (err)
			die("load policy", err);
		err = pf_policy_compile(&pol, 1, &c, stderr);
		if (err)
			die("compile policy", err);
		install_policy(&c);
		memcpy(h1_ports, c.ports, sizeof(h1_ports));
		h1_nports = c.n_ports;
		pf_compiled_free(&c);
		pf_policy_free(&pol);
		slot1_yaml = yaml;
	}
	activate(1, h1_ports, h1_nports);
}

void h_fini(void)
{
	preflightd_test__destroy(skel);
	skel = NULL;
	close(cap_fd);
	close(up_fd[0]);
	close(up_fd[1]);
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
	skel->bss->pf_cfg.xdp_mode = cur.xdp;
	h_in = cur.xdp ? &h_xdp_in : &h_tc_in;
	if (skel->bss->pf_cfg.active_slot != 0)
		activate(0, h0_ports, h0_nports); /* H_POLICY, still in slot 0 */
}

void h_reset_state(void)
{
	reset();
}

bool h_xdp(void)
{
	return cur.xdp;
}

/* Run fn once as name. */
static void run_case(const char *name, void (*fn)(void), bool xdp)
{
	if (filter && !strstr(name, filter))
		return;
	cur.name = name;
	cur.failed = false;
	cur.xdp = xdp;
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

void h_case_m(const char *name, void (*fn)(void), unsigned modes)
{
	char full[256];

	if (modes & H_M_TC) {
		snprintf(full, sizeof(full), "%s [tc]", name);
		run_case(full, fn, false);
	}
	if (modes & H_M_XDP) {
		snprintf(full, sizeof(full), "%s [xdp]", name);
		run_case(full, fn, true);
	}
}

void h_case(const char *name, void (*fn)(void))
{
	h_case_m(name, fn, H_M_BOTH);
}

void h_case_once(const char *name, void (*fn)(void))
{
	run_case(name, fn, false);
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

unsigned h_fill_flows(void)
{
	int fd = bpf_map__fd(skel->maps.pf_flows);
	struct pf_flow_key k;
	struct pf_flow f;
	unsigned n;

	memset(&f, 0, sizeof(f));
	f.resp_acked = 1;
	for (n = 0; n < 2 * H_MAX_FLOWS; n++) {
		memset(&k, 0, sizeof(k));
		pkt_addr(4, "192.0.2.1", k.caddr);  /* TEST-NET-1: no test uses it */
		pkt_addr(4, "10.0.0.1", k.saddr);
		k.cport = htons((__u16)(1 + n));
		k.sport = htons(8080);
		k.family = 4;
		if (bpf_map_update_elem(fd, &k, &f, BPF_NOEXIST))
			break;
	}
	return h_flow_count();
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

/* Drain the after-TC sockets; keep (in r, if not NULL) the frames that
 * went up the stack in the client -> server direction (frames looped
 * back from lo's transmit side are server -> client). */
static void capture_up(struct h_run *r, unsigned *n_up)
{
	static const __u8 client4[4] = { 10, 0, 0, 2 };
	__u8 buf[PKT_MAX], client6[16];
	ssize_t n;
	int i;

	pkt_addr(6, "2001:db8::2", client6);
	for (i = 0; i < 2; i++) {
		while ((n = recv(up_fd[i], buf, sizeof(buf), 0)) >= 0) {
			bool up = i == 0 ? n >= 34 && !memcmp(buf + 26, client4, 4) :
					   n >= 54 && !memcmp(buf + 22, client6, 16);

			if (!r || !up)
				continue;
			if (*n_up == 0) {
				memcpy(r->out, buf, (size_t)n);
				r->out_len = (__u32)n;
			}
			(*n_up)++;
		}
	}
}

/* Counters before a run; deltas after it. */
static void stats_delta(struct h_run *r, const long long before[PF_STAT__MAX])
{
	int i;

	read_stats(r->delta);
	for (i = 0; i < PF_STAT__MAX; i++)
		r->delta[i] -= before[i];
}

int h_try_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	      const struct h_env *env, struct h_run *r)
{
	static __u8 raw[PKT_MAX + 64];
	struct __sk_buff ctx_in, ctx_out;
	struct xdp_md xin, xout;
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
	memset(&xin, 0, sizeof(xin));
	memset(&xout, 0, sizeof(xout));
	r->kind = prog->kind;
	r->chain = false;
	r->meta_len = 0;
	if (prog->kind == H_KIND_TC) {
		if (env) {
			ctx_in.mark = env->mark;
			ctx_in.gso_segs = env->gso_segs;
		}
		o.ctx_in = &ctx_in;
		o.ctx_size_in = sizeof(ctx_in);
		o.ctx_out = &ctx_out;
		o.ctx_size_out = sizeof(ctx_out);
	} else {
		/* data_out starts at data_meta; ctx_out.data is the
		 * metadata length (net/bpf/test_run.c) */
		xin.data_end = (__u32)len;
		o.ctx_in = &xin;
		o.ctx_size_in = sizeof(xin);
		o.ctx_out = &xout;
		o.ctx_size_out = sizeof(xout);
		o.data_out = raw;
		o.data_size_out = sizeof(raw);
	}
	read_stats(before);
	capture(NULL);
	capture_up(NULL, NULL);
	r->n_tx = 0;
	r->err = bpf_prog_test_run_opts(prog->fd, &o);
	if (r->err)
		r->err = -errno;
	capture(r);
	stats_delta(r, before);
	r->retval = (int)o.retval;
	r->out_len = o.data_size_out;
	r->mark = ctx_out.mark;
	if (prog->kind == H_KIND_XDP && !r->err) {
		r->meta_len = xout.data;
		if (r->meta_len > sizeof(r->meta) || r->meta_len > o.data_size_out ||
		    o.data_size_out - r->meta_len > sizeof(r->out)) {
			r->err = -EMSGSIZE;
			r->out_len = 0;
		} else {
			memcpy(r->meta, raw, r->meta_len);
			r->out_len = o.data_size_out - r->meta_len;
			memcpy(r->out, raw + r->meta_len, r->out_len);
		}
	}
	r->verdict = -1;
	for (i = 0; i < H_VERDICTS; i++)
		if (prog->retval[i] == r->retval)
			r->verdict = i;
	return r->err;
}

bool h_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	   const struct h_env *env, struct h_run *r)
{
	h_try_run(prog, pkt, len, env, r);
	return H_CHECK(r->err == 0, "%s: bpf_prog_test_run_opts: %s", prog->name,
		       strerror(-r->err));
}

bool h_chain(const __u8 *pkt, size_t len, struct h_run *r)
{
	struct xdp_md xin;
	long long before[PF_STAT__MAX];
	unsigned n_up = 0;
	int err;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = lo_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .prog_fd = h_tc_in.fd, .handle = 0x7066, .priority = 1);
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = pkt,
		.data_size_in = (__u32)len,
		.repeat = 1,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
	);

	memset(r, 0, sizeof(*r));
	memset(&xin, 0, sizeof(xin));
	xin.data_end = (__u32)len;
	o.ctx_in = &xin;
	o.ctx_size_in = sizeof(xin);
	r->kind = H_KIND_TC;
	r->chain = true;
	err = bpf_tc_attach(&hook, &tco);  /* clsact made by h_init() */
	if (err)
		return H_CHECK(false, "chain: attach pf_tc_ingress to lo: %s", strerror(-err));
	read_stats(before);
	capture(NULL);
	capture_up(NULL, NULL);
	r->err = bpf_prog_test_run_opts(h_xdp_in.fd, &o);
	if (r->err)
		r->err = -errno;
	capture(r);
	capture_up(r, &n_up);
	stats_delta(r, before);
	tco.prog_fd = 0;
	tco.prog_id = 0;
	tco.flags = 0;
	err = bpf_tc_detach(&hook, &tco);
	if (!H_CHECK(r->err == 0, "chain: live XDP test run: %s", strerror(-r->err)) ||
	    !H_CHECK(!err, "chain: detach: %s", strerror(-err)) ||
	    !H_CHECK(n_up <= 1, "chain: %u frames went up the stack", n_up))
		return false;
	if (n_up) {
		r->verdict = H_PASS;
	} else if (r->n_tx) {
		/* the frame left by bpf_redirect: the run's output */
		r->verdict = H_TX;
		memcpy(r->out, r->tx[0], r->tx_len[0]);
		r->out_len = r->tx_len[0];
		r->n_tx--;
		if (r->n_tx) {
			memmove(r->tx[0], r->tx[1], r->tx_len[1]);
			r->tx_len[0] = r->tx_len[1];
		}
	} else {
		r->verdict = H_DROP;
	}
	return true;
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

/* Check run r of fixture f (input in, n bytes); d: the deltas wanted. */
static bool check_fix(const struct h_fix *f, const __u8 *in, size_t n, const struct h_run *r,
		      const struct h_delta *d)
{
	struct pkt_view v;
	__u32 meta = 0;
	bool ok;

	ok = H_CHECK(r->verdict == f->verdict, "%sverdict %s (retval %d), want %s",
		     r->chain ? "chain: " : "", h_verdict_name(r->verdict), r->retval,
		     h_verdict_name(f->verdict));
	if (f->unchanged)
		ok &= H_CHECK(r->out_len == n && !memcmp(r->out, in, n),
			      "output packet changed (%u bytes, input %zu)", r->out_len, n);
	else if (f->verdict != H_DROP)
		ok &= h_out_view(r, &v);
	if (r->kind == H_KIND_XDP) {
		if (r->meta_len == 4)
			memcpy(&meta, r->meta, 4);
		if (f->to_tc)
			ok &= H_CHECK(r->meta_len == 4 && meta == H_META_MAGIC,
				      "not handed to TC: %u metadata bytes (0x%08x), want 4 "
				      "(0x%08x)", r->meta_len, meta, H_META_MAGIC);
		else
			ok &= H_EQ(r->meta_len, 0, "XDP metadata bytes");
	}
	ok &= H_EQ(r->n_tx, f->clones, "frames transmitted with bpf_clone_redirect");
	ok &= h_check_deltas(r, d);
	return ok;
}

bool h_fix_run(const struct h_fix *f, struct h_run *r)
{
	static struct h_run local;
	__u8 in[PKT_MAX];
	size_t n = pkt_build(&f->in, in, sizeof(in));

	if (!r)
		r = &local;
	if (!H_CHECK(n > 0, "test bug: packet does not build"))
		return false;
	h_set_sock(&f->sock);
	if (!h_run(f->prog, in, n, &f->env, r))
		return false;
	return check_fix(f, in, n, r, f->d);
}

void h_fix_to_tc(struct h_fix *f)
{
	f->verdict = H_PASS;
	f->unchanged = true;
	f->clones = 0;
	f->to_tc = true;
	memset(f->d, 0, sizeof(f->d));
	f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f->d[1] = (struct h_delta)H_D(XDP_TO_TC, 1);
	f->d[2] = (struct h_delta)H_DEND;
}

void h_chain_deltas(const struct h_delta *tc, struct h_delta out[16])
{
	unsigned i, k = 0;
	bool seen = false;

	for (i = 0; i < 13 && tc && tc[i].stat >= 0; i++) {
		out[k] = tc[i];
		if (out[k].stat == PF_STAT_PKT_SEEN) {
			out[k].n++;
			seen = true;
		}
		k++;
	}
	if (!seen)
		out[k++] = (struct h_delta)H_D(PKT_SEEN, 1);
	out[k++] = (struct h_delta)H_D(XDP_TO_TC, 1);
	out[k] = (struct h_delta)H_DEND;
}

bool h_chain_fix(const struct h_fix *tcf, struct h_run *r)
{
	static struct h_run local;
	struct h_delta d[16];
	__u8 in[PKT_MAX];
	size_t n = pkt_build(&tcf->in, in, sizeof(in));

	if (!r)
		r = &local;
	if (!H_CHECK(n > 0, "test bug: packet does not build"))
		return false;
	h_chain_deltas(tcf->d, d);
	h_set_sock(&tcf->sock);
	if (!h_chain(in, n, r))
		return false;
	return check_fix(tcf, in, n, r, d);
}

bool h_run_to_tc(const struct pkt_spec *in, struct h_run *r, const struct h_delta *d_tc)
{
	static const struct h_delta hand[] = {
		H_D(PKT_SEEN, 1), H_D(XDP_TO_TC, 1), H_DEND,
	};
	struct h_delta d[16];
	__u8 b[PKT_MAX];
	size_t n = pkt_build(in, b, sizeof(b));
	__u32 meta = 0;

	if (!H_CHECK(n > 0, "test bug: packet does not build") || !h_run(h_in, b, n, NULL, r))
		return false;
	if (!h_xdp())
		return h_check_deltas(r, d_tc);
	if (r->meta_len == 4)
		memcpy(&meta, r->meta, 4);
	if (!H_CHECK(r->verdict == H_PASS, "XDP: verdict %s, want PASS (to TC)",
		     h_verdict_name(r->verdict)) ||
	    !H_CHECK(r->meta_len == 4 && meta == H_META_MAGIC,
		     "XDP: not handed to TC (%u metadata bytes)", r->meta_len) ||
	    !H_CHECK(r->out_len == n && !memcmp(r->out, b, n), "XDP: frame changed") ||
	    !h_check_deltas(r, hand))
		return false;
	h_chain_deltas(d_tc, d);
	return h_chain(b, n, r) && h_check_deltas(r, d);
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
