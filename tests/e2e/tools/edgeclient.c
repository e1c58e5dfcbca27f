/* edgeclient.c -- connections that end abruptly around a preflight, or reuse one port (e2e).
 *   edgeclient --addr ADDR --port PORT --scenario NAME [--count N] [--sport P]
 *              [--hold-ms MS] [--go-file PATH]
 * Scenarios (each on a fresh connection, N times):
 *   fin-with-request    send the preflight and shut down writing at once
 *                       (FIN may ride on the request); read the answer
 *   fin-after-response  preflight, read the 204, close normally
 *   rst-after-request   preflight, then reset before any answer arrives
 *   rst-after-response  preflight, read the answer, then reset
 *   half-request        send half of the preflight, then reset
 *   patient             preflight, read the answer waiting up to 20 s (the
 *                       test loses the first answers meanwhile), close
 *   reuse-rst           N connections one after another from one source
 *                       port (--sport): each a preflight, then GET
 *                       /blob?n=20000&seed=I (every byte checked), then an
 *                       RST -- each connection reuses the 4-tuple of the
 *                       one just reset
 *   reuse-close         the same, but the GET carries Connection: close:
 *                       the server closes first and holds TIME_WAIT, which
 *                       takes the next connection's SYN
 *   reuse-hold          the same, but each connection prints
 *                       "edgeclient: spliced I" (its number, from 1)
 *                       after its preflight, then pauses before the GET
 *                       -- --hold-ms (default 1000), or with --go-file
 *                       until that file exists (up to --hold-ms) --,
 *                       sends a second preflight after it, and closes
 *                       (the tests spoof SYNs on its 4-tuple meanwhile)
 *   reuse-refused       N connections at once from ports --sport ..
 *                       --sport + N - 1 (N <= 64), each a preflight; then
 *                       "edgeclient: spliced A" on stdout, and once the
 *                       file --go-file exists (the test creates it when
 *                       nothing listens on PORT any more; up to
 *                       --hold-ms), for each connection an RST and at
 *                       once a new connection from the same port: it must
 *                       be refused (ECONNREFUSED) within 500 ms -- at its
 *                       first SYN, not after a retransmission (1 s). Also
 *                       prints "refused=R max_ms=M".
 * The reuse scenarios also compare every preflight's answer with the
 * first one's, byte for byte (a Date line aside), and count the answers
 * without the app's "X-Answered-By: app" as kernel=K.
 * Prints "edgeclient: scenario=S count=N answered=A errors=E" (reuse: also
 * "kernel=K"); exit 0 iff E == 0 (an error is a connect/send failure, or
 * no answer where one is due, or a wrong byte).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char req_fmt[] =
	"OPTIONS /v1/items HTTP/1.1\r\n"
	"Host: %s:%u\r\n"
	"Origin: https://app.example.com\r\n"
	"Access-Control-Request-Method: PUT\r\n"
	"Access-Control-Request-Headers: content-type\r\n"
	"Accept: */*\r\n"
	"\r\n";

/* connect_to: a TCP connection to addr:port (numeric v4/v6), or -1. */
static int connect_to(const char *addr, unsigned port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd;

	if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&s4, sizeof(s4)) == 0)
			return fd;
	} else if (inet_pton(AF_INET6, addr, &s6.sin6_addr) == 1) {
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0)
			return fd;
	} else {
		return -1;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* connect_from: connect_to from local port sport (the address family's
 * wildcard address, SO_REUSEADDR), retried for up to 2 s while the
 * previous connection from that port still holds it (its socket in
 * LAST_ACK until the server's last ACK: EADDRNOTAVAIL). Returns the fd, or
 * -1. */
static int connect_from(const char *addr, unsigned port, unsigned sport)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 l6 = { .sin6_family = AF_INET6, .sin6_port = htons(sport) };
	struct sockaddr_in l4 = { .sin_family = AF_INET, .sin_port = htons(sport) };
	int v4 = inet_pton(AF_INET, addr, &s4.sin_addr) == 1, fd, one = 1, k;

	if (!v4 && inet_pton(AF_INET6, addr, &s6.sin6_addr) != 1)
		return -1;
	for (k = 0; k < 2000; k++) {
		fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, v4 ? (struct sockaddr *)&l4 : (struct sockaddr *)&l6,
			  v4 ? sizeof(l4) : sizeof(l6)) &&
		    !connect(fd, v4 ? (struct sockaddr *)&s4 : (struct sockaddr *)&s6,
			     v4 ? sizeof(s4) : sizeof(s6)))
			return fd;
		close(fd);
		if (errno != EADDRINUSE && errno != EADDRNOTAVAIL)
			return -1;
		usleep(1000);
	}
	return -1;
}

