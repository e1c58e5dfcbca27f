/* appserver.c -- HTTP/1.1 keep-alive app server that sits behind preflightd in the e2e tests. */
/*
 *   appserver --listen ADDR:PORT [--listen ...] --log FILE [--page-dir DIR]
 *             [--cors-origin ORIGIN]... [--no-cors] [--idle-ms MS]
 *             [--accept-max N]
 * ADDR is numeric IPv4 or [IPv6]. One thread per connection, bounded
 * buffers, every socket wait bounded by SO_RCVTIMEO/SO_SNDTIMEO (--idle-ms,
 * default IDLE_MS: a connection idle that long is closed, as servers close
 * idle keep-alive connections). --accept-max N: after N connections,
 * every listener is closed (nothing listens on their ports any more: a new
 * connection is refused) and "appserver: listeners closed" printed; the
 * connections go on.
 * One log line per request (see log_request). Routes: OPTIONS * (the app's
 * own preflight answer, "X-Answered-By: app"), PUT/POST * (JSON body length
 * + FNV-1a 64; 100 Continue first on Expect: 100-continue), PUT/POST /early*
 * (403 at once, before the body is read, then the body dropped), GET
 * /health, GET /hints (103 Early Hints, then 200 "hinted"), GET
 * /blob?n=N[&seed=S], GET /<file> from
 * --page-dir. Other methods: 405. Malformed requests (including chunked
 * bodies, which are not supported): 400 and close.
 *
 * --no-cors (the response offload's app, issue 13): no CORS code at all --
 * no Access-Control-* or Vary on any response, OPTIONS answered 204 with
 * only Allow -- plus DELETE (JSON), HEAD (a GET's head), GET /v1/... (JSON), GET
 * /chunked?n=N[&seed=S] (the blob bytes in chunked encoding, chunks of
 * varying size), GET /etag (304 when If-None-Match is "v1"), and an
 * X-Request-Echo header copying X-Request-Id. Two request headers steer
 * it: X-Head-Split: K writes a response's head (and inline body) in
 * pieces of K bytes, 2 ms apart; X-App-Cors: V adds the app's own
 * "Access-Control-Allow-Origin: V" and "Vary: Accept" (on a preflight
 * also Access-Control-Allow-Methods/-Headers echoing the request's and
 * Access-Control-Max-Age: 600: an app's own preflight answer). Responses carry
 * no Date: the bytes are a function of the request.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN   8
#define MAX_ORIGINS  32
#define HEAD_MAX     16384              /* request line + headers */
#define MAX_HEADERS  64
#define MAX_CONNS    1024               /* concurrent connections */
#define IDLE_MS      120000             /* per-read/write inactivity limit */
#define BLOB_MAX     (64u << 20)        /* largest served file */
#define BLOB_GEN_MAX (4ull << 30)       /* largest /blob (generated as sent) */
#define BODY_MAX     (4ull << 30)       /* largest accepted request body */
#define IO_CHUNK     65536
#define LOG_FIELD    200                /* longest logged field */
#define FNV_INIT     0xcbf29ce484222325ull

struct req {
	const char *method, *target;
	int minor;                      /* HTTP/1.<minor> */
	struct { const char *name, *value; } h[MAX_HEADERS];
	int nh;
};

struct conn {
	int fd;
	uint64_t id;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	size_t len;                     /* bytes valid in buf */
	char buf[HEAD_MAX];             /* received, not yet consumed */
	char head[HEAD_MAX];            /* parsed copy of the current head */
	char io[IO_CHUNK];
};

/* Bounded string builder: ovf is set once anything did not fit. */
struct sb {
	char *p;
	size_t cap, n;
	int ovf;
};

static const char *g_origins[MAX_ORIGINS];
static int g_norigins;
static int g_no_cors;                   /* --no-cors */
static const char *g_page_dir;
static FILE *g_log;
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t g_conn_seq;
static atomic_int g_active;

