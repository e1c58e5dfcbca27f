/* maps.c -- install compiled policies into the BPF maps and keep the
 * datapath's clock (Date header, heartbeat) fresh. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"
#include "log.h"

/* See maps.h. */
int pf_maps_size(struct bpf_object *obj, const struct pf_compiled *c,
		 unsigned max_flows)
{
	struct bpf_map *tok = bpf_object__find_map_by_name(obj, "pf_tokens");
	struct bpf_map *flows = bpf_object__find_map_by_name(obj, "pf_flows");
	/* both slots' policy strings, plus the origins the slow path
	 * learns (65536 at most, see slowpath.h) */
	unsigned toks = 2 * c->n_toks + 1024 + 65536;
	int err;

	if (!tok || !flows) {
		pr_warn("size maps: %s", strerror(ENOENT));
		return -ENOENT;
	}
	if (toks < 65536)
		toks = 65536;
	err = bpf_map__set_max_entries(tok, toks);
	if (!err)
		err = bpf_map__set_max_entries(flows, max_flows);
	if (err)
		pr_warn("size maps: %s", strerror(-err));
	return err;
}

/* See maps.h. */
int pf_maps_get(struct bpf_object *obj, struct pf_config *cfg, struct pf_maps *m)
{
	static const char *const names[] = { "pf_tokens", "pf_rules", "pf_acrh" };
	int *fds[] = { &m->tokens_fd, &m->rules_fd, &m->acrh_fd };
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

/* See maps.h. */
int pf_maps_install(const struct pf_maps *m, const struct pf_compiled *c)
{
	unsigned i;
	__u32 idx;
	int err;

	for (i = 0; i < c->n_toks; i++) {
		err = bpf_map_update_elem(m->tokens_fd, &c->keys[i], &c->vals[i], BPF_ANY);
		if (err) {
			err = -errno;
			pr_warn("install policy tokens: %s", strerror(errno));
			return err;
		}
	}
	for (i = 0; i < PF_MAX_RULES; i++) {
		idx = c->slot * PF_MAX_RULES + i;
		err = bpf_map_update_elem(m->rules_fd, &idx, &c->rules[i], BPF_ANY);
		if (err) {
			err = -errno;
			pr_warn("install policy rules: %s", strerror(errno));
			return err;
		}
	}
	m->cfg->slot[c->slot] = c->info;
	pf_maps_activate(m, c->slot, c->ports, c->n_ports);
	return 0;
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
void pf_maps_clear_slot(const struct pf_maps *m, __u32 slot)
{
	struct pf_tok_key key, next;
	int more;

	more = !bpf_map_get_next_key(m->tokens_fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(m->tokens_fd, &key, &next);
		if (key.slot == slot)
			bpf_map_delete_elem(m->tokens_fd, &key);
		key = next;
	}
}

/* See maps.h. */
void pf_maps_tick(struct pf_config *cfg)
{
	struct timespec ts;
	struct tm tm;
	char date[32];
	__u32 next;
	time_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	cfg->heartbeat_ns = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
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
