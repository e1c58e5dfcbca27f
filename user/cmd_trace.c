/* cmd_trace.c -- `preflightd trace`: a live, sampled stream of the datapath's
 * decisions on preflight-shaped requests (flow, origin, outcome, verdict,
 * reason, rule): the answer to "why did this preflight fail?". Tracing is
 * off in the datapath until this command sets a sample rate, and off again
 * when it exits -- on SIGINT, SIGTERM, SIGHUP, --count, and when its reader
 * goes away (`trace | head`: SIGPIPE ignored, a failed write or a pipe
 * without reader ends it). One trace per interface at a time: it holds an
 * flock on the instance's pin directory, and a second one is refused (two
 * would steal each other's records from the one ring buffer, and the
 * first to exit would switch tracing off under the other). Tracing left
 * on by a trace killed by SIGKILL is switched off by the daemon within a
 * second (pf_trace_orphan_off). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/pf_structs.h"
#include "cmds.h"
#include "escape.h"
#include "iface.h"
#include "match.h"
#include "optnum.h"
#include "pin.h"
#include "shadow.h"
#include "log.h"
#include "trace.h"

static volatile sig_atomic_t stop;
static unsigned long printed, limit;
static int out_err; /* errno of a failed write to stdout (EPIPE: no reader) */
static __s64 mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* See trace.h. */
int pf_trace_line(char *buf, size_t cap, const struct pf_trace_rec *t,
		  __s64 mono_to_real)
{
	char c[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN], name[64], hms[16];
	char origin[PF_ESCAPED_MAX(PF_TRACE_ORIGIN)], rule[96] = "";
	__u64 ns = t->ts_ns + (__u64)mono_to_real;
	time_t sec = (time_t)(ns / 1000000000ull);
	int af = t->key.family == 6 ? AF_INET6 : AF_INET;
	const char *lb = af == AF_INET6 ? "[" : "", *rb = af == AF_INET6 ? "]" : "";
	struct tm tm;

	inet_ntop(af, t->key.caddr, c, sizeof(c));
	inet_ntop(af, t->key.saddr, s, sizeof(s));
	localtime_r(&sec, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	if (t->matched)
		snprintf(rule, sizeof(rule), " verdict=%s reason=%s rule=%u",
			 pf_verdict_name(t->verdict), pf_reason_name(t->reason),
			 t->rule + 1);
	/* the origin is the client's: spaces and '\' escaped too, so it
	 * can neither add fields nor fake an escape */
	if (t->origin_len)
		pf_escape(origin, sizeof(origin), t->origin,
			  t->origin_len < PF_TRACE_ORIGIN ? t->origin_len : PF_TRACE_ORIGIN,
			  " \\");
	else
		strcpy(origin, "-");
	return snprintf(buf, cap, "%s.%06llu %s%s%s:%u -> %s%s%s:%u %s %s%s origin=%s\n",
			hms, (unsigned long long)(ns % 1000000000ull / 1000),
			lb, c, rb, ntohs(t->key.cport), lb, s, rb, ntohs(t->key.sport),
			t->xdp ? "xdp" : "tc",
			t->stat < PF_STAT__MAX ? pf_stat_name(t->stat, name, sizeof(name)) : "unknown",
			rule, origin);
}

/* Print one record: time, flow, outcome, decision, origin. Nothing once
 * stopping (the rest of a batch past --count or a failed write); a failed
 * write stops the trace (out_err). */
static int on_rec(void *ctx, void *data, size_t len)
{
	char line[1024];

	(void)ctx;
	if (stop || len < sizeof(struct pf_trace_rec))
		return 0;
	pf_trace_line(line, sizeof(line), data, mono_to_real_ns);
	if (fputs(line, stdout) == EOF || fflush(stdout)) {
		out_err = errno;
		stop = 1;
		return 0;
	}
	if (limit && ++printed >= limit)
		stop = 1;
	return 0;
}

/* Whether stdout's reader went away with nothing written since (a pipe
 * whose read end is closed polls POLLERR, a hung-up terminal POLLHUP):
 * `trace | head` then ends without waiting for one more record. */
static int reader_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* Set the sample rate in the control map fd. 0 or -errno. */
static int set_sample(int fd, __u32 sample)
{
	struct pf_trace_ctl c = { .sample = sample };
	__u32 zero = 0;

	return bpf_map_update_elem(fd, &zero, &c, BPF_ANY) ? -errno : 0;
}

/* Take the one-trace-per-interface lock (pf_trace_lock) on the pin
 * directory dir. The held fd, or -errno with the message printed
 * (-EBUSY: another trace holds it). */
static int trace_lock(const char *dir)
{
	int fd = pf_trace_lock(dir);

	if (fd == -EBUSY)
		pr_warn("another `preflightd trace` is running on %s; one at a time "
			"(they would share one ring buffer): stop it first", dir);
	else if (fd < 0)
		pr_warn("lock %s: %s (is preflightd running?)", dir, strerror(-fd));
	return fd;
}

int pf_cmd_trace(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "sample", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *iface = NULL;
	struct ring_buffer *rb = NULL;
	char dir[512], ctl[512], rbp[512], shd[512];
	unsigned long sample = 1;
	int c, fd = -1, ctl_fd = -1, lock_fd = -1, on = 0, err, n;

	while ((c = getopt_long(argc, argv, "i:s:c:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pf_iface_check(optarg))
				return 2;
			iface = optarg;
			break;
		case 's':
			if (pf_opt_ulong("sample", optarg, 1, 1000000, &sample))
				return 2;
			break;
		case 'c': /* 0: no limit; at most UINT_MAX (pf_shadow_trace's max) */
			if (pf_opt_ulong("count", optarg, 0, UINT_MAX, &limit))
				return 2;
			break;
		case 'h':
			printf("usage: preflightd trace [--iface IF] [--sample N] [--count K]\n"
			       "  one line per traced preflight decision (1 in N, default every\n"
			       "  one) and, under run --shadow, one per field where the app's\n"
			       "  answer differs from the policy's; stops after K lines, on\n"
			       "  SIGINT, SIGTERM or SIGHUP, or when its reader goes away, and\n"
			       "  switches tracing off again; one trace per interface at a time\n");
			return 0;
		default:
			return 2;
		}
	}
	if (pf_opt_none("trace", argc, argv, optind))
		return 2;
	/* dir: the pin directory itself ("" names it, with a trailing '/') */
	if (pf_pin_path(dir, sizeof(dir), iface, "") ||
	    pf_pin_path(ctl, sizeof(ctl), iface, "trace_ctl") ||
	    pf_pin_path(rbp, sizeof(rbp), iface, "trace") ||
	    pf_pin_path(shd, sizeof(shd), iface, "shd_diffs"))
		return 1;
	lock_fd = trace_lock(dir);
	if (lock_fd < 0)
		return 1;
	pf_pin_warn_staged(dir);
	/* the reader gone is a normal end, told by a failed write (EPIPE) */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	err = 0;
	fd = bpf_obj_get(rbp);
	if (fd < 0) {
		err = -errno;
		pr_warn("open %s: %s (is preflightd running?)", rbp, strerror(-err));
		goto out;
	}
	/* held from on to off: the switch turned off is the one turned on */
	ctl_fd = bpf_obj_get(ctl);
	if (ctl_fd < 0) {
		err = -errno;
		pr_warn("open %s: %s", ctl, strerror(-err));
		goto out;
	}
	rb = ring_buffer__new(fd, on_rec, NULL, NULL);
	if (!rb) {
		err = -errno;
		pr_warn("ring buffer %s: %s", rbp, strerror(-err));
		goto out;
	}
	{
		struct timespec r, m;

		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_MONOTONIC, &m);
		mono_to_real_ns = ((__s64)r.tv_sec - m.tv_sec) * 1000000000ll +
				  (r.tv_nsec - m.tv_nsec);
	}
	err = set_sample(ctl_fd, (__u32)sample);
	if (err) {
		pr_warn("enable tracing: %s", strerror(-err));
		goto out;
	}
	on = 1;
	while (!stop) {
		err = ring_buffer__poll(rb, 200);
		if (err < 0 && err != -EINTR) {
			pr_warn("read trace: %s", strerror(-err));
			break;
		}
		err = 0;
		if (stop)
			break;
		/* shadow mode (issue 13): the daemon's disagreements */
		n = pf_shadow_trace(shd, mono_to_real_ns,
				    limit ? (unsigned)(limit - printed) : 0);
		if (n < 0 && ferror(stdout))
			out_err = -n;
		if (n > 0 && limit && (printed += (unsigned long)n) >= limit)
			stop = 1;
		if (out_err || reader_gone())
			break;
	}
	if (out_err && out_err != EPIPE) {
		pr_warn("write trace: %s", strerror(out_err));
		err = -out_err;
	}
out:
	if (on) {
		int e = set_sample(ctl_fd, 0);

		if (e) {
			pr_warn("disable tracing: %s", strerror(-e));
			err = err ? err : e;
		}
	}
	ring_buffer__free(rb);
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (fd >= 0)
		close(fd);
	close(lock_fd);
	return err ? 1 : 0;
}
