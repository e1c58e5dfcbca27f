/* kaclient.c -- keep-alive HTTP/1.1 client for the e2e tests: preflight + PUT + GET per round, every byte checked. */
/*
 *   kaclient --addr ADDR --port PORT [--conns N] [--rounds M] [--origin O]
 *            [--put-size BYTES] [--get-size BYTES] [--timeout-ms MS]
 *            [--acrh LIST] [--expect kernel|app|any] [--host HOST] [--mss BYTES]
 *            [--hold-ms MS] [--duration-s S] [--stop-file PATH] [--pause-ms MS]
 *            [--keepalive S] [--ext6-from R] [--cookie-bytes N]
 *            [--mix 0|1] [--scenario continue-body|early-body|hints]
 * Each of N threads opens ONE TCP connection (never reopened) and runs M
 * rounds of: OPTIONS preflight (answered by the kernel or by the app:
 * "X-Answered-By: app" present means app), PUT of put-size deterministic
 * bytes (the JSON len/sum reply is checked), GET /blob of get-size bytes
 * (every byte checked against appserver's formula). A protocol, data,
 * timeout or EOF error ends that connection. Prints one summary line:
 *   kaclient: conns=N rounds=M preflights=P kernel=K app=A bytes_up=U
 *             bytes_down=D errors=E
 * bytes_up/down count all HTTP bytes (heads and bodies). Exit 0 iff E == 0.
 * --mix 1 and --scenario change the rounds (see do_round, do_scenario).
 * --stop-file PATH: no round starts once PATH exists (a test ends the
 * traffic when its checks are done, not after a guessed time).
 * --pause-ms idles between each preflight and its PUT; --keepalive S turns
 * TCP keepalive on (idle S s, then 2 probes 1 s apart: unanswered, the
 * connection is aborted).
 * --ext6-from R: from round R on, the connection's segments carry two
 * IPv6 extension headers (hop-by-hop and destination options, each a
 * PadN option: IPV6_HOPOPTS / IPV6_DSTOPTS, CAP_NET_RAW; IPv6 only).
 * --cookie-bytes N: the PUT and GET heads carry a Cookie line whose value
 * is N bytes (a browser's credentialed requests; preflights never do).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS    1024
#define HEAD_MAX     16384
#define MAX_HEADERS  64
#define RBUF         65536
#define MAX_ERR_MSGS 5              /* non-fatal messages printed per conn */

enum expect { EXPECT_ANY, EXPECT_KERNEL, EXPECT_APP };

struct opts {
	const char *addr, *origin, *acrh, *host;
	unsigned port, conns, rounds, timeout_ms;
	unsigned hold_ms;      /* keep the connection open this long at the end */
	unsigned pause_ms;     /* idle this long between a preflight and its PUT */
	unsigned mix;          /* browser-like: simple requests between preflights */
	const char *scenario;  /* after each preflight, instead of the PUT */
	unsigned keepalive_s;  /* TCP keepalive: idle S, probes 1 s apart, 2 */
	unsigned duration_s;   /* rounds until this many seconds passed (0: off) */
	const char *stop_file; /* rounds until this file exists (NULL: off) */
	unsigned mss;          /* TCP_MAXSEG before connect (0: the default) */
	unsigned ext6_from;    /* --ext6-from R, plus 1 (0: off) */
	char *cookie;          /* "Cookie: c=...\r\n" (--cookie-bytes), or "" */
	uint64_t put_size, get_size;
	enum expect expect;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char host_buf[INET6_ADDRSTRLEN + 16];
};

struct resp {
	int status;
	char head[HEAD_MAX];
	struct { const char *name, *value; } h[MAX_HEADERS];
	int nh;
};

struct worker {
	const struct opts *o;
	unsigned idx;
	pthread_t th;
	int fd;
	unsigned round;
	uint64_t preflights, kernel, app, up, down, errors, msgs;
	uint64_t rng;                   /* --mix: the round's shape */
	size_t off, len;                /* unread bytes are rbuf[off..len) */
	char rbuf[RBUF];
	char wbuf[RBUF];
	struct resp r;
};

