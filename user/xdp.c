/* xdp.c -- the XDP half of `run --mode xdp`. libxdp loads pf_xdp_ingress
 * as an extension of its multi-program dispatcher, so preflightd shares
 * the interface with other libxdp programs. The program comes from a
 * second bpf_object built from the skeleton's embedded ELF, with every map
 * reused from the loaded skeleton (one flow table, one config).
 *
 * Restart adoption: a dead instance's pf_xdp_ingress keeps translating its
 * spliced connections (ingress, in place, then XDP_PASS). Two of them must
 * never run on one packet (it would be translated twice), and the hook
 * must never be empty, so the new program replaces the old one in a single
 * XDP_FLAGS_REPLACE, which fails if the hook changed since it was looked
 * at. libxdp cannot swap one program of a dispatcher atomically, so a
 * dispatcher is replaced only when ours is its only program (the new one
 * then runs alone); with other programs in it, `run` refuses. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "skel.h"
#include "xdp.h"
#include "log.h"

#define PF_XDP_PROG    "pf_xdp_ingress"
#define PF_XDP_BPFFS   "/sys/fs/bpf/xdp"   /* libxdp's lock and pin directory */
#define PF_XDP_MAX_MAPS 256

static const char *mode_name(int mode)
{
	return mode == XDP_MODE_SKB ? "skb (generic)" :
	       mode == XDP_MODE_NATIVE ? "native" : mode == XDP_MODE_HW ? "hw" : "unknown";
}

static __u32 mode_flags(int mode)
{
	return mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

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

/* A second object from the skeleton's ELF: only pf_xdp_ingress loads,
 * every map is skel's. Returns 0 (*objp set) or -errno (message printed). */
static int open_obj(struct preflightd_bpf *skel, struct bpf_object **objp)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "preflightd_xdp");
	struct bpf_object *obj;
	struct bpf_program *p;
	const void *elf;
	size_t sz;
	int err;

	elf = preflightd_bpf__elf_bytes(&sz);
	obj = bpf_object__open_mem(elf, sz, &oopts);
	err = libbpf_get_error(obj);
	if (err) {
		pr_warn("xdp: open object: %s", strerror(-err));
		return err;
	}
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), PF_XDP_PROG));
	err = reuse_maps(obj, skel);
	if (err)
		goto out;
	*objp = obj;
	obj = NULL;
out:
	bpf_object__close(obj);   /* NULL-safe */
	return err;
}

/* 1 if the program prog_fd uses the map map_fd, 0 if not, -errno. */
static int prog_uses_map(int prog_fd, int map_fd)
{
	__u32 ids[PF_XDP_MAX_MAPS], len, i, n;
	struct bpf_prog_info pi = {};
	struct bpf_map_info mi = {};

	len = sizeof(mi);
	if (bpf_obj_get_info_by_fd(map_fd, &mi, &len))
		return -errno;
	pi.nr_map_ids = PF_XDP_MAX_MAPS;
	pi.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		return -errno;
	n = pi.nr_map_ids < PF_XDP_MAX_MAPS ? pi.nr_map_ids : PF_XDP_MAX_MAPS;
	for (i = 0; i < n; i++)
		if (ids[i] == mi.id)
			return 1;
	return 0;
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	return bpf_obj_get_info_by_fd(fd, &pi, &len) ? 0 : pi.id;
}

static bool is_ours(const struct xdp_program *p)
{
	return p && !strcmp(xdp_program__name(p), PF_XDP_PROG);
}

