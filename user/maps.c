/* maps.c -- install compiled policies into the BPF maps and keep the
 * datapath's clock (Date header, heartbeat) fresh. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "maps.h"
#include "log.h"

int pf_maps_size(struct preflightd_bpf *skel, const struct pf_compiled *c,
		 unsigned max_flows)
{
	/* both slots' policy strings, plus the origins the slow path
	 * learns (65536 at most, see run.c) */
	unsigned toks = 2 * c->n_toks + 1024 + 65536;
	int err;

	if (toks < 65536)
		toks = 65536;
	err = bpf_map__set_max_entries(skel->maps.pf_tokens, toks);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.pf_flows, max_flows);
	if (err)
		pr_warn("size maps: %s", strerror(-err));
	return err;
}

int pf_maps_install(struct preflightd_bpf *skel, const struct pf_compiled *c)
{
	struct pf_config *cfg = &skel->bss->pf_cfg;
	int tok_fd = bpf_map__fd(skel->maps.pf_tokens);
	int rule_fd = bpf_map__fd(skel->maps.pf_rules);
	unsigned i;
	__u32 idx;
	int err;

	for (i = 0; i < c->n_toks; i++) {
		err = bpf_map_update_elem(tok_fd, &c->keys[i], &c->vals[i], BPF_ANY);
		if (err) {
			err = -errno;
			pr_warn("install policy tokens: %s", strerror(errno));
			return err;
		}
	}
	for (i = 0; i < PF_MAX_RULES; i++) {
		idx = c->slot * PF_MAX_RULES + i;
		err = bpf_map_update_elem(rule_fd, &idx, &c->rules[i], BPF_ANY);
		if (err) {
			err = -errno;
			pr_warn("install policy rules: %s", strerror(errno));
			return err;
		}
	}
	cfg->slot[c->slot] = c->info;
	/* translate first (only ever adds), then switch the policy, then the
	 * answered ports -- each word written once with its final value, so
	 * no port is ever transiently missing */
	for (i = 0; i < c->n_ports; i++)
		__atomic_or_fetch(&cfg->xlate_bits[c->ports[i] >> 6],
				  1ULL << (c->ports[i] & 63), __ATOMIC_RELEASE);
	__atomic_store_n(&cfg->active_slot, c->slot, __ATOMIC_RELEASE);
	for (i = 0; i < 1024; i++) {
		__u64 w = 0;
		unsigned j;

		for (j = 0; j < c->n_ports; j++)
			if ((c->ports[j] >> 6) == i)
				w |= 1ULL << (c->ports[j] & 63);
		if (cfg->port_bits[i] != w)
			__atomic_store_n(&cfg->port_bits[i], w, __ATOMIC_RELEASE);
	}
	return 0;
}

void pf_maps_clear_slot(struct preflightd_bpf *skel, __u32 slot)
{
	struct timespec grace = { 0, 100 * 1000 * 1000 };
	int fd = bpf_map__fd(skel->maps.pf_tokens);
	struct pf_tok_key key, next;
	int more;

	/* a program that read the old active_slot just before the switch may
	 * still be matching against it: let it finish (they run for
	 * microseconds) before its strings disappear */
	nanosleep(&grace, NULL);
	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (key.slot == slot)
			bpf_map_delete_elem(fd, &key);
		key = next;
	}
}

void pf_maps_tick(struct preflightd_bpf *skel)
{
	struct pf_config *cfg = &skel->bss->pf_cfg;
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
