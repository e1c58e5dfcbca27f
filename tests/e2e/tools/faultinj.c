/* faultinj.c -- loader for faultinj.bpf.c: TCP loss, duplication and reordering on an e2e veth. */
/*
 *   faultinj attach  --iface IF --loss P --dup P [--in-loss P] [--in-dup P]
 *                    [--rehash 0|1]
 *   faultinj stats   --iface IF
 *   faultinj detach  --iface IF
 *   faultinj reorder --iface IF --rate P --class MAJ:MIN
 *   faultinj stats   --iface IF --class MAJ:MIN
 * Run inside the client netns (ip netns exec ...). P is permille (0..1000),
 * or percent with a '%' suffix ("3%", "0.5%"). --loss/--dup set the egress
 * (client->server) direction; --in-loss/--in-dup default to the same values.
 * --rehash 1 gives each copy of a duplicated client segment its own random
 * skb hash: with RPS on the receiving veth the copies reach different CPUs.
 * Filters are legacy TC (clsact, direct-action) at FI_HANDLE/FI_PRIO, so they
 * outlive this process. Re-running attach while our filters are present only
 * rewrites the live config (.data), keeping the counters.
 *
 * reorder attaches the fi_reorder classifier (cls_bpf, direct-action, the
 * same handle/priority) to the classful root qdisc MAJ: of IF, which the
 * caller has created (htb; see fi_reorder in faultinj.bpf.c): a random P of
 * the TCP non-SYN packets go to class MAJ:MIN, the rest to the qdisc's
 * default class. It works on either end (the host end's clsact stays
 * preflightd's), runs in the netns of IF, and replaces an earlier reorder
 * filter (counters restart). Deleting the qdisc removes it. MAJ:MIN is hex,
 * as in tc. `stats --class` prints its counters.
 * Errors are negative errno; messages read "faultinj: <operation>: <reason>".
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* Must match faultinj.bpf.c; the skeleton's _Static_asserts check sizes. */
#define FI_CFG_MAGIC 0x66696367u
struct fi_dir_cfg {
	__u32 loss_permille;
	__u32 dup_permille;
};
struct fi_config {
	__u32 magic;
	__u32 reorder_permille;
	struct fi_dir_cfg dir[2]; /* [0] egress, [1] ingress */
	__u32 reorder_classid;
	__u32 dup_rehash;
};
struct fi_dir_stats {
	__u64 seen, dropped, duplicated, clone_err;
};
struct fi_reo_stats {
	__u64 seen, moved;
};

#include "faultinj.skel.h"

#define FI_HANDLE 0x6669   /* tc filter handle of both programs */
#define FI_PRIO   1        /* tc filter priority of both programs */

static const char *const dir_name[2] = { "egress", "ingress" };
static const char *const prog_name[2] = { "fi_egress", "fi_ingress" };
static const enum bpf_tc_attach_point dir_hook[2] = { BPF_TC_EGRESS,
						       BPF_TC_INGRESS };

struct fi_found {
	__u32 prog_id[2];
	int data_fd, bss_fd;            /* maps of the egress program */
};

/*
 * libbpf_quiet: drop libbpf debug output and the netlink "Kernel error
 * message" lines that probing/EEXIST produce on every normal run (our own
 * messages carry the errno). FAULTINJ_VERBOSE=1 shows everything.
 */
static int libbpf_quiet(enum libbpf_print_level lvl, const char *fmt,
			va_list ap)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FAULTINJ_VERBOSE") != NULL;
	if (!verbose && (lvl == LIBBPF_DEBUG ||
			 strstr(fmt, "Kernel error message")))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* parse_permille: "N" (permille) or "X%" (percent) into *out. 0 or -EINVAL. */
static int parse_permille(const char *s, __u32 *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (*end == '%' && end[1] == '\0')
		v *= 10.0;
	else if (*end || strchr(s, '.'))
		return -EINVAL;
	if (v < 0 || v > 1000)
		return -EINVAL;
	*out = (__u32)(v + 0.5);
	return 0;
}

