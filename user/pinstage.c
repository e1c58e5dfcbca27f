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

/* What pf_pin_maps pins, the record first, then the maps (N_MAPS), then,
 * adopting in XDP mode, our XDP program. Adopting, it stages them under
 * these names with PF_PIN_NEXT appended (bpffs refuses a dot in a name:
 * EPERM), and pf_pin_commit renames them over the dead instance's in this
 * order: the record, then the maps a dead instance's pins can name apart
 * from ours (config first: `detach` sets draining in it); stats and flows
 * are, adopted, the same maps (stats not, where its layout differs); the
 * XDP program last (the only writer of that pin in an adoption). */
static const char *const pinned[] = { "meta", "config", "trace_ctl", "trace", "stats", "flows",
				      PF_XDP_PIN };
#define N_PINNED (sizeof(pinned) / sizeof(pinned[0]))
#define N_MAPS   (N_PINNED - 1)
#define PF_PIN_NEXT "_next"
/* Staged first, and removed last by a commit (first by a rollback): the
 * adopting run's TC ingress program; in XDP mode its XDP program next
 * (pinned[]'s last). A run killed once its programs had replaced the dead
 * one's leaves staged pins that are the answering programs' maps; one
 * killed before, staged pins nothing uses. Which, the next run (or
 * `detach`) tells by these programs (pf_pin_settle). */
#define PF_PIN_STAGER   "tc_ingress" PF_PIN_NEXT
#define PF_PIN_XDP_NEXT PF_XDP_PIN PF_PIN_NEXT

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

