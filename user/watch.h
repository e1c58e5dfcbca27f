/* User: noticing that the policy file changed (inotify), for hot reload. */
#ifndef PF_WATCH_H
#define PF_WATCH_H

#include <stdbool.h>

struct pf_watch {
	int fd;             /* inotify fd, -1 if unavailable */
	char base[256];     /* policy file name within its directory */
};

/* Watch the directory of file (editors and config managers replace files
 * by rename). Failure only logs: SIGHUP still works. */
void pf_watch_open(struct pf_watch *w, const char *file);

/* Non-blocking: did the file get written or replaced since last call? */
bool pf_watch_changed(struct pf_watch *w);

void pf_watch_close(struct pf_watch *w);

#endif /* PF_WATCH_H */
