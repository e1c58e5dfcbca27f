/* verifstats.c -- the kernel verifier's work per program of the production object (start-up time). */
/*
 *   verifstats [--runs R] [--prog NAME]... [--xdp-meta yes|no]
 *              [--flow-lock plain] [--may-goto no]
 *              [--lines N [--func F] [--log FILE]]
 *
 * Loads each program of build/preflightd.bpf.o (its skeleton, as
 * `preflightd run` opens it: maps at their defaults, which the verifier
 * does not look at) alone -- every other program's autoload off -- R times
 * (default 5), the programs taking turns, with kernel_log_level
 * BPF_LOG_STATS. Per program (default: all of the object's) one line:
 *   VERIF {"prog":"pf_tc_ingress","insns":N,"total_states":N,
 *          "peak_states":N,"max_states_per_insn":N,"stack_depth":"..",
 *          "verif_ms":X,"verif_all_ms":"a/b/..","load_ms":X,"runs":R}
 * insns: the verifier's processed instructions (deterministic for one
 * build and kernel); verif_ms: the median of its own "verification time",
 * load_ms: the median wall time of the whole load (maps created too).
 *
 * --lines N: one more load per program at log level 2 (every processed
 * instruction and its state -- level 1 keeps only the failing path --,
 * with the BTF line info of the source) and the N source
 * lines the verifier walked most (processed instructions per line),
 * after the processed instructions of each function (BPF-to-BPF,
 * callback or global; inlined code counts in its caller):
 *   FUNC prog count function entered E stack S
 * (E: walks of its first instruction; S: its frame, bytes)
 *   LINE prog count file:line source
 * (--func F: the lines of function F's instructions only; --log FILE:
 * the level-2 log itself, for reading which states a walk repeats:
 * "from A to B: <state>" where a branch's other side is taken up,
 * "N: safe" where a state was pruned -- one program per FILE, so use
 * it with one --prog, which --log requires.)
 * Which code the walk repeats is what to cut (tests/README.md, "The
 * verifier's walk").
 *
 * --xdp-meta: the object's variant for a kernel that lets XDP call
 * bpf_xdp_adjust_meta (yes) or not (no), rather than this kernel's (as
 * `run` loads it): each kernel's datapath is verified on any machine --
 * yes on a kernel that refuses the helper with its calls left out
 * (pf_xdp_meta_stub, bpf/pf_ctx.h). `make bpftest` loads both.
 *
 * --flow-lock plain: the flow entry's lock as on a kernel without
 * bpf_res_spin_lock (before 6.15: bpf_spin_lock, user/kfeat.h), rather
 * than this kernel's. `make bpftest` loads both.
 *
 * --may-goto no: the object as on a kernel without may_goto (before 6.9:
 * its bpf_loop callbacks, the instruction rewritten, user/kfeat.h),
 * rather than this kernel's. `make bpftest` loads both.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "kfeat.h"
#include "skel.h"

/* --xdp-meta: -1 this kernel's variant, 1 or 0 the one named */
static int xdp_meta = -1;
/* --flow-lock plain: bpf_spin_lock on any kernel */
static bool plain_lock;
/* --may-goto no: the bpf_loop variant on any kernel */
static bool no_may_goto;

#define MAX_PROGS   16
#define MAX_RUNS    64
#define STATS_LOG   (64 * 1024)
#define LINES_LOG   (1023u * 1024 * 1024)  /* level 2: ~1 KiB a processed insn;
					    * the kernel takes < 1 GiB */

struct prog_res {
	const char *name;
	unsigned insns, total_states, peak_states, max_states;
	char stack[64];
	double verif_ms[MAX_RUNS], load_ms[MAX_RUNS];
};

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, unsigned n)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Open the skeleton with only program name to load, its verifier log at
 * level into log (size bytes). NULL (message printed) on error. */
