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

#include "harness_int.h"
#include "kfeat.h"

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

struct preflightd_test *h_skel;
static int ncpu;
static int cap_fd = -1;     /* AF_PACKET socket on lo: frames the program sends */
int h_up_fd[2] = { -1, -1 };   /* ETH_P_IP/IPV6 sockets on lo: after TC ingress */
int h_lo_ifindex;
static unsigned n_run, n_pass, n_fail, n_skip;
static bool h_xdp_meta;     /* the kernel lets XDP call bpf_xdp_adjust_meta */
static bool h_xdp_live;     /* the kernel runs live-frame test runs */
static const char *filter;
static __u16 h0_ports[PF_MAX_PORTS];  /* H_POLICY's ports, restored by reset() */
static unsigned h0_nports;

/* The current case. */
static struct {
	const char *name;
	bool failed;
	bool skipped;  /* h_skip: why says why */
	bool xdp;
	char why[512];
} cur;

void h_die(const char *what, int err)
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

/* A private netns with lo up, and a packet socket capturing what is
 * transmitted on lo (where test runs put their skb). */
static void setup_net(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr;
	int fd, i;

	if (unshare(CLONE_NEWNET))
		h_die("unshare(CLONE_NEWNET)", errno);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		h_die("socket", errno);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		h_die("SIOCGIFFLAGS lo", errno);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		h_die("SIOCSIFFLAGS lo", errno);
	close(fd);
	cap_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (cap_fd < 0)
		h_die("packet socket", errno);
	h_lo_ifindex = (int)if_nametoindex("lo");
	sll.sll_ifindex = h_lo_ifindex;
	if (bind(cap_fd, (struct sockaddr *)&sll, sizeof(sll)))
		h_die("bind packet socket", errno);
	/* protocol-specific packet sockets are served after TC ingress
	 * (ptype_base), so they see what TC passed up the stack */
	for (i = 0; i < 2; i++) {
		__u16 proto = i ? ETH_P_IPV6 : ETH_P_IP;

		h_up_fd[i] = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(proto));
		if (h_up_fd[i] < 0)
			h_die("packet socket (protocol)", errno);
		sll.sll_protocol = htons(proto);
		if (bind(h_up_fd[i], (struct sockaddr *)&sll, sizeof(sll)))
			h_die("bind packet socket (protocol)", errno);
	}
}

/* Read what was transmitted on lo since the last call into r (if not
 * NULL): outgoing frames only (the looped-back copies are skipped). */
