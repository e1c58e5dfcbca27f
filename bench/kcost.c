/* kcost.c -- in-kernel cost of one answered preflight, measured with BPF_PROG_TEST_RUN. */
/*
 *   kcost --request FILE [--size FILE]... [--runs N] [--floor] [--stages] [--other]
 *         [--acks] [--may-goto no]
 *         POLICY...
 *
 * Loads the test build of the datapath (build/tests/bpf/preflightd_test,
 * socket state mocked through the pf_test_sock map, see bpf/pf_sock.h)
 * once per POLICY, sizes its maps, installs the compiled policy and sets
 * the Date header with the daemon's own code (user/maps.c, through the
 * object's map fds) and feeds pf_tc_ingress and pf_xdp_ingress a steady keep-alive
 * conversation: N requests with the bytes of FILE (bench/preflight.txt),
 * each one acking the previous response -- what a browser's connection
 * looks like to the datapath after its first preflight. The socket mock
 * stays fixed: the server socket never sees the consumed requests nor the
 * injected responses.
 *
 * Why one request per BPF_PROG_TEST_RUN call and not `repeat`: the
 * datapath rewrites the frame in place into the 204, so with repeat > 1
 * every iteration after the first runs on the response, not on a request
 * (the repeat_check line shows how many of a repeat of 1000 were answered).
 * Each call runs with repeat = 1 and is timed by the kernel
 * (opts.duration: ktime around the program run, which includes the
 * test-run overhead measured by the "empty" series).
 *
 * All series are interleaved (chunks of 250 runs, round robin) so that
 * the machine's other load falls on all of them alike: the policy sizes,
 * TC and XDP, the stages and the floor are compared side by side.
 *
 * Every answer must come back as TC_ACT_REDIRECT / XDP_TX with a 204 and
 * valid IP and TCP checksums, and each object's ANSWERED counter must
 * move by exactly the number of answers; otherwise kcost fails (exit 1).
 *
 * --stages (first POLICY only) also times the conversation stopped at
 * successive points of the answer path, each doing all the work of the
 * one before: "not_options" (first byte changed: entry, packet parse,
 * flow look-up, prefix check), "plain_options" (no Origin: + request copy
 * and the whole HTTP parse), "no_socket" (socket mock invalid: + policy
 * match and response build); the full answer adds the socket guards, the
 * checksum check, the flow update and the rewrite.
 *
 * --may-goto no: the datapath as a kernel before 6.9 loads it (its
 * bpf_loop callbacks instead of the open-coded loops, user/kfeat.h),
 * whatever this kernel has.
 *
 * --size FILE (repeatable, first POLICY only) also times the answer to
 * another request (bench/preflight-*.txt: shorter and longer ones), as
 * series "tc.size" / "xdp.size" with that request's req_file and req_len.
 *
 * --other (first POLICY only) also times what the datapath costs the
 * connection's other traffic, as a keep-alive conversation of an app's
 * ordinary requests (OTHER_REQ) and responses (OTHER_RESP), one client
 * segment through the ingress and one server segment through
 * pf_tc_egress per step:
 *   "xlate_in" / "xlate_out": a spliced connection (the preflight answered
 *     once, in the warm-up): the client's segments leave the ingress with
 *     seq - L and ack - R, the server's leave egress with seq + R and
 *     ack + L (L, R: the preflight's and the 204's lengths);
 *   "tracked_in" / "tracked_out": a connection on the policy port that was
 *     never spliced (followed from its first request, as every connection
 *     on an answered port is): its segments leave unchanged (XDP with
 *     metadata hands the first request to TC ingress, which creates its
 *     flow entry: run there in the warm-up, as on the wire).
 * --acks adds each step's pure ACKs (the client's of the response, the
 * server's of the request), timed as "<mode>.<conversation>_ack_in" and
 * "tc.<conversation>_ack_out" (req_len 0): the half of a small-request
 * keep-alive load's segments that carry no payload.
 * Ingress series in both modes ("tc.*", "xdp.*"); egress is pf_tc_egress
 * in both, timed in the TC conversation ("tc.*_out"). Every output is
 * checked (seq, ack, both checksums, payload length; the untranslated
 * ones byte for byte), and the conversations must still be followed at
 * the end (their flow entries framed).
 *
 * --floor also times bench/floor.bpf.c on the same request, and "empty":
 * the floor given a UDP frame it passes at once (the fixed overhead of a
 * timed test run).
 *
 * Output, one line per series:
 *   KCOST {"what":"tc"|"xdp"|"tc.<stage>"|"xdp.<stage>"|"tc.size"|"xdp.size"|
 *          "tc.xlate_in"|"xdp.xlate_in"|"tc.xlate_out"|"tc.tracked_in"|
 *          "xdp.tracked_in"|"tc.tracked_out"|"floor"|"empty","policy":FILE,
 *          "tokens":N,"runs":N,"p10_ns":N,"p50_ns":N,"p90_ns":N,"mean_ns":X,
 *          "req_file":FILE,"req_len":N,"resp_len":N}
 *   (the --other series: req_file "-", req_len the timed segment's
 *   payload bytes, resp_len 0)
 *   KCOST {"what":"repeat_check","repeat":1000,"answered":N,"mean_ns":N}
 * Runs in a private network namespace (like the BPF tier), so nothing a
 * program might transmit leaves it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pkt.h"
#include "policy.h"
#include "preflightd_test.skel.h"
#include "kfeat.h"
#include "maps.h"
#include "floor.h"
#include "floor.skel.h"
#include "reqfile.h"

#define REQ_MAX     2048
#define MAX_OBJS    8            /* policies */
#define MAX_SIZES   4            /* --size requests */
#define MAX_SERIES  64
#define WARMUP      200          /* untimed runs first (flow created, caches warm) */
#define CHUNK       250          /* runs of one series before the next one's turn */
#define C_ISN       1000000u     /* client's sequence number of the first request */
#define S_ISN       5000000u     /* server socket's snd_nxt */
#define TS_SERVER   1000u        /* server socket's timestamp clock */
#define CLIENT_PORT 40000        /* + series index: one flow per series */
#define SERVER_PORT 8080         /* the bench policies' port (bench/policy.sh) */