/* fnv1a64: continue a 64-bit FNV-1a hash h over n bytes of p. */
static uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/*
 * blob_byte: byte i of GET /blob?n=N&seed=S. kaclient uses the same formula:
 *   byte[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff)
 * with i and seed as uint64_t.
 */
static inline uint8_t blob_byte(uint64_t i, uint64_t seed)
{
	return (uint8_t)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

/* sb_add: append printf output to s (sets s->ovf instead of overflowing). */
__attribute__((format(printf, 2, 3)))
static void sb_add(struct sb *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->ovf)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= s->cap - s->n)
		s->ovf = 1;
	else
		s->n += (size_t)n;
}

/* send_all: write n bytes (socket has SO_SNDTIMEO). 0 or -1. */
static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* send_split: write p[0..n) in pieces of k bytes, 2 ms apart (k == 0:
 * at once) -- each piece its own sendmsg, as an app that writes its
 * head line by line. 0 or -1. */
static int send_split(int fd, const char *p, size_t n, size_t k)
{
	if (!k)
		return send_all(fd, p, n);
	for (size_t off = 0; off < n; off += k) {
		if (send_all(fd, p + off, n - off < k ? n - off : k))
			return -1;
		usleep(2000);
	}
	return 0;
}

/* hdr_get: first value of header name (case-insensitive), or NULL. */
static const char *hdr_get(const struct req *rq, const char *name)
{
	for (int i = 0; i < rq->nh; i++)
		if (!strcasecmp(rq->h[i].name, name))
			return rq->h[i].value;
	return NULL;
}

/* has_token: 1 if comma list contains tok (case-insensitive). */
static int has_token(const char *list, const char *tok)
{
	size_t tl = strlen(tok);

	while (list && *list) {
		list += strspn(list, ", \t");
		size_t n = strcspn(list, ", \t");
		if (n == tl && !strncasecmp(list, tok, tl))
			return 1;
		list += n;
	}
	return 0;
}

/* all_tchar: 1 if [p, end) is a non-empty RFC 9110 token. */
static int all_tchar(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	for (; p < end; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p)))
			return 0;
	return 1;
}

