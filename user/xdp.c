/* xdp.c -- the XDP half of `run --mode xdp`. pf_xdp_ingress comes from a
 * second bpf_object built from the skeleton's embedded ELF, with every map
 * reused from the loaded skeleton (one flow table, one config). With
 * CAP_SYS_ADMIN it is attached through libxdp, which puts it in its
 * multi-program dispatcher where the kernel can load one, so that
 * preflightd shares the interface with other libxdp programs (libxdp falls
 * back to the program alone where it cannot); without, it is attached alone
 * (what libxdp's fallback does): a dispatcher can only be found again by
 * its id, and BPF_PROG_GET_FD_BY_ID takes CAP_SYS_ADMIN, which neither the
 * systemd unit nor the Helm chart grants.
 *
 * The attached program is pinned with the other state (DIR/xdp). A
 * restarted instance, `detach` and a hand-over find it there and act on
 * it by fd (bpf_xdp_query names the attached program's id; XDP_FLAGS_REPLACE
 * with the pinned fd swaps or removes exactly that one): no capability
 * beyond the unit's. Only a program the pin does not name -- a libxdp
 * dispatcher, another user's program, one attached by a build from before
 * the pin -- is looked at through libxdp, by id; without CAP_SYS_ADMIN
 * such a program is never replaced or removed.
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
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "skel.h"
#include "pin.h"
#include "progs.h"
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

/* A second object from the skeleton's ELF in which only pf_xdp_ingress
 * loads, every map skel's (progs.h). */
static const char *const xdp_prog[] = { PF_XDP_PROG };

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

static bool is_ours(const struct xdp_program *p)
{
	return p && !strcmp(xdp_program__name(p), PF_XDP_PROG);
}


static bool has_sys_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN);
}

/* The program on ifindex's XDP hook (bpf_xdp_query: netlink, no privilege
 * needed): *id (0: none; a hw-only program counts as none) and *mode. */
static int hook_query(int ifindex, __u32 *id, int *mode)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query(ifindex, 0, &q);

	if (err)
		return err;
	*id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	*mode = q.drv_prog_id ? XDP_MODE_NATIVE : XDP_MODE_SKB;
	return 0;
}

/* The program pinned in dir if it is the one attached (id): its fd;
 * -ESTALE if the pin names another program, -ENOENT if there is none. */
