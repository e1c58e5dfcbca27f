/* cmd_stats.c -- `preflightd stats`: the datapath counters of a running instance
 * (per-CPU values summed), the daemon's, and the number of flow-table
 * entries (as the daemon's GC last counted them; counted here only when no
 * daemon runs). */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../include/pf_structs.h"
#include "clock.h"
#include "cmds.h"
#include "iface.h"
#include "pin.h"
#include "shadow.h"
#include "log.h"
#include "optnum.h"

static const char *const stat_names[] = {
#define PF_STAT_NAME(name, desc) #name,
	PF_STATS(PF_STAT_NAME)
#undef PF_STAT_NAME
};

static const char *const stat_descs[] = {
#define PF_STAT_DESC(name, desc) desc,
	PF_STATS(PF_STAT_DESC)
#undef PF_STAT_DESC
};

/* The daemon's counters (__u64 fields of its config map, struct
 * pf_config), in the order both outputs give them after active_flows. */
static const struct {
	const char *name;
	size_t off;
	const char *desc;
} daemon_ctrs[] = {
#define DAEMON_CTR(field, desc) { #field, offsetof(struct pf_config, field), desc }
	DAEMON_CTR(gc_passes, "the daemon's GC passes (active_flows is the last one's count)"),
	DAEMON_CTR(flows_freed, "entries of ended connections removed"),
	DAEMON_CTR(reloads, "policy reloads"),
	DAEMON_CTR(reload_failures, "refused policy reloads"),
	DAEMON_CTR(drain_resets, "connections reset at the drain timeout"),
	DAEMON_CTR(learned_origins, "regex-origin verdicts the daemon taught the datapath"),
	DAEMON_CTR(learned_acrh, "request-header lists the daemon decided for the datapath"),
	DAEMON_CTR(learn_failures, "punts the daemon could not teach: passed to the app"),
	DAEMON_CTR(replayed, "punted segments handed back to the interface once decided"),
	DAEMON_CTR(replay_failed, "punted segments that could not be: their retransmission decides"),
#undef DAEMON_CTR
};

/* daemon_ctrs[i]'s value in dc */
static unsigned long long daemon_ctr(const struct pf_config *dc, unsigned i)
{
	__u64 v;

	memcpy(&v, (const char *)dc + daemon_ctrs[i].off, sizeof(v));
	return v;
}

/* Sum the per-CPU values of counters [k, k + n) of the stats map fd
 * into out[0..n) (one that cannot be read: 0). Returns 0, or -errno if
 * none could be (no memory); *lookup_err: the first failed look-up's
 * -errno, 0 if every counter was read. */
