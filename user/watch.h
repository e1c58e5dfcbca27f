/* User: noticing that the policy file changed (inotify), for hot reload. */
#ifndef PF_WATCH_H
#define PF_WATCH_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct pf_watch {
	int fd;             /* inotify fd, -1 if unavailable */
	char base[256];     /* policy file name within its directory */
	char path[PATH_MAX];/* the policy file as given */
	dev_t dev;          /* what path resolves to (symlinks followed), */
	ino_t ino;          /* 0/0 if it did not resolve */
};

/* Watch the directory of file (editors and config managers replace files
 * by rename; a Kubernetes ConfigMap volume swaps its ..data symlink).
 * Failure only logs: SIGHUP still works. */
void pf_watch_open(struct pf_watch *w, const char *file);

/* Non-blocking: did the file get written or replaced since last call?
 * True for a write or rename onto the file's own name, and for any other
 * change in its directory after which the name resolves to a different
 * file (a symlink swapped anywhere along its chain, e.g. kubelet's
 * ..data_tmp renamed over ..data). */
bool pf_watch_changed(struct pf_watch *w);

void pf_watch_close(struct pf_watch *w);

#endif /* PF_WATCH_H */