int pf_xdp_prepare(struct pf_xdp *x, const char *iface, int ifindex, bool xdp,
		   bool generic, int flows_fd)
{
	struct xdp_program *old = NULL, *p;
	struct xdp_multiprog *mp;
	int others = 0, cur, err;
	bool legacy;

	memset(x, 0, sizeof(*x));
	x->prog_fd = -1;
	x->ifindex = ifindex;
	x->mode = generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (!mp || err == -ENOENT)
		return 0;   /* nothing attached */
	if (err) {
		pr_warn("xdp: look at the XDP hook of %s: %s", iface, strerror(-err));
		return err;
	}
	legacy = xdp_multiprog__is_legacy(mp);
	if (legacy) {
		p = xdp_multiprog__main_prog(mp);   /* NULL: only a hw program */
		if (is_ours(p))
			old = p;
		else if (p)
			others = 1;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p;
		     p = xdp_multiprog__next_prog(p, mp)) {
			if (is_ours(p) && !old)
				old = p;
			else
				others++;
		}
	}
	if (!old) {
		/* a dispatcher takes ours next to its programs; a program
		 * attached alone would have to be replaced: never */
		if (xdp && legacy && others) {
			p = xdp_multiprog__main_prog(mp);
			pr_warn("another XDP program (%s, id %u) is attached to %s: preflightd "
				"does not replace it; remove it, or use --mode tc",
				xdp_program__name(p), xdp_program__id(p), iface);
			err = -EEXIST;
		}
		goto out;
	}
	err = -EEXIST;
	if (flows_fd < 0) {
		pr_warn("a preflightd XDP program (id %u) is attached to %s but no pinned flow "
			"table is left to adopt with it: 'preflightd detach --iface %s' removes it",
			xdp_program__id(old), iface, iface);
		goto out;
	}
	cur = prog_uses_map(xdp_program__fd(old), flows_fd);
	if (cur <= 0) {
		if (cur < 0) {
			err = cur;
			pr_warn("xdp: inspect program %u: %s", xdp_program__id(old), strerror(-err));
		} else {
			pr_warn("the preflightd XDP program (id %u) on %s does not use the pinned "
				"flow table: 'preflightd detach --iface %s' removes it",
				xdp_program__id(old), iface, iface);
		}
		goto out;
	}
	if (!xdp) {
		pr_warn("a dead instance's XDP program is still attached to %s: restart with "
			"--mode xdp to adopt it, or 'preflightd detach --iface %s' drains and "
			"removes it", iface, iface);
		goto out;
	}
	cur = xdp_multiprog__attach_mode(mp);
	if (cur != x->mode) {
		pr_warn("the dead instance's XDP program on %s is attached in %s mode: restart "
			"%s to adopt it, or 'preflightd detach --iface %s' drains and removes it",
			iface, mode_name(cur), cur == XDP_MODE_SKB ? "with --xdp-generic" :
			"without --xdp-generic", iface);
		goto out;
	}
	if (others) {
		pr_warn("the dead instance's XDP program on %s shares a libxdp dispatcher with %d "
			"other program(s), and libxdp cannot swap one of them atomically: "
			"'preflightd detach --iface %s' drains and removes it, then restart",
			iface, others, iface);
		goto out;
	}
	x->replace_id = legacy ? xdp_program__id(old) :
		xdp_program__id(xdp_multiprog__main_prog(mp));
	x->replace_dispatcher = !legacy;
	pr_info("adopting the XDP program (id %u) left on %s by a previous instance",
		xdp_program__id(old), iface);
	err = 0;
out:
	xdp_multiprog__close(mp);
	return err;
}

/* Take libxdp's lock (flock on its bpffs directory), as libxdp does
 * around dispatcher changes. Returns the fd or -errno. */