static struct preflightd_bpf *open_one(const char *name, char *log, size_t size,
				       __u32 level)
{
	struct preflightd_bpf *skel;
	struct bpf_program *p, *want = NULL;
	int err;

	err = pf_kfeat_may_goto(no_may_goto);
	if (err < 0) {
		fprintf(stderr, "verifstats: probe may_goto: %s\n", strerror(-err));
		return NULL;
	}
	skel = PF_KFEAT_OPEN(preflightd_bpf, err);
	if (!skel) {
		fprintf(stderr, "verifstats: open BPF object: %s\n", strerror(errno));
		return NULL;
	}
	err = pf_kfeat_xdp_meta(); /* as `run` loads it */
	if (err < 0) {
		fprintf(stderr, "verifstats: probe bpf_xdp_adjust_meta: %s\n", strerror(-err));
		preflightd_bpf__destroy(skel);
		return NULL;
	}
	skel->rodata->pf_xdp_no_meta = xdp_meta < 0 ? !err : !xdp_meta;
	skel->rodata->pf_xdp_meta_stub = xdp_meta == 1 && !err;
	err = pf_kfeat_flow_lock(skel->obj, plain_lock);
	if (err < 0) {
		fprintf(stderr, "verifstats: probe bpf_res_spin_lock: %s\n", strerror(-err));
		preflightd_bpf__destroy(skel);
		return NULL;
	}
	skel->rodata->pf_flow_lock_plain = err;
	bpf_object__for_each_program(p, skel->obj) {
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), name));
		if (!strcmp(bpf_program__name(p), name))
			want = p;
	}
	err = want ? bpf_program__set_log_buf(want, log, size) : -ENOENT;
	if (!err)
		err = bpf_program__set_log_level(want, level);
	if (err) {
		fprintf(stderr, "verifstats: program %s: %s\n", name, strerror(-err));
		preflightd_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* One load of r->name: its stats into r, times into run i. 0 or -errno. */
static int load_stats(struct prog_res *r, unsigned i, char *log)
{
	struct preflightd_bpf *skel;
	const char *s;
	unsigned long long us = 0;
	double t0, t1;
	int err;

	log[0] = 0;
	skel = open_one(r->name, log, STATS_LOG, 4 /* BPF_LOG_STATS */);
	if (!skel)
		return -EINVAL;
	t0 = pf_mono_ns() / 1e6;
	err = preflightd_bpf__load(skel);
	t1 = pf_mono_ns() / 1e6;
	preflightd_bpf__destroy(skel);
	if (err) {
		fprintf(stderr, "verifstats: load %s: %s\n%s", r->name, strerror(-err), log);
		return err;
	}
	s = strstr(log, "verification time ");
	if (!s || sscanf(s, "verification time %llu usec", &us) != 1)
		goto bad;
	s = strstr(log, "stack depth ");
	if (s && sscanf(s, "stack depth %63[0-9+]", r->stack) != 1)
		r->stack[0] = 0;
	s = strstr(log, "processed ");
	if (!s || sscanf(s, "processed %u insns (limit %*u) max_states_per_insn %u "
			 "total_states %u peak_states %u", &r->insns, &r->max_states,
			 &r->total_states, &r->peak_states) != 4)
		goto bad;
	r->verif_ms[i] = us / 1e3;
	r->load_ms[i] = t1 - t0;
	return 0;
bad:
	fprintf(stderr, "verifstats: %s: no statistics in the verifier log:\n%s", r->name, log);
	return -EINVAL;
}

struct line_cnt {
	char *key;       /* "file:line source" */
	size_t klen;     /* of its "file:line" */
	unsigned long n;
};

static int cmp_cnt(const void *a, const void *b)
{
	const struct line_cnt *x = a, *y = b;

	return (x->n < y->n) - (x->n > y->n);
}

#define LINES_HASH 65536u  /* more than the object's source lines */

struct func_cnt {
	unsigned start;  /* first instruction (as loaded, before rewrites) */
	const char *name;
	unsigned long n;
	unsigned long entered;  /* its first instruction's walks */
	unsigned stack;         /* its frame (bytes) */
};

static int cmp_start(const void *a, const void *b)
{
	const struct func_cnt *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static int cmp_fn(const void *a, const void *b)
{
	const struct func_cnt *x = a, *y = b;

	return (x->n < y->n) - (x->n > y->n);
}

/* The functions of prog (its fd loaded): their first instructions (the
 * targets of BPF-to-BPF calls and callback references) in f, names from
 * the kernel's func_info (the same order). Returns how many, 0 on error. */
static unsigned prog_funcs(const struct bpf_program *prog, struct func_cnt *f, unsigned max,
			   struct btf **btfp)
{
	const struct bpf_insn *in = bpf_program__insns(prog);
	size_t ni = bpf_program__insn_cnt(prog), i;
	struct bpf_func_info fi[256];
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), k, nf = 1;
	const struct btf_type *t;

	f[0].start = 0;
	for (i = 0; in && i < ni; i++) {
		unsigned to = (unsigned)(i + in[i].imm + 1), j;

		if (!((in[i].code == (BPF_JMP | BPF_CALL) && in[i].src_reg == BPF_PSEUDO_CALL) ||
		      (in[i].code == (BPF_LD | BPF_IMM | BPF_DW) &&
		       in[i].src_reg == BPF_PSEUDO_FUNC)))
			continue;
		for (j = 0; j < nf && f[j].start != to; j++)
			;
		if (j == nf && nf < max)
			f[nf++].start = to;
	}
	qsort(f, nf, sizeof(*f), cmp_start);
	info.nr_func_info = sizeof(fi) / sizeof(fi[0]);
	info.func_info_rec_size = sizeof(fi[0]);
	info.func_info = (__u64)(unsigned long)fi;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ||
	    info.nr_func_info != nf)
		return nf;  /* unnamed */
	*btfp = btf__load_from_kernel_by_id(info.btf_id);
	for (k = 0; *btfp && k < nf; k++) {
		t = btf__type_by_id(*btfp, fi[k].type_id);
		f[k].name = t ? btf__name_by_offset(*btfp, t->name_off) : NULL;
	}
	return nf;
}

