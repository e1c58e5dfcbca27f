/* cmd_run.c -- `preflightd run`: load, compile the policy into maps, attach at TC,
 * keep the clock and flow table fresh, reload on SIGHUP, drain on SIGTERM,
 * and hand what the datapath punts to the slow path (slowpath.c). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "clock.h"
#include "cmds.h"
#include "iface.h"
#include "load.h"
#include "policy.h"
#include "maps.h"
#include "tc.h"
#include "gc.h"
#include "heap.h"
#include "pin.h"
#include "xdp.h"
#include "watch.h"
#include "metrics.h"
#include "slowpath.h"
#include "acrh.h"
#include "offload.h"
#include "shadow.h"
#include "notify.h"
#include "optnum.h"
#include "log.h"

/* Response offload and shadow mode (issue 13; user/offload.c, shadow.c):
 * one of each per daemon. */
static struct pf_ofl ofl = { .cg_fd = -1 };
static struct pf_shadow shd;
static bool shd_on;

struct run_opts {
	const char *iface;
	const char *policy;
	const char *mode;
	unsigned max_flows;
	unsigned drain_timeout;
	bool xdp;
	bool xdp_generic;
	const char *metrics;
	const char *cgroup;     /* response offload: sockets of this cgroup */
	bool shadow;            /* answer and insert nothing: compare (shadow.c) */
	enum pf_tc_how tc_how;
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: preflightd run --iface IFACE --policy FILE [options]\n"
		"  -i, --iface IFACE        interface to serve (host side of the NIC)\n"
		"  -p, --policy FILE        YAML policy (see preflightd-policy(5))\n"
		"  -m, --mode tc|xdp        answer at TC (default) or at XDP (XDP_TX; TC\n"
		"                           egress still translates server segments)\n"
		"      --xdp-generic        XDP in skb (generic) mode instead of native\n"
		"      --tc-attach auto|tcx|clsact\n"
		"                           TC programs through tcx links (kernel 6.6+)\n"
		"                           or clsact filters; auto (default): tcx where\n"
		"                           the kernel has it, or what a restarted\n"
		"                           instance's predecessor used\n"
		"      --max-flows N        connection table size (default 65536)\n"
		"      --drain-timeout SEC  on SIGTERM keep translating spliced\n"
		"                           connections up to SEC seconds (default 60)\n"
		"      --metrics ADDR:PORT  Prometheus metrics at http://ADDR:PORT/metrics,\n"
		"                           health at /healthz\n"
		"      --cgroup PATH        response offload (rules with responses: true):\n"
		"                           the cgroup v2 whose server sockets get CORS\n"
		"                           headers in their responses (default: the root)\n"
		"      --shadow             answer and insert nothing; compare the app's\n"
		"                           CORS answers with the policy's (stats, trace)\n"
		"  -v, --verbose            debug logs (incl. libbpf, start-up times)\n"
		"Prints a line containing 'ready' once traffic is handled. SIGHUP\n"
		"reloads the policy; SIGINT/SIGTERM drain, detach and exit; SIGUSR2\n"
		"(a restart) exits at once, leaving the programs attached and the\n"
		"state pinned for the next instance to adopt.\n");
}