void h_capture(struct h_run *r)
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
	hook.ifindex = h_lo_ifindex;
	libbpf_set_print(quiet_print);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		h_die("possible CPUs", ncpu);
	/* as `run` loads it: the open-coded loops where this kernel has
	 * may_goto, or with PF_BPFT_NO_MAY_GOTO=1 the bpf_loop callbacks as
	 * before 6.9, the instruction rewritten (user/kfeat.h) -- `make
	 * bpftest` runs the cases both ways */
	err = pf_kfeat_may_goto(getenv("PF_BPFT_NO_MAY_GOTO") &&
				!strcmp(getenv("PF_BPFT_NO_MAY_GOTO"), "1"));
	if (err < 0)
		h_die("probe may_goto", err);
	h_skel = PF_KFEAT_OPEN(preflightd_test, err);
	if (!h_skel)
		h_die("open preflightd_test", errno);
	/* a hash key of its own, as `run` draws one (PF_HASH_SEED0): every
	 * answer below then needs the kernel's hashes and the compiler's to
	 * agree on it */
	pf_hash_seed = H_HASH_SEED;
	h_skel->rodata->pf_hash_seed = pf_hash_seed;
	/* as `run` loads it: without the helper XDP only answers and TC
	 * takes every other frame (h_test_run runs both; the cases about
	 * the metadata hand-off skip: h_need_xdp_meta) */
	err = pf_kfeat_xdp_meta();
	if (err < 0)
		h_die("probe bpf_xdp_adjust_meta", err);
	h_xdp_meta = err;
	/* PF_BPFT_NO_META=1: loaded as on a kernel that refuses the helper,
	 * whatever this one does -- `make bpftest` runs the XDP cases both
	 * ways, so that each kernel's datapath is verified and tested on any
	 * machine (the helper's refusal is a build option: seen on one 6.18
	 * build, not on another) */
	if (getenv("PF_BPFT_NO_META") && !strcmp(getenv("PF_BPFT_NO_META"), "1"))
		h_xdp_meta = 0;
	/* the live runs (h_chain_run: the slow path's replay, the metadata
	 * hand-off) skip where the kernel refuses them (h_need_xdp_live) */
	err = pf_kfeat_xdp_live();
	if (err < 0)
		h_die("probe BPF_F_TEST_XDP_LIVE_FRAMES", err);
	h_xdp_live = err;
	h_skel->rodata->pf_xdp_no_meta = !h_xdp_meta;
	/* the flow entry's lock this kernel takes, or with
	 * PF_BPFT_PLAIN_LOCK=1 the older kernels' bpf_spin_lock (user/kfeat.h):
	 * `make bpftest` runs the cases both ways */
	err = pf_kfeat_flow_lock(h_skel->obj, getenv("PF_BPFT_PLAIN_LOCK") &&
					      !strcmp(getenv("PF_BPFT_PLAIN_LOCK"), "1"));
	if (err < 0)
		h_die("probe bpf_res_spin_lock", err);
	h_skel->rodata->pf_flow_lock_plain = err;
	err = bpf_map__set_max_entries(h_skel->maps.pf_flows, H_MAX_FLOWS);
	if (err)
		h_die("size pf_flows", err);
	err = bpf_map__set_max_entries(h_skel->maps.pf_tokens, H_MAX_TOKENS);
	if (err)
		h_die("size pf_tokens", err);
	err = preflightd_test__load(h_skel);
	if (err)
		h_die("load preflightd_test", err);
	h_tc_in.fd = bpf_program__fd(h_skel->progs.pf_tc_ingress);
	h_tc_out.fd = bpf_program__fd(h_skel->progs.pf_tc_egress);
	h_xdp_in.fd = bpf_program__fd(h_skel->progs.pf_xdp_ingress);
	if (pf_maps_get(h_skel->obj, &h_skel->bss->pf_cfg, &h_maps))
		h_die("find maps", ENOENT);
	err = bpf_tc_hook_create(&hook);  /* for h_chain() */
	if (err)
		h_die("clsact on lo", err);
	memset(&pol, 0, sizeof(pol));
	memset(&c, 0, sizeof(c));
	err = pf_policy_load_string("bpftest.yaml", H_POLICY, &pol, stderr);
	if (err)
		h_die("load test policy", err);
	err = pf_policy_compile(&pol, 0, &c, stderr);
	if (err)
		h_die("compile test policy", err);
	h_install_policy(&c);
	memcpy(h0_ports, c.ports, sizeof(h0_ports));
	h0_nports = c.n_ports;
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

void h_fini(void)
{
	preflightd_test__destroy(h_skel);
	h_skel = NULL;
	close(cap_fd);
	close(h_up_fd[0]);
	close(h_up_fd[1]);
}

void h_filter(const char *f)
{
	filter = f;
}

void h_reset_flows(void)
{
	int fd = bpf_map__fd(h_skel->maps.pf_flows);
	struct pf_flow_key key;

	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			h_die("delete flow", errno);
}

