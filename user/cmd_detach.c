/* cmd_detach.c -- `preflightd detach`: for an instance that is no longer running
 * (kill -9, crash), do what its SIGTERM would have done: stop answering,
 * keep translating until the spliced connections close (bounded, then reset
 * them), and remove its tcx links or filters, XDP program and pins. `run`
 * does the same with state of another layout before it starts (hand-over,
 * see pf_pin_adopt). Only what the pinned layout record says is read: a
 * flow table of another layout is walked by its keys alone. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "clock.h"
#include "cmds.h"
#include "iface.h"
#include "kfeat.h"
#include "gc.h"
#include "sockdiag.h"
#include "drainkeys.h"
#include "mapbatch.h"
#include "layout.h"
#include "pin.h"
#include "tc.h"
#include "xdp.h"
#include "offload.h"
#include "notify.h"
#include "optnum.h"
#include "log.h"

#define DRAIN_BATCH 1024  /* flow-table entries a batch read takes */

/* pf_diag_cb: add k to the key set (ctx); a TIME_WAIT socket too, as
 * every entry here counts as spliced (see gc_keys). */
static int keyset_add(void *ctx, const struct pf_flow_key *k, bool timewait)
{
	(void)timewait;
	return pf_keyset_add(ctx, k);
}

/* The keys of the flow table fd into tab, sorted, read in batches
 * (mapbatch.h: a delete behind the read does not restart it). The values,
 * of another layout, are read and dropped. Returns 0 or -errno. */
static int table_keys(int fd, struct pf_keyset *tab)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), n, i;
	struct pf_flow_key *keys = malloc(DRAIN_BATCH * sizeof(*keys));
	struct pf_mapbatch b;
	void *vals = NULL;
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	else if (!keys || !(vals = malloc((size_t)DRAIN_BATCH * info.value_size)))
		err = -ENOMEM;
	pf_mapbatch_init(&b, fd);
	while (!err && b.more) {
		n = DRAIN_BATCH;
		err = pf_mapbatch_next(&b, keys, vals, &n);
		for (i = 0; i < n && !err; i++)
			err = pf_keyset_add(tab, &keys[i]);
	}
	pf_keyset_sort(tab);
	free(keys);
	free(vals);
	return err;
}

/* pf_drain_tick's delete: the flow table's entry k (ctx: its fd). */
static int del_key(void *ctx, const struct pf_flow_key *k)
{
	return bpf_map_delete_elem(*(const int *)ctx, k) ? -errno : 0;
}

/* One drain tick: delete the entries whose connection two consecutive
 * calls' dumps had no live or TIME_WAIT socket for (pf_drain_tick;
 * *missed: the previous call's first misses in, this one's out). Every
 * entry counts as spliced (its splice count cannot be read), and a
 * spliced connection's TIME_WAIT still answers a retransmitted FIN
 * (gc.c) -- every entry of snap, the table's keys when the drain began
 * (drainkeys.h), or, snap NULL (that read failed), every entry. Returns
 * the number left (0: none after the deletes), or -errno (nothing
 * deleted, *missed emptied: the next call starts again). */
static int gc_keys(int fd, struct pf_keyset *missed, const struct pf_keyset *snap)
{
	struct pf_keyset live = {}, tab = {};
	struct pf_flow_key key;
	int left;

	left = pf_diag_dump(NULL, keyset_add, &live);
	if (left > 0)
		left = -ENOMEM;
	if (!left)
		left = table_keys(fd, &tab);
	if (left) {
		pf_keyset_free(missed);
		goto out;
	}
	pf_keyset_sort(&live);
	if (snap)
		pf_keyset_keep(&tab, snap);
	left = pf_drain_tick(&tab, &live, missed, del_key, &fd);
	/* empty now? An entry created behind the read: not done yet (none
	 * of snap's: made after it); a table that cannot be read is not
	 * taken for empty */
	if (!left && !snap) {
		if (!bpf_map_get_next_key(fd, NULL, &key))
			left = 1;
		else if (errno != ENOENT)
			left = -errno;
	}
out:
	pf_keyset_free(&live);
	pf_keyset_free(&tab);
	return left;
}

/* Reset the connection of every entry of snap (NULL: of the table) still
 * in the table (SOCK_DESTROY) and delete it. */
static void reset_keys(int fd, const struct pf_keyset *snap)
{
	struct pf_flow_key key, next;
	int nl, more, n = 0;

	nl = pf_diag_open();
	if (nl < 0) {
		pr_warn("drain timeout: sock_diag: %s", strerror(-nl));
		return;
	}
	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (!snap || pf_keyset_has(snap, &key)) {
			if (!pf_diag_destroy(nl, &key))
				n++;
			bpf_map_delete_elem(fd, &key);
		}
		key = next;
	}
	close(nl);
	pr_warn("drain timeout: reset %d connections", n);
}

/* Translate-only until the flow table is empty or timeout_s passed, then
 * reset what is left. */