static int pinned_attached(const char *dir, __u32 id)
{
	int fd = pf_pin_get(dir, PF_XDP_PIN);

	if (fd < 0)
		return fd == -ENOENT ? fd : -ESTALE;
	if (pf_prog_id(fd) != id) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* A dead instance's pf_xdp_ingress (fd, id) is attached in mode cur,
 * alone (disp_fd < 0) or with `others` more programs in the libxdp
 * dispatcher disp_fd (id disp_id): set x up to replace it (pf_xdp_attach),
 * or refuse with -EEXIST (message printed). The fds stay the caller's. */
static int adopt_or_refuse(struct pf_xdp *x, const char *iface, int fd, __u32 id, int cur,
			   int others, int disp_fd, __u32 disp_id, bool xdp, int flows_fd)
{
	const char *name = x->ifname;
	int used;

	if (flows_fd < 0) {
		pr_warn("a preflightd XDP program (id %u) is attached to %s but no pinned flow "
			"table is left to adopt with it: 'preflightd detach --iface %s' removes it",
			id, iface, name);
		return -EEXIST;
	}
	used = prog_uses_map(fd, flows_fd);
	if (used < 0) {
		pr_warn("xdp: inspect program %u: %s", id, strerror(-used));
		return used;
	}
	if (!used) {
		pr_warn("the preflightd XDP program (id %u) on %s does not use the pinned "
			"flow table: 'preflightd detach --iface %s' removes it", id, iface, name);
		return -EEXIST;
	}
	if (!xdp) {
		pr_warn("a dead instance's XDP program is still attached to %s: restart with "
			"--mode xdp to adopt it, or 'preflightd detach --iface %s' drains and "
			"removes it", iface, name);
		return -EEXIST;
	}
	if (cur != x->mode) {
		pr_warn("the dead instance's XDP program on %s is attached in %s mode: restart "
			"%s to adopt it, or 'preflightd detach --iface %s' drains and removes it",
			iface, mode_name(cur), cur == XDP_MODE_SKB ? "with --xdp-generic" :
			"without --xdp-generic", name);
		return -EEXIST;
	}
	if (others) {
		pr_warn("the dead instance's XDP program on %s shares a libxdp dispatcher with %d "
			"other program(s), and libxdp cannot swap one of them atomically: "
			"'preflightd detach --iface %s' drains and removes it, then restart",
			iface, others, name);
		return -EEXIST;
	}
	x->old_fd = fcntl(disp_fd >= 0 ? disp_fd : fd, F_DUPFD_CLOEXEC, 0);
	if (x->old_fd < 0)
		return -errno;
	x->old_id = disp_fd >= 0 ? disp_id : id;
	x->old_dispatcher = disp_fd >= 0;
	pr_info("adopting the XDP program (id %u) left on %s by a previous instance", id, iface);
	return 0;
}

/* pf_xdp_prepare for a program the pin does not name (id, attached in
 * mode cur): ask libxdp what it is, by id. pinned: a dead instance pinned
 * a program here. */
static int prepare_by_id(struct pf_xdp *x, const char *iface, __u32 id, bool pinned,
			 bool xdp, int flows_fd)
{
	struct xdp_program *old = NULL, *p;
	struct xdp_multiprog *mp;
	int others = 0, err;
	bool legacy;

	mp = xdp_multiprog__get_from_ifindex(x->ifindex);
	err = libxdp_get_error(mp);
	if (!mp || err == -ENOENT)
		return 0;   /* gone meanwhile */
	if (err == -EPERM || err == -EACCES) {
		/* whose it is cannot be told: never replaced, and in TC mode
		 * only a program a dead instance pinned can be its */
		if (!xdp && !pinned)
			return 0;
		if (xdp)
			pr_warn("another XDP program (id %u) is attached to %s: preflightd does "
				"not replace it (it is not the program preflightd pinned, and "
				"looking it up by id takes CAP_SYS_ADMIN); remove it, or use "
				"--mode tc", id, iface);
		else
			pr_warn("the XDP program (id %u) on %s is not the one the dead instance "
				"pinned, and looking it up by id takes CAP_SYS_ADMIN: "
				"'preflightd detach --iface %s' (with CAP_SYS_ADMIN) removes the "
				"dead instance's", id, iface, x->ifname);
		return -EEXIST;
	}
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
	err = 0;
	if (old) {
		p = xdp_multiprog__main_prog(mp);
		err = adopt_or_refuse(x, iface, xdp_program__fd(old), xdp_program__id(old),
				      xdp_multiprog__attach_mode(mp), others,
				      legacy ? -1 : xdp_program__fd(p), xdp_program__id(p),
				      xdp, flows_fd);
	} else if (xdp && legacy && others) {
		/* a dispatcher takes ours next to its programs; a program
		 * attached alone would have to be replaced: never */
		p = xdp_multiprog__main_prog(mp);
		pr_warn("another XDP program (%s, id %u) is attached to %s: preflightd "
			"does not replace it; remove it, or use --mode tc",
			xdp_program__name(p), xdp_program__id(p), iface);
		err = -EEXIST;
	}
	xdp_multiprog__close(mp);
	return err;
}

/* pf_xdp_prepare's look at the hook: what is attached, adopted or
 * refused (x set up as pf_xdp_prepare says). 0 or -errno. */
static int prepare_hook(struct pf_xdp *x, const char *iface, int ifindex, const char *dir,
			bool xdp, bool generic, int flows_fd)
{
	__u32 id;
	int cur, fd, err;

	memset(x, 0, sizeof(*x));
	x->prog_fd = x->old_fd = -1;
	x->ifindex = ifindex;
	x->mode = generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	snprintf(x->ifname, sizeof(x->ifname), "%s", iface);
	snprintf(x->dir, sizeof(x->dir), "%s", dir);
	err = hook_query(ifindex, &id, &cur);
	if (err) {
		pr_warn("xdp: look at the XDP hook of %s: %s", iface, strerror(-err));
		return err;
	}
	if (!id)
		return 0;   /* nothing attached */
	fd = pinned_attached(dir, id);
	if (fd < 0)
		return prepare_by_id(x, iface, id, fd == -ESTALE, xdp, flows_fd);
	/* the program a dead instance pinned, attached alone */
	err = adopt_or_refuse(x, iface, fd, id, cur, 0, -1, 0, xdp, flows_fd);
	close(fd);
	return err;
}

int pf_xdp_prepare(struct pf_xdp *x, const char *iface, int ifindex, const char *dir,
		   bool xdp, bool generic, int flows_fd)
{
	int err = prepare_hook(x, iface, ifindex, dir, xdp, generic, flows_fd);

	/* the other way round from adopt_or_refuse's TC-mode refusal: a dead
	 * instance without an XDP program (TC mode) translates its
	 * connections at TC ingress, where ours in XDP mode would translate
	 * only what XDP flagged -- nothing until XDP is attached, nothing at
	 * all if that fails */
	if (!err && xdp && flows_fd >= 0 && x->old_fd < 0) {
		pr_warn("the dead instance on %s has no XDP program (it ran in TC mode): its "
			"connections are translated at TC ingress; restart with --mode tc to "
			"adopt them, or 'preflightd detach --iface %s' drains and removes it",
			iface, x->ifname);
		return -EEXIST;
	}
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

/* Load pf_xdp_ingress (xdp_prog): x->obj, x->prog_fd. */
static int load_obj(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	struct bpf_object *obj = NULL;
	int err;

	if (x->obj)
		return 0;   /* loaded beside the TC programs (pf_xdp_give) */
	err = pf_prog_load(skel, xdp_prog, 1, &obj);
	if (err)
		return err;
	x->obj = obj;
	x->prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, PF_XDP_PROG));
	return 0;
}