/* The app's own traffic on a connection (--other): a request and its
 * response, neither a preflight. */
#define OTHER_REQ  "PUT /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n" \
		   "Origin: https://app.example.com\r\nContent-Type: application/json\r\n" \
		   "Content-Length: 0\r\n\r\n"
#define OTHER_RESP "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: " \
		   "https://app.example.com\r\nVary: Origin\r\n\r\n"

/* How a series departs from the answered conversation. */
enum variant {
	V_ANSWER = 0,   /* the full answer */
	V_NOT_OPTIONS,  /* "XPTIONS": entry, flow look-up, 8-byte prefix check */
	V_PLAIN,        /* no Origin: + request copy and the whole HTTP parse */
	V_NO_SOCKET,    /* socket mock invalid: + policy match, response build */
	V_FLOOR,        /* the floor program on the request */
	V_EMPTY,        /* the floor program on a UDP frame (returns at once) */
	V_XLATE,        /* --other: a spliced connection's later segments */
	V_TRACKED,      /* --other: a followed connection's, never spliced */
};

static const char *const variant_name[] = {
	"", "not_options", "plain_options", "no_socket", "floor", "empty", "xlate", "tracked",
};

/* One loaded datapath with its policy. */
struct obj {
	const char *policy;
	struct preflightd_test *skel;
	unsigned tokens;
	unsigned answers;        /* answers expected on its ANSWERED counter */
	long long answered0;     /* that counter before the first run */
};

/* One timed series. */
struct series {
	char name[48];
	const char *req_file;
	struct obj *obj;         /* NULL for floor/empty */
	int prog_fd;
	int want_ret;
	enum variant v;
	__u16 port;              /* client port: its own flow */
	char req[REQ_MAX];
	unsigned req_len;
	unsigned next;           /* index of the next request */
	unsigned resp_len;
	unsigned n;              /* timed runs so far */
	__u32 *ns;
	/* V_XLATE / V_TRACKED: each step also runs the server's segment
	 * through egress_fd, timed into out (if not NULL), which is never
	 * run on its own (driven); L / R: the splice's offsets */
	int egress_fd;
	struct series *out;
	int driven;
	/* --acks: the client's pure ACK of each response through the
	 * ingress (ack_in) and the server's of each request through egress
	 * (ack_out, TC only), each timed (driven, like out) */
	struct series *ack_in, *ack_out;
	int pure;                /* a driven pure-ACK series: no payload */
	int spliced;
	int splice_ret;          /* the ingress's return value for an answer */
	__u32 L, R;
};

static struct obj objs[MAX_OBJS];
static unsigned n_objs;
/* XDP programs may call bpf_xdp_adjust_meta (user/kfeat.h; main) */
static bool xdp_meta;
static bool no_may_goto;    /* --may-goto no */
static struct series series[MAX_SERIES];
static unsigned n_series;
static struct floor_bpf *floor_skel;

/* Print "kcost: <what>: <why>" and exit 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("kcost: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Print libbpf warnings and errors, not its debug chatter. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Move to a private network namespace with lo up: test runs use its lo
 * as their device, and anything transmitted stays there. */
