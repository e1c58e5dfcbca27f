/* notify.c -- sd_notify(3) from libsystemd: the daemon's state for a
 * Type=notify unit (READY, RELOADING, STOPPING, STATUS) and its watchdog. */
#include <stdint.h>
#include <systemd/sd-daemon.h>
#include "clock.h"
#include "notify.h"
#include "log.h"

static uint64_t mono_usec(void)
{
	return pf_mono_ns() / 1000u;
}

void pf_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void pf_notify_reloading(void)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)mono_usec());
}

void pf_notify_stopping(const char *status)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}

void pf_notify_heartbeat(void)
{
	static uint64_t every, last;
	static int enabled = -1;
	uint64_t now;

	if (enabled < 0) {
		/* the interval systemd expects pings at (WatchdogSec=); checks
		 * that $WATCHDOG_PID is us */
		enabled = sd_watchdog_enabled(0, &every) > 0;
		every /= 2;
		if (enabled)
			pr_debug("watchdog: pinging every %llu ms", (unsigned long long)every / 1000);
	}
	if (!enabled)
		return;
	now = mono_usec();
	if (now - last < every)
		return;
	last = now;
	sd_notify(0, "WATCHDOG=1");
}

void pf_notify_progress(const char *status)
{
	sd_notifyf(0, "STATUS=%s\nEXTEND_TIMEOUT_USEC=%u", status, 10u * 1000000u);
	pf_notify_heartbeat();
}
