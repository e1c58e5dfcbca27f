/* watch.c -- inotify on the policy file's directory: writes and renames
 * naming the file; and, when the file is a symlink, any event after which
 * it resolves to another file (a ConfigMap volume's ..data swap). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include "watch.h"
#include "log.h"

/* Record what w->path resolves to now (symlinks followed); returns true
 * if that differs from what was recorded before. */
static bool resolve_changed(struct pf_watch *w)
{
	struct stat st;
	dev_t dev = 0;
	ino_t ino = 0;
	bool changed;

	if (!stat(w->path, &st)) {
		dev = st.st_dev;
		ino = st.st_ino;
	}
	changed = dev != w->dev || ino != w->ino;
	w->dev = dev;
	w->ino = ino;
	return changed;
}

void pf_watch_open(struct pf_watch *w, const char *file)
{
	char d[PATH_MAX], b[PATH_MAX];

	w->fd = -1;
	snprintf(d, sizeof(d), "%s", file);
	snprintf(b, sizeof(b), "%s", file);
	snprintf(w->base, sizeof(w->base), "%s", basename(b));
	snprintf(w->path, sizeof(w->path), "%s", file);
	w->dev = 0;
	w->ino = 0;
	resolve_changed(w);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		pr_warn("watch %s: %s (SIGHUP still reloads)", file, strerror(errno));
		return;
	}
	if (inotify_add_watch(w->fd, dirname(d),
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
		pr_warn("watch %s: %s (SIGHUP still reloads)", file, strerror(errno));
		close(w->fd);
		w->fd = -1;
	}
}

bool pf_watch_changed(struct pf_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool changed = false, other = false;
	struct stat st;
	ssize_t n;
	char *p;

	if (w->fd < 0)
		return false;
	for (;;) {
		n = read(w->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			/* IN_CREATE of the file itself: a new symlink counts
			 * (no IN_CLOSE_WRITE follows), a new regular file only
			 * once written */
			if (ev->len && !strcmp(ev->name, w->base) && (ev->mask & IN_CREATE))
				other = true;
			else if (ev->len && !strcmp(ev->name, w->base))
				changed = true;
			else
				other = true;
		}
	}
	if (!changed && !other)
		return false;
	/* a ConfigMap update renames ..data_tmp over ..data: no event names
	 * the file (a symlink to ..data/FILE), but it now leads elsewhere */
	if (resolve_changed(w) && other && !lstat(w->path, &st) && S_ISLNK(st.st_mode))
		changed = true;
	return changed;
}

void pf_watch_close(struct pf_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