/* blob_byte: same formula as appserver's GET /blob. */
static inline uint8_t blob_byte(uint64_t i, uint64_t seed)
{
	return (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

/* fnv1a64: continue a 64-bit FNV-1a hash h over n bytes of p. */
static uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* fail: count an error for w and print it (first MAX_ERR_MSGS only). */
static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	w->errors++;
	if (w->msgs++ >= MAX_ERR_MSGS)
		return;
	fprintf(stderr, "kaclient: conn %u round %u: ", w->idx, w->round);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* send_all: write n bytes, each wait bounded by the timeout. 0 or -1. */
static int send_all(struct worker *w, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };
		int pr = poll(&pfd, 1, (int)w->o->timeout_ms);
		ssize_t s;

		if (pr == 0) {
			fail(w, "send: timeout after %u ms", w->o->timeout_ms);
			return -1;
		}
		s = send(w->fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (s < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (s <= 0) {
			fail(w, "send: %s", strerror(errno));
			return -1;
		}
		c += s;
		n -= (size_t)s;
		w->up += (uint64_t)s;
	}
	return 0;
}

/* fill: read more bytes into rbuf (compacting first). 0, or -1 on EOF/error/timeout. */
static int fill(struct worker *w, const char *what)
{
	if (w->off > 0) {
		memmove(w->rbuf, w->rbuf + w->off, w->len - w->off);
		w->len -= w->off;
		w->off = 0;
	}
	for (int tries = 0; tries < 100; tries++) {
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)w->o->timeout_ms);
		ssize_t r;

		if (pr == 0) {
			fail(w, "%s: timeout after %u ms", what,
			     w->o->timeout_ms);
			return -1;
		}
		r = recv(w->fd, w->rbuf + w->len, sizeof(w->rbuf) - w->len,
			 MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == 0) {
			fail(w, "%s: unexpected EOF", what);
			return -1;
		}
		if (r < 0) {
			fail(w, "%s: recv: %s", what, strerror(errno));
			return -1;
		}
		w->len += (size_t)r;
		w->down += (uint64_t)r;
		return 0;
	}
	fail(w, "%s: recv keeps failing", what);
	return -1;
}

/* hget: first value of response header name (case-insensitive) or NULL. */
static const char *hget(const struct resp *r, const char *name)
{
	for (int i = 0; i < r->nh; i++)
		if (!strcasecmp(r->h[i].name, name))
			return r->h[i].value;
	return NULL;
}

