/* pause.c -- the BPF tier's cross-CPU races: a packet stopped on one CPU while others run (see harness.h). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "harness_int.h"

bool h_pause_timed_out;

/* The one packet that may be stopped at a time. */
static struct {
	const struct h_prog *prog;
	__u8 pkt[PKT_MAX];
	size_t len;
	int cpu;                 /* where it runs */
	cpu_set_t main_mask;     /* the main thread's affinity before */
	long long before[PF_STAT__MAX];
	struct h_run r;
	pthread_t th;
	volatile int done;
	bool active;
} job;

static void *pause_thread(void *arg)
{
	cpu_set_t set;

	(void)arg;
	CPU_ZERO(&set);
	CPU_SET(job.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		job.r.err = -errno;
	else
		h_test_run(job.prog, job.pkt, job.len, NULL, &job.r);
	__atomic_store_n(&job.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void restore_main(void)
{
	sched_setaffinity(0, sizeof(job.main_mask), &job.main_mask);
}

bool h_pause_start(const struct h_prog *prog, const struct pkt_spec *s, __u32 point)
{
	volatile struct pf_test_pause *tp = &h_skel->bss->pf_test_pause;
	cpu_set_t set;
	int c, first = -1, second = -1, i;

	if (!H_CHECK(!job.active, "test bug: a paused run is already active"))
		return false;
	job.len = pkt_build(s, job.pkt, sizeof(job.pkt));
	if (!H_CHECK(job.len > 0, "test bug: packet does not build"))
		return false;
	if (sched_getaffinity(0, sizeof(job.main_mask), &job.main_mask))
		return H_CHECK(false, "sched_getaffinity: %s", strerror(errno));
	for (c = 0; c < CPU_SETSIZE && second < 0; c++)
		if (CPU_ISSET(c, &job.main_mask)) {
			if (first < 0)
				first = c;
			else
				second = c;
		}
	/* one CPU cannot race with itself: nor can the datapath then */
	if (!H_CHECK(second >= 0, "needs two CPUs to run packets at the same time"))
		return false;
	CPU_ZERO(&set);
	CPU_SET(first, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return H_CHECK(false, "sched_setaffinity: %s", strerror(errno));
	job.prog = prog;
	job.cpu = second;
	job.done = 0;
	memset(&job.r, 0, sizeof(job.r));
	tp->entered = 0;
	tp->release = 0;
	tp->timed_out = 0;
	tp->cpu = (__u32)second + 1;
	tp->point = point;
	h_read_stats_cpu(second, job.before);
	if (pthread_create(&job.th, NULL, pause_thread, NULL)) {
		tp->point = PF_TP_NONE;
		restore_main();
		return H_CHECK(false, "pthread_create failed");
	}
	job.active = true;
	/* bounded: the program stops at most ~2 s on its own */
	for (i = 0; i < 400 && !tp->entered && !__atomic_load_n(&job.done, __ATOMIC_ACQUIRE); i++)
		sleep_ms(10);
	if (tp->entered)
		return true;
	h_pause_finish(NULL);
	return H_CHECK(false, "the packet on CPU %d never reached test point %u", second, point);
}

bool h_pause_finish(struct h_run *r)
{
	volatile struct pf_test_pause *tp = &h_skel->bss->pf_test_pause;
	long long after[PF_STAT__MAX];
	bool timed_out;
	int i;

	if (!job.active)
		return H_CHECK(false, "test bug: no paused run");
	tp->release = 1;
	pthread_join(job.th, NULL);
	job.active = false;
	tp->point = PF_TP_NONE;
	tp->cpu = 0;
	timed_out = tp->timed_out;
	restore_main();
	if (!r)
		return false;
	*r = job.r;
	r->n_tx = 0;
	h_read_stats_cpu(job.cpu, after);
	for (i = 0; i < PF_STAT__MAX; i++)
		r->delta[i] = after[i] - job.before[i];
	h_leg_adjust(r);
	h_pause_timed_out = timed_out;
	if (!H_CHECK(!timed_out, "the stopped packet went on before it was released"))
		return false;
	return H_CHECK(r->err == 0, "%s (paused): bpf_prog_test_run_opts: %s", r->kind ==
		       H_KIND_XDP ? "xdp" : "tc", strerror(-r->err));
}