static void drain(const struct pf_pin *pin, unsigned timeout_s)
{
	struct timespec tick = { 0, 200 * 1000 * 1000 };
	bool ours = pin->old.flows_known && pin->old.flows_fp == pin->self.flows_fp;
	char path[512], what[96], status[128];
	struct pf_gc_del del = {};
	struct pf_keyset missed = {};  /* gc_keys' first misses, tick to tick */
	struct pf_keyset snap = {};    /* the table's keys as the drain began */
	const struct pf_keyset *only = NULL; /* &snap once read: what is drained */
	unsigned freed;
	__u64 end;
	int fd, live;

	snprintf(path, sizeof(path), "%s/flows", pin->dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	del.fd = fd;  /* one load of the GC's delete for every tick */
	end = pf_mono_ns() + (__u64)timeout_s * 1000000000ull;
	if (!ours) {
		/* one tick after draining was set: an answer that was
		 * running then has made its entry (drainkeys.h); a table
		 * that cannot be read: every entry, as before */
		nanosleep(&tick, NULL);
		if (!table_keys(fd, &snap)) {
			only = &snap;
			pr_info("draining: %zu entries to wait for (a connection made from now "
				"on is only followed)", snap.n);
		}
	}
	for (;;) {
		live = ours ? pf_gc_flows(&del, pf_mono_ns(), 0, &freed) :
		       gc_keys(fd, &missed, only);
		if (live == 0)
			break;
		/* an error (live < 0) is waited out too: what cannot be
		 * checked is not assumed closed */
		if (live > 0)
			snprintf(what, sizeof(what), "%d spliced connections left", live);
		else
			snprintf(what, sizeof(what), "its connections cannot be checked (%s)",
				 strerror(-live));
		snprintf(status, sizeof(status), "draining a dead instance: %s", what);
		pf_notify_progress(status);
		if (pf_mono_ns() >= end) {
			pr_warn("drain timeout: %s; resetting them", what);
			if (ours)
				pf_gc_reset_all(fd);
			else
				reset_keys(fd, only);
			break;
		}
		nanosleep(&tick, NULL);
	}
	pf_gc_del_close(&del);
	pf_keyset_free(&missed);
	pf_keyset_free(&snap);
	close(fd);
}

int pf_detach_dead(struct pf_pin *pin, const char *iface, int ifindex, unsigned timeout_s)
{
	struct pf_tc tc = { .xdp_stats_fd = -1 };   /* -1: TC mode (tc.h) */
	int n = 0, x, err;

	/* nothing pinned (or for a gone interface): only programs to remove */
	err = pin->left == PF_LEFT_ADOPT || pin->left == PF_LEFT_HANDOVER ?
	      pf_layout_set_draining(pin->dir, "config", &pin->old) : -ENOENT;
	if (!err) {
		pr_info("draining the connections spliced by a dead instance on %s", iface);
		drain(pin, timeout_s);
	} else if (err != -ENOENT) {
		pr_warn("%s: cannot stop it answering (%s): removing it now", pin->dir,
			strerror(-err));
	}
	if (ifindex) {
		x = pf_xdp_find_stale(ifindex, pin->dir, true);
		n = pf_tc_detach_stale(ifindex, pin->dir) + (x > 0);
		tc.ifindex = ifindex;
		tc.hook_created = pf_pin_clsact_created(pin);
		pf_tc_detach(&tc); /* removes clsact only if ours and empty */
	}
	/* the response offload is on a cgroup, not on the interface */
	n += pf_ofl_detach_stale(pin->dir, iface);
	pf_pin_mark_clsact(pin, false);
	pin->pinned = true;
	pf_unpin_maps(pin);
	return n;
}

int pf_cmd_detach(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "drain-timeout", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct preflightd_bpf *skel;
	struct pf_layout self;
	struct pf_pin pin = {};
	const char *iface = NULL;
	unsigned long timeout = 60;
	int c, ifindex, n, err;

	while ((c = getopt_long(argc, argv, "i:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (pf_iface_check(optarg))
				return 2;
			iface = optarg;
			break;
		case 'D':
			if (pf_opt_ulong("drain-timeout", optarg, 0, 86400, &timeout))
				return 2;
			break;
		case 'h':
			printf("usage: preflightd detach --iface IFACE [--drain-timeout SEC]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (pf_opt_none("detach", argc, argv, optind))
		return 2;
	if (!iface) {
		fprintf(stderr, "usage: preflightd detach --iface IFACE [--drain-timeout SEC]\n");
		return 2;
	}
	/* this build's layout: what of the pinned state it may read */
	skel = preflightd_bpf__open();
	if (!skel) {
		pr_warn("open BPF object: %s", strerror(errno));
		return 1;
	}
	/* the flow lock's type as `run` names it: part of the layout */
	err = pf_kfeat_flow_lock(skel->obj, false);
	if (err >= 0)
		err = pf_layout_self(skel, &self);
	preflightd_bpf__destroy(skel);
	if (err) {
		pr_warn("layout of the BPF object: %s", strerror(-err));
		return 1;
	}
	if (pf_pin_lock(&pin, iface, false))
		return 1; /* a live instance: it drains and detaches itself on SIGTERM */
	ifindex = if_nametoindex(iface);
	err = pf_pin_inspect(&pin, &self, ifindex);
	if (err) {
		pf_pin_unlock(&pin);
		return 1;
	}
	if (pin.left == PF_LEFT_STALE)
		pr_info("the state pinned in %s belongs to an interface that is gone: removing it",
			pin.dir);
	n = pf_detach_dead(&pin, iface, ifindex, (unsigned)timeout);
	pf_pin_unlock(&pin);
	printf("preflightd: removed %d program(s) and the pins of %s\n", n, iface);
	return 0;
}