static int libbpf_log(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG && !pf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int parse_run_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "policy", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "max-flows", required_argument, NULL, 'F' },
		{ "drain-timeout", required_argument, NULL, 'D' },
		{ "xdp-generic", no_argument, NULL, 'G' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "cgroup", required_argument, NULL, 'C' },
		{ "shadow", no_argument, NULL, 'S' },
		{ "tc-attach", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long v;
	int c;

	o->mode = "tc";
	o->max_flows = 65536;
	o->drain_timeout = 60;
	while ((c = getopt_long(argc, argv, "i:p:m:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pf_iface_check(optarg))
				return -EINVAL;
			o->iface = optarg;
			break;
		case 'p': o->policy = optarg; break;
		case 'm': o->mode = optarg; break;
		case 'v': pf_verbose = 1; break;
		case 'G': o->xdp_generic = true; break;
		case 'M': o->metrics = optarg; break;
		case 'C': o->cgroup = optarg; break;
		case 'S': o->shadow = true; break;
		case 'T':
			if (pf_tc_how_parse(optarg, &o->tc_how)) {
				pr_warn("--tc-attach '%s': expected auto, tcx or clsact", optarg);
				return -EINVAL;
			}
			break;
		case 'h': run_usage(stdout); exit(0);
		case 'F':
		case 'D':
			if (pf_opt_ulong(c == 'F' ? "max-flows" : "drain-timeout", optarg,
					 1, c == 'F' ? 16777216ul : 86400ul, &v))
				return -EINVAL;
			if (c == 'F')
				o->max_flows = (unsigned)v;
			else
				o->drain_timeout = (unsigned)v;
			break;
		default:
			run_usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->iface || !o->policy || optind != argc) {
		run_usage(stderr);
		return -EINVAL;
	}
	if (strcmp(o->mode, "tc") && strcmp(o->mode, "xdp")) {
		pr_warn("mode '%s': expected tc or xdp", o->mode);
		return -EINVAL;
	}
	o->xdp = !strcmp(o->mode, "xdp");
	if (o->xdp_generic && !o->xdp) {
		pr_warn("--xdp-generic needs --mode xdp");
		return -EINVAL;
	}
	/* refused here, before anything is touched: found later, they would
	 * come after a dead instance's state was adopted */
	if (o->metrics && pf_metrics_check_addr(o->metrics))
		return -EINVAL;
	if (o->cgroup && pf_ofl_cgroup_check(o->cgroup))
		return -EINVAL;
	return 0;
}

/* Load policy file into the inactive slot and switch to it, all or
 * nothing: whatever fails (the file, its regexes, the install) leaves the
 * running policy in force and the inactive slot empty -- but for its
 * response settings, which stay what they were: a request the response
 * offload recorded under that slot (before the last reload) still takes
 * its response's settings from it. */
static int reload(struct pf_slow *sl, const char *file)
{
	static struct pf_ofl_rule kept[PF_MAX_RULES];  /* off the stack */
	struct timespec grace = { 0, 100 * 1000 * 1000 };
	struct pf_config *cfg = sl->m.cfg;
	struct pf_policy pol = {};
	struct pf_compiled comp = {};
	struct pf_regex_set rs = {};
	__u32 old = cfg->active_slot & (PF_SLOTS - 1);
	char status[128];
	int err;

	pf_notify_reloading();
	err = pf_policy_load(file, &pol, stderr);
	if (!err)
		err = pf_policy_compile(&pol, old ^ 1, &comp, stderr);
	if (!err)
		err = pf_regex_set_build(&pol, &rs, stderr);
	/* the response offload's programs are loaded and attached at the
	 * start only (pf_ofl_prepare): without them its settings are
	 * written to a map nothing reads, and the app, told it needs no
	 * CORS code, gets no headers (a review finding, stop 51) */
	if (!err && comp.ofl_any && !ofl.wanted) {
		pr_warn("reload %s: rules with responses: true need the response offload, which this run did not start: restart preflightd to load this policy",
			file);
		err = -EOPNOTSUPP;
	}
	if (!err)
		err = pf_ofl_slot_get(ofl.rules_fd, old ^ 1, kept);
	if (!err) {
		/* the new slot's response settings before it is active */
		err = pf_ofl_install(ofl.rules_fd, &comp);
		if (!err)
			err = pf_maps_install(&sl->m, &comp);
		if (err)
			pf_ofl_slot_set(ofl.rules_fd, old ^ 1, kept);
	}
	if (err)
		goto out;
	pf_slow_adopt(sl, &pol, &rs, old ^ 1);
	if (shd_on) /* the policy just installed, not the file read again */
		pf_shadow_policy(&shd, &sl->pol);
	/* a program that read the old active_slot just before the switch may
	 * still be matching against it: let it finish (they run for
	 * microseconds) before its strings disappear */
	nanosleep(&grace, NULL);
	pf_maps_clear_slot(&sl->m, old);
	cfg->reloads++;
	pr_info("reloaded %s: %u rules", file, comp.info.n_rules);
out:
	if (err) {
		cfg->reload_failures++;
		pr_warn("reload %s failed: keeping the running policy", file);
	}
	snprintf(status, sizeof(status), err ? "reload of %s failed: running policy kept" :
		 "reloaded %s", file);
	pf_notify_ready(status);
	pf_regex_set_free(&rs);
	pf_compiled_free(&comp);
	pf_policy_free(&pol);
	return err;
}

/* The clock, and the heartbeat if punts are consumed (rb); the service
 * manager's watchdog is fed at the same beat. */
static void tick(struct pf_config *cfg, const struct ring_buffer *rb)
{
	if (rb)
		pf_maps_tick(cfg);
	else
		pf_maps_clock(cfg);
	pf_notify_heartbeat();
}

/* The TC chain watch (pf_tc_watch, tc.h) with run's answer gate, which
 * shadow mode has not: it answers nothing, and the gate would clear the
 * draining flag it answers nothing by. */
static void watch_chain(struct pf_tc *tc, const struct run_opts *o, struct pf_config *cfg)
{
	pf_tc_watch(tc, cfg->tc_seen, o->shadow ? NULL : &cfg->draining);
}

/* Serve until a signal; then drain (keep translating, answer nothing new)
 * until the GC (gc, its own thread) finds no spliced connection left or
 * the timeout expires -- or a second SIGINT/SIGTERM comes, which ends the
 * drain as the timeout does: what is still spliced is reset (counted in
 * drain_resets), never left to go on untranslated. Punted origins (sl)
 * are decided as they arrive from rb (NULL: nobody decides them, no
 * heartbeat: the datapath passes them to the app): each iteration waits
 * at most 100 ms for ring buffer events and decides at most
 * PF_SLOW_TURN_MAX punts, then looks at signals without blocking; nothing
 * in it waits for a GC pass. Returns 0; or, on SIGUSR2 (a restart), 1 at once: the
 * caller leaves everything attached and pinned for the next instance to
 * adopt. Once a second, tracing left on by a killed `preflightd trace` is
 * switched off (pin_dir, trace_ctl_fd: pf_trace_orphan_off). */
static int serve(struct pf_slow *sl, struct ring_buffer *rb, struct pf_gc *gc,
		 const struct run_opts *o, struct pf_tc *tc, const char *pin_dir,
		 int trace_ctl_fd, struct pf_watch *w)
{
	struct pf_config *cfg = sl->m.cfg;
	struct timespec nowait = { 0, 0 };
	__u64 deadline = 0, live, last_watch = 0, last_progress = 0;
	sigset_t set;
	int sig, err, restart = 0;
	bool changed;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		if (rb) {
			err = pf_ringturn_poll(rb, &sl->turn, 100);
			if (err < 0 && err != -EINTR)
				pr_warn("slow path: poll: %s", strerror(-err));
		} else {
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
		}
		sig = sigtimedwait(&set, NULL, &nowait);
		tick(cfg, rb);
		pf_ofl_gc(&ofl, pf_mono_ns()); /* response offload */
		if (sig == SIGUSR2) {
			pf_notify_stopping("restart: leaving everything attached for the next instance");
			restart = 1;
			break;
		}
		/* a policy change and a signal can come in the same turn:
		 * the signal is consumed here, so it must not be skipped; the
		 * change's events are consumed too, before the reload reads
		 * the file (one reload for both: an edit, then `systemctl
		 * reload`, reloaded twice before) */
		changed = pf_watch_changed(w);
		if (sig == SIGHUP || changed)
			reload(sl, o->policy);
		if ((sig == SIGINT || sig == SIGTERM) && deadline) {
			/* a second signal: stop now, as at the timeout (what is
			 * still spliced would go on untranslated: reset it) */
			pr_info("second signal: ending the drain");
			deadline = pf_mono_ns();
		} else if (sig == SIGINT || sig == SIGTERM) {
			cfg->draining = 1;
			deadline = pf_mono_ns() + (__u64)o->drain_timeout * 1000000000ull;
			pf_gc_drain(gc);
			pr_info("draining: answering no new preflights");
			pf_notify_stopping("draining: answering no new preflights");
		}
		/* the TC chain: once a second, or each time while it holds
		 * answers back */
		if (!deadline && (tc->paused || pf_mono_ns() - last_watch >= 1000000000ull)) {
			last_watch = pf_mono_ns();
			watch_chain(tc, o, cfg);
			if (pf_trace_orphan_off(pin_dir, trace_ctl_fd))
				pr_info("tracing switched off: left on by a trace that was killed");
		}
		if (!deadline)
			continue;
		if (pf_gc_drained(gc, &live) && !live) {
			pr_info("drained: no spliced connection left");
			break;
		}
		/* the service manager's stop timeout extended while the drain
		 * goes on, once a second: a --drain-timeout over the unit's
		 * TimeoutStopSec was killed mid-drain, nothing reset or
		 * detached (a review finding, stop 51) */
		if (pf_mono_ns() - last_progress >= 1000000000ull) {
			char status[96];

			last_progress = pf_mono_ns();
			snprintf(status, sizeof(status), "draining: %llu spliced connections left",
				 (unsigned long long)live);
			pf_notify_progress(status);
		}
		if (pf_mono_ns() >= deadline) {
			pf_gc_stop(gc);
			pr_warn("drain timeout: %llu spliced connections still open; resetting them",
				(unsigned long long)live);
			cfg->drain_resets += pf_gc_reset_all(gc->flows_fd);
			break;
		}
	}
	return restart;
}

/* Whether run's exit leaves the programs attached and the state pinned
 * for the next instance: a restart (restart: serve() said so), or a
 * failure after adopting a dead instance's state -- undoing our attach
 * would detach or unpin what it replaced, under its live connections.
 * The same question at each label of the exit path (each a goto target). */
static bool keep_attached(bool restart, int err, const struct pf_pin *pin)
{
	return restart || (err && pin->adopted);
}

/* Adopted state: our maps' pins, staged by pf_pin_maps, replace the dead
 * instance's (pf_pin_commit) once ours is the program that decides what is
 * answered (ours: true) -- TC ingress, or in XDP mode, where a dead
 * instance's XDP program is being replaced, XDP. Never before: until then
 * its programs answer, reading the maps its pins name, and a run that
 * fails leaves them so (`detach` sets the draining flag they read). err:
 * the attach step's; returned unless it is 0 (then the commit's). */
static int ours_answer(struct pf_pin *pin, int err, bool ours)
{
	int cerr = ours ? pf_pin_commit(pin) : 0;

	return err ? err : cerr;
}

/* -v: how far start-up got after how long (where the time to ready goes). */
static void startup_mark(__u64 t0, const char *what)
{
	pr_debug("start-up: %s after %.1f ms", what, (double)(pf_mono_ns() - t0) / 1e6);
}

/* Load the programs for the policy c as read (no guess made, a wrong one,
 * or a load again after a refusal). */
static int load_in_line(struct pf_load *ld, const struct pf_compiled *c)
{
	ld->n_toks = c->n_toks;
	ld->ofl_want = c->ofl_any;
	return pf_load_programs(ld, c);
}

int pf_cmd_run(int argc, char **argv)
{
	__u64 t0 = pf_mono_ns();
	struct run_opts o = {};
	struct pf_policy pol = {};
	struct pf_compiled comp = {};
	struct preflightd_bpf *skel = NULL;
	struct pf_tc tc = { .xdp_stats_fd = -1 };
	struct pf_xdp xdp = {};
	struct pf_metrics metrics = {};
	struct pf_gc gc = {};
	struct pf_pin pin = {};
	struct pf_slow sl = {};
	struct pf_regex_set rs = {};
	struct pf_prefill pre = { .fd = -1 };
	struct pf_load ld = PF_LOAD_INIT;
	struct pf_watch w = { .fd = -1 };
	struct ring_buffer *rb = NULL;
	void *heap = NULL;
	char *text = NULL;    /* the policy file's bytes, read once */
	size_t text_len = 0;
	sigset_t set;
	char status[160];
	bool leave = false;   /* the programs and pins stay for the next instance */
	int err, ifindex, early = 0;

	err = parse_run_opts(argc, argv, &o);
	if (err)
		return 2;
	/* a reload asked for while starting (its default action would end
	 * the start halfway, e.g. in a hand-over's drain) waits for serve(),
	 * which takes it; a stop or a restart still ends the start (nothing
	 * of ours is attached or pinned before the block below) */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ifindex = if_nametoindex(o.iface);
	if (!ifindex) {
		pr_warn("interface %s: %s", o.iface, strerror(errno));
		return 1;
	}
	/* this instance's hash key, before anything is hashed: see
	 * PF_HASH_SEED0 (no entropy yet, early at boot: the default, said) */
	if (getrandom(&pf_hash_seed, sizeof(pf_hash_seed), GRND_NONBLOCK) !=
	    sizeof(pf_hash_seed)) {
		pr_warn("getrandom: %s (the policy's hashes unkeyed: an origin crafted to "
			"collide can keep a regex origin from being learned)", strerror(errno));
		pf_hash_seed = PF_HASH_SEED0;
	}
	/* start-up is one pass over a policy that may be large (heap.h) */
	heap = pf_heap_grow();
	libbpf_set_print(libbpf_log);
	ld.iface = o.iface;
	ld.ifindex = ifindex;
	ld.max_flows = o.max_flows;
	ld.drain_timeout = o.drain_timeout;
	ld.xdp = o.xdp;
	ld.shadow = o.shadow;
	ld.cgroup = o.cgroup != NULL;
	ld.pin = &pin;
	ld.ofl = &ofl;
	ld.pre = &pre;
	/* the file watched before it is read: a change during the start
	 * (its verification, libxdp's attach, a hand-over's drain) is
	 * reloaded once serving, not lost (serve) */
	pf_watch_open(&w, o.policy);
	/* a fresh start verifies the programs while the policy is read
	 * (load.h); a lock not taken is taken, and said, once the policy is
	 * found valid */
	err = pf_policy_read_file(o.policy, &text, &text_len, stderr);
	if (!err && !pf_pin_lock(&pin, o.iface, true))
		early = pf_load_start(&ld, text, text_len);
	if (!err)
		err = pf_policy_load_mem(o.policy, text, text_len, &pol, stderr);
	free(text);
	text = NULL;
	if (!err) {
		startup_mark(t0, "policy read");
		err = pf_policy_compile(&pol, 0, &comp, stderr);
	}
	if (!err)
		err = pf_regex_set_build(&pol, &rs, stderr);
	if (err)
		goto out_destroy;
	startup_mark(t0, "policy compiled");
	if (!early && !pin.locked) {
		err = pf_pin_lock(&pin, o.iface, false);
		if (err)
			goto out_destroy;
	}
	err = early ? pf_load_join(&ld, &comp) : 1;
	if (err == 1) {
		early = 0;
		err = load_in_line(&ld, &comp);
	}
	/* a kernel whose verifier refuses the open-coded loops (6.9+ verifiers
	 * differ; verified here on 6.18): the bpf_loop variant, as before
	 * 6.9 -- both give every packet the same outcome */
	if (err && ld.skel && ld.skel->rodata->pf_may_goto) {
		pr_warn("load: the open-coded loops' variant was refused (above): loading the "
			"bpf_loop variant");
		pf_load_discard(&ld);
		early = 0;
		ld.no_may_goto = true;
		err = load_in_line(&ld, &comp);
	}
	skel = ld.skel;
	if (err)
		goto out_destroy;
	startup_mark(t0, early ? "TC programs verified (while the policy was read)" :
			 "TC programs verified");
	if (o.xdp && skel->rodata->pf_xdp_no_meta)
		pr_info("xdp: this kernel refuses bpf_xdp_adjust_meta: XDP answers what it "
			"can, TC ingress follows every other frame (counted xdp_to_tc)");
	/* a dead instance's XDP program: adopted (pf_xdp_attach replaces it
	 * atomically) or refused; its translation must not run on top of ours,
	 * nor ours in XDP mode instead of its TC-mode one */
	err = pf_xdp_prepare(&xdp, o.iface, ifindex, pin.dir, o.xdp, o.xdp_generic,
			     pin.adopted ? bpf_map__fd(skel->maps.pf_flows) : -1);
	if (err)
		goto out_destroy;
	/* its program, where it was verified beside the TC ones */
	pf_xdp_give(&xdp, pf_progs_take(&ld.progs, skel, "pf_xdp_ingress"));
	err = pf_maps_get(skel->obj, &skel->bss->pf_cfg, &sl.m);
	ofl.rules_fd = bpf_map__fd(skel->maps.pf_ofl_rules);
	if (!err)
		err = pf_ofl_install(ofl.rules_fd, &comp);
	if (!err)
		err = pf_maps_install_prefilled(&sl.m, &pre);
	if (err)
		goto out_destroy;
	/* the policy's pass is over (heap.h): before the threads start */
	pf_heap_done(heap, 1);
	heap = NULL;
	pf_progs_trim(&ld.progs);   /* the loading threads' arenas (progs.h) */
	/* in place of a dead instance's XDP program: ours loaded now, so it
	 * replaces that one right after the TC programs are replaced, and
	 * its pin is staged with the maps' (pf_pin_maps) */
	err = pf_xdp_load(&xdp, skel);
	if (err)
		goto out_destroy;
	skel->bss->pf_cfg.xdp_mode = !o.xdp ? 0 :
				     o.xdp_generic ? PF_XDP_GENERIC : PF_XDP_NATIVE;
	/* the Date header; no heartbeat before ready: until then punts go to
	 * the app */
	pf_maps_clock(&skel->bss->pf_cfg);
	/* the adopted connections' ports stay translated (and looked at by
	 * the GC) even where this policy dropped them */
	if (pin.adopted) {
		err = pf_maps_xlate_flows(&sl.m, bpf_map__fd(skel->maps.pf_flows));
		if (err < 0)
			goto out_destroy;
		err = 0;
	}
	/* block the signals before the threads start and anything is
	 * attached: serve() takes them synchronously */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	err = pf_gc_start(&gc, bpf_map__fd(skel->maps.pf_flows),
			  (const __u64 *)skel->bss->pf_cfg.xlate_bits, &skel->bss->pf_cfg);
	if (err)
		goto out_stop;
	/* before the pins: a bind that fails touches nothing */
	if (o.metrics) {
		err = pf_metrics_start(&metrics, o.metrics, bpf_map__fd(skel->maps.pf_stats),
				       &gc, &skel->bss->pf_cfg);
		if (err)
			goto out_stop;
	}
	/* adopted: staged next to the dead instance's pins (see ours_answer) */
	err = pf_pin_maps(&pin, skel, pf_xdp_replacing(&xdp) ? xdp.prog_fd : -1);
	if (err)
		goto out_stop;
	/* the dead instance answered on meanwhile (GC, metrics, pins): the
	 * connections it spliced since the first scan, on a port this
	 * policy dropped, translated from the replace on (a review finding,
	 * stop 51: they went untranslated) */
	if (pin.adopted)
		pf_maps_xlate_flows(&sl.m, bpf_map__fd(skel->maps.pf_flows));
	err = pf_tc_attach(&tc, ifindex, o.iface, pin.dir, o.tc_how,
			   bpf_program__fd(skel->progs.pf_tc_ingress),
			   bpf_program__fd(skel->progs.pf_tc_egress), pin.adopted);
	/* (halfway: our ingress program in place of the dead one's) */
	if (!err || tc.in_adopted)
		err = ours_answer(&pin, err, !pf_xdp_replacing(&xdp));
	if (err)
		goto out_unpin;
	/* XDP mode: its hand-offs to TC ingress are the ingress probe's count */
	if (o.xdp)
		tc.xdp_stats_fd = bpf_map__fd(skel->maps.pf_stats);
	watch_chain(&tc, &o, &skel->bss->pf_cfg);
	if (pin.adopted)
		tc.hook_created = pf_pin_clsact_created(&pin);
	else
		pf_pin_mark_clsact(&pin, tc.hook_created);
	if (o.xdp) {
		err = pf_xdp_attach(&xdp, skel);
		err = ours_answer(&pin, err, pf_xdp_attached(&xdp));
		if (err)
			goto out_tc;
	}
	/* and those it spliced until its answering program was replaced
	 * (in XDP mode the XDP replace, libxdp's lock included, comes
	 * after the TC one): a segment of theirs between that splice and
	 * this scan on such a port still went untranslated (docs/restart.md) */
	if (pin.adopted)
		pf_maps_xlate_flows(&sl.m, bpf_map__fd(skel->maps.pf_flows));
	/* response offload: --cgroup, a policy with responses: true, --shadow
	 * or a dead instance's to take over */
	if (ofl.wanted) {
		char cgroot[512];

		if (!o.cgroup && pf_ofl_cgroup_root(cgroot, sizeof(cgroot))) {
			pr_warn("response offload: no cgroup v2 mount (pass --cgroup)");
			err = -ENOENT;
			goto out_xdp;
		}
		err = pf_ofl_attach(&ofl, skel, o.cgroup ? o.cgroup : cgroot);
		if (err)
			goto out_xdp;
		pr_info("%s on the server sockets of cgroup %s",
			o.shadow ? "shadow mode (nothing answered or inserted)" :
			"response offload", o.cgroup ? o.cgroup : cgroot);
	}
	pf_metrics_set_attached(&metrics, true);
	sl.punted_fd = bpf_map__fd(skel->maps.pf_punted);
	/* how decided segments go back (replay.h): said once here, not at
	 * every punt */
	pf_replay_start(&sl.rp, bpf_program__fd(skel->progs.pf_replay_xdp),
			bpf_program__fd(skel->progs.pf_replay_tc), ifindex,
			!o.xdp || o.xdp_generic || skel->rodata->pf_xdp_no_meta);
	pf_slow_adopt(&sl, &pol, &rs, 0);
	rb = pf_ringturn_new(&sl.turn, bpf_map__fd(skel->maps.pf_punt), pf_slow_on_punt, &sl,
			     PF_SLOW_TURN_MAX);
	if (!rb) {
		/* nobody decides punted origins, and no heartbeat says so:
		 * the datapath passes them to the app */
		pr_warn("slow path: ring buffer: %s", strerror(errno));
	}
	/* shadow mode: nothing is compared if this fails (the message says why) */
	shd_on = o.shadow && ofl.attached && rb && !pf_shadow_start(&shd, skel, &sl.pol, rb);
	/* "ready" means every path works: the heartbeat is written last,
	 * after the attach (libxdp's can take over a second), so the first
	 * punt after it is decided */
	startup_mark(t0, o.xdp ? "attached (XDP: its program verified too)" : "attached");
	tick(&skel->bss->pf_cfg, rb);
	printf("preflightd: ready on %s (%s mode, %u rules, %u policy strings, ports",
	       o.iface, o.xdp ? (o.xdp_generic ? "xdp-generic" : "xdp") : "tc",
	       comp.info.n_rules, comp.n_toks);
	for (unsigned i = 0; i < comp.n_ports; i++)
		printf(" %u", comp.ports[i]);
	printf(")\n");
	fflush(stdout);
	snprintf(status, sizeof(status), "serving %s (%s mode, TC through %s, %u rules)", o.iface,
		 o.xdp ? "xdp" : "tc", pf_tc_how_name(tc.how), comp.info.n_rules);
	pf_notify_ready(status);
	/* a restart: the programs keep translating (and answering) until the
	 * next instance replaces them in place */
	leave = serve(&sl, rb, &gc, &o, &tc, pin.dir, bpf_map__fd(skel->maps.pf_trace_ctl), &w);
	ring_buffer__free(rb);
	if (leave)
		goto out_stop;
	pf_metrics_set_attached(&metrics, false);
	/* from here on, a failure after adopting a dead instance's state
	 * leaves it as it was (or with our programs in place of its own,
	 * translating the same connections): its connections live on, and
	 * the next instance adopts them. Undoing our attach would detach or
	 * unpin what it replaced. */
out_xdp:
	if (!keep_attached(leave, err, &pin)) {
		pf_ofl_detach(&ofl, skel);
		pf_xdp_detach(&xdp);
	}
out_tc:
	if (!keep_attached(leave, err, &pin)) {
		pf_tc_detach(&tc);
		pf_pin_mark_clsact(&pin, false);
		pr_info("detached from %s", o.iface);
	}
out_unpin:
	if (!keep_attached(leave, err, &pin))
		pf_unpin_maps(&pin);
out_stop:
	pf_pin_unstage(&pin);   /* never committed: the dead instance's pins stay */
	leave = keep_attached(leave, err, &pin);
	pf_metrics_stop(&metrics);   /* safe when never started */
	pf_gc_free(&gc);             /* likewise; after /metrics, which reads it */
	if (leave) {
		/* no GC count of a daemon that is gone: `stats` counts */
		__atomic_store_n(&skel->bss->pf_cfg.gc_passes, 0, __ATOMIC_RELEASE);
		if (err)
			pr_info("failed after adopting: leaving the programs attached and the "
				"state pinned in %s for the next instance to adopt", pin.dir);
		else
			pr_info("restart: leaving the programs attached and the state pinned "
				"in %s for the next instance to adopt", pin.dir);
	}
out_destroy:
	pf_watch_close(&w);
	pf_load_discard(&ld);   /* safe when never started */
	pf_progs_trim(&ld.progs);
	pf_pin_unlock(&pin);
	pf_regex_set_free(&rs);
	pf_regex_set_free(&sl.rs);
	pf_policy_free(&sl.pol);
	pf_shadow_free(&shd);
	pf_compiled_free(&comp);
	pf_policy_free(&pol);
	pf_heap_done(heap, 0);   /* NULL once done (after the maps were filled) */
	return err ? 1 : 0;
}