/* parse_resp_head: parse r->head (NUL-terminated, no blank line). 0 or -1. */
static int parse_resp_head(struct resp *r)
{
	char *save = NULL, *line;
	int first = 1;

	r->nh = 0;
	for (line = strtok_r(r->head, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		char *colon, *v, *e;

		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (first) {
			if (strncmp(line, "HTTP/1.", 7) || n < 12 ||
			    line[8] != ' ')
				return -1;
			r->status = atoi(line + 9);
			if (r->status < 100 || r->status > 599)
				return -1;
			first = 0;
			continue;
		}
		colon = strchr(line, ':');
		if (!colon || r->nh >= MAX_HEADERS)
			return -1;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		r->h[r->nh].name = line;
		r->h[r->nh].value = v;
		r->nh++;
	}
	return first ? -1 : 0;
}

/*
 * read_head: read one final (non-1xx) response head into w->r and compute
 * its body length into *body (0 for 204/304). 0 or -1 (error counted).
 */
/* read_one_head: the next response head into w->r. 0 or -1. */
static int read_one_head(struct worker *w, const char *what)
{
	char *end = NULL;
	size_t hl;

	for (;;) {
		char *s = w->rbuf + w->off;
		size_t n = w->len - w->off;
		end = memmem(s, n, "\r\n\r\n", 4);
		if (end)
			break;
		if (n >= HEAD_MAX - 1) {
			fail(w, "%s: response head too long", what);
			return -1;
		}
		if (fill(w, what))
			return -1;
	}
	hl = (size_t)(end - (w->rbuf + w->off));
	memcpy(w->r.head, w->rbuf + w->off, hl);
	w->r.head[hl] = '\0';
	w->off += hl + 4;
	if (parse_resp_head(&w->r)) {
		fail(w, "%s: malformed response head", what);
		return -1;
	}
	return 0;
}

/* read_interim: the next response head must be the interim status want
 * (100, 103). 0 or -1. */
static int read_interim(struct worker *w, const char *what, int want)
{
	if (read_one_head(w, what))
		return -1;
	if (w->r.status != want) {
		fail(w, "%s: status %d, want %d first", what, w->r.status, want);
		return -1;
	}
	return 0;
}

static int read_head(struct worker *w, const char *what, uint64_t *body)
{
	for (int resp = 0; resp < 4; resp++) {
		const char *cl, *conn;

		if (read_one_head(w, what))
			return -1;
		if (w->r.status < 200)
			continue;       /* 100 Continue etc. */
		conn = hget(&w->r, "Connection");
		if (conn && strcasestr(conn, "close")) {
			fail(w, "%s: server sent Connection: close", what);
			return -1;
		}
		if (hget(&w->r, "Transfer-Encoding")) {
			fail(w, "%s: Transfer-Encoding not supported", what);
			return -1;
		}
		*body = 0;
		if (w->r.status == 204 || w->r.status == 304)
			return 0;
		cl = hget(&w->r, "Content-Length");
		if (!cl || !*cl || cl[strspn(cl, "0123456789")]) {
			fail(w, "%s: status %d without valid Content-Length",
			     what, w->r.status);
			return -1;
		}
		*body = strtoull(cl, NULL, 10);
		return 0;
	}
	fail(w, "%s: too many 1xx responses", what);
	return -1;
}

/*
 * read_body: consume n body bytes, passing each piece to cb(ctx, data, len,
 * offset) unless cb is NULL; cb returns nonzero to abort. 0 or -1.
 */
static int read_body(struct worker *w, const char *what, uint64_t n,
		     int (*cb)(struct worker *, void *, const char *, size_t,
			       uint64_t), void *ctx)
{
	uint64_t off = 0;

	while (off < n) {
		size_t avail = w->len - w->off, k;
		if (avail == 0) {
			if (fill(w, what))
				return -1;
			continue;
		}
		k = n - off < avail ? (size_t)(n - off) : avail;
		if (cb && cb(w, ctx, w->rbuf + w->off, k, off))
			return -1;
		w->off += k;
		off += k;
	}
	return 0;
}

/* check_acao: 0 if ACAO equals the origin or "*", else count an error. */
static int check_acao(struct worker *w, const char *what)
{
	const char *acao = hget(&w->r, "Access-Control-Allow-Origin");

	if (acao && (!strcmp(acao, w->o->origin) || !strcmp(acao, "*")))
		return 0;
	fail(w, "%s: Access-Control-Allow-Origin is '%s', want '%s'", what,
	     acao ? acao : "(none)", w->o->origin);
	return -1;
}

/* preflight_text: this client's preflight into buf; its length, or -1. */
static int preflight_text(const struct opts *o, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
			 "OPTIONS /v1/items HTTP/1.1\r\nHost: %s\r\n"
			 "User-Agent: kaclient/1\r\nAccept: */*\r\n"
			 "Origin: %s\r\nAccess-Control-Request-Method: PUT\r\n"
			 "Access-Control-Request-Headers: %s\r\n\r\n",
			 o->host, o->origin, o->acrh);

	return n < (int)cap ? n : -1;
}

/* do_preflight: one OPTIONS round trip, classified kernel/app. 0 or -1 (fatal). */
static int do_preflight(struct worker *w)
{
	const struct opts *o = w->o;
	const char *by;
	uint64_t body;
	int n;

	n = preflight_text(o, w->wbuf, sizeof(w->wbuf));
	if (n < 0 || send_all(w, w->wbuf, (size_t)n))
		return -1;
	if (read_head(w, "preflight", &body) ||
	    read_body(w, "preflight body", body, NULL, NULL))
		return -1;
	w->preflights++;
	by = hget(&w->r, "X-Answered-By");
	if (by)
		w->app++;
	else
		w->kernel++;
	if (w->r.status != 204 && w->r.status != 200) {
		fail(w, "preflight: status %d", w->r.status);
		return 0;
	}
	check_acao(w, "preflight");
	if (o->expect == EXPECT_KERNEL && by)
		fail(w, "preflight: answered by the app, expected kernel");
	if (o->expect == EXPECT_APP && !by)
		fail(w, "preflight: answered by the kernel, expected app");
	return 0;
}

/* next_rand: xorshift64* step. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* collect: body callback that appends to a small string buffer. */
static int collect(struct worker *w, void *ctx, const char *p, size_t n,
		   uint64_t off)
{
	char *dst = ctx;

	if (off + n >= 128) {
		fail(w, "put: response body too long");
		return -1;
	}
	memcpy(dst + off, p, n);
	dst[off + n] = '\0';
	return 0;
}