/* reset: close fd with an RST (linger 0). */
static void reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* read_status: wait (<= wait_ms) for an HTTP status line; returns the
 * status code, or -1. */
static int read_status(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int st;

	while (len < sizeof(buf) - 1) {
		if (poll(&p, 1, wait_ms) <= 0)
			return -1;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		if (strstr(buf, "\r\n") && sscanf(buf, "HTTP/1.1 %d", &st) == 1)
			return st;
	}
	return -1;
}

/* read_head: read a response head (through the blank line) into buf (cap
 * bytes, NUL-terminated), and *extra the bytes read past it. Returns the
 * head's length, or -1. */
static int read_head(int fd, char *buf, size_t cap, size_t *extra)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	char *e;

	while (len < cap - 1) {
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = 0;
		e = strstr(buf, "\r\n\r\n");
		if (e) {
			*extra = len - (size_t)(e + 4 - buf);
			return (int)(e + 4 - buf);
		}
	}
	return -1;
}

/* strip_date: remove a "Date:" line from the head h, in place. */
static void strip_date(char *h)
{
	char *d = strstr(h, "\r\nDate: "), *e;

	if (d && (e = strstr(d + 2, "\r\n")))
		memmove(d, e, strlen(e) + 1);
}

/* preflight: the preflight on connection i (fd), whose answer must equal
 * first (the first answer, stored there when first[0] is 0). Returns 1
 * (answered in the kernel), 0 (by the app) or -1. */
static int preflight(int fd, const char *addr, unsigned port, unsigned i, char *first,
		     size_t cap)
{
	char req[512], head[4096];
	int n, st = -1;
	size_t extra;

	n = snprintf(req, sizeof(req), req_fmt, addr, port);
	if (write(fd, req, (size_t)n) != n || read_head(fd, head, sizeof(head), &extra) < 0 ||
	    extra || sscanf(head, "HTTP/1.1 %d", &st) != 1 || st != 204) {
		fprintf(stderr, "edgeclient: connection %u: preflight not answered 204\n", i);
		return -1;
	}
	n = !strstr(head, "\r\nX-Answered-By: app\r\n");
	strip_date(head);
	if (!first[0]) {
		snprintf(first, cap, "%s", head);
	} else if (strcmp(first, head)) {
		fprintf(stderr, "edgeclient: connection %u: answer differs:\n%s\n---- first:\n%s\n",
			i, head, first);
		return -1;
	}
	return n;
}

static unsigned long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long long)t.tv_sec * 1000 + (unsigned long long)t.tv_nsec / 1000000;
}

/* hold: pause hold_ms, or with a go file (go not NULL) until it exists,
 * at most hold_ms. Returns 0, or -1 if the go file never came. */
static int hold(const char *go, unsigned hold_ms)
{
	unsigned long long t0;

	if (!go) {
		usleep(hold_ms * 1000u);
		return 0;
	}
	for (t0 = now_ms(); access(go, F_OK) && now_ms() - t0 < hold_ms;)
		usleep(1000);
	if (access(go, F_OK)) {
		fprintf(stderr, "edgeclient: no %s after %u ms\n", go, hold_ms);
		return -1;
	}
	return 0;
}

/* reuse_one: connection i of a reuse scenario from local port sport: a
 * preflight (preflight()), then GET /blob?n=20000&seed=i with every byte
 * checked; then an RST (end 'r') or, with Connection: close on the GET,
 * the server's close ('c'); or (end 'h') "spliced i + 1" on stdout and
 * a pause (hold()) before the GET, another preflight after it, and a
 * close. Returns 2 (every preflight answered in the kernel), 1 (not
 * every one), -1 on an error. */
