/* maps.c -- install compiled policies into the BPF maps and keep the
 * datapath's clock (Date header, heartbeat) fresh. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "maps.h"
#include "mapbatch.h"
#include "acrh.h"
#include "log.h"

/* See maps.h. */
unsigned pf_maps_tokens_max(unsigned n_toks)
{
	unsigned per_slot = PF_TOKENS_HEADROOM * n_toks;

	/* each slot may hold a policy PF_TOKENS_HEADROOM times this one's
	 * size (PF_TOKENS_SLOT_MIN at least). BPF_F_NO_PREALLOC: room unused
	 * costs only its hash buckets. The origins the slow path learns go
	 * to pf_learned. */
	if (per_slot < PF_TOKENS_SLOT_MIN)
		per_slot = PF_TOKENS_SLOT_MIN;
	return 2 * per_slot;
}

/* See maps.h. */
int pf_maps_size(struct bpf_object *obj, unsigned n_toks, unsigned max_flows)
{
	struct bpf_map *tok = bpf_object__find_map_by_name(obj, "pf_tokens");
	struct bpf_map *learned = bpf_object__find_map_by_name(obj, "pf_learned");
	struct bpf_map *flows = bpf_object__find_map_by_name(obj, "pf_flows");
	int err;

	if (!tok || !learned || !flows) {
		pr_warn("size maps: %s", strerror(ENOENT));
		return -ENOENT;
	}
	err = bpf_map__set_max_entries(tok, pf_maps_tokens_max(n_toks));
	if (!err)
		err = bpf_map__set_max_entries(learned, PF_LEARN_MAX);
	if (!err)
		err = bpf_map__set_max_entries(flows, max_flows);
	if (err)
		pr_warn("size maps: %s", strerror(-err));
	return err;
}

/* See maps.h. */
int pf_maps_get(struct bpf_object *obj, struct pf_config *cfg, struct pf_maps *m)
{
	static const char *const names[] = { "pf_tokens", "pf_rules", "pf_acrh", "pf_learned",
					     "pf_hdrs" };
	int *fds[] = { &m->tokens_fd, &m->rules_fd, &m->acrh_fd, &m->learned_fd, &m->hdrs_fd };
	struct bpf_map *map;
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		map = bpf_object__find_map_by_name(obj, names[i]);
		*fds[i] = map ? bpf_map__fd(map) : -1;
		if (*fds[i] < 0) {
			pr_warn("find map %s: %s", names[i], strerror(ENOENT));
			return -ENOENT;
		}
	}
	m->cfg = cfg;
	return 0;
}

/* Entries of the token map in use, its capacity in *max. */
static unsigned tokens_used(int fd, __u32 *max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct pf_tok_key k, next;
	unsigned n = 0;
	int more;

	*max = bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
	more = !bpf_map_get_next_key(fd, NULL, &k);
	while (more && n <= *max) {
		more = !bpf_map_get_next_key(fd, &k, &next);
		n++;
		k = next;
	}
	return n;
}

/* Say why the tokens of c did not go in (err: the failed update's; its
 * slot already emptied again). */
static void tokens_failed(const struct pf_maps *m, const struct pf_compiled *c, int err)
{
	__u32 max;
	unsigned used;

	if (err != -E2BIG) {
		pr_warn("install policy strings: %s", strerror(-err));
		return;
	}
	used = tokens_used(m->tokens_fd, &max);
	pr_warn("install policy strings: the policy has %u, the token map has room for "
		"%u next to the running policy (%u of %u entries in "
		"use); its size is set at startup: restart preflightd to load this policy",
		c->n_toks, max > used ? max - used : 0, used, max);
}

/* The rules of c's slot, its request-header name table, its info, then
 * the switch to it; the slot's tokens are in already. On failure the
 * slot is emptied again. */
