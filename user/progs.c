/* progs.c -- the skeleton's programs loaded side by side, each object
 * sharing the skeleton's maps (see progs.h). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "kfeat.h"
#include "progs.h"
#include "log.h"

/* The programs the verifier takes longest over: an object and a thread
 * each. PF_PROGS_MAX counts them. */
static const char *const alone[] = {
	"pf_tc_ingress", "pf_xdp_ingress", "pf_ofl_msg", "pf_shd_tc_out",
};
#define N_ALONE (sizeof(alone) / sizeof(alone[0]))

_Static_assert(N_ALONE + 1 == PF_PROGS_MAX,
	       "PF_PROGS_MAX: an object per program named alone, and one for the rest");

/* Point every map of obj at the same-named map of skel. */
static int reuse_maps(struct bpf_object *obj, struct preflightd_bpf *skel)
{
	struct bpf_map *m, *orig;
	int err;

	bpf_object__for_each_map(m, obj) {
		orig = bpf_object__find_map_by_name(skel->obj, bpf_map__name(m));
		if (!orig) {
			pr_warn("map %s not in the loaded object", bpf_map__name(m));
			return -ENOENT;
		}
		err = bpf_map__reuse_fd(m, bpf_map__fd(orig));
		if (err) {
			pr_warn("reuse map %s: %s", bpf_map__name(m), strerror(-err));
			return err;
		}
	}
	return 0;
}

static bool named(const char *name, const char *const *names, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* See progs.h. */
int pf_prog_open(struct preflightd_bpf *skel, const char *const *names, unsigned n,
		 struct bpf_object **objp)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oopts, .object_name = "preflightd");
	struct bpf_object *obj;
	struct bpf_program *p;
	const void *elf;
	size_t sz;
	int err;

	/* the image skel was opened from: with may_goto rewritten where the
	 * kernel lacks it (kfeat.h, pf_kfeat_open_skel) */
	elf = skel->skeleton->data;
	sz = skel->skeleton->data_sz;
	obj = bpf_object__open_mem(elf, sz, &oopts);
	err = libbpf_get_error(obj);
	if (err) {
		pr_warn("open BPF object: %s", strerror(-err));
		return err;
	}
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, named(bpf_program__name(p), names, n));
	/* the flow lock's type as skel's maps were made with it (kfeat.h:
	 * renamed in the object's BTF where the kernel lacks the kfunc) */
	err = skel->rodata->pf_flow_lock_plain ? pf_kfeat_flow_lock(obj, true) : 0;
	if (err >= 0)
		err = reuse_maps(obj, skel);
	if (err < 0) {
		bpf_object__close(obj);
		return err;
	}
	*objp = obj;
	return 0;
}

/* See progs.h. */
int pf_prog_load(struct preflightd_bpf *skel, const char *const *names, unsigned n,
		 struct bpf_object **objp)
{
	int err = pf_prog_open(skel, names, n, objp);

	if (err)
		return err;
	err = bpf_object__load(*objp);
	if (err) {
		pr_warn("load %s%s: %s", names[0], n > 1 ? " and the rest" : "", strerror(-err));
		bpf_object__close(*objp);
		*objp = NULL;
	}
	return err;
}

/* The skeleton's programs. */
#define N_PROGS (sizeof(((struct preflightd_bpf *)0)->progs) / sizeof(struct bpf_program *))

/* A block each loading thread leaves for pf_progs_trim: at least glibc's
 * FASTBIN_CONSOLIDATION_THRESHOLD (64 KiB), whose free tries to trim the
 * arena; under the pass's M_MMAP_THRESHOLD, so from the arena. */
#define PF_PROGS_TRIM_BLOCK (128u << 10)

/* One object's programs: skel's programs idx[0..n). */
struct group {
	struct preflightd_bpf *skel;
	const char *names[N_PROGS];
	unsigned idx[N_PROGS];
	unsigned n;
	struct bpf_object *obj;
	pthread_t th;
	void *trim;
	bool started;
	int err;
};

static void *group_main(void *arg)
{
	struct group *g = arg;

	g->err = pf_prog_load(g->skel, g->names, g->n, &g->obj);
	/* freed by pf_progs_trim: see progs.h */
	g->trim = malloc(PF_PROGS_TRIM_BLOCK);
	return NULL;
}

