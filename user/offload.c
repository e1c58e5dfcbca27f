/*
 * offload.c -- the response offload's life cycle (issue 13; the datapath
 * is bpf/pf_offload.h and its parts): attach the SK_MSG program to the
 * socket map and the sockops program to --cgroup, pin the maps that
 * connections depend on, adopt them after a crash, and detach cleanly.
 *
 * Pinned in the interface's pin directory, like the flow table: ofl_sk
 * (the per-socket FIFOs and framing), ofl_socks (the covered sockets; the
 * SK_MSG program is attached to it), ofl_rules (the rules' response
 * settings), ofl_ctl (the stop flag), ofl_held (sockets holding a
 * head back) and ofl_leave (sockets asking to leave the SK_MSG path for a
 * body), which the programs of already covered sockets keep using.
 * The programs stay attached after a crash (legacy cgroup and map
 * attachments outlive the process), so covered connections keep their
 * headers; a restart adopts the maps and replaces both programs.
 * PF_LOCK_ROOT/IFACE.ofl remembers the cgroup for `preflightd detach`.
 *
 * Detach never drops bytes a program holds back (a head split over
 * writes, bpf_msg_cork_bytes): the kernel frees them with the socket's
 * psock when the socket leaves the map. So it stops every program
 * (ofl_ctl), waits for the held heads to go out with the app's next
 * write (the program then sends them unchanged), and resets the
 * connections still holding one after PF_OFL_HELD_WAIT_S -- a reset, not
 * a response with bytes missing -- before it releases the sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "offload.h"
#include "policy.h"
#include "pin.h"
#include "sockdiag.h"
#include "log.h"

/* The first N_ADOPT are reused after a crash. The program array is
 * pinned only to keep its programs: the kernel empties a program array
 * when its last user reference goes (kill -9 would have stopped the
 * request recorder under the still attached TC program). */
static const char *const ofl_pins[] = { "ofl_sk", "ofl_socks", "ofl_rules", "ofl_ctl",
					 "ofl_held", "ofl_leave", "shd_stats", "shd_diffs",
					 "ofl_tail" };
#define N_PINS (sizeof(ofl_pins) / sizeof(ofl_pins[0]))
#define N_ADOPT 6
#define PIN_SOCKS 1
#define PIN_CTL 3
#define PIN_HELD 4

/* How long detach waits for held heads (see the top). */
#define PF_OFL_HELD_WAIT_S 5

static struct bpf_map *ofl_map(struct preflightd_bpf *skel, unsigned i)
{
	struct bpf_map *maps[] = { skel->maps.pf_ofl_sk, skel->maps.pf_ofl_socks,
				   skel->maps.pf_ofl_rules, skel->maps.pf_ofl_ctl,
				   skel->maps.pf_ofl_held, skel->maps.pf_ofl_leave,
				   skel->maps.pf_shd_stats,
				   skel->maps.pf_shd_diffs, skel->maps.pf_ofl_tail };

	return maps[i];
}

/* The marker file of the interface whose pin directory is dir. */
static void marker_path(char *buf, size_t n, const char *dir)
{
	const char *iface = strrchr(dir, '/');

	snprintf(buf, n, "%s/%s.ofl", PF_LOCK_ROOT, iface ? iface + 1 : dir);
}

/* See offload.h. */
int pf_ofl_cgroup_root(char *buf, size_t n)
{
	char line[1024], dev[256], mnt[512], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %511s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(buf, n, "%s", mnt);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* See offload.h. */
int pf_ofl_cgroup_check(const char *path)
{
	struct statfs sf;
	struct stat st;
	int err;

	if (stat(path, &st) || statfs(path, &sf)) {
		err = -errno;
		pr_warn("cgroup %s: %s", path, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		pr_warn("cgroup %s: not a cgroup v2 directory", path);
		return -EINVAL;
	}
	return 0;
}

/* Load the offload's programs only when they will be attached: the
 * recorder and the SK_MSG program take a second of verification. */
static void set_autoload(struct preflightd_bpf *skel, bool on, bool shadow)
{
	bpf_program__set_autoload(skel->progs.pf_ofl_tc, on);
	bpf_program__set_autoload(skel->progs.pf_ofl_msg, on && !shadow);
	bpf_program__set_autoload(skel->progs.pf_ofl_sockops, on);
	bpf_program__set_autoload(skel->progs.pf_shd_tc_out, on && shadow);
}

/* The pinned offload map i of pin_dir, or -1. */
static int pin_get(const char *pin_dir, unsigned i)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, ofl_pins[i]);
	return bpf_obj_get(path);
}

