/* tc_chain.c -- what runs on a TC hook and in which order, and a watch that
 * says when a program ahead of preflightd's hides traffic from it.
 *
 * The kernel runs a hook's tcx chain first; any verdict but TCX_NEXT
 * (TC_ACT_UNSPEC) skips the rest of it and every clsact filter. Inside
 * tcx, or a clsact filter list, the next program runs only if the
 * previous one returned TC_ACT_UNSPEC (docs/tcp-splice.md section 10). A
 * program ahead of ours that ends the chain -- Cilium's do -- hides those
 * packets from preflightd: at ingress it never sees the requests, at
 * egress it cannot translate the server's segments of spliced
 * connections. Whether a program ends the chain cannot be read from the
 * chain, so our programs set a probe word (struct pf_config tc_seen) on
 * their first packet after the daemon clears it: an interface that moved
 * PF_TC_BLIND_PKTS packets while the word stayed clear has a program
 * ahead that ends the chain. In XDP mode the count is that of the frames
 * XDP left to TC ingress (xdp_to_tc; PF_TC_BLIND_XDP of them); XDP_TX'd
 * frames never pass TC. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include "../include/pf_common.h"
#include "tc.h"
#include "cmds.h"
#include "log.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#define TC_H_MIN_EGRESS  0xFFF3U
#endif

static void prog_name(__u32 id, char *buf, size_t n)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	int fd;

	snprintf(buf, n, "?");   /* without CAP_SYS_ADMIN: ids only */
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &pi, &len))
		snprintf(buf, n, "%s", pi.name);
	close(fd);
}

/* The tcx chain of one hook; -EINVAL on kernels without tcx counts as an
 * empty chain. Returns the number of programs or -errno. */
static int tcx_chain(int ifindex, bool ingress, struct pf_tc_prog *out, int max)
{
	__u32 ids[PF_TC_CHAIN_MAX];
	DECLARE_LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids,
			    .prog_cnt = PF_TC_CHAIN_MAX);
	int i;

	if (bpf_prog_query_opts(ifindex, ingress ? PF_BPF_TCX_INGRESS : PF_BPF_TCX_EGRESS, &q))
		return errno == EINVAL ? 0 : -errno;
	for (i = 0; i < (int)q.prog_cnt && i < max && i < PF_TC_CHAIN_MAX; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].tcx = true;
		out[i].id = ids[i];
		prog_name(ids[i], out[i].name, sizeof(out[i].name));
	}
	return q.prog_cnt;
}

/* One RTM_NEWTFILTER message into e; 0 if it is a filter, 1 to skip it. */
static int parse_filter(struct nlmsghdr *h, struct pf_tc_prog *e)
{
	struct tcmsg *t = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*t));
	struct rtattr *a, *o;
	int olen;

	if (!t->tcm_handle)
		return 1;   /* the chain's head entry, not a filter */
	memset(e, 0, sizeof(*e));
	e->prio = TC_H_MAJ(t->tcm_info) >> 16;
	e->handle = t->tcm_handle;
	for (a = (struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_KIND && !e->name[0])
			snprintf(e->name, sizeof(e->name), "%.*s", (int)RTA_PAYLOAD(a),
				 (char *)RTA_DATA(a));
		if (a->rta_type != TCA_OPTIONS)
			continue;
		olen = RTA_PAYLOAD(a);
		for (o = RTA_DATA(a); RTA_OK(o, olen); o = RTA_NEXT(o, olen))
			if (o->rta_type == TCA_BPF_ID && RTA_PAYLOAD(o) >= 4)
				e->id = *(__u32 *)RTA_DATA(o);
	}
	if (e->id)
		prog_name(e->id, e->name, sizeof(e->name));
	return 0;
}

/* The clsact filters of one hook by an RTM_GETTFILTER dump, appended to
 * out from index n. Returns the new count (no clsact: n) or -errno. */
static int cls_chain(int ifindex, bool ingress, struct pf_tc_prog *out, int max, int n)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req = {
		.n = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
			.nlmsg_type = RTM_GETTFILTER,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.t = {
			.tcm_family = AF_UNSPEC,
			.tcm_ifindex = ifindex,
			.tcm_parent = TC_H_MAKE(TC_H_CLSACT,
						ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS),
		},
	};
	static char buf[16384];
	struct pf_tc_prog e;
	int fd, err = 0, done = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		struct nlmsghdr *h;
		ssize_t len = recv(fd, buf, sizeof(buf), 0);

		if (len < 0) {
			err = -errno;
			goto out;
		}
		if (len == 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *ne = NLMSG_DATA(h);

				/* no clsact qdisc: no filters */
				err = ne->error == -EINVAL || ne->error == -ENOENT ? 0 : ne->error;
				done = 1;
				break;
			}
			if (h->nlmsg_type != RTM_NEWTFILTER || parse_filter(h, &e))
				continue;
			if (n < max)
				out[n] = e;
			n++;
		}
	}
