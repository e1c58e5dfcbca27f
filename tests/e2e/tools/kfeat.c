/* kfeat.c -- e2e tool: does this kernel have what the datapath adapts to? (user/kfeat.h) */
/*
 *   kfeat xdp-meta    exit 0 if XDP programs may call bpf_xdp_adjust_meta
 *                     (XDP hands frames to TC by metadata), 1 if the
 *                     verifier refuses it, 2 if the probe fails otherwise
 *
 * The e2e scripts (upgrade.sh) ask it to know what `run` decided at
 * load: the same probe, user/kfeat.h.
 */
#include <stdio.h>
#include <string.h>
#include "../../../user/kfeat.h"

int main(int argc, char **argv)
{
	int r;

	if (argc == 2 && !strcmp(argv[1], "xdp-meta")) {
		r = pf_kfeat_xdp_meta();
		if (r < 0)
			fprintf(stderr, "kfeat: probe bpf_xdp_adjust_meta: %s\n", strerror(-r));
		return r < 0 ? 2 : !r;
	}
	fprintf(stderr, "usage: kfeat xdp-meta\n");
	return 2;
}
