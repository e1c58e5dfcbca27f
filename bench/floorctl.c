/* floorctl.c -- load the benchmark floor (bench/floor.bpf.c) on an interface until a signal. */
/*
 *   floorctl --iface IF [--port N] [--timeout SEC]
 *
 * Opens the floor through its skeleton (iproute2 here cannot load an
 * object with .rodata), sets the port and the precomputed checksum of the
 * fixed payload, attaches it as a native XDP program through a bpf_link,
 * prints "floorctl: ready on IF (prog id N, port P)" and waits for SIGINT
 * or SIGTERM, or --timeout seconds (default 600). Then prints
 * "floorctl: bounced N" and exits; the link -- and with it the XDP
 * program -- goes away with the process, however it ends.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "floor.h"
#include "floor.skel.h"

struct opts {
	const char *iface;
	unsigned port;
	unsigned timeout;
};

/* Print the usage to f. */
static void usage(FILE *f)
{
	fprintf(f, "usage: floorctl --iface IF [--port N] [--timeout SEC]\n");
}

/* Parse argv into o. Returns 0 or -EINVAL (message printed). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long v;
	char *end;
	int c;

	o->port = 8080;
	o->timeout = 600;
	while ((c = getopt_long(argc, argv, "i:p:t:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->iface = optarg;
			break;
		case 'p':
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > (c == 'p' ? 65535ul : 86400ul)) {
				fprintf(stderr, "floorctl: invalid --%s '%s'\n",
					c == 'p' ? "port" : "timeout", optarg);
				return -EINVAL;
			}
			if (c == 'p')
				o->port = (unsigned)v;
			else
				o->timeout = (unsigned)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->iface || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* Sum of the per-CPU FLOOR_BOUNCED counters; 0 if they cannot be read. */
static unsigned long long bounced(struct floor_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	unsigned long long n = 0;
	__u32 key = FLOOR_BOUNCED;
	__u64 *v;

	if (ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.floor_stats), &key, v))
		for (i = 0; i < ncpu; i++)
			n += v[i];
	free(v);
	return n;
}

/* Print libbpf warnings and errors, not its debug chatter. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Load, attach, wait for a signal or the timeout, report, detach (the
 * link goes with the process). Exit status 0, 1 on failure, 2 on usage. */
int main(int argc, char **argv)
{
	struct timespec limit = { 0 };
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	struct floor_bpf *skel;
	struct bpf_link *link;
	struct opts o = { 0 };
	sigset_t set;
	int ifindex, err, sig;

	if (parse_opts(argc, argv, &o))
		return 2;
	ifindex = (int)if_nametoindex(o.iface);
	if (!ifindex) {
		fprintf(stderr, "floorctl: interface %s: %s\n", o.iface, strerror(errno));
		return 1;
	}
	libbpf_set_print(quiet_print);
	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "floorctl: open floor object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->floor_port = (__u16)o.port;
	skel->rodata->floor_resp_sum = floor_payload_sum(FLOOR_RESP, FLOOR_RESP_LEN);
	err = floor_bpf__load(skel);
	if (err) {
		fprintf(stderr, "floorctl: load floor program: %s\n", strerror(-err));
		goto out;
	}
	/* signals are taken synchronously below; block them before attaching */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	link = bpf_program__attach_xdp(skel->progs.floor_xdp, ifindex);
	err = libbpf_get_error(link);
	if (err) {
		fprintf(stderr, "floorctl: attach XDP to %s: %s\n", o.iface, strerror(-err));
		goto out;
	}
	skel->links.floor_xdp = link;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.floor_xdp), &info, &info_len))
		info.id = 0;
	printf("floorctl: ready on %s (prog id %u, port %u, %zu-byte response)\n", o.iface,
	       info.id, o.port, (size_t)FLOOR_RESP_LEN);
	fflush(stdout);
	limit.tv_sec = o.timeout;
	sig = sigtimedwait(&set, NULL, &limit);
	if (sig < 0)
		fprintf(stderr, "floorctl: --timeout %u s reached\n", o.timeout);
	printf("floorctl: bounced %llu\n", bounced(skel));
	fflush(stdout);
out:
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