static void private_netns(void)
{
	struct ifreq ifr;
	int fd;

	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		die("SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		die("SIOCSIFFLAGS lo: %s", strerror(errno));
	close(fd);
}

/* A segment of series s's connection (client 198.18.1.2:port, server
 * 198.18.1.1:8080), from the client (out 0) or the server (out 1), with
 * NOP NOP TS(tsval, tsecr) and paylen bytes of pay (UDP, no TS, for the
 * empty series), built into frame. Returns its length. */
static size_t build_seg(const struct series *s, int out, __u32 seq, __u32 ack, __u32 tsval,
			__u32 tsecr, const char *pay, unsigned paylen, __u8 *frame, size_t cap)
{
	struct pkt_spec p;
	size_t n;

	if (out) {
		pkt_default_out(&p, 4);
		pkt_addr(4, "198.18.1.1", p.saddr);
		pkt_addr(4, "198.18.1.2", p.daddr);
		p.sport = SERVER_PORT;
		p.dport = s->port;
	} else {
		pkt_default(&p, 4);
		pkt_addr(4, "198.18.1.2", p.saddr);
		pkt_addr(4, "198.18.1.1", p.daddr);
		p.sport = s->port;
		p.dport = SERVER_PORT;
	}
	if (s->v == V_EMPTY) {
		p.proto = PKT_PROTO_UDP;
	} else {
		p.seq = seq;
		p.ack = ack;
		pkt_opt_ts(&p, tsval, tsecr);
	}
	p.pay = pay;
	p.paylen = paylen;
	n = pkt_build(&p, frame, cap);
	if (!n)
		die("%s: build frame: %s", s->name, strerror(EMSGSIZE));
	return n;
}

/* Request number i of series s's conversation (NOP NOP TS; UDP for the
 * empty series), built into frame. Returns its length. */
static size_t build_frame(const struct series *s, unsigned i, __u8 *frame, size_t cap)
{
	if (s->v == V_EMPTY)
		return build_seg(s, 0, 0, 0, 0, 0, "x", 1, frame, cap);
	return build_seg(s, 0, C_ISN + i * s->req_len, S_ISN + i * s->resp_len, 7000 + i,
			 TS_SERVER, s->req, s->req_len, frame, cap);
}

/* Sum of the per-CPU values of counter idx in the per-CPU array fd. */
static long long percpu_sum(int fd, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	long long sum = 0;
	__u64 *v;

	if (ncpu <= 0)
		die("possible CPUs: %s", strerror(-ncpu));
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		die("calloc: %s", strerror(ENOMEM));
	if (bpf_map_lookup_elem(fd, &idx, v))
		die("read counter %u: %s", idx, strerror(errno));
	for (c = 0; c < ncpu; c++)
		sum += (long long)v[c];
	free(v);
	return sum;
}

/* One BPF_PROG_TEST_RUN of frame (len bytes) through prog_fd with
 * repeat; the output goes to out (cap bytes, *out_len set). Returns the
 * program's return value; *ns gets the kernel-measured duration. */
static int run_once(int prog_fd, const __u8 *frame, size_t len, __u32 repeat, __u8 *out,
		    size_t cap, __u32 *out_len, __u32 *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = frame,
		.data_size_in = (__u32)len,
		.data_out = out,
		.data_size_out = (__u32)cap,
		.repeat = repeat,
	);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		die("bpf_prog_test_run_opts: %s", strerror(errno));
	*out_len = o.data_size_out;
	*ns = o.duration;
	return (int)o.retval;
}

/* Check that out is a TCP frame with right IP and TCP checksums carrying
 * a 204; returns its payload length. */
static unsigned check_response(const char *what, const __u8 *out, size_t len)
{
	struct pkt_view v;
	char err[128];

	if (pkt_parse(out, len, &v, err, sizeof(err)))
		die("%s: output does not parse: %s", what, err);
	if (!v.ip_csum_ok || !v.tcp_csum_ok)
		die("%s: output checksum wrong (ip %d, tcp %d)", what, v.ip_csum_ok,
		    v.tcp_csum_ok);
	if (v.paylen < 13 || memcmp(v.pay, "HTTP/1.1 204 ", 13))
		die("%s: output is not a 204 (%u payload bytes)", what, v.paylen);
	return v.paylen;
}

/* The socket mock every series of o sees (valid unless no_socket). */
static void set_sock(struct obj *o, int valid)
{
	struct pf_sockinfo si = {
		.rcv_nxt = C_ISN, .copied_seq = C_ISN,
		.snd_nxt = S_ISN, .snd_una = S_ISN, .write_seq = S_ISN,
		.mss = 1448, .rcv_wnd = 64256, .wscale = 7,
		.bytes_received = 0, .valid = (__u32)valid, .ts_now = TS_SERVER,
		.snd_wscale = 7, /* a Linux client: 502 << 7 takes any response */
	};
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(o->skel->maps.pf_test_sock), &zero, &si, BPF_ANY))
		die("set socket mock: %s", strerror(errno));
}

/* Check that out (olen bytes) is in (len bytes) with seq and ack moved
 * by dseq / dack and the TCP checksum updated: the output of a
 * translated segment, or in unchanged if both are 0. */
