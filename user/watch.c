/* watch.c -- inotify on the policy file's directory, filtered by name. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/inotify.h>
#include "watch.h"
#include "log.h"

void pf_watch_open(struct pf_watch *w, const char *file)
{
	char d[PATH_MAX], b[PATH_MAX];

	w->fd = -1;
	snprintf(d, sizeof(d), "%s", file);
	snprintf(b, sizeof(b), "%s", file);
	snprintf(w->base, sizeof(w->base), "%s", basename(b));
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		pr_warn("watch %s: %s (SIGHUP still reloads)", file, strerror(errno));
		return;
	}
	if (inotify_add_watch(w->fd, dirname(d), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		pr_warn("watch %s: %s (SIGHUP still reloads)", file, strerror(errno));
		close(w->fd);
		w->fd = -1;
	}
}

bool pf_watch_changed(struct pf_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool changed = false;
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
			if (ev->len && !strcmp(ev->name, w->base))
				changed = true;
		}
	}
	return changed;
}

void pf_watch_close(struct pf_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
