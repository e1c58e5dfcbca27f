/* kfeat.c -- e2e tool: does this kernel have what the datapath adapts to? (user/kfeat.h) */
/*
 *   kfeat xdp-meta    exit 0 if XDP programs may call bpf_xdp_adjust_meta
 *                     (XDP hands frames to TC), 1 if not
 *
 * The e2e scripts ask it (lib.sh: pf_xdp_meta) to know what `run`
 * decided at load: the same probe, user/kfeat.h.
 */
#include <stdio.h>
#include <string.h>
#include "../../../user/kfeat.h"

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "xdp-meta"))
		return pf_kfeat_xdp_meta() ? 0 : 1;
	fprintf(stderr, "usage: kfeat xdp-meta\n");
	return 2;
}
