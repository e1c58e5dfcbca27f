/* gc.c -- flow-table garbage collection: one sock_diag dump matched
 * against the whole table per pass, in the daemon's GC thread (see gc.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "clock.h"
#include "gc.h"
#include "mapbatch.h"
#include "pf_gc.skel.h"
#include "sockdiag.h"
#include "log.h"

#define GC_BATCH        PF_GC_CHUNK              /* entries per batch read */
/* a batch's dead entries go to the program in one run (pf_gc_delete) */
_Static_assert(GC_BATCH <= PF_GC_CHUNK, "a batch must fit the program's array");
#define GC_IDLE_NS      30000000000ull           /* check entries idle 30 s */
#define GC_PERIOD_NS    1000000000ull            /* a pass every second, */
#define GC_DUTY         4                        /* ... or 4x its duration */
#define GC_DRAIN_NS     200000000ull             /* ... every 200 ms draining */
#define GC_TW_HOLD_NS   5000000000ull            /* a TIME_WAIT holds a splice
						  * while it has traffic (sock_holds) */
#define GC_MISS_MAX     3                        /* passes in a row that miss a
						  * socket free its entry, changed
						  * or not (see gc.h) */
_Static_assert(GC_MISS_MAX >= 2, "one miss is no proof (see gc.h)");

/* The sockets of one dump, as flow keys with what was found (SOCK_*):
 * open addressing, linear probing, at most half full. */
#define SOCK_LIVE 1   /* a socket that can still exchange data */
#define SOCK_TW   2   /* a TIME_WAIT one */
struct sockset {
	struct pf_flow_key *k;
	__u8 *used;
	size_t cap, n;
};

/* A 64-bit hash of the n bytes at p (n a multiple of 8). */
static __u64 words_hash(const void *p, size_t n)
{
	__u64 w, h = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < n; i += 8) {
		memcpy(&w, (const char *)p + i, 8);
		h ^= w;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}
_Static_assert(sizeof(struct pf_flow_key) % 8 == 0 && sizeof(struct pf_gc_cand) % 8 == 0,
	       "words_hash hashes whole words");

static __u64 key_hash(const struct pf_flow_key *k)
{
	return words_hash(k, sizeof(*k));
}