static void check_xlate(const char *what, const __u8 *in, size_t len, const __u8 *out,
			__u32 olen, __u32 dseq, __u32 dack)
{
	struct pkt_view vi, vo;
	char err[128];

	if (!dseq && !dack) {
		if (olen != len || memcmp(in, out, len))
			die("%s: segment changed", what);
		return;
	}
	if (pkt_parse(in, len, &vi, err, sizeof(err)) ||
	    pkt_parse(out, olen, &vo, err, sizeof(err)))
		die("%s: segment does not parse: %s", what, err);
	if (!vo.ip_csum_ok || !vo.tcp_csum_ok)
		die("%s: output checksum wrong (ip %d, tcp %d)", what, vo.ip_csum_ok,
		    vo.tcp_csum_ok);
	if (olen != len || vo.seq != vi.seq + dseq || vo.ack != vi.ack + dack ||
	    vo.paylen != vi.paylen || memcmp(vo.pay, vi.pay, vi.paylen))
		die("%s: seq %#x ack %#x, want %#x %#x", what, vo.seq, vo.ack, vi.seq + dseq,
		    vi.ack + dack);
}

/* XDP with metadata hands a connection's first request to TC ingress
 * for its framing (PF_META_FOLLOW, bpf/preflightd.bpf.c), which creates
 * its flow entry; XDP follows its later segments itself. If out (olen
 * bytes, the XDP run of frame) is such a hand-over, run frame through
 * o's pf_tc_ingress as that frame (pf_test_follow: a TC test run carries
 * no metadata; it must pass it unchanged) and return 1 -- only allowed
 * on a conversation's first step (i 0); else return 0. */
static int xdp_hand_over(const char *what, struct obj *o, unsigned i, const __u8 *frame,
			 size_t len, const __u8 *out, __u32 olen)
{
	static __u8 tc_out[PKT_MAX];
	__u32 meta, tlen, ns;
	int ret;

	if (!o || olen != len + sizeof(meta) || memcmp(out + sizeof(meta), frame, len))
		return 0;
	memcpy(&meta, out, sizeof(meta));
	if (meta != PF_META_FOLLOW)
		return 0;
	if (i)
		die("%s: segment %u handed to TC again (no flow entry after the first)", what, i);
	o->skel->bss->pf_test_follow = 1;
	ret = run_once(bpf_program__fd(o->skel->progs.pf_tc_ingress), frame, len, 1, tc_out,
		       sizeof(tc_out), &tlen, &ns);
	o->skel->bss->pf_test_follow = 0;
	if (ret != TC_ACT_UNSPEC)
		die("%s: first request at TC: return value %d, want %d", what, ret,
		    TC_ACT_UNSPEC);
	check_xlate(what, frame, len, tc_out, tlen, 0, 0);
	return 1;
}

/* Run the len-byte segment in frame (step i's kind: "segment",
 * "response", "ACK") through prog_fd; die unless it returns want and
 * leaves translated by dseq / dack (check_xlate, as what), or is o's
 * first request handed from XDP to TC (xdp_hand_over; o NULL: never).
 * Its time goes into t (NULL: none) unless warmup, and is returned. */
static __u32 run_seg(const char *what, const char *kind, unsigned i, int prog_fd, int want,
		     struct obj *o, const __u8 *frame, size_t len, __u32 dseq, __u32 dack,
		     struct series *t, int warmup)
{
	static __u8 out[PKT_MAX];
	__u32 olen, ns;
	int ret;

	ret = run_once(prog_fd, frame, len, 1, out, sizeof(out), &olen, &ns);
	if (ret != want)
		die("%s: %s %u: return value %d, want %d", what, kind, i, ret, want);
	if (!xdp_hand_over(what, o, i, frame, len, out, olen))
		check_xlate(what, frame, len, out, olen, dseq, dack);
	if (t && !warmup)
		t->ns[t->n++] = ns;
	return ns;
}

/* Step i of conversation s (V_XLATE / V_TRACKED): the app's request i
 * through the ingress (its time returned), then its response through
 * egress (timed into s->out unless warmup). A V_XLATE connection is
 * spliced first: the preflight (s->req) answered at C_ISN. */
