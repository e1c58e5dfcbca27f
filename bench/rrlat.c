/* rrlat.c -- request/response latency over one keep-alive TCP connection, in nanoseconds. */
/*
 *   rrlat --request FILE --addr IP --port N [--duration S] [--timeout-ms MS]
 *         [--max-samples N]
 *
 * Connects to IP:PORT (IPv4 or IPv6, TCP_NODELAY), then sends the request
 * head of FILE (bench/preflight.txt; the bytes bench/preflight.lua sends
 * for wrk, read by bench/reqfile.c) in a closed loop for --duration
 * seconds (default 5): one request, its whole response read, the next
 * request. Each round trip -- from just before the send to the last byte
 * of its response -- is timed with clock_gettime(CLOCK_MONOTONIC). Why
 * not wrk: wrk records whole microseconds, too coarse for round trips of
 * 4-5 µs (bench/run.sh keeps wrk for the 64-connection runs).
 *
 * A response is read to the blank line after its head and then to the
 * end of its body: none for 204 and 304, else exactly Content-Length
 * bytes (a 200 with a body from nginx or the app is read fully). Whatever
 * else makes the response unframeable ends the run with an error: no
 * Content-Length, Transfer-Encoding, an interim 1xx, a head larger than
 * the buffer, bytes after the response (nothing else may arrive in a
 * closed loop), the peer closing in the middle of a response. A server
 * that ends keep-alive connections (a response with "Connection: close",
 * as nginx does after keepalive_requests, or a close before any byte of
 * the next response) gets a new connection, made outside the timed
 * intervals; that round trip is sent again and only its second try timed
 * ("reconnects" counts them; two closes in a row end the run). Everything
 * is bounded: connect and each send (SO_SNDTIMEO), and each whole round
 * trip (poll before each recv with the time left) must finish within
 * --timeout-ms (default 2000), else the run ends with an error; so does
 * --max-samples round trips (default 16,777,216; the samples are kept, 8
 * bytes each), which ends the run early ("capped").
 *
 * Output on success, one line (exit 0):
 *   RRLAT {"requests":N,"duration_ns":N,"status":N,"p50_ns":N,"p90_ns":N,
 *          "p99_ns":N,"mean_ns":X,"min_ns":N,"max_ns":N,"req_len":N,
 *          "resp_len":N,"reconnects":N,"capped":0|1}
 * requests: round trips timed; status: responses whose status is not 2xx
 * or 3xx (counted, as wrk does, not an error); percentiles by nearest
 * rank over all samples (sorted); resp_len: the last response's bytes.
 * On an error: "rrlat: <operation>: <reason>" on stderr, no RRLAT line,
 * exit 1 (2: usage).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "reqfile.h"

#define REQ_MAX  4096
#define RESP_BUF 65536  /* a response head must fit; bodies stream through */

struct opts {
	const char *request;
	const char *addr;
	const char *port;
	unsigned duration_s;
	unsigned timeout_ms;
	unsigned long max_samples;
};

/* One response's framing, from its head. */
struct resp {
	size_t head_len;     /* through the blank line */
	size_t body_len;     /* bytes after the head */
	unsigned status;
	int close;           /* Connection: close -- the server ends the connection */
};

/* Print the usage to f. */
static void usage(FILE *f)
{
	fprintf(f, "usage: rrlat --request FILE --addr IP --port N [--duration S] "
		"[--timeout-ms MS] [--max-samples N]\n");
}

/* Parse decimal s into *v, 1..max. Returns 0 or -EINVAL (message printed,
 * naming option name). */
static int parse_num(const char *name, const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || *end || end == s || *v == 0 || *v > max) {
		fprintf(stderr, "rrlat: invalid --%s '%s' (1..%lu)\n", name, s, max);
		return -EINVAL;
	}
	return 0;
}

/* Parse argv into o. Returns 0 or -EINVAL (message printed). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "request", required_argument, NULL, 'r' },
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-samples", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long v;
	int c;

	o->duration_s = 5;
	o->timeout_ms = 2000;
	o->max_samples = 1ul << 24;
	while ((c = getopt_long(argc, argv, "r:a:p:d:t:m:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->request = optarg;
			break;
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			if (parse_num("port", optarg, 65535, &v))
				return -EINVAL;
			o->port = optarg;
			break;
		case 'd':
			if (parse_num("duration", optarg, 86400, &v))
				return -EINVAL;
			o->duration_s = (unsigned)v;
			break;
		case 't':
			/* a round trip must fit the samples' range with room to spare */
			if (parse_num("timeout-ms", optarg, 60000, &v))
				return -EINVAL;
			o->timeout_ms = (unsigned)v;
			break;
		case 'm':
			if (parse_num("max-samples", optarg, 1ul << 28, &v))
				return -EINVAL;
			o->max_samples = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->request || !o->addr || !o->port || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* CLOCK_MONOTONIC in ns. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A connected TCP socket to addr:port with TCP_NODELAY and send/recv
 * timeouts of timeout_ms (which also bound the connect). Returns the fd,
 * or -errno (message printed). */