/* The SK_MSG program attached to the socket map at fd: 1 with its id in
 * *id, 0 if none, or a negative errno. */
static int msg_attached(int fd, __u32 *id)
{
	__u32 ids[4], cnt = 4, flags = 0;

	if (bpf_prog_query(fd, BPF_SK_MSG_VERDICT, 0, &flags, ids, &cnt))
		return -errno;
	if (!cnt)
		return 0;
	*id = ids[0];
	return 1;
}

/* Does the offload a dead instance left in dir edit responses? An
 * enforcing run's socket map carries the SK_MSG program (attached before
 * any socket is covered, detached only with every socket released); a
 * shadow run's never does. The attachment itself is the pinned record
 * of the mode -- it is what edits, and it outlives the process. 1 yes,
 * 0 no, or a negative errno (cannot tell). */
static int left_edits(const char *dir)
{
	int fd = pin_get(dir, PIN_SOCKS), n;
	__u32 id;

	if (fd < 0)
		return -errno;
	n = msg_attached(fd, &id);
	close(fd);
	return n;
}

/* Can this build reuse every offload map a dead instance pinned in dir:
 * all there, of the same type and sizes? (Checked before any is reused:
 * a reuse cannot be undone.) */
static bool adoptable(const char *dir, struct preflightd_bpf *skel)
{
	struct bpf_map_info info;
	const struct bpf_map *m;
	char path[600];
	__u32 len;
	unsigned i;
	bool ok = true;
	int fd;

	for (i = 0; i < N_ADOPT && ok; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ofl_pins[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			return false;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		m = ofl_map(skel, i);
		ok = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		     info.type == (__u32)bpf_map__type(m) &&
		     info.key_size == bpf_map__key_size(m) &&
		     info.value_size == bpf_map__value_size(m) &&
		     info.max_entries == bpf_map__max_entries(m);
		close(fd);
	}
	return ok;
}

/* An offload neither wanted nor adopted is never attached nor pinned
 * (pf_cfg.ofl_on stays 0: the TC programs never touch its maps, its own
 * programs are not loaded): its per-connection maps get one entry, not
 * max_flows -- pf_ofl_leave, a preallocated LRU, took ~6 ms and ~6 MB
 * to create at 65,536. */
static int size_unused(const struct pf_ofl *o, struct preflightd_bpf *skel)
{
	int err;

	if (o->wanted)
		return 0;
	err = bpf_map__set_max_entries(skel->maps.pf_ofl_socks, 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.pf_ofl_held, 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.pf_ofl_leave, 1);
	if (err)
		pr_warn("size the unused offload maps: %s", strerror(-err));
	return err;
}

/* See offload.h. */
int pf_ofl_prepare(struct pf_ofl *o, const struct pf_pin *pin,
		   struct preflightd_bpf *skel, unsigned max_flows, bool want, bool shadow)
{
	char path[600];
	unsigned i;
	int fd, err, edits;

	memset(o, 0, sizeof(*o));
	o->cg_fd = -1;
	o->rules_fd = -1;
	o->early_fd = -1;
	o->held_fd = -1;
	o->socks_fd = -1;
	o->shadow = shadow;
	o->wanted = want || shadow;
	set_autoload(skel, o->wanted, shadow);
	snprintf(o->dir, sizeof(o->dir), "%s", pin->dir);
	marker_path(o->marker, sizeof(o->marker), pin->dir);
	err = bpf_map__set_max_entries(skel->maps.pf_ofl_socks, max_flows);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.pf_ofl_held, max_flows);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.pf_ofl_leave, max_flows);
	if (err) {
		pr_warn("size the unused offload maps: %s", strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/%s", o->dir, ofl_pins[PIN_SOCKS]);
	if (access(path, F_OK))
		return size_unused(o, skel); /* no dead instance with offload */
	edits = left_edits(o->dir);
	if (!adoptable(o->dir, skel)) {
		/* another build's offload (an upgrade): its programs cannot
		 * use our maps nor ours its; remove it, start afresh */
		pr_warn("response offload left in %s has another layout: detaching it (its "
			"connections get no more headers)", o->dir);
		goto stale;
	}
	if (edits < 0 || (edits > 0) == shadow) {
		/* another mode's: a shadow run must never change a byte, and
		 * the enforcing programs would keep editing (covered sockets
		 * keep the SK_MSG program); an enforcing run cannot give a
		 * shadow run's covered sockets (in ofl_sk, never in the
		 * socket map) the SK_MSG program -- their requests would be
		 * recorded for responses nothing edits */
		if (shadow)
			pr_warn("response offload left in %s edits responses%s: a shadow run "
				"never does -- detaching it (its connections get no more headers)",
				o->dir, edits < 0 ? " (or cannot tell)" : "");
		else
			pr_warn("response offload left in %s is a shadow run's (no SK_MSG "
				"program on its sockets): detaching it, connections are covered "
				"afresh", o->dir);
		goto stale;
	}
	for (i = 0; i < N_ADOPT; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, ofl_pins[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = -errno;
			pr_warn("adopt %s: %s", path, strerror(errno));
			return err;
		}
		err = bpf_map__reuse_fd(ofl_map(skel, i), fd);
		close(fd);
		if (err) {
			pr_warn("adopt %s: %s (incompatible leftover: 'preflightd detach' "
				"removes it)", path, strerror(-err));
			return err;
		}
	}
	o->adopted = true;
	o->wanted = true; /* its connections depend on it */
	set_autoload(skel, true, shadow);
	pr_info("adopting the response offload's sockets and request queues left in %s",
		o->dir);
	return 0;
stale:
	pf_ofl_detach_stale(o->dir, strrchr(o->dir, '/') ? strrchr(o->dir, '/') + 1 : o->dir);
	return size_unused(o, skel);
}

/* Our sockops program (by name) attached to cg_fd: its fd, or -1. */
static int find_sockops(int cg_fd)
{
	__u32 ids[64], cnt = 64, flags = 0, i;
	struct bpf_prog_info info;
	__u32 len;
	int fd;

	if (bpf_prog_query(cg_fd, BPF_CGROUP_SOCK_OPS, 0, &flags, ids, &cnt))
		return -1;
	for (i = 0; i < cnt; i++) {
		fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, "pf_ofl_sockops", sizeof(info.name)))
			return fd;
		close(fd);
	}
	return -1;
}

