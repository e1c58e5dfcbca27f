/* sockdiag.c -- TCP socket dumps and SOCK_DESTROY through NETLINK_SOCK_DIAG
 * (see sockdiag.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include "sockdiag.h"
#include "log.h"

/* TCP states (include/net/tcp_states.h) in which data can still flow,
 * and TIME_WAIT (reported as such: pf_diag_cb's timewait). */
#define ALIVE_STATES ((1 << TCP_ESTABLISHED) | (1 << TCP_SYN_RECV) | \
		      (1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | \
		      (1 << TCP_CLOSE_WAIT) | (1 << TCP_LAST_ACK) | (1 << TCP_CLOSING))
#define DUMP_STATES  (ALIVE_STATES | (1 << TCP_TIME_WAIT))

/* More local ports than this: dump every port (the filter's bytecode
 * would approach the attribute's 64 KiB). */
#define PF_DIAG_MAX_PORTS 1024
#define PF_DIAG_RCVBUF    (64 * 1024)

struct diag_req {
	struct nlmsghdr n;
	struct inet_diag_req_v2 r;
	struct nlattr a;
	struct inet_diag_bc_op bc[3 * PF_DIAG_MAX_PORTS];
};

/* The bytecode "local port is one of ports" into bc; returns its length
 * in bytes (0: no filter). For each port but the last: S_EQ (true: go on
 * to the JMP, false: skip it to the next port), the port, JMP to the end
 * (accept); the last port's false branch jumps 4 bytes past the end
 * (reject). The kernel's audit wants every false target on the chain of
 * true branches, which this layout keeps (as iproute2's ss does). */
static int port_filter(const __u64 *ports, struct inet_diag_bc_op *bc)
{
	unsigned p, n = 0, i = 0, len;

	if (!ports)
		return 0;
	for (p = 0; p < 65536; p++)
		n += (ports[p >> 6] >> (p & 63)) & 1;
	if (!n || n > PF_DIAG_MAX_PORTS)
		return 0;
	len = 12 * (n - 1) + 8;
	for (p = 0; p < 65536; p++) {
		if (!((ports[p >> 6] >> (p & 63)) & 1))
			continue;
		bc[i] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_EQ, 8, 12 };
		bc[i + 1] = (struct inet_diag_bc_op){ 0, 0, (unsigned short)p };
		if (--n == 0)
			break;
		bc[i + 2] = (struct inet_diag_bc_op){ INET_DIAG_BC_JMP, 4,
			(unsigned short)(len - 4 * (i + 2)) };
		i += 3;
	}
	return (int)len;
}

/* msg as a flow key (remote = client, local = server). */
static void msg_key(const struct inet_diag_msg *m, struct pf_flow_key *k)
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const __u8 *src = (const __u8 *)m->id.idiag_src, *dst = (const __u8 *)m->id.idiag_dst;

	memset(k, 0, sizeof(*k));
	k->cport = m->id.idiag_dport;
	k->sport = m->id.idiag_sport;
	if (m->idiag_family == AF_INET6 && memcmp(src, mapped, 12)) {
		k->family = 6;
		memcpy(k->saddr, src, 16);
		memcpy(k->caddr, dst, 16);
		return;
	}
	k->family = 4;
	memcpy(k->saddr, m->idiag_family == AF_INET6 ? src + 12 : src, 4);
	memcpy(k->caddr, m->idiag_family == AF_INET6 ? dst + 12 : dst, 4);
}

/* One dump of family af through fd; cb for each socket. */
static int dump_family(int fd, int af, struct diag_req *req, int bclen, char *buf,
		       pf_diag_cb cb, void *ctx)
{
	struct nlmsghdr *h;
	ssize_t n;
	int ret;

	memset(&req->n, 0, sizeof(req->n) + sizeof(req->r) + sizeof(req->a));
	req->n.nlmsg_len = NLMSG_LENGTH(sizeof(req->r));
	req->n.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req->n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req->n.nlmsg_seq = (__u32)af;
	req->r.sdiag_family = (__u8)af;
	req->r.sdiag_protocol = IPPROTO_TCP;
	req->r.idiag_states = DUMP_STATES;
	if (bclen) {
		req->a.nla_type = INET_DIAG_REQ_BYTECODE;
		req->a.nla_len = (__u16)(NLA_HDRLEN + bclen);
		req->n.nlmsg_len += NLA_ALIGN(req->a.nla_len);
	}
	if (send(fd, req, req->n.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, buf, PF_DIAG_RCVBUF, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != (__u32)af)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error ?: -EIO;
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				struct pf_flow_key k;

				msg_key(m, &k);
				ret = cb(ctx, &k, m->idiag_state == TCP_TIME_WAIT);
				if (ret)
					return ret;
			}
		}
	}
}

/* The last dump's error (0: it worked), shared by the GC thread and the
 * drain's reset. */
static int dump_err;

/* See sockdiag.h. */
int pf_diag_dump(const __u64 *ports, pf_diag_cb cb, void *ctx)
{
	struct diag_req *req = malloc(sizeof(*req));
	char *buf = malloc(PF_DIAG_RCVBUF);
	int fd = -1, bclen, err;

	err = -ENOMEM;
	if (!req || !buf)
		goto out;
	bclen = port_filter(ports, req->bc);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = dump_family(fd, AF_INET, req, bclen, buf, cb, ctx);
	if (!err)
		err = dump_family(fd, AF_INET6, req, bclen, buf, cb, ctx);
out:
	/* once per errno in a row: the GC dumps every second, and a kernel
	 * without sock_diag fails every time */
	if (err < 0 && __atomic_exchange_n(&dump_err, err, __ATOMIC_RELAXED) != err)
		pr_warn("sock_diag dump: %s", strerror(-err));
	else if (err >= 0)
		__atomic_store_n(&dump_err, 0, __ATOMIC_RELAXED);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(req);
	return err;
}

/* See sockdiag.h. */
int pf_diag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	return fd < 0 ? -errno : fd;
}

/* See sockdiag.h. */
int pf_diag_destroy(int nlfd, const struct pf_flow_key *k)
{
	struct {
		struct nlmsghdr n;
		struct inet_diag_req_v2 r;
	} req = {
		.n = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DESTROY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
			.nlmsg_seq = 1,
		},
		.r = {
			.sdiag_family = k->family == 6 ? AF_INET6 : AF_INET,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = ~0u,
		},
	};
	char buf[1024];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	req.r.id.idiag_sport = k->sport;
	req.r.id.idiag_dport = k->cport;
	memcpy(req.r.id.idiag_src, k->saddr, k->family == 6 ? 16 : 4);
	memcpy(req.r.id.idiag_dst, k->caddr, k->family == 6 ? 16 : 4);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (send(nlfd, &req, sizeof(req), 0) < 0)
		return -errno;
	do
		n = recv(nlfd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(h, (size_t)n) || h->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	return ((struct nlmsgerr *)NLMSG_DATA(h))->error; /* 0: the ack */
}