/* find_maps: open the .data/.bss maps used by prog_id. 0 or negative errno. */
static int find_maps(__u32 prog_id, struct fi_found *f)
{
	struct bpf_prog_info info = { 0 };
	__u32 ids[16], len = sizeof(info);
	int pfd, err = 0;

	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -errno;
	info.nr_map_ids = 16;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len)) {
		err = -errno;
		goto out;
	}
	for (__u32 i = 0; i < info.nr_map_ids && i < 16; i++) {
		struct bpf_map_info mi = { 0 };
		__u32 ml = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);
		size_t n;

		if (mfd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(mfd, &mi, &ml)) {
			close(mfd);
			continue;
		}
		n = strlen(mi.name);
		if (n >= 5 && !strcmp(mi.name + n - 5, ".data") &&
		    mi.value_size == sizeof(struct faultinj__data) &&
		    f->data_fd < 0)
			f->data_fd = mfd;
		else if (n >= 4 && !strcmp(mi.name + n - 4, ".bss") &&
			 mi.value_size == sizeof(struct faultinj__bss) &&
			 f->bss_fd < 0)
			f->bss_fd = mfd;
		else
			close(mfd);
	}
	if (f->data_fd < 0 || f->bss_fd < 0)
		err = -ENOENT;
out:
	close(pfd);
	return err;
}

/*
 * find_ours: look up our filters on both hooks of ifindex. Returns 0 when
 * both are present and are our programs (maps opened into f), -ENOENT when
 * either is missing or foreign, other negative errno on failure.
 */
static int find_ours(int ifindex, struct fi_found *f)
{
	f->data_fd = f->bss_fd = -1;
	for (int d = 0; d < 2; d++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = dir_hook[d]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FI_HANDLE,
				    .priority = FI_PRIO);
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int err, pfd;

		err = bpf_tc_query(&hook, &opts);
		if (err)
			return err == -EINVAL ? -ENOENT : err;
		f->prog_id[d] = opts.prog_id;
		pfd = bpf_prog_get_fd_by_id(opts.prog_id);
		if (pfd < 0)
			return -errno;
		err = bpf_obj_get_info_by_fd(pfd, &info, &len) ? -errno : 0;
		close(pfd);
		if (err)
			return err;
		if (strcmp(info.name, prog_name[d]))
			return -ENOENT;
	}
	return find_maps(f->prog_id[0], f);
}

/* close_found: close the map fds held by f. */
static void close_found(struct fi_found *f)
{
	if (f->data_fd >= 0)
		close(f->data_fd);
	if (f->bss_fd >= 0)
		close(f->bss_fd);
	f->data_fd = f->bss_fd = -1;
}

/* print_cfg: one line describing cfg. */
static void print_cfg(const char *what, const char *ifname,
		      const struct fi_found *f, const struct fi_config *c)
{
	printf("faultinj: %s iface=%s egress_prog=%u ingress_prog=%u "
	       "loss=%u dup=%u in_loss=%u in_dup=%u (permille)\n", what,
	       ifname, f->prog_id[0], f->prog_id[1], c->dir[0].loss_permille,
	       c->dir[0].dup_permille, c->dir[1].loss_permille,
	       c->dir[1].dup_permille);
}

