/* User: opt-in Prometheus endpoint (GET /metrics, /healthz; libmicrohttpd in its own thread). */
/*
 * metrics.h -- serve the counters `preflightd stats` prints in the
 * Prometheus text format (version 0.0.4), from a libmicrohttpd daemon
 * running in its own thread and bound to one address only:
 *
 *   preflightd_datapath_events_total{event="answered"}  per-CPU sums of pf_stats
 *   preflightd_active_flows, preflightd_spliced_flows,
 *   preflightd_gc_passes_total,
 *   preflightd_gc_replaced_total                         the GC's passes (gc.h)
 *   preflightd_flows_freed_total, preflightd_reloads_total,
 *   preflightd_reload_failures_total,
 *   preflightd_drain_resets_total                        daemon counters (pf_config)
 *   preflightd_policy_slot, preflightd_draining          pf_config state
 *
 * and GET /healthz (for liveness/readiness probes): 200 while the
 * programs are attached (pf_metrics_set_attached) and the daemon's
 * heartbeat is at most 5 s old, else 503; a one-line body says why.
 *
 * Every scrape reads the counters afresh; the flow-table gauges are the
 * GC's, so a scrape never walks the table. The daemon counters in
 * pf_config are read without a lock (each is a naturally aligned 64-bit
 * word with one writer). At most 4 connections per client address (64 in
 * all), closed after 5 s idle: one client cannot starve the scrapers.
 */
#ifndef PF_METRICS_H
#define PF_METRICS_H

#include <stdbool.h>
#include "../include/pf_structs.h"
#include "admit.h"

struct MHD_Daemon;
struct pf_gc;

struct pf_metrics {
	struct MHD_Daemon *mhd;                /* NULL: not running */
	int stats_fd;                          /* pf_stats (per-CPU array), or -1 */
	struct pf_gc *gc;                      /* flow-table GC, or NULL */
	const volatile struct pf_config *cfg;  /* daemon counters, or NULL */
	unsigned short port;                   /* port bound (useful with port 0) */
	bool attached;                         /* programs attached (for /healthz) */
	struct pf_admit admit;                 /* its connection slots (admit.h) */
};

/* Start serving GET /metrics on addr_port, "ADDR:PORT" (IPv4) or
 * "[ADDR]:PORT" (IPv6), numeric only, PORT 0..65535 (0: any free port,
 * read back in m->port). m itself, stats_fd (or -1), gc (or NULL: leave
 * those metrics out) and cfg (or NULL) must stay valid until
 * pf_metrics_stop: the server thread reads them. Start it with SIGINT,
 * SIGTERM and SIGHUP already blocked, so the thread never takes them.
 * Other paths answer 404, other methods 405.
 * Returns 0, or a negative errno with "metrics: <operation>: <reason>"
 * printed to stderr: -EINVAL for a malformed addr_port or a map of the
 * wrong type/sizes, the error of the map query, the bind error
 * (-EADDRINUSE, -EADDRNOTAVAIL, -EACCES, ...), or -EIO when
 * libmicrohttpd fails for another reason. m is zeroed first, so
 * pf_metrics_stop is safe after a failure. */
int pf_metrics_start(struct pf_metrics *m, const char *addr_port, int stats_fd,
		     struct pf_gc *gc, const volatile struct pf_config *cfg);

/* The address check of pf_metrics_start alone (nothing bound): 0, or
 * -EINVAL with the same message. */
int pf_metrics_check_addr(const char *addr_port);

/* Tell /healthz whether the programs are attached (set after attaching,
 * cleared before detaching). Safe on a zeroed m. */
void pf_metrics_set_attached(struct pf_metrics *m, bool attached);

/* Stop the server thread and close its sockets (waits for a scrape in
 * progress). Safe on a zeroed or already stopped m. */
void pf_metrics_stop(struct pf_metrics *m);

#endif /* PF_METRICS_H */
