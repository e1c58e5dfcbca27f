/* replay.c -- the slow path's replay of punted segments (see replay.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include "replay.h"
#include "kfeat.h"
#include "log.h"

/* The one's complement sum of n bytes at p, added to sum (16-bit words
 * in network order, an odd last byte padded with zero), not folded. */
static __u64 sum16(__u64 sum, const __u8 *p, __u32 n)
{
	__u32 i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (__u32)p[n - 1] << 8;
	return sum;
}

/* sum folded to 16 bits */
static __u32 fold16(__u64 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u32)sum;
}

/* The 16-bit field at p (network order). */
static __u32 field16(const __u8 *p)
{
	return (__u32)p[0] << 8 | p[1];
}

/* See replay.h. */
int pf_replay_csum(__u8 *frame, __u32 len, __u32 l4)
{
	__u8 *ip = frame + ETH_HLEN, *tcp = frame + l4;
	__u32 tcp_len, psum, c;
	__u64 sum;

	if (len < l4 + 20 || l4 < ETH_HLEN + 20)
		return -EINVAL;
	tcp_len = len - l4;
	if ((ip[0] >> 4) == 4 && l4 == ETH_HLEN + 20 && ip[9] == IPPROTO_TCP) {
		if (fold16(sum16(0, ip, 20)) != 0xffff)
			return -EBADMSG;  /* never offloaded: a bad header */
		sum = sum16(0, ip + 12, 8);          /* source and destination */
	} else if ((ip[0] >> 4) == 6 && l4 == ETH_HLEN + 40 && ip[6] == IPPROTO_TCP) {
		sum = sum16(0, ip + 8, 32);
	} else {
		return -EINVAL;
	}
	psum = fold16(sum + IPPROTO_TCP + tcp_len);
	if (fold16(sum16(psum, tcp, tcp_len)) == 0xffff)
		return 0;                            /* verifies: kept */
	if (field16(tcp + 16) != psum)
		return -EBADMSG;
	/* CHECKSUM_PARTIAL's field: the pseudo-header's sum, completed */
	tcp[16] = tcp[17] = 0;
	c = ~fold16(sum16(psum, tcp, tcp_len)) & 0xffff;
	tcp[16] = (__u8)(c >> 8);
	tcp[17] = (__u8)c;
	return 0;
}

/* The segment's identity: its addresses, ports and sequence number,
 * hashed (FNV-1a; never 0). */
static __u64 seg_key(const __u8 *frame, __u32 l4)
{
	const __u8 *ip = frame + ETH_HLEN;
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 i, off = l4 == ETH_HLEN + 20 ? 12 : 8, n = l4 == ETH_HLEN + 20 ? 8 : 32;

	for (i = 0; i < n; i++)
		h = (h ^ ip[off + i]) * 0x100000001b3ULL;
	for (i = 0; i < 8; i++)                      /* ports, seq */
		h = (h ^ frame[l4 + i]) * 0x100000001b3ULL;
	return h | 1;
}

/* Was the segment key replayed at or after now - PF_REPLAY_MAX_AGE_NS? */
static bool recent_has(const struct pf_replay *r, __u64 key, __u64 now)
{
	unsigned i;

	for (i = 0; i < PF_REPLAY_RECENT; i++)
		if (r->recent[i].key == key && now - r->recent[i].ns <= PF_REPLAY_MAX_AGE_NS)
			return true;
	return false;
}

/* Remember the segment key as replayed at now, in place of the oldest. */
static void recent_add(struct pf_replay *r, __u64 key, __u64 now)
{
	r->recent[r->next].key = key;
	r->recent[r->next].ns = now;
	r->next = (r->next + 1) % PF_REPLAY_RECENT;
}

/* See replay.h. */
bool pf_replay_recent(struct pf_replay *r, const __u8 *frame, __u32 l4, __u64 now,
		      bool remember)
{
	__u64 key = seg_key(frame, l4);

	if (recent_has(r, key, now))
		return true;
	if (remember)
		recent_add(r, key, now);
	return false;
}

/* One test run of pf_replay_tc (tc_fd) on frame (len bytes), to clone it
 * to the receive path of ifindex (cb[0]). Returns 0 with the program's
 * result -- bpf_clone_redirect's: 0, -errno or NET_RX_DROP (1) -- in
 * *ret, or the run's -errno. */