/* do_put: PUT put-size deterministic bytes, check JSON len/sum. 0 or -1. */
static int do_put(struct worker *w)
{
	const struct opts *o = w->o;
	uint64_t seed = ((uint64_t)w->idx + 1) * 0x9e3779b97f4a7c15ull ^
			((uint64_t)w->round << 32 | 0x5a5a);
	uint64_t h = 0xcbf29ce484222325ull, body;
	char got[128] = "", want[128];
	int n;

	n = snprintf(w->wbuf, sizeof(w->wbuf),
		     "PUT /v1/items HTTP/1.1\r\nHost: %s\r\n"
		     "User-Agent: kaclient/1\r\nOrigin: %s\r\n%s"
		     "Content-Type: application/octet-stream\r\n"
		     "X-Request-Id: %u-%u\r\nContent-Length: %" PRIu64
		     "\r\n\r\n", o->host, o->origin, o->cookie, w->idx, w->round,
		     o->put_size);
	if (n >= (int)sizeof(w->wbuf) || send_all(w, w->wbuf, (size_t)n))
		return -1;
	for (uint64_t off = 0; off < o->put_size;) {
		size_t k = o->put_size - off < sizeof(w->wbuf)
				   ? (size_t)(o->put_size - off)
				   : sizeof(w->wbuf);
		for (size_t i = 0; i < k; i += 8) {
			uint64_t r = next_rand(&seed);
			memcpy(w->wbuf + i, &r, k - i < 8 ? k - i : 8);
		}
		h = fnv1a64(h, w->wbuf, k);
		if (send_all(w, w->wbuf, k))
			return -1;
		off += k;
	}
	if (read_head(w, "put", &body) ||
	    read_body(w, "put body", body, collect, got))
		return -1;
	snprintf(want, sizeof(want), "{\"len\":%" PRIu64 ",\"sum\":\"%016"
		 PRIx64 "\"}", o->put_size, h);
	if (w->r.status != 200 || strcmp(got, want)) {
		fail(w, "put: status %d body '%s', want 200 '%s'",
		     w->r.status, got, want);
		return -1;
	}
	if (!hget(&w->r, "X-Answered-By"))
		fail(w, "put: response lacks X-Answered-By");
	return check_acao(w, "put");
}

/* verify_blob: body callback comparing every byte to blob_byte(). */
static int verify_blob(struct worker *w, void *ctx, const char *p, size_t n,
		       uint64_t off)
{
	uint64_t seed = *(uint64_t *)ctx;

	for (size_t i = 0; i < n; i++) {
		uint8_t want = blob_byte(off + i, seed);
		if ((uint8_t)p[i] != want) {
			fail(w, "get: first mismatch at offset %" PRIu64
			     ": got 0x%02x want 0x%02x", off + i,
			     (uint8_t)p[i], want);
			return -1;
		}
	}
	return 0;
}

/* do_get: GET /blob and verify Content-Length and every byte. 0 or -1. */
static int do_get(struct worker *w)
{
	const struct opts *o = w->o;
	uint64_t seed = w->round, body;
	int n;

	n = snprintf(w->wbuf, sizeof(w->wbuf),
		     "GET /blob?n=%" PRIu64 "&seed=%u HTTP/1.1\r\nHost: %s\r\n"
		     "User-Agent: kaclient/1\r\nOrigin: %s\r\n%sAccept: */*\r\n"
		     "\r\n", o->get_size, w->round, o->host, o->origin, o->cookie);
	if (n >= (int)sizeof(w->wbuf) || send_all(w, w->wbuf, (size_t)n))
		return -1;
	if (read_head(w, "get", &body))
		return -1;
	if (w->r.status != 200 || body != o->get_size) {
		fail(w, "get: status %d length %" PRIu64 ", want 200 %" PRIu64,
		     w->r.status, body, o->get_size);
		return -1;
	}
	return read_body(w, "get body", body, verify_blob, &seed);
}

/* do_scenario: what follows the preflight instead of the PUT (--scenario):
 *   continue-body  a PUT with Expect: 100-continue whose body, sent after
 *                  the 100 Continue, is byte for byte a complete preflight;
 *                  its JSON len/sum must be the body's
 *   early-body     a PUT /early whose 403 arrives before the body, which
 *                  then follows: again a complete preflight
 *   hints          GET /hints: a 103 Early Hints, then 200 "hinted"
 * A body answered as a preflight shows as a stray 204 where the next
 * response belongs. 0 or -1. */