static int install_rules(const struct pf_maps *m, const struct pf_compiled *c)
{
	__u32 idx[PF_MAX_RULES], n;
	unsigned i;
	int err;

	for (i = 0; i < PF_MAX_RULES; i++)
		idx[i] = c->slot * PF_MAX_RULES + i;
	n = PF_MAX_RULES;
	if (bpf_map_update_batch(m->rules_fd, idx, c->rules, &n, NULL)) {
		err = -errno;
		pr_warn("install policy rules: %s", strerror(errno));
		/* the next install rewrites every rule of the slot; its info
		 * and the active slot were never touched */
		pf_maps_clear_slot(m, c->slot);
		return err;
	}
	if (bpf_map_update_elem(m->hdrs_fd, &c->slot, &c->hdrs, BPF_ANY)) {
		err = -errno;
		pr_warn("install policy header names: %s", strerror(errno));
		pf_maps_clear_slot(m, c->slot);
		return err;
	}
	m->cfg->slot[c->slot] = c->info;
	pf_maps_activate(m, c->slot, c->ports, c->n_ports);
	return 0;
}

/* See maps.h. */
int pf_maps_install(const struct pf_maps *m, const struct pf_compiled *c)
{
	__u32 n;
	int err = 0;

	/* all or nothing: the slot is inactive, and whatever an earlier
	 * install left in it (a failed one too) goes before this one */
	pf_maps_clear_slot(m, c->slot);
	/* one syscall for all the tokens (a 100,000-origin policy: 100,000
	 * fewer), one for the rules */
	n = c->n_toks;
	if (n && bpf_map_update_batch(m->tokens_fd, c->keys, c->vals, &n, NULL)) {
		err = -errno;
		pf_maps_clear_slot(m, c->slot);
		tokens_failed(m, c, err);
		return err;
	}
	return install_rules(m, c);
}

static void *prefill_main(void *arg)
{
	struct pf_prefill *p = arg;
	__u32 n = p->c->n_toks;

	if (n && bpf_map_update_batch(p->fd, p->c->keys, p->c->vals, &n, NULL))
		p->err = -errno;
	return NULL;
}

/* See maps.h. */
int pf_maps_prefill(struct pf_prefill *p, struct bpf_object *obj)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "pf_tokens");
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int err;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (!map) {
		pr_warn("create pf_tokens: %s", strerror(ENOENT));
		return -ENOENT;
	}
	o.map_flags = bpf_map__map_flags(map);
	p->fd = bpf_map_create(bpf_map__type(map), bpf_map__name(map), bpf_map__key_size(map),
			       bpf_map__value_size(map), bpf_map__max_entries(map), &o);
	if (p->fd < 0) {
		err = -errno;
		pr_warn("create pf_tokens: %s", strerror(errno));
		return err;
	}
	err = bpf_map__reuse_fd(map, p->fd);
	if (err) {
		pr_warn("create pf_tokens: %s", strerror(-err));
		close(p->fd);
		p->fd = -1;
	}
	return err;
}

/* See maps.h. */
int pf_maps_prefill_fill(struct pf_prefill *p, const struct pf_compiled *c)
{
	int err;

	p->c = c;
	err = -pthread_create(&p->th, NULL, prefill_main, p);
	if (err) {
		pr_warn("fill pf_tokens: %s", strerror(-err));
		return err;
	}
	p->started = 1;
	return 0;
}

/* See maps.h. */
int pf_maps_prefill_join(struct pf_prefill *p)
{
	if (p->started)
		pthread_join(p->th, NULL);
	p->started = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	return p->err;
}

/* See maps.h. */
int pf_maps_install_prefilled(const struct pf_maps *m, struct pf_prefill *p)
{
	int err = pf_maps_prefill_join(p);

	if (err) {
		pf_maps_clear_slot(m, p->c->slot);
		tokens_failed(m, p->c, err);
		return err;
	}
	return install_rules(m, p->c);
}

