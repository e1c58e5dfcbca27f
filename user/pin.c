/* pin.c -- one preflightd per interface (flock), the bpffs pins that let
 * other subcommands read a running instance's maps, and what a restarted
 * instance makes of the pins a dead one left: adopt them, hand over from
 * them, or start clean. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "pin.h"
#include "tc.h"
#include "log.h"

int pf_lock_fd(const char *path, int fd)
{
	struct stat held, named;

	if (flock(fd, LOCK_EX | LOCK_NB))
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	if (fstat(fd, &held)) {
		int err = -errno;

		flock(fd, LOCK_UN);
		return err;
	}
	/* the holder we waited for unlinked the file on its way out (and a
	 * newcomer may have created and locked a new one): this lock guards
	 * nothing */
	if (stat(path, &named) || named.st_ino != held.st_ino || named.st_dev != held.st_dev) {
		flock(fd, LOCK_UN);
		return -ESTALE;
	}
	return 0;
}

int pf_lock_file(const char *path)
{
	int fd, err = -ESTALE, tries;

	/* each retry follows a holder that let go between our open and our
	 * flock: bounded, a few are already unusual */
	for (tries = 0; tries < 16 && err == -ESTALE; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		err = pf_lock_fd(path, fd);
		if (!err)
			return fd;
		close(fd);
	}
	return err == -ESTALE ? -EBUSY : err;
}

void pf_lock_release(const char *path, int fd)
{
	/* unlink while still holding it: whoever opens path from now on
	 * gets a new file; whoever opened the old one finds it unlinked
	 * once it gets the lock (pf_lock_fd) and opens path again */
	unlink(path);
	close(fd);
}

/* See pin.h. */
int pf_trace_lock(const char *dir)
{
	struct timespec wait = { 0, 20 * 1000 * 1000 };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err, tries;

	if (fd < 0)
		return -errno;
	for (tries = 0; tries < 10; tries++) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		if (errno != EWOULDBLOCK)
			break;
		nanosleep(&wait, NULL);
	}
	err = errno == EWOULDBLOCK ? -EBUSY : -errno;
	close(fd);
	return err;
}

/* See pin.h. */
int pf_trace_orphan_off(const char *dir, int ctl_fd)
{
	struct pf_trace_ctl c, off = { 0 };
	__u32 zero = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), done = 0;

	if (fd < 0)
		return 0;
	/* shared: a trace starting now waits for it (pf_trace_lock) */
	if (!flock(fd, LOCK_SH | LOCK_NB)) {
		if (!bpf_map_lookup_elem(ctl_fd, &zero, &c) && c.sample &&
		    !bpf_map_update_elem(ctl_fd, &zero, &off, BPF_ANY))
			done = 1;
		flock(fd, LOCK_UN);
	}
	close(fd);
	return done;
}

int pf_pin_lock(struct pf_pin *p, const char *iface, bool quiet)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->lock_fd = -1;
	snprintf(p->dir, sizeof(p->dir), "%s/%s", PF_PIN_ROOT, iface);
	snprintf(p->lock, sizeof(p->lock), "%s/%s.lock", PF_LOCK_ROOT, iface);
	snprintf(p->clsact, sizeof(p->clsact), "%s/%s.clsact", PF_LOCK_ROOT, iface);
	if (mkdir(PF_LOCK_ROOT, 0755) && errno != EEXIST) {
		err = -errno;
		if (!quiet)
			pr_warn("mkdir %s: %s", PF_LOCK_ROOT, strerror(errno));
		return err;
	}
	err = pf_lock_file(p->lock);
	if (err < 0) {
		if (quiet)
			return err;
		if (err == -EBUSY)
			pr_warn("another preflightd is already running on %s; "
				"stop it first (SIGTERM) or use another interface", iface);
		else
			pr_warn("lock %s: %s", p->lock, strerror(-err));
		return err;
	}
	p->lock_fd = err;
	p->locked = true;
	return 0;
}

void pf_pin_unlock(struct pf_pin *p)
{
	if (!p->locked)
		return;
	pf_lock_release(p->lock, p->lock_fd);
	p->lock_fd = -1;
	p->locked = false;
}

/* Remove every pin in p->dir (all are preflightd's), then the directory. */
static void remove_all(const struct pf_pin *p)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(p->dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", p->dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(p->dir);
}

void pf_unpin_maps(struct pf_pin *p)
{
	if (!p->pinned)
		return;
	remove_all(p);   /* meta, and anything a dead instance left */
	/* PF_PIN_ROOT stays: an instance starting meanwhile on another
	 * interface has it bind-mounted writable in its sandbox (systemd's
	 * ReadWritePaths), and removing it would take that mount away before
	 * the instance has made its directory in it */
	p->pinned = false;
}

int pf_pin_fd(const char *dir, const char *name, int fd)
{
	char path[512];
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if (!bpf_obj_pin(fd, path))
		return 0;
	err = -errno;
	pr_warn("pin %s: %s", path, strerror(errno));
	return err;
}

__u32 pf_prog_id(int fd)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	return bpf_obj_get_info_by_fd(fd, &pi, &len) ? 0 : pi.id;
}