int pf_pin_maps(struct pf_pin *p, struct preflightd_bpf *skel, int xdp_fd)
{
	struct bpf_map *maps[N_MAPS] = { NULL /* meta */, skel->maps.bss,
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
		pr_warn("mkdir %s: %s", p->dir, strerror(-err));
		return err;
	}
	/* an adopted state's pins are a dead instance's, its attached
	 * programs' maps: ours are staged next to them until ours replace
	 * its programs (pf_pin_commit) */
	p->pinned = true;
	p->staged = p->adopted;
	if (p->staged) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, PF_PIN_STAGER);
		unlink(path);   /* one a settle kept (we hold the lock) */
		err = bpf_program__pin(skel->progs.pf_tc_ingress, path);
		if (err) {
			pr_warn("pin %s: %s", path, strerror(-err));
			goto fail;
		}
		/* (TC mode: none; one a settle kept would be renamed over
		 * the "xdp" pin by our commit) */
		snprintf(path, sizeof(path), "%s/%s", p->dir, PF_PIN_XDP_NEXT);
		unlink(path);
		if (xdp_fd >= 0) {
			err = pf_pin_fd(p->dir, PF_PIN_XDP_NEXT, xdp_fd);
			if (err)
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
	for (i = 1; i < N_MAPS; i++) {
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
 * it replaces, in pinned[]'s order, then the XDP program's over "xdp"; a
 * map's pin that cannot be renamed is kept staged for the next try -- and
 * so is the stager's pin, which tells that try the way: removed, the dead
 * instance's pin under that name would stay, naming a map no answering
 * program reads, config's draining flag say) or removed (!forward); the
 * stager's program pin last forward, first back, so that a kill in
 * between never leaves staged pins that look committed to. The XDP
 * program's pin names no map: one that cannot be renamed is removed,
 * never kept (an obstacle that stays would fail every later settle; a
 * program no pin names is found by id). settling: a killed run's pins,
 * some of which it may have renamed (not there: no error). 0 or the first
 * failed rename's -errno (a message per failure; settling, the XDP pin's
 * is not one). */
static int settle(const char *dir, bool forward, bool settling)
{
	char from[512], to[512], stager[512];
	unsigned i, kept = 0;
	int err = 0, e;

	snprintf(stager, sizeof(stager), "%s/%s", dir, PF_PIN_STAGER);
	if (!forward)
		unlink(stager);
	/* each one even after a failure: our programs are attached, every
	 * pin that names their maps is one more that tells the truth */
	for (i = 0; i < N_PINNED; i++) {
		snprintf(from, sizeof(from), "%s/%s" PF_PIN_NEXT, dir, pinned[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, pinned[i]);
		if (!forward || !rename(from, to)) {
			unlink(from);   /* back: removed (forward: gone) */
			continue;
		}
		e = errno;
		/* none staged: TC mode has no XDP program; settling, the
		 * killed run had renamed it */
		if (e == ENOENT && (settling || i == N_MAPS))
			continue;
		pr_warn("rename %s to %s: %s", from, to, strerror(e));
		if (i == N_MAPS) {
			unlink(from);   /* the XDP program's: see above */
			if (!settling && !err)
				err = -e;
			continue;
		}
		if (!err)
			err = -e;
		kept += e != ENOENT;   /* (a staged pin gone: nothing to keep) */
	}
	if (forward && !kept)
		unlink(stager);
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

/* The id of the program pinned as name in dir: 0 if nothing is pinned
 * there, or -errno (-EPROTO: not a program). */
static long pinned_prog_id(const char *dir, const char *name)
{
	int fd = pf_pin_get(dir, name);
	__u32 id;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	id = pf_prog_id(fd);
	close(fd);
	return id ? (long)id : -EPROTO;
}

/* Did the adopting run that staged the pins in p->dir (and was killed
 * before it committed them) replace the dead instance's programs on
 * ifindex: is its TC ingress program (PF_PIN_STAGER) on the ingress hook,
 * and, if it ran in XDP mode (it staged its XDP program), is that one on
 * the XDP hook (where XDP answers; such a run commits after replacing
 * it)? Program ids from the hooks and from pinned programs, no privilege
 * needed (a program by id takes CAP_SYS_ADMIN). 1 yes, 0 no, -errno if
 * it cannot be told. *tc_on: its TC ingress program is on the hook. */
static int stager_answers(const struct pf_pin *p, int ifindex, bool *tc_on)
{
	struct pf_tc_prog chain[PF_TC_CHAIN_MAX];
	long tc = pinned_prog_id(p->dir, PF_PIN_STAGER);
	long xdp = pinned_prog_id(p->dir, PF_PIN_XDP_NEXT);
	__u32 hook = 0;
	int n, i, on = 0, err;

	if (tc <= 0)
		return (int)tc;   /* 0: no stager, a rollback cut short */
	if (xdp < 0)
		return (int)xdp;
	if (!ifindex)
		return 0;   /* its interface is gone: nothing of it answers */
	n = pf_tc_chain(ifindex, true, chain, PF_TC_CHAIN_MAX);
	if (n < 0 || n > PF_TC_CHAIN_MAX)
		return n < 0 ? n : -E2BIG;
	for (i = 0; i < n; i++)
		on |= chain[i].id == (__u32)tc;
	*tc_on = on;
	if (!on || !xdp)
		return on;
	err = pf_xdp_hook_id(ifindex, &hook);
	return err ? err : hook == (__u32)xdp;
}

/* See pin.h. */
bool pf_pin_staged(const char *dir)
{
	char path[512];
	unsigned i;

	for (i = 0; i < N_PINNED; i++) {
		snprintf(path, sizeof(path), "%s/%s" PF_PIN_NEXT, dir, pinned[i]);
		if (!access(path, F_OK))
			return true;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PF_PIN_STAGER);
	return !access(path, F_OK);
}

/* See pin.h. */
void pf_pin_warn_staged(const char *dir)
{
	size_t n = strlen(dir);

	if (n && dir[n - 1] == '/')
		n--;   /* pf_pin_path's "" */
	if (pf_pin_staged(dir))
		pr_warn("%.*s: pins staged by a run taking over are there (one taking over now, "
			"or one stopped or failed midway: the next 'preflightd run' settles them, "
			"so does 'detach' before it drains and removes preflightd); what is read "
			"may mix two instances' maps", (int)n, dir);
}

/* See pin.h. */
int pf_pin_settle(const struct pf_pin *p, int ifindex)
{
	struct pf_layout sl;
	bool tc_on = false;
	int fwd, err;

	if (!pf_pin_staged(p->dir))
		return 0;
	fwd = stager_answers(p, ifindex, &tc_on);
	if (fwd < 0) {
		/* left as they are: a wrong guess would point `detach` at maps
		 * no attached program reads */
		pr_warn("settle the pins a stopped run staged in %s: %s (left as they are; "
			"retry)", p->dir, strerror(-fwd));
		return fwd;
	}
	/* back, though the stager's TC ingress program is on the hook (it
	 * was killed between its TC and its XDP replace): it goes on reading
	 * its own config, which `detach` would never set draining in -- and
	 * where XDP hands it every frame (no XDP metadata), it answers new
	 * preflights through the drain. Set it there before its pins go (its
	 * own record's offsets; best effort: a stager without a record or
	 * config staged answers as before). */
	if (!fwd && tc_on && !pf_layout_record(p->dir, "meta" PF_PIN_NEXT, &sl) &&
	    !pf_layout_set_draining(p->dir, "config" PF_PIN_NEXT, &sl))
		pr_info("%s: the stopped run's TC program, still attached, answers no new "
			"preflight", p->dir);
	err = settle(p->dir, fwd, true);
	if (err) {
		/* a pin not renamed still names the dead instance's map (its
		 * config: `detach` would set draining where no answering
		 * program reads it); kept staged, with the stager, for the
		 * next try */
		pr_warn("settle the pins a stopped run staged in %s: %s (its programs answer; "
			"the pins not renamed kept staged: clear what blocks each rename above, "
			"then run again)", p->dir, strerror(-err));
		return err;
	}
	pr_info("%s: a previous run was stopped while taking over the pins: %s", p->dir,
		fwd ? "its programs answer, its pins put in place" :
		"its programs had not replaced the dead instance's, its staged pins removed");
	return 0;
}