out:
	close(fd);
	return err ? err : n;
}

int pf_tc_chain(int ifindex, bool ingress, struct pf_tc_prog *out, int max)
{
	int n = tcx_chain(ifindex, ingress, out, max);

	if (n < 0)
		return n;
	return cls_chain(ifindex, ingress, out, max, n);
}

/* ------------------------------------------------------------- watch ---- */

/* Describe what runs before our program on one hook into buf ("" if
 * nothing). Returns the number of programs ahead, -ENOENT if ours is not
 * on the hook any more, or -errno. */
static int describe_ahead(const struct pf_tc *tc, bool ingress, char *buf, size_t size)
{
	struct pf_tc_prog c[PF_TC_CHAIN_MAX];
	__u32 ours = ingress ? tc->in_id : tc->out_id;
	bool tcx = tc->how == PF_TC_TCX;
	size_t off = 0;
	int n, i, k;

	buf[0] = 0;
	n = pf_tc_chain(tc->ifindex, ingress, c, PF_TC_CHAIN_MAX);
	if (n < 0)
		return n;
	if (n > PF_TC_CHAIN_MAX)
		n = PF_TC_CHAIN_MAX;
	for (k = 0; k < n && !(c[k].tcx == tcx && c[k].id == ours); k++)
		;
	if (k == n)
		return -ENOENT;
	for (i = 0; i < k && off + 1 < size; i++) {
		if (c[i].tcx)
			off += snprintf(buf + off, size - off, "%stcx program %u (%s)",
					i ? ", " : "", c[i].id, c[i].name);
		else
			off += snprintf(buf + off, size - off, "%sclsact filter prio %u "
					"handle 0x%x (%s%s%.0u)", i ? ", " : "", c[i].prio,
					c[i].handle, c[i].name, c[i].id ? ", program " : "",
					c[i].id);
	}
	return k;
}

/* Packets received (ingress) or sent (egress) by the interface, or -1. */
static long long if_packets(int ifindex, bool ingress)
{
	char name[IF_NAMESIZE], path[96];
	long long v = -1;
	FILE *f;

	if (!if_indextoname(ifindex, name))
		return -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s_packets", name,
		 ingress ? "rx" : "tx");
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Report a change of what runs ahead of our program; returns true if it
 * changed (the probe then starts over: what passed traffic before may
 * not pass it now). */
static bool watch_chain(struct pf_tc *tc, bool ingress)
{
	struct pf_tc_dir_watch *w = &tc->w[!ingress];
	const char *d = ingress ? "ingress" : "egress";
	char now[sizeof(w->ahead)];
	int n;

	n = describe_ahead(tc, ingress, now, sizeof(now));
	if (n == -ENOENT)
		snprintf(now, sizeof(now), "-");
	else if (n < 0)
		return false;   /* could not look: keep the last report */
	if (w->looked && !strcmp(now, w->ahead))
		return false;
	if (n == -ENOENT)
		pr_warn("tc %s: preflightd's program is no longer attached to %s (removed by "
			"someone else?): %s", d, tc->ifname, ingress ? "no preflight is answered" :
			"spliced connections are not translated");
	else if (n > 0)
		pr_warn("tc %s: %d program(s) run before preflightd's on %s: %s. preflightd sees "
			"only the packets they pass on (TC_ACT_UNSPEC/TCX_NEXT)%s", d, n, tc->ifname,
			now, ingress ? "" : "; no preflight is answered until one of the "
			"server's packets has come through");
	else if (w->looked)
		pr_info("tc %s: preflightd's program runs first on %s again", d, tc->ifname);
	memcpy(w->ahead, now, sizeof(now));
	w->looked = true;
	w->proven = n == 0;
	return true;
}

/* The packets a direction's program should have seen: in TC mode the
 * interface's received (sent) packets -- every one passes TC; in XDP mode
 * at ingress the frames XDP left to TC ingress (pf_stats' xdp_to_tc:
 * every frame it passes on a kernel without XDP metadata, its hand-offs
 * otherwise). -1: no count (XDP mode's egress: the interface counts
 * XDP_TX'd frames, which never pass TC; or the read failed). */
static long long probe_count(const struct pf_tc *tc, bool ingress)
{
	__u64 v;

	if (tc->xdp_stats_fd < 0)
		return if_packets(tc->ifindex, ingress);
	if (!ingress || pf_stat_read(tc->xdp_stats_fd, PF_STAT_XDP_TO_TC, &v))
		return -1;
	return (long long)v;
}

