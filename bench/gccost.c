/* gccost.c -- the cost of one flow-table GC pass (user/gc.c) at 65,536 and 1,048,576 entries. */
/*
 *   gccost [--entries N]... [--sockets K] [--runs R]
 *
 * Run it in a network namespace of its own with lo up (`make bench-gc`
 * does: unshare -n). For each N (default 65536 and 1048576): a flow
 * table of the daemon's shape (pf_flow_key -> pf_flow, preallocated hash,
 * N + K entries) holding K connections that are alive (K real loopback
 * connections to port 8080 of this namespace, default 512) and N that
 * ended (same port, no socket), all idle past the GC's 30 s. Two cases,
 * each timed over R runs (default 3, the table refilled before each):
 *   ended   the daemon's pass (pf_gc_pass, the same call its GC thread
 *           makes) after an untimed one that missed the N ended entries'
 *           sockets first: one sock_diag dump, the whole table read in
 *           batches, the N ended entries deleted;
 *   active  the same table, every entry active (last packet now): the
 *           pass reads the table and checks nothing.
 * Every run must keep exactly the K live connections' entries and, for
 * "ended", free exactly N; otherwise gccost fails (exit 1).
 *
 * Output, one line per N and case (milliseconds, the median and the
 * slowest of the runs; ns per entry from the median):
 *   GCCOST {"case":"ended","entries":N,"sockets":K,"runs":R,"median_ms":X,
 *           "max_ms":X,"ns_per_entry":X,"freed":N}
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "clock.h"
#include "gc.h"

#define PORT      8080
#define MAX_SIZES 4
#define MAX_RUNS  15
#define CHUNK     65536           /* entries per batch update */

static struct pf_flow_key *live_keys;
static unsigned n_live;

static void die(const char *what, int err) __attribute__((noreturn));
static void die(const char *what, int err)
{
	fprintf(stderr, "gccost: %s: %s\n", what, strerror(err));
	exit(1);
}

/* K connections to 127.0.0.1:PORT, kept open; their flow keys in
 * live_keys (client = the connecting end). */
static void open_sockets(unsigned k)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in c;
	socklen_t len;
	int lfd, fd, one = 1;
	unsigned i;

	live_keys = calloc(k ? k : 1, sizeof(*live_keys));
	if (!live_keys)
		die("calloc", ENOMEM);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4096))
		die("listen on 127.0.0.1:8080 (is lo up?)", errno);
	for (i = 0; i < k; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect", errno);
		len = sizeof(c);
		if (getsockname(fd, (struct sockaddr *)&c, &len))
			die("getsockname", errno);
		if (accept(lfd, NULL, NULL) < 0)
			die("accept", errno);
		live_keys[i].family = 4;
		memcpy(live_keys[i].caddr, &c.sin_addr, 4);
		memcpy(live_keys[i].saddr, &a.sin_addr, 4);
		live_keys[i].cport = c.sin_port;
		live_keys[i].sport = a.sin_port;
	}
	n_live = k;
}

/* Ended connection i: 10.x.y.z:port -> 127.0.0.1:PORT, no socket. */
static void ended_key(unsigned i, struct pf_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->caddr[0] = 10;
	k->caddr[1] = (__u8)(i >> 16);
	k->caddr[2] = (__u8)(i >> 8);
	k->caddr[3] = (__u8)i;
	k->saddr[0] = 127;
	k->saddr[3] = 1;
	k->cport = htons((__u16)(1024 + (i >> 24)));
	k->sport = htons(PORT);
}

/* A new table of the daemon's shape holding the live entries and n
 * ended ones, all with last packet at last_ns (one splice each). */
static int fill(unsigned n, __u64 last_ns)
{
	static struct pf_flow_key keys[CHUNK];
	static struct pf_flow vals[CHUNK];
	unsigned i, j;
	__u32 c;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "gccost_flows", sizeof(struct pf_flow_key),
			    sizeof(struct pf_flow), n + n_live, NULL);
	if (fd < 0)
		die("create the flow table", errno);
	for (i = 0; i < CHUNK; i++) {
		memset(&vals[i], 0, sizeof(vals[i]));
		vals[i].last_ns = last_ns;
		vals[i].splices = 1;
		vals[i].resp_acked = 1;
	}
	for (i = 0; i < n_live; i += c) {
		c = n_live - i < CHUNK ? n_live - i : CHUNK;
		if (bpf_map_update_batch(fd, live_keys + i, vals, &c, NULL))
			die("fill the table", errno);
	}
	for (i = 0; i < n; i += c) {
		c = n - i < CHUNK ? n - i : CHUNK;
		for (j = 0; j < c; j++)
			ended_key(i + j, &keys[j]);
		if (bpf_map_update_batch(fd, keys, vals, &c, NULL))
			die("fill the table", errno);
	}
	return fd;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Time runs passes over a table of n ended (or active) entries. */