static __u32 run_step(struct series *s, unsigned i, int warmup)
{
	static __u8 frame[PKT_MAX], out[PKT_MAX];
	const unsigned ql = sizeof(OTHER_REQ) - 1, rl = sizeof(OTHER_RESP) - 1;
	__u32 olen, ns, ns_in;
	size_t len;
	int ret;

	if (s->v == V_XLATE && !s->spliced) {
		len = build_frame(s, 0, frame, sizeof(frame));
		ret = run_once(s->prog_fd, frame, len, 1, out, sizeof(out), &olen, &ns);
		if (ret != s->splice_ret)
			die("%s: splice: return value %d, want %d", s->name, ret, s->splice_ret);
		s->L = s->req_len;
		s->R = check_response(s->name, out, olen);
		s->spliced = 1;
	}
	len = build_seg(s, 0, C_ISN + s->L + i * ql, S_ISN + s->R + i * rl, 7000 + i, TS_SERVER,
			OTHER_REQ, ql, frame, sizeof(frame));
	ns_in = run_seg(s->name, "segment", i, s->prog_fd, s->want_ret,
			s->want_ret == XDP_PASS ? s->obj : NULL, frame, len, -s->L, -s->R, NULL,
			warmup);
	/* the response, in the server socket's sequence space */
	len = build_seg(s, 1, S_ISN + i * rl, C_ISN + (i + 1) * ql, TS_SERVER, 7000 + i,
			OTHER_RESP, rl, frame, sizeof(frame));
	run_seg(s->out ? s->out->name : s->name, "response", i, s->egress_fd, TC_ACT_UNSPEC,
		NULL, frame, len, s->R, s->L, s->out, warmup);
	if (s->ack_in) {
		/* the client acks the response: no payload, untouched framing */
		len = build_seg(s, 0, C_ISN + s->L + (i + 1) * ql, S_ISN + s->R + (i + 1) * rl,
				7000 + i, TS_SERVER, "", 0, frame, sizeof(frame));
		run_seg(s->ack_in->name, "ACK", i, s->prog_fd, s->want_ret, NULL, frame, len,
			-s->L, -s->R, s->ack_in, warmup);
	}
	if (s->ack_out) {
		/* the server acks the request (after its response here, so
		 * the other series run as without --acks) */
		len = build_seg(s, 1, S_ISN + (i + 1) * rl, C_ISN + (i + 1) * ql, TS_SERVER,
				7000 + i, "", 0, frame, sizeof(frame));
		run_seg(s->ack_out->name, "ACK", i, s->egress_fd, TC_ACT_UNSPEC, NULL, frame, len,
			s->R, s->L, s->ack_out, warmup);
	}
	return ns_in;
}

/* Run n requests of series s (timed ones recorded unless warmup). */
static void run_series(struct series *s, unsigned n, int warmup)
{
	static __u8 frame[PKT_MAX], out[PKT_MAX];
	unsigned k, i;
	__u32 olen, ns;
	size_t len;
	int ret;

	if (s->obj)
		set_sock(s->obj, s->v != V_NO_SOCKET);
	if (s->v == V_XLATE || s->v == V_TRACKED) {
		for (k = 0; k < n; k++) {
			ns = run_step(s, s->next++, warmup);
			if (!warmup)
				s->ns[s->n++] = ns;
		}
		return;
	}
	for (k = 0; k < n; k++) {
		i = s->v == V_ANSWER ? s->next : 0; /* only answers advance */
		len = build_frame(s, i, frame, sizeof(frame));
		ret = run_once(s->prog_fd, frame, len, 1, out, sizeof(out), &olen, &ns);
		if (ret != s->want_ret)
			die("%s: request %u: return value %d, want %d", s->name, s->next, ret,
			    s->want_ret);
		if ((s->v == V_ANSWER || s->v == V_FLOOR) && s->next == 0)
			s->resp_len = check_response(s->name, out, olen);
		else if ((s->v == V_ANSWER || s->v == V_FLOOR) && k == n - 1 &&
			 check_response(s->name, out, olen) != s->resp_len)
			die("%s: response length changed", s->name);
		s->next++;
		if (!warmup)
			s->ns[s->n++] = ns;
	}
}

/* Add a series; returns it. */
static struct series *add_series(const char *name, struct obj *o, int prog_fd, int want_ret,
				 enum variant v, const char *req_file, const char *req,
				 unsigned req_len, unsigned runs)
{
	struct series *s;
	const char *p;
	size_t skip;

	if (n_series == MAX_SERIES)
		die("too many series: %s", strerror(E2BIG));
	s = &series[n_series];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->req_file = req_file;
	s->obj = o;
	s->prog_fd = prog_fd;
	s->want_ret = want_ret;
	s->v = v;
	s->port = (__u16)(CLIENT_PORT + n_series);
	n_series++;
	s->ns = calloc(runs, sizeof(*s->ns));
	if (!s->ns)
		die("calloc: %s", strerror(ENOMEM));
	memcpy(s->req, req, req_len);
	s->req_len = req_len;
	if (v == V_NOT_OPTIONS)
		s->req[0] = 'X';
	if (v == V_PLAIN) {
		p = strstr(s->req, "\r\nOrigin:");
		if (!p)
			die("request has no Origin header: %s", strerror(EINVAL));
		skip = strcspn(p + 2, "\n") + 1;
		memmove(s->req + (p + 2 - s->req), p + 2 + skip,
			req_len - (size_t)(p + 2 - s->req) - skip);
		s->req_len = req_len - (unsigned)skip;
	}
	if (o && v == V_ANSWER)
		o->answers += WARMUP + runs;
	return s;
}

/* Add the --other conversation v (V_XLATE or V_TRACKED) of o through
 * ingress prog_fd (mode "tc" or "xdp", returning want_ret for a passed
 * segment, splice_ret for an answer), with egress timed too if time_out. */
