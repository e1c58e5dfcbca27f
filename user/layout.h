/* User: the layout of the state a restarted instance adopts, and the record of it pinned with the maps. */
#ifndef PF_LAYOUT_H
#define PF_LAYOUT_H

#include <stdbool.h>
#include <linux/types.h>

struct preflightd_bpf;

/* What decides whether pinned state can be read by this build. Each
 * fingerprint is an FNV-1a hash over a canonical walk of BTF (member
 * names, offsets, sizes, kinds; typedefs and modifiers see-through) and the
 * map definition:
 *   flows: pf_flows' type, key/value sizes, flags, key and value types,
 *          and PF_FLOW_EPOCH (meaning changes without layout changes);
 *   key:   the flow key alone (enough to find a connection's socket);
 *   stats: pf_stats' type, value size, entries and the PF_STATS names. */
struct pf_layout {
	__u64 flows_fp;
	__u64 key_fp;
	__u64 stats_fp;
	__u32 flow_size;      /* bytes per flow entry (for messages) */
	__u32 cfg_size;       /* value size of the pinned config (.bss) map */
	__u32 cfg_draining;   /* offset of pf_config.draining in it */
	__u32 cfg_ofl_stop;   /* ... of pf_config.ofl_stop; 0: it has none */
	bool flows_known;     /* flows_fp could be computed */
	bool key_known;
};

/* The pinned record ("meta", an array map with one entry): written once by
 * every instance with its maps; this layout never changes (new fields go
 * at the end, readers check size). */
#define PF_META_MAGIC 0x70666d6574613031ull   /* "pfmeta01" */
struct pf_meta {
	__u64 magic;
	__u32 size;           /* sizeof(struct pf_meta) of the writer */
	__u32 ifindex;        /* the interface the state belongs to */
	__u64 flows_fp;
	__u64 key_fp;
	__u64 stats_fp;
	__u32 flow_size;
	__u32 cfg_size;
	__u32 cfg_draining;
	__u32 flows_id;       /* id of the flow table it describes: a record
			       * next to another table (pins rewritten by a
			       * build without records) is ignored */
	__u32 cfg_ofl_stop;
	__u32 pad;
};

/* This build's layout, from the skeleton's BTF. Call after open, before
 * any map is reused. Returns 0 or -errno. */
int pf_layout_self(struct preflightd_bpf *skel, struct pf_layout *l);

/* The layout of the state pinned in dir: from its meta record (*ifindex
 * set, *has_meta true), or, for state pinned before the record existed,
 * from the pinned maps (their BTF needs CAP_SYS_ADMIN: without it the flow
 * layout is unknown; the key is taken as this build's if its size
 * matches, the config as that era's). self gives what the old builds
 * shared with this one. Returns 0 or -errno (-ENOENT: no flow table). */
int pf_layout_pinned(const char *dir, const struct pf_layout *self, struct pf_layout *l,
		     __u32 *ifindex, bool *has_meta);

/* The config fields (cfg_size, cfg_draining, cfg_ofl_stop) of the record
 * pinned as name in dir ("meta", or a stager's "meta_next"); the rest of
 * l zero. Returns 0 or -errno (-ENOENT: no record there). */
int pf_layout_record(const char *dir, const char *name, struct pf_layout *l);

/* Set draining (and, for builds with it in the config, ofl_stop) in the
 * config (.bss) map pinned as name in dir, at the offsets of l: the
 * programs that read it answer no new preflight. Returns 0 or -errno
 * (-EPROTO: l puts the flag outside the map's value). */
int pf_layout_set_draining(const char *dir, const char *name, const struct pf_layout *l);

/* Pin the meta record for l, ifindex and the flow table flows_fd at path.
 * 0 or -errno. */
int pf_layout_pin_meta(const char *path, const struct pf_layout *l, int ifindex,
		       int flows_fd);

#endif /* PF_LAYOUT_H */