static void unload_obj(struct pf_xdp *x)
{
	bpf_object__close(x->obj);   /* NULL-safe */
	x->obj = NULL;
	x->prog_fd = -1;
}

void pf_xdp_give(struct pf_xdp *x, struct bpf_object *obj)
{
	if (!obj)
		return;
	unload_obj(x);
	x->obj = obj;
	x->prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, PF_XDP_PROG));
}

bool pf_xdp_by_libxdp(void)
{
	return has_sys_admin();
}

int pf_xdp_load(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	return pf_xdp_replacing(x) && !x->obj ? load_obj(x, skel) : 0;
}

/* The adoption: load our program (unless pf_xdp_load did), then swap it
 * for x->old_fd in one XDP_FLAGS_REPLACE. */
static int attach_replace(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, aopts, .old_prog_fd = x->old_fd);
	int lock_fd = -1, err;

	err = pf_xdp_load(x, skel);
	if (err)
		return err;
	if (x->old_dispatcher) {
		lock_fd = xdp_lock();
		if (lock_fd < 0) {
			err = lock_fd;
			pr_warn("xdp: lock %s: %s", PF_XDP_BPFFS, strerror(-err));
			goto out;
		}
	}
	err = bpf_xdp_attach(x->ifindex, x->prog_fd, XDP_FLAGS_REPLACE | mode_flags(x->mode),
			     &aopts);
	if (err) {
		pr_warn("xdp: replace the previous instance's program (id %u): %s%s",
			x->old_id, strerror(-err), err == -EEXIST ?
			" (the XDP hook changed meanwhile; nothing replaced)" : "");
		goto out;
	}
	if (x->old_dispatcher)
		unpin_dispatcher(x->ifindex, x->old_id);
	pr_info("replaced the previous instance's XDP program atomically (id %u -> %u)",
		x->old_id, pf_prog_id(x->prog_fd));
out:
	if (lock_fd >= 0)
		close(lock_fd);   /* releases the flock */
	close(x->old_fd);
	x->old_fd = -1;
	if (err)
		unload_obj(x);
	return err;
}

static void native_hint(const struct pf_xdp *x, int err)
{
	if (x->mode == XDP_MODE_NATIVE && (err == -EOPNOTSUPP || err == -EINVAL))
		pr_warn("xdp: attach in native mode: %s (the driver may lack "
			"native XDP; --xdp-generic forces skb mode)", strerror(-err));
	else
		pr_warn("xdp: attach: %s", strerror(-err));
}

/* Attach alone, only if the hook is empty (pf_xdp_prepare looked). */
static int attach_alone(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	int err = load_obj(x, skel);

	if (err)
		return err;
	err = bpf_xdp_attach(x->ifindex, x->prog_fd,
			     XDP_FLAGS_UPDATE_IF_NOEXIST | mode_flags(x->mode), NULL);
	if (err) {
		native_hint(x, err);
		unload_obj(x);
	}
	return err;
}

/* Attach through libxdp: in its dispatcher, or alone where it cannot
 * load one. */
