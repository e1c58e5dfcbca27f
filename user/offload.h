/* User: attaching the response offload (issue 13): sockops on --cgroup, SK_MSG on the socket map, pins, adoption, detach. */
#ifndef PF_OFFLOAD_USER_H
#define PF_OFFLOAD_USER_H

#include <stdbool.h>
#include <linux/types.h>

struct preflightd_bpf;
struct pf_pin;
struct pf_compiled;
struct pf_ofl_rule;

struct pf_ofl {
	int cg_fd;            /* the cgroup the sockops program is on, or -1 */
	bool wanted;          /* its programs are loaded: attach them */
	bool shadow;          /* run --shadow: no SK_MSG, the egress reader */
	bool adopted;         /* reusing a dead instance's offload maps */
	bool attached;        /* sockops + SK_MSG attached by us */
	bool pinned;
	char cgroup[512];     /* --cgroup (or the cgroup v2 root) */
	char marker[320];     /* PF_LOCK_ROOT/IFACE.ofl: the cgroup, for
			       * `preflightd detach` after a crash */
	char dir[256];        /* the pin directory */
	int rules_fd;         /* pf_ofl_rules (after load) */
	int early_fd;         /* pf_ofl_early (after attach) */
	int held_fd;          /* pf_ofl_held (after attach) */
	int socks_fd;         /* pf_ofl_socks (after attach) */
	__u64 last_gc;        /* pf_ofl_gc's last pass (CLOCK_MONOTONIC ns) */
};

/* Before load: size the socket map, reuse the pinned offload maps of a
 * dead instance on pin's interface if there are any, and load the
 * offload's programs if want (--cgroup, or responses: true in the
 * policy), shadow (run --shadow: the recorder and the egress reader, no
 * SK_MSG) or there was such an instance (o->wanted then says to attach).
 * Returns 0 or -errno (message printed). */
int pf_ofl_prepare(struct pf_ofl *o, const struct pf_pin *pin,
		   struct preflightd_bpf *skel, unsigned max_flows, bool want, bool shadow);

/* Is path a cgroup v2 directory (what --cgroup must name)? 0, or -errno
 * (-EINVAL: something else) with a message. */
int pf_ofl_cgroup_check(const char *path);

/* The cgroup v2 mount point (the root cgroup) into buf. 0 or -ENOENT. */
int pf_ofl_cgroup_root(char *buf, size_t n);

/* After load and pinning: attach the SK_MSG program to the socket map
 * and the sockops program to cgroup (multi-attach; a dead instance's
 * program on that cgroup is replaced atomically), pin the offload maps
 * and turn recording on. Returns 0 or -errno (message printed). */
int pf_ofl_attach(struct pf_ofl *o, struct preflightd_bpf *skel, const char *cgroup);

/* Write c's response settings into its slot of the pf_ofl_rules map at
 * rules_fd (before the slot becomes active). Returns 0 or -errno (message
 * printed). */
int pf_ofl_install(int rules_fd, const struct pf_compiled *c);

/* The PF_MAX_RULES response settings of a slot of pf_ofl_rules: read
 * into r, or written from r. Return 0 or -errno (message printed). */
int pf_ofl_slot_get(int rules_fd, __u32 slot, struct pf_ofl_rule *r);
int pf_ofl_slot_set(int rules_fd, __u32 slot, const struct pf_ofl_rule *r);

/* Remove pf_ofl_early entries no socket claimed, at most once a second
 * (now_ns: CLOCK_MONOTONIC). Nothing before the offload is attached. */
void pf_ofl_gc(struct pf_ofl *o, __u64 now_ns);

/* Stop: cover no new socket, hold no bytes back; wait for held heads to
 * go out (at most a few seconds; connections still holding one are
 * reset), detach both programs, release every covered socket, unpin.
 * Safe when never attached. */
void pf_ofl_detach(struct pf_ofl *o, struct preflightd_bpf *skel);

/* `preflightd detach`: the same for a dead instance (and the programs
 * every restart left on covered sockets), from its pins in pin_dir and
 * the marker of iface. Returns the number of programs removed (0 if the
 * instance had no offload). */
int pf_ofl_detach_stale(const char *pin_dir, const char *iface);

#endif /* PF_OFFLOAD_USER_H */
