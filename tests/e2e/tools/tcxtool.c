/* tcxtool.c -- foreign TC programs next to preflightd's, for the coexistence e2e tests. */
/*
 *   tcxtool attach --iface IF --dir in|out --where first|last --verdict next|ok PIN
 *       load tcx_other.bpf.c's other_next/other_ok and attach it through a
 *       tcx link at the head (BPF_F_BEFORE) or the tail (BPF_F_AFTER) of the
 *       hook's chain; the link is pinned at PIN (it lives as long as the
 *       pin), the counter map at PIN_bss; prints the program's id
 *   tcxtool legacy --iface IF --dir in|out --prio N --handle H --verdict next|ok PIN
 *       the same program as a clsact cls_bpf filter (direct-action) at
 *       priority N, handle H -- as Cilium's legacy mode attaches (prio 1
 *       handle 1); counter map at PIN_bss; prints the program's id
 *   tcxtool count PIN     packets the program of PIN has seen
 *   tcxtool stop PIN 0|1  set the stop word of the program of PIN (a next
 *       program then ends the chain, the chain unchanged)
 *   tcxtool detach PIN    detach a tcx link pinned at PIN, remove its pins
 *   tcxtool chain --iface IF --dir in|out
 *       what runs on the hook, in order, one per line: "tcx ID NAME" or
 *       "clsact PRIO HANDLE ID NAME" (preflightd's own pf_tc_chain)
 * Errors: "tcxtool: <operation>: <reason>", exit 1; usage: exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tcx_other.skel.h"
#include "tc.h"

struct opts {
	int ifindex;
	bool ingress, first, ok;
	__u32 prio, handle;
	const char *pin;
};

static int fail(const char *op, int err)
{
	fprintf(stderr, "tcxtool: %s: %s\n", op, strerror(err < 0 ? -err : err));
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: tcxtool attach|legacy|count|stop|detach|chain ... (see the source)\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "dir", required_argument, NULL, 'd' },
		{ "where", required_argument, NULL, 'w' },
		{ "verdict", required_argument, NULL, 'v' },
		{ "prio", required_argument, NULL, 'p' },
		{ "handle", required_argument, NULL, 'H' },
		{ 0 }
	};
	int c;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->ifindex = if_nametoindex(optarg);
			if (!o->ifindex) {
				fail(optarg, errno);
				exit(1);
			}
			break;
		case 'd': o->ingress = !strcmp(optarg, "in"); break;
		case 'w': o->first = !strcmp(optarg, "first"); break;
		case 'v': o->ok = !strcmp(optarg, "ok"); break;
		case 'p': o->prio = strtoul(optarg, NULL, 0); break;
		case 'H': o->handle = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind < argc)
		o->pin = argv[optind];
}

/* Load the program of verdict ok/next; its .bss pinned at PIN_bss; its
 * id printed. */
static struct tcx_other *load(const struct opts *o, int *prog_fd)
{
	struct tcx_other *skel = tcx_other__open();
	char path[512];

	if (!skel)
		return NULL;
	bpf_program__set_autoload(o->ok ? skel->progs.other_next : skel->progs.other_ok, false);
	if (tcx_other__load(skel)) {
		tcx_other__destroy(skel);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s_bss", o->pin);
	unlink(path);
	if (bpf_map__pin(skel->maps.bss, path)) {
		tcx_other__destroy(skel);
		return NULL;
	}
	*prog_fd = bpf_program__fd(o->ok ? skel->progs.other_ok : skel->progs.other_next);
	{
		struct bpf_prog_info pi = {};
		__u32 len = sizeof(pi);

		if (!bpf_obj_get_info_by_fd(*prog_fd, &pi, &len))
			printf("%u\n", pi.id);
	}
	return skel;
}

static int cmd_attach(const struct opts *o)
{
	DECLARE_LIBBPF_OPTS(bpf_link_create_opts, lo,
			    .flags = o->first ? PF_BPF_F_BEFORE : PF_BPF_F_AFTER);
	struct tcx_other *skel;
	int prog, link;

	skel = load(o, &prog);
	if (!skel)
		return fail("load", errno);
	link = bpf_link_create(prog, o->ifindex, o->ingress ? PF_BPF_TCX_INGRESS :
			       PF_BPF_TCX_EGRESS, &lo);
	if (link < 0)
		return fail("bpf_link_create", link);
	unlink(o->pin);
	if (bpf_obj_pin(link, o->pin))
		return fail("pin", errno);
	tcx_other__destroy(skel);
	return 0;
}

static int cmd_legacy(const struct opts *o)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = o->ifindex,
			    .attach_point = o->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .handle = o->handle, .priority = o->prio);
	struct tcx_other *skel;
	int err;

	skel = load(o, &to.prog_fd);
	if (!skel)
		return fail("load", errno);
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return fail("clsact", err);
	err = bpf_tc_attach(&hook, &to);
	if (err)
		return fail("bpf_tc_attach", err);
	tcx_other__destroy(skel);
	return 0;
}

/* The .bss of the program of PIN into *b, its map's fd in *fd. */
static int read_bss(const struct opts *o, struct tcx_other__bss *b, int *fd)
{
	char path[512];
	__u32 zero = 0;

	snprintf(path, sizeof(path), "%s_bss", o->pin);
	*fd = bpf_obj_get(path);
	if (*fd < 0 || bpf_map_lookup_elem(*fd, &zero, b))
		return fail(path, errno);
	return 0;
}

static int cmd_count(const struct opts *o)
{
	struct tcx_other__bss b;
	int fd;

	if (read_bss(o, &b, &fd))
		return 1;
	close(fd);
	printf("%llu\n", (unsigned long long)b.seen);
	return 0;
}

static int cmd_stop(const struct opts *o, const char *v)
{
	struct tcx_other__bss b;
	__u32 zero = 0;
	int fd;

	if (read_bss(o, &b, &fd))
		return 1;
	b.stop = !!atoi(v);
	if (bpf_map_update_elem(fd, &zero, &b, BPF_EXIST))
		return fail("stop", errno);
	close(fd);
	return 0;
}

static int cmd_detach(const struct opts *o)
{
	char path[512];
	int fd = bpf_obj_get(o->pin);

	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(o->pin);
	snprintf(path, sizeof(path), "%s_bss", o->pin);
	unlink(path);
	return 0;
}

static int cmd_chain(const struct opts *o)
{
	struct pf_tc_prog c[64];
	int n, i;

	n = pf_tc_chain(o->ifindex, o->ingress, c, 64);
	if (n < 0)
		return fail("chain", n);
	for (i = 0; i < n && i < 64; i++) {
		if (c[i].tcx)
			printf("tcx %u %s\n", c[i].id, c[i].name);
		else
			printf("clsact %u 0x%x %u %s\n", c[i].prio, c[i].handle, c[i].id, c[i].name);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	if (argc < 2)
		usage();
	parse(argc, argv, &o);
	if (!strcmp(argv[1], "chain"))
		return o.ifindex ? cmd_chain(&o) : (usage(), 2);
	if (!o.pin)
		usage();
	if (!strcmp(argv[1], "attach"))
		return cmd_attach(&o);
	if (!strcmp(argv[1], "legacy"))
		return cmd_legacy(&o);
	if (!strcmp(argv[1], "count"))
		return cmd_count(&o);
	if (!strcmp(argv[1], "detach"))
		return cmd_detach(&o);
	if (!strcmp(argv[1], "stop") && optind + 1 < argc)
		return cmd_stop(&o, argv[optind + 1]);
	usage();
	return 2;
}
