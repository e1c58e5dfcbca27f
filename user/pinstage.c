/* pinstage.c -- the pins of a running instance's maps: pinned as they
 * are, or, adopting a dead instance's state, staged next to its pins and
 * renamed over them once our programs answer in its place (pf_pin_commit);
 * and what a run killed in between left, settled (pf_pin_settle). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "pin.h"
#include "tc.h"
#include "xdp.h"
#include "log.h"

/* What pf_pin_maps pins, the record first. Adopting, it stages them under
 * these names with PF_PIN_NEXT appended (bpffs refuses a dot in a name:
 * EPERM), and pf_pin_commit renames them over the dead instance's in this
 * order: the record, then the maps a dead instance's pins can name apart
 * from ours (config first: `detach` sets draining in it); stats and flows
 * are, adopted, the same maps (stats not, where its layout differs). */
static const char *const pinned[] = { "meta", "config", "trace_ctl", "trace", "stats", "flows" };
#define N_PINNED (sizeof(pinned) / sizeof(pinned[0]))
#define PF_PIN_NEXT "_next"
/* Staged first, removed last: the adopting run's TC ingress program. A
 * run killed between its program replacing the dead one and the last
 * rename leaves staged pins that are the answering program's maps; one
 * killed before it replaced anything leaves staged pins nothing uses.
 * Which, the next run (or `detach`) tells by this program
 * (pf_pin_settle). */
#define PF_PIN_STAGER "tc_ingress" PF_PIN_NEXT

/* Mount bpffs on /sys/fs/bpf if nothing is mounted there. */
static int ensure_bpffs(void)
{
	struct statfs st;
	int err;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		err = -errno; /* before pr_warn, which may change errno */
		pr_warn("mount bpffs on /sys/fs/bpf: %s", strerror(-err));
		return err;
	}
	return 0;
}

int pf_pin_maps(struct pf_pin *p, struct preflightd_bpf *skel)
{
	struct bpf_map *maps[N_PINNED] = { NULL /* meta */, skel->maps.bss,
					   skel->maps.pf_trace_ctl, skel->maps.pf_trace,
					   skel->maps.pf_stats, skel->maps.pf_flows };
	const char *sfx = p->adopted ? PF_PIN_NEXT : "";
	char path[512];
	unsigned i;
	int err;

	err = ensure_bpffs();
	if (err)
		return err;
	if ((mkdir(PF_PIN_ROOT, 0700) && errno != EEXIST) ||
	    (mkdir(p->dir, 0700) && errno != EEXIST)) {
		err = -errno;
		pr_warn("mkdir %s: %s", p->dir, strerror(errno));
		return err;
	}
	/* an adopted state's pins are a dead instance's, its attached
	 * programs' maps: ours are staged next to them until ours replace
	 * its programs (pf_pin_commit) */
	p->pinned = true;
	p->staged = p->adopted;
	if (p->staged) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, PF_PIN_STAGER);
		unlink(path);   /* a crashed run's (we hold the lock) */
		err = bpf_program__pin(skel->progs.pf_tc_ingress, path);
		if (err) {
			pr_warn("pin %s: %s", path, strerror(-err));
			goto fail;
		}
	}
	/* the record first: pins without it read as a build of before it */
	snprintf(path, sizeof(path), "%s/%s%s", p->dir, pinned[0], sfx);
	err = pf_layout_pin_meta(path, &p->self, p->ifindex,
				 bpf_map__fd(skel->maps.pf_flows));
	if (err) {
		pr_warn("pin %s: %s", path, strerror(-err));
		goto fail;
	}
	for (i = 1; i < N_PINNED; i++) {
		snprintf(path, sizeof(path), "%s/%s%s", p->dir, pinned[i], sfx);
		unlink(path); /* stale: a dead instance's, or a crashed run's
			       * staged one (we hold the lock) */
		err = bpf_map__pin(maps[i], path);
		if (err) {
			pr_warn("pin %s: %s", path, strerror(-err));
			goto fail;
		}
	}
	return 0;
fail:
	/* an adopted state's pins (its links among them) are a dead
	 * instance's, live: never removed on failure, only what was staged */
	if (p->staged)
		pf_pin_unstage(p);
	else
		pf_unpin_maps(p);
	return err;
}