static int reuse_one(const char *addr, unsigned port, unsigned sport, unsigned i, char end,
		     unsigned hold_ms, const char *go, char *first, size_t cap)
{
	enum { BLOB = 20000 };
	char req[512], head[4096], body[BLOB];
	size_t extra, got;
	int fd, n, h, st = -1, kernel;
	unsigned long long clen;
	const char *cl;
	ssize_t r;

	fd = connect_from(addr, port, sport);
	if (fd < 0) {
		fprintf(stderr, "edgeclient: connection %u: connect from port %u: %s\n", i, sport,
			strerror(errno));
		return -1;
	}
	kernel = preflight(fd, addr, port, i, first, cap);
	if (kernel < 0)
		goto fail;
	if (end == 'h') {
		printf("edgeclient: spliced %u\n", i + 1);
		fflush(stdout);
		if (hold(go, hold_ms))
			goto fail;
	}
	n = snprintf(req, sizeof(req), "GET /blob?n=%u&seed=%u HTTP/1.1\r\nHost: %s:%u\r\n%s\r\n",
		     (unsigned)BLOB, i, addr, port, end == 'c' ? "Connection: close\r\n" : "");
	if (write(fd, req, (size_t)n) != n ||
	    (h = read_head(fd, head, sizeof(head), &extra)) < 0 ||
	    sscanf(head, "HTTP/1.1 %d", &st) != 1 || st != 200 ||
	    !(cl = strstr(head, "Content-Length: ")) ||
	    (clen = strtoull(cl + 16, NULL, 10)) != BLOB || extra > BLOB) {
		fprintf(stderr, "edgeclient: connection %u: GET not answered 200 with %u bytes\n",
			i, (unsigned)BLOB);
		goto fail;
	}
	memcpy(body, head + h, extra);
	for (got = extra; got < BLOB; got += (size_t)r) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5000) <= 0 || (r = read(fd, body + got, BLOB - got)) <= 0) {
			fprintf(stderr, "edgeclient: connection %u: GET body short (%zu bytes)\n",
				i, got);
			goto fail;
		}
	}
	for (got = 0; got < BLOB; got++)
		if ((uint8_t)body[got] != (uint8_t)((got * 131 + (uint64_t)i * 7 + (got >> 8)) & 0xff)) {
			fprintf(stderr, "edgeclient: connection %u: GET body byte %zu wrong\n", i, got);
			goto fail;
		}
	if (end == 'h') {
		n = preflight(fd, addr, port, i, first, cap);
		if (n < 0)
			goto fail;
		kernel &= n;
		close(fd);
	} else if (end == 'r') {
		reset(fd);
	} else {
		/* the server closes first: its FIN, then ours */
		if (read_status(fd, 5000) != -1)
			fprintf(stderr, "edgeclient: connection %u: data after the close\n", i);
		close(fd);
	}
	return kernel ? 2 : 1;
fail:
	reset(fd);
	return -1;
}

/* The outcome of reuse_refused. */
struct refused_sum {
	unsigned answered, kernel, refused, errors;
	unsigned long long max_ms;
};

/* reuse_refused: the reuse-refused scenario (count <= 64 connections from
 * sport on), its outcome in *o. */
static void reuse_refused(const char *addr, unsigned port, unsigned sport, unsigned count,
			  unsigned hold_ms, const char *go, char *first, size_t cap,
			  struct refused_sum *o)
{
	unsigned long long t0, ms;
	int fd[64], r, nfd;
	unsigned i;

	for (i = 0; i < count; i++) {
		fd[i] = connect_from(addr, port, sport + i);
		if (fd[i] < 0) {
			fprintf(stderr, "edgeclient: connection %u: connect from port %u: %s\n", i,
				sport + i, strerror(errno));
			o->errors++;
			continue;
		}
		r = preflight(fd[i], addr, port, i, first, cap);
		if (r < 0) {
			reset(fd[i]);
			fd[i] = -1;
			o->errors++;
			continue;
		}
		o->answered++;
		o->kernel += (unsigned)r;
	}
	printf("edgeclient: spliced %u\n", o->answered);
	fflush(stdout);
	if (hold(go, hold_ms))
		o->errors++;
	for (i = 0; i < count; i++) {
		if (fd[i] < 0)
			continue;
		reset(fd[i]);
		t0 = now_ms();
		nfd = connect_from(addr, port, sport + i);
		ms = now_ms() - t0;
		if (ms > o->max_ms)
			o->max_ms = ms;
		if (nfd >= 0) {
			fprintf(stderr, "edgeclient: connection %u: reconnected: something listens\n", i);
			close(nfd);
			o->errors++;
		} else if (errno != ECONNREFUSED) {
			fprintf(stderr, "edgeclient: connection %u: reconnect: %s\n", i, strerror(errno));
			o->errors++;
		} else if (ms >= 500) {
			fprintf(stderr, "edgeclient: connection %u: refused after %llu ms, not at the "
				"first SYN\n", i, ms);
			o->errors++;
		} else {
			o->refused++;
		}
	}
}