static int stats_sum(int fd, __u32 k, __u32 n, __u64 *out, int *lookup_err)
{
	int ncpu = libbpf_num_possible_cpus(), err, c;
	__u64 *vals;
	__u32 i, key;

	*lookup_err = 0;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		key = k + i;
		out[i] = 0;
		err = bpf_map_lookup_elem(fd, &key, vals);
		if (err) {
			if (!*lookup_err)
				*lookup_err = err;
			continue;
		}
		for (c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

/* Sum the per-CPU counters of the stats map fd into out[PF_STAT__MAX]
 * (a counter that cannot be read, e.g. one an older build's map lacks:
 * 0). */
int pf_stats_read(int fd, __u64 *out)
{
	int lookup_err;

	return stats_sum(fd, 0, PF_STAT__MAX, out, &lookup_err);
}

/* See cmds.h. */
int pf_stat_read(int fd, __u32 k, __u64 *out)
{
	int lookup_err, err = stats_sum(fd, k, 1, out, &lookup_err);

	return err ? err : lookup_err;
}

/* Lower-case copy of a stat name (PASS_GSO -> pass_gso). */
const char *pf_stat_name(unsigned i, char *buf, size_t n)
{
	size_t j;

	for (j = 0; j + 1 < n && stat_names[i][j]; j++)
		buf[j] = (char)((stat_names[i][j] >= 'A' && stat_names[i][j] <= 'Z') ?
				stat_names[i][j] + 32 : stat_names[i][j]);
	buf[j] = 0;
	return buf;
}

/* A daemon runs while its heartbeat is younger than this (how the
 * datapath judges it: PF_PUNT_WAIT_NS in bpf/pf_maps.h). */
#define DAEMON_ALIVE_NS 1000000000ull

static int count_flows(int fd)
{
	struct pf_flow_key k, next;
	int n = 0, more;

	more = !bpf_map_get_next_key(fd, NULL, &k);
	while (more && n < 100000000) {
		n++;
		more = !bpf_map_get_next_key(fd, &k, &next);
		k = next;
	}
	return n;
}

/* The number of entries in the flow table pinned at path: the count of the
 * running daemon's last GC pass (dc: its config), or, when no daemon runs
 * (no fresh heartbeat, no pass yet), counted here -- a walk with one
 * system call per entry, seconds at a million. *gc says which; -1 if the
 * table cannot be opened. */
static int active_flows(const char *path, const struct pf_config *dc, bool *gc)
{
	__u64 now = pf_mono_ns(), hb = dc->heartbeat_ns;
	int fd, n;

	*gc = dc->gc_passes && hb && (hb >= now || now - hb < DAEMON_ALIVE_NS);
	if (*gc)
		return (int)dc->gc_entries;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	n = count_flows(fd);
	close(fd);
	return n;
}

/* Read the daemon counters from the pinned config (.bss) map at path;
 * leaves *dc zeroed if it cannot. */
static void read_daemon_counters(const char *path, struct pf_config *dc)
{
	struct pf_config *big;
	__u32 zero = 0;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	/* the .bss value is the whole section; pf_cfg is its only variable */
	big = calloc(1, 65536);
	if (big && !bpf_map_lookup_elem(fd, &zero, big))
		*dc = *big;
	free(big);
	close(fd);
}

int pf_cmd_stats(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *iface = NULL;
	__u64 v[PF_STAT__MAX];
	char path[512], name[64];
	struct pf_config dc = {};
	int c, json = 0, fd, flows, err;
	bool gc;
	unsigned i;

	while ((c = getopt_long(argc, argv, "i:jh", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pf_iface_check(optarg))
				return 2;
			iface = optarg;
			break;
		case 'j': json = 1; break;
		case 'h':
			printf("usage: preflightd stats [--iface IFACE] [--json]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (pf_opt_none("stats", argc, argv, optind))
		return 2;
	if (pf_pin_path(path, sizeof(path), iface, ""))
		return 1;
	pf_pin_warn_staged(path);
	strncat(path, "stats", sizeof(path) - strlen(path) - 1);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		pr_warn("open %s: %s (is preflightd running?)", path, strerror(errno));
		return 1;
	}
	err = pf_stats_read(fd, v);
	close(fd);
	if (err) {
		pr_warn("read stats: %s", strerror(-err));
		return 1;
	}
	memcpy(path + strlen(path) - 5, "config", 7);
	read_daemon_counters(path, &dc);
	memcpy(path + strlen(path) - 6, "flows", 6);
	flows = active_flows(path, &dc, &gc);
	memcpy(path + strlen(path) - 5, "config", 7);
	if (json) {
		printf("{");
		for (i = 0; i < PF_STAT__MAX; i++)
			printf("\"%s\":%llu,", pf_stat_name(i, name, sizeof(name)),
			       (unsigned long long)v[i]);
		printf("\"active_flows\":%d,\"active_flows_by\":\"%s\"", flows,
		       gc ? "gc" : "walk");
		for (i = 0; i < sizeof(daemon_ctrs) / sizeof(daemon_ctrs[0]); i++)
			printf(",\"%s\":%llu", daemon_ctrs[i].name,
			       daemon_ctr(&dc, i));
		memcpy(path + strlen(path) - 6, "shd_stats", 10);
		pf_shadow_print_stats(path, true); /* shadow mode (issue 13) */
		printf("}\n");
		return 0;
	}
	for (i = 0; i < PF_STAT__MAX; i++)
		printf("%-20s %12llu  %s\n", pf_stat_name(i, name, sizeof(name)),
		       (unsigned long long)v[i], stat_descs[i]);
	printf("%-20s %12d  %s\n", "active_flows", flows, gc ?
	       "connections followed (flow-table entries at the daemon's last GC pass)" :
	       "connections followed (flow-table entries, counted: no daemon runs)");
	for (i = 0; i < sizeof(daemon_ctrs) / sizeof(daemon_ctrs[0]); i++)
		printf("%-20s %12llu  %s\n", daemon_ctrs[i].name,
		       daemon_ctr(&dc, i), daemon_ctrs[i].desc);
	memcpy(path + strlen(path) - 6, "shd_stats", 10);
	pf_shadow_print_stats(path, false); /* shadow mode (issue 13) */
	return 0;
}