static int dial(const char *addr, const char *port, unsigned timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	struct addrinfo *ai;
	int fd, one = 1, err;

	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "rrlat: address %s port %s: %s\n", addr, port, gai_strerror(err));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "rrlat: socket: %s\n", strerror(-err));
		goto out_free;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		err = -errno;
		fprintf(stderr, "rrlat: setsockopt: %s\n", strerror(-err));
		goto out_close;
	}
	/* SO_SNDTIMEO bounds a blocking connect (EINPROGRESS when it runs out) */
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		fprintf(stderr, "rrlat: connect %s port %s: %s\n", addr, port, strerror(-err));
		goto out_close;
	}
	freeaddrinfo(ai);
	return fd;

out_close:
	close(fd);
out_free:
	freeaddrinfo(ai);
	return err;
}

/* Send all len bytes of buf. Returns 0 or -errno (message printed). */
static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;
	int err;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			fprintf(stderr, "rrlat: send: %s\n", strerror(-err));
			return err;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The value of header name (with its colon) in the head's lines
 * [p, end), or NULL; *len its length without surrounding blanks. */
static const char *header(const char *p, const char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *e, *v;

	while (p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		if ((size_t)(e - p) > nl && !strncasecmp(p, name, nl)) {
			v = p + nl;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(e - v);
			while (*len && (v[*len - 1] == '\r' || v[*len - 1] == ' ' ||
					v[*len - 1] == '\t'))
				(*len)--;
			return v;
		}
		p = e + 1;
	}
	return NULL;
}

/* Frame the response whose head is buf[0, head_len) (through the blank
 * line) into r. Returns 0 or -EPROTO (message printed) for what this
 * client cannot frame on a keep-alive connection. */
static int parse_head(const char *buf, size_t head_len, struct resp *r)
{
	const char *end = buf + head_len, *v, *eol;
	unsigned long long cl;
	char num[24], *e;
	size_t len;

	r->head_len = head_len;
	eol = memchr(buf, '\n', head_len);
	if (head_len < 12 || strncmp(buf, "HTTP/1.", 7) || buf[8] != ' ' ||
	    buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
	    buf[11] < '0' || buf[11] > '9') {
		fprintf(stderr, "rrlat: response: no HTTP/1.x status line: %.*s\n",
			(int)strcspn(buf, "\r\n") < 40 ? (int)strcspn(buf, "\r\n") : 40, buf);
		return -EPROTO;
	}
	r->status = (unsigned)(buf[9] - '0') * 100 + (unsigned)(buf[10] - '0') * 10 +
		    (unsigned)(buf[11] - '0');
	if (r->status < 200) {
		fprintf(stderr, "rrlat: response: interim status %u: %s\n", r->status,
			strerror(EPROTO));
		return -EPROTO;
	}
	if (header(eol + 1, end, "transfer-encoding:", &len)) {
		fprintf(stderr, "rrlat: response: Transfer-Encoding is not read: %s\n",
			strerror(EPROTO));
		return -EPROTO;
	}
	v = header(eol + 1, end, "connection:", &len);
	r->close = v && memmem(v, len, "close", 5) != NULL;
	v = header(eol + 1, end, "content-length:", &len);
	if (r->status == 204 || r->status == 304) {
		r->body_len = 0;
		return 0;
	}
	if (!v || len == 0) {
		fprintf(stderr, "rrlat: response: status %u without a Content-Length: %s\n",
			r->status, strerror(EPROTO));
		return -EPROTO;
	}
	if (len >= sizeof(num)) {
		fprintf(stderr, "rrlat: response: Content-Length of %zu characters: %s\n", len,
			strerror(EPROTO));
		return -EPROTO;
	}
	memcpy(num, v, len);
	num[len] = 0;
	errno = 0;
	cl = strtoull(num, &e, 10);
	if (errno || *e || num[0] == '-') {
		fprintf(stderr, "rrlat: response: Content-Length '%s': %s\n", num,
			strerror(EPROTO));
		return -EPROTO;
	}
	r->body_len = (size_t)cl;
	return 0;
}

/* Wait until fd is readable, at most until deadline (CLOCK_MONOTONIC ns).
 * Returns 0, or -ETIMEDOUT / -errno (message printed). */