/* Empty the flow table, zero the counters, no socket, default config. */
static void reset(void)
{
	struct pf_sockinfo none = { 0 };
	__u64 *zeros = calloc((size_t)ncpu, sizeof(__u64));
	__u32 i, zero = 0;
	void *split;

	if (!zeros)
		h_die("calloc", ENOMEM);
	h_reset_flows();
	/* no punts counted against a client address (pf_punt_srcs) */
	{
		int fd = bpf_map__fd(h_skel->maps.pf_punt_srcs);
		__u8 k[16];  /* struct pf_punt_src_key */

		while (!bpf_map_get_next_key(fd, NULL, k))
			bpf_map_delete_elem(fd, k);
	}
	for (i = 0; i < PF_STAT__MAX; i++)
		if (bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_stats), &i, zeros, BPF_ANY))
			h_die("zero stats", errno);
	free(zeros);
	/* no split head held (bpf/pf_follow.h: the mocked socket's storage) */
	split = calloc(1, bpf_map__value_size(h_skel->maps.pf_split));
	if (!split || bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_split), &zero, split, BPF_ANY))
		h_die("clear pf_split", split ? errno : ENOMEM);
	free(split);
	h_set_sock(&none);
	h_skel->bss->pf_cfg.draining = 0;
	h_skel->bss->pf_cfg.date_valid = 0;
	h_skel->bss->pf_cfg.ofl_on = 0;
	h_skel->bss->pf_cfg.xdp_mode = cur.xdp;
	h_skel->bss->pf_test_no_meta = 0;
	h_skel->bss->pf_test_follow = 0;
	h_skel->bss->pf_test_no_room = 0;
	h_skel->bss->pf_test_lock_fail = 0;
	h_skel->bss->pf_test_write_fail = 0;
	h_skel->bss->pf_test_synack = 0;
	h_in = cur.xdp ? &h_xdp_in : &h_tc_in;
	if (h_skel->bss->pf_cfg.active_slot != 0)
		h_activate(0, h0_ports, h0_nports); /* H_POLICY, still in slot 0 */
}

void h_reset_state(void)
{
	reset();
}

bool h_xdp(void)
{
	return cur.xdp;
}

bool h_split_read(struct pf_split *sp)
{
	__u32 zero = 0;

	if (bpf_map__value_size(h_skel->maps.pf_split) != sizeof(*sp))
		h_die("pf_split's value is no struct pf_split", EINVAL);
	return !bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_split), &zero, sp);
}

void h_set_lock_fail(bool on)
{
	h_skel->bss->pf_test_lock_fail = on;
}

void h_set_write_fail(bool on)
{
	h_skel->bss->pf_test_write_fail = on;
}

void h_set_no_meta(bool on)
{
	/* without the helper XDP never falls back: it passes to TC */
	if (on && !h_xdp_meta)
		h_skip("loaded as on a kernel that refuses bpf_xdp_adjust_meta: XDP never lacks metadata "
		       "room, it passes every frame to TC");
	h_skel->bss->pf_test_no_meta = on;
}

void h_set_no_room(bool on)
{
	h_skel->bss->pf_test_no_room = on;
}

/* Run fn (or fnp with arg) once as name. */
static void run_case(const char *name, void (*fn)(void), void (*fnp)(const void *),
		     const void *arg, bool xdp)
{
	int attempt;

	if (filter && !strstr(name, filter))
		return;
	for (attempt = 0; attempt < 3; attempt++) {
		cur.name = name;
		cur.failed = false;
		cur.skipped = false;
		cur.xdp = xdp;
		cur.why[0] = 0;
		h_pause_timed_out = false;
		reset();
		if (fn)
			fn();
		else
			fnp(arg);
		/* a packet stopped on the second CPU that went on by itself
		 * before the case let it (the main thread starved on a busy
		 * machine): the interleaving did not happen -- run it again */
		if (!cur.failed || !h_pause_timed_out)
			break;
		printf("# %s: %s; running it again\n", name, cur.why);
	}
	n_run++;
	if (cur.skipped) {
		n_skip++;
		printf("ok %u - %s # SKIP %s\n", n_run, name, cur.why);
	} else if (cur.failed) {
		n_fail++;
		printf("not ok %u - %s: %s\n", n_run, name, cur.why);
	} else {
		n_pass++;
		printf("ok %u - %s\n", n_run, name);
	}
	fflush(stdout);
}

static void run_modes(const char *name, void (*fn)(void), void (*fnp)(const void *),
		      const void *arg, unsigned modes)
{
	char full[256];

	if (modes & H_M_TC) {
		snprintf(full, sizeof(full), "%s [tc]", name);
		run_case(full, fn, fnp, arg, false);
	}
	if (modes & H_M_XDP) {
		snprintf(full, sizeof(full), "%s [xdp]", name);
		run_case(full, fn, fnp, arg, true);
	}
}