/* head_end: offset just past the blank line ending the head in b[0..n), or 0. */
static size_t head_end(const char *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (b[i + 1] == '\r' && i + 2 < n && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* parse_request_line: "METHOD SP target SP HTTP/1.x" into rq. 0 or -1. */
static int parse_request_line(char *line, struct req *rq)
{
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

	if (!sp2 || !all_tchar(line, sp1) || sp2 == sp1 + 1)
		return -1;
	*sp1 = *sp2 = '\0';
	rq->method = line;
	rq->target = sp1 + 1;
	for (const char *p = rq->target; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -1;
	if (!strcmp(sp2 + 1, "HTTP/1.1"))
		rq->minor = 1;
	else if (!strcmp(sp2 + 1, "HTTP/1.0"))
		rq->minor = 0;
	else
		return -1;
	return 0;
}

/*
 * parse_head: parse the head b[0..end) in place (NUL-terminates tokens;
 * CRLF or bare LF line ends). Obs-fold, "name :", NUL bytes and more than
 * MAX_HEADERS headers are errors. 0 or -1.
 */
static int parse_head(char *b, size_t end, struct req *rq)
{
	char *line = b, *stop = b + end;

	memset(rq, 0, sizeof(*rq));
	if (memchr(b, '\0', end))
		return -1;
	for (int first = 1; line < stop; first = 0) {
		char *nl = memchr(line, '\n', (size_t)(stop - line)), *colon,
		     *v, *e;
		if (!nl)
			return -1;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (first && parse_request_line(line, rq))
			return -1;
		if (!first && *line) {
			colon = strchr(line, ':');
			if (!colon || !all_tchar(line, colon) ||
			    rq->nh >= MAX_HEADERS)
				return -1;
			*colon = '\0';
			v = colon + 1 + strspn(colon + 1, " \t");
			e = v + strlen(v);
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				*--e = '\0';
			rq->h[rq->nh].name = line;
			rq->h[rq->nh++].value = v;
		}
		line = nl + 1;
	}
	return rq->method ? 0 : -1;
}

/* parse_u64: strict decimal s[0..n) in [0, max] into *out. 0 or -1. */
static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* content_length: request body length into *cl. 0, or -1 if invalid/chunked. */
static int content_length(const struct req *rq, uint64_t *cl)
{
	int seen = 0;
	uint64_t v;

	*cl = 0;
	if (hdr_get(rq, "Transfer-Encoding"))
		return -1;
	for (int i = 0; i < rq->nh; i++) {
		if (strcasecmp(rq->h[i].name, "Content-Length"))
			continue;
		if (parse_u64(rq->h[i].value, strlen(rq->h[i].value),
			      BODY_MAX, &v) || (seen && v != *cl))
			return -1;
		*cl = v;
		seen = 1;
	}
	return 0;
}

/* log_field: copy s (or "-") into out with whitespace/control bytes as '_'. */
static const char *log_field(char *out, size_t cap, const char *s)
{
	size_t i = 0;

	if (!s || !*s)
		return s ? "\"\"" : "-";
	for (; s[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c <= 0x20 || c >= 0x7f) ? '_' : (char)c;
	}
	out[i] = '\0';
	return out;
}

/*
 * log_request: append "<id>@<peer> <METHOD> <target> origin=<o|-> acrm=<m|->
 * bytes=<body length>" and flush, serialised by g_log_mu.
 */
static void log_request(const struct conn *c, const struct req *rq,
			uint64_t body)
{
	char m[LOG_FIELD], t[LOG_FIELD * 4], o[LOG_FIELD], a[LOG_FIELD];

	pthread_mutex_lock(&g_log_mu);
	fprintf(g_log, "%" PRIu64 "@%s %s %s origin=%s acrm=%s bytes=%" PRIu64
		"\n", c->id, c->peer, log_field(m, sizeof(m), rq->method),
		log_field(t, sizeof(t), rq->target),
		log_field(o, sizeof(o), hdr_get(rq, "Origin")),
		log_field(a, sizeof(a),
			  hdr_get(rq, "Access-Control-Request-Method")), body);
	fflush(g_log);
	pthread_mutex_unlock(&g_log_mu);
}

/* origin_allowed: 1 if origin is in --cors-origin (any origin if none/"*"). */
static int origin_allowed(const char *origin)
{
	for (int i = 0; i < g_norigins; i++)
		if (!strcmp(g_origins[i], "*") || !strcmp(g_origins[i], origin))
			return 1;
	return g_norigins == 0;
}

/*
 * respond: send the status line, "X-Answered-By: app", extra (CRLF-ended
 * lines, may be ""), ACAO + Vary when rq is not OPTIONS and has Origin,
 * Content-Length unless body_len < 0 (204), the Connection header, then
 * body[0..body_len) if body is given (else the caller streams the body).
 * 0 or -1.
 */
static int respond(struct conn *c, const struct req *rq, int keep,
		   const char *status, const char *extra, long long body_len,
		   const char *body)
{
	char h[HEAD_MAX];
	struct sb s = { .p = h, .cap = sizeof(h) };
	const char *origin = rq ? hdr_get(rq, "Origin") : NULL;

	sb_add(&s, "HTTP/1.1 %s\r\nX-Answered-By: app\r\n%s", status, extra);
	if (g_no_cors && rq && hdr_get(rq, "X-Request-Id"))
		sb_add(&s, "X-Request-Echo: %s\r\n", hdr_get(rq, "X-Request-Id"));
	if (g_no_cors && rq && hdr_get(rq, "X-App-Cors"))
		sb_add(&s, "Access-Control-Allow-Origin: %s\r\nVary: Accept\r\n",
		       hdr_get(rq, "X-App-Cors"));
	if (origin && strcmp(rq->method, "OPTIONS") && !g_no_cors)
		sb_add(&s, "Access-Control-Allow-Origin: %s\r\n"
		       "Vary: Origin\r\n", origin);
	if (body_len >= 0)
		sb_add(&s, "Content-Length: %lld\r\n", body_len);
	if (!keep)
		sb_add(&s, "Connection: close\r\n");
	else if (rq && rq->minor == 0)
		sb_add(&s, "Connection: keep-alive\r\n");
	sb_add(&s, "\r\n");
	if (body && body_len > 0 && (!rq || strcmp(rq->method, "HEAD")))
		sb_add(&s, "%.*s", (int)body_len, body);
	if (s.ovf)
		return -1;
	if (g_no_cors && rq && hdr_get(rq, "X-Head-Split"))
		return send_split(c->fd, h, s.n, strtoul(hdr_get(rq, "X-Head-Split"), NULL, 10));
	return send_all(c->fd, h, s.n);
}

/* sb_allow: the Allow-Methods/-Headers lines echoing a preflight's
 * request (either absent: no line). */
static void sb_allow(struct sb *s, const char *acrm, const char *acrh)
{
	if (acrm)
		sb_add(s, "Access-Control-Allow-Methods: %s\r\n", acrm);
	if (acrh)
		sb_add(s, "Access-Control-Allow-Headers: %s\r\n", acrh);
}

/* do_options: the app's own preflight answer (always 204). */
static int do_options(struct conn *c, const struct req *rq, int keep)
{
	char extra[HEAD_MAX / 2];
	struct sb s = { .p = extra, .cap = sizeof(extra) };
	const char *origin = hdr_get(rq, "Origin");
	const char *acrm = hdr_get(rq, "Access-Control-Request-Method");
	const char *acrh = hdr_get(rq, "Access-Control-Request-Headers");

	extra[0] = '\0';
	if (g_no_cors && hdr_get(rq, "X-App-Cors") && acrm) {
		/* an app with CORS code of its own answering a preflight
		 * (respond adds X-App-Cors's ACAO and Vary: Accept) */
		sb_allow(&s, acrm, acrh);
		sb_add(&s, "Access-Control-Max-Age: 600\r\n");
	} else if (g_no_cors) {
		return respond(c, rq, keep, "204 No Content",
			       "Allow: GET, HEAD, PUT, POST, DELETE, OPTIONS\r\n", -1, NULL);
	} else {
		if (origin && origin_allowed(origin)) {
			sb_add(&s, "Access-Control-Allow-Origin: %s\r\n", origin);
			sb_allow(&s, acrm, acrh);
		}
		sb_add(&s, "Vary: Origin\r\n");
	}
	if (s.ovf)
		return -1;
	return respond(c, rq, keep, "204 No Content", extra, -1, NULL);
}

/* blob_query: n=N (required, at most BLOB_GEN_MAX) and seed=S from the query
 * of /blob and /chunked. -1 if bad. */
static int blob_query(const char *query, uint64_t *n, uint64_t *seed)
{
	*n = UINT64_MAX;
	for (int i = 0; query && *query && i < 64; i++) {
		size_t len = strcspn(query, "&");
		const char *eq = memchr(query, '=', len);
		size_t kl = eq ? (size_t)(eq - query) : 0;

		if (kl == 1 && query[0] == 'n' &&
		    parse_u64(eq + 1, len - 2, BLOB_GEN_MAX, n))
			return -1;
		if (kl == 4 && !strncmp(query, "seed", 4) &&
		    parse_u64(eq + 1, len - 5, UINT32_MAX, seed))
			return -1;
		query += len + (query[len] == '&');
	}
	return *n == UINT64_MAX ? -1 : 0;
}

/* do_blob: GET /blob?n=N[&seed=S]; query is what follows '?'. -2 if bad. */
static int do_blob(struct conn *c, const struct req *rq, int keep,
		   const char *query)
{
	uint64_t n, seed = 0;

	if (blob_query(query, &n, &seed))
		return -2;
	if (respond(c, rq, keep, "200 OK",
		    "Content-Type: application/octet-stream\r\n",
		    (long long)n, NULL))
		return -1;
	if (!strcmp(rq->method, "HEAD"))
		return 0;
	for (uint64_t off = 0; off < n;) {
		size_t k = n - off < IO_CHUNK ? (size_t)(n - off) : IO_CHUNK;
		for (size_t i = 0; i < k; i++)
			c->io[i] = (char)blob_byte(off + i, seed);
		if (send_all(c->fd, c->io, k))
			return -1;
		off += k;
	}
	return 0;
}

/* content_type: MIME type from the file name's extension. */
static const char *content_type(const char *path)
{
	static const char *map[][2] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcasecmp(dot, map[i][0]))
			return map[i][1];
	return "application/octet-stream";
}

/* do_file: GET of a file below --page-dir ("/" = index.html); else 404. */
static int do_file(struct conn *c, const struct req *rq, int keep,
		   const char *path)
{
	char full[4096], extra[256];
	struct stat st;
	int fd = -1, rc = -1;
	off_t off = 0;

	if (!strcmp(path, "/"))
		path = "/index.html";
	if (!g_page_dir || path[0] != '/' || strstr(path, "..") ||
	    strpbrk(path, "\\%") ||
	    snprintf(full, sizeof(full), "%s%s", g_page_dir, path) >=
		    (int)sizeof(full))
		goto not_found;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > BLOB_MAX)
		goto not_found;
	snprintf(extra, sizeof(extra),
		 "Content-Type: %s\r\nCache-Control: no-store\r\n",
		 content_type(full));
	if (respond(c, rq, keep, "200 OK", extra, (long long)st.st_size, NULL))
		goto out;
	while (off < st.st_size && strcmp(rq->method, "HEAD")) {
		/* a short file can't meet the promised length: close (-1) */
		if (sendfile(c->fd, fd, &off, (size_t)(st.st_size - off)) <= 0)
			goto out;
	}
	rc = 0;
	goto out;
not_found:
	rc = respond(c, rq, keep, "404 Not Found",
		     "Content-Type: text/plain\r\n", 10, "not found\n");
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static long g_idle_ms = IDLE_MS;   /* --idle-ms */

/* recv_idle: recv on a connection socket, whose waits SO_RCVTIMEO bounds
 * by g_idle_ms. An EAGAIN well before that is no timeout: a socket in a
 * sockmap (the response offload's) reads through tcp_bpf_recvmsg, which
 * waits once and returns -EAGAIN when it wakes without data, blocking or
 * not -- ACKs freeing send-buffer space after a send that waited wake it
 * (docs/offload.md "Blocking apps"). Wait for data again then, up to the
 * rest of g_idle_ms: taken for the end, it closed a keep-alive connection
 * between requests. */
static ssize_t recv_idle(int fd, void *buf, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec t0, t;
	long left;
	ssize_t r;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = recv(fd, buf, n, 0);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return r;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = g_idle_ms - (t.tv_sec - t0.tv_sec) * 1000 -
		       (t.tv_nsec - t0.tv_nsec) / 1000000;
		/* the timeout itself (SO_RCVTIMEO's timer is coarse) */
		rc = left > 20 ? poll(&p, 1, (int)left) : 0;
		if (rc < 0)
			return -1; /* poll's errno: EINTR as recv's would be */
		if (rc == 0) {
			errno = EAGAIN;
			return -1;
		}
	}
}

/*
 * read_body: consume cl body bytes following a head of head_len bytes
 * (first from c->buf, then from the socket), hashing them into *hash.
 * Leaves c->buf holding only bytes after the body. 0 or -1.
 */
static int read_body(struct conn *c, size_t head_len, uint64_t cl,
		     uint64_t *hash)
{
	size_t have = c->len - head_len;
	size_t take = have < cl ? have : (size_t)cl;

	*hash = fnv1a64(FNV_INIT, c->buf + head_len, take);
	cl -= take;
	c->len -= head_len + take;
	memmove(c->buf, c->buf + head_len + take, c->len);
	while (cl > 0) {
		ssize_t r = recv_idle(c->fd, c->io,
				      cl < IO_CHUNK ? (size_t)cl : IO_CHUNK);
		if (r <= 0)
			return -1;
		*hash = fnv1a64(*hash, c->io, (size_t)r);
		cl -= (uint64_t)r;
	}
	return 0;
}

/* do_chunked: GET /chunked?n=N[&seed=S] (--no-cors): the blob bytes of
 * do_blob, chunked, chunk k of 1 + (k * 7919) % 40000 bytes, each chunk
 * written with its own send(); HEAD gets the head only. -2 if bad. */
static int do_chunked(struct conn *c, const struct req *rq, int keep,
		      const char *query)
{
	uint64_t n, seed = 0, k = 0;
	char line[32];

	if (blob_query(query, &n, &seed))
		return -2;
	if (respond(c, rq, keep, "200 OK",
		    "Content-Type: application/octet-stream\r\n"
		    "Transfer-Encoding: chunked\r\n", -1, NULL))
		return -1;
	if (!strcmp(rq->method, "HEAD"))
		return 0;
	for (uint64_t off = 0; off < n; k++) {
		size_t want = 1 + (size_t)((k * 7919) % 40000);
		size_t m = n - off < want ? (size_t)(n - off) : want;
		int hl = snprintf(line, sizeof(line), "%zx\r\n", m);

		if (m > sizeof(c->io) - 2)
			m = sizeof(c->io) - 2;
		for (size_t i = 0; i < m; i++)
			c->io[i] = (char)blob_byte(off + i, seed);
		c->io[m] = '\r';
		c->io[m + 1] = '\n';
		if (send_all(c->fd, line, (size_t)hl) || send_all(c->fd, c->io, m + 2))
			return -1;
		off += m;
	}
	return send_all(c->fd, "0\r\n\r\n", 5);
}

/* do_get: route a GET to /health, /blob or the page dir. As respond(), -2 bad. */
static int do_get(struct conn *c, const struct req *rq, int keep)
{
	char path[HEAD_MAX];
	const char *q = strchr(rq->target, '?');
	size_t pl = q ? (size_t)(q - rq->target) : strlen(rq->target);

	memcpy(path, rq->target, pl);
	path[pl] = '\0';
	if (!strcmp(path, "/health"))
		return respond(c, rq, keep, "200 OK",
			       "Content-Type: text/plain\r\n", 2, "ok");
	if (!strcmp(path, "/blob"))
		return do_blob(c, rq, keep, q ? q + 1 : NULL);
	if (g_no_cors && !strncmp(path, "/v1/", 4))
		return respond(c, rq, keep, "200 OK",
			       "Content-Type: application/json\r\n", 12, "{\"items\":[]}");
	if (g_no_cors && !strcmp(path, "/chunked"))
		return do_chunked(c, rq, keep, q ? q + 1 : NULL);
	if (g_no_cors && !strcmp(path, "/etag")) {
		const char *inm = hdr_get(rq, "If-None-Match");

		if (inm && !strcmp(inm, "\"v1\""))
			return respond(c, rq, keep, "304 Not Modified",
				       "ETag: \"v1\"\r\n", -1, NULL);
		return respond(c, rq, keep, "200 OK",
			       "ETag: \"v1\"\r\nContent-Type: text/plain\r\n", 8,
			       "version1");
	}
	if (!strcmp(path, "/hints")) {
		/* a 103 Early Hints first, in a segment of its own */
		static const char hints[] = "HTTP/1.1 103 Early Hints\r\n"
					    "Link: </app.css>; rel=preload; as=style\r\n\r\n";

		if (send_all(c->fd, hints, sizeof(hints) - 1))
			return -1;
		return respond(c, rq, keep, "200 OK", "Content-Type: text/plain\r\n", 6,
			       "hinted");
	}
	return do_file(c, rq, keep, path);
}

/*
 * serve_one: read, log and answer one request. Returns 1 to keep the
 * connection, 0 to close it (clean EOF or Connection: close), -1 on error.
 */
static int serve_one(struct conn *c)
{
	struct req rq;
	uint64_t cl, hash;
	const char *expect;
	size_t end;
	int keep, rc;

	while (!(end = head_end(c->buf, c->len))) {
		ssize_t r;
		if (c->len == sizeof(c->buf))
			goto bad;
		r = recv_idle(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r <= 0)
			return (r < 0 && errno == EINTR) ? 1 : c->len ? -1 : 0;
		c->len += (size_t)r;
	}
	memcpy(c->head, c->buf, end);
	if (parse_head(c->head, end, &rq) || content_length(&rq, &cl))
		goto bad;
	keep = rq.minor == 1 ? !has_token(hdr_get(&rq, "Connection"), "close")
			     : has_token(hdr_get(&rq, "Connection"),
					 "keep-alive");
	if ((!strcmp(rq.method, "PUT") || !strcmp(rq.method, "POST")) &&
	    !strncmp(rq.target, "/early", 6)) {
		/* a final answer while the body still arrives (as for an
		 * upload too large), then the body read and dropped */
		if (respond(c, &rq, keep, "403 Forbidden", "", 0, NULL) ||
		    read_body(c, end, cl, &hash))
			return -1;
		log_request(c, &rq, cl);
		return keep;
	}
	expect = hdr_get(&rq, "Expect");
	if (expect && !strcasecmp(expect, "100-continue") && rq.minor == 1 &&
	    cl > c->len - end &&
	    send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
		return -1;
	if (read_body(c, end, cl, &hash))
		return -1;
	log_request(c, &rq, cl);

	if (!strcmp(rq.method, "OPTIONS")) {
		rc = do_options(c, &rq, keep);
	} else if (!strcmp(rq.method, "PUT") || !strcmp(rq.method, "POST")) {
		char body[96];
		int n = snprintf(body, sizeof(body), "{\"len\":%" PRIu64
				 ",\"sum\":\"%016" PRIx64 "\"}", cl, hash);
		rc = respond(c, &rq, keep, "200 OK",
			     "Content-Type: application/json\r\n", n, body);
	} else if (g_no_cors && !strcmp(rq.method, "DELETE")) {
		rc = respond(c, &rq, keep, "200 OK",
			     "Content-Type: application/json\r\n", 16,
			     "{\"deleted\":true}");
	} else if (!strcmp(rq.method, "GET") ||
		   (g_no_cors && !strcmp(rq.method, "HEAD"))) {
		rc = do_get(c, &rq, keep);
		if (rc == -2)
			goto bad;
	} else {
		rc = respond(c, &rq, keep, "405 Method Not Allowed",
			     "Allow: GET, PUT, POST, OPTIONS\r\n", 0, NULL);
	}
	return rc ? -1 : keep;
bad:
	fprintf(stderr, "appserver: conn %" PRIu64 " (%s): bad request\n",
		c->id, c->peer);
	respond(c, NULL, 0, "400 Bad Request", "", 0, NULL);
	return -1;
}

/* conn_main: thread body; serves requests until close, then frees c. */
static void *conn_main(void *arg)
{
	struct conn *c = arg;

	while (serve_one(c) == 1)
		;
	shutdown(c->fd, SHUT_WR);
	close(c->fd);
	free(c);
	atomic_fetch_sub(&g_active, 1);
	return NULL;
}

/* open_listener: bind+listen on "ADDR:PORT" / "[V6]:PORT". fd or -1. */
static int open_listener(const char *spec)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *colon = strrchr(spec, ':');
	char host[NI_MAXHOST];
	int fd = -1, one = 1, n;

	n = colon ? (int)(colon - spec) : 0;
	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", n - 2, spec + 1);
	else
		snprintf(host, sizeof(host), "%.*s", n, spec);
	if (!colon || getaddrinfo(host, colon + 1, &hints, &ai)) {
		fprintf(stderr, "appserver: bad --listen '%s' (want "
			"ADDR:PORT)\n", spec);
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) ||
	    listen(fd, 1024)) {
		fprintf(stderr, "appserver: listen %s: %s\n", spec,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* accept_one: accept on lfd and start a detached connection thread.
 * Returns 1 if a connection was accepted, else 0. */
static int accept_one(int lfd, const pthread_attr_t *attr)
{
	struct timeval tv = { .tv_sec = g_idle_ms / 1000,
			      .tv_usec = (g_idle_ms % 1000) * 1000 };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
	struct conn *c = NULL;
	pthread_t th;
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	if (atomic_fetch_add(&g_active, 1) >= MAX_CONNS)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c = malloc(sizeof(*c));
	if (!c)
		goto fail;
	c->fd = fd;
	c->len = 0;
	c->id = atomic_fetch_add(&g_conn_seq, 1) + 1;
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
		    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(c->peer, sizeof(c->peer), strchr(host, ':') ? "[%s]:%s"
			 : "%s:%s", host, serv);
	if (pthread_create(&th, attr, conn_main, c) == 0)
		return 1;
fail:
	free(c);
	close(fd);
	atomic_fetch_sub(&g_active, 1);
	return 1;
}

/* usage: print the CLI synopsis and exit 2. */
static void usage(void)
{
	fprintf(stderr, "usage: appserver --listen ADDR:PORT [--listen ...] "
		"--log FILE [--page-dir DIR] [--cors-origin ORIGIN]... [--no-cors] [--idle-ms MS] "
		"[--accept-max N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_LISTEN + 1];
	const char *listen_spec[MAX_LISTEN], *log_path = NULL;
	int nl = 0;
	long accept_max = 0, accepted = 0;
	pthread_attr_t attr;
	sigset_t sigs;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-cors")) {   /* the only flag without a value */
			g_no_cors = 1;
			i--;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--listen") && nl < MAX_LISTEN)
			listen_spec[nl++] = v;
		else if (!strcmp(a, "--log"))
			log_path = v;
		else if (!strcmp(a, "--page-dir"))
			g_page_dir = v;
		else if (!strcmp(a, "--cors-origin") && g_norigins < MAX_ORIGINS)
			g_origins[g_norigins++] = v;
		else if (!strcmp(a, "--idle-ms") && atol(v) > 0 && atol(v) <= INT_MAX)
			g_idle_ms = atol(v);  /* poll's timeout is an int */
		else if (!strcmp(a, "--accept-max") && atol(v) > 0)
			accept_max = atol(v);
		else
			usage();
	}
	if (!nl || !log_path)
		usage();
	g_log = fopen(log_path, "a");
	if (!g_log) {
		fprintf(stderr, "appserver: open %s: %s\n", log_path,
			strerror(errno));
		return 1;
	}
	/* Workers inherit the mask; the main loop takes signals via signalfd. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	pfd[nl].fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	pfd[nl].events = POLLIN;
	pfd[nl].revents = 0;
	if (pfd[nl].fd < 0) {
		perror("appserver: signalfd");
		return 1;
	}
	for (int i = 0; i < nl; i++) {
		pfd[i].fd = open_listener(listen_spec[i]);
		pfd[i].events = POLLIN;
		if (pfd[i].fd < 0)
			return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	printf("appserver: listening on");
	for (int i = 0; i < nl; i++)
		printf(" %s", listen_spec[i]);
	printf("\n");
	fflush(stdout);

	while (!pfd[nl].revents) {
		if (poll(pfd, (nfds_t)nl + 1, -1) < 0 && errno != EINTR) {
			perror("appserver: poll");
			return 1;
		}
		for (int i = 0; i < nl; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents & POLLIN))
				accepted += accept_one(pfd[i].fd, &attr);
		if (accept_max && accepted >= accept_max && pfd[0].fd >= 0) {
			for (int i = 0; i < nl; i++) {
				close(pfd[i].fd);
				pfd[i].fd = -1; /* poll ignores it */
			}
			printf("appserver: listeners closed after %ld connections\n", accepted);
			fflush(stdout);
		}
	}
	/* Exit holding the log lock so no half-written line is lost. */
	pthread_mutex_lock(&g_log_mu);
	fflush(g_log);
	printf("appserver: exiting (%d connections open)\n",
	       atomic_load(&g_active));
	fflush(stdout);
	_exit(0);
}