/* Where the verifier's walk of name goes: processed instructions per
 * function (FUNC lines, all) and per source line (LINE, the n most). */
static int walk_report(const char *name, unsigned n, const char *only, const char *keep)
{
	struct line_cnt *c;
	struct func_cnt f[256] = {};
	struct preflightd_bpf *skel;
	struct btf *btf = NULL;
	char *log, *p, *e, *at;
	size_t k, nc = 0, flen;
	unsigned nf = 0, idx, lo, hi;
	long cur = -1;
	unsigned long h;
	int err;

	log = malloc(LINES_LOG);
	c = calloc(LINES_HASH, sizeof(*c));
	if (!log || !c) {
		fprintf(stderr, "verifstats: log buffer: %s\n", strerror(ENOMEM));
		free(log);
		free(c);
		return -ENOMEM;
	}
	log[0] = 0;
	skel = open_one(name, log, LINES_LOG, 2 | 4 /* BPF_LOG_STATS */);
	err = skel ? preflightd_bpf__load(skel) : -EINVAL;
	if (!err)
		nf = prog_funcs(bpf_object__find_program_by_name(skel->obj, name), f,
				sizeof(f) / sizeof(f[0]), &btf);
	preflightd_bpf__destroy(skel);
	if (keep) {
		FILE *kf = fopen(keep, "w");
		int werr = kf ? 0 : errno;

		if (kf && fputs(log, kf) < 0)
			werr = errno;
		if (kf && fclose(kf) && !werr)
			werr = errno;
		if (werr) {
			fprintf(stderr, "verifstats: write %s: %s\n", keep, strerror(werr));
			if (!err) {
				err = -werr;
				goto out;
			}
		}
	}
	if (err) {
		fprintf(stderr, "verifstats: load %s at log level 2: %s\n", name, strerror(-err));
		goto out;
	}
	/* "; source @ file:line" names the line of the instructions that
	 * follow, "N: (op) ..." is one processed instruction */
	for (p = log; *p; p = e + (*e != 0)) {
		e = strchrnul(p, '\n');
		if (*p >= '0' && *p <= '9') {
			if (!memmem(p, e - p, ": (", 3))
				continue;
			/* its function: the last one starting at or before it */
			idx = (unsigned)strtoul(p, NULL, 10);
			for (lo = 0, hi = nf; hi - lo > 1;)
				if (f[(lo + hi) / 2].start <= idx)
					lo = (lo + hi) / 2;
				else
					hi = (lo + hi) / 2;
			if (nf) {
				f[lo].n++;
				f[lo].entered += idx == f[lo].start;
			}
			if (cur >= 0 && (!only || (nf && f[lo].name && !strcmp(f[lo].name, only))))
				c[cur].n++;
			continue;
		}
		if (*p != ';' || !(at = memmem(p, e - p, " @ ", 3)))
			continue;
		flen = e - at - 3;
		for (h = 5381, k = 0; k < flen; k++)
			h = h * 33 + (unsigned char)at[3 + k];
		for (k = h % LINES_HASH; c[k].key; k = (k + 1) % LINES_HASH)
			if (c[k].klen == flen && !memcmp(c[k].key, at + 3, flen))
				break;
		if (!c[k].key) {
			if (++nc == LINES_HASH / 2)
				break;  /* (never: a few thousand lines) */
			if (asprintf(&c[k].key, "%.*s %.*s", (int)flen, at + 3,
				     (int)(at - p - 2), p + 2) < 0)
				abort();
			c[k].klen = flen;
		}
		cur = (long)k;
	}
	/* "stack depth a+b+..": the frames in function order */
	at = strstr(log, "stack depth ");
	for (p = at ? at + 12 : NULL, k = 0; p && k < nf; k++, p++) {
		f[k].stack = (unsigned)strtoul(p, &p, 10);
		if (*p != '+')
			break;
	}
	qsort(f, nf, sizeof(*f), cmp_fn);
	for (k = 0; k < nf && f[k].n; k++)
		printf("FUNC %s %lu %s entered %lu stack %u start %u\n", name, f[k].n,
		       f[k].name ? f[k].name : "?", f[k].entered, f[k].stack, f[k].start);
	qsort(c, LINES_HASH, sizeof(*c), cmp_cnt);
	for (k = 0; k < LINES_HASH && k < n && c[k].n; k++)
		printf("LINE %s %lu %s\n", name, c[k].n, c[k].key);
out:
	btf__free(btf);
	for (k = 0; k < LINES_HASH; k++)
		free(c[k].key);
	free(c);
	free(log);
	return err;
}