static int attach_libxdp(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	struct bpf_object *obj = NULL;
	int err;

	unload_obj(x);   /* libxdp loads its own (pf_xdp_by_libxdp) */
	err = pf_prog_open(skel, xdp_prog, 1, &obj);
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
		bpf_object__close(obj);
		pr_warn("xdp: create program: %s", strerror(-err));
		return err;
	}
	/* obj is owned by x->prog now */
	err = xdp_program__attach(x->prog, x->ifindex, x->mode, 0);
	if (err) {
		native_hint(x, err);
		xdp_program__close(x->prog);
		x->prog = NULL;
		return err;
	}
	x->prog_fd = xdp_program__fd(x->prog);
	return 0;
}

int pf_xdp_attach(struct pf_xdp *x, struct preflightd_bpf *skel)
{
	bool replaced = x->old_fd >= 0;
	int err;

	/* in place of a dead instance's, ours stays whatever follows (an
	 * empty hook would leave the adopted connections' client segments
	 * untranslated: TC leaves them to XDP in XDP mode), and its pin is
	 * the one the adopting run staged (pf_pin_maps), which its commit
	 * renames over the dead instance's */
	if (replaced)
		return attach_replace(x, skel);
	err = has_sys_admin() ? attach_libxdp(x, skel) : attach_alone(x, skel);
	if (err)
		return err;
	/* what the next instance (or detach) acts on */
	err = pf_pin_fd(x->dir, PF_XDP_PIN, x->prog_fd);
	if (err)
		pf_xdp_detach(x);
	return err;
}

bool pf_xdp_replacing(const struct pf_xdp *x)
{
	return x->old_fd >= 0;
}

bool pf_xdp_attached(const struct pf_xdp *x)
{
	return x->prog || x->obj;
}

/* Remove the program fd from ifindex's hook (mode) if it is the one
 * attached there; 0 or -errno (message printed). */
static int detach_fd(int ifindex, int fd, int mode)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = fd);
	int err = bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE | mode_flags(mode), &o);

	if (err)
		pr_warn("xdp: detach: %s", strerror(-err));
	return err;
}

void pf_xdp_detach(struct pf_xdp *x)
{
	__u32 id = 0;
	int mode, err;

	if (!x->prog && !x->obj)
		return;
	if (x->prog && (hook_query(x->ifindex, &id, &mode) || id != pf_prog_id(x->prog_fd))) {
		/* in libxdp's dispatcher */
		err = xdp_program__detach(x->prog, x->ifindex, x->mode, 0);
		if (err)
			pr_warn("xdp: detach: %s", strerror(-err));
	} else {
		/* alone: only if ours is still the one attached */
		detach_fd(x->ifindex, x->prog_fd, x->mode);
	}
	if (x->prog)
		xdp_program__close(x->prog);
	x->prog = NULL;
	unload_obj(x);
	/* libxdp's lock directory: removed only if nothing else uses it */
	rmdir(PF_XDP_BPFFS);
}

/* pf_xdp_find_stale for a program the pin does not name: through libxdp,
 * by id. */
static int find_stale_by_id(int ifindex, __u32 id, bool pinned, bool detach)
{
	struct xdp_multiprog *mp;
	struct xdp_program *prog;
	int found = 0, err;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if ((err == -EPERM || err == -EACCES) && pinned)
		pr_warn("xdp: the XDP program (id %u) is not the one the dead instance pinned, "
			"and looking it up by id takes CAP_SYS_ADMIN: left attached", id);
	if (err)
		return err == -ENOENT || err == -EPERM || err == -EACCES ? 0 : err;
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
	return found;
}

int pf_xdp_hook_id(int ifindex, __u32 *id)
{
	int mode;

	*id = 0;
	return hook_query(ifindex, id, &mode);
}

int pf_xdp_find_stale(int ifindex, const char *dir, bool detach)
{
	__u32 id;
	int mode, fd, found;

	fd = hook_query(ifindex, &id, &mode);
	if (fd)
		return fd;
	if (!id)
		return 0;
	fd = pinned_attached(dir, id);
	if (fd >= 0) {
		found = 1;
		if (detach)
			detach_fd(ifindex, fd, mode);
		close(fd);
	} else {
		found = find_stale_by_id(ifindex, id, fd == -ESTALE, detach);
	}
	/* libxdp's lock directory the dead instance left: removed only if
	 * nothing else uses it */
	if (detach)
		rmdir(PF_XDP_BPFFS);
	return found;
}