static int tc_run(int tc_fd, __u8 *frame, __u32 len, __u32 ifindex, int *ret)
{
	struct __sk_buff sb = { .cb = { ifindex } };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .ctx_in = &sb, .ctx_size_in = sizeof(sb), .repeat = 1);

	if (bpf_prog_test_run_opts(tc_fd, &o))
		return -errno;
	*ret = (int)o.retval;
	return 0;
}

/* A run of pf_replay_tc (tc_fd) that clones nothing: ifindex 0 names no
 * device, so bpf_clone_redirect answers -EINVAL before it clones.
 * Returns 0 if the kernel runs it so, else -errno (-EPROTO: another
 * answer). */
static int tc_probe(int tc_fd)
{
	__u8 frame[ETH_HLEN + 20] = { [12] = 0x08 };   /* an IPv4 EtherType */
	int err, ret;

	if (tc_fd <= 0)
		return -EBADF;
	err = tc_run(tc_fd, frame, sizeof(frame), 0, &ret);
	if (err)
		return err;
	return ret == -EINVAL ? 0 : -EPROTO;
}

/* See replay.h. */
void pf_replay_start(struct pf_replay *r, int xdp_fd, int tc_fd, int ifindex, bool tc_ok)
{
	int live = pf_kfeat_xdp_live(), err;

	r->prog_fd = -1;
	r->tc_fd = -1;
	r->ifindex = ifindex;
	if (live > 0) {
		r->prog_fd = xdp_fd;
		return;
	}
	if (live < 0) {
		pr_warn("slow path: replay off: probe live-frame test runs: %s (decided segments "
			"wait for the client's retransmission)", strerror(-live));
		return;
	}
	if (!tc_ok) {
		pr_info("slow path: replay off: this kernel refuses live-frame test runs, and in "
			"native XDP mode TC takes only the frames XDP marks (decided segments wait "
			"for the client's retransmission)");
		return;
	}
	err = tc_probe(tc_fd);
	if (err) {
		pr_warn("slow path: replay off: probe TC test runs: %s (decided segments wait for "
			"the client's retransmission)", strerror(-err));
		return;
	}
	r->tc_fd = tc_fd;
	pr_info("slow path: this kernel refuses live-frame test runs: replays by TC test run "
		"(a clone to the receive path)");
}

/* Hand frame (len bytes) to the interface's receive path: a live-frame
 * run of pf_replay_xdp, or a run of pf_replay_tc, which clones it there.
 * Returns 0 or -errno: bpf_clone_redirect's own, or -ENOBUFS for its
 * NET_RX_DROP (the interface down, or its backlog full). */
static int replay_send(const struct pf_replay *r, __u8 *frame, __u32 len)
{
	struct xdp_md md = { .data_end = len, .ingress_ifindex = (__u32)r->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	int err, ret;

	if (r->prog_fd > 0)
		return bpf_prog_test_run_opts(r->prog_fd, &o) ? -errno : 0;
	err = tc_run(r->tc_fd, frame, len, (__u32)r->ifindex, &ret);
	if (err)
		return err;
	return ret > 0 ? -ENOBUFS : ret;
}

/* See replay.h. */
int pf_replay(struct pf_replay *r, const struct pf_punt_rec *rec, struct pf_config *cfg)
{
	static __u8 frame[PF_PUNT_FRAME_MAX];   /* the daemon's one thread reads punts */
	struct timespec ts;
	__u64 now, key = 0;
	int err;

	if ((r->prog_fd <= 0 && r->tc_fd <= 0) || !rec->frame_len ||
	    rec->frame_len > PF_PUNT_FRAME_MAX || rec->frame_len < rec->frame_l4 + 20)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);   /* bpf_ktime_get_ns's clock */
	now = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	if (now - rec->ns > PF_REPLAY_MAX_AGE_NS)
		return 0;
	memcpy(frame, rec->frame, rec->frame_len);
	err = pf_replay_csum(frame, rec->frame_len, rec->frame_l4);
	if (!err) {
		key = seg_key(frame, rec->frame_l4);
		if (recent_has(r, key, now))
			return 0;
		err = replay_send(r, frame, rec->frame_len);
	}
	if (err) {
		cfg->replay_failed++;
		if (r->warned != err)
			pr_warn("slow path: replay by %s: %s (decided segments wait for the "
				"client's retransmission)", r->prog_fd > 0 ? "live-frame run" :
				"TC test run", strerror(-err));
		r->warned = err;
		return err;
	}
	recent_add(r, key, now);   /* a failed run is tried again */
	cfg->replayed++;
	pr_debug("slow path: %u-byte segment replayed %.1f ms after its punt",
		 rec->frame_len, (now - rec->ns) / 1e6);
	return 1;
}