static void add_other(struct obj *o, const char *mode, int prog_fd, int want_ret,
		      int splice_ret, enum variant v, int time_out, int acks, const char *req,
		      unsigned req_len, unsigned runs)
{
	struct series *s;
	char name[48];

	snprintf(name, sizeof(name), "%s.%s_in", mode, variant_name[v]);
	s = add_series(name, o, prog_fd, want_ret, v, "-", req, req_len, runs);
	s->egress_fd = bpf_program__fd(o->skel->progs.pf_tc_egress);
	s->splice_ret = splice_ret;
	if (v == V_XLATE)
		o->answers++; /* the splice */
	if (acks) {
		snprintf(name, sizeof(name), "%s.%s_ack_in", mode, variant_name[v]);
		s->ack_in = add_series(name, o, prog_fd, want_ret, v, "-", req, req_len, runs);
		s->ack_in->driven = s->ack_in->pure = 1;
	}
	if (!time_out)
		return;
	snprintf(name, sizeof(name), "%s.%s_out", mode, variant_name[v]);
	s->out = add_series(name, o, s->egress_fd, TC_ACT_UNSPEC, v, "-", req, req_len, runs);
	s->out->driven = 1;
	if (acks) {
		snprintf(name, sizeof(name), "%s.%s_ack_out", mode, variant_name[v]);
		s->ack_out = add_series(name, o, s->egress_fd, TC_ACT_UNSPEC, v, "-", req, req_len,
					runs);
		s->ack_out->driven = s->ack_out->pure = 1;
	}
}

/* Check that conversation s is still followed: its flow entry framed
 * (PF_FS_FRAMED), with the splice's client offset (L) if it has one. */
static void check_followed(const struct series *s)
{
	struct pf_flow_key k;
	struct pf_flow f;
	__u8 a[16];

	memset(&k, 0, sizeof(k));
	pkt_addr(4, "198.18.1.2", a);
	memcpy(k.caddr, a, 4);
	pkt_addr(4, "198.18.1.1", a);
	memcpy(k.saddr, a, 4);
	k.cport = htons(s->port);
	k.sport = htons(SERVER_PORT);
	k.family = 4;
	if (bpf_map_lookup_elem(bpf_map__fd(s->obj->skel->maps.pf_flows), &k, &f))
		die("%s: no flow entry: %s", s->name, strerror(errno));
	if (!(f.state & PF_FS_FRAMED) || f.c_after != s->L)
		die("%s: flow entry state %#x c_after %u, want framed and %u", s->name, f.state,
		    f.c_after, s->L);
}

/* qsort comparator for __u32. */
static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Print the KCOST line of series s (sorts its samples). */
static void report(struct series *s)
{
	double mean = 0;
	unsigned i;

	qsort(s->ns, s->n, sizeof(*s->ns), cmp_u32);
	for (i = 0; i < s->n; i++)
		mean += s->ns[i];
	mean /= s->n;
	printf("KCOST {\"what\":\"%s\",\"policy\":\"%s\",\"tokens\":%u,\"runs\":%u,"
	       "\"p10_ns\":%u,\"p50_ns\":%u,\"p90_ns\":%u,\"mean_ns\":%.1f,"
	       "\"req_file\":\"%s\",\"req_len\":%u,\"resp_len\":%u}\n", s->name,
	       s->obj ? s->obj->policy : "-", s->obj ? s->obj->tokens : 0, s->n,
	       s->ns[s->n / 10], s->ns[s->n / 2], s->ns[s->n * 9 / 10], mean, s->req_file,
	       s->v == V_EMPTY ? 0 :
	       s->pure ? 0 : s->v == V_XLATE || s->v == V_TRACKED ?
	       (unsigned)(s->driven ? sizeof(OTHER_RESP) : sizeof(OTHER_REQ)) - 1 : s->req_len,
	       s->v == V_XLATE || s->v == V_TRACKED ? 0 : s->resp_len);
	fflush(stdout);
}

/* Load the test datapath with the policy in file into a new obj. */
static struct obj *load_obj(const char *file)
{
	struct obj *o;
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_maps m;
	int err;