/* The cgroup a dead instance attached to (its marker), into buf. */
static int read_marker(const char *marker, char *buf, size_t n)
{
	FILE *f = fopen(marker, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(buf, (int)n, f) != NULL;
	fclose(f);
	if (!ok)
		return -EINVAL;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Detach our sockops program from the cgroup at path (a dead instance's). */
static int detach_sockops_at(const char *path)
{
	int cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, n = 0;

	if (cg < 0)
		return 0;
	while ((fd = find_sockops(cg)) >= 0 && n < 8) {
		if (bpf_prog_detach2(fd, cg, BPF_CGROUP_SOCK_OPS))
			pr_warn("detach sockops from %s: %s", path, strerror(errno));
		else
			n++;
		close(fd);
	}
	close(cg);
	return n;
}

/* Set the stop flag of the pf_ofl_ctl map at fd (every generation of
 * the programs reads it). */
static void set_stop(int fd, __u32 stop)
{
	struct pf_ofl_ctl c = { .stop = stop };
	__u32 zero = 0;

	if (bpf_map_update_elem(fd, &zero, &c, BPF_ANY))
		pr_warn("response offload: set the stop flag: %s", strerror(errno));
}

/* The sockets of the pf_ofl_held map at held_fd that are still covered
 * (in the socket map at socks_fd); entries of sockets closed while
 * holding are removed. With nlfd >= 0 each still covered one's
 * connection is reset through it. Returns how many are held. */
static int held_scan(int held_fd, int socks_fd, int nlfd)
{
	struct pf_flow_key key;
	__u64 k, next, v;
	int more, n = 0, i = 0;

	more = !bpf_map_get_next_key(held_fd, NULL, &k);
	while (more && i++ < 16777216) {
		more = !bpf_map_get_next_key(held_fd, &k, &next);
		if (bpf_map_lookup_elem(socks_fd, &k, &v)) {
			bpf_map_delete_elem(held_fd, &k);
		} else if (!bpf_map_lookup_elem(held_fd, &k, &key)) {
			n++;
			if (nlfd >= 0)
				pf_diag_destroy(nlfd, &key);
		}
		k = next;
	}
	return n;
}

/* Wait (at most PF_OFL_HELD_WAIT_S) until no covered socket holds a
 * head back: the app's next write sends it (the programs are stopped).
 * Reset the connections still holding one then: releasing them would
 * drop the held bytes and corrupt their responses. */
static void wait_held(int held_fd, int socks_fd)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int i, n, nlfd;

	for (i = 0; i < PF_OFL_HELD_WAIT_S * 20; i++) {
		n = held_scan(held_fd, socks_fd, -1);
		if (!n)
			return;
		if (!i)
			pr_info("response offload: waiting for %d held response head(s) "
				"to be completed by the app", n);
		nanosleep(&tick, NULL);
	}
	nlfd = pf_diag_open();
	n = held_scan(held_fd, socks_fd, nlfd);
	if (nlfd >= 0)
		close(nlfd);
	pr_warn("response offload: %d connection(s) still held a response head after %d s: "
		"reset", n, PF_OFL_HELD_WAIT_S);
}

/* Pin the offload maps (the pin directory exists: pf_pin_maps ran). On
 * a failure part way, the pins this call made are removed again (a dead
 * instance's pins it replaced are gone either way: the adopted maps are
 * ours now). */
static int pin_maps(struct pf_ofl *o, struct preflightd_bpf *skel)
{
	char path[600];
	unsigned i;
	int err;

	for (i = 0; i < N_PINS; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, ofl_pins[i]);
		unlink(path); /* a dead instance's pin (we hold the lock) */
		err = bpf_map__pin(ofl_map(skel, i), path);
		if (err) {
			pr_warn("pin %s: %s", path, strerror(-err));
			goto unwind;
		}
	}
	o->pinned = true;
	return 0;
unwind:
	while (i-- > 0) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, ofl_pins[i]);
		bpf_map__unpin(ofl_map(skel, i), path);
	}
	return err;
}