void h_case_m(const char *name, void (*fn)(void), unsigned modes)
{
	run_modes(name, fn, NULL, NULL, modes);
}

void h_case(const char *name, void (*fn)(void))
{
	run_modes(name, fn, NULL, NULL, H_M_BOTH);
}

void h_case_p(const char *name, void (*fn)(const void *), const void *arg)
{
	run_modes(name, NULL, fn, arg, H_M_BOTH);
}

void h_case_once(const char *name, void (*fn)(void))
{
	run_case(name, fn, NULL, NULL, false);
}

int h_summary(void)
{
	printf("%u passed, %u failed, %u skipped\n", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}

bool h_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ok || cur.failed || cur.skipped)
		return ok;
	cur.failed = true;
	va_start(ap, fmt);
	n = vsnprintf(cur.why, sizeof(cur.why), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(cur.why))
		snprintf(cur.why + n, sizeof(cur.why) - n, " (%s:%d)", file, line);
	return false;
}

void h_skip(const char *why)
{
	if (cur.skipped || cur.failed)
		return;
	cur.skipped = true;
	snprintf(cur.why, sizeof(cur.why), "%s", why);
}

bool h_xdp_frames(void)
{
	return cur.xdp && h_xdp_meta;
}

bool h_need_xdp_meta(void)
{
	if (!cur.xdp || h_xdp_meta)
		return true;
	h_skip("loaded as on a kernel that refuses bpf_xdp_adjust_meta in XDP programs: no metadata "
	       "hand-off (XDP passes TC every frame it does not answer)");
	return false;
}

bool h_need_xdp_live(void)
{
	if (h_xdp_live)
		return true;
	h_skip("this kernel refuses live-frame test runs (BPF_F_TEST_XDP_LIVE_FRAMES: EPERM or "
	       "EOPNOTSUPP): no live run (the daemon replays by TC test run there, user/replay.h)");
	return false;
}

bool h_ok(void)
{
	return !cur.failed;
}

/* Sum of the per-CPU counters into v. */
void h_read_stats(long long v[PF_STAT__MAX])
{
	__u64 *vals = calloc((size_t)ncpu, sizeof(__u64));
	__u32 i;
	int c;

	if (!vals)
		h_die("calloc", ENOMEM);
	for (i = 0; i < PF_STAT__MAX; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_stats), &i, vals))
			h_die("read stats", errno);
		v[i] = 0;
		for (c = 0; c < ncpu; c++)
			v[i] += (long long)vals[c];
	}
	free(vals);
}

/* The counters of one CPU into v. */
void h_read_stats_cpu(int cpu, long long v[PF_STAT__MAX])
{
	__u64 *vals = calloc((size_t)ncpu, sizeof(__u64));
	__u32 i;

	if (!vals)
		h_die("calloc", ENOMEM);
	for (i = 0; i < PF_STAT__MAX; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_stats), &i, vals))
			h_die("read stats", errno);
		v[i] = cpu >= 0 && cpu < ncpu ? (long long)vals[cpu] : 0;
	}
	free(vals);
}

/* Counters before a run; deltas after it. */
void h_stats_delta(struct h_run *r, const long long before[PF_STAT__MAX])
{
	int i;

	h_read_stats(r->delta);
	for (i = 0; i < PF_STAT__MAX; i++)
		r->delta[i] -= before[i];
	h_leg_adjust(r);
}

void h_leg_adjust(struct h_run *r)
{
	r->delta[PF_STAT_PKT_SEEN] -= r->leg_seen;
	r->delta[PF_STAT_XDP_TO_TC] -= r->leg_to_tc;
}

static int test_run_one(const struct h_prog *prog, const __u8 *pkt, size_t len,
			const struct h_env *env, struct h_run *r);

/* XDP with metadata: a run of pf_xdp_ingress that hands its frame to TC
 * for its framing (PF_META_FOLLOW) is both, as on the wire: the frame
 * then goes through pf_tc_ingress (told by pf_test_follow: a TC test run
 * carries no metadata), and r is that run -- less the XDP leg's
 * xdp_to_tc, so that a case sees what it sees in TC mode (its pkt_seen
 * and pass reasons are the XDP leg's, counted once). Any other run is
 * XDP's alone. */
