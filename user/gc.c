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
#include <stdio.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "gc.h"
#include "log.h"

/* TCP states (include/net/tcp_states.h) in which data can still flow. */
#define ALIVE_STATES ((1 << TCP_ESTABLISHED) | (1 << TCP_SYN_RECV) | \
		      (1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | \
		      (1 << TCP_CLOSE_WAIT) | (1 << TCP_LAST_ACK) | (1 << TCP_CLOSING))

/* Send one exact-tuple sock_diag request of type (SOCK_DIAG_BY_FAMILY or
 * SOCK_DESTROY) for key. Returns the socket's TCP state (>= 0) for a
 * query, 0 for a destroy, or -errno (-ENOENT: no such socket). */
static int diag_request(const struct pf_flow_key *key, __u16 type)
{
	struct {
		struct nlmsghdr n;
		struct inet_diag_req_v2 r;
	} req = {
		.n = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = type,
			.nlmsg_flags = NLM_F_REQUEST | (type == SOCK_DESTROY ? NLM_F_ACK : 0),
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
	int fd, ret = -EIO;

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

		ret = e->error; /* 0: ack of a destroy */
		goto out;
	}
	if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
		struct inet_diag_msg *m = NLMSG_DATA(h);

		ret = m->idiag_state;
	}
out:
	close(fd);
	return ret;
}

/* 1 if a socket for key can still exchange data, 0 if not, -errno. */
int pf_sock_alive(const struct pf_flow_key *key)
{
	int st = diag_request(key, SOCK_DIAG_BY_FAMILY);

	if (st == -ENOENT)
		return 0;
	if (st < 0)
		return st;
	return (ALIVE_STATES >> st) & 1;
}

/* Abort the local socket of key: the kernel resets the connection (RST to
 * the peer, ECONNABORTED to the app). Returns 0 or -errno. */
int pf_sock_destroy(const struct pf_flow_key *key)
{
	return diag_request(key, SOCK_DESTROY);
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
			/* only a connection that carries a splice needs
			 * translating: identity-tracked ones are not live */
			if (!val.fin && now_ns - val.last_ns < min_idle_ns)
				live += val.splices > 0;
			else if (pf_sock_alive(&key) != 0)
				live += val.splices > 0;  /* alive, or unknown (error): keep */
			else if (!bpf_map_delete_elem(fd, &key))
				(*freed)++;
		}
		key = next;
	}
	return live;
}

/* Format key as "client -> server" into buf. */
static void key_str(const struct pf_flow_key *k, char *buf, size_t n)
{
	char c[INET6_ADDRSTRLEN], sv[INET6_ADDRSTRLEN];
	int af = k->family == 6 ? AF_INET6 : AF_INET;

	inet_ntop(af, k->caddr, c, sizeof(c));
	inet_ntop(af, k->saddr, sv, sizeof(sv));
	snprintf(buf, n, af == AF_INET6 ? "[%s]:%u -> [%s]:%u" : "%s:%u -> %s:%u",
		 c, ntohs(k->cport), sv, ntohs(k->sport));
}

int pf_gc_reset_all(int fd)
{
	struct pf_flow_key key, next;
	struct pf_flow val;
	char name[128];
	int more, n = 0, err;

	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(fd, &key, &next);
		/* never spliced: nothing to translate, the stack serves it */
		if (bpf_map_lookup_elem(fd, &key, &val) || !val.splices) {
			key = next;
			continue;
		}
		key_str(&key, name, sizeof(name));
		err = pf_sock_destroy(&key);
		if (!err || err == -ENOENT) {
			if (!err) {
				pr_warn("drain timeout: reset %s", name);
				n++;
			}
			bpf_map_delete_elem(fd, &key);
		} else {
			pr_warn("drain timeout: reset %s: %s", name, strerror(-err));
		}
		key = next;
	}
	return n;
}
