/* edgeclient.c -- connections that end abruptly around a preflight (e2e).
 *   edgeclient --addr ADDR --port PORT --scenario NAME [--count N]
 * Scenarios (each on a fresh connection, N times):
 *   fin-with-request    send the preflight and shut down writing at once
 *                       (FIN may ride on the request); read the answer
 *   fin-after-response  preflight, read the 204, close normally
 *   rst-after-request   preflight, then reset before any answer arrives
 *   rst-after-response  preflight, read the answer, then reset
 *   half-request        send half of the preflight, then reset
 *   patient             preflight, read the answer waiting up to 20 s (the
 *                       test loses the first answers meanwhile), close
 * Prints "edgeclient: scenario=S count=N answered=A errors=E"; exit 0 iff
 * E == 0 (an error is a connect/send failure, or no answer where one is
 * due).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
	const char *addr = NULL, *sc = NULL;
	unsigned port = 0, count = 1, i, answered = 0, errors = 0;
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
	}
	if (!addr || !port || !sc || count == 0 || count > 10000) {
		fprintf(stderr, "usage: edgeclient --addr ADDR --port PORT --scenario NAME "
			"[--count N]\n");
		return 2;
	}
	for (i = 0; i < count; i++) {
		r = run_one(sc, addr, port);
		if (r < 0)
			errors++;
		else
			answered += (unsigned)r;
	}
	printf("edgeclient: scenario=%s count=%u answered=%u errors=%u\n", sc, count,
	       answered, errors);
	return errors ? 1 : 0;
}
