/*
 * metrics.c -- the opt-in Prometheus endpoint (see metrics.h): parse
 * ADDR:PORT, check the maps, run libmicrohttpd in its own polling thread
 * and render the counters in the text exposition format 0.0.4.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <bpf/bpf.h>

#include "admit.h"
#include "cmds.h"
#include "gc.h"
#include "metrics.h"
#include "shadow.h"

#define CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"
#define CONN_TIMEOUT_S 5    /* idle connections are closed after this */
/* /healthz: the serving loop beats every 100 ms; a reload of a large
 * policy blocks it for about 1 s (the GC runs in a thread of its own) */
#define HEALTH_MAX_AGE_MS 5000

/* Parse "A.B.C.D:PORT" or "[V6]:PORT" (numeric only) into ss and *len.
 * Returns 0 or -EINVAL. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *port, *colon;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	unsigned long p;
	size_t hl, i;
	bool v6 = s[0] == '[';
	char *end;

	if (v6) {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(colon - h);
		port = colon + 2;
	} else {
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL; /* none, or an IPv6 address without [] */
		hl = (size_t)(colon - s);
		port = colon + 1;
	}
	if (!hl || hl >= sizeof(host) || !port[0] || strlen(port) > 5)
		return -EINVAL;
	for (i = 0; port[i]; i++)
		if (port[i] < '0' || port[i] > '9')
			return -EINVAL;
	p = strtoul(port, &end, 10);
	if (p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)p);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((unsigned short)p);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
}

/* parse_addr, saying why it refused addr_port. */
static int check_addr(const char *addr_port, struct sockaddr_storage *ss, socklen_t *len)
{
	int err = parse_addr(addr_port, ss, len);

	if (err)
		fprintf(stderr, "metrics: address '%s': expected ADDR:PORT or [IPV6]:PORT, numeric\n",
			addr_port);
	return err;
}

/* See metrics.h. */
int pf_metrics_check_addr(const char *addr_port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return check_addr(addr_port, &ss, &len);
}

/* After libmicrohttpd failed to start: bind a socket the way it does to
 * learn why. Returns the bind error, or -EIO if binding works. */
static int bind_error(const struct sockaddr *sa, socklen_t len)
{
	int one = 1, err = -EIO, fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len))
		err = -errno;
	close(fd);
	return err;
}

/* Check that fd is a map of type with the given key and value sizes;
 * *max gets its max_entries. Returns 0, the errno of the query, or
 * -EINVAL with a message naming what. */
static int check_map(int fd, __u32 type, __u32 key_size, __u32 value_size,
		     const char *what, __u32 *max)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err) {
		fprintf(stderr, "metrics: %s map: %s\n", what, strerror(-err));
		return err;
	}
	if (info.type != type || info.key_size != key_size ||
	    info.value_size != value_size) {
		fprintf(stderr, "metrics: %s map: unexpected type %u, key %u, value %u bytes\n",
			what, info.type, info.key_size, info.value_size);
		return -EINVAL;
	}
	*max = info.max_entries;
	return 0;
}

/* Print one metric family with its HELP and TYPE lines. */
static void family(FILE *f, const char *name, const char *type,
		   const char *help, unsigned long long v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
		type, name, v);
}

/* Render the exposition text of m into a malloc'd *body of *len bytes.
 * Returns 0 or a negative errno (*body is then NULL). */