/* Slot of k in s: where it is, or the free slot where it goes. */
static size_t set_slot(const struct sockset *s, const struct pf_flow_key *k)
{
	size_t i = key_hash(k) & (s->cap - 1);

	while (s->used[i] && memcmp(&s->k[i], k, sizeof(*k)))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int set_grow(struct sockset *s)
{
	struct sockset b = { .cap = s->cap ? 2 * s->cap : 1024 };
	size_t i, j;

	b.k = malloc(b.cap * sizeof(*b.k));
	b.used = calloc(b.cap, 1);
	if (!b.k || !b.used) {
		free(b.k);
		free(b.used);
		return -ENOMEM;
	}
	for (i = 0; i < s->cap; i++) {
		if (!s->used[i])
			continue;
		j = set_slot(&b, &s->k[i]);
		b.k[j] = s->k[i];
		b.used[j] = s->used[i];
	}
	b.n = s->n;
	free(s->k);
	free(s->used);
	*s = b;
	return 0;
}

/* pf_diag_cb: add k to the set (ctx), or what it is to k's flags. */
static int set_add(void *ctx, const struct pf_flow_key *k, bool timewait)
{
	struct sockset *s = ctx;
	size_t i;

	if (2 * (s->n + 1) > s->cap && set_grow(s))
		return -ENOMEM;
	i = set_slot(s, k);
	if (!s->used[i]) {
		s->k[i] = *k;
		s->n++;
	}
	s->used[i] |= timewait ? SOCK_TW : SOCK_LIVE;
	return 0;
}

/* What the dump found for k: SOCK_* bits, 0 for nothing. */
static __u8 set_get(const struct sockset *s, const struct pf_flow_key *k)
{
	return s->cap ? s->used[set_slot(s, k)] : 0;
}

/* Does the dump hold v's connection (now_ns: the pass's clock)? A
 * socket that can still exchange data, or a TIME_WAIT one if v carries
 * a splice and saw a packet in the last GC_TW_HOLD_NS: the client's FIN
 * retransmitted after a lost last ACK reaches the TIME_WAIT socket,
 * whose ACK (socket seq space) the client takes only translated;
 * untranslated, the client would stay in LAST_ACK retransmitting. Each
 * retransmission and its ACK refresh last_ns, and the next comes one
 * client RTO later (doubling from 200 ms at least: five losses in a row
 * at the minimum); past that the entry goes, so connections the server
 * closes first do not hold the table for the TIME_WAIT's 60 s. */
static bool sock_holds(const struct sockset *s, const struct pf_flow_key *k,
		       const struct pf_flow *v, __u64 now_ns)
{
	__u8 f = set_get(s, k);

	return (f & SOCK_LIVE) ||
	       ((f & SOCK_TW) && v->splices && now_ns - v->last_ns < GC_TW_HOLD_NS);
}

/* The hash of c's key and gen (struct pf_gc_miss's kg). */
static __u64 kg_hash(const struct pf_gc_cand *c)
{
	struct pf_gc_cand kg = *c;

	kg.last_ns = 0;
	return words_hash(&kg, sizeof(kg));
}

/* Order of d->missed: by kg. */
static int miss_cmp(const void *a, const void *b)
{
	__u64 x = ((const struct pf_gc_miss *)a)->kg, y = ((const struct pf_gc_miss *)b)->kg;

	return x < y ? -1 : x > y;
}

/* d's previous pass's miss of c's key and gen (kg: its hash), or NULL. */
static const struct pf_gc_miss *miss_of(const struct pf_gc_del *d, __u64 kg)
{
	struct pf_gc_miss m = { .kg = kg };

	return d->n_missed ? bsearch(&m, d->missed, d->n_missed, sizeof(m), miss_cmp) : NULL;
}

/* Append m to the list (*l, *n, *cap). */
static int list_add(struct pf_gc_miss **l, size_t *n, size_t *cap, struct pf_gc_miss m)
{
	struct pf_gc_miss *p;

	if (*n == *cap) {
		p = realloc(*l, (*cap ? 2 * *cap : 1024) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*l = p;
		*cap = *cap ? 2 * *cap : 1024;
	}
	(*l)[(*n)++] = m;
	return 0;
}

/* Unload d's program, if loaded; its misses stay. */
static void del_unload(struct pf_gc_del *d)
{
	pf_gc_bpf__destroy(d->skel);
	d->skel = NULL;
}

/* See gc.h. */
void pf_gc_del_close(struct pf_gc_del *d)
{
	del_unload(d);
	free(d->missed);
	d->missed = NULL;
	d->n_missed = 0;
}

/* See gc.h. */
int pf_gc_del_open(struct pf_gc_del *d)
{
	static bool warned;
	int err;

	d->user = false;
	d->skel = pf_gc_bpf__open();
	err = d->skel ? 0 : -errno;
	if (!err)
		err = bpf_map__reuse_fd(d->skel->maps.pf_flows, d->fd);
	if (!err)
		err = pf_gc_bpf__load(d->skel);
	if (!err)
		return 0;
	del_unload(d);
	d->user = true;
	if (!warned) {
		warned = true;
		pr_warn("gc: load the conditional delete: %s (deleting from userspace)",
			strerror(-err));
	}
	return err;
}

/* Userspace fallback: re-read each entry right before deleting it. The
 * window between the look-up and the delete is a syscall boundary (and
 * whatever preempts this thread there): narrower than a batch, not closed. */
static __u64 gc_del_user(int fd, const struct pf_gc_cand *c, __u32 n, __u64 *changed)
{
	struct pf_flow v;
	__u64 gone = 0;
	__u32 i;

	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &c[i].key, &v))
			continue;
		if (v.gen != c[i].gen || v.last_ns != c[i].last_ns)
			(*changed)++;
		else if (!bpf_map_delete_elem(fd, &c[i].key))
			gone++;
	}
	return gone;
}

/* One run of d's program over n <= PF_GC_CHUNK candidates (see
 * pf_gc_delete); d is loaded or set to userspace deletes already. */
static __u64 gc_del_chunk(struct pf_gc_del *d, const struct pf_gc_cand *c, __u32 n,
			  __u64 *changed)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct pf_gc_bpf__bss *b;

	if (d->user)
		return gc_del_user(d->fd, c, n, changed);
	b = d->skel->bss;
	memcpy(b->pf_gc_cands, c, n * sizeof(*c));
	b->pf_gc_n = n;
	if (bpf_prog_test_run_opts(bpf_program__fd(d->skel->progs.pf_gc_delete), &opts)) {
		/* from userspace from now on: one warning, not one per chunk
		 * and pass; what the run deleted is gone at the look-up */
		pr_warn("gc: run the conditional delete: %s (deleting from userspace)",
			strerror(errno));
		del_unload(d);
		d->user = true;
		return gc_del_user(d->fd, c, n, changed);
	}
	*changed += b->pf_gc_changed;
	return b->pf_gc_deleted;
}

/* See gc.h. */
__u64 pf_gc_delete(struct pf_gc_del *d, const struct pf_gc_cand *c, __u32 n, __u64 *changed)
{
	__u64 gone = 0;
	__u32 m;

	if (n && !d->skel && !d->user)
		pf_gc_del_open(d);
	for (; n; n -= m, c += m) {
		m = n < PF_GC_CHUNK ? n : PF_GC_CHUNK;
		gone += gc_del_chunk(d, c, m, changed);
	}
	return gone;
}