/* Arm the probe of one direction: clear its word, then read the
 * baseline (a packet counted after it has reached our program -- egress
 * counts after TC -- or will). */
static void probe_arm(struct pf_tc *tc, bool ingress, __u32 *seen)
{
	struct pf_tc_dir_watch *w = &tc->w[!ingress];

	*(volatile __u32 *)seen = 0;
	w->armed = true;
	w->suspect = false;
	w->pkts = probe_count(tc, ingress);
}

/* What the probe word says since it was armed: traffic came through
 * (proven), or -- with a count (probe_count) and programs ahead that
 * could end the chain -- blind_min(tc, ingress) packets passed and ours
 * saw none, at two watches in a row (blind). The count is read before
 * the word, and the second watch confirms: what was counted as the count
 * was read may not have reached TC yet (XDP counts a receive batch
 * before GRO passes it on). A count that went back (a counter reset) is
 * a new baseline, as is one read at last after a failed read. */
static void watch_probe(struct pf_tc *tc, bool ingress, __u32 *seen)
{
	struct pf_tc_dir_watch *w = &tc->w[!ingress];
	const char *d = ingress ? "ingress" : "egress";
	bool xdp_in = ingress && tc->xdp_stats_fd >= 0;
	long long pkts;

	if (!w->armed) {
		probe_arm(tc, ingress, seen);
		return;
	}
	pkts = probe_count(tc, ingress);
	if (*(volatile __u32 *)seen) {
		if (w->blind)
			pr_info("tc %s: preflightd's program sees traffic on %s again", d,
				tc->ifname);
		w->blind = false;
		w->proven = true;
		probe_arm(tc, ingress, seen);
		return;
	}
	if (pkts < 0 || w->pkts < 0 || pkts < w->pkts) {
		w->pkts = pkts;
		w->suspect = false;
		return;
	}
	if (w->blind || !w->ahead[0] || !strcmp(w->ahead, "-") ||
	    pkts - w->pkts < (xdp_in ? PF_TC_BLIND_XDP : PF_TC_BLIND_PKTS))
		return;
	if (!w->suspect) {
		w->suspect = true;
		return;
	}
	w->blind = true;
	w->suspect = false;
	pr_warn("tc %s: ERROR: preflightd's program saw none of the last %llu %s %s: "
		"a program ahead of it ends the chain (%s): %s", d,
		(unsigned long long)(pkts - w->pkts),
		!ingress ? "packets sent from" : !xdp_in ? "packets received on" :
		"frames XDP left to it on", tc->ifname, w->ahead,
		!ingress ? "it cannot translate spliced connections" :
		!xdp_in ? "it can see no preflight" :
		"they reach the app untranslated, so XDP answers none");
}

/* Is direction w's program known to see its packets (nothing ahead of
 * it, or traffic came through since the chain last changed)? */
static bool dir_sees(const struct pf_tc_dir_watch *w)
{
	return w->proven && !w->blind;
}

/* Answer only while our programs are known to see what they translate:
 * the server's packets at egress and, in XDP mode, the client's at TC
 * ingress too -- XDP leaves frames there untranslated for it (every
 * frame it passes on a kernel without XDP metadata, its hand-offs
 * otherwise): a program ahead that ended the chain would let them reach
 * the app as they came. */
static void answer_gate(struct pf_tc *tc, __u32 *draining, bool xdp)
{
	bool out = dir_sees(&tc->w[1]), in = !xdp || dir_sees(&tc->w[0]);
	bool pause = !out || !in;

	if (!draining)
		return;   /* answering nothing anyway (shadow mode) */
	if (pause && !tc->paused && !*draining) {
		*draining = 1;
		tc->paused = true;
		pr_warn("tc %s: not answering preflights on %s until preflightd's %s program is "
			"seen to get the %s packets", out ? "ingress" : "egress", tc->ifname,
			out ? "ingress" : "egress", out ? "client's" : "server's");
	} else if (!pause && tc->paused) {
		*draining = 0;
		tc->paused = false;
		pr_info("tc: preflightd's programs get the server's%s packets on %s: "
			"answering preflights again", xdp ? " and the client's" : "", tc->ifname);
	}
}

void pf_tc_watch(struct pf_tc *tc, __u32 cfg_seen[2], __u32 *draining)
{
	if (watch_chain(tc, true))
		probe_arm(tc, true, &cfg_seen[0]);
	if (watch_chain(tc, false))
		probe_arm(tc, false, &cfg_seen[1]);
	watch_probe(tc, true, &cfg_seen[0]);
	watch_probe(tc, false, &cfg_seen[1]);
	answer_gate(tc, draining, tc->xdp_stats_fd >= 0);
}
