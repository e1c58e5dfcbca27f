/* faultinj.c -- loader for faultinj.bpf.c: attach/stats/detach TCP loss+duplication on a client veth. */
/*
 *   faultinj attach --iface IF --loss P --dup P [--in-loss P] [--in-dup P]
 *   faultinj stats  --iface IF
 *   faultinj detach --iface IF
 * Run inside the client netns (ip netns exec ...). P is permille (0..1000),
 * or percent with a '%' suffix ("3%", "0.5%"). --loss/--dup set the egress
 * (client->server) direction; --in-loss/--in-dup default to the same values.
 * Filters are legacy TC (clsact, direct-action) at FI_HANDLE/FI_PRIO, so they
 * outlive this process. Re-running attach while our filters are present only
 * rewrites the live config (.data), keeping the counters.
 * Errors are negative errno; messages read "faultinj: <operation>: <reason>".
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
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
	__u32 pad;
	struct fi_dir_cfg dir[2]; /* [0] egress, [1] ingress */
};
struct fi_dir_stats {
	__u64 seen, dropped, duplicated, clone_err;
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

/* usage: print the CLI synopsis and exit 2. */
static void usage(void)
{
	fprintf(stderr,
		"usage: faultinj attach --iface IF --loss P --dup P "
		"[--in-loss P] [--in-dup P]\n"
		"       faultinj stats --iface IF\n"
		"       faultinj detach --iface IF\n"
		"P: permille 0..1000, or percent with '%%' suffix\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fi_config cfg = { .magic = FI_CFG_MAGIC };
	const char *cmd, *ifname = NULL;
	int have[4] = { 0 }, ifindex, err;
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