/* See gc.h. */
int pf_gc_pass(struct pf_gc_del *del, const __u64 *ports, __u64 now_ns, __u64 min_idle_ns,
	       const volatile int *stop, struct pf_gc_result *res)
{
	int fd = del->fd;
	struct pf_flow_key *keys = malloc(GC_BATCH * sizeof(*keys));
	struct pf_gc_cand *dead = malloc(GC_BATCH * sizeof(*dead));
	struct pf_flow *vals = malloc(GC_BATCH * sizeof(*vals));
	struct sockset set = {};
	const struct pf_gc_miss *was;
	struct pf_gc_miss *missed = NULL;
	size_t n_missed = 0, cap_missed = 0;
	struct pf_gc_cand c;
	struct pf_mapbatch b;
	__u32 n, i, ndead, run;
	__u64 kg;
	__u64 gone;
	int err;

	memset(res, 0, sizeof(*res));
	err = -ENOMEM;
	if (!keys || !dead || !vals || set_grow(&set))
		goto out;
	err = pf_diag_dump(ports, set_add, &set);
	if (err)
		goto out;
	res->sockets = set.n;
	pf_mapbatch_init(&b, fd);
	while (b.more && !(stop && *stop)) {
		n = GC_BATCH;
		err = pf_mapbatch_next(&b, keys, vals, &n);
		if (err) {
			pr_warn("gc: read the flow table: %s", strerror(-err));
			goto out;
		}
		for (i = 0, ndead = 0; i < n; i++) {
			const struct pf_flow *v = &vals[i];
			/* active since the dump began, or recently: alive */
			bool keep = v->last_ns >= now_ns ||
				    (!v->fin && now_ns - v->last_ns < min_idle_ns);

			res->entries++;
			if (!keep) {
				res->checked++;
				keep = sock_holds(&set, &keys[i], v, now_ns);
			}
			c = (struct pf_gc_cand){
				.key = keys[i], .gen = v->gen, .last_ns = v->last_ns,
			};
			/* a dump can skip a live socket (see gc.h): gone only
			 * if the previous pass missed it too, unchanged -- or
			 * the GC_MISS_MAX - 1 passes before this one missed
			 * it, changed or not (packets to a connection that
			 * has ended, kept coming, refresh last_ns) */
			if (!keep) {
				kg = kg_hash(&c);
				was = miss_of(del, kg);
				run = was ? (__u32)was->run + 1 : 1;
				if (!(was && was->last_ns == c.last_ns) && run < GC_MISS_MAX) {
					keep = true;
					res->missed++;
					err = list_add(&missed, &n_missed, &cap_missed,
						       (struct pf_gc_miss){ kg, c.last_ns, run });
					if (err)
						goto out;
				}
			}
			if (keep)
				res->live += v->splices > 0;
			else
				dead[ndead++] = c;
		}
		/* only entries still as read: one the datapath replaced since
		 * (a new connection on the tuple, see pf_gc.bpf.c) stays */
		gone = pf_gc_delete(del, dead, ndead, &res->replaced);
		res->freed += gone;
		res->entries -= gone;
	}
out:
	/* the next pass confirms this one's misses (an error or a stop:
	 * those found so far; the others start again) */
	if (missed)
		qsort(missed, n_missed, sizeof(*missed), miss_cmp);
	free(del->missed);
	del->missed = missed;
	del->n_missed = n_missed;
	free(set.k);
	free(set.used);
	free(keys);
	free(dead);
	free(vals);
	return err;
}

/* See gc.h. */
int pf_gc_flows(struct pf_gc_del *del, __u64 now_ns, __u64 min_idle_ns, unsigned *freed)
{
	struct pf_gc_result r;
	int err = pf_gc_pass(del, NULL, now_ns, min_idle_ns, NULL, &r);

	*freed = (unsigned)r.freed;
	return err ? err : (int)r.live;
}

/* Format key as "client -> server" into buf. */
static void key_str(const struct pf_flow_key *k, char *buf, size_t n)
{
	char c[INET6_ADDRSTRLEN], sv[INET6_ADDRSTRLEN];
	int af = k->family == 6 ? AF_INET6 : AF_INET;

	inet_ntop(af, k->caddr, c, sizeof(c));
	inet_ntop(af, k->saddr, sv, sizeof(sv));
	snprintf(buf, n, af == AF_INET6 ? "[%s]:%u -> [%s]:%u" : "%s:%u -> %s:%u",
		 c, ntohs(k->cport), sv, ntohs(k->sport));
}