/* do_attach: load+attach, or update the live config. 0 or negative errno. */
static int do_attach(const char *ifname, int ifindex,
		     const struct fi_config *cfg)
{
	struct fi_found f = { .data_fd = -1, .bss_fd = -1 };
	struct faultinj *skel;
	int err;

	err = find_ours(ifindex, &f);
	if (!err) {
		struct faultinj__data data;
		__u32 key = 0;

		data.fi_cfg = *cfg;
		err = bpf_map_update_elem(f.data_fd, &key, &data, BPF_ANY);
		if (err) {
			err = -errno;
			fprintf(stderr, "faultinj: update config: %s\n",
				strerror(-err));
		} else {
			print_cfg("updated", ifname, &f, cfg);
		}
		close_found(&f);
		return err;
	}
	close_found(&f);

	skel = faultinj__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "faultinj: open skeleton: %s\n", strerror(-err));
		return err;
	}
	skel->data->fi_cfg = *cfg;
	bpf_program__set_autoload(skel->progs.fi_reorder, false);
	err = faultinj__load(skel);
	if (err) {
		fprintf(stderr, "faultinj: load: %s\n", strerror(-err));
		goto out_destroy;
	}
	for (int d = 0; d < 2; d++) {
		struct bpf_program *prog = d ? skel->progs.fi_ingress
					     : skel->progs.fi_egress;
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = dir_hook[d]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FI_HANDLE,
				    .priority = FI_PRIO,
				    .flags = BPF_TC_F_REPLACE,
				    .prog_fd = bpf_program__fd(prog));

		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST) {
			fprintf(stderr, "faultinj: create clsact on %s: %s\n",
				ifname, strerror(-err));
			goto out_destroy;
		}
		err = bpf_tc_attach(&hook, &opts);
		if (err) {
			fprintf(stderr, "faultinj: attach %s: %s\n",
				dir_name[d], strerror(-err));
			goto out_destroy;
		}
		f.prog_id[d] = opts.prog_id;
	}
	print_cfg("attached", ifname, &f, cfg);
out_destroy:
	/* The filters hold their own references to programs and maps. */
	faultinj__destroy(skel);
	return err;
}

/* do_stats: print counters of our live filters. 0 or negative errno. */
static int do_stats(const char *ifname, int ifindex)
{
	struct fi_found f;
	struct faultinj__data data;
	struct faultinj__bss bss;
	const struct fi_dir_stats *s = bss.fi_stats;
	__u32 key = 0;
	int err;

	err = find_ours(ifindex, &f);
	if (err) {
		fprintf(stderr, "faultinj: find filters on %s: %s\n", ifname,
			strerror(-err));
		close_found(&f);
		return err;
	}
	if (bpf_map_lookup_elem(f.data_fd, &key, &data) ||
	    bpf_map_lookup_elem(f.bss_fd, &key, &bss)) {
		err = -errno;
		fprintf(stderr, "faultinj: read maps: %s\n", strerror(-err));
		close_found(&f);
		return err;
	}
	printf("faultinj: seen=%llu dropped=%llu duplicated=%llu "
	       "out_seen=%llu out_dropped=%llu out_dup=%llu in_seen=%llu "
	       "in_dropped=%llu in_dup=%llu clone_err=%llu\n",
	       s[0].seen + s[1].seen, s[0].dropped + s[1].dropped,
	       s[0].duplicated + s[1].duplicated, s[0].seen, s[0].dropped,
	       s[0].duplicated, s[1].seen, s[1].dropped, s[1].duplicated,
	       s[0].clone_err + s[1].clone_err);
	print_cfg("config", ifname, &f, &data.fi_cfg);
	close_found(&f);
	return 0;
}

/*
 * count_filters: number of tc filter dump entries under clsact parent of
 * ifindex (0 when the qdisc is absent). Count or negative errno.
 */
static int count_filters(int ifindex, __u32 parent)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = { 0 };
	char buf[16384];
	int fd, count = 0, err = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	req.nh.nlmsg_type = RTM_GETTFILTER;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.tc.tcm_family = AF_UNSPEC;
	req.tc.tcm_ifindex = ifindex;
	req.tc.tcm_parent = parent;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	for (int iter = 0; iter < 10000; iter++) {
		int n = (int)recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;

		if (n < 0) {
			err = -errno;
			goto out;
		}
		for (; NLMSG_OK(nh, (unsigned)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				goto out;
			}
			if (nh->nlmsg_type == RTM_NEWTFILTER)
				count++;
		}
	}
	err = -EIO;
out:
	close(fd);
	return err ? err : count;
}