static int wait_readable(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t t;
	int n;

	for (;;) {
		t = now_ns();
		if (t >= deadline)
			break;
		n = poll(&p, 1, (int)((deadline - t + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			n = -errno;
			fprintf(stderr, "rrlat: poll: %s\n", strerror(-n));
			return n;
		}
	}
	fprintf(stderr, "rrlat: response: incomplete after the timeout: %s\n", strerror(ETIMEDOUT));
	return -ETIMEDOUT;
}

/* One round trip: send req, read its whole response (buf: RESP_BUF bytes)
 * until deadline (CLOCK_MONOTONIC ns). Returns the response's length and
 * its framing in r, -EPIPE (nothing printed) if the peer closed the
 * connection before any byte of the response (the caller reconnects), or
 * -errno (message printed). */
static long long round_trip(int fd, const char *req, size_t req_len, char *buf,
			    uint64_t deadline, struct resp *r)
{
	size_t have = 0, total = 0, scan = 0;
	char *blank;
	ssize_t n;
	int err;

	err = send_all(fd, req, req_len);
	if (err)
		return err;
	r->head_len = 0;
	for (;;) {
		err = wait_readable(fd, deadline);
		if (err)
			return err;
		n = recv(fd, buf + have, RESP_BUF - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && total == 0)
			return -EPIPE;
		if (n <= 0) {
			err = n == 0 ? -ECONNRESET : errno == EAGAIN ? -ETIMEDOUT : -errno;
			fprintf(stderr, "rrlat: recv: %s%s\n", strerror(-err),
				n == 0 ? " (the peer closed the connection)" : "");
			return err;
		}
		have += (size_t)n;
		total += (size_t)n;
		if (!r->head_len) {
			blank = memmem(buf + scan, have - scan, "\r\n\r\n", 4);
			if (blank) {
				err = parse_head(buf, (size_t)(blank + 4 - buf), r);
				if (err)
					return err;
			} else if (have == RESP_BUF) {
				fprintf(stderr, "rrlat: response: head over %d bytes: %s\n",
					RESP_BUF, strerror(EPROTO));
				return -EPROTO;
			} else {
				scan = have > 3 ? have - 3 : 0;
			}
		}
		if (r->head_len) {
			if (total > r->head_len + r->body_len) {
				fprintf(stderr, "rrlat: response: %zu bytes after a response of "
					"%zu: %s\n", total - r->head_len - r->body_len,
					r->head_len + r->body_len, strerror(EPROTO));
				return -EPROTO;
			}
			if (total == r->head_len + r->body_len)
				return (long long)total;
			have = 0;  /* the head is read: the rest is body, let it stream */
		}
	}
}

/* qsort order of uint64_t. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank pct percentile of the n sorted samples s (n > 0). */
static uint64_t pctl(const uint64_t *s, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return s[rank ? rank - 1 : 0];
}

int main(int argc, char **argv)
{
	static char req[REQ_MAX], buf[RESP_BUF];
	uint64_t *ns = NULL, *grown, t0, t1, start, end, sum = 0;
	size_t n = 0, cap = 0, nstatus = 0, reconnects = 0;
	int closed = 0;
	long long resp_len = 0;
	struct opts o = { 0 };
	struct resp r = { 0 };
	int fd, req_len, rc = 1;

	if (parse_opts(argc, argv, &o))
		return 2;
	req_len = bench_read_request("rrlat", o.request, req, sizeof(req));
	if (req_len < 0)
		return 1;
	fd = dial(o.addr, o.port, o.timeout_ms);
	if (fd < 0)
		return 1;
	start = now_ns();
	end = start + (uint64_t)o.duration_s * 1000000000ull;
	for (t1 = start; t1 < end && n < o.max_samples;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > o.max_samples)
				cap = o.max_samples;
			grown = realloc(ns, cap * sizeof(*ns));
			if (!grown) {
				fprintf(stderr, "rrlat: samples: %s\n", strerror(ENOMEM));
				goto out;
			}
			ns = grown;
		}
		t0 = now_ns();
		resp_len = round_trip(fd, req, (size_t)req_len, buf,
				      t0 + (uint64_t)o.timeout_ms * 1000000ull, &r);
		t1 = now_ns();
		if (resp_len == -EPIPE || (resp_len >= 0 && r.close)) {
			/* the server ended the connection: a new one, not timed */
			if (resp_len == -EPIPE && closed++) {
				fprintf(stderr, "rrlat: recv: %s (closed again on a new "
					"connection)\n", strerror(ECONNRESET));
				goto out;
			}
			close(fd);
			fd = dial(o.addr, o.port, o.timeout_ms);
			if (fd < 0)
				goto out_free;
			reconnects++;
			if (resp_len == -EPIPE)
				continue;  /* not answered: sent again */
		}
		if (resp_len < 0)
			goto out;
		closed = 0;
		ns[n++] = t1 - t0;
		sum += t1 - t0;
		if (r.status >= 400)
			nstatus++;
	}
	if (!n) {
		fprintf(stderr, "rrlat: run: no round trip completed\n");
		goto out;
	}
	qsort(ns, n, sizeof(*ns), cmp_u64);
	printf("RRLAT {\"requests\":%zu,\"duration_ns\":%llu,\"status\":%zu,\"p50_ns\":%llu,"
	       "\"p90_ns\":%llu,\"p99_ns\":%llu,\"mean_ns\":%.1f,\"min_ns\":%llu,"
	       "\"max_ns\":%llu,\"req_len\":%d,\"resp_len\":%lld,\"reconnects\":%zu,"
	       "\"capped\":%d}\n", n,
	       (unsigned long long)(t1 - start), nstatus, (unsigned long long)pctl(ns, n, 50),
	       (unsigned long long)pctl(ns, n, 90), (unsigned long long)pctl(ns, n, 99),
	       (double)sum / (double)n, (unsigned long long)ns[0],
	       (unsigned long long)ns[n - 1], req_len, resp_len, reconnects, n == o.max_samples);
	rc = 0;
out:
	close(fd);
out_free:
	free(ns);
	return rc;
}
