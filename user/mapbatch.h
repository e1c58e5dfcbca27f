/* User: gc.c, maps.c, cmd_detach.c -- reading a whole BPF hash map in batches. */
/*
 * mapbatch.h -- bpf_map_lookup_batch with its resume token: a hash map is
 * read bucket by bucket, so an entry deleted behind the read does not
 * restart it (a bpf_map_get_next_key walk whose key is deleted does).
 * The loop of every reader:
 *
 *	struct pf_mapbatch b;
 *
 *	pf_mapbatch_init(&b, fd);
 *	while (b.more) {
 *		n = CHUNK;
 *		err = pf_mapbatch_next(&b, keys, vals, &n);
 *		if (err)
 *			...;
 *		(the n entries in keys, vals)
 *	}
 */
#ifndef PF_MAPBATCH_H
#define PF_MAPBATCH_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <bpf/bpf.h>

struct pf_mapbatch {
	int fd;
	bool first;           /* no token yet: from the start */
	bool more;            /* the map may hold more after the last read */
	__u64 in[8], out[8];  /* the kernel's resume token (a hash map's: a bucket) */
};

/* Start reading the map fd from its start. */
static inline void pf_mapbatch_init(struct pf_mapbatch *b, int fd)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->first = b->more = true;
}

/* The next at most *n entries into keys and vals (room for *n of each);
 * *n: how many came (possibly 0). b->more goes false at the map's end
 * (the entries of that last read are valid). Returns 0, or -errno (b->more
 * unchanged: the caller stops). */
static inline int pf_mapbatch_next(struct pf_mapbatch *b, void *keys, void *vals, __u32 *n)
{
	if (bpf_map_lookup_batch(b->fd, b->first ? NULL : b->in, b->out, keys, vals, n, NULL)) {
		if (errno != ENOENT)
			return -errno;
		b->more = false;
	}
	b->first = false;
	memcpy(b->in, b->out, sizeof(b->in));
	return 0;
}

#endif /* PF_MAPBATCH_H */