static void unpin_maps(struct pf_ofl *o)
{
	char path[600];
	unsigned i;

	if (!o->pinned)
		return;
	for (i = 0; i < N_PINS; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, ofl_pins[i]);
		unlink(path);
	}
	o->pinned = false;
}

/* See offload.h. */
int pf_ofl_attach(struct pf_ofl *o, struct preflightd_bpf *skel, const char *cgroup)
{
	LIBBPF_OPTS(bpf_prog_attach_opts, aopts);
	int msg_fd = o->shadow ? -1 : bpf_program__fd(skel->progs.pf_ofl_msg);
	int so_fd = bpf_program__fd(skel->progs.pf_ofl_sockops);
	int socks_fd = bpf_map__fd(skel->maps.pf_ofl_socks);
	int tc_fd = bpf_program__fd(skel->progs.pf_ofl_tc);
	int tail_fd = bpf_map__fd(skel->maps.pf_ofl_tail);
	__u32 rec = PF_OFL_TAIL_REC, shd = PF_OFL_TAIL_SHD;
	char old[512] = "";
	int err, old_fd = -1;
	FILE *f;

	snprintf(o->cgroup, sizeof(o->cgroup), "%s", cgroup);
	o->early_fd = bpf_map__fd(skel->maps.pf_ofl_early);
	o->held_fd = bpf_map__fd(skel->maps.pf_ofl_held);
	o->socks_fd = socks_fd;
	o->cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->cg_fd < 0) {
		err = -errno;
		pr_warn("open cgroup %s: %s", cgroup, strerror(errno));
		return err;
	}
	err = pin_maps(o, skel);
	if (err)
		goto fail;
	/* the recorder behind pf_tc_ingress's tail call */
	if (bpf_map_update_elem(tail_fd, &rec, &tc_fd, BPF_ANY)) {
		err = -errno;
		pr_warn("install the offload's request recorder: %s", strerror(errno));
		goto fail;
	}
	if (o->shadow) {
		/* answer nothing, insert nothing: read the app's responses */
		int out_fd = bpf_program__fd(skel->progs.pf_shd_tc_out);

		if (bpf_map_update_elem(tail_fd, &shd, &out_fd, BPF_ANY)) {
			err = -errno;
			pr_warn("install the shadow response reader: %s", strerror(errno));
			goto fail;
		}
		skel->bss->pf_cfg.draining = 1;
		skel->bss->pf_cfg.shadow = 1;
	} else if (bpf_prog_attach(msg_fd, socks_fd, BPF_SK_MSG_VERDICT, 0)) {
		/* SK_MSG first: a socket gets the map's programs when added */
		err = -errno;
		pr_warn("attach SK_MSG to the offload socket map: %s", strerror(errno));
		goto fail;
	}
	set_stop(bpf_map__fd(skel->maps.pf_ofl_ctl), 0);
	__atomic_store_n(&skel->bss->pf_cfg.ofl_on, 1, __ATOMIC_RELEASE);
	/* a dead instance's sockops program: replaced in place on the same
	 * cgroup (no connection missed), removed from another one */
	if (o->adopted && !read_marker(o->marker, old, sizeof(old))) {
		if (strcmp(old, cgroup))
			detach_sockops_at(old);
		else
			old_fd = find_sockops(o->cg_fd);
	}
	aopts.flags = BPF_F_ALLOW_MULTI;
	if (old_fd >= 0) {
		aopts.flags |= BPF_F_REPLACE;
		aopts.replace_prog_fd = old_fd;
	}
	err = bpf_prog_attach_opts(so_fd, o->cg_fd, BPF_CGROUP_SOCK_OPS, &aopts);
	if (old_fd >= 0)
		close(old_fd);
	if (err) {
		err = -errno;
		pr_warn("attach sockops to cgroup %s: %s%s", cgroup, strerror(-err),
			err == -EPERM ? " (a program attached there without "
			"BPF_F_ALLOW_MULTI?)" : "");
		if (!o->shadow)
			bpf_prog_detach2(msg_fd, socks_fd, BPF_SK_MSG_VERDICT);
		goto fail;
	}
	o->attached = true;
	f = fopen(o->marker, "w");
	if (f) {
		fprintf(f, "%s\n", cgroup);
		fclose(f);
	}
	return 0;