static int xdp_lock(void)
{
	int fd, err;

	if (mkdir(PF_XDP_BPFFS, 0700) && errno != EEXIST)
		return -errno;
	fd = open(PF_XDP_BPFFS, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Remove the pins of the replaced dispatcher (its component's link and
 * program), which keep it alive; as libxdp's own unpin does. */
static void unpin_dispatcher(int ifindex, __u32 id)
{
	char dir[256], path[512];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/dispatch-%d-%u", PF_XDP_BPFFS, ifindex, id);
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			pr_warn("xdp: open %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path))
			pr_warn("xdp: unlink %s: %s", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir))
		pr_warn("xdp: rmdir %s: %s", dir, strerror(errno));
}

/* The adoption: load our program, then swap it for x->replace_id in one
 * XDP_FLAGS_REPLACE. */
static int attach_replace(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	struct bpf_object *obj = NULL;
	int fd, old_fd = -1, lock_fd = -1, err;

	err = open_obj(skel, &obj);
	if (err)
		return err;
	err = bpf_object__load(obj);
	if (err) {
		pr_warn("xdp: load %s: %s", PF_XDP_PROG, strerror(-err));
		goto out;
	}
	fd = bpf_program__fd(bpf_object__find_program_by_name(obj, PF_XDP_PROG));
	old_fd = bpf_prog_get_fd_by_id(x->replace_id);
	if (old_fd < 0) {
		err = -errno;
		pr_warn("xdp: the program to replace (id %u): %s", x->replace_id, strerror(errno));
		goto out;
	}
	if (x->replace_dispatcher) {
		lock_fd = xdp_lock();
		if (lock_fd < 0) {
			err = lock_fd;
			pr_warn("xdp: lock %s: %s", PF_XDP_BPFFS, strerror(-err));
			goto out;
		}
	}
	aopts.old_prog_fd = old_fd;
	err = bpf_xdp_attach(x->ifindex, fd, XDP_FLAGS_REPLACE | mode_flags(x->mode), &aopts);
	if (err) {
		pr_warn("xdp: replace the previous instance's program (id %u): %s%s",
			x->replace_id, strerror(-err), err == -EEXIST ?
			" (the XDP hook changed meanwhile; nothing replaced)" : "");
		goto out;
	}
	if (x->replace_dispatcher)
		unpin_dispatcher(x->ifindex, x->replace_id);
	pr_info("replaced the previous instance's XDP program atomically (id %u -> %u)",
		x->replace_id, prog_id(fd));
	x->obj = obj;
	x->prog_fd = fd;
	obj = NULL;
out:
	if (lock_fd >= 0)
		close(lock_fd);   /* releases the flock */
	if (old_fd >= 0)
		close(old_fd);
	bpf_object__close(obj);
	return err;
}

int pf_xdp_attach(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	struct bpf_object *obj = NULL;
	int err;

	if (x->replace_id)
		return attach_replace(x, skel);
	err = open_obj(skel, &obj);
	if (err)
		return err;
	{
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = obj,
				    .prog_name = PF_XDP_PROG);

		x->prog = xdp_program__create(&xopts);
	}
	err = libxdp_get_error(x->prog);
	if (err) {
		x->prog = NULL;
		pr_warn("xdp: create program: %s", strerror(-err));
		goto fail;
	}
	obj = NULL; /* owned by x->prog now */
	err = xdp_program__attach(x->prog, x->ifindex, x->mode, 0);
	if (err) {
		if (x->mode == XDP_MODE_NATIVE && (err == -EOPNOTSUPP || err == -EINVAL))
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
	else
		bpf_object__close(obj);
	x->prog = NULL;
	return err;
}

void pf_xdp_detach(struct pf_xdp *x)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, dopts, .old_prog_fd = x->prog_fd);
	int err;

	if (x->prog) {
		err = xdp_program__detach(x->prog, x->ifindex, x->mode, 0);
		if (err)
			pr_warn("xdp: detach: %s", strerror(-err));
		xdp_program__close(x->prog);
		x->prog = NULL;
	} else if (x->obj) {
		/* only if ours is still the one attached */
		err = bpf_xdp_detach(x->ifindex, XDP_FLAGS_REPLACE | mode_flags(x->mode), &dopts);
		if (err)
			pr_warn("xdp: detach: %s", strerror(-err));
		bpf_object__close(x->obj);
		x->obj = NULL;
		x->prog_fd = -1;
	} else {
		return;
	}
	/* libxdp's lock directory: removed only if nothing else uses it */
	rmdir(PF_XDP_BPFFS);
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
		found = is_ours(prog);
		if (found && detach) {
			err = xdp_multiprog__detach(mp);
			if (err)
				pr_warn("xdp: detach stale program: %s", strerror(-err));
		}
		goto out;
	}
	for (prog = xdp_multiprog__next_prog(NULL, mp); prog;
	     prog = xdp_multiprog__next_prog(prog, mp)) {
		if (!is_ours(prog))
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
	/* libxdp's lock directory the dead instance left: removed only if
	 * nothing else uses it */
	if (detach)
		rmdir(PF_XDP_BPFFS);
	return found;
}