	if (n_objs == MAX_OBJS)
		die("too many policies: %s", strerror(E2BIG));
	o = &objs[n_objs++];
	memset(&pol, 0, sizeof(pol));
	memset(&c, 0, sizeof(c));
	err = pf_policy_load(file, &pol, stderr);
	if (err)
		die("load policy %s: %s", file, strerror(-err));
	err = pf_policy_compile(&pol, 0, &c, stderr);
	if (err)
		die("compile policy %s: %s", file, strerror(-err));
	o->policy = file;
	o->tokens = c.n_toks;
	err = pf_kfeat_may_goto(no_may_goto); /* as `run` loads it */
	if (err < 0)
		die("probe may_goto: %s", strerror(-err));
	o->skel = PF_KFEAT_OPEN(preflightd_test, err);
	if (!o->skel)
		die("open preflightd_test: %s", strerror(errno));
	o->skel->rodata->pf_xdp_no_meta = !xdp_meta;
	err = pf_kfeat_flow_lock(o->skel->obj, false);
	if (err < 0)
		die("probe bpf_res_spin_lock: %s", strerror(-err));
	o->skel->rodata->pf_flow_lock_plain = err;
	/* the daemon's own sizing, installation and clock (user/maps.c) */
	err = pf_maps_size(o->skel->obj, c.n_toks, 65536);
	if (err)
		die("size maps: %s", strerror(-err));
	err = preflightd_test__load(o->skel);
	if (err)
		die("load preflightd_test: %s", strerror(-err));
	err = pf_maps_get(o->skel->obj, &o->skel->bss->pf_cfg, &m);
	if (!err)
		err = pf_maps_install(&m, &c);
	if (err)
		die("install policy %s: %s", file, strerror(-err));
	pf_maps_tick(&o->skel->bss->pf_cfg); /* a Date header, as the daemon keeps one */
	o->answered0 = percpu_sum(bpf_map__fd(o->skel->maps.pf_stats), PF_STAT_ANSWERED);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
	return o;
}

/* Load the floor program (port 8080); returns its fd. */
static int load_floor(void)
{
	int err;

	floor_skel = floor_bpf__open();
	if (!floor_skel)
		die("open floor: %s", strerror(errno));
	floor_skel->rodata->floor_port = 8080;
	floor_skel->rodata->floor_resp_sum = floor_payload_sum(FLOOR_RESP, FLOOR_RESP_LEN);
	err = floor_bpf__load(floor_skel);
	if (err)
		die("load floor: %s", strerror(-err));
	return bpf_program__fd(floor_skel->progs.floor_xdp);
}

/* How many of a repeat of 1000 runs of one fresh request are answered
 * (1: the frame is the response after the first). */
static void repeat_check(struct obj *o, const char *req, unsigned req_len)
{
	static __u8 out[PKT_MAX], frame[PKT_MAX];
	struct series s;
	long long before;
	__u32 olen, ns;
	size_t len;

	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "repeat_check");
	s.port = (__u16)(CLIENT_PORT + MAX_SERIES);
	memcpy(s.req, req, req_len);
	s.req_len = req_len;
	set_sock(o, 1);
	before = percpu_sum(bpf_map__fd(o->skel->maps.pf_stats), PF_STAT_ANSWERED);
	len = build_frame(&s, 0, frame, sizeof(frame));
	run_once(bpf_program__fd(o->skel->progs.pf_tc_ingress), frame, len, 1000, out,
		 sizeof(out), &olen, &ns);
	printf("KCOST {\"what\":\"repeat_check\",\"repeat\":1000,\"answered\":%lld,"
	       "\"mean_ns\":%u}\n",
	       percpu_sum(bpf_map__fd(o->skel->maps.pf_stats), PF_STAT_ANSWERED) - before, ns);
}

/* Print the usage to f. */
static void usage(FILE *f)
{
	fprintf(f, "usage: kcost --request FILE [--size FILE]... [--runs N] [--floor] [--stages] "
		"[--other [--acks]] [--may-goto no] POLICY...\n");
}

/* Parse the options, load every policy (and the floor), build the series,
 * run them interleaved, check the counters, print one line per series. */