static int do_scenario(struct worker *w)
{
	const struct opts *o = w->o;
	char text[1024], got[128] = "", want[128];
	const char *sc = o->scenario;
	uint64_t body;
	int n, t, early = !strcmp(sc, "early-body");

	if (!strcmp(sc, "hints")) {
		n = snprintf(w->wbuf, sizeof(w->wbuf), "GET /hints HTTP/1.1\r\nHost: %s\r\n"
			     "Origin: %s\r\n\r\n", o->host, o->origin);
		if (send_all(w, w->wbuf, (size_t)n) || read_interim(w, "hints", 103) ||
		    read_head(w, "hints", &body) || read_body(w, "hints body", body, collect, got))
			return -1;
		if (w->r.status != 200 || strcmp(got, "hinted")) {
			fail(w, "hints: status %d body '%s', want 200 'hinted'", w->r.status, got);
			return -1;
		}
		return 0;
	}
	t = preflight_text(o, text, sizeof(text));
	if (t < 0)
		return -1;
	n = snprintf(w->wbuf, sizeof(w->wbuf),
		     "PUT %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n"
		     "Content-Type: text/plain\r\n%sContent-Length: %d\r\n\r\n",
		     early ? "/early" : "/v1/items", o->host, o->origin,
		     early ? "" : "Expect: 100-continue\r\n", t);
	if (send_all(w, w->wbuf, (size_t)n))
		return -1;
	if (early) {
		if (read_head(w, "early", &body) || read_body(w, "early body", body, NULL, NULL))
			return -1;
		if (w->r.status != 403) {
			fail(w, "early: status %d, want 403", w->r.status);
			return -1;
		}
		return send_all(w, text, (size_t)t);
	}
	if (read_interim(w, "continue", 100) || send_all(w, text, (size_t)t) ||
	    read_head(w, "continue", &body) || read_body(w, "continue body", body, collect, got))
		return -1;
	snprintf(want, sizeof(want), "{\"len\":%d,\"sum\":\"%016" PRIx64 "\"}", t,
		 fnv1a64(0xcbf29ce484222325ull, text, (size_t)t));
	if (w->r.status != 200 || strcmp(got, want)) {
		fail(w, "continue: status %d body '%s', want 200 '%s'", w->r.status, got, want);
		return -1;
	}
	return 0;
}

/* do_round: one round. Plain: preflight, PUT (or the scenario), GET.
 * --mix: like a browser's traffic, a random shape per round -- a simple
 * GET alone, the plain round, or two simple GETs before the preflight --
 * so that preflights often follow other requests on the connection,
 * including its first. 0 or -1. */
static int do_round(struct worker *w)
{
	unsigned shape = w->o->mix ? (unsigned)(next_rand(&w->rng) % 3) : 1;

	if (shape == 0)
		return do_get(w);
	if (shape == 2 && (do_get(w) || do_get(w)))
		return -1;
	if (do_preflight(w))
		return -1;
	if (w->o->pause_ms)
		poll(NULL, 0, (int)w->o->pause_ms);
	if (w->o->scenario ? do_scenario(w) : do_put(w))
		return -1;
	return do_get(w);
}

