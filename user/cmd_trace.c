/* cmd_trace.c -- `preflightd trace`: a live, sampled stream of the datapath's
 * decisions on preflight-shaped requests (flow, origin, outcome, verdict,
 * reason, rule): the answer to "why did this preflight fail?". Tracing is
 * off in the datapath until this command sets a sample rate, and off again
 * when it exits. */
#include <errno.h>
#include <getopt.h>
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
#include "pin.h"
#include "shadow.h"
#include "log.h"
#include "trace.h"

static volatile sig_atomic_t stop;
static unsigned long printed, limit;
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

/* Print one record: time, flow, outcome, decision, origin. */
static int on_rec(void *ctx, void *data, size_t len)
{
	char line[1024];

	(void)ctx;
	if (len < sizeof(struct pf_trace_rec))
		return 0;
	pf_trace_line(line, sizeof(line), data, mono_to_real_ns);
	fputs(line, stdout);
	fflush(stdout);
	if (limit && ++printed >= limit)
		stop = 1;
	return 0;
}

/* Set the sample rate in the pinned control map at path. */
static int set_sample(const char *path, __u32 sample)
{
	struct pf_trace_ctl c = { .sample = sample };
	__u32 zero = 0;
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &zero, &c, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
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
	char ctl[512], rbp[512], shd[512];
	unsigned long sample = 1;
	int c, fd = -1, err, n;
	char *end;

	while ((c = getopt_long(argc, argv, "i:s:c:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pf_iface_check(optarg))
				return 2;
			iface = optarg;
			break;
		case 's':
		case 'c':
			errno = 0;
			if (c == 's')
				sample = strtoul(optarg, &end, 10);
			else
				limit = strtoul(optarg, &end, 10);
			if (errno || *end || (c == 's' && (sample == 0 || sample > 1000000))) {
				pr_warn("invalid --%s '%s'", c == 's' ? "sample" : "count", optarg);
				return 2;
			}
			break;
		case 'h':
			printf("usage: preflightd trace [--iface IF] [--sample N] [--count K]\n"
			       "  one line per traced preflight decision (1 in N, default every\n"
			       "  one) and, under run --shadow, one per field where the app's\n"
			       "  answer differs from the policy's; stops after K lines or on\n"
			       "  SIGINT\n");
			return 0;
		default:
			return 2;
		}
	}
	if (pf_pin_path(ctl, sizeof(ctl), iface, "trace_ctl") ||
	    pf_pin_path(rbp, sizeof(rbp), iface, "trace") ||
	    pf_pin_path(shd, sizeof(shd), iface, "shd_diffs"))
		return 1;
	fd = bpf_obj_get(rbp);
	if (fd < 0) {
		pr_warn("open %s: %s (is preflightd running?)", rbp, strerror(errno));
		return 1;
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
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = set_sample(ctl, (__u32)sample);
	if (err) {
		pr_warn("enable tracing: %s", strerror(-err));
		goto out;
	}
	while (!stop) {
		err = ring_buffer__poll(rb, 200);
		if (err < 0 && err != -EINTR) {
			pr_warn("read trace: %s", strerror(-err));
			break;
		}
		err = 0;
		/* shadow mode (issue 13): the daemon's disagreements */
		n = pf_shadow_trace(shd, mono_to_real_ns,
				    limit ? (unsigned)(limit - printed) : 0);
		if (n > 0 && limit && (printed += (unsigned long)n) >= limit)
			stop = 1;
	}
	set_sample(ctl, 0);
out:
	ring_buffer__free(rb);
	close(fd);
	return err ? 1 : 0;
}