static int render(const struct pf_metrics *m, char **body, size_t *len)
{
	FILE *f = open_memstream(body, len);
	struct pf_gc_stats gc;
	__u64 v[PF_STAT__MAX];
	char name[64];
	unsigned i;
	int err = 0;

	if (!f)
		return -ENOMEM;
	if (m->stats_fd >= 0) {
		err = pf_stats_read(m->stats_fd, v);
		if (err)
			goto out;
		fputs("# HELP preflightd_datapath_events_total Datapath outcomes, "
		      "per-CPU counters summed (preflightd stats describes each).\n"
		      "# TYPE preflightd_datapath_events_total counter\n", f);
		for (i = 0; i < PF_STAT__MAX; i++)
			fprintf(f, "preflightd_datapath_events_total{event=\"%s\"} %llu\n",
				pf_stat_name(i, name, sizeof(name)),
				(unsigned long long)v[i]);
	}
	if (m->gc) {
		/* as the GC's last pass counted them: a scrape never walks
		 * the table */
		pf_gc_get(m->gc, &gc);
		family(f, "preflightd_active_flows", "gauge",
		       "Connections in the flow table (at the last GC pass).",
		       (unsigned long long)gc.last.entries);
		family(f, "preflightd_spliced_flows", "gauge",
		       "Connections in the flow table that carry a splice (at the last GC pass).",
		       (unsigned long long)gc.last.live);
		family(f, "preflightd_gc_passes_total", "counter",
		       "Flow-table GC passes completed.", (unsigned long long)gc.passes);
		family(f, "preflightd_gc_replaced_total", "counter",
		       "Entries a GC pass read as ended but kept: changed before the delete "
		       "(a new connection on the 4-tuple, or a packet since).",
		       (unsigned long long)gc.replaced);
		fprintf(f, "# HELP preflightd_gc_pass_seconds Duration of the last GC pass.\n"
			"# TYPE preflightd_gc_pass_seconds gauge\npreflightd_gc_pass_seconds %.6f\n",
			gc.pass_ns / 1e9);
	}
	if (m->cfg) {
		family(f, "preflightd_flows_freed_total", "counter",
		       "Flow entries of ended connections removed.", m->cfg->flows_freed);
		family(f, "preflightd_reloads_total", "counter",
		       "Successful policy reloads.", m->cfg->reloads);
		family(f, "preflightd_reload_failures_total", "counter",
		       "Refused policy reloads (the running policy was kept).",
		       m->cfg->reload_failures);
		family(f, "preflightd_drain_resets_total", "counter",
		       "Connections reset at the drain timeout.", m->cfg->drain_resets);
		family(f, "preflightd_learned_origins_total", "counter",
		       "Regex-origin verdicts the daemon taught the datapath.",
		       m->cfg->learned_origins);
		family(f, "preflightd_learned_acrh_total", "counter",
		       "Request-header lists over the kernel's limits the daemon decided.",
		       m->cfg->learned_acrh);
		family(f, "preflightd_learn_failures_total", "counter",
		       "Punts the daemon could not teach (passed to the app).",
		       m->cfg->learn_failures);
		family(f, "preflightd_replayed_total", "counter",
		       "Punted segments handed back to the interface once decided.",
		       m->cfg->replayed);
		family(f, "preflightd_replay_failures_total", "counter",
		       "Punted segments that could not be handed back (decided at their "
		       "retransmission).", m->cfg->replay_failed);
		family(f, "preflightd_policy_slot", "gauge",
		       "Policy map slot the datapath reads (0 or 1).",
		       m->cfg->active_slot & (PF_SLOTS - 1));
		family(f, "preflightd_draining", "gauge",
		       "1 while draining: no new preflights answered.",
		       m->cfg->draining ? 1 : 0);
	}
	pf_shadow_metrics(f); /* shadow mode (issue 13) */
out:
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(*body);
		*body = NULL;
	}
	return err;
}

/* Queue a response of n bytes of body (freed by libmicrohttpd if owned,
 * else copied) with status and content type. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     char *body, size_t n, bool owned, const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(n, body, owned ? MHD_RESPMEM_MUST_FREE :
					       MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* GET /healthz: 200 while the programs are attached and the daemon's
 * heartbeat (pf_config.heartbeat_ns, CLOCK_MONOTONIC) is at most
 * HEALTH_MAX_AGE_MS old, else 503; the body says which. */
static enum MHD_Result healthz(struct MHD_Connection *conn, const struct pf_metrics *m)
{
	struct timespec ts;
	char msg[160];
	long long age = -1;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (m->cfg && m->cfg->heartbeat_ns)
		age = ((long long)ts.tv_sec * 1000000000ll + ts.tv_nsec -
		       (long long)m->cfg->heartbeat_ns) / 1000000;
	ok = age >= 0 && age <= HEALTH_MAX_AGE_MS && __atomic_load_n(&m->attached, __ATOMIC_RELAXED);
	snprintf(msg, sizeof(msg), "%s: %s, heartbeat %lld ms ago (limit %d)%s\n",
		 ok ? "ok" : "unhealthy",
		 __atomic_load_n(&m->attached, __ATOMIC_RELAXED) ? "attached" : "not attached",
		 age, HEALTH_MAX_AGE_MS, m->cfg && m->cfg->draining ? ", draining" : "");
	return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg,
		     strlen(msg), false, "text/plain");
}

