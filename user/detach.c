/* detach.c -- `preflightd detach`: remove what a preflightd that is no longer
 * running left on an interface (filters, pins). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/libbpf.h>
#include "cmds.h"
#include "pin.h"
#include "tc.h"
#include "log.h"

int pf_cmd_detach(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct pf_pin pin = {};
	const char *iface = NULL;
	int c, ifindex, n;

	while ((c = getopt_long(argc, argv, "i:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i': iface = optarg; break;
		case 'h':
			printf("usage: preflightd detach --iface IFACE\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!iface) {
		fprintf(stderr, "usage: preflightd detach --iface IFACE\n");
		return 2;
	}
	if (pf_pin_lock(&pin, iface))
		return 1; /* a live instance: it detaches itself on SIGTERM */
	ifindex = if_nametoindex(iface);
	n = ifindex ? pf_tc_detach_stale(ifindex) : 0;
	pin.pinned = true;
	pf_unpin_maps(&pin);
	pf_pin_unlock(&pin);
	printf("preflightd: removed %d filter(s) and the pins of %s\n", n, iface);
	return 0;
}