/* do_detach: remove our filters, then clsact if it is now empty. */
static int do_detach(const char *ifname, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	const char *hook_state = "kept";
	int removed = 0, left = 0, err = 0;

	for (int d = 0; d < 2; d++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
				    .attach_point = dir_hook[d]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FI_HANDLE,
				    .priority = FI_PRIO);
		int e = bpf_tc_detach(&h, &opts);

		if (!e)
			removed++;
		else if (e != -ENOENT && e != -EINVAL)
			fprintf(stderr, "faultinj: detach %s: %s\n",
				dir_name[d], strerror(-(err = e)));
	}
	for (int d = 0; d < 2; d++) {
		int n = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT,
			d ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS));
		if (n < 0) {
			fprintf(stderr, "faultinj: list filters: %s\n",
				strerror(-n));
			return n;
		}
		left += n;
	}
	if (left == 0) {
		int e = bpf_tc_hook_destroy(&hook);
		hook_state = e ? "absent" : "destroyed";
		if (e && e != -ENOENT && e != -EINVAL) {
			fprintf(stderr, "faultinj: destroy clsact: %s\n",
				strerror(-e));
			err = e;
		}
	}
	printf("faultinj: detached iface=%s filters_removed=%d clsact=%s\n",
	       ifname, removed, hook_state);
	return err;
}

/* parse_classid: "MAJ:MIN" (hex, as tc prints it) into *out. 0 or -EINVAL. */
static int parse_classid(const char *s, __u32 *out)
{
	unsigned long maj, min;
	char *end;

	errno = 0;
	maj = strtoul(s, &end, 16);
	if (errno || end == s || *end != ':' || maj == 0 || maj > 0xffff)
		return -EINVAL;
	s = end + 1;
	min = strtoul(s, &end, 16);
	if (errno || end == s || *end || min == 0 || min > 0xffff)
		return -EINVAL;
	*out = TC_H_MAKE(maj << 16, min);
	return 0;
}

/* reorder_hook: the root qdisc MAJ: of classid on ifindex, as a tc hook. */
#define REORDER_HOOK(name, ifindex, classid)                                   \
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, name, .ifindex = (ifindex),           \
			    .attach_point = BPF_TC_CUSTOM,                     \
			    .parent = TC_H_MAJ(classid))

/* nl_attr: append attribute type with len bytes of data at the end of nh
 * (capacity cap). Returns the attribute, or NULL if it does not fit. */
static struct rtattr *nl_attr(struct nlmsghdr *nh, size_t cap, int type,
			      const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > cap)
		return NULL;
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len);
	return a;
}

/*
 * attach_classifier: add (or replace) a cls_bpf direct-action filter running
 * prog_fd under parent MAJ: of ifindex, with TCA_BPF_CLASSID MAJ:0. libbpf's
 * bpf_tc_attach cannot set that classid, and it is needed: a direct-action
 * program can write only the 16-bit minor (skb->tc_classid is a u16 in the
 * qdisc cb), cls_bpf takes the major from the filter's classid. 0 or
 * negative errno.
 */