fail:
	skel->bss->pf_cfg.ofl_on = 0;
	unpin_maps(o);
	close(o->cg_fd);
	o->cg_fd = -1;
	return err;
}

/* See offload.h. */
int pf_ofl_slot_set(int fd, __u32 slot, const struct pf_ofl_rule *r)
{
	__u32 i, idx;
	int err;

	for (i = 0; i < PF_MAX_RULES; i++) {
		idx = slot * PF_MAX_RULES + i;
		if (bpf_map_update_elem(fd, &idx, &r[i], BPF_ANY)) {
			err = -errno; /* before pr_warn, which may change errno */
			pr_warn("install response settings: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* See offload.h. */
int pf_ofl_slot_get(int fd, __u32 slot, struct pf_ofl_rule *r)
{
	__u32 i, idx;
	int err;

	for (i = 0; i < PF_MAX_RULES; i++) {
		idx = slot * PF_MAX_RULES + i;
		if (bpf_map_lookup_elem(fd, &idx, &r[i])) {
			err = -errno;
			pr_warn("read response settings: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* See offload.h. */
int pf_ofl_install(int fd, const struct pf_compiled *c)
{
	return pf_ofl_slot_set(fd, c->slot, c->ofl);
}

/* See offload.h. */
void pf_ofl_gc(struct pf_ofl *o, __u64 now_ns)
{
	static struct pf_ofl_sk v;  /* 1 KiB: off the stack */
	struct pf_flow_key k, next;
	int fd = o->early_fd, more, n = 0;

	if (!o->attached || now_ns - o->last_gc < 1000000000ULL)
		return;
	o->last_gc = now_ns;
	held_scan(o->held_fd, o->socks_fd, -1); /* sockets closed while holding */

	more = !bpf_map_get_next_key(fd, NULL, &k);
	while (more && n++ < 100000) {
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (!bpf_map_lookup_elem(fd, &k, &v) && now_ns - v.born_ns > PF_OFL_EARLY_NS)
			bpf_map_delete_elem(fd, &k);
		k = next;
	}
}

/* Remove every socket from the socket map at fd: each goes back to the
 * plain TCP send path (nothing of it is held: callers stop corking
 * first). Returns how many. */
static int release_sockets(int fd)
{
	__u64 k, next;
	int more, n = 0;

	more = !bpf_map_get_next_key(fd, NULL, &k);
	while (more && n < 16777216) {
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (!bpf_map_delete_elem(fd, &k))
			n++;
		k = next;
	}
	return n;
}

/* Let a program run that started before the stop flag was set finish
 * (and enter what it holds in pf_ofl_held). */
static void corked_grace(void)
{
	struct timespec t = { 0, 200 * 1000 * 1000 };

	nanosleep(&t, NULL);
}

/* See offload.h. */
void pf_ofl_detach(struct pf_ofl *o, struct preflightd_bpf *skel)
{
	int socks_fd = bpf_map__fd(skel->maps.pf_ofl_socks);
	int n;

	if (!o->attached) {
		unpin_maps(o);
		return;
	}
	set_stop(bpf_map__fd(skel->maps.pf_ofl_ctl), 1);
	if (bpf_prog_detach2(bpf_program__fd(skel->progs.pf_ofl_sockops), o->cg_fd,
			     BPF_CGROUP_SOCK_OPS))
		pr_warn("detach sockops from %s: %s", o->cgroup, strerror(errno));
	corked_grace();
	wait_held(o->held_fd, socks_fd);
	if (!o->shadow)
		bpf_prog_detach2(bpf_program__fd(skel->progs.pf_ofl_msg), socks_fd,
				 BPF_SK_MSG_VERDICT);
	skel->bss->pf_cfg.shadow = 0;
	n = release_sockets(socks_fd);
	skel->bss->pf_cfg.ofl_on = 0;
	pr_info("response offload detached from %s (%d connections released)", o->cgroup, n);
	close(o->cg_fd);
	o->cg_fd = -1;
	o->attached = false;
	unlink(o->marker);
	unpin_maps(o);
}

/* The SK_MSG program attached to the socket map at fd: detach it. */
static int detach_msg(int fd)
{
	__u32 id;
	int pfd, n = 0;

	if (msg_attached(fd, &id) <= 0)
		return 0;
	pfd = bpf_prog_get_fd_by_id(id);
	if (pfd < 0)
		return 0;
	if (!bpf_prog_detach2(pfd, fd, BPF_SK_MSG_VERDICT))
		n = 1;
	close(pfd);
	return n;
}

/* See offload.h. */
int pf_ofl_detach_stale(const char *pin_dir, const char *iface)
{
	char path[600], marker[320], cg[512];
	unsigned i;
	int fd, held, n = 0;

	fd = pin_get(pin_dir, PIN_CTL);
	if (fd >= 0) {
		set_stop(fd, 1);
		close(fd);
	}
	snprintf(marker, sizeof(marker), "%s/%s.ofl", PF_LOCK_ROOT, iface);
	if (!read_marker(marker, cg, sizeof(cg)))
		n += detach_sockops_at(cg);
	fd = pin_get(pin_dir, PIN_SOCKS);
	if (fd >= 0) {
		corked_grace();
		held = pin_get(pin_dir, PIN_HELD);
		if (held >= 0) {
			wait_held(held, fd);
			close(held);
		}
		n += detach_msg(fd);
		release_sockets(fd);
		close(fd);
	}
	for (i = 0; i < N_PINS; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, ofl_pins[i]);
		unlink(path);
	}
	unlink(marker);
	return n;
}
