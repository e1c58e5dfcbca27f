/* User: the per-interface lock and bpffs pins (/sys/fs/bpf/preflightd/IFACE/). */
#ifndef PF_PIN_H
#define PF_PIN_H

#include <stdbool.h>

#define PF_PIN_ROOT  "/sys/fs/bpf/preflightd"
#define PF_LOCK_ROOT "/run/preflightd"

struct preflightd_bpf;

struct pf_pin {
	char dir[256];      /* PF_PIN_ROOT/IFACE */
	char lock[256];     /* PF_LOCK_ROOT/IFACE.lock */
	char clsact[256];   /* PF_LOCK_ROOT/IFACE.clsact: we created clsact */
	int lock_fd;        /* held while running; -1/0 when not */
	bool locked;
	bool pinned;
	bool adopted;       /* reusing a dead instance's flow table */
};

/* A lock file that its holder removes on exit. pf_lock_file opens (creates)
 * and flocks path; returns the held fd, -EBUSY if another process holds
 * it, or -errno. pf_lock_fd is its second half for an fd already open on
 * path: 0 once locked, -EBUSY, or -ESTALE when path no longer names the
 * file fd is open on (its holder released it in between: open again), so
 * two processes never both hold it. pf_lock_release unlinks path, then
 * closes fd. */
int pf_lock_file(const char *path);
int pf_lock_fd(const char *path, int fd);
void pf_lock_release(const char *path, int fd);

/* Take the per-interface lock; -EBUSY (message printed) if another
 * preflightd serves iface. */
int pf_pin_lock(struct pf_pin *p, const char *iface);
void pf_pin_unlock(struct pf_pin *p);

/* If a previous instance left pinned state for this interface (it died
 * without draining: kill -9, a crash), make skel reuse its flow table and
 * counters so spliced connections keep their corrections; its TC filters
 * are then replaced in place. Call between open and load. Sets
 * p->adopted. Returns 0 or -errno (message printed). */
int pf_pin_adopt(struct pf_pin *p, struct preflightd_bpf *skel);

/* Remember whether preflightd created the clsact qdisc (survives a
 * crash), and read it back. */
void pf_pin_mark_clsact(const struct pf_pin *p, bool created);
bool pf_pin_clsact_created(const struct pf_pin *p);

/* Pin stats, flows and config maps so `preflightd stats` can read them. */
int pf_pin_maps(struct pf_pin *p, struct preflightd_bpf *skel);
void pf_unpin_maps(struct pf_pin *p);

/* Path of pinned map name for iface (NULL iface: the only one running). */
int pf_pin_path(char *buf, size_t n, const char *iface, const char *name);

#endif /* PF_PIN_H */