static void measure(unsigned n, bool active, unsigned runs)
{
	__u64 ports[1024] = {}, ns[MAX_RUNS], t0;
	struct pf_gc_result r;
	struct pf_gc_del del;
	struct pf_flow v;
	unsigned i, j;
	int fd, err;

	ports[PORT >> 6] = 1ULL << (PORT & 63);
	for (i = 0; i < runs; i++) {
		fd = fill(n, active ? pf_mono_ns() : 1);
		/* loaded before the clock starts: the daemon's GC thread
		 * loads it once and keeps it across passes */
		del = (struct pf_gc_del){ .fd = fd };
		pf_gc_del_open(&del);
		/* an entry goes at the second pass that misses its socket:
		 * the first, untimed, as the thread's previous one */
		err = pf_gc_pass(&del, ports, pf_mono_ns(), 30000000000ull, NULL, &r);
		if (err)
			die("gc pass", -err);
		t0 = pf_mono_ns();
		err = pf_gc_pass(&del, ports, t0, 30000000000ull, NULL, &r);
		ns[i] = pf_mono_ns() - t0;
		pf_gc_del_close(&del);
		if (err)
			die("gc pass", -err);
		if (r.entries != (active ? n + n_live : n_live) || r.freed != (active ? 0 : n)) {
			fprintf(stderr, "gccost: pass left %llu entries and freed %llu, want %u and %u\n",
				(unsigned long long)r.entries, (unsigned long long)r.freed,
				active ? n + n_live : n_live, active ? 0 : n);
			exit(1);
		}
		for (j = 0; j < n_live; j++)
			if (bpf_map_lookup_elem(fd, &live_keys[j], &v))
				die("a live connection's entry was freed", ENOENT);
		close(fd);
	}
	qsort(ns, runs, sizeof(ns[0]), cmp_u64);
	printf("GCCOST {\"case\":\"%s\",\"entries\":%u,\"sockets\":%u,\"runs\":%u,"
	       "\"median_ms\":%.1f,\"max_ms\":%.1f,\"ns_per_entry\":%.1f,\"freed\":%llu}\n",
	       active ? "active" : "ended", n, n_live, runs, ns[runs / 2] / 1e6,
	       ns[runs - 1] / 1e6, (double)ns[runs / 2] / (n + n_live),
	       (unsigned long long)r.freed);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "entries", required_argument, NULL, 'n' },
		{ "sockets", required_argument, NULL, 'k' },
		{ "runs", required_argument, NULL, 'r' },
		{ 0 }
	};
	unsigned sizes[MAX_SIZES], n_sizes = 0, sockets = 512, runs = 3, i;
	unsigned long v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		errno = 0;
		v = optarg ? strtoul(optarg, &end, 10) : 0;
		if (c == '?' || errno || *end || (c == 'n' && (!v || v > 16777216 ||
		    n_sizes == MAX_SIZES)) || (c == 'k' && v > 60000) ||
		    (c == 'r' && (!v || v > MAX_RUNS))) {
			fprintf(stderr, "usage: gccost [--entries N]... [--sockets K] [--runs R]\n");
			return 2;
		}
		if (c == 'n')
			sizes[n_sizes++] = (unsigned)v;
		else if (c == 'k')
			sockets = (unsigned)v;
		else
			runs = (unsigned)v;
	}
	if (!n_sizes) {
		sizes[n_sizes++] = 65536;
		sizes[n_sizes++] = 1048576;
	}
	open_sockets(sockets);
	for (i = 0; i < n_sizes; i++) {
		measure(sizes[i], false, runs);
		measure(sizes[i], true, runs);
	}
	return 0;
}