static int xdp_follow_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
			  const struct h_env *env, struct h_run *r)
{
	long long before[PF_STAT__MAX], after[PF_STAT__MAX];
	static struct h_run tc;
	__u32 meta = 0;
	int err;

	h_read_stats(before);
	if (test_run_one(prog, pkt, len, env, r) || r->verdict != H_PASS || r->meta_len != 4)
		return r->err;
	memcpy(&meta, r->meta, 4);
	if (meta != PF_META_FOLLOW)
		return 0;
	h_read_stats(after);
	h_skel->bss->pf_test_follow = 1;
	err = test_run_one(&h_tc_in, r->out, r->out_len, env, &tc);
	h_skel->bss->pf_test_follow = 0;
	*r = tc;
	r->leg_to_tc = after[PF_STAT_XDP_TO_TC] - before[PF_STAT_XDP_TO_TC];
	return err;
}

/* XDP mode on a kernel that refuses bpf_xdp_adjust_meta (pf_xdp_no_meta,
 * PF_XDP_TC_ALL in bpf/pf_emit.h): XDP answers what it can and passes
 * every other frame untouched to TC ingress, which follows it as in TC
 * mode. A run of pf_xdp_ingress is then both, as on the wire: a passed
 * frame goes through pf_tc_ingress and r is that run, its clones and
 * counters included -- less the XDP leg's pkt_seen and xdp_to_tc, so
 * that a case sees what it sees where XDP translates itself. */
int h_test_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	       const struct h_env *env, struct h_run *r)
{
	long long before[PF_STAT__MAX], after[PF_STAT__MAX];
	static struct h_run tc;

	r->leg_seen = r->leg_to_tc = 0;
	if (prog->kind != H_KIND_XDP)
		return test_run_one(prog, pkt, len, env, r);
	if (h_xdp_meta)
		return xdp_follow_run(prog, pkt, len, env, r);
	h_read_stats(before);
	if (test_run_one(prog, pkt, len, env, r) || r->verdict != H_PASS)
		return r->err;
	h_read_stats(after);
	/* a frame shorter than an IPv4 header: the TC test run refuses it
	 * (EINVAL), XDP's pass is the whole run (conn_raw_pass) */
	if (test_run_one(&h_tc_in, r->out, r->out_len, env, &tc) == -EINVAL)
		return 0;
	*r = tc;
	r->leg_seen = after[PF_STAT_PKT_SEEN] - before[PF_STAT_PKT_SEEN];
	r->leg_to_tc = after[PF_STAT_XDP_TO_TC] - before[PF_STAT_XDP_TO_TC];
	return r->err;
}

static int test_run_one(const struct h_prog *prog, const __u8 *pkt, size_t len,
			const struct h_env *env, struct h_run *r)
{
	__u8 raw[PKT_MAX + 64];
	struct __sk_buff ctx_in, ctx_out;
	struct xdp_md xin, xout;
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
	r->err = bpf_prog_test_run_opts(prog->fd, &o);
	if (r->err)
		r->err = -errno;
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

int h_try_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	      const struct h_env *env, struct h_run *r)
{
	long long before[PF_STAT__MAX];

	h_read_stats(before);
	h_capture(NULL);
	h_drain_up();
	r->n_tx = 0;
	h_test_run(prog, pkt, len, env, r);
	h_capture(r);
	h_stats_delta(r, before);
	return r->err;
}

bool h_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	   const struct h_env *env, struct h_run *r)
{
	h_try_run(prog, pkt, len, env, r);
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

/* Check run r of fixture f (input in, n bytes); d: the deltas wanted. */
bool h_check_fix(const struct h_fix *f, const __u8 *in, size_t n, const struct h_run *r,
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
			ok &= H_CHECK(r->meta_len == 4 && meta == PF_META_ANSWER,
				      "not handed to TC: %u metadata bytes (0x%08x), want 4 "
				      "(0x%08x)", r->meta_len, meta, PF_META_ANSWER);
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
	return h_check_fix(f, in, n, r, f->d);
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