/* run_one: one connection of scenario sc. Returns 1 answered, 0 not
 * (as expected), -1 error. */
static int run_one(const char *sc, const char *addr, unsigned port)
{
	char req[512];
	int fd, n, st = 0;

	n = snprintf(req, sizeof(req), req_fmt, addr, port);
	fd = connect_to(addr, port);
	if (fd < 0)
		return -1;
	if (!strcmp(sc, "half-request")) {
		if (write(fd, req, (size_t)n / 2) != n / 2)
			st = -1;
		reset(fd);
		return st;
	}
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	if (!strcmp(sc, "rst-after-request")) {
		reset(fd);
		return 0;
	}
	if (!strcmp(sc, "fin-with-request"))
		shutdown(fd, SHUT_WR);
	st = read_status(fd, strcmp(sc, "patient") ? 5000 : 20000);
	if (!strcmp(sc, "rst-after-response"))
		reset(fd);
	else
		close(fd);
	return st == 204 || st == 200 ? 1 : -1;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *sc = NULL, *go = NULL;
	unsigned port = 0, count = 1, i, answered = 0, errors = 0, sport = 0, kernel = 0;
	unsigned hold_ms = 1000;
	static char first[4096];
	bool reuse;
	int r;

	for (i = 1; i + 1 < (unsigned)argc; i += 2) {
		if (!strcmp(argv[i], "--addr"))
			addr = argv[i + 1];
		else if (!strcmp(argv[i], "--port"))
			port = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--scenario"))
			sc = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			count = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--sport"))
			sport = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--hold-ms"))
			hold_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--go-file"))
			go = argv[i + 1];
	}
	reuse = sc && (!strcmp(sc, "reuse-rst") || !strcmp(sc, "reuse-close") ||
		       !strcmp(sc, "reuse-hold") || !strcmp(sc, "reuse-refused"));
	if (!addr || !port || !sc || count == 0 || count > 10000 ||
	    (reuse && (sport == 0 || sport + count - 1 > 65535)) ||
	    (reuse && !strcmp(sc, "reuse-refused") && (count > 64 || !go))) {
		fprintf(stderr, "usage: edgeclient --addr ADDR --port PORT --scenario NAME "
			"[--count N] [--sport P] [--hold-ms MS] [--go-file PATH]\n");
		return 2;
	}
	if (reuse && !strcmp(sc, "reuse-refused")) {
		struct refused_sum o = { 0 };

		reuse_refused(addr, port, sport, count, hold_ms, go, first, sizeof(first), &o);
		printf("edgeclient: scenario=%s count=%u answered=%u kernel=%u refused=%u max_ms=%llu "
		       "errors=%u\n", sc, count, o.answered, o.kernel, o.refused, o.max_ms, o.errors);
		return o.errors ? 1 : 0;
	}
	for (i = 0; i < count; i++) {
		if (reuse) {
			r = reuse_one(addr, port, sport, i, sc[6], hold_ms, go, first, sizeof(first));
			kernel += r == 2;
			r = r < 0 ? -1 : 1;
		} else {
			r = run_one(sc, addr, port);
		}
		if (r < 0)
			errors++;
		else
			answered += (unsigned)r;
	}
	if (reuse)
		printf("edgeclient: scenario=%s count=%u answered=%u kernel=%u errors=%u\n", sc,
		       count, answered, kernel, errors);
	else
		printf("edgeclient: scenario=%s count=%u answered=%u errors=%u\n", sc, count,
		       answered, errors);
	return errors ? 1 : 0;
}