static int attach_classifier(int ifindex, __u32 classid, int prog_fd)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
		char attrs[256];
	} req = { 0 };
	char buf[4096];
	__u32 fd = (__u32)prog_fd, flags = TCA_BPF_FLAG_ACT_DIRECT;
	__u32 major = TC_H_MAJ(classid);
	struct rtattr *opts;
	int sk, err = 0;
	ssize_t n;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	req.nh.nlmsg_type = RTM_NEWTFILTER;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
			     NLM_F_REPLACE;
	req.nh.nlmsg_seq = 1;
	req.tc.tcm_family = AF_UNSPEC;
	req.tc.tcm_ifindex = ifindex;
	req.tc.tcm_handle = FI_HANDLE;
	req.tc.tcm_parent = major;
	req.tc.tcm_info = TC_H_MAKE(FI_PRIO << 16, htons(ETH_P_ALL));
	if (!nl_attr(&req.nh, sizeof(req), TCA_KIND, "bpf", 4))
		return -E2BIG;
	opts = nl_attr(&req.nh, sizeof(req), TCA_OPTIONS, NULL, 0);
	if (!opts ||
	    !nl_attr(&req.nh, sizeof(req), TCA_BPF_FD, &fd, sizeof(fd)) ||
	    !nl_attr(&req.nh, sizeof(req), TCA_BPF_NAME, "fi_reorder", 11) ||
	    !nl_attr(&req.nh, sizeof(req), TCA_BPF_FLAGS, &flags, sizeof(flags)) ||
	    !nl_attr(&req.nh, sizeof(req), TCA_BPF_CLASSID, &major, sizeof(major)))
		return -E2BIG;
	opts->rta_len = (unsigned short)((char *)&req + req.nh.nlmsg_len - (char *)opts);
	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sk < 0)
		return -errno;
	if (send(sk, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(sk, buf, sizeof(buf), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if (!NLMSG_OK((struct nlmsghdr *)buf, (size_t)n) ||
	    ((struct nlmsghdr *)buf)->nlmsg_type != NLMSG_ERROR)
		err = -EIO;
	else
		err = ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error;
out:
	close(sk);
	return err;
}

/* do_reorder: load and attach fi_reorder. 0 or negative errno. */
static int do_reorder(const char *ifname, int ifindex, __u32 permille,
		      __u32 classid)
{
	REORDER_HOOK(hook, ifindex, classid);
	struct faultinj *skel;
	int err;

	skel = faultinj__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "faultinj: open skeleton: %s\n", strerror(-err));
		return err;
	}
	skel->data->fi_cfg.reorder_permille = permille;
	skel->data->fi_cfg.reorder_classid = TC_H_MIN(classid); /* see attach_classifier */
	/* only the classifier: the clsact programs stay unloaded */
	bpf_program__set_autoload(skel->progs.fi_egress, false);
	bpf_program__set_autoload(skel->progs.fi_ingress, false);
	err = faultinj__load(skel);
	if (err) {
		fprintf(stderr, "faultinj: load: %s\n", strerror(-err));
		goto out;
	}
	err = attach_classifier(ifindex, classid,
				bpf_program__fd(skel->progs.fi_reorder));
	if (err) {
		fprintf(stderr, "faultinj: attach reorder to %x: on %s "
			"(a classful root qdisc must exist): %s\n",
			TC_H_MAJ(classid) >> 16, ifname, strerror(-err));
		goto out;
	}
	{
		/* read back what the kernel now runs there */
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FI_HANDLE,
				    .priority = FI_PRIO);

		err = bpf_tc_query(&hook, &opts);
		if (err) {
			fprintf(stderr, "faultinj: query reorder filter on %s: "
				"%s\n", ifname, strerror(-err));
			goto out;
		}
		printf("faultinj: reorder iface=%s prog=%u rate=%u (permille) "
		       "class=%x:%x\n", ifname, opts.prog_id, permille,
		       TC_H_MAJ(classid) >> 16, TC_H_MIN(classid));
	}
out:
	faultinj__destroy(skel);
	return err;
}

/* do_reorder_stats: counters of the fi_reorder filter. 0 or negative errno. */
static int do_reorder_stats(const char *ifname, int ifindex, __u32 classid)
{
	REORDER_HOOK(hook, ifindex, classid);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FI_HANDLE,
			    .priority = FI_PRIO);
	struct fi_found f = { .data_fd = -1, .bss_fd = -1 };
	struct faultinj__data data;
	struct faultinj__bss bss;
	__u32 key = 0;
	int err;

	err = bpf_tc_query(&hook, &opts);
	if (!err)
		err = find_maps(opts.prog_id, &f);
	if (!err && (bpf_map_lookup_elem(f.data_fd, &key, &data) ||
		     bpf_map_lookup_elem(f.bss_fd, &key, &bss)))
		err = -errno;
	close_found(&f);
	if (err) {
		fprintf(stderr, "faultinj: reorder filter on %s: %s\n", ifname,
			strerror(-err));
		return err;
	}
	printf("faultinj: reorder iface=%s seen=%llu moved=%llu rate=%u "
	       "(permille) class=%x:%x\n", ifname, bss.fi_reo.seen,
	       bss.fi_reo.moved, data.fi_cfg.reorder_permille,
	       TC_H_MAJ(classid) >> 16, data.fi_cfg.reorder_classid);
	return 0;
}

