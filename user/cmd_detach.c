/* cmd_detach.c -- `preflightd detach`: for an instance that is no longer running
 * (kill -9, crash), do what its SIGTERM would have done: stop answering,
 * keep translating until the spliced connections close (bounded, then reset
 * them), and remove its filters, XDP program and pins. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/pf_structs.h"
#include "cmds.h"
#include "iface.h"
#include "gc.h"
#include "pin.h"
#include "tc.h"
#include "xdp.h"
#include "offload.h"
#include "log.h"

/* Set draining in the pinned config (.bss) map of the dead instance.
 * Returns 0, or -errno if there is none. */
static int set_draining(const struct pf_pin *pin)
{
	struct pf_config *cfg;
	char path[512];
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/config", pin->dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	/* the .bss value is the whole section; pf_cfg is its only variable */
	cfg = calloc(1, 65536);
	if (!cfg) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &zero, cfg)) {
		err = -errno;
		goto out;
	}
	cfg->draining = 1;
	cfg->ofl_stop = 1; /* response offload: hold no bytes back */
	if (bpf_map_update_elem(fd, &zero, cfg, BPF_ANY))
		err = -errno;
out:
	free(cfg);
	close(fd);
	return err;
}

/* Translate-only until the flow table is empty or timeout_s passed, then
 * reset what is left. */
static void drain(const struct pf_pin *pin, unsigned timeout_s)
{
	struct timespec ts, tick = { 0, 200 * 1000 * 1000 };
	char path[512];
	unsigned freed;
	__u64 now, end;
	int fd, live;

	snprintf(path, sizeof(path), "%s/flows", pin->dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec + (__u64)timeout_s;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		live = pf_gc_flows(fd, now, 0, &freed);
		if (live <= 0)
			break;
		if ((__u64)ts.tv_sec >= end) {
			pr_warn("drain timeout: %d spliced connections still open; resetting them",
				live);
			pf_gc_reset_all(fd);
			break;
		}
		nanosleep(&tick, NULL);
	}
	close(fd);
}

int pf_cmd_detach(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "drain-timeout", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct pf_pin pin = {};
	struct pf_tc tc = {};
	const char *iface = NULL;
	unsigned timeout = 60;
	int c, ifindex, n = 0, x;
	char *end;

	while ((c = getopt_long(argc, argv, "i:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pf_iface_check(optarg))
				return 2;
			iface = optarg;
			break;
		case 'D':
			timeout = strtoul(optarg, &end, 10);
			if (*end || timeout > 86400) {
				pr_warn("invalid --drain-timeout '%s'", optarg);
				return 2;
			}
			break;
		case 'h':
			printf("usage: preflightd detach --iface IFACE [--drain-timeout SEC]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!iface) {
		fprintf(stderr, "usage: preflightd detach --iface IFACE [--drain-timeout SEC]\n");
		return 2;
	}
	if (pf_pin_lock(&pin, iface))
		return 1; /* a live instance: it drains and detaches itself on SIGTERM */
	ifindex = if_nametoindex(iface);
	if (!set_draining(&pin)) {
		pr_info("draining the connections spliced by a dead instance on %s", iface);
		drain(&pin, timeout);
	}
	if (ifindex) {
		x = pf_xdp_find_stale(ifindex, true);
		n = pf_tc_detach_stale(ifindex, pin.dir) + (x > 0);
		tc.ifindex = ifindex;
		tc.hook_created = pf_pin_clsact_created(&pin);
		pf_tc_detach(&tc); /* removes clsact only if ours and empty */
	}
	n += pf_ofl_detach_stale(pin.dir, iface);
	pf_pin_mark_clsact(&pin, false);
	pin.pinned = true;
	pf_unpin_maps(&pin);
	pf_pin_unlock(&pin);
	printf("preflightd: removed %d program(s) and the pins of %s\n", n, iface);
	return 0;
}