int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "request", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'z' },
		{ "runs", required_argument, NULL, 'n' },
		{ "floor", no_argument, NULL, 'f' },
		{ "stages", no_argument, NULL, 's' },
		{ "other", no_argument, NULL, 'o' },
		{ "acks", no_argument, NULL, 'a' },
		{ "may-goto", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static char req[REQ_MAX], size_req[MAX_SIZES][REQ_MAX];
	const char *request = NULL, *size_file[MAX_SIZES];
	unsigned runs = 20000, i, done, v, n_sizes = 0;
	int do_floor = 0, stages = 0, other = 0, acks = 0, c, len, floor_fd, size_len[MAX_SIZES];
	unsigned long val;
	struct obj *o;
	char *end, name[48];
	FILE *f;

	while ((c = getopt_long(argc, argv, "r:z:n:fsoag:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			request = optarg;
			break;
		case 'z':
			if (n_sizes == MAX_SIZES) {
				fprintf(stderr, "kcost: more than %d --size requests\n", MAX_SIZES);
				return 2;
			}
			size_file[n_sizes++] = optarg;
			break;
		case 'n':
			errno = 0;
			val = strtoul(optarg, &end, 10);
			if (errno || *end || val < 10 || val > 10000000ul) {
				fprintf(stderr, "kcost: invalid --runs '%s'\n", optarg);
				return 2;
			}
			runs = (unsigned)val;
			break;
		case 'f':
			do_floor = 1;
			break;
		case 'g':
			if (strcmp(optarg, "no")) {
				usage(stderr);
				return 2;
			}
			no_may_goto = true;
			break;
		case 's':
			stages = 1;
			break;
		case 'o':
			other = 1;
			break;
		case 'a':
			acks = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!request || (optind == argc && !do_floor)) {
		usage(stderr);
		return 2;
	}
	len = bench_read_request("kcost", request, req, sizeof(req));
	if (len < 0)
		return 1;
	for (i = 0; i < n_sizes; i++) {
		size_len[i] = bench_read_request("kcost", size_file[i], size_req[i],
						 sizeof(size_req[i]));
		if (size_len[i] < 0)
			return 1;
	}
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	if (f) {
		if (fgetc(f) == '1')
			fprintf(stderr, "kcost: warning: kernel.bpf_stats_enabled=1 adds its own "
				"timing to every run\n");
		fclose(f);
	}
	private_netns();
	libbpf_set_print(quiet_print);
	c = pf_kfeat_xdp_meta();
	if (c < 0)
		die("probe bpf_xdp_adjust_meta: %s", strerror(-c));
	xdp_meta = c;

	for (c = optind; c < argc; c++) {
		o = load_obj(argv[c]);
		for (v = V_ANSWER; v <= (stages && c == optind ? V_NO_SOCKET : V_ANSWER); v++) {
			snprintf(name, sizeof(name), "tc%s%s", v ? "." : "", variant_name[v]);
			add_series(name, o, bpf_program__fd(o->skel->progs.pf_tc_ingress),
				   v == V_ANSWER ? TC_ACT_REDIRECT : TC_ACT_UNSPEC, v, request,
				   req, (unsigned)len, runs);
			snprintf(name, sizeof(name), "xdp%s%s", v ? "." : "", variant_name[v]);
			add_series(name, o, bpf_program__fd(o->skel->progs.pf_xdp_ingress),
				   v == V_ANSWER ? XDP_TX : XDP_PASS, v, request, req,
				   (unsigned)len, runs);
		}
		for (i = 0; c == optind && i < n_sizes; i++) {
			add_series("tc.size", o, bpf_program__fd(o->skel->progs.pf_tc_ingress),
				   TC_ACT_REDIRECT, V_ANSWER, size_file[i], size_req[i],
				   (unsigned)size_len[i], runs);
			add_series("xdp.size", o, bpf_program__fd(o->skel->progs.pf_xdp_ingress),
				   XDP_TX, V_ANSWER, size_file[i], size_req[i],
				   (unsigned)size_len[i], runs);
		}
		for (v = V_XLATE; other && c == optind && v <= V_TRACKED; v++) {
			add_other(o, "tc", bpf_program__fd(o->skel->progs.pf_tc_ingress),
				  TC_ACT_UNSPEC, TC_ACT_REDIRECT, v, 1, acks, req, (unsigned)len, runs);
			if (xdp_meta)
				add_other(o, "xdp", bpf_program__fd(o->skel->progs.pf_xdp_ingress),
					  XDP_PASS, XDP_TX, v, 0, acks, req, (unsigned)len, runs);
		}
		if (other && c == optind && !xdp_meta)
			fprintf(stderr, "kcost: no xdp.* --other series: this kernel refuses "
				"bpf_xdp_adjust_meta, so XDP passes a connection's other segments "
				"untouched and TC ingress translates them (the tc.* series)\n");
	}
	if (do_floor) {
		floor_fd = load_floor();
		add_series("floor", NULL, floor_fd, XDP_TX, V_FLOOR, request, req, (unsigned)len,
			   runs);
		add_series("empty", NULL, floor_fd, XDP_PASS, V_EMPTY, "-", req, (unsigned)len,
			   runs);
	}

	for (i = 0; i < n_series; i++)
		if (!series[i].driven)
			run_series(&series[i], WARMUP, 1);
	for (done = 0; done < runs; done += CHUNK)
		for (i = 0; i < n_series; i++)
			if (!series[i].driven)
				run_series(&series[i],
					   runs - done < CHUNK ? runs - done : CHUNK, 0);
	for (i = 0; i < n_series; i++)
		if ((series[i].v == V_XLATE || series[i].v == V_TRACKED) && !series[i].driven)
			check_followed(&series[i]);

	for (i = 0; i < n_objs; i++) {
		long long got = percpu_sum(bpf_map__fd(objs[i].skel->maps.pf_stats),
					   PF_STAT_ANSWERED) - objs[i].answered0;

		if (got != objs[i].answers)
			die("%s: answered counter moved by %lld, want %u", objs[i].policy, got,
			    objs[i].answers);
	}
	for (i = 0; i < n_series; i++)
		report(&series[i]);
	if (n_objs)
		repeat_check(&objs[0], req, (unsigned)len);
	for (i = 0; i < n_objs; i++)
		preflightd_test__destroy(objs[i].skel);
	floor_bpf__destroy(floor_skel);
	return 0;
}
