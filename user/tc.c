/* tc.c -- attach/detach preflightd's TC programs as a good citizen, by one
 * of two mechanisms (why: docs/tcp-splice.md section 10):
 *  - tcx (kernel 6.6+): BPF links; ingress at the head of the chain
 *    (BPF_F_BEFORE), egress at its tail (BPF_F_AFTER), so translation sees
 *    the final segments. The links are pinned next to the maps: they
 *    outlive a crash (the programs keep translating), a restart replaces
 *    the program in place (bpf_link_update: atomic, same position), and
 *    `detach` removes them. tcx runs before every clsact filter.
 *  - clsact (cls_bpf, direct-action): ingress priority 1, egress 0xfff0,
 *    handle 0x7066; reuse an existing clsact, never delete one that still
 *    holds other filters.
 * libbpf 1.1 predates bpf_program__attach_tcx: bpf_link_create passes the
 * tcx attach types and BPF_F_BEFORE/AFTER through (relative_fd 0: the
 * head / the tail of the whole chain). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pin.h"
#include "tc.h"
#include "log.h"

static const char *const how_names[] = { "auto", "tcx", "clsact" };

int pf_tc_how_parse(const char *s, enum pf_tc_how *how)
{
	unsigned i;

	for (i = 0; i < sizeof(how_names) / sizeof(how_names[0]); i++) {
		if (!strcmp(s, how_names[i])) {
			*how = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pf_tc_how_name(enum pf_tc_how how)
{
	return how <= PF_TC_CLSACT ? how_names[how] : "?";
}

/* ------------------------------------------------------------ clsact ---- */

static int cls_attach(int ifindex, enum bpf_tc_attach_point ap, __u32 prio, int fd,
		      bool replace)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PF_TC_HANDLE,
			    .priority = prio, .prog_fd = fd,
			    .flags = replace ? BPF_TC_F_REPLACE : 0);

	return bpf_tc_attach(&hook, &opts);
}

static int cls_detach(int ifindex, enum bpf_tc_attach_point ap, __u32 prio)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PF_TC_HANDLE, .priority = prio);

	return bpf_tc_detach(&hook, &opts);
}

/* 1 if one of our filters (handle, priority) is on ifindex's hook (a
 * dump: bpf_tc_query would log the kernel's complaint when there is no
 * clsact). */
static int cls_ours_present(int ifindex, bool ingress)
{
	struct pf_tc_prog c[PF_TC_CHAIN_MAX];
	int n, i;

	n = pf_tc_chain(ifindex, ingress, c, PF_TC_CHAIN_MAX);
	for (i = 0; i < n && i < PF_TC_CHAIN_MAX; i++)
		if (!c[i].tcx && c[i].handle == PF_TC_HANDLE &&
		    c[i].prio == (ingress ? PF_TC_PRIO_IN : PF_TC_PRIO_OUT))
			return 1;
	return 0;
}

/* Number of clsact filters on one hook (0 without clsact), or -errno. */
static int cls_count(int ifindex, bool ingress)
{
	struct pf_tc_prog c[PF_TC_CHAIN_MAX];
	int n, i, cls = 0;

	n = pf_tc_chain(ifindex, ingress, c, PF_TC_CHAIN_MAX);
	if (n < 0)
		return n;
	for (i = 0; i < n && i < PF_TC_CHAIN_MAX; i++)
		cls += !c[i].tcx;
	return n > PF_TC_CHAIN_MAX ? n : cls;   /* more than we looked at: not empty */
}

static int cls_attach_both(struct pf_tc *tc, int in_fd, int out_fd, bool replace)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	bool in_old, out_old;
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("create clsact qdisc: %s", strerror(-err));
		return err;
	}
	tc->hook_created = err == 0;
	in_old = replace && cls_ours_present(tc->ifindex, true);
	out_old = replace && cls_ours_present(tc->ifindex, false);
	err = cls_attach(tc->ifindex, BPF_TC_INGRESS, PF_TC_PRIO_IN, in_fd, replace);
	if (err) {
		pr_warn("attach TC ingress: %s%s", strerror(-err), err == -EEXIST ?
			" (a preflightd filter is already there: stale? run 'preflightd detach --iface IF')" : "");
		return err;
	}
	tc->in_attached = true;
	tc->in_adopted = in_old;   /* once ours is in its place, as tcx */
	err = cls_attach(tc->ifindex, BPF_TC_EGRESS, PF_TC_PRIO_OUT, out_fd, replace);
	if (err) {
		pr_warn("attach TC egress: %s", strerror(-err));
		return err;
	}
	tc->out_attached = true;
	tc->out_adopted = out_old;
	return 0;
}

/* --------------------------------------------------------------- tcx ---- */

/* The part of struct bpf_link_info (6.6 uapi) a tcx link fills. */
struct pf_tcx_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;          /* the union is 8-byte aligned */
	__u32 ifindex;      /* 0 once the device is gone */
	__u32 attach_type;
	__u64 rest[8];
};

