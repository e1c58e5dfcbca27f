/* gc.c -- flow-table garbage collection: an entry goes only when the
 * kernel confirms (sock_diag) that its connection has no live socket, so a
 * live splice is never evicted. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <bpf/bpf.h>
#include "gc.h"

/* TCP states (include/net/tcp_states.h) in which data can still flow. */
#define ALIVE_STATES ((1 << TCP_ESTABLISHED) | (1 << TCP_SYN_RECV) | \
		      (1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | \
		      (1 << TCP_CLOSE_WAIT) | (1 << TCP_LAST_ACK) | (1 << TCP_CLOSING))

/* Exact-tuple sock_diag query. */
int pf_sock_alive(const struct pf_flow_key *key)
{
	struct {
		struct nlmsghdr n;
		struct inet_diag_req_v2 r;
	} req = {
		.n = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST,
			.nlmsg_seq = 1,
		},
		.r = {
			.sdiag_family = key->family == 6 ? AF_INET6 : AF_INET,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = ~0u,
		},
	};
	char buf[4096];
	struct nlmsghdr *h;
	ssize_t n;
	int fd, ret = 0;

	req.r.id.idiag_sport = key->sport;
	req.r.id.idiag_dport = key->cport;
	memcpy(req.r.id.idiag_src, key->saddr, key->family == 6 ? 16 : 4);
	memcpy(req.r.id.idiag_dst, key->caddr, key->family == 6 ? 16 : 4);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		ret = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, (size_t)n)) {
		ret = -EIO;
		goto out;
	}
	if (h->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(h);

		ret = e->error == -ENOENT ? 0 : e->error;
		goto out;
	}
	if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
		struct inet_diag_msg *m = NLMSG_DATA(h);

		ret = (ALIVE_STATES >> m->idiag_state) & 1;
	}
out:
	close(fd);
	return ret;
}

int pf_gc_flows(int fd, __u64 now_ns, __u64 min_idle_ns, unsigned *freed)
{
	struct pf_flow_key key, next;
	struct pf_flow val;
	int live = 0, more;

	*freed = 0;
	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		/* fetch the successor first: deleting key would restart a walk */
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (!bpf_map_lookup_elem(fd, &key, &val)) {
			if (!val.fin && now_ns - val.last_ns < min_idle_ns)
				live++;
			else if (pf_sock_alive(&key) != 0)
				live++;  /* alive, or unknown (error): keep */
			else if (!bpf_map_delete_elem(fd, &key))
				(*freed)++;
		}
		key = next;
	}
	return live;
}
