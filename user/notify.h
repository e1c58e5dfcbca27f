/* User: telling the service manager (systemd, Type=notify) what the daemon does. */
#ifndef PF_NOTIFY_H
#define PF_NOTIFY_H

/* Each is a no-op without $NOTIFY_SOCKET (not started by systemd), and
 * never fails the caller. */

/* READY=1 with STATUS=status: every path works (after the "ready" line,
 * and after each reload). */
void pf_notify_ready(const char *status);

/* RELOADING=1 (with MONOTONIC_USEC): a policy reload starts; the next
 * pf_notify_ready ends it. */
void pf_notify_reloading(void);

/* STOPPING=1 with STATUS=status: draining, or a restart hand-over. */
void pf_notify_stopping(const char *status);

/* WATCHDOG=1, at most every half of $WATCHDOG_USEC: call it where the
 * daemon writes its heartbeat for the datapath, so that a daemon whose
 * heartbeat stalls is restarted (and adopts its own state). */
void pf_notify_heartbeat(void);

/* STATUS=status while starting or stopping takes long (a drain: at a
 * hand-over, or on SIGTERM), with EXTEND_TIMEOUT_USEC so that the start
 * or the stop is not timed out meanwhile; feeds the watchdog too. */
void pf_notify_progress(const char *status);

#endif /* PF_NOTIFY_H */
