/* xdp.c -- the XDP half of `run --mode xdp`. libxdp loads pf_xdp_ingress
 * as an extension of its multi-program dispatcher, so preflightd shares
 * the interface with other libxdp programs. The program comes from a
 * second bpf_object built from the skeleton's embedded ELF, with every map
 * reused from the loaded skeleton (one flow table, one config). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "skel.h"
#include "xdp.h"
#include "log.h"

/* Point every map of obj at the same-named map of skel. */
static int reuse_maps(struct bpf_object *obj, struct preflightd_bpf *skel)
{
	struct bpf_map *m, *orig;
	int err;

	bpf_object__for_each_map(m, obj) {
		orig = bpf_object__find_map_by_name(skel->obj, bpf_map__name(m));
		if (!orig) {
			pr_warn("xdp: map %s not in the loaded object", bpf_map__name(m));
			return -ENOENT;
		}
		err = bpf_map__reuse_fd(m, bpf_map__fd(orig));
		if (err) {
			pr_warn("xdp: reuse map %s: %s", bpf_map__name(m), strerror(-err));
			return err;
		}
	}
	return 0;
}

int pf_xdp_attach(struct pf_xdp *x, struct preflightd_bpf *skel, int ifindex,
		  bool generic)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "preflightd_xdp");
	struct bpf_object *obj = NULL;
	struct bpf_program *p;
	const void *elf;
	size_t sz;
	int err;

	memset(x, 0, sizeof(*x));
	x->ifindex = ifindex;
	x->mode = generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	elf = preflightd_bpf__elf_bytes(&sz);
	obj = bpf_object__open_mem(elf, sz, &oopts);
	err = libbpf_get_error(obj);
	if (err) {
		obj = NULL;
		pr_warn("xdp: open object: %s", strerror(-err));
		goto fail;
	}
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "pf_xdp_ingress"));
	err = reuse_maps(obj, skel);
	if (err)
		goto fail;
	{
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = obj,
				    .prog_name = "pf_xdp_ingress");

		x->prog = xdp_program__create(&xopts);
	}
	err = libxdp_get_error(x->prog);
	if (err) {
		x->prog = NULL;
		pr_warn("xdp: create program: %s", strerror(-err));
		goto fail;
	}
	obj = NULL; /* owned by x->prog now */
	err = xdp_program__attach(x->prog, ifindex, x->mode, 0);
	if (err) {
		if (!generic && (err == -EOPNOTSUPP || err == -EINVAL))
			pr_warn("xdp: attach in native mode: %s (the driver may lack "
				"native XDP; --xdp-generic forces skb mode)", strerror(-err));
		else
			pr_warn("xdp: attach: %s", strerror(-err));
		goto fail;
	}
	return 0;
fail:
	if (x->prog)
		xdp_program__close(x->prog);
	else if (obj)
		bpf_object__close(obj);
	x->prog = NULL;
	return err;
}

void pf_xdp_detach(struct pf_xdp *x)
{
	int err;

	if (!x->prog)
		return;
	err = xdp_program__detach(x->prog, x->ifindex, x->mode, 0);
	if (err)
		pr_warn("xdp: detach: %s", strerror(-err));
	xdp_program__close(x->prog);
	x->prog = NULL;
	/* libxdp's lock directory: removed only if nothing else uses it */
	rmdir("/sys/fs/bpf/xdp");
}

int pf_xdp_find_stale(int ifindex, bool detach)
{
	struct xdp_multiprog *mp;
	struct xdp_program *prog;
	int found = 0, err;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (err)
		return err == -ENOENT ? 0 : err;
	if (!mp)
		return 0;
	if (xdp_multiprog__is_legacy(mp)) {
		prog = xdp_multiprog__main_prog(mp);
		found = prog && !strcmp(xdp_program__name(prog), "pf_xdp_ingress");
		if (found && detach) {
			err = xdp_multiprog__detach(mp);
			if (err)
				pr_warn("xdp: detach stale program: %s", strerror(-err));
		}
		goto out;
	}
	for (prog = xdp_multiprog__next_prog(NULL, mp); prog;
	     prog = xdp_multiprog__next_prog(prog, mp)) {
		if (strcmp(xdp_program__name(prog), "pf_xdp_ingress"))
			continue;
		found = 1;
		if (detach) {
			err = xdp_program__detach(prog, ifindex,
						  xdp_multiprog__attach_mode(mp), 0);
			if (err)
				pr_warn("xdp: detach stale program: %s", strerror(-err));
		}
		break;
	}
out:
	xdp_multiprog__close(mp);
	return found;
}