/* libmicrohttpd access handler: GET/HEAD /metrics and /healthz, 404
 * elsewhere, 405 for other methods, 500 with the error if the maps
 * cannot be read. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	const struct pf_metrics *m = cls;
	char msg[128], *body = NULL;
	size_t len = 0;
	int err;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(url, "/metrics") && strcmp(url, "/healthz")) {
		snprintf(msg, sizeof(msg), "not found: try /metrics or /healthz\n");
		return reply(conn, MHD_HTTP_NOT_FOUND, msg, strlen(msg), false, "text/plain");
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		snprintf(msg, sizeof(msg), "method not allowed\n");
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg, strlen(msg), false,
			     "text/plain");
	}
	if (!strcmp(url, "/healthz"))
		return healthz(conn, m);
	err = render(m, &body, &len);
	if (err) {
		snprintf(msg, sizeof(msg), "metrics: read maps: %s\n", strerror(-err));
		fputs(msg, stderr);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, strlen(msg), false,
			     "text/plain");
	}
	return reply(conn, MHD_HTTP_OK, body, len, true, CONTENT_TYPE);
}

/* libmicrohttpd's error log, prefixed like our messages, at most one
 * line a second: a client opening connections over the limits makes one
 * message each. Called from the server's thread only. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	static time_t last;
	static unsigned long dropped;
	time_t now = time(NULL);

	(void)cls;
	if (now == last) {
		dropped++;
		return;
	}
	last = now;
	if (dropped)
		fprintf(stderr, "metrics: httpd: %lu messages suppressed\n", dropped);
	dropped = 0;
	fputs("metrics: httpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* libmicrohttpd accept policy (cls: struct pf_metrics): a slot for
 * addr (admit.h), before the connection is set up. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct pf_metrics *m = cls;

	return pf_admit_ok(&m->admit, addr, len) ? MHD_YES : MHD_NO;
}

/* libmicrohttpd connection notice (cls: struct pf_metrics): a connection
 * accept_policy let in takes its slot when it starts (*ctx: the slot)
 * and gives it back when it closes. */
static void conn_notify(void *cls, struct MHD_Connection *conn, void **ctx,
			enum MHD_ConnectionNotificationCode toe)
{
	struct pf_metrics *m = cls;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		pf_admit_put(&m->admit, *ctx);
		*ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	*ctx = ci && ci->client_addr ?
	       pf_admit_take(&m->admit, ci->client_addr,
			     ci->client_addr->sa_family == AF_INET6 ?
			     sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) : NULL;
}

/* See metrics.h. */
int pf_metrics_start(struct pf_metrics *m, const char *addr_port, int stats_fd,
		     struct pf_gc *gc, const volatile struct pf_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	unsigned short port;
	__u32 max = 0;
	int err;

	memset(m, 0, sizeof(*m));
	m->stats_fd = stats_fd;
	m->gc = gc;
	m->cfg = cfg;
	err = check_addr(addr_port, &ss, &sslen);
	if (err)
		return err;
	if (stats_fd >= 0) {
		err = check_map(stats_fd, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
				sizeof(__u64), "stats", &max);
		if (!err && max < PF_STAT__MAX)
			err = -EINVAL;
		if (err)
			return err;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the port argument only names the port in libmicrohttpd's messages:
	 * MHD_OPTION_SOCK_ADDR is what it binds */
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
	/* the slots: at most so many per client network, some kept for
	 * this host's own probes (admit.h) */
	m->mhd = MHD_start_daemon(flags, port, accept_policy, m, handle, m,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)PF_ADMIT_MAX,
				  MHD_OPTION_NOTIFY_CONNECTION, conn_notify, m,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		err = bind_error((struct sockaddr *)&ss, sslen);
		fprintf(stderr, "metrics: %s %s: %s\n", err == -EIO ? "start HTTP server on" :
			"bind", addr_port, strerror(-err));
		return err;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : 0;
	return 0;
}

/* See metrics.h. */
void pf_metrics_set_attached(struct pf_metrics *m, bool attached)
{
	__atomic_store_n(&m->attached, attached, __ATOMIC_RELAXED);
}

/* See metrics.h. */
void pf_metrics_stop(struct pf_metrics *m)
{
	if (!m->mhd)
		return;
	MHD_stop_daemon(m->mhd);
	m->mhd = NULL;
}