int pf_pin_get(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pf_pin_path(char *buf, size_t n, const char *iface, const char *name)
{
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (iface) {
		snprintf(buf, n, "%s/%s/%s", PF_PIN_ROOT, iface, name);
		return 0;
	}
	d = opendir(PF_PIN_ROOT);
	if (!d) {
		pr_warn("no running preflightd (%s: %s)", PF_PIN_ROOT, strerror(errno));
		return -ENOENT;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (found++) {
			pr_warn("several interfaces are served; pass --iface");
			closedir(d);
			return -EINVAL;
		}
		snprintf(buf, n, "%s/%s/%s", PF_PIN_ROOT, de->d_name, name);
	}
	closedir(d);
	if (!found) {
		pr_warn("no running preflightd");
		return -ENOENT;
	}
	return 0;
}

int pf_pin_inspect(struct pf_pin *p, const struct pf_layout *self, int ifindex)
{
	char name[IF_NAMESIZE];
	bool has_meta;
	__u32 owner;
	int err;

	p->ifindex = ifindex;
	p->self = *self;
	p->left = PF_LEFT_NONE;
	err = pf_pin_settle(p, ifindex);
	if (err)
		return err;
	err = pf_layout_pinned(p->dir, self, &p->old, &owner, &has_meta);
	if (err == -ENOENT)
		return 0;   /* nothing left behind */
	if (err == -EPERM) {
		/* bpf() itself is refused, whatever is pinned */
		pr_warn("read the state pinned in %s: %s (the bpf() system call is refused: "
			"CAP_BPF missing, or a seccomp profile that allows bpf() only with "
			"CAP_SYS_ADMIN)", p->dir, strerror(-err));
		return err;
	}
	if (err) {
		pr_warn("read the state pinned in %s: %s ('preflightd detach' cannot read it "
			"either: remove it with the version that wrote it)", p->dir, strerror(-err));
		return err;
	}
	/* whose is it: the record says; before the record existed, state of
	 * this interface came with our TC programs on it */
	if (has_meta ? owner != (__u32)ifindex : pf_tc_left(ifindex, p->dir) == PF_TC_AUTO) {
		if (has_meta && if_indextoname(owner, name)) {
			pr_warn("the state pinned in %s belongs to interface %s (index %u), not to "
				"this one (index %d): its programs may still serve %s; stop them "
				"there first", p->dir, name, owner, ifindex, name);
			return -EEXIST;
		}
		p->left = PF_LEFT_STALE;
		return 0;
	}
	if (p->old.flows_known && p->old.flows_fp == self->flows_fp) {
		p->left = PF_LEFT_ADOPT;
		return 0;
	}
	if (!p->old.key_known || p->old.key_fp != self->key_fp) {
		pr_warn("the state pinned in %s was written by a version whose flow table this "
			"one cannot read, not even its keys: its programs keep translating; "
			"remove them with that version's 'preflightd detach --iface IF'", p->dir);
		return -EPROTO;
	}
	p->left = PF_LEFT_HANDOVER;
	return 0;
}

/* Make map reuse the map pinned as name in p->dir. 0 or -errno (message
 * printed). */
static int reuse_pinned(const struct pf_pin *p, const char *name, struct bpf_map *map)
{
	char path[512];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
	} else {
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
	}
	if (err)
		pr_warn("adopt %s: %s", path, strerror(-err));
	return err;
}

int pf_pin_adopt(struct pf_pin *p, struct preflightd_bpf *skel, int ifindex)
{
	struct pf_layout self;
	bool stats;
	int err;

	p->adopted = p->handover = false;
	err = pf_layout_self(skel, &self);
	if (err) {
		pr_warn("layout of the BPF object: %s", strerror(-err));
		return err;
	}
	err = pf_pin_inspect(p, &self, ifindex);
	if (err)
		return err;
	switch (p->left) {
	case PF_LEFT_NONE:
		return 0;
	case PF_LEFT_STALE:
		pr_info("the state pinned in %s belongs to an interface that is gone (%s was "
			"deleted and created again): its connections went with it; starting clean",
			p->dir, p->dir + sizeof(PF_PIN_ROOT));
		return 0;   /* the caller removes it: pf_detach_dead */
	case PF_LEFT_HANDOVER:
		pr_warn("the state pinned in %s was written by a version with %s (%u-byte "
			"entries; this one: %u bytes): not adopting it. Its programs keep "
			"translating the connections they spliced and answer no new preflight; "
			"once those have closed (at most --drain-timeout, then they are reset) "
			"this instance takes over", p->dir, p->old.flows_known ?
			"another flow table layout" : "a flow table layout this one cannot read "
			"(its BTF needs CAP_SYS_ADMIN)", p->old.flow_size, self.flow_size);
		p->handover = true;
		return 0;
	case PF_LEFT_ADOPT:
		break;
	}
	stats = p->old.stats_fp == self.stats_fp;
	err = reuse_pinned(p, "flows", skel->maps.pf_flows);
	if (!err && stats)
		err = reuse_pinned(p, "stats", skel->maps.pf_stats);
	if (err)
		return err;
	p->adopted = true;
	pr_info("adopting the flow table%s left in %s by a previous instance%s",
		stats ? " and counters" : "", p->dir, stats ? "" :
		" (its counters count other things: counting from zero)");
	return 0;
}

void pf_pin_mark_clsact(const struct pf_pin *p, bool created)
{
	int fd;

	if (!created) {
		unlink(p->clsact);
		return;
	}
	fd = open(p->clsact, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

bool pf_pin_clsact_created(const struct pf_pin *p)
{
	return access(p->clsact, F_OK) == 0;
}