/* The staged pins in dir put in place (forward: each renamed over the one
 * it replaces, in pinned[]'s order; one that cannot be renamed is removed)
 * or removed (!forward); then the stager's program pin. A staged pin that
 * is not there is an error unless gone_ok (a crashed run committed it).
 * 0 or the first failed rename's -errno (a message per failure). */
static int settle(const char *dir, bool forward, bool gone_ok)
{
	char from[512], to[512];
	unsigned i;
	int err = 0, e;

	/* each one even after a failure: our programs are attached, every
	 * pin that names their maps is one more that tells the truth */
	for (i = 0; i < N_PINNED; i++) {
		snprintf(from, sizeof(from), "%s/%s" PF_PIN_NEXT, dir, pinned[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, pinned[i]);
		if (!forward || !rename(from, to))
			goto next;
		e = errno;
		if (e == ENOENT && gone_ok)
			continue;
		pr_warn("rename %s to %s: %s", from, to, strerror(e));
		if (!err)
			err = -e;
next:
		unlink(from);   /* not renamed: removed */
	}
	snprintf(from, sizeof(from), "%s/%s", dir, PF_PIN_STAGER);
	unlink(from);
	return err;
}

int pf_pin_commit(struct pf_pin *p)
{
	int err;

	if (!p->staged)
		return 0;
	err = settle(p->dir, true, false);
	p->staged = false;
	return err;
}

void pf_pin_unstage(struct pf_pin *p)
{
	if (!p->staged)
		return;
	settle(p->dir, false, false);
	p->staged = false;
}

/* The id of the map pinned as name in dir; 0 if none can be read. */
static __u32 pinned_map_id(const char *dir, const char *name)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);
	int fd = pf_pin_get(dir, name);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		mi.id = 0;
	close(fd);
	return mi.id;
}

/* Does program fd use map id? */
static bool prog_uses(int fd, __u32 id)
{
	__u32 ids[64], len, i;
	struct bpf_prog_info pi = {};

	pi.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pi.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return false;
	for (i = 0; i < pi.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Did the adopting run that staged the pins in p->dir (and was killed
 * before it committed them) replace the dead instance's programs: is its
 * TC ingress program (PF_PIN_STAGER) on ifindex's ingress hook, and, if
 * the XDP program pinned in p->dir is attached (XDP mode: XDP answers; a
 * run replacing it commits after that), does it read the staged config?
 * Without privilege: program ids from the hooks, map ids from pinned
 * programs (a program by id takes CAP_SYS_ADMIN). */
static bool stager_answers(const struct pf_pin *p, int ifindex)
{
	struct pf_tc_prog chain[16];
	int fd = pf_pin_get(p->dir, PF_PIN_STAGER), n, i;
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi), cfg;
	bool on = false;

	if (fd < 0)
		return false;
	if (!bpf_obj_get_info_by_fd(fd, &pi, &len) && ifindex) {
		n = pf_tc_chain(ifindex, true, chain, 16);
		for (i = 0; i < n && i < 16; i++)
			on = on || chain[i].id == pi.id;
	}
	close(fd);
	if (!on)
		return false;
	fd = pf_xdp_pinned_attached(ifindex, p->dir);
	if (fd < 0)
		return true;   /* TC mode, or ours not pinned yet: TC decides */
	/* config: staged, or already renamed over the dead one's */
	cfg = pinned_map_id(p->dir, "config" PF_PIN_NEXT);
	if (!cfg)
		cfg = pinned_map_id(p->dir, "config");
	on = cfg && prog_uses(fd, cfg);
	close(fd);
	return on;
}

/* See pin.h. */
void pf_pin_settle(const struct pf_pin *p, int ifindex)
{
	char path[512];
	bool any = false, fwd;
	unsigned i;

	for (i = 0; i < N_PINNED && !any; i++) {
		snprintf(path, sizeof(path), "%s/%s" PF_PIN_NEXT, p->dir, pinned[i]);
		any = !access(path, F_OK);
	}
	snprintf(path, sizeof(path), "%s/%s", p->dir, PF_PIN_STAGER);
	if (!any && access(path, F_OK))
		return;
	fwd = stager_answers(p, ifindex);
	pr_info("%s: a previous run was stopped while taking over the pins: %s", p->dir,
		fwd ? "its programs answer, its pins put in place" :
		"its programs never answered, its staged pins removed");
	settle(p->dir, fwd, true);
}