/* See gc.h. */
int pf_gc_reset_all(int fd)
{
	struct pf_flow_key key, next;
	struct pf_flow val;
	char name[128];
	int more, n = 0, err, nl;

	nl = pf_diag_open();
	if (nl < 0) {
		pr_warn("drain timeout: sock_diag: %s", strerror(-nl));
		return 0;
	}
	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(fd, &key, &next);
		/* never spliced: nothing to translate, the stack serves it */
		if (bpf_map_lookup_elem(fd, &key, &val) || !val.splices) {
			key = next;
			continue;
		}
		key_str(&key, name, sizeof(name));
		err = pf_diag_destroy(nl, &key);
		if (!err || err == -ENOENT) {
			if (!err) {
				pr_warn("drain timeout: reset %s", name);
				n++;
			}
			bpf_map_delete_elem(fd, &key);
		} else {
			pr_warn("drain timeout: reset %s: %s", name, strerror(-err));
		}
		key = next;
	}
	close(nl);
	return n;
}

/* The GC thread until stopped: a pass every GC_PERIOD_NS, or GC_DUTY
 * times the last one's duration if longer (a big table costs at most a
 * quarter of a core; an entry waits GC_IDLE_NS idle anyway); draining,
 * one at once and then every GC_DRAIN_NS. */
static void *gc_main(void *arg)
{
	struct pf_gc *g = arg;
	struct pf_gc_del del = { .fd = g->flows_fd };
	__u64 ports[1024], t0, took, next = 0, min_idle;
	struct pf_gc_result r;
	struct timespec until;
	unsigned req;
	int err;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		t0 = pf_mono_ns();
		if (t0 < next && g->drain_done == g->drain_req) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += (long)(next - t0);
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&g->cond, &g->mu, &until);
			continue;
		}
		req = g->drain_req;
		min_idle = g->draining ? 0 : GC_IDLE_NS;
		pthread_mutex_unlock(&g->mu);

		memcpy(ports, g->ports, sizeof(ports));
		err = pf_gc_pass(&del, ports, t0, min_idle, &g->stop, &r);
		if (!err && r.freed)
			pr_debug("gc: freed %llu ended flows, %llu left (%llu spliced), %llu changed since read",
				 (unsigned long long)r.freed, (unsigned long long)r.entries,
				 (unsigned long long)r.live, (unsigned long long)r.replaced);

		pthread_mutex_lock(&g->mu);
		took = pf_mono_ns() - t0;
		if (g->draining)
			next = t0 + took + GC_DRAIN_NS;
		else
			next = t0 + (GC_DUTY * took > GC_PERIOD_NS ? GC_DUTY * took : GC_PERIOD_NS);
		if (!err && !g->stop) {
			g->pub.last = r;
			g->pub.passes++;
			g->pub.pass_ns = took;
			g->pub.replaced += r.replaced;
			g->drain_done = req;
			__atomic_add_fetch(&g->cfg->flows_freed, r.freed, __ATOMIC_RELAXED);
			/* for `preflightd stats`: the count, then that there is one */
			__atomic_store_n(&g->cfg->gc_entries, r.entries, __ATOMIC_RELAXED);
			__atomic_store_n(&g->cfg->gc_passes, g->pub.passes, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&g->mu);
	pf_gc_del_close(&del);
	return NULL;
}

/* See gc.h. */
int pf_gc_start(struct pf_gc *g, int flows_fd, const __u64 *ports, struct pf_config *cfg)
{
	pthread_condattr_t ca;
	int err;

	memset(g, 0, sizeof(*g));
	g->flows_fd = flows_fd;
	g->ports = ports;
	g->cfg = cfg;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	g->inited = true;
	err = pthread_create(&g->thread, NULL, gc_main, g);
	if (err) {
		pr_warn("gc: start thread: %s", strerror(err));
		return -err;
	}
	pthread_setname_np(g->thread, "pf-gc");
	g->started = true;
	return 0;
}

/* See gc.h. */
void pf_gc_drain(struct pf_gc *g)
{
	pthread_mutex_lock(&g->mu);
	g->draining = true;
	g->drain_req++;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->mu);
}

/* See gc.h. */
bool pf_gc_drained(struct pf_gc *g, __u64 *live)
{
	bool done;

	pthread_mutex_lock(&g->mu);
	done = g->drain_req && g->drain_done == g->drain_req;
	*live = g->pub.last.live;
	pthread_mutex_unlock(&g->mu);
	return done;
}

/* See gc.h. */
void pf_gc_get(struct pf_gc *g, struct pf_gc_stats *st)
{
	pthread_mutex_lock(&g->mu);
	*st = g->pub;
	pthread_mutex_unlock(&g->mu);
}

/* See gc.h. */
void pf_gc_stop(struct pf_gc *g)
{
	if (!g->started)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	g->started = false;
}

/* See gc.h. */
void pf_gc_free(struct pf_gc *g)
{
	pf_gc_stop(g);
	if (!g->inited)
		return;
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->mu);
	g->inited = false;
}