/* connect_to: nonblocking connect bounded by the timeout. fd or -1. */
static int connect_to(struct worker *w)
{
	const struct opts *o = w->o;
	struct pollfd pfd;
	int fd, err = 0, one = 1;
	socklen_t el = sizeof(err);

	fd = socket(o->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		fail(w, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &o->mss, sizeof(o->mss))) {
		fail(w, "TCP_MAXSEG %u: %s", o->mss, strerror(errno));
		goto err;
	}
	if (o->keepalive_s) {
		/* two unanswered probes 1 s apart and the kernel aborts
		 * the connection (ETIMEDOUT) */
		int idle = (int)o->keepalive_s, intvl = 1, cnt = 2;

		if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
		    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) ||
		    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) ||
		    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt))) {
			fail(w, "keepalive: %s", strerror(errno));
			goto err;
		}
	}
	if (connect(fd, (const struct sockaddr *)&o->ss, o->sslen) &&
	    errno != EINPROGRESS) {
		fail(w, "connect: %s", strerror(errno));
		goto err;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, (int)o->timeout_ms) <= 0) {
		fail(w, "connect: timeout after %u ms", o->timeout_ms);
		goto err;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
		fail(w, "connect: %s", strerror(err ? err : errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

/* set_ext6: from now on w's segments carry a hop-by-hop and a
 * destination options header (8 bytes each, one PadN option of 4
 * bytes). 0 or -1 (fatal). */
static int set_ext6(struct worker *w)
{
	static const unsigned char eh[8] = { 0, 0, 1, 4, 0, 0, 0, 0 };

	if (w->o->ss.ss_family != AF_INET6) {
		fail(w, "--ext6-from: not an IPv6 connection");
		return -1;
	}
	if (setsockopt(w->fd, IPPROTO_IPV6, IPV6_HOPOPTS, eh, sizeof(eh)) ||
	    setsockopt(w->fd, IPPROTO_IPV6, IPV6_DSTOPTS, eh, sizeof(eh))) {
		fail(w, "IPV6_HOPOPTS/IPV6_DSTOPTS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* worker_main: one connection, all rounds; stops at the first fatal error. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->fd = connect_to(w);
	if (w->fd < 0)
		return NULL;
	{
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (w->round = 0; w->round < w->o->rounds; w->round++) {
			if (w->o->ext6_from && w->round + 1 == w->o->ext6_from && set_ext6(w))
				break;
			if (do_round(w))
				break;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((w->o->duration_s &&
			     t.tv_sec - t0.tv_sec >= (time_t)w->o->duration_s) ||
			    (w->o->stop_file && !access(w->o->stop_file, F_OK))) {
				w->round++;
				break;
			}
		}
	}
	if ((w->round == w->o->rounds || w->o->duration_s || w->o->stop_file) &&
	    w->off != w->len)
		fail(w, "%zu unexpected bytes after the last response",
		     w->len - w->off);
	if (w->o->hold_ms)
		poll(NULL, 0, (int)w->o->hold_ms); /* idle, still connected */
	close(w->fd);
	return NULL;
}

/* num_arg: parse a decimal option value in [lo, hi] or exit 2. */
static uint64_t num_arg(const char *name, const char *v, uint64_t lo,
			uint64_t hi)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi) {
		fprintf(stderr, "kaclient: %s wants a number in [%" PRIu64
			", %" PRIu64 "], got '%s'\n", name, lo, hi, v);
		exit(2);
	}
	return x;
}

/* parse_args: fill o from argv or exit 2 with usage. */
static void parse_args(int argc, char **argv, struct opts *o)
{
	static char cookie[16384];
	unsigned long cookie_n = 0;

	*o = (struct opts){ .origin = "https://app.example.com", .conns = 1,
			    .rounds = 10, .put_size = 102400,
			    .get_size = 1048576, .timeout_ms = 10000,
			    .acrh = "content-type,x-request-id", .cookie = "" };
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--addr"))
			o->addr = v;
		else if (!strcmp(a, "--port"))
			o->port = (unsigned)num_arg(a, v, 1, 65535);
		else if (!strcmp(a, "--conns"))
			o->conns = (unsigned)num_arg(a, v, 1, MAX_CONNS);
		else if (!strcmp(a, "--rounds"))
			o->rounds = (unsigned)num_arg(a, v, 0, 100000000);
		else if (!strcmp(a, "--origin"))
			o->origin = v;
		else if (!strcmp(a, "--put-size"))
			o->put_size = num_arg(a, v, 0, 4ull << 30);
		else if (!strcmp(a, "--get-size"))
			o->get_size = num_arg(a, v, 0, 4ull << 30);
		else if (!strcmp(a, "--timeout-ms"))
			o->timeout_ms = (unsigned)num_arg(a, v, 1, 3600000);
		else if (!strcmp(a, "--acrh"))
			o->acrh = v;
		else if (!strcmp(a, "--hold-ms"))
			o->hold_ms = (unsigned)num_arg(a, v, 0, 600000);
		else if (!strcmp(a, "--mix"))
			o->mix = (unsigned)num_arg(a, v, 0, 1);
		else if (!strcmp(a, "--scenario") &&
			 (!strcmp(v, "continue-body") || !strcmp(v, "early-body") ||
			  !strcmp(v, "hints")))
			o->scenario = v;
		else if (!strcmp(a, "--pause-ms"))
			o->pause_ms = (unsigned)num_arg(a, v, 0, 600000);
		else if (!strcmp(a, "--keepalive"))
			o->keepalive_s = (unsigned)num_arg(a, v, 1, 3600);
		else if (!strcmp(a, "--duration-s"))
			o->duration_s = (unsigned)num_arg(a, v, 0, 3600);
		else if (!strcmp(a, "--stop-file"))
			o->stop_file = v;
		else if (!strcmp(a, "--host"))
			o->host = v;
		else if (!strcmp(a, "--mss"))
			o->mss = (unsigned)num_arg(a, v, 88, 65535);
		else if (!strcmp(a, "--ext6-from"))
			o->ext6_from = (unsigned)num_arg(a, v, 0, 100000000) + 1;
		else if (!strcmp(a, "--cookie-bytes"))
			cookie_n = (unsigned long)num_arg(a, v, 3, sizeof(cookie) - 16);
		else if (!strcmp(a, "--expect") && !strcmp(v, "any"))
			o->expect = EXPECT_ANY;
		else if (!strcmp(a, "--expect") && !strcmp(v, "kernel"))
			o->expect = EXPECT_KERNEL;
		else if (!strcmp(a, "--expect") && !strcmp(v, "app"))
			o->expect = EXPECT_APP;
		else
			goto usage;
	}
	if (argc % 2 == 0 || !o->addr || !o->port)
		goto usage;
	if (cookie_n) {
		/* "c=" and cookie_n - 2 letters of a cookie-octet */
		memcpy(cookie, "Cookie: c=", 10);
		memset(cookie + 10, 'k', cookie_n - 2);
		memcpy(cookie + 8 + cookie_n, "\r\n", 3);
		o->cookie = cookie;
	}
	return;
usage:
	fprintf(stderr,
		"usage: kaclient --addr ADDR --port PORT [--conns N] "
		"[--rounds M] [--origin O] [--put-size BYTES] "
		"[--get-size BYTES] [--timeout-ms MS] [--acrh LIST] "
		"[--expect kernel|app|any] [--host HOST] [--hold-ms MS] "
		"[--duration-s S] [--stop-file PATH] [--mss BYTES] [--pause-ms MS] "
		"[--keepalive S] [--ext6-from R] [--cookie-bytes N] [--mix 0|1]\n"
		"       [--scenario continue-body|early-body|hints]\n");
	exit(2);
}

/* resolve: numeric IPv4/IPv6 (optionally [bracketed]) into o->ss; default Host. */
static int resolve(struct opts *o)
{
	char a[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(o->addr);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&o->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->ss;

	if (n >= sizeof(a))
		return -1;
	memcpy(a, o->addr, n + 1);
	if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
		memmove(a, a + 1, n - 2);
		a[n - 2] = '\0';
	}
	memset(&o->ss, 0, sizeof(o->ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)o->port);
		o->sslen = sizeof(*s4);
		snprintf(o->host_buf, sizeof(o->host_buf), "%s:%u", a, o->port);
	} else if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)o->port);
		o->sslen = sizeof(*s6);
		snprintf(o->host_buf, sizeof(o->host_buf), "[%s]:%u", a,
			 o->port);
	} else {
		return -1;
	}
	if (!o->host)
		o->host = o->host_buf;
	return 0;
}