/* usage: print the CLI synopsis and exit 2. */
static void usage(void)
{
	fprintf(stderr,
		"usage: faultinj attach --iface IF --loss P --dup P "
		"[--in-loss P] [--in-dup P] [--rehash 0|1]\n"
		"       faultinj stats --iface IF [--class MAJ:MIN]\n"
		"       faultinj detach --iface IF\n"
		"       faultinj reorder --iface IF --rate P --class MAJ:MIN\n"
		"P: permille 0..1000, or percent with '%%' suffix\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fi_config cfg = { .magic = FI_CFG_MAGIC };
	const char *cmd, *ifname = NULL;
	int have[4] = { 0 }, have_class = 0, have_rate = 0, ifindex, err;
	__u32 classid = 0, rate = 0;
	__u32 *slot[4] = { &cfg.dir[0].loss_permille, &cfg.dir[0].dup_permille,
			   &cfg.dir[1].loss_permille,
			   &cfg.dir[1].dup_permille };
	static const char *const pname[4] = { "--loss", "--dup", "--in-loss",
					      "--in-dup" };

	if (argc < 2 || argc % 2)
		usage();
	cmd = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		int k;

		if (!strcmp(argv[i], "--iface")) {
			ifname = argv[i + 1];
			continue;
		}
		if (!strcmp(argv[i], "--class") &&
		    (!strcmp(cmd, "reorder") || !strcmp(cmd, "stats"))) {
			if (parse_classid(argv[i + 1], &classid)) {
				fprintf(stderr, "faultinj: --class: bad value "
					"'%s' (want MAJ:MIN, hex)\n", argv[i + 1]);
				return 2;
			}
			have_class = 1;
			continue;
		}
		if (!strcmp(argv[i], "--rehash") && !strcmp(cmd, "attach")) {
			if (strcmp(argv[i + 1], "0") && strcmp(argv[i + 1], "1"))
				usage();
			cfg.dup_rehash = argv[i + 1][0] == '1';
			continue;
		}
		if (!strcmp(argv[i], "--rate") && !strcmp(cmd, "reorder")) {
			if (parse_permille(argv[i + 1], &rate)) {
				fprintf(stderr, "faultinj: --rate: bad value "
					"'%s'\n", argv[i + 1]);
				return 2;
			}
			have_rate = 1;
			continue;
		}
		for (k = 0; k < 4 && strcmp(argv[i], pname[k]); k++)
			;
		if (k == 4 || strcmp(cmd, "attach"))
			usage();
		if (parse_permille(argv[i + 1], slot[k])) {
			fprintf(stderr, "faultinj: %s: bad value '%s'\n",
				pname[k], argv[i + 1]);
			return 2;
		}
		have[k] = 1;
	}
	if (!ifname)
		usage();
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "faultinj: interface %s: %s\n", ifname,
			strerror(errno));
		return 1;
	}
	libbpf_set_print(libbpf_quiet);

	if (!strcmp(cmd, "attach")) {
		if (!have[0] || !have[1])
			usage();
		if (!have[2])
			cfg.dir[1].loss_permille = cfg.dir[0].loss_permille;
		if (!have[3])
			cfg.dir[1].dup_permille = cfg.dir[0].dup_permille;
		err = do_attach(ifname, ifindex, &cfg);
	} else if (!strcmp(cmd, "reorder")) {
		if (!have_rate || !have_class)
			usage();
		err = do_reorder(ifname, ifindex, rate, classid);
	} else if (!strcmp(cmd, "stats") && have_class) {
		err = do_reorder_stats(ifname, ifindex, classid);
	} else if (!strcmp(cmd, "stats")) {
		err = do_stats(ifname, ifindex);
	} else if (!strcmp(cmd, "detach")) {
		err = do_detach(ifname, ifindex);
	} else {
		usage();
		err = -EINVAL;
	}
	return err ? 1 : 0;
}
