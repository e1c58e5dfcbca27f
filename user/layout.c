/* layout.c -- fingerprints of the state a restarted instance adopts (the
 * flow table, the counters) and the record of them pinned with the maps
 * ("meta"), so that state written by a build with another layout is
 * never read as this build's: see pf_pin_adopt. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "layout.h"
#include "log.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull
#define PF_FP_DEPTH 16   /* nesting a walk follows (pf_flow: 3) */

static __u64 mix(__u64 h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * FNV_PRIME;
	return h;
}

static __u64 mix32(__u64 h, __u32 v)
{
	return mix(h, &v, sizeof(v));
}

static __u64 mix_str(__u64 h, const char *s)
{
	return mix(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* Fold what gives the bytes of type id their meaning into h. */
static __u64 type_fp(const struct btf *btf, __u32 id, __u64 h, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;
	int i;

	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(btf, t->type);
	if (!t || depth > PF_FP_DEPTH)
		return mix32(h, 0xffffffffu);
	h = mix32(h, btf_kind(t));
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		h = mix32(h, t->size);
		h = mix32(h, btf_int_encoding(t));
		h = mix32(h, btf_int_bits(t));
		return mix32(h, btf_int_offset(t));
	case BTF_KIND_ARRAY:
		h = mix32(h, btf_array(t)->nelems);
		return type_fp(btf, btf_array(t)->type, h, depth + 1);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		h = mix_str(h, btf__name_by_offset(btf, t->name_off));
		h = mix32(h, t->size);
		h = mix32(h, btf_vlen(t));
		for (i = 0, m = btf_members(t); i < btf_vlen(t); i++, m++) {
			h = mix_str(h, btf__name_by_offset(btf, m->name_off));
			h = mix32(h, btf_member_bit_offset(t, i));
			h = mix32(h, btf_member_bitfield_size(t, i));
			h = type_fp(btf, m->type, h, depth + 1);
		}
		return h;
	case BTF_KIND_FWD:
		return mix_str(h, btf__name_by_offset(btf, t->name_off));
	case BTF_KIND_PTR:
		return h;
	default:          /* enums, floats: their size */
		return mix32(h, t->size);
	}
}

/* A map's definition and key/value types as a fingerprint. */
static __u64 map_fp(const struct btf *btf, __u32 type, __u32 key_size, __u32 value_size,
		    __u32 flags, __u32 key_id, __u32 value_id)
{
	__u64 h = FNV_OFFSET;

	h = mix32(h, type);
	h = mix32(h, key_size);
	h = mix32(h, value_size);
	h = mix32(h, flags);
	h = type_fp(btf, key_id, h, 0);
	h = type_fp(btf, value_id, h, 0);
	return mix32(h, PF_FLOW_EPOCH);
}

static __u64 key_fp(const struct btf *btf, __u32 key_size, __u32 key_id)
{
	return type_fp(btf, key_id, mix32(FNV_OFFSET, key_size), 0);
}

/* The counters: their map's dimensions and what each index counts. */
static __u64 stats_fp(__u32 type, __u32 value_size, __u32 entries)
{
#define PF_STAT_NAME(name, desc) #name "\0"
	static const char names[] = PF_STATS(PF_STAT_NAME);
#undef PF_STAT_NAME
	__u64 h = FNV_OFFSET;

	h = mix32(h, type);
	h = mix32(h, value_size);
	h = mix32(h, entries);
	return mix(h, names, sizeof(names));
}

int pf_layout_self(struct preflightd_bpf *skel, struct pf_layout *l)
{
	const struct btf *btf = bpf_object__btf(skel->obj);
	const struct bpf_map *f = skel->maps.pf_flows, *s = skel->maps.pf_stats;

	memset(l, 0, sizeof(*l));
	if (!btf)
		return -ENOENT;
	l->flows_fp = map_fp(btf, bpf_map__type(f), bpf_map__key_size(f),
			     bpf_map__value_size(f), bpf_map__map_flags(f),
			     bpf_map__btf_key_type_id(f), bpf_map__btf_value_type_id(f));
	l->key_fp = key_fp(btf, bpf_map__key_size(f), bpf_map__btf_key_type_id(f));
	l->stats_fp = stats_fp(bpf_map__type(s), bpf_map__value_size(s),
			       bpf_map__max_entries(s));
	l->flow_size = bpf_map__value_size(f);
	/* .bss holds pf_cfg alone (pf_maps.h) */
	l->cfg_size = bpf_map__value_size(skel->maps.bss);
	l->cfg_draining = offsetof(struct pf_config, draining);
	l->cfg_ofl_stop = offsetof(struct pf_config, ofl_stop);
	l->flows_known = l->key_known = true;
	return 0;
}

static int pinned_info(const char *dir, const char *name, struct bpf_map_info *mi)
{
	char path[320];
	__u32 len = sizeof(*mi);
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(mi, 0, sizeof(*mi));
	if (bpf_obj_get_info_by_fd(fd, mi, &len))
		err = -errno;
	close(fd);
	return err;
}

/* The meta record in dir: 0, -ENOENT (none), or -EINVAL (unreadable). */
static int read_meta(const char *dir, const char *name, struct pf_meta *m)
{
	char path[320];
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	memset(m, 0, sizeof(*m));
	if (bpf_map_lookup_elem(fd, &zero, m) || m->magic != PF_META_MAGIC ||
	    m->size < sizeof(*m))
		err = -EINVAL;
	close(fd);
	return err;
}

/* State pinned before the meta record: what the maps themselves say. */
static int legacy_layout(const char *dir, const struct pf_layout *self, struct pf_layout *l)
{
	struct bpf_map_info fi, si, ci;
	struct btf *btf;
	int err;

	err = pinned_info(dir, "flows", &fi);
	if (!err)
		err = pinned_info(dir, "stats", &si);
	if (!err)
		err = pinned_info(dir, "config", &ci);
	if (err)
		return err;
	/* the pinned counters have self's meaning if they have its
	 * dimensions: the names are not recorded */
	l->stats_fp = stats_fp(si.type, si.value_size, si.max_entries);
	l->flow_size = fi.value_size;
	l->cfg_size = ci.value_size;
	l->cfg_draining = 4;    /* struct pf_config of every build without meta */
	/* the one such build with the response offload had this build's
	 * struct pf_config without tc_seen */
	if (ci.value_size == offsetof(struct pf_config, tc_seen))
		l->cfg_ofl_stop = offsetof(struct pf_config, ofl_stop);
	/* every build without meta had this build's flow key */
	l->key_known = fi.key_size == sizeof(struct pf_flow_key);
	l->key_fp = l->key_known ? self->key_fp : 0;
	btf = fi.btf_id ? btf__load_from_kernel_by_id(fi.btf_id) : NULL;
	if (libbpf_get_error(btf)) {
		pr_debug("layout: BTF %u of the pinned flow table: %s", fi.btf_id,
			 strerror(-(int)libbpf_get_error(btf)));
		return 0;   /* needs CAP_SYS_ADMIN: flow layout unknown */
	}
	if (!btf)
		return 0;
	l->flows_fp = map_fp(btf, fi.type, fi.key_size, fi.value_size, fi.map_flags,
			     fi.btf_key_type_id, fi.btf_value_type_id);
	l->key_fp = key_fp(btf, fi.key_size, fi.btf_key_type_id);
	l->flows_known = l->key_known = true;
	btf__free(btf);
	return 0;
}

int pf_layout_pinned(const char *dir, const struct pf_layout *self, struct pf_layout *l,
		     __u32 *ifindex, bool *has_meta)
{
	struct bpf_map_info fi;
	struct pf_meta m;
	int err;

	memset(l, 0, sizeof(*l));
	*ifindex = 0;
	*has_meta = false;
	err = pinned_info(dir, "flows", &fi);
	if (err)
		return err;
	err = read_meta(dir, "meta", &m);
	if (!err && m.flows_id != fi.id) {
		pr_debug("layout: the record in %s is for flow table %u, not %u: ignored", dir,
			 m.flows_id, fi.id);
		err = -ENOENT;
	}
	if (err == -ENOENT)
		return legacy_layout(dir, self, l);
	if (err)
		return err;
	*has_meta = true;
	*ifindex = m.ifindex;
	l->flows_fp = m.flows_fp;
	l->key_fp = m.key_fp;
	l->stats_fp = m.stats_fp;
	l->flow_size = m.flow_size;
	l->cfg_size = m.cfg_size;
	l->cfg_draining = m.cfg_draining;
	l->cfg_ofl_stop = m.cfg_ofl_stop;
	l->flows_known = l->key_known = true;
	return 0;
}

/* See layout.h. */
int pf_layout_record(const char *dir, const char *name, struct pf_layout *l)
{
	struct pf_meta m;
	int err;

	memset(l, 0, sizeof(*l));
	err = read_meta(dir, name, &m);
	if (err)
		return err;
	l->cfg_size = m.cfg_size;
	l->cfg_draining = m.cfg_draining;
	l->cfg_ofl_stop = m.cfg_ofl_stop;
	return 0;
}

/* See layout.h. */
int pf_layout_set_draining(const char *dir, const char *name, const struct pf_layout *l)
{
	__u32 zero = 0, one = 1;
	char path[512];
	void *cfg;
	int fd, err = 0;

	if (l->cfg_draining + sizeof(one) > l->cfg_size)
		return -EPROTO;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	cfg = calloc(1, l->cfg_size);
	if (!cfg) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &zero, cfg)) {
		err = -errno;
		goto out;
	}
	memcpy((char *)cfg + l->cfg_draining, &one, sizeof(one));
	/* response offload of builds before the adopted pf_ofl_ctl map: hold
	 * no bytes back (builds without it: none; this build's programs read
	 * pf_ofl_ctl, which pf_ofl_detach_stale sets) */
	if (l->cfg_ofl_stop && l->cfg_ofl_stop + sizeof(one) <= l->cfg_size)
		memcpy((char *)cfg + l->cfg_ofl_stop, &one, sizeof(one));
	if (bpf_map_update_elem(fd, &zero, cfg, BPF_ANY))
		err = -errno;
out:
	free(cfg);
	close(fd);
	return err;
}

int pf_layout_pin_meta(const char *path, const struct pf_layout *l, int ifindex,
		       int flows_fd)
{
	struct bpf_map_info fi = {};
	__u32 len = sizeof(fi);
	struct pf_meta m = {
		.magic = PF_META_MAGIC,
		.size = sizeof(m),
		.ifindex = ifindex,
		.flows_fp = l->flows_fp,
		.key_fp = l->key_fp,
		.stats_fp = l->stats_fp,
		.flow_size = l->flow_size,
		.cfg_size = l->cfg_size,
		.cfg_draining = l->cfg_draining,
		.cfg_ofl_stop = l->cfg_ofl_stop,
	};
	__u32 zero = 0;
	int fd, err = 0;

	if (bpf_obj_get_info_by_fd(flows_fd, &fi, &len))
		return -errno;
	m.flows_id = fi.id;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pf_meta", sizeof(zero), sizeof(m), 1, NULL);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bpf_map_update_elem(fd, &zero, &m, BPF_ANY) || bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}