static int usage(void)
{
	fprintf(stderr, "usage: verifstats [--runs R] [--prog NAME]... [--xdp-meta yes|no] "
		"[--flow-lock plain] [--may-goto no] [--lines N [--func F] [--log FILE]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "prog", required_argument, NULL, 'p' },
		{ "lines", required_argument, NULL, 'l' },
		{ "func", required_argument, NULL, 'f' },
		{ "log", required_argument, NULL, 'g' },
		{ "xdp-meta", required_argument, NULL, 'm' },
		{ "flow-lock", required_argument, NULL, 'k' },
		{ "may-goto", required_argument, NULL, 'G' },
		{ 0 }
	};
	static struct prog_res res[MAX_PROGS];
	struct preflightd_bpf *skel;
	struct bpf_program *p;
	unsigned runs = 5, nres = 0, lines = 0, i, j, k;
	const char *only = NULL, *keep = NULL;
	char *log;
	int o;

	while ((o = getopt_long(argc, argv, "r:p:l:f:g:m:k:G:", lo, NULL)) != -1) {
		switch (o) {
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			if (nres == MAX_PROGS)
				return 2;
			res[nres++].name = optarg;
			break;
		case 'l':
			lines = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			only = optarg;
			break;
		case 'g':
			keep = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no"))
				return usage();
			xdp_meta = !strcmp(optarg, "yes");
			break;
		case 'k':
			if (strcmp(optarg, "plain"))
				return usage();
			plain_lock = true;
			break;
		case 'G':
			if (strcmp(optarg, "no"))
				return usage();
			no_may_goto = true;
			break;
		default:
			return usage();
		}
	}
	if (keep && (!lines || nres != 1)) {
		fprintf(stderr, "verifstats: --log: one --prog, with --lines\n");
		return 2;
	}
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "verifstats: --runs: 1 to %d\n", MAX_RUNS);
		return 2;
	}
	libbpf_set_print(quiet);
	if (!nres) {
		skel = preflightd_bpf__open();
		if (!skel) {
			fprintf(stderr, "verifstats: open BPF object: %s\n", strerror(errno));
			return 1;
		}
		bpf_object__for_each_program(p, skel->obj)
			if (nres < MAX_PROGS)
				res[nres++].name = strdup(bpf_program__name(p));
		preflightd_bpf__destroy(skel);
	}
	log = malloc(STATS_LOG);
	if (!log)
		return 1;
	/* the programs take turns: the machine's drift hits each alike */
	for (i = 0; i < runs; i++)
		for (j = 0; j < nres; j++)
			if (load_stats(&res[j], i, log))
				return 1;
	free(log);
	for (j = 0; j < nres; j++) {
		char all[MAX_RUNS * 12] = "";

		for (k = 0; k < runs; k++)
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%.0f",
				 k ? "/" : "", res[j].verif_ms[k]);
		printf("VERIF {\"prog\":\"%s\",\"insns\":%u,\"total_states\":%u,"
		       "\"peak_states\":%u,\"max_states_per_insn\":%u,\"stack_depth\":\"%s\","
		       "\"verif_ms\":%.1f,\"verif_all_ms\":\"%s\",\"load_ms\":%.1f,\"runs\":%u}\n",
		       res[j].name, res[j].insns, res[j].total_states, res[j].peak_states,
		       res[j].max_states, res[j].stack, median(res[j].verif_ms, runs), all,
		       median(res[j].load_ms, runs), runs);
	}
	for (j = 0; lines && j < nres; j++)
		if (walk_report(res[j].name, lines, only, keep))
			return 1;
	return 0;
}