int main(int argc, char **argv)
{
	static struct opts o;
	struct worker *w;
	uint64_t t[6] = { 0 };

	parse_args(argc, argv, &o);
	if (resolve(&o)) {
		fprintf(stderr, "kaclient: --addr '%s' is not a numeric "
			"IPv4/IPv6 address\n", o.addr);
		return 2;
	}
	w = calloc(o.conns, sizeof(*w));
	if (!w) {
		fprintf(stderr, "kaclient: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < o.conns; i++) {
		w[i].o = &o;
		w[i].idx = i;
		w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)time(NULL);
		w[i].fd = -1;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i])) {
			fprintf(stderr, "kaclient: pthread_create failed\n");
			return 1;
		}
	}
	for (unsigned i = 0; i < o.conns; i++) {
		pthread_join(w[i].th, NULL);
		t[0] += w[i].preflights;
		t[1] += w[i].kernel;
		t[2] += w[i].app;
		t[3] += w[i].up;
		t[4] += w[i].down;
		t[5] += w[i].errors;
	}
	printf("kaclient: conns=%u rounds=%u preflights=%" PRIu64
	       " kernel=%" PRIu64 " app=%" PRIu64 " bytes_up=%" PRIu64
	       " bytes_down=%" PRIu64 " errors=%" PRIu64 "\n",
	       o.conns, o.rounds, t[0], t[1], t[2], t[3], t[4], t[5]);
	free(w);
	return t[5] == 0 ? 0 : 1;
}