/* Keep block b (NULL: none) for pf_progs_trim; with no room, freed now
 * (its arena then trimmed under the thresholds in force). */
static void keep_block(struct pf_progs *ps, void *b)
{
	if (ps->ntrim < PF_PROGS_TRIMS)
		ps->trim[ps->ntrim++] = b;
	else
		free(b);
}

/* See progs.h. */
int pf_progs_load(struct pf_progs *ps, struct preflightd_bpf *skel)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	struct group g[PF_PROGS_MAX] = {};
	unsigned i, k, ng = 1;   /* g[0]: the programs not named alone */
	int err;

	/* one long verification at most (TC mode, or XDP mode through
	 * libxdp, without the offload): the skeleton loads its programs
	 * itself -- another object would cost its own load's work (10-25
	 * ms) and save about pf_tc_egress's 30 */
	for (i = 0, k = 0; i < (unsigned)s->prog_cnt; i++)
		k += bpf_program__autoload(*s->progs[i].prog) &&
		     named(s->progs[i].name, alone, N_ALONE);
	if (k < 2)
		return preflightd_bpf__load(skel);
	/* what the skeleton would load, grouped; it loads none of them */
	for (i = 0; i < (unsigned)s->prog_cnt && i < N_PROGS; i++) {
		struct bpf_program *p = *s->progs[i].prog;

		if (!bpf_program__autoload(p))
			continue;
		bpf_program__set_autoload(p, false);
		k = named(s->progs[i].name, alone, N_ALONE) ? ng++ : 0;
		g[k].names[g[k].n] = s->progs[i].name;
		g[k].idx[g[k].n++] = i;
	}
	err = preflightd_bpf__load(skel);   /* the maps */
	if (err)
		return err;
	pr_debug("start-up: verifying %u programs side by side in %u objects",
		 g[0].n + ng - 1, ng - !g[0].n);
	for (k = 0; k < ng; k++) {
		if (!g[k].n)
			continue;
		g[k].skel = skel;
		g[k].started = !pthread_create(&g[k].th, NULL, group_main, &g[k]);
		if (!g[k].started)
			group_main(&g[k]);   /* no thread: in line */
	}
	for (k = 0; k < ng; k++) {
		if (g[k].started)
			pthread_join(g[k].th, NULL);
		if (g[k].obj)
			ps->obj[ps->n++] = g[k].obj;
		keep_block(ps, g[k].trim);
		if (!err)
			err = g[k].err;
	}
	if (err)
		return err;
	for (k = 0; k < ng; k++)
		for (i = 0; i < g[k].n; i++)
			*s->progs[g[k].idx[i]].prog =
				bpf_object__find_program_by_name(g[k].obj, g[k].names[i]);
	return 0;
}

/* See progs.h. */
struct bpf_object *pf_progs_take(struct pf_progs *ps, struct preflightd_bpf *skel,
				 const char *name)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	struct bpf_program *p;
	struct bpf_object *obj;
	unsigned i, k;

	for (k = 0; k < ps->n; k++) {
		p = bpf_object__find_program_by_name(ps->obj[k], name);
		if (!p || bpf_program__fd(p) < 0)
			continue;
		obj = ps->obj[k];
		ps->obj[k] = ps->obj[--ps->n];
		/* skel's pointer back to its own (unloaded) program */
		for (i = 0; i < (unsigned)s->prog_cnt; i++)
			if (!strcmp(s->progs[i].name, name))
				*s->progs[i].prog = bpf_object__find_program_by_name(skel->obj, name);
		return obj;
	}
	return NULL;
}

/* See progs.h. */
void pf_progs_thread_done(struct pf_progs *ps)
{
	keep_block(ps, malloc(PF_PROGS_TRIM_BLOCK));
}

/* See progs.h. */
void pf_progs_trim(struct pf_progs *ps)
{
	while (ps->ntrim)
		free(ps->trim[--ps->ntrim]);
}

/* See progs.h. */
void pf_progs_close(struct pf_progs *ps)
{
	while (ps->n)
		bpf_object__close(ps->obj[--ps->n]);
}