static void link_pin_path(char *buf, size_t n, const char *dir, bool ingress)
{
	snprintf(buf, n, "%s/%s", dir, ingress ? PF_TCX_PIN_IN : PF_TCX_PIN_OUT);
}

/* The pinned link of one direction, if it is a live tcx link on ifindex:
 * its fd; -ENOENT if there is no pin; -ESTALE if the pin holds something
 * else (a link whose device is gone: the pin is removed). */
static int link_open_pinned(const char *dir, int ifindex, bool ingress)
{
	struct pf_tcx_link_info li = {};
	__u32 len = sizeof(li);
	char path[320];
	int fd;

	link_pin_path(path, sizeof(path), dir, ingress);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (bpf_obj_get_info_by_fd(fd, &li, &len) || li.type != PF_BPF_LINK_TYPE_TCX ||
	    (int)li.ifindex != ifindex) {
		close(fd);
		unlink(path);
		return -ESTALE;
	}
	return fd;
}

/* Create one tcx link (head of ingress, tail of egress) and pin it. */
static int link_create_pinned(const char *dir, int ifindex, bool ingress, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_link_create_opts, o,
			    .flags = ingress ? PF_BPF_F_BEFORE : PF_BPF_F_AFTER);
	int fd, err;

	fd = bpf_link_create(prog_fd, ifindex,
			     ingress ? PF_BPF_TCX_INGRESS : PF_BPF_TCX_EGRESS, &o);
	if (fd < 0)
		return fd;
	err = pf_pin_fd(dir, ingress ? PF_TCX_PIN_IN : PF_TCX_PIN_OUT, fd);
	if (err) {
		bpf_link_detach(fd);
		close(fd);
		return err;
	}
	return fd;
}

/* Attach one direction through tcx: adopt (replace the program of the
 * dead instance's pinned link: *adopted set) or create. Returns the link
 * fd or -errno. */
static int tcx_attach_one(struct pf_tc *tc, bool ingress, int prog_fd, bool adopt,
			  bool *adopted)
{
	int fd = link_open_pinned(tc->dir, tc->ifindex, ingress);

	if (fd >= 0 && !adopt) {
		close(fd);
		pr_warn("attach tcx %s: a preflightd link is already pinned in %s (stale? run "
			"'preflightd detach --iface %s')", ingress ? "ingress" : "egress",
			tc->dir, tc->ifname);
		return -EEXIST;
	}
	if (fd >= 0) {
		if (bpf_link_update(fd, prog_fd, NULL)) {
			int err = -errno;

			pr_warn("replace the tcx %s program: %s", ingress ? "ingress" : "egress",
				strerror(errno));
			close(fd);
			return err;
		}
		*adopted = true;
		return fd;
	}
	return link_create_pinned(tc->dir, tc->ifindex, ingress, prog_fd);
}

static void tcx_detach_one(int *fd, const char *dir, bool ingress)
{
	char path[320];

	if (*fd < 0)
		return;
	if (bpf_link_detach(*fd))
		pr_warn("detach tcx %s: %s", ingress ? "ingress" : "egress", strerror(errno));
	close(*fd);
	*fd = -1;
	link_pin_path(path, sizeof(path), dir, ingress);
	unlink(path);
}

static int tcx_attach_both(struct pf_tc *tc, int in_fd, int out_fd, bool adopt)
{
	int fd;

	fd = tcx_attach_one(tc, true, in_fd, adopt, &tc->in_adopted);
	if (fd < 0)
		return fd;
	tc->in_link = fd;
	tc->in_attached = true;
	fd = tcx_attach_one(tc, false, out_fd, adopt, &tc->out_adopted);
	if (fd < 0)
		return fd;
	tc->out_link = fd;
	tc->out_attached = true;
	return 0;
}

/* ------------------------------------------------------------ common ---- */

enum pf_tc_how pf_tc_left(int ifindex, const char *dir)
{
	int fd;
	bool in;

	for (in = false; ; in = true) {
		fd = link_open_pinned(dir, ifindex, in);   /* live, on ifindex */
		if (fd >= 0) {
			close(fd);
			return PF_TC_TCX;
		}
		if (in)
			break;
	}
	if (cls_ours_present(ifindex, true) || cls_ours_present(ifindex, false))
		return PF_TC_CLSACT;
	return PF_TC_AUTO;
}

int pf_tc_attach(struct pf_tc *tc, int ifindex, const char *ifname, const char *dir,
		 enum pf_tc_how how, int in_fd, int out_fd, bool adopt)
{
	enum pf_tc_how left = pf_tc_left(ifindex, dir);
	int err;

