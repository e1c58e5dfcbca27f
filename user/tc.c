/* tc.c -- attach/detach preflightd's TC programs as a good citizen: reuse an
 * existing clsact, never delete one that still holds other filters. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_sched.h>
#include <bpf/libbpf.h>
#include "tc.h"
#include "log.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#define TC_H_MIN_EGRESS  0xFFF3U
#endif

/* Count the filters (entries with a handle) on one clsact hook by an
 * RTM_GETTFILTER dump. Returns the count (0 if there is no clsact) or a
 * negative errno. */
int pf_tc_count_filters(int ifindex, bool ingress)
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
	char buf[16384];
	int fd, count = 0, err = 0, done = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		struct nlmsghdr *h;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				/* no clsact qdisc: no filters */
				err = e->error == -EINVAL || e->error == -ENOENT ? 0 : e->error;
				done = 1;
				break;
			}
			if (h->nlmsg_type == RTM_NEWTFILTER) {
				struct tcmsg *t = NLMSG_DATA(h);

				if (t->tcm_handle)
					count++;
			}
		}
	}
out:
	close(fd);
	return err ? err : count;
}

static int attach_one(int ifindex, enum bpf_tc_attach_point ap, __u32 prio, int fd,
		      bool replace)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PF_TC_HANDLE,
			    .priority = prio, .prog_fd = fd,
			    .flags = replace ? BPF_TC_F_REPLACE : 0);

	return bpf_tc_attach(&hook, &opts);
}

static int detach_one(int ifindex, enum bpf_tc_attach_point ap, __u32 prio)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PF_TC_HANDLE, .priority = prio);

	return bpf_tc_detach(&hook, &opts);
}

/* Attach in_fd at the head of ingress and out_fd at the tail of egress.
 * On failure, undoes what it did and returns a negative errno. */
int pf_tc_attach(struct pf_tc *tc, int ifindex, int in_fd, int out_fd, bool replace)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err;

	memset(tc, 0, sizeof(*tc));
	tc->ifindex = ifindex;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("create clsact qdisc: %s", strerror(-err));
		return err;
	}
	tc->hook_created = err == 0;
	err = attach_one(ifindex, BPF_TC_INGRESS, PF_TC_PRIO_IN, in_fd, replace);
	if (err) {
		pr_warn("attach TC ingress: %s%s", strerror(-err), err == -EEXIST ?
			" (a preflightd filter is already there: stale? run 'preflightd detach --iface IF')" : "");
		goto fail;
	}
	tc->in_attached = true;
	err = attach_one(ifindex, BPF_TC_EGRESS, PF_TC_PRIO_OUT, out_fd, replace);
	if (err) {
		pr_warn("attach TC egress: %s", strerror(-err));
		goto fail;
	}
	tc->out_attached = true;
	return 0;
fail:
	pf_tc_detach(tc);
	return err;
}

/* Remove our filters, then the clsact qdisc if we created it and it is
 * now empty. */
void pf_tc_detach(struct pf_tc *tc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err;

	if (tc->in_attached) {
		err = detach_one(tc->ifindex, BPF_TC_INGRESS, PF_TC_PRIO_IN);
		if (err)
			pr_warn("detach TC ingress: %s", strerror(-err));
		tc->in_attached = false;
	}
	if (tc->out_attached) {
		err = detach_one(tc->ifindex, BPF_TC_EGRESS, PF_TC_PRIO_OUT);
		if (err)
			pr_warn("detach TC egress: %s", strerror(-err));
		tc->out_attached = false;
	}
	if (tc->hook_created && pf_tc_count_filters(tc->ifindex, true) == 0 &&
	    pf_tc_count_filters(tc->ifindex, false) == 0) {
		err = bpf_tc_hook_destroy(&hook);
		if (err)
			pr_warn("remove clsact qdisc: %s", strerror(-err));
	}
	tc->hook_created = false;
}

/* Remove filters with preflightd's handle/priorities from ifindex. */
int pf_tc_detach_stale(int ifindex)
{
	int n = 0;

	if (!detach_one(ifindex, BPF_TC_INGRESS, PF_TC_PRIO_IN))
		n++;
	if (!detach_one(ifindex, BPF_TC_EGRESS, PF_TC_PRIO_OUT))
		n++;
	return n;
}