/* See maps.h. */
void pf_maps_activate(const struct pf_maps *m, __u32 slot, const __u16 *ports,
		      unsigned n_ports)
{
	struct pf_config *cfg = m->cfg;
	unsigned i, j;
	__u64 w;

	/* translate first (only ever adds), then switch the policy, then the
	 * answered ports -- each word written once with its final value, so
	 * no port is ever transiently missing */
	for (i = 0; i < n_ports; i++)
		__atomic_or_fetch(&cfg->xlate_bits[ports[i] >> 6],
				  1ULL << (ports[i] & 63), __ATOMIC_RELEASE);
	__atomic_store_n(&cfg->active_slot, slot, __ATOMIC_RELEASE);
	for (i = 0; i < 1024; i++) {
		w = 0;
		for (j = 0; j < n_ports; j++)
			if ((ports[j] >> 6) == i)
				w |= 1ULL << (ports[j] & 63);
		if (cfg->port_bits[i] != w)
			__atomic_store_n(&cfg->port_bits[i], w, __ATOMIC_RELEASE);
	}
}

/* See maps.h. */
int pf_maps_xlate_flows(const struct pf_maps *m, int flows_fd)
{
	enum { CHUNK = 1024 };
	struct pf_flow_key *keys = malloc(CHUNK * sizeof(*keys));
	struct pf_flow *vals = malloc(CHUNK * sizeof(*vals));
	struct pf_mapbatch b;
	int err = 0, total = 0;
	__u32 n, i;
	__u16 port;

	if (!keys || !vals) {
		err = -ENOMEM;
		pr_warn("read the adopted flow table: %s", strerror(-err));
		goto out;
	}
	pf_mapbatch_init(&b, flows_fd);
	while (b.more) {
		n = CHUNK;
		err = pf_mapbatch_next(&b, keys, vals, &n);
		if (err) {
			pr_warn("read the adopted flow table: %s", strerror(-err));
			goto out;
		}
		for (i = 0; i < n; i++) {
			port = ntohs(keys[i].sport);
			__atomic_or_fetch(&m->cfg->xlate_bits[port >> 6], 1ULL << (port & 63),
					  __ATOMIC_RELEASE);
		}
		total += n;
	}
out:
	free(keys);
	free(vals);
	return err ? err : total;
}

/* See maps.h. */
void pf_maps_clear_slot(const struct pf_maps *m, __u32 slot)
{
	/* the policy's strings, and the regex verdicts learned for it */
	int fds[2] = { m->tokens_fd, m->learned_fd };
	static const struct pf_hdr_tab empty;   /* 6 KiB: not on the stack */
	struct pf_tok_key key, next;
	int more, i;

	/* first the name table (zeroed: every name goes to pf_tokens), so it
	 * never outlives the tokens it stands for */
	bpf_map_update_elem(m->hdrs_fd, &slot, &empty, BPF_ANY);

	for (i = 0; i < 2; i++) {
		more = !bpf_map_get_next_key(fds[i], NULL, &key);
		while (more) {
			more = !bpf_map_get_next_key(fds[i], &key, &next);
			if (key.slot == slot)
				bpf_map_delete_elem(fds[i], &key);
			key = next;
		}
	}
	pf_acrh_clear_slot(m->acrh_fd, slot);
}

/* See maps.h. */
void pf_maps_clock(struct pf_config *cfg)
{
	struct tm tm;
	char date[32];
	__u32 next;
	time_t now;

	now = time(NULL);
	gmtime_r(&now, &tm);
	if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) != PF_DATE_LEN)
		return;
	if (cfg->date_valid && !memcmp(cfg->date[cfg->date_idx & 1], date, PF_DATE_LEN))
		return;
	next = (cfg->date_idx + 1) & 1;
	memcpy(cfg->date[next], date, PF_DATE_LEN);
	__atomic_store_n(&cfg->date_idx, next, __ATOMIC_RELEASE);
	cfg->date_valid = 1;
}

/* See maps.h. */
void pf_maps_tick(struct pf_config *cfg)
{
	pf_maps_clock(cfg);
	__atomic_store_n(&cfg->heartbeat_ns, pf_mono_ns(), __ATOMIC_RELEASE);
}