	memset(tc, 0, sizeof(*tc));
	tc->ifindex = ifindex;
	tc->in_link = tc->out_link = -1;
	tc->xdp_stats_fd = -1;   /* TC mode until the caller says otherwise */
	snprintf(tc->ifname, sizeof(tc->ifname), "%s", ifname);
	snprintf(tc->dir, sizeof(tc->dir), "%s", dir);
	tc->in_id = pf_prog_id(in_fd);
	tc->out_id = pf_prog_id(out_fd);
	/* the dead instance's programs are replaced in place, by the same
	 * mechanism: two translators must never see one packet */
	if (left != PF_TC_AUTO && !adopt) {
		pr_warn("preflightd's TC programs (%s) are attached to %s but no pinned state "
			"is left to adopt with them: stale? run 'preflightd detach --iface %s'",
			pf_tc_how_name(left), ifname, ifname);
		return -EEXIST;
	}
	if (left != PF_TC_AUTO && how != PF_TC_AUTO && how != left) {
		pr_warn("the previous instance on %s attached through %s: its programs keep "
			"translating its connections and can only be replaced by the same "
			"mechanism; restart with --tc-attach %s (or auto), or run "
			"'preflightd detach --iface %s' first", ifname, pf_tc_how_name(left),
			pf_tc_how_name(left), ifname);
		return -EEXIST;
	}
	if (left != PF_TC_AUTO)
		how = left;
	tc->how = how == PF_TC_CLSACT ? PF_TC_CLSACT : PF_TC_TCX;
	if (tc->how == PF_TC_TCX) {
		err = tcx_attach_both(tc, in_fd, out_fd, left == PF_TC_TCX);
		if (err == -EINVAL && !tc->in_attached && how == PF_TC_AUTO) {
			pr_info("tcx: not supported by this kernel (6.6+): attaching through clsact");
			tc->how = PF_TC_CLSACT;
		} else if (err) {
			if (!tc->in_attached && err != -EEXIST)
				pr_warn("attach tcx ingress: %s", strerror(-err));
			else if (tc->in_attached)
				pr_warn("attach tcx egress: %s", strerror(-err));
			goto fail;
		}
	}
	if (tc->how == PF_TC_CLSACT) {
		err = cls_attach_both(tc, in_fd, out_fd, left == PF_TC_CLSACT);
		if (err)
			goto fail;
	}
	pr_info("TC programs %s through %s on %s: ingress %s, egress %s", left != PF_TC_AUTO ?
		"replaced in place" : "attached", pf_tc_how_name(tc->how), ifname,
		tc->how == PF_TC_TCX ? "first" : "priority 1", tc->how == PF_TC_TCX ? "last" :
		"priority 0xfff0");
	return 0;
fail:
	/* what was replaced in place stays, with our program: the dead
	 * instance's connections go on being translated */
	if (tc->in_adopted) {
		if (tc->in_link >= 0)
			close(tc->in_link);
		tc->in_link = -1;
		tc->in_attached = false;
	}
	if (tc->out_adopted) {
		if (tc->out_link >= 0)
			close(tc->out_link);
		tc->out_link = -1;
		tc->out_attached = false;
	}
	pf_tc_detach(tc);
	return err;
}

void pf_tc_detach(struct pf_tc *tc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err;

	if (tc->how == PF_TC_TCX) {
		tcx_detach_one(&tc->in_link, tc->dir, true);
		tcx_detach_one(&tc->out_link, tc->dir, false);
		tc->in_attached = tc->out_attached = false;
	}
	if (tc->in_attached) {
		err = cls_detach(tc->ifindex, BPF_TC_INGRESS, PF_TC_PRIO_IN);
		if (err)
			pr_warn("detach TC ingress: %s", strerror(-err));
		tc->in_attached = false;
	}
	if (tc->out_attached) {
		err = cls_detach(tc->ifindex, BPF_TC_EGRESS, PF_TC_PRIO_OUT);
		if (err)
			pr_warn("detach TC egress: %s", strerror(-err));
		tc->out_attached = false;
	}
	if (tc->hook_created && cls_count(tc->ifindex, true) == 0 &&
	    cls_count(tc->ifindex, false) == 0) {
		err = bpf_tc_hook_destroy(&hook);
		if (err)
			pr_warn("remove clsact qdisc: %s", strerror(-err));
	}
	tc->hook_created = false;
}

int pf_tc_detach_stale(int ifindex, const char *dir)
{
	int n = 0, fd;
	bool in;

	for (in = false; ; in = true) {
		fd = link_open_pinned(dir, ifindex, in);
		if (fd >= 0) {
			tcx_detach_one(&fd, dir, in);
			n++;
		}
		if (in)
			break;
	}
	if (!cls_detach(ifindex, BPF_TC_INGRESS, PF_TC_PRIO_IN))
		n++;
	if (!cls_detach(ifindex, BPF_TC_EGRESS, PF_TC_PRIO_OUT))
		n++;
	return n;
}
